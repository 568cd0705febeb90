import Foundation
import Testing
import TestSupport
@testable import ZipFormat

/// Deterministic pseudo-random bytes (SplitMix64).
func pseudoRandomBytes(count: Int, seed: UInt64) -> [UInt8] {
    var state = seed
    var bytes: [UInt8] = []
    bytes.reserveCapacity(count + 8)
    while bytes.count < count {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        bytes += [UInt8].le64(z)
    }
    return Array(bytes.prefix(count))
}

/// The fields of the local header at `offset` in `bytes`.
struct LocalHeaderView {
    var versionNeeded: UInt16, flags: UInt16, method: UInt16, time: UInt16, date: UInt16
    var crc: UInt32, compressed: UInt32, uncompressed: UInt32
    var name: [UInt8], extra: [UInt8]
    var dataOffset: Int

    init(_ bytes: [UInt8], at offset: Int) {
        versionNeeded = bytes.get16(at: offset + 4)
        flags = bytes.get16(at: offset + 6)
        method = bytes.get16(at: offset + 8)
        time = bytes.get16(at: offset + 10)
        date = bytes.get16(at: offset + 12)
        crc = bytes.get32(at: offset + 14)
        compressed = bytes.get32(at: offset + 18)
        uncompressed = bytes.get32(at: offset + 22)
        let nameLength = Int(bytes.get16(at: offset + 26))
        let extraLength = Int(bytes.get16(at: offset + 28))
        name = Array(bytes[(offset + 30)..<(offset + 30 + nameLength)])
        extra = Array(bytes[(offset + 30 + nameLength)..<(offset + 30 + nameLength + extraLength)])
        dataOffset = offset + 30 + nameLength + extraLength
    }
}

@Suite("Writing archives")
struct ZipWriterTests {
    @Test("rewriting torch's records in order reproduces torch's archive byte for byte", arguments: torchWrittenFixtureNames)
    func byteIdenticalToTorch(name: String) throws {
        let original = try Fixture.bytes("zip/\(name)")
        let archive = try openArchive(original)
        let written = try writeArchive(named: name) { writer in
            for entry in archive.entries {
                try writer.addEntry(name: entry.name, bytes: try archive.storedBytes(of: entry))
            }
        }
        #expect(written.bytes.count == original.count)
        #expect(written.bytes == original)
    }

    @Test("streamed archives read back with our reader and libzip; every data offset is 64-byte aligned")
    func roundTrip() throws {
        let sizes = [0, 1, 2, 63, 64, 65, 1000, 0, 100_003, 4]
        let contents = sizes.enumerated().map { pseudoRandomBytes(count: $0.element, seed: UInt64($0.offset)) }
        let names = sizes.indices.map { "model/data/\($0)" }
        let written = try writeArchive { writer in
            for (name, data) in zip(names, contents) {
                try writer.beginEntry(name: name, byteCount: data.count)
                var start = 0
                var chunk = 1
                while start < data.count {
                    let end = min(data.count, start + chunk)
                    try writer.write(Array(data[start..<end]))
                    start = end
                    chunk = chunk * 7 + 3
                }
                try writer.endEntry()
            }
            #expect(writer.entryCount == sizes.count)
        }

        let archive = try openArchive(written.bytes)
        #expect(archive.entries.map(\.name) == names)
        #expect(archive.hasZip64EndRecord)
        #expect(archive.rootFolder == "model")
        for (entry, data) in zip(archive.entries, contents) {
            #expect(entry.dataOffset % 64 == 0, "\(entry.name) data at \(entry.dataOffset)")
            #expect(entry.flags == (data.isEmpty ? 0x0800 : 0x0808))
            #expect(entry.crc32 == referenceCRC32(data))
            #expect(Array(try archive.storedBytes(of: entry)) == data)
            try archive.verifyCRC(of: entry)

            // torch's local header: version 0, time/date 0, CRC and sizes 0, then the FB extra.
            let local = LocalHeaderView(written.bytes, at: entry.localHeaderOffset)
            #expect(local.versionNeeded == 0 && local.time == 0 && local.date == 0)
            #expect(local.crc == 0 && local.compressed == 0 && local.uncompressed == 0)
            #expect(local.extra.count >= 4 && local.extra.count < 68)
            #expect(Array(local.extra.prefix(2)) == [0x46, 0x42])
            #expect(Int(local.extra.get16(at: 2)) == local.extra.count - 4)
            #expect(local.extra.dropFirst(4).allSatisfy { $0 == UInt8(ascii: "Z") })

            // A 16-byte data descriptor after non-empty data; nothing after empty data.
            let end = entry.dataOffset + data.count
            if data.isEmpty {
                #expect(written.bytes.get32(at: end) != 0x0807_4B50)
            } else {
                #expect(written.bytes.get32(at: end) == 0x0807_4B50)
                #expect(written.bytes.get32(at: end + 4) == entry.crc32)
                #expect(written.bytes.get32(at: end + 8) == UInt32(data.count))
                #expect(written.bytes.get32(at: end + 12) == UInt32(data.count))
            }
        }

        let fromLibzip = try libzipEntries(path: written.path)
        #expect(fromLibzip.map(\.name) == names)
        #expect(fromLibzip.map(\.bytes) == contents)
    }

