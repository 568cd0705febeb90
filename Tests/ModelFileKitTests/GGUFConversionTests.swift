import Foundation
import ModelFileKit
import ModelFormats
import TensorData
import Testing
import TestSupport

@Suite("convert with GGUF")
struct GGUFConversionTests {
    func convert(_ input: String, _ output: String, dtype: DType? = nil, quantization: GGMLType? = nil, to format: OutputFormat? = nil) throws -> ConversionResult {
        var options = ConversionOptions()
        options.dtype = dtype
        options.quantization = quantization
        options.outputFormat = format
        return try Conversion.convert(input: input, output: output, options: options)
    }

    @Test("GGUF to safetensors dequantizes to float32 by default, with the metadata as JSON text")
    func toSafetensors() throws {
        let folder = try Fixture.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let output = folder.appendingPathComponent("out.safetensors").path
        let input = Fixture.path("gguf/tiny_llama.gguf")
        let result = try convert(input, output)
        #expect(result.tensorCount == 5)
        let written = try SafetensorsFile(path: output)
        #expect(written.entries.map(\.dtype) == [.f32, .f32, .f32, .f32, .f32], "F16 widened too")
        let metadata = try #require(written.metadata)
        #expect(metadata["general.name"] == "\"tiny-llama\"")
        #expect(metadata["llama.block_count"] == "1")
        #expect(metadata["format"] == "pt")
        #expect(metadata["tokenizer.ggml.tokens"]?.hasPrefix("[\"<unk>\",\"<s>\",\"</s>\",\"<0x00>\"") == true)
        // Values equal gguf-py's dequantization (the fixture's hashes).
        let expected = try ExpectedGGUF.load("tiny_llama.gguf")
        for want in expected.tensors {
            let index = try #require(written.index(of: want.name))
            #expect(sha256Hex(try written.tensor(at: index).bytes.array) == want.dequantized?.sha256, "\(want.name)")
        }
    }

