import Foundation
import ModelFileKit
import ModelFormats
import TensorData
import Testing
import TestSupport

/// Tensors of a safetensors file as float32 values and raw tensors, by name.
private func tensors(_ path: String) throws -> [String: RawTensor] {
    let file = try SafetensorsFile(path: path)
    var result: [String: RawTensor] = [:]
    for (index, entry) in file.entries.enumerated() { result[entry.name] = try file.tensor(at: index) }
    return result
}

private func values(_ tensor: RawTensor) -> [Float] {
    tensor.bytes.withUnsafeBytes { ElementCodec.decode($0, dtype: tensor.dtype) }
}

/// The distance in units in the last place between two 16-bit floats of the same sign.
private func ulps(_ a: RawTensor, _ b: RawTensor) -> Int {
    let x = a.bytes.values(as: UInt16.self), y = b.bytes.values(as: UInt16.self)
    func ordered(_ bits: UInt16) -> Int { bits & 0x8000 != 0 ? -Int(bits & 0x7FFF) : Int(bits) }
    return zip(x, y).map { abs(ordered($0) - ordered($1)) }.max() ?? 0
}

/// Merges `Fixtures/lora/<name>` (its base and adapter) into a temporary file.
private func merge(_ name: String, adapter: String = "adapter", options: LoRAMergeOptions = LoRAMergeOptions(),
                   output: String = "merged.safetensors") throws -> (result: LoRAMergeResult, path: String) {
    let folder = try Fixture.temporaryFolder()
    let path = folder.appendingPathComponent(output).path
    let result = try LoRAMerge.merge(base: Fixture.path("lora/\(name)/base.safetensors"), adapter: Fixture.path("lora/\(name)/\(adapter)"),
                                     output: path, options: options)
    return (result, path)
}

/// Every tensor of `actual` is within `relative` of `expected` (and untouched base tensors are bit for bit the base's).
private func expectClose(_ actual: String, _ expected: String, base: String, relative: Float = 1e-6,
                         sourceLocation: SourceLocation = #_sourceLocation) throws {
    let ours = try tensors(actual), theirs = try tensors(expected), original = try tensors(base)
    #expect(Set(ours.keys) == Set(theirs.keys), sourceLocation: sourceLocation)
    for (name, expectedTensor) in theirs {
        let tensor = try #require(ours[name], sourceLocation: sourceLocation)
        #expect(tensor.dtype == expectedTensor.dtype && tensor.shape == expectedTensor.shape, "\(name)", sourceLocation: sourceLocation)
        if let before = original[name], before.bytes == expectedTensor.bytes {
            #expect(tensor.bytes == before.bytes, "\(name) is untouched: copied bit for bit", sourceLocation: sourceLocation)
            continue
        }
        for (index, (a, b)) in zip(values(tensor), values(expectedTensor)).enumerated() where abs(a - b) > relative * abs(b) {
            Issue.record("\(name)[\(index)]: \(a) vs \(b)", sourceLocation: sourceLocation)
            break
        }
    }
}

@Suite("lora merge against PEFT's merge_and_unload")
struct LoRAMergeTests {
    @Test("float32 merges equal merge_and_unload within 1e-6 relative; untouched tensors bit for bit",
          arguments: ["plain", "rslora", "patterns", "modules_to_save", "lora_bias", "bias_all", "bias_lora_only", "bin",
                      "gpt2_conv1d", "conv", "embedding"])
    func float32(name: String) throws {
        let (result, path) = try merge(name)
        #expect(result.adapterKind == .peft)
        try expectClose(path, Fixture.path("lora/\(name)/merged.safetensors"), base: Fixture.path("lora/\(name)/base.safetensors"))
    }

    @Test("the counts of merged and replaced tensors")
    func counts() throws {
        #expect(try merge("plain").result.mergedTensorCount == 3)
        let saved = try merge("modules_to_save").result
        #expect(saved.mergedTensorCount == 2 && saved.replacedTensorCount == 2, "linear4.weight and linear4.bias replaced")
        let biased = try merge("lora_bias").result
        #expect(biased.mergedTensorCount == 3 && biased.replacedTensorCount == 3, "three LoRA biases added")
    }

