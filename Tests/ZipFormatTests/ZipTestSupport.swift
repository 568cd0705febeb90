import BinaryIO
import CZip
import Foundation
import TestSupport
@testable import ZipFormat

// CRC-32 and byte patching, independent of zlib

/// Bitwise CRC-32 (IEEE 802.3, reflected 0xEDB88320), written here so tests do not check zlib
/// against itself.
func referenceCRC32(_ bytes: [UInt8]) -> UInt32 {
    var crc: UInt32 = 0xFFFF_FFFF
    for byte in bytes {
        crc ^= UInt32(byte)
        for _ in 0..<8 { crc = (crc >> 1) ^ (crc & 1 == 0 ? 0 : 0xEDB8_8320) }
    }
    return ~crc
}

extension Array where Element == UInt8 {
    mutating func put16(_ value: UInt16, at offset: Int) {
        for index in 0..<2 { self[offset + index] = UInt8(truncatingIfNeeded: value >> (8 * UInt16(index))) }
    }

    mutating func put32(_ value: UInt32, at offset: Int) {
        for index in 0..<4 { self[offset + index] = UInt8(truncatingIfNeeded: value >> (8 * UInt32(index))) }
    }

    mutating func put64(_ value: UInt64, at offset: Int) {
        for index in 0..<8 { self[offset + index] = UInt8(truncatingIfNeeded: value >> (8 * UInt64(index))) }
    }

    func get16(at offset: Int) -> UInt16 { UInt16(self[offset]) | UInt16(self[offset + 1]) << 8 }

    func get32(at offset: Int) -> UInt32 {
        (0..<4).reduce(UInt32(0)) { $0 | UInt32(self[offset + $1]) << (8 * UInt32($1)) }
    }

    func get64(at offset: Int) -> UInt64 {
        (0..<8).reduce(UInt64(0)) { $0 | UInt64(self[offset + $1]) << (8 * UInt64($1)) }
    }

    static func le16(_ value: UInt16) -> [UInt8] { var bytes = [UInt8](repeating: 0, count: 2); bytes.put16(value, at: 0); return bytes }
    static func le32(_ value: UInt32) -> [UInt8] { var bytes = [UInt8](repeating: 0, count: 4); bytes.put32(value, at: 0); return bytes }
    static func le64(_ value: UInt64) -> [UInt8] { var bytes = [UInt8](repeating: 0, count: 8); bytes.put64(value, at: 0); return bytes }
}

/// One final stored DEFLATE block holding `data` (RFC 1951 §3.2.4), so tests can make deflate
/// streams of exact lengths without a compressor.
func storedDeflateBlock(_ data: [UInt8]) -> [UInt8] {
    let length = UInt16(data.count)
    return [0x01] + .le16(length) + .le16(~length) + data
}

// Hand-built archives

/// Builds zip archives field by field, so each hostile test can break exactly one thing.
struct ZipBuilder {
    struct Entry {
        var name: [UInt8]
        /// The bytes in the file (compressed for method 8).
        var data: [UInt8]
        var method: UInt16 = 0
        var flags: UInt16 = 0
        /// nil: the CRC of `data` (right for stored entries).
        var crc: UInt32?
        /// nil: `data.count`.
        var uncompressedByteCount: UInt32?
        var localName: [UInt8]?
        var localMethod: UInt16?
        var localFlags: UInt16?
        var localCRC: UInt32?
        var localExtra: [UInt8] = []
        var centralExtra: [UInt8] = []
        /// Overrides the central directory's local-header offset field.
        var centralLocalOffset: UInt32?
        /// Overrides the central directory's compressed-size field.
        var centralCompressedByteCount: UInt32?

        init(_ name: String, _ data: [UInt8]) {
            self.name = Array(name.utf8)
            self.data = data
        }
    }

    struct Built {
        var bytes: [UInt8]
        var localOffsets: [Int]
        var centralOffsets: [Int]
        var centralDirectoryOffset: Int
        var endRecordOffset: Int
    }

    var prefix: [UInt8] = []
    var entries: [Entry] = []
    var comment: [UInt8] = []
    /// Also write a zip64 end record and locator before the classic end record.
    var zip64 = false
    /// Overrides of the classic end record's fields.
    var endRecordEntryCount: UInt16?
    var endRecordDirectoryOffset: UInt32?
    var endRecordDirectoryByteCount: UInt32?
    /// Bytes between the central directory and the end records.
    var gapBeforeEndRecords: [UInt8] = []

    init(_ entries: [Entry] = []) { self.entries = entries }