    @Test("always ends with a zip64 end record (made by 0x031E, needs 45) and locator")
    func endRecords() throws {
        let written = try writeArchive { writer in try writer.addEntry(name: "a/b", bytes: [1, 2, 3]) }
        let bytes = written.bytes
        let end = bytes.count - 22
        let locator = end - 20
        let record = locator - 56
        #expect(bytes.get32(at: end) == 0x0605_4B50)
        #expect(bytes.get32(at: locator) == 0x0706_4B50)
        #expect(bytes.get64(at: locator + 8) == UInt64(record))
        #expect(bytes.get32(at: locator + 16) == 1)
        #expect(bytes.get32(at: record) == 0x0606_4B50)
        #expect(bytes.get64(at: record + 4) == 44)
        #expect(bytes.get16(at: record + 12) == 0x031E)
        #expect(bytes.get16(at: record + 14) == 45)
        #expect(bytes.get64(at: record + 32) == 1)
        #expect(bytes.get16(at: end + 10) == 1)
        #expect(bytes.get64(at: record + 48) == UInt64(bytes.get32(at: end + 16)))
    }

    @Test("an archive with no entries is still valid")
    func noEntries() throws {
        let written = try writeArchive { _ in }
        #expect(try openArchive(written.bytes).entries.isEmpty)
        #expect(try libzipEntries(path: written.path).isEmpty)
    }

    @Test("more than 65,535 entries: the classic count is 0xFFFF and the zip64 record has the real one")
    func manyEntries() throws {
        let count = 70_000
        let written = try writeArchive { writer in
            for index in 0..<count {
                try writer.addEntry(name: "many/\(index)", bytes: index % 3 == 0 ? [] : [UInt8(truncatingIfNeeded: index)])
            }
        }
        let bytes = written.bytes
        let end = bytes.count - 22
        #expect(bytes.get16(at: end + 8) == 0xFFFF && bytes.get16(at: end + 10) == 0xFFFF)
        #expect(bytes.get64(at: end - 20 - 56 + 32) == UInt64(count))

        let archive = try openArchive(bytes)
        #expect(archive.entries.count == count)
        #expect(archive.entries.allSatisfy { $0.dataOffset % 64 == 0 })
        let late = try #require(archive.entry(named: "many/\(count - 2)"))
        #expect(Array(try archive.storedBytes(of: late)) == [UInt8(truncatingIfNeeded: count - 2)])

        let fromLibzip = try libzipEntries(path: written.path)
        #expect(fromLibzip.count == count)
        #expect(fromLibzip.last?.name == "many/\(count - 1)")
    }

