import Foundation
import ModelFileKit
import ModelFormats
import TensorData
import Testing
import TestSupport

@Suite("checkpoint workflows")
struct CheckpointWorkflowTests {
    @Test("ckpt-to-safetensors extracts state_dict bit for bit, with the module prefix strippable")
    func extractWeights() throws {
        let folder = try Fixture.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let expected = try ExpectedFile.load("lightning/adamw_amsgrad.ckpt")
        let output = folder.appendingPathComponent("weights.safetensors").path
        let result = try Conversion.convert(input: Fixture.path("lightning/adamw_amsgrad.ckpt"), output: output, options: ConversionOptions())
        #expect(result.tensorCount == 8)
        let file = try SafetensorsFile(path: output)
        for want in try #require(expected.tensors) where want.name.hasPrefix("state_dict.") {
            let name = String(want.name.dropFirst("state_dict.".count))
            #expect(sha256Hex(try file.tensor(at: try #require(file.index(of: name))).bytes.array) == want.sha256, "\(name)")
        }
        var options = ConversionOptions()
        options.stripPrefix = "linear"
        let stripped = folder.appendingPathComponent("stripped.safetensors").path
        _ = try Conversion.convert(input: Fixture.path("lightning/adamw_amsgrad.ckpt"), output: stripped, options: options)
        #expect(try SafetensorsFile(path: stripped).entries.map(\.name).contains("1.weight"))
    }

    @Test("strip drops optimizer, scheduler, loop and callback state; the rest still loads and converts")
    func strip() throws {
        let folder = try Fixture.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let output = folder.appendingPathComponent("small.ckpt").path
        let input = Fixture.path("lightning/adamw_amsgrad.ckpt")
        let result = try Strip.strip(input: input, output: output, keep: [], overwrite: false)
        #expect(result.removedKeys == ["loops", "callbacks", "optimizer_states", "lr_schedulers"])
        let small = try TorchFile(path: output)
        guard case .dict(let top) = small.root else { Issue.record("not a dict"); return }
        #expect(top.stringKeys == ["epoch", "global_step", "pytorch-lightning_version", "state_dict", "hparams_name", "hyper_parameters"])
        #expect(small.format == .lightningCheckpoint)
        let original = try TorchFile(path: input)
        // AdamW with amsgrad keeps three moments per weight: the tensors shrink to a quarter.
        let before = original.entries.reduce(0) { $0 + $1.byteCount }, after = small.entries.reduce(0) { $0 + $1.byteCount }
        #expect(after * 4 <= before + 64)
        #expect(try DiffReport.diff(input, output).onlyInB.isEmpty)
        let kept = folder.appendingPathComponent("kept.ckpt").path
        let keep = try Strip.strip(input: input, output: kept, keep: ["optimizer", "loops"], overwrite: false)
        #expect(keep.removedKeys == ["callbacks", "lr_schedulers"])
        #expect(try LightningCheckpoint(root: TorchFile(path: kept).root).optimizers.first?.kind == .adamW)
        #expect(throws: ModelFileError.self) { try Strip.strip(input: Fixture.path("safetensors/mlp.safetensors"), output: folder.appendingPathComponent("x.ckpt").path, keep: [], overwrite: false) }
    }

    @Test("a checkpoint converted to .ckpt keeps its whole tree; weights become a weights-only checkpoint")
    func toCheckpoint() throws {
        let folder = try Fixture.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let full = folder.appendingPathComponent("full.ckpt").path
        _ = try Conversion.convert(input: Fixture.path("lightning/adam_steplr.ckpt"), output: full, options: ConversionOptions())
        #expect(try DiffReport.diff(full, Fixture.path("lightning/adam_steplr.ckpt")).isEqual)
        let original = try TorchFile(path: Fixture.path("lightning/adam_steplr.ckpt"))
        #expect(try TorchFile(path: full).root["loops"] == original.root["loops"])

        let weights = folder.appendingPathComponent("weights.ckpt").path
        _ = try Conversion.convert(input: Fixture.path("safetensors/mlp.safetensors"), output: weights, options: ConversionOptions())
        let file = try TorchFile(path: weights)
        guard case .dict(let top) = file.root else { Issue.record("not a dict"); return }
        #expect(top.stringKeys == ["epoch", "global_step", "pytorch-lightning_version", "state_dict", "loops"])
        #expect(file.format == .lightningCheckpoint)
        #expect(try DiffReport.diff(weights, Fixture.path("safetensors/mlp.safetensors")).onlyInA.count == 8, "names are under state_dict")
        let back = folder.appendingPathComponent("back.safetensors").path
        _ = try Conversion.convert(input: weights, output: back, options: ConversionOptions())
        #expect(try DiffReport.diff(back, Fixture.path("safetensors/mlp.safetensors")).isEqual)
    }

    @Test("inspect summarises a checkpoint")
    func inspect() throws {
        let inspection = try Inspection.inspect(path: Fixture.path("lightning/adam_steplr.ckpt"))
        let summary = try #require(inspection.json["checkpoint"])
        #expect(summary["lightning_version"] == "2.6.6")
        #expect(summary["epoch"] == .int(2))
        #expect(summary["global_step"] == .int(8))
        guard case .array(let optimizers)? = summary["optimizers"] else { Issue.record("no optimizers"); return }
        #expect(optimizers.first?["kind"] == "Adam")
        #expect(optimizers.first?["step"] == .double(8))
        #expect(optimizers.first?["betas"] == .array([.double(0.9), .double(0.999)]))
        guard case .array(let schedulers)? = summary["lr_schedulers"] else { Issue.record("no schedulers"); return }
        #expect(schedulers.first?["kind"] == "StepLR")
        #expect(summary["bytes"]?["weights"] == .int(4 * (48 + 6 + 24 + 4 + 8 + 2 + 2 + 1)))
        let optimizer = try #require(inspection.torch?.checkpoint?.optimizers.first)
        #expect(optimizer.kind == "Adam" && optimizer.number("lr") == 0.0025 && optimizer.number("initial_lr") == 0.01)
    }
}