    @Test("--dtype bf16 from GGUF rounds the dequantized values")
    func toSafetensorsBF16() throws {
        let folder = try Fixture.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let output = folder.appendingPathComponent("out.safetensors").path
        _ = try convert(Fixture.path("gguf/tiny_llama.gguf"), output, dtype: .bf16)
        let source = try GGUFFile(path: Fixture.path("gguf/tiny_llama.gguf"))
        let written = try SafetensorsFile(path: output)
        #expect(written.entries.allSatisfy { $0.dtype == .bf16 })
        let values = try source.tensor(at: try #require(source.index(of: "blk.0.attn_q.weight"))).bytes.values(as: Float.self)
        let bits = try written.tensor(at: try #require(written.index(of: "blk.0.attn_q.weight"))).bytes.values(as: UInt16.self)
        #expect(bits.count == 1024)
        #expect(bits == values.map(HalfPrecision.bfloat16Bits(from:)), "the Q8_0 weight's values, rounded once")
    }

    @Test("GGUF to GGUF without --dtype copies every block and key; the bytes are gguf-py's", arguments: ["types.gguf", "metadata.gguf", "tiny_llama.gguf"])
    func copy(name: String) throws {
        let folder = try Fixture.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let output = folder.appendingPathComponent("copy.gguf").path
        _ = try convert(Fixture.path("gguf/" + name), output)
        #expect(try Data(contentsOf: URL(fileURLWithPath: output)) == Data(contentsOf: Fixture.url("gguf/" + name)))
    }

    @Test("a version 2 file comes out as version 3 with everything else kept")
    func upgrade() throws {
        let folder = try Fixture.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let output = folder.appendingPathComponent("v3.gguf").path
        _ = try convert(Fixture.path("gguf/tiny_llama_v2.gguf"), output)
        #expect(try Data(contentsOf: URL(fileURLWithPath: output)) == Data(contentsOf: Fixture.url("gguf/tiny_llama.gguf")))
    }

    @Test("--dtype q8_0 quantizes 2-D tensors with whole blocks, keeps the rest, and sets general.file_type")
    func requantize() throws {
        let folder = try Fixture.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let output = folder.appendingPathComponent("q8.gguf").path
        _ = try convert(Fixture.path("gguf/tiny_llama.gguf"), output, quantization: .q8_0)
        let source = try GGUFFile(path: Fixture.path("gguf/tiny_llama.gguf"))
        let written = try GGUFFile(path: output)
        #expect(written.header.tensors.map(\.type) == [.q8_0, .f32, .q8_0, .q8_0, .f32])
        #expect(try written.storedBytes(ofTensorAt: 2) == source.storedBytes(ofTensorAt: 2), "Q8_0 blocks are copied, not requantized")
        // The F16 embedding: its float32 values quantized as gguf.quants.quantize does.
        let embedding = try source.tensor(at: 0)
        #expect(embedding.dtype == .f16)
        let values = embedding.bytes.withUnsafeBytes { ElementCodec.decode($0, dtype: .f16) }
        var expected = [UInt8](repeating: 0, count: 100 * 34)
        values.withUnsafeBufferPointer { input in expected.withUnsafeMutableBytes { GGUFQuantizer.quantizeQ8_0(input, into: $0) } }
        #expect(try written.storedBytes(ofTensorAt: 0).array == expected)
        #expect(written.header.value(forKey: "general.file_type") == .uint32(7))
        #expect(written.header.metadata.map(\.key) == source.header.metadata.map(\.key))
        for entry in source.header.metadata where entry.key != "general.file_type" {
            #expect(written.header.value(forKey: entry.key) == entry.value, "\(entry.key)")
        }
        // Tensors laid out one after another, as llama.cpp requires.
        #expect(written.header.llamaCppIncompatibilities.isEmpty)
    }

    @Test("--dtype f16 writes 2-D float tensors as F16 and 1-D ones as F32, keeping the alignment")
    func toF16() throws {
        let folder = try Fixture.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let output = folder.appendingPathComponent("f16.gguf").path
        _ = try convert(Fixture.path("gguf/metadata.gguf"), output, dtype: .f16)
        let written = try GGUFFile(path: output)
        #expect(written.header.tensors.map(\.type) == [.f32, .f16])
        #expect(written.header.alignment == 64)
    }

    @Test("safetensors to GGUF: names, shapes and values kept, general keys and metadata as strings")
    func fromSafetensors() throws {
        let folder = try Fixture.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let output = folder.appendingPathComponent("mlp.gguf").path
        let input = Fixture.path("safetensors/mlp.safetensors")
        _ = try convert(input, output)
        let written = try GGUFFile(path: output)
        let source = try SafetensorsFile(path: input)
        #expect(written.entries == source.entries)
        #expect(try written.stateDict() == source.stateDict())
        #expect(written.header.metadata.map(\.key) == ["general.architecture", "general.name", "format"])
        #expect(written.header.value(forKey: "general.architecture") == .string("unknown"))
        #expect(written.header.value(forKey: "general.name") == .string("mlp"))
        #expect(written.header.value(forKey: "format") == .string("pt"))
    }

    @Test("safetensors to GGUF with --dtype q8_0 and bf16")
    func fromSafetensorsCast() throws {
        let folder = try Fixture.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let q8 = folder.appendingPathComponent("q8.gguf").path
        _ = try convert(Fixture.path("safetensors/mlp.safetensors"), q8, quantization: .q8_0)
        // No weight has rows of 32: all stay float32.
        #expect(try GGUFFile(path: q8).header.tensors.allSatisfy { $0.type == .f32 })
        let bf16 = folder.appendingPathComponent("bf16.gguf").path
        _ = try convert(Fixture.path("safetensors/mlp.safetensors"), bf16, dtype: .bf16)
        let written = try GGUFFile(path: bf16)
        #expect(written.header.tensors.map { "\($0.name):\($0.type.name)" }.sorted().first == "linear1.bias:F32")
        #expect(written.header.tensors.filter { $0.shape.rank == 2 }.allSatisfy { $0.type == .bf16 })
    }

    @Test("dtypes GGUF cannot store are refused by tensor name, and --dtype q8_0 needs a GGUF output")
    func refusals() throws {
        let folder = try Fixture.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let output = folder.appendingPathComponent("dtypes.gguf").path
        do {
            _ = try convert(Fixture.path("safetensors/dtypes.safetensors"), output)
            Issue.record("dtypes.safetensors holds U8 and BOOL, which GGUF cannot store")
        } catch let error as ModelFileError {
            #expect(String(describing: error).contains("has no GGUF tensor type"))
        }
        #expect(!FileManager.default.fileExists(atPath: output))
        #expect(throws: ModelFileError.self) {
            try convert(Fixture.path("gguf/tiny_llama.gguf"), folder.appendingPathComponent("x.safetensors").path, quantization: .q8_0)
        }
    }

    @Test("Q8_1 and Q1_0 tensors are copied to GGUF but cannot be dequantized")
    func undequantizable() throws {
        let folder = try Fixture.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        do {
            _ = try convert(Fixture.path("gguf/types.gguf"), folder.appendingPathComponent("x.safetensors").path)
            Issue.record("Q8_1 was dequantized")
        } catch let error as ModelFileError {
            // The error names the input, and the first of the two types the writer reached.
            let message = String(describing: error)
            #expect(message.hasPrefix(Fixture.path("gguf/types.gguf") + ": tensor \"type.Q"))
            #expect(message.contains("blocks are listed and copied, but modelfile does not turn them into values"))
        }
    }

    @Test("inspect: typed metadata, long arrays summarised, ggml types, offsets and stored sizes")
    func inspect() throws {
        let inspection = try Inspection.inspect(path: Fixture.path("gguf/tiny_llama.gguf"))
        let json = inspection.json
        #expect(json["format"] == "gguf")
        #expect(json["version"] == 3)
        #expect(json["alignment"] == 32)
        let metadata = try #require(json["metadata"])
        #expect(metadata["general.name"] == .object([("type", "STRING"), ("value", "tiny-llama")]))
        #expect(metadata["llama.attention.layer_norm_rms_epsilon"] == .object([("type", "FLOAT32"), ("value", .double(Double(Float(1e-5))))]))
        let tokens = try #require(metadata["tokenizer.ggml.tokens"])
        #expect(tokens == .object([("type", "ARRAY"), ("item_type", "STRING"), ("length", 100),
                                   ("first", ["<unk>", "<s>", "</s>", "<0x00>", "<0x01>", "<0x02>", "<0x03>", "<0x04>"])]))
        guard case .array(let full)? = inspection.json(full: true)["metadata"]?["tokenizer.ggml.tokens"]?["value"] else {
            Issue.record("--full gives the whole array"); return
        }
        #expect(full.count == 100)
        guard case .array(let tensors)? = json["tensors"] else { Issue.record("no tensors"); return }
        let expected = try ExpectedGGUF.load("tiny_llama.gguf")
        for (tensor, want) in zip(tensors, expected.tensors) {
            #expect(tensor["ggml_type"] == .string(want.ggml_type))
            #expect(tensor["offset"] == .int(want.offset))
            #expect(tensor["nbytes"] == .int(want.nbytes))
            #expect(tensor["numel"] == .int(want.numel))
            #expect(tensor["shape"] == .array(want.shape.map { .int($0) }))
        }
        #expect(json["totals"]?["parameters"] == .int(expected.tensors.reduce(0) { $0 + $1.numel }))
        #expect(json["totals"]?["by_ggml_type"]?["Q8_0"] == .object([("tensors", 1), ("nbytes", 1088)]))
        let metadataJSON = try Inspection.inspect(path: Fixture.path("gguf/metadata.gguf")).json["metadata"]
        #expect(metadataJSON?["u64.max"]?["value"] == .uint64(.max))
        #expect(metadataJSON?["f32.nan"]?["value"] == "nan")
        #expect(metadataJSON?["array.long_i32"]?["length"] == 65)
    }

    @Test("verify names every tensor a truncated download lost; scan says GGUF has no code and flags template injection")
    func verifyAndScan() throws {
        let folder = try Fixture.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let truncated = folder.appendingPathComponent("cut.gguf")
        let bytes = try Fixture.bytes("gguf/tiny_llama.gguf")
        try Data(bytes.prefix(bytes.count - 700)).write(to: truncated)
        let report = try Verification.verify(path: truncated.path)
        #expect(report.format == .gguf)
        #expect(report.findings.count == 2)
        #expect(report.findings.first?.message.hasPrefix("tensor \"blk.0.ffn_down.weight\": 576 bytes at byte") == true)
        #expect(report.findings.map(\.code) == ["unreadable_tensor", "unreadable_tensor"] && report.findings.first?.tensor == "blk.0.ffn_down.weight")
        #expect(report.findings.last?.message.hasPrefix("tensor \"output_norm.weight\": 128 bytes at byte") == true)
        #expect(try Verification.verify(path: Fixture.path("gguf/tiny_llama.gguf")).isClean)
        let scan = try ScanReport.scan(path: Fixture.path("gguf/tiny_llama.gguf"))
        #expect(scan.isClean && scan.kind == "gguf" && scan.files.first?.pickles.isEmpty == true)
        let injectedPath = Fixture.path("gguf/chat_template_injection.gguf")
        let injected = try ScanReport.scan(path: injectedPath)
        #expect(injected.findings.count == 1)
        guard case .chatTemplateInjection(let file, let key, _, let markers)? = injected.findings.first else {
            Issue.record("no chat template finding"); return
        }
        #expect(file == injectedPath && key == "tokenizer.chat_template")
        #expect(markers.prefix(3) == ["__globals__", "__init__", "popen"])
        #expect(injected.findings.first?.message.contains("the chat template uses __globals__, __init__, popen") == true)
        // What llama.cpp would refuse but gguf-py reads is a warning, not a finding.
        let nested = try Verification.verify(path: Fixture.path("gguf/metadata.gguf"))
        #expect(nested.isClean)
        #expect(nested.warnings.contains(.ggufNestedArrayForLlamaCpp(key: "array.nested")))
    }

    @Test("diff compares GGUF with its safetensors conversion value by value")
    func diff() throws {
        let folder = try Fixture.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let output = folder.appendingPathComponent("out.safetensors").path
        _ = try convert(Fixture.path("gguf/tiny_llama.gguf"), output)
        let report = try DiffReport.diff(Fixture.path("gguf/tiny_llama.gguf"), output)
        #expect(report.common.count == 5)
        #expect(!report.isEqual, "F16 against its float32 widening is a dtype change")
        #expect(report.common.allSatisfy { $0.maxAbsoluteDifference == 0 })
    }
}