    @Test("float16 and bfloat16 bases: the sum in float32 rounded once, within one ulp of it and of PEFT", arguments: ["f16", "bf16"])
    func halfPrecision(name: String) throws {
        let (_, path) = try merge(name)
        let ours = try tensors(path)
        let accumulated = try tensors(Fixture.path("lora/\(name)/merged_f32acc.safetensors"))
        let peft = try tensors(Fixture.path("lora/\(name)/merged.safetensors"))
        for (tensorName, expected) in accumulated {
            let tensor = try #require(ours[tensorName])
            #expect(tensor.dtype == expected.dtype)
            #expect(ulps(tensor, expected) <= 1, "\(tensorName) vs base + delta in float32")
            #expect(ulps(tensor, try #require(peft[tensorName])) <= 1, "\(tensorName) vs merge_and_unload")
        }
    }

    @Test("--scale multiplies the delta (PEFT and kohya)")
    func scale() throws {
        var options = LoRAMergeOptions()
        options.scale = 0.5
        let plain = try merge("plain", options: options)
        try expectClose(plain.path, Fixture.path("lora/plain/merged_scale_0.5.safetensors"), base: Fixture.path("lora/plain/base.safetensors"))
        let kohya = try merge("kohya", adapter: "adapter.safetensors", options: options)
        try expectClose(kohya.path, Fixture.path("lora/kohya/merged_scale_0.5.safetensors"), base: Fixture.path("lora/kohya/base.safetensors"))
    }

    @Test("a kohya file: lora_down/lora_up/alpha, names resolved against the base, its formula's result")
    func kohya() throws {
        let (result, path) = try merge("kohya", adapter: "adapter.safetensors")
        #expect(result.adapterKind == .kohya && result.mergedTensorCount == 5)
        try expectClose(path, Fixture.path("lora/kohya/merged.safetensors"), base: Fixture.path("lora/kohya/base.safetensors"))
    }

    @Test("--dtype rounds merged tensors once to the new dtype")
    func dtype() throws {
        var options = LoRAMergeOptions()
        options.dtype = .bf16
        let (_, path) = try merge("plain", options: options)
        let ours = try tensors(path)
        for (name, expected) in try tensors(Fixture.path("lora/plain/merged.safetensors")) {
            let tensor = try #require(ours[name])
            #expect(tensor.dtype == .bf16)
            let rounded = values(expected).map { HalfPrecision.bfloat16Bits(from: $0) }
            #expect(tensor.bytes.values(as: UInt16.self) == rounded, "\(name): PEFT's float32 result rounded once")
        }
    }

    @Test("sharded output: a folder of shards plus an index, like convert")
    func sharded() throws {
        var options = LoRAMergeOptions()
        options.maxShardBytes = 100
        let (result, path) = try merge("plain", options: options, output: "shards")
        #expect(result.conversion.outputs.count > 2)
        #expect(FileManager.default.fileExists(atPath: path + "/model.safetensors.index.json"))
        let merged = try ModelFile.open(path)
        #expect(merged.format == .directory)
        let reference = try tensors(Fixture.path("lora/plain/merged.safetensors"))
        for (index, entry) in merged.entries.enumerated() {
            #expect(values(try merged.tensor(at: index)) == values(try #require(reference[entry.name])), "\(entry.name)")
        }
    }

