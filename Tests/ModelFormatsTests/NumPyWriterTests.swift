import BinaryIO
import Foundation
import ModelFormats
import TensorData
import Testing
import TestSupport
import ZipFormat

@Suite("NumPy writer")
struct NumPyWriterTests {
    /// The preamble and header of a numpy-made fixture, up to its data.
    func numpyHeader(_ name: String) throws -> [UInt8] {
        let file = try NumPyFile(path: Fixture.path("numpy/" + name))
        return Array(try Fixture.bytes("numpy/" + name).prefix(file.arrays[0].header.dataOffset))
    }

    @Test("headers are numpy.save's byte for byte: 2-D, 0-d, empty")
    func headersMatchNumPy() throws {
        #expect(NumPyWriter.header(descr: "<i4", shape: [2, 3]) == (try numpyHeader("version1.npy")))
        #expect(NumPyWriter.header(descr: "<f8", shape: []) == (try numpyHeader("scalar_f8.npy")))
        #expect(NumPyWriter.header(descr: "<f4", shape: [0, 3]) == (try numpyHeader("empty_f4.npy")))
        let header = NumPyWriter.header(descr: "<f4", shape: [2, 3])
        #expect(header.count == 128)
        #expect(String(decoding: header[10...], as: UTF8.self) ==
            "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }" + String(repeating: " ", count: 20) + String(repeating: " ", count: 38) + "\n")
    }

    @Test("a header that fills its 64 bytes exactly gets 64 more, as numpy pads")
    func fullPadding() throws {
        // numpy.save of zeros((1,) * 13 + (100,), uint8) declares a 182-byte header: 118 + 64.
        let header = NumPyWriter.header(descr: "|u1", shape: [Int](repeating: 1, count: 13) + [100])
        #expect(header.count == 192)
        #expect(header[8] == 182 && header[9] == 0)
        #expect(header.suffix(65) == ArraySlice([UInt8](repeating: 0x20, count: 64) + [0x0A]))
    }

    @Test("writes each numeric fixture back as numpy.save does, byte for byte", arguments: ["version1.npy", "scalar_f8.npy", "empty_f4.npy"])
    func npyRoundTrip(name: String) throws {
        let source = try NumPyFile(path: Fixture.path("numpy/" + name))
        let output = try Fixture.temporaryFolder().appendingPathComponent("out.npy").path
        try NumPyWriter.writeNpy(to: output, entry: source.entries[0], overwrite: false) { try source.tensor(at: 0).bytes }
        #expect(try Array(Data(contentsOf: URL(fileURLWithPath: output))) == (try Fixture.bytes("numpy/" + name)))
    }

    @Test("an .npz round-trips every dtype; members are stored NAME.npy with aligned data")
    func npzRoundTrip() throws {
        let source = try NumPyFile(path: Fixture.path("numpy/dtypes.npz"))
        let output = try Fixture.temporaryFolder().appendingPathComponent("out.npz").path
        var written: [Int] = []
        try NumPyWriter.writeNpz(to: output, entries: source.entries, overwrite: false, tensorBytes: { try source.tensor(at: $0).bytes },
                                 didWrite: { written.append($0) })
        #expect(written == Array(source.entries.indices))
        let copy = try NumPyFile(path: output)
        #expect(copy.format == .numpyNpz)
        #expect(copy.entries == source.entries)
        for index in source.entries.indices {
            #expect(try copy.tensor(at: index) == (try source.tensor(at: index)), "\(source.entries[index].name)")
            #expect(copy.arrays[index].isBigEndian == false)
            #expect(copy.arrays[index].header.descr == .string(try #require(NumPyDType.descr(for: source.entries[index].dtype))))
        }
        let archive = try ZipArchive(file: try MappedFile(path: output))
        #expect(archive.entries.map(\.name) == source.entries.map { $0.name + ".npy" })
        #expect(archive.entries.allSatisfy { $0.isStored && ($0.dataOffset + 128) % 64 == 0 })
    }

    @Test("dtypes numpy lacks are refused by name before anything is written")
    func refusesMissingDTypes() throws {
        let folder = try Fixture.temporaryFolder()
        let output = folder.appendingPathComponent("out.npz").path
        let entries = [TensorEntry(name: "w", dtype: .f32, shape: [1]), TensorEntry(name: "h", dtype: .bf16, shape: [2])]
        let error = #expect(throws: NumPyWriteError.self) {
            try NumPyWriter.writeNpz(to: output, entries: entries, overwrite: false) { _ in TensorBytes(copying: [0, 0, 0, 0]) }
        }
        #expect(error?.description == "tensor \"h\": bfloat16 has no NumPy dtype (cast it with --dtype f32 or f16)")
        #expect(NumPyWriteError.unrepresentableDType(tensor: "q", dtype: .f8e4m3).description == "tensor \"q\": float8_e4m3fn has no NumPy dtype")
        #expect(NumPyWriteError.unrepresentableDType(tensor: "c", dtype: .c32).description == "tensor \"c\": complex32 has no NumPy dtype")
        #expect(NumPyWriteError.unrepresentableDType(tensor: "s", dtype: .f6e2m3).description == "tensor \"s\": f6_e2m3 has no NumPy dtype")
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path).isEmpty)
        for dtype in DType.allCases {
            let expected: Bool = ![.bf16, .f4, .f6e2m3, .f6e3m2, .f8e5m2, .f8e4m3, .f8e8m0, .f8e4m3fnuz, .f8e5m2fnuz, .c32].contains(dtype)
            #expect((NumPyDType.descr(for: dtype) != nil) == expected, "\(dtype)")
            if let descr = NumPyDType.descr(for: dtype) {
                let resolved = try NumPyDType.resolve(descr)
                #expect(resolved.dtype == dtype && !resolved.isBigEndian)
            }
        }
    }

    @Test("a failing tensor leaves nothing behind")
    func failureWritesNothing() throws {
        let folder = try Fixture.temporaryFolder()
        let output = folder.appendingPathComponent("out.npz").path
        struct Broken: Error {}
        #expect(throws: Broken.self) {
            try NumPyWriter.writeNpz(to: output, entries: [TensorEntry(name: "w", dtype: .f32, shape: [1])], overwrite: false) { _ in throw Broken() }
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path).isEmpty)
    }
}
