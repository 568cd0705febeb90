import Foundation
import ModelFileKit
import ModelFormats
import TensorData
import Testing
import TestSupport

@Suite("NumPy workflows")
struct NumPyWorkflowTests {
    func temporary(_ name: String) throws -> String { try Fixture.temporaryFolder().appendingPathComponent(name).path }

    @Test("npz to safetensors and back keeps names, dtypes and bytes")
    func npzSafetensorsRoundTrip() throws {
        let input = Fixture.path("numpy/state_dict.npz")
        let safetensors = try temporary("model.safetensors")
        let result = try Conversion.convert(input: input, output: safetensors, options: ConversionOptions())
        #expect(result.tensorCount == 3)
        let source = try NumPyFile(path: input)
        let converted = try SafetensorsFile(path: safetensors)
        #expect(converted.metadata == ["format": "pt"])
        for (index, entry) in source.entries.enumerated() {
            let other = try #require(converted.index(of: entry.name))
            #expect(try converted.tensor(at: other) == (try source.tensor(at: index)))
        }
        let npz = try temporary("again.npz")
        _ = try Conversion.convert(input: safetensors, output: npz, options: ConversionOptions())
        let back = try NumPyFile(path: npz)
        #expect(Set(back.entries.map(\.name)) == Set(source.entries.map(\.name)))
        #expect(try DiffReport.diff(input, npz).isEqual)
    }

    @Test("every dtype and byte order converts to .npz little-endian; --to npz works without the extension")
    func dtypesToNpz() throws {
        let output = try temporary("out.bin-not-npz")
        var options = ConversionOptions()
        options.outputFormat = .npz
        _ = try Conversion.convert(input: Fixture.path("numpy/dtypes_compressed.npz"), output: output, options: options)
        let copy = try NumPyFile(path: output)
        #expect(copy.arrays.allSatisfy { !$0.isBigEndian })
        #expect(try DiffReport.diff(Fixture.path("numpy/dtypes.npz"), output).isEqual)
    }

    @Test("a .npy takes one tensor: --select picks it, several without it are a usage error naming the count")
    func npyOutput() throws {
        let output = try temporary("one.npy")
        let error = #expect(throws: ModelFileError.self) {
            try Conversion.convert(input: Fixture.path("numpy/state_dict.npz"), output: output, options: ConversionOptions())
        }
        let conversion = try #require(error?.underlying as? ConversionError)
        #expect(conversion == .npyHoldsOneTensor(count: 3))
        #expect(conversion.isUsageError)
        #expect(conversion.description == "a .npy holds one tensor; the input has 3 (pick one with --select NAME, or write .npz)")
        #expect(!FileManager.default.fileExists(atPath: output))