    func build() -> Built {
        var bytes = prefix
        var localOffsets: [Int] = []
        for entry in entries {
            localOffsets.append(bytes.count)
            let crc = entry.crc ?? referenceCRC32(entry.data)
            let uncompressed = entry.uncompressedByteCount ?? UInt32(entry.data.count)
            let localName = entry.localName ?? entry.name
            bytes += .le32(0x0403_4B50) + .le16(20) + .le16(entry.localFlags ?? entry.flags)
            bytes += .le16(entry.localMethod ?? entry.method) + .le16(0) + .le16(0)
            bytes += .le32(entry.localCRC ?? crc) + .le32(UInt32(entry.data.count)) + .le32(uncompressed)
            bytes += .le16(UInt16(localName.count)) + .le16(UInt16(entry.localExtra.count))
            bytes += localName + entry.localExtra + entry.data
        }
        let directoryOffset = bytes.count
        var centralOffsets: [Int] = []
        for (index, entry) in entries.enumerated() {
            centralOffsets.append(bytes.count)
            let crc = entry.crc ?? referenceCRC32(entry.data)
            let uncompressed = entry.uncompressedByteCount ?? UInt32(entry.data.count)
            bytes += .le32(0x0201_4B50) + .le16(20) + .le16(20) + .le16(entry.flags) + .le16(entry.method)
            bytes += .le16(0) + .le16(0) + .le32(crc)
            bytes += .le32(entry.centralCompressedByteCount ?? UInt32(entry.data.count)) + .le32(uncompressed)
            bytes += .le16(UInt16(entry.name.count)) + .le16(UInt16(entry.centralExtra.count)) + .le16(0)
            bytes += .le16(0) + .le16(0) + .le32(0) + .le32(entry.centralLocalOffset ?? UInt32(localOffsets[index]))
            bytes += entry.name + entry.centralExtra
        }
        let directorySize = bytes.count - directoryOffset
        bytes += gapBeforeEndRecords
        if zip64 {
            let record = bytes.count
            bytes += .le32(0x0606_4B50) + .le64(44) + .le16(0x031E) + .le16(45) + .le32(0) + .le32(0)
            bytes += .le64(UInt64(entries.count)) + .le64(UInt64(entries.count))
            bytes += .le64(UInt64(directorySize)) + .le64(UInt64(directoryOffset))
            bytes += .le32(0x0706_4B50) + .le32(0) + .le64(UInt64(record)) + .le32(1)
        }
        let endRecord = bytes.count
        let count = endRecordEntryCount ?? UInt16(entries.count)
        bytes += .le32(0x0605_4B50) + .le16(0) + .le16(0) + .le16(count) + .le16(count)
        bytes += .le32(endRecordDirectoryByteCount ?? UInt32(directorySize))
        bytes += .le32(endRecordDirectoryOffset ?? UInt32(directoryOffset))
        bytes += .le16(UInt16(comment.count)) + comment
        return Built(
            bytes: bytes, localOffsets: localOffsets, centralOffsets: centralOffsets,
            centralDirectoryOffset: directoryOffset, endRecordOffset: endRecord)
    }

    /// Two small stored entries under `dir/`.
    static var twoEntries: ZipBuilder {
        ZipBuilder([Entry("dir/a", Array("alpha".utf8)), Entry("dir/b", Array("bravo!".utf8))])
    }
}

/// Opens `bytes` as an archive (a copy), with optional limits.
func openArchive(_ bytes: [UInt8], limits: ZipReadLimits = ZipReadLimits()) throws -> ZipArchive {
    try ZipArchive(copying: bytes, limits: limits)
}

// libzip as an independent reader

struct LibzipError: Error, CustomStringConvertible {
    var description: String
}

/// Every entry of the archive at `path` as libzip reads it: opened with `ZIP_CHECKCONS` (which
/// compares local and central headers), each entry read to its end with `zip_fread` (which checks
/// the CRC).
func libzipEntries(path: String) throws -> [(name: String, bytes: [UInt8])] {
    var code: Int32 = 0
    guard let archive = zip_open(path, ZIP_CHECKCONS | ZIP_RDONLY, &code) else {
        var error = zip_error_t()
        zip_error_init_with_code(&error, code)
        defer { zip_error_fini(&error) }
        throw LibzipError(description: "zip_open: \(String(cString: zip_error_strerror(&error)))")
    }
    defer { zip_discard(archive) }
    let count = zip_get_num_entries(archive, 0)
    var result: [(name: String, bytes: [UInt8])] = []
    for index in 0..<UInt64(max(0, count)) {
        var stat = zip_stat_t()
        zip_stat_init(&stat)
        guard zip_stat_index(archive, index, 0, &stat) == 0, let namePointer = stat.name else {
            throw LibzipError(description: "zip_stat_index \(index): \(String(cString: zip_strerror(archive)))")
        }
        guard let file = zip_fopen_index(archive, index, 0) else {
            throw LibzipError(description: "zip_fopen_index \(index): \(String(cString: zip_strerror(archive)))")
        }
        defer { zip_fclose(file) }
        var bytes = [UInt8](repeating: 0, count: Int(stat.size))
        var done = 0
        while true {
            let n = bytes.withUnsafeMutableBytes { buffer in
                zip_fread(file, buffer.baseAddress.map { $0 + done }, UInt64(buffer.count - done))
            }
            if n < 0 { throw LibzipError(description: "zip_fread \(index): \(String(cString: zip_file_strerror(file)))") }
            if n == 0 { break }
            done += Int(n)
            // Read to the end (a 0-byte read) so libzip checks the CRC.
            if done == bytes.count { bytes.append(0) }
        }
        guard done == Int(stat.size) else {
            throw LibzipError(description: "entry \(index): read \(done) bytes; expected \(stat.size)")
        }
        result.append((String(cString: namePointer), Array(bytes.prefix(done))))
    }
    return result
}

// Writing archives in tests

/// Writes an archive with `body` into a fresh temporary folder and returns its path and bytes.
func writeArchive(
    named name: String = "test.zip", zip64Threshold: UInt64? = nil, entryCountThreshold: Int? = nil,
    _ body: (ZipWriter) throws -> Void
) throws -> (path: String, bytes: [UInt8]) {
    let folder = try Fixture.temporaryFolder()
    let path = folder.appendingPathComponent(name).path
    let output = try OutputFile(path: path, overwrite: false)
    let writer: ZipWriter
    if zip64Threshold != nil || entryCountThreshold != nil {
        writer = ZipWriter(
            output: output, zip64Threshold: zip64Threshold ?? UInt64(UInt32.max),
            entryCountThreshold: entryCountThreshold ?? Int(UInt16.max))
    } else {
        writer = ZipWriter(output: output)
    }
    try body(writer)
    try writer.finish()
    try output.commit()
    return (path, [UInt8](try Data(contentsOf: URL(fileURLWithPath: path))))
}
