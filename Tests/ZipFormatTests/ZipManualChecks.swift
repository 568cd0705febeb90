import BinaryIO
import Foundation
import Testing
import TestSupport
@testable import ZipFormat

// Opt-in checks a developer runs by hand; both are skipped in a plain `swift test`.
//
// * ZIPFORMAT_EXPORT_DIR=<dir>: writes archives for Fixtures/zip/verify_writer_with_torch.py to
//   check with Python's zipfile and torch.load (run its `prepare` step first).
// * ZIPFORMAT_BENCHMARK_DIR=<dir>: times writing and reading a 1 GiB stored entry there
//   (needs about 2 GiB free; build with `swift test -c release`).

private let environment = ProcessInfo.processInfo.environment

@Suite("Opt-in manual checks")
struct ZipManualChecks {
    @Test("export archives for checking with Python and torch", .enabled(if: environment["ZIPFORMAT_EXPORT_DIR"] != nil))
    func exportForPython() throws {
        let folder = try #require(environment["ZIPFORMAT_EXPORT_DIR"])
        func write(_ name: String, zip64Threshold: UInt64 = UInt64(UInt32.max), entryCountThreshold: Int = 0xFFFF,
                   _ body: (ZipWriter) throws -> Void) throws {
            let output = try OutputFile(path: "\(folder)/\(name)", overwrite: true)
            let writer = ZipWriter(output: output, zip64Threshold: zip64Threshold, entryCountThreshold: entryCountThreshold)
            try body(writer)
            try writer.finish()
            try output.commit()
        }

        // A .pth laid out like torch.save's, from the pickle and storage `prepare` saved.
        let pickle = [UInt8](try Data(contentsOf: URL(fileURLWithPath: "\(folder)/data.pkl")))
        let storage = [UInt8](try Data(contentsOf: URL(fileURLWithPath: "\(folder)/data0.bin")))
        try write("model.pth") { writer in
            try writer.addEntry(name: "model/data.pkl", bytes: pickle)
            try writer.addEntry(name: "model/byteorder", bytes: Array("little".utf8))
            try writer.addEntry(name: "model/data/0", bytes: storage)
            try writer.addEntry(name: "model/version", bytes: Array("3\n".utf8))
        }
        // Sizes around the alignment, empty entries, streamed chunks.
        try write("mixed.zip") { writer in
            for (index, size) in [0, 1, 63, 64, 65, 0, 100_003].enumerated() {
                let data = pseudoRandomBytes(count: size, seed: UInt64(index))
                try writer.beginEntry(name: "mixed/\(index)", byteCount: size)
                for start in stride(from: 0, to: size, by: 4096) { try writer.write(Array(data[start..<min(size, start + 4096)])) }
                try writer.endEntry()
            }
        }
        // Every zip64 path, with thresholds lowered to 1000 bytes and 3 entries.
        try write("zip64_lowered.zip", zip64Threshold: 1000, entryCountThreshold: 3) { writer in
            for (index, size) in [10, 1500, 10, 2000, 0].enumerated() {
                try writer.addEntry(name: "z/\(index)", bytes: pseudoRandomBytes(count: size, seed: UInt64(index)))
            }
        }
        // More than 65,535 entries.
        try write("many.zip") { writer in
            for index in 0..<70_000 { try writer.addEntry(name: "many/\(index)", bytes: [UInt8(truncatingIfNeeded: index)]) }
        }
    }

    @Test("rewrite a stored archive entry by entry (ZIPFORMAT_REWRITE=<source>:<destination>)", .enabled(if: environment["ZIPFORMAT_REWRITE"] != nil))
    func rewrite() throws {
        let paths = try #require(environment["ZIPFORMAT_REWRITE"]).split(separator: ":").map(String.init)
        try #require(paths.count == 2)
        let source = try ZipArchive(file: try MappedFile(path: paths[0]))
        let output = try OutputFile(path: paths[1], overwrite: true)
        let writer = ZipWriter(output: output)
        for entry in source.entries {
            try writer.addEntry(name: entry.name, bytes: try source.storedBytes(of: entry))
        }
        try writer.finish()
        try output.commit()
    }

    @Test("benchmark: write and read a 1 GiB stored entry", .enabled(if: environment["ZIPFORMAT_BENCHMARK_DIR"] != nil))
    func benchmark() throws {
        let folder = try #require(environment["ZIPFORMAT_BENCHMARK_DIR"])
        let path = "\(folder)/zipformat-benchmark.pth"
        let total = 1 << 30
        let chunk = 64 << 20
        let source = pseudoRandomBytes(count: chunk, seed: 7)
        let clock = ContinuousClock()
        func seconds(_ duration: Duration) -> String {
            let value = Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
            return value < 0.01 ? String(format: "%.3f ms", value * 1000) : String(format: "%.3f s", value)
        }
        /// The fastest and the median of `runs` timings.
        func best(_ runs: Int, _ body: () throws -> Void) rethrows -> String {
            var timings: [Duration] = []
            for _ in 0..<runs { timings.append(try clock.measure(body)) }
            timings.sort()
            return "\(seconds(timings[0])) (median \(seconds(timings[runs / 2])))"
        }

        let crcOnly = source.withUnsafeBytes { bytes in
            best(5) { var crc: UInt32 = 0; for _ in 0..<(total / chunk) { crc = CRC32.checksum(bytes, continuing: crc) }; _ = crc }
        }
        let plainWrite = try best(5) {
            let output = try OutputFile(path: path, overwrite: true)
            try source.withUnsafeBytes { bytes in for _ in 0..<(total / chunk) { try output.write(bytes) } }
            try output.commit()
        }
        let zipWrite = try best(5) {
            let output = try OutputFile(path: path, overwrite: true)
            let writer = ZipWriter(output: output)
            try writer.addEntry(name: "bench/data.pkl", bytes: Array("pickle".utf8))
            try writer.beginEntry(name: "bench/data/0", byteCount: total)
            try source.withUnsafeBytes { bytes in for _ in 0..<(total / chunk) { try writer.write(bytes) } }
            try writer.endEntry()
            try writer.addEntry(name: "bench/version", bytes: Array("3\n".utf8))
            try writer.finish()
            try output.commit()
        }

        // Each run maps the file afresh, so page faults are counted every time.
        var sum = 0
        let index = try best(5) { _ = try ZipArchive(file: try MappedFile(path: path)) }
        let touch = try best(5) {
            let archive = try ZipArchive(file: try MappedFile(path: path))
            let bytes = try archive.storedBytes(of: try #require(archive.entry(named: "bench/data/0")))
            for page in stride(from: 0, to: bytes.count, by: 4096) { sum &+= Int(bytes[page]) }
        }
        let crc = try best(5) {
            let archive = try ZipArchive(file: try MappedFile(path: path))
            let entry = try #require(archive.entry(named: "bench/data/0"))
            #expect(entry.dataOffset % 64 == 0 && entry.uncompressedByteCount == total)
            try archive.verifyCRC(of: entry)
        }

        print("""
            ZipFormat benchmark, 1 GiB stored entry in \(folder):
              zlib crc32 alone           \(crcOnly)
              OutputFile write, no zip   \(plainWrite)
              ZipWriter, crc + write     \(zipWrite)
              ZipArchive index (mmap)    \(index)
              map + touch every page     \(touch) (\(sum & 1))
              map + verifyCRC            \(crc)
            """)
        try? FileManager.default.removeItem(atPath: path)
    }
}
