import BinaryIO
import Foundation
import Testing
import TestSupport

@Suite("BinaryIO")
struct BinaryIOTests {
    @Test("the reader checks every read and loads unaligned integers")
    func byteReader() throws {
        let bytes: [UInt8] = [0xFF, 1, 0, 0, 0, 0, 0, 0, 0, 0x12, 0x34, 10, 20]
        try bytes.withUnsafeBytes { (raw: UnsafeRawBufferPointer) throws -> Void in
            var reader = ByteReader(raw)
            #expect(try reader.readUInt8() == 0xFF)
            #expect(try reader.readLittleEndian(UInt64.self) == 1, "at odd offset 1")
            #expect(try reader.readBigEndian(UInt16.self) == 0x1234)
            #expect(reader.remaining == 2)
            #expect(throws: ByteReaderError.truncated(offset: 11, needed: 4, available: 2)) { try reader.readLittleEndian(UInt32.self) }
            #expect(reader.offset == 11, "a failed read does not move the cursor")
            #expect(throws: ByteReaderError.truncated(offset: 11, needed: -1, available: 2)) { try reader.skip(-1) }
            #expect(Array(try reader.readBytes(2)) == [10, 20])
            #expect(reader.isAtEnd)
        }
        try Array("GLOBAL\nname\n".utf8).withUnsafeBytes { (raw: UnsafeRawBufferPointer) throws -> Void in
            var reader = ByteReader(raw)
            #expect(String(decoding: try reader.readUntil(0x0A, limit: 10), as: UTF8.self) == "GLOBAL")
            #expect(throws: ByteReaderError.terminatorNotFound(offset: 7, terminator: 0x0A, limit: 2)) { try reader.readUntil(0x0A, limit: 2) }
        }
    }

    @Test("mapped files map, and refuse what they cannot map")
    func mappedFile() throws {
        let file = try MappedFile(path: Fixture.path("safetensors/empty.safetensors"))
        #expect(file.count == 16)
        #expect(file.bytes[8] == UInt8(ascii: "{"))
        #expect(throws: FileError.self) { try MappedFile(path: "/nonexistent") }
        #expect(throws: FileError(path: "/tmp", operation: "open", message: "is a directory")) { try MappedFile(path: "/tmp") }
        let folder = try Fixture.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let empty = folder.appendingPathComponent("empty").path
        #expect(FileManager.default.createFile(atPath: empty, contents: Data()))
        #expect(try MappedFile(path: empty).count == 0)
    }

    @Test("output files appear only on commit, with every byte written")
    func outputFile() throws {
        let folder = try Fixture.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("out.bin").path
        do {
            let output = try OutputFile(path: path, overwrite: false)
            try output.write([1, 2, 3])
            #expect(!FileManager.default.fileExists(atPath: path))
            #expect(FileManager.default.fileExists(atPath: output.temporaryPath))
        }
        #expect((try FileManager.default.contentsOfDirectory(atPath: folder.path)).isEmpty, "an uncommitted file is removed")
        let output = try OutputFile(path: path, overwrite: false)
        let big = (0..<3_000_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        try output.write([9])
        try output.write(big)
        try output.write(repeating: 7, count: 5)
        try output.write("ok")
        #expect(output.position == 1 + big.count + 5 + 2)
        try output.commit()
        let written = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        #expect(written == [9] + big + [7, 7, 7, 7, 7] + Array("ok".utf8))
        #expect(throws: FileError.self) { try OutputFile(path: path, overwrite: false) }
        #expect(throws: FileError.self) { try OutputFile(path: folder.appendingPathComponent("no/such/folder/x").path, overwrite: false) }
    }
}