    @Test("zip64 fields for big entries, far headers and many entries (lowered thresholds)")
    func zip64Paths() throws {
        // With the threshold at 1000: sizes >= 1000 and offsets >= 1000 take zip64 fields.
        let plan: [(String, Int)] = [("z/small", 10), ("z/big", 1500), ("z/far", 10), ("z/far-big", 2000), ("z/empty", 0)]
        let contents = plan.enumerated().map { pseudoRandomBytes(count: $0.element.1, seed: 100 + UInt64($0.offset)) }
        let written = try writeArchive(zip64Threshold: 1000, entryCountThreshold: 3) { writer in
            for ((name, _), data) in zip(plan, contents) { try writer.addEntry(name: name, bytes: data) }
        }
        let bytes = written.bytes
        let archive = try openArchive(bytes)
        #expect(archive.entries.map(\.name) == plan.map(\.0))
        for (entry, data) in zip(archive.entries, contents) {
            #expect(entry.dataOffset % 64 == 0)
            #expect(Array(try archive.storedBytes(of: entry)) == data)
            try archive.verifyCRC(of: entry)

            let bigSize = data.count >= 1000
            let bigOffset = entry.localHeaderOffset >= 1000
            let local = LocalHeaderView(bytes, at: entry.localHeaderOffset)
            if bigSize || bigOffset {
                // zip64 extra first: (size, 0) for big entries, then the header's own offset.
                let length = (bigSize ? 16 : 0) + (bigOffset ? 8 : 0)
                #expect(local.extra.get16(at: 0) == 1 && Int(local.extra.get16(at: 2)) == length)
                if bigSize {
                    #expect(local.extra.get64(at: 4) == UInt64(data.count))
                    #expect(local.extra.get64(at: 12) == 0)
                }
                if bigOffset { #expect(local.extra.get64(at: 4 + length - 8) == UInt64(entry.localHeaderOffset)) }
                #expect(local.extra.get16(at: 4 + length) == 0x4246)
            } else {
                #expect(local.extra.get16(at: 0) == 0x4246)
            }
            // Data descriptor with 8-byte sizes for zip64 entries.
            let end = entry.dataOffset + data.count
            if !data.isEmpty {
                #expect(bytes.get32(at: end) == 0x0807_4B50)
                if bigSize || bigOffset {
                    #expect(bytes.get64(at: end + 8) == UInt64(data.count))
                    #expect(bytes.get64(at: end + 16) == UInt64(data.count))
                    #expect(bytes.get32(at: end + 24) == 0x0403_4B50 || end + 24 == archive.centralDirectoryOffset)
                } else {
                    #expect(bytes.get32(at: end + 8) == UInt32(data.count))
                }
            }
            // Central directory: 0xFFFFFFFF where the value lives in the zip64 extra.
            let central = entry.centralHeaderOffset
            #expect(bytes.get32(at: central + 20) == (bigSize ? 0xFFFF_FFFF : UInt32(data.count)))
            #expect(bytes.get32(at: central + 24) == (bigSize ? 0xFFFF_FFFF : UInt32(data.count)))
            #expect(bytes.get32(at: central + 42) == (bigOffset ? 0xFFFF_FFFF : UInt32(entry.localHeaderOffset)))
            #expect(Int(bytes.get16(at: central + 30)) == (bigSize || bigOffset ? 4 + (bigSize ? 16 : 0) + (bigOffset ? 8 : 0) : 0))
        }
        // Classic end record: count over the threshold, directory beyond it.
        let end = bytes.count - 22
        #expect(bytes.get16(at: end + 10) == 0xFFFF)
        #expect(bytes.get32(at: end + 16) == 0xFFFF_FFFF)
        #expect(archive.centralDirectoryOffset > 1000)

        let fromLibzip = try libzipEntries(path: written.path)
        #expect(fromLibzip.map(\.name) == plan.map(\.0))
        #expect(fromLibzip.map(\.bytes) == contents)
    }

    @Test("refuses more bytes than declared, before writing them")
    func tooManyBytes() throws {
        _ = try writeArchive { writer in
            try writer.beginEntry(name: "a/x", byteCount: 4)
            try writer.write([1, 2, 3])
            let before = writer.output.position
            #expect(throws: ZipError.entrySizeMismatch(entry: "a/x", declaredByteCount: 4, writtenByteCount: 5)) {
                try writer.write([4, 5])
            }
            #expect(writer.output.position == before)
            try writer.write([4])
            try writer.endEntry()
        }
    }

    @Test("refuses to end an entry that is short of its declared size")
    func tooFewBytes() throws {
        _ = try writeArchive { writer in
            try writer.beginEntry(name: "a/x", byteCount: 4)
            try writer.write([1, 2, 3])
            #expect(throws: ZipError.entrySizeMismatch(entry: "a/x", declaredByteCount: 4, writtenByteCount: 3)) {
                try writer.endEntry()
            }
            try writer.write([4])
            try writer.endEntry()
        }
    }

    @Test("refuses names a reader would refuse, duplicates and over-long names")
    func refusesBadNames() throws {
        _ = try writeArchive { writer in
            try writer.addEntry(name: "a/ok", bytes: [1])
            let offset = writer.output.position
            #expect(throws: ZipError.invalidEntryName(name: "a/../x", offset: offset, problem: .parentDirectoryComponent)) {
                try writer.beginEntry(name: "a/../x", byteCount: 0)
            }
            #expect(throws: ZipError.invalidEntryName(name: "/a", offset: offset, problem: .absolutePath)) {
                try writer.beginEntry(name: "/a", byteCount: 0)
            }
            #expect(throws: ZipError.invalidEntryName(name: "a\\b", offset: offset, problem: .backslash)) {
                try writer.beginEntry(name: "a\\b", byteCount: 0)
            }
            #expect(throws: ZipError.invalidEntryName(name: "a\0b", offset: offset, problem: .nulByte)) {
                try writer.beginEntry(name: "a\0b", byteCount: 0)
            }
            #expect(throws: ZipError.invalidEntryName(name: "", offset: offset, problem: .empty)) {
                try writer.beginEntry(name: "", byteCount: 0)
            }
            #expect(throws: ZipError.duplicateEntryName(name: "a/ok", offset: offset, firstOffset: 0)) {
                try writer.beginEntry(name: "a/ok", byteCount: 0)
            }
            let long = String(repeating: "n", count: 65_536)
            #expect(throws: ZipError.entryNameTooLong(entry: long, byteCount: 65_536)) {
                try writer.beginEntry(name: long, byteCount: 0)
            }
            #expect(writer.output.position == offset)
            #expect(writer.entryCount == 1)
        }
    }
}