    @Test("refusals name the entry or the adapter kind, and nothing is written",
          arguments: [
            ("dora", "adapter", "DoRA adapters (use_dora in the config) are not supported; modelfile merges plain LoRA"),
            ("loha", "adapter", "a PEFT LoHa adapter (peft_type \"LOHA\"); modelfile reads and merges LoRA adapters only"),
            ("wrong_shape", "adapter", "adapter entry \"base_model.model.linear1.lora_A.weight\" [2, 8] does not fit \"linear1.weight\" [6, 8] "
                + "(with \"base_model.model.linear1.lora_B.weight\" [7, 2] its delta is [7, 8])"),
            ("missing_target", "adapter", "adapter entry \"base_model.model.head.lora_A.weight\" applies to \"head.weight\", which the base does not have"),
            ("kohya_ambiguous", "adapter.safetensors", "kohya entry \"lora_unet_a_b_c\" is ambiguous: it fits \"a.b_c\" and \"a_b.c\""),
          ])
    func refusals(name: String, adapter: String, message: String) throws {
        let folder = try Fixture.temporaryFolder()
        let output = folder.appendingPathComponent("merged.safetensors").path
        let adapterPath = Fixture.path("lora/\(name)/\(adapter)")
        let error = try #require(throws: ModelFileError.self) {
            try LoRAMerge.merge(base: Fixture.path("lora/\(name)/base.safetensors"), adapter: adapterPath, output: output, options: LoRAMergeOptions())
        }
        #expect(error.description.hasSuffix(message), "\(error.description)")
        #expect(error.description.hasPrefix(adapterPath))
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path).isEmpty, "nothing written")
    }

    @Test("a model file is not an adapter")
    func notAnAdapter() throws {
        let folder = try Fixture.temporaryFolder()
        let base = Fixture.path("lora/plain/base.safetensors")
        let error = try #require(throws: ModelFileError.self) {
            try LoRAMerge.merge(base: base, adapter: base, output: folder.appendingPathComponent("m.safetensors").path, options: LoRAMergeOptions())
        }
        #expect(error.description == "\(base): not a LoRA adapter (safetensors); expected a PEFT adapter folder or a kohya-style safetensors file")
    }
}

@Suite("LoRA adapters in inspect")
struct AdapterInspectionTests {
    @Test("a PEFT folder, its adapter_model file and a .bin adapter are peft-lora; a kohya file is kohya-lora")
    func formats() throws {
        #expect(try Inspection.inspect(path: Fixture.path("lora/plain/adapter")).format == .peftLoRA)
        #expect(try Inspection.inspect(path: Fixture.path("lora/plain/adapter/adapter_model.safetensors")).format == .peftLoRA)
        let bin = try Inspection.inspect(path: Fixture.path("lora/bin/adapter/adapter_model.bin"))
        #expect(bin.format == .peftLoRA && bin.torch != nil, "the .bin keeps its pickle details")
        #expect(try Inspection.inspect(path: Fixture.path("lora/kohya/adapter.safetensors")).format == .kohyaLoRA)
        #expect(try Inspection.inspect(path: Fixture.path("lora/plain/base.safetensors")).adapter == nil)
    }