        var options = ConversionOptions()
        options.select = "linear1.bias"
        _ = try Conversion.convert(input: Fixture.path("numpy/state_dict.npz"), output: output, options: options)
        let file = try NumPyFile(path: output)
        #expect(file.entries == [TensorEntry(name: "one", dtype: .f32, shape: [6])])
        #expect(try file.tensor(at: 0).bytes.values(as: Float.self) == [Float](repeating: 0, count: 6))
    }

    @Test("a Fortran big-endian .npy converts to the row-major little-endian .npy numpy would save")
    func fortranToNpy() throws {
        let output = try temporary("c.npy")
        _ = try Conversion.convert(input: Fixture.path("numpy/fortran_be_i2_3d.npy"), output: output, options: ConversionOptions())
        let file = try NumPyFile(path: output)
        #expect(file.arrays[0].header.fortranOrder == false)
        #expect(file.arrays[0].header.descr == .string("<i2"))
        #expect(try file.tensor(at: 0).bytes.values(as: Int16.self) == (0..<24).map(Int16.init))
    }

    @Test("complex128 stays complex128 in .npz and .pth, and is refused by name for safetensors")
    func complex128() throws {
        var options = ConversionOptions()
        options.select = "c16_be"
        let npz = try temporary("c.npz")
        _ = try Conversion.convert(input: Fixture.path("numpy/dtypes.npz"), output: npz, options: options)
        #expect(try NumPyFile(path: npz).entries.map(\.dtype) == [.c128])
        let pth = try temporary("c.pth")
        _ = try Conversion.convert(input: Fixture.path("numpy/dtypes.npz"), output: pth, options: options)
        #expect(try TorchFile(path: pth).entries.map(\.dtype) == [.c128])
        let safetensors = try temporary("c.safetensors")
        let error = #expect(throws: ModelFileError.self) { try Conversion.convert(input: Fixture.path("numpy/dtypes.npz"), output: safetensors, options: options) }
        #expect(error?.description == "\(safetensors): tensor \"c16_be\": complex128 has no safetensors dtype")
    }

    @Test("bfloat16 to .npz is refused by name; --dtype f32 makes it convertible")
    func bfloat16() throws {
        let output = try temporary("h.npz")
        let error = #expect(throws: ModelFileError.self) {
            try Conversion.convert(input: Fixture.path("safetensors/mlp_bf16.safetensors"), output: output, options: ConversionOptions())
        }
        #expect(error?.underlying as? NumPyWriteError == .unrepresentableDType(tensor: "linear1.bias", dtype: .bf16))
        var options = ConversionOptions()
        options.dtype = .f32
        #expect(try Conversion.convert(input: Fixture.path("safetensors/mlp_bf16.safetensors"), output: output, options: options).tensorCount == 8)
    }

    @Test("inspect and verify read NumPy files; inspect refuses an object array naming the member")
    func inspectAndVerify() throws {
        let inspection = try Inspection.inspect(path: Fixture.path("numpy/dtypes_compressed.npz"))
        #expect(inspection.format == .numpyNpz)
        #expect(inspection.tensors.count == 25)
        let verification = try Verification.verify(path: Fixture.path("numpy/dtypes.npz"))
        // f2, f8 and c16 hold infinities and NaN on purpose (both byte orders).
        #expect(verification.findings.count == 6)
        #expect(verification.findings.map(\.message).contains("tensor \"f8_be\": 2 of 6 values are NaN or infinite"))
        let clean = try Verification.verify(path: Fixture.path("numpy/fortran_c16_4d.npy"))
        #expect(clean.isClean && clean.format == .numpyNpy)
        let error = #expect(throws: ModelFileError.self) { try Inspection.inspect(path: Fixture.path("numpy/object_array.npz")) }
        #expect(error?.description == Fixture.path("numpy/object_array.npz")
            + ": member \"payload.npy\" at byte 20: an object array (descr '|O'): its data is a pickle, which modelfile never loads (modelfile scan lists what it imports)")
    }

    @Test("scan lists an object array's imports without loading it; plain arrays are clean")
    func scan() throws {
        let expected = try JSONSerialization.jsonObject(with: Data(contentsOf: Fixture.url("numpy/object_array.npz.json"))) as? [String: Any]
        let arrays = try #require(expected?["arrays"] as? [[String: Any]])
        let globals = try #require(arrays.last?["globals"] as? [String])
        #expect(globals.last == "posix.system")

        let path = Fixture.path("numpy/object_array.npz")
        let report = try ScanReport.scan(path: path)
        #expect(report.kind == "numpy-npz")
        #expect(!report.isClean)
        let pickles = report.files.flatMap(\.pickles)
        #expect(pickles.map(\.place) == ["payload.npy"])
        #expect(pickles.first?.imports.map(\.qualifiedName) == globals)
        #expect(pickles.first?.imports.allSatisfy { !$0.allowed } == true)
        #expect(report.findings.first == .numpyObjectArray(file: path, place: "payload.npy", descr: "|O"))
        #expect(report.findings.first?.message
                == "\(path): payload.npy (descr \"|O\"): an object array, whose pickle numpy.load runs only with allow_pickle=True")
        let system = try #require(pickles.first?.imports.last)
        #expect(report.findings.contains(.globalOutsideAllowlist(file: path, pickle: "payload.npy", offset: system.offset,
                                                                 opcode: system.opcode, global: "posix.system")))

        let single = try ScanReport.scan(path: Fixture.path("numpy/object_array.npy"))
        #expect(single.kind == "numpy-npy" && single.files.flatMap(\.pickles).map(\.place) == ["object array"])
        for name in ["dtypes.npz", "dtypes_compressed.npz", "fortran_f4.npy", "refused/datetime64.npy"] {
            let clean = try ScanReport.scan(path: Fixture.path("numpy/" + name))
            #expect(clean.isClean && clean.files.flatMap(\.pickles).isEmpty, "\(name)")
            #expect(clean.kind == (name.hasSuffix(".npz") ? "numpy-npz" : "numpy-npy"))
        }
    }
}
