import Foundation
import ModelFileKit
import ModelFormats
import TensorData
import Testing
import TestSupport

@Suite("convert")
struct ConversionTests {
    @Test("--dtype bf16 and f16 give the bytes torch's .to() + save_file give", arguments: [("bf16", DType.bf16), ("f16", DType.f16)])
    func castMatchesTorch(name: String, dtype: DType) throws {
        let folder = try Fixture.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let output = folder.appendingPathComponent("out.safetensors").path
        var options = ConversionOptions()
        options.dtype = dtype
        let result = try Conversion.convert(input: Fixture.path("safetensors/mlp.safetensors"), output: output, options: options)
        #expect(result.tensorCount == 8)
        #expect([UInt8](try Data(contentsOf: URL(fileURLWithPath: output))) == (try Fixture.bytes("safetensors/mlp_\(name).safetensors")))
    }

    @Test("a plain conversion is bit-identical, and reports progress up to the total")
    func identity() throws {
        let folder = try Fixture.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let output = folder.appendingPathComponent("same.safetensors").path
        var options = ConversionOptions()
        var last = (0, 0)
        options.progress = { last = ($0, $1) }
        _ = try Conversion.convert(input: Fixture.path("safetensors/dtypes.safetensors"), output: output, options: options)
        #expect([UInt8](try Data(contentsOf: URL(fileURLWithPath: output))) == (try Fixture.bytes("safetensors/dtypes.safetensors")))
        #expect(last.0 == last.1 && last.1 > 0)
    }

    @Test("--dtype leaves integer, bool and 8-bit float tensors alone, and says so")
    func castScope() throws {
        let folder = try Fixture.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let output = folder.appendingPathComponent("cast.safetensors").path
        var options = ConversionOptions()
        options.dtype = .bf16
        let result = try Conversion.convert(input: Fixture.path("safetensors/dtypes.safetensors"), output: output, options: options)
        let source = try SafetensorsFile(path: Fixture.path("safetensors/dtypes.safetensors"))
        let converted = try SafetensorsFile(path: output)
        for entry in source.entries {
            let after = try #require(converted.entries.first { $0.name == entry.name })
            #expect(after.dtype == (entry.dtype.isCastableFloat ? .bf16 : entry.dtype), "\(entry.name)")
            #expect(after.shape == entry.shape)
        }
        #expect(result.warnings.count == 1 && result.warnings[0].code == .castLeavesTensorsUnchanged)
    }

    @Test("sharding, merging and renaming")
    func shardMergeRename() throws {
        let folder = try Fixture.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        var options = ConversionOptions()
        options.maxShardBytes = 2100
        let shards = folder.appendingPathComponent("shards").path
        let result = try Conversion.convert(input: Fixture.path("safetensors/single_shard/model.safetensors"), output: shards, options: options)
        #expect(result.outputs.count == 4, "three shards and an index: \(result.outputs)")
        let merged = folder.appendingPathComponent("merged.safetensors").path
        options = ConversionOptions()
        options.stripPrefix = "layers."
        _ = try Conversion.convert(input: shards, output: merged, options: options)
        let file = try SafetensorsFile(path: merged)
        #expect(Set(file.entries.map(\.name)) == ["0.weight", "1.weight", "2.weight", "3.weight", "head.bias"])
        let original = try SafetensorsFile(path: Fixture.path("safetensors/single_shard/model.safetensors"))
        for (index, entry) in original.entries.enumerated() {
            let renamed = entry.name.hasPrefix("layers.") ? String(entry.name.dropFirst(7)) : entry.name
            #expect(try file.tensor(at: file.index(of: renamed)!) == original.tensor(at: index))
        }
        options.select = "layers"
        options.stripPrefix = nil
        let selected = folder.appendingPathComponent("selected.safetensors").path
        _ = try Conversion.convert(input: shards, output: selected, options: options)
        #expect(Set(try SafetensorsFile(path: selected).entries.map(\.name)) == ["0.weight", "1.weight", "2.weight", "3.weight"])
        #expect(throws: ModelFileError.self) {
            try Conversion.convert(input: merged, output: folder.appendingPathComponent("none.safetensors").path, options: options)
        }
    }

    @Test("a failed conversion leaves nothing behind and an existing output untouched")
    func failureLeavesNothing() throws {
        let folder = try Fixture.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let output = folder.appendingPathComponent("x.safetensors").path
        #expect(throws: ModelFileError.self) {
            try Conversion.convert(input: Fixture.path("safetensors/bad_gap.safetensors"), output: output, options: ConversionOptions())
        }
        #expect((try FileManager.default.contentsOfDirectory(atPath: folder.path)).isEmpty)
        try "old".write(toFile: output, atomically: false, encoding: .utf8)
        #expect(throws: ModelFileError.self) {
            try Conversion.convert(input: Fixture.path("safetensors/mlp.safetensors"), output: output, options: ConversionOptions())
        }
        #expect(try String(contentsOfFile: output, encoding: .utf8) == "old")
    }
}

