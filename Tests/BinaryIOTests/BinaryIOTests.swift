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
        #expect(throws: FileError(path: "/tmp", operation: "open", message: "is a directory, not a file")) { try MappedFile(path: "/tmp") }
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

    @Test("a FIFO, a socket, a device, a folder or a link loop is refused by name before it is opened")
    func nonRegularPaths() throws {
        let folder = try Fixture.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let fifo = folder.appendingPathComponent("fifo").path
        #expect(mkfifo(fifo, 0o600) == 0)
        let socketPath = folder.appendingPathComponent("socket").path
        let socketDescriptor = try boundSocket(at: socketPath)
        defer { close(socketDescriptor) }
        let loop = folder.appendingPathComponent("loop").path
        #expect(symlink(loop, loop) == 0)
        let cases: [(String, String)] = [
            (fifo, "is a FIFO (named pipe), not a regular file"),
            (socketPath, "is a socket, not a regular file"),
            ("/dev/null", "is a character device, not a regular file"),
            ("/dev/zero", "is a character device, not a regular file"),
            (folder.path, "is a directory, not a file"),
            (loop, "a symbolic link loop (too many levels of symbolic links)"),
        ]
        for (path, message) in cases {
            #expect(throws: FileError(path: path, operation: "open", message: message)) { try MappedFile(path: path) }
            #expect(throws: FileError(path: path, operation: "open", message: message)) { try RegularFile.contents(of: path) }
        }
        // A link to a regular file is fine, and reads the file.
        let target = folder.appendingPathComponent("target").path
        #expect(FileManager.default.createFile(atPath: target, contents: Data([1, 2, 3])))
        let link = folder.appendingPathComponent("link").path
        #expect(symlink(target, link) == 0)
        #expect(try RegularFile.contents(of: link) == [1, 2, 3])
        #expect(try MappedFile(path: link).count == 3)
        #expect(throws: FileError(path: target, operation: "read", message: "the file has 3 bytes; at most 2 are read")) {
            try RegularFile.contents(of: target, maxByteCount: 2)
        }
    }

    @Test("an output that is a claimed input (the file, a hard link, a symbolic link) is refused, overwrite or not")
    func outputIsNeverAnInput() throws {
        let folder = try Fixture.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let input = folder.appendingPathComponent("input.bin").path
        #expect(FileManager.default.createFile(atPath: input, contents: Data([1, 2, 3, 4])))
        let hard = folder.appendingPathComponent("hard.bin").path
        #expect(link(input, hard) == 0)
        let soft = folder.appendingPathComponent("soft.bin").path
        #expect(symlink(input, soft) == 0)
        let other = folder.appendingPathComponent("other.bin").path
        do {
            let mapped = try MappedFile(path: input)
            for overwrite in [false, true] {
                #expect(throws: FileError(path: input, operation: "write",
                                          message: "is an input of this command; the input is never the output, even with --force (choose another path)")) {
                    try OutputFile(path: input, overwrite: overwrite)
                }
                for path in [hard, soft] {
                    #expect(throws: FileError(path: path, operation: "write",
                                              message: "is the same file as the input \(input); the input is never the output, even with --force (choose another path)")) {
                        try OutputFile(path: path, overwrite: overwrite)
                    }
                }
            }
            #expect(throws: FileError(path: folder.path, operation: "write",
                                      message: "holds the input \(input); the input is never the output (choose another folder)")) {
                try OutputTarget.checkFolder(folder.path)
            }
            let output = try OutputFile(path: other, overwrite: false)
            try output.write([9])
            try output.commit()
            withExtendedLifetime(mapped) {}
        }
        // Once the input is closed, the file is an ordinary output again.
        let output = try OutputFile(path: input, overwrite: true)
        try output.write([5])
        try output.commit()
        #expect(try RegularFile.contents(of: hard) == [1, 2, 3, 4], "the hard link still names the old file")
        #expect(try RegularFile.contents(of: input) == [5])
    }

    @Test("the read budget allows twice the file plus the limit, counts every reservation and never overflows")
    func readBudget() throws {
        let budget = ReadBudget(fileByteCount: 100, limit: 50)
        #expect(budget.allowance == 250)
        try budget.reserve(200, for: "a")
        try budget.check(50, for: "b")
        #expect(throws: ReadBudgetExceeded(what: "c", requested: 51, alreadyUsed: 200, fileByteCount: 100, limit: 50, allowance: 250)) {
            try budget.reserve(51, for: "c")
        }
        #expect(budget.usedByteCount == 200, "a refused reservation counts nothing")
        #expect(throws: ReadBudgetExceeded(what: "d", requested: Int.max, alreadyUsed: 200, fileByteCount: 100, limit: 50, allowance: 250)) {
            try budget.reserve(Int.max, for: "d")
        }
        #expect(ReadBudget(fileByteCount: Int.max / 2 + 1, limit: Int.max).allowance == Int.max)
        #expect(String(describing: ReadBudgetExceeded(what: "tensor \"w\"", requested: 8, alreadyUsed: 3, fileByteCount: 1, limit: 2, allowance: 4))
                == "tensor \"w\" needs 8 bytes, over the read budget of 4 bytes (limit maxMaterializedBytes = 2, plus twice the file's 1 bytes; 3 already materialised)")
        #expect([Int.max, 1, 5].saturatingSum { $0 } == Int.max)
        #expect([Int.min, -1].saturatingSum { $0 } == Int.min)
        #expect((1 << 62).saturatingMultiplied(by: -4) == Int.min)
    }

    /// A Unix-domain socket bound at `path` (the caller closes it).
    private func boundSocket(at path: String) throws -> Int32 {
        let descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        #expect(descriptor >= 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            for (i, byte) in path.utf8.prefix(buffer.count - 1).enumerated() { buffer[i] = byte }
        }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        #expect(result == 0, "bind \(path)")
        return descriptor
    }
}