    @Test("rank_pattern and alpha_pattern: per_target lists every target that differs")
    func patterns() throws {
        let summary = try #require(try Inspection.inspect(path: Fixture.path("lora/patterns/adapter")).adapter)
        #expect(summary.json.rendered(pretty: false) == """
            {"kind":"peft-lora","rank":2,"alpha":4,"use_rslora":false,"targets":["blocks.0.gate","blocks.0.proj","blocks.1.gate","blocks.1.proj","head"],\
            "per_target":{"blocks.0.gate":{"rank":3,"alpha":6},"blocks.0.proj":{"rank":2,"alpha":6},"blocks.1.gate":{"rank":3,"alpha":4},\
            "blocks.1.proj":{"rank":4,"alpha":4},"head":{"rank":2,"alpha":2}}}
            """)
    }

    @Test("rsLoRA and kohya summaries")
    func others() throws {
        let rs = try #require(try Inspection.inspect(path: Fixture.path("lora/rslora/adapter")).adapter)
        #expect(rs.rank == 4 && rs.alpha == 8 && rs.usesRSLoRA && rs.perTarget.isEmpty && rs.targets == ["linear1", "linear2", "linear3"])
        let kohya = try #require(try Inspection.inspect(path: Fixture.path("lora/kohya/adapter.safetensors")).adapter)
        #expect(kohya.kind == .kohya && kohya.rank == 2 && kohya.alpha == 1)
        #expect(kohya.perTarget.map(\.target) == ["lora_te1_text_model_encoder_layers_0_self_attn_q_proj", "lora_unet_down_blocks_0_proj_in",
                                                  "my_lora_time_embedding_linear_1"])
    }
}

@Suite("train --lora and predict --adapter")
struct LoRATrainingTests {
    static func configuration(out: String) -> TrainingConfiguration {
        var c = TrainingConfiguration()
        c.dataPath = Fixture.path("lora/training/data.csv")
        c.initPath = Fixture.path("lora/training/base.safetensors")
        c.learningRate = 0.05
        c.batchSize = 16
        c.epochs = 2
        c.shuffle = false
        c.outputPath = out
        var lora = LoRATrainingOptions(rank: 2)
        lora.alpha = 4
        lora.targets = ["linear1", "linear2", "linear3"]
        lora.adapterInitPath = Fixture.path("lora/training/start")
        c.lora = lora
        return c
    }

    @Test("2 epochs of SGD without shuffling end where PEFT + torch end, within 1e-4 relative")
    func parity() throws {
        let folder = try Fixture.temporaryFolder().appendingPathComponent("adapter").path
        let result = try Training.run(LoRATrainingTests.configuration(out: folder))
        let expected = try #require(try Fixture.json("lora/training/expected.json") as? [String: Any])
        let losses = try #require(expected["epoch_losses"] as? [Double])
        for (ours, theirs) in zip(result.epochs.map(\.loss), losses) { #expect(abs(ours - theirs) <= 1e-4 * abs(theirs)) }
        let trained = try tensors(Fixture.path("lora/training/trained/adapter_model.safetensors"))
        let ours = try tensors(folder + "/adapter_model.safetensors")
        #expect(Set(ours.keys) == Set(trained.keys))
        for (name, tensor) in trained {
            for (a, b) in zip(values(try #require(ours[name])), values(tensor)) { #expect(abs(a - b) <= 1e-4 * abs(b), "\(name)") }
        }
        let config = try #require(try ModelFile.open(folder) as? LoRAAdapterSource).config
        #expect(config?.rank == 2 && config?.alpha == 4 && config?.targetModules == .names(["linear1", "linear2", "linear3"]))
    }

    @Test("the same seed and options give the same adapter, bit for bit, from PEFT's initialisation")
    func reproducible() throws {
        var runs: [[String: RawTensor]] = []
        for _ in 0..<2 {
            let folder = try Fixture.temporaryFolder().appendingPathComponent("adapter").path
            var c = LoRATrainingTests.configuration(out: folder)
            c.lora?.adapterInitPath = nil
            c.seed = 7
            _ = try Training.run(c)
            runs.append(try tensors(folder + "/adapter_model.safetensors"))
        }
        #expect(runs[0].mapValues(\.bytes) == runs[1].mapValues(\.bytes))
        #expect(runs[0].count == 6)
    }

    @Test("predict --adapter equals predict on the merged network; --merge writes that network")
    func predictWithAdapter() throws {
        let folder = try Fixture.temporaryFolder()
        let adapter = folder.appendingPathComponent("adapter").path
        _ = try Training.run(LoRATrainingTests.configuration(out: adapter))
        var merged = LoRATrainingTests.configuration(out: folder.appendingPathComponent("merged.safetensors").path)
        merged.lora?.merge = true
        _ = try Training.run(merged)
        let data = Fixture.path("lora/training/data.csv")
        let withAdapter = try PredictionReport.predict(modelPath: Fixture.path("lora/training/base.safetensors"), dataPath: data, adapterPath: adapter)
        let fromMerge = try PredictionReport.predict(modelPath: merged.outputPath ?? "", dataPath: data)
        #expect(withAdapter.predictions.count == 96)
        for (a, b) in zip(withAdapter.predictions.joined(), fromMerge.predictions.joined()) { #expect(abs(a - b) <= 1e-6) }
        let base = try PredictionReport.predict(modelPath: Fixture.path("lora/training/base.safetensors"), dataPath: data)
        #expect(base.predictions != withAdapter.predictions, "the adapter changes the outputs")
    }

    @Test("the adapter folder output and the merged file output are checked before training")
    func outputs() throws {
        var c = LoRATrainingTests.configuration(out: "/tmp/never.safetensors")
        #expect(throws: LoRATrainingError.outputKind("--out /tmp/never.safetensors names a file; --lora writes a PEFT adapter folder (add --merge to write the merged network)")) {
            try Training.run(c)
        }
        c.initPath = nil
        #expect(throws: LoRATrainingError.needsBase) { try Training.run(c) }
    }
}