@Suite("inspect and verify")
struct InspectionTests {
    @Test("inspect --json follows modelfile.inspect/1")
    func inspectJSON() throws {
        let inspection = try Inspection.inspect(path: Fixture.path("safetensors/mlp.safetensors"))
        let json = inspection.json
        guard case .object(let members) = json else { Issue.record("not an object"); return }
        #expect(members.first?.0 == "schema")
        #expect(json["schema"] == "modelfile.inspect/1")
        #expect(json["format"] == "safetensors")
        #expect(json["metadata"] == .object([("format", "pt")]))
        #expect(json["totals"]?["parameters"] == .int(95))
        #expect(json["totals"]?["tensors"] == .int(8))
        #expect(json["totals"]?["by_dtype"]?["F32"]?["nbytes"] == .int(380))
        guard case .array(let tensors)? = json["tensors"] else { Issue.record("no tensors"); return }
        #expect(tensors.first?["name"] == "linear1.bias")
        #expect(tensors.first?["shape"] == [6])
        #expect(tensors.first?["nbytes"] == .int(24))
    }

    @Test("--filter lists and counts only matching tensors")
    func filter() throws {
        let inspection = try Inspection.inspect(path: Fixture.path("safetensors/mlp.safetensors"), filter: "*.weight")
        #expect(inspection.tensors.map(\.name) == ["linear1.weight", "linear2.weight", "linear3.weight", "linear4.weight"])
        #expect(inspection.parameterCount == 48 + 24 + 8 + 2)
    }

    @Test("verify counts non-finite values and explains broken files")
    func verify() throws {
        let folder = try Fixture.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("nan.safetensors").path
        let values: [Float] = [1, .nan, .infinity, 2]
        try SafetensorsWriter.write(try StateDict([("w", try RawTensor(dtype: .f32, shape: [4], bytes: TensorBytes(copyingValuesOf: values)))]),
                                    to: path, metadata: nil, overwrite: false)
        let report = try Verification.verify(path: path)
        #expect(report.tensors.first?.nonFinite == 2)
        #expect(report.findings.map(\.message) == ["tensor \"w\": 2 of 4 values are NaN or infinite"])
        #expect(report.findings.map(\.code) == ["non_finite_values"] && report.findings.first?.tensor == "w")
        let clean = try Verification.verify(path: Fixture.path("safetensors/mlp.safetensors"))
        #expect(clean.isClean && clean.tensors.count == 8)
        let broken = try Verification.verify(path: Fixture.path("safetensors/bad_truncated_data.safetensors"))
        #expect(broken.findings.count == 1 && broken.findings[0].message.contains("truncated") && broken.findings[0].message.contains("3 are missing"))
        #expect(broken.findings.map(\.code) == ["unreadable"])
        #expect(throws: ModelFileError.self) { try Verification.verify(path: folder.appendingPathComponent("missing").path) }
    }
}
