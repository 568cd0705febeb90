import Foundation
import ModelFileKit
import ModelFormats
import TensorData
import Testing
import TestSupport

/// `convert`, `strip` and `inspect` on files made by the real libraries (Fixtures/real): what is
/// converted by default and why, what strip keeps, and the parameter totals.
@Suite("Real third-party file workflows")
struct RealFilesWorkflowTests {
    static let names = RealFileExpectation.names
    static let allowing = ReadOptions(allowUnknownObjects: true)

    static func converting(_ name: String, to output: String) throws -> ConversionResult {
        var options = ConversionOptions()
        options.readOptions = allowing
        return try Conversion.convert(input: Fixture.path("real/" + name), output: output, options: options)
    }

    @Test("convert writes exactly the default part, bit for bit, and names it", arguments: names)
    func convertDefault(name: String) throws {
        let folder = try Fixture.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let expected = try RealFileExpectation.load(name)
        let output = folder.appendingPathComponent("out.safetensors").path
        let result = try Self.converting(name, to: output)
        let written = try SafetensorsFile(path: output)
        let want = expected.weights?.tensors ?? expected.tensors
        #expect(written.entries.map(\.name).sorted() == want.map(\.name).sorted())
        for tensor in want {
            let index = try #require(written.index(of: tensor.name), "\(tensor.name)")
            #expect(sha256Hex(try written.tensor(at: index).bytes.array) == tensor.sha256, "\(tensor.name)")
        }
        switch expected.format {
        case "lightning-ckpt": #expect(result.selection == .lightningCheckpoint)
        case "torchscript": #expect(result.selection == .torchScriptModule)
        default:
            if name.hasPrefix("train_") {
                #expect(result.selection == .trainingCheckpoint(path: try #require(expected.weights?.path)))
            } else if name == "inert_containers.pt" {
                #expect(result.selection == .stateDict)
            } else {
                #expect(result.selection == nil)
            }
        }
        #expect(result.leftOutTensorCount == expected.tensors.count - want.count)
    }

    @Test("inspect's parameter total follows the contract: weights only, tied tensors once", arguments: names)
    func parameterTotals(name: String) throws {
        let expected = try RealFileExpectation.load(name)
        let inspection = try Inspection.inspect(path: Fixture.path("real/" + name), options: Self.allowing)
        #expect(inspection.parameterCount == expected.parameters)
        #expect(inspection.json["totals"]?["parameters"] == .int(expected.parameters))
    }

    @Test("inspect shows a Hydra config as its keys and values, in JSON and in the table")
    func inspectHyperParameters() throws {
        let inspection = try Inspection.inspect(path: Fixture.path("real/lightning_omegaconf.ckpt"), options: Self.allowing)
        let checkpoint = try #require(inspection.json["checkpoint"])
        let hyper = try #require(checkpoint["hyper_parameters"])
        #expect(hyper["model"]?["layers"] == .array([.int(1), .int(2)]))
        #expect(hyper["optim"] == .object([("name", "adam"), ("lr", .double(0.001)), ("warmup_steps", 100), ("amsgrad", false)]))
        #expect(hyper["nothing"] == .null && hyper["ref"] == "${lr}")
        #expect(inspection.torch?.checkpoint?.hyperParametersText ==
            "model={_target_: 'torch.nn.Linear', in_features: 2, hidden: 4, layers: [1, 2], act: 'relu'}, "
                + "trainer={max_epochs: 1}, lr=0.1, name='demo', nothing=None, ref='${lr}', "
                + "optim={name: 'adam', lr: 0.001, warmup_steps: 100, amsgrad: False}")
        #expect(inspection.torch?.plainValues.contains { $0.path == "hyper_parameters.model.hidden" && $0.summary == "4" } == true)
        #expect(inspection.format == .lightningCheckpoint)
    }

    @Test("odd progress counters are shown as stored")
    func oddCounters() throws {
        let odd = try Inspection.inspect(path: Fixture.path("real/train_odd_counters.pt"))
        #expect(odd.torch?.checkpoint?.epoch.map { InertDataRendering.text($0) } == "nan")
        #expect(odd.torch?.checkpoint?.globalStep.map { InertDataRendering.text($0) } == "1e+300")
        #expect(odd.json["checkpoint"]?["global_step"] == .double(1e300))
        let huge = try Inspection.inspect(path: Fixture.path("real/train_huge_counters.pt"))
        #expect(huge.torch?.checkpoint?.epoch.map { InertDataRendering.text($0) } == "1180591620717411303424")
        #expect(huge.torch?.checkpoint?.globalStep == .int(-5))
        #expect(huge.json["checkpoint"]?["epoch"] == "1180591620717411303424")
        #expect(huge.json["checkpoint"]?["global_step"] == -5)
    }

    @Test("inspect of a TorchScript archive lists its code, module classes and constants")
    func inspectTorchScript() throws {
        let inspection = try Inspection.inspect(path: Fixture.path("real/torchscript_traced.pt"))
        #expect(inspection.format == .torchScript)
        let section = try #require(inspection.json["torchscript"])
        #expect(section["constants"] == 1)
        let files = try #require(try RealFileExpectation.load("torchscript_traced.pt").torchscript?.code_files)
        #expect(files == ["code/__torch__.py", "code/__torch__/torch/nn/modules/linear/___torch_mangle_1.py"])
        #expect(section["code_files"] == .array(files.map { .string($0) }))
        #expect(section["other_pickles"] == .array(["traced_inputs.pkl"]))
        #expect(inspection.torch?.torchScript?.codeFiles == files)
        #expect(inspection.torch?.torchScript?.constantCount == 1)
    }

    @Test("verify reads every tensor of a TorchScript archive; .pt is its usual extension")
    func verifyTorchScript() throws {
        let report = try Verification.verify(path: Fixture.path("real/torchscript_module.pt"))
        #expect(report.findings.isEmpty && report.isClean)
        #expect(report.format == .torchScript)
    }

    @Test("scan reports a TorchScript archive the same way: kind torchscript, its code named")
    func scanTorchScript() throws {
        let report = try ScanReport.scan(path: Fixture.path("real/torchscript_traced.pt"))
        #expect(report.kind == "torchscript")
        let finding: String = Fixture.path("real/torchscript_traced.pt") + ": a TorchScript archive (code/__torch__.py and 1 more code files, constants.pkl): its code "
            + "(code/__torch__.py, code/__torch__/torch/nn/modules/linear/___torch_mangle_1.py) is compiled and run by "
            + "torch.jit.load, and torch.load(weights_only=True) refuses it; modelfile inspect lists its tensors without running it"
        #expect(report.findings.first?.message == finding)
    }

    // MARK: - strip

    @Test("strip drops every key the contract lists", arguments: names.filter { $0.hasPrefix("train_") && $0 != "train_pickled_module.pt" })
    func stripTraining(name: String) throws {
        let folder = try Fixture.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let expected = try RealFileExpectation.load(name)
        let output = folder.appendingPathComponent("small.pt").path
        let result = try Strip.strip(input: Fixture.path("real/" + name), output: output, keep: [], overwrite: false)
        let keys = try #require(expected.checkpoint?.keys)
        #expect(result.removedKeys == keys.filter { Strip.removableKeys.contains($0) })
        let small = try TorchFile(path: output)
        guard case .dict(let top) = small.root else {
            Issue.record("not a dict")
            return
        }
        #expect(top.stringKeys == keys.filter { !Strip.removableKeys.contains($0) })
        // The weights are unchanged, under their own names.
        let weights = try #require(expected.weights)
        for tensor in weights.tensors {
            let index = try #require(small.index(of: (weights.path.map { $0 + "." } ?? "") + tensor.name))
            #expect(sha256Hex(try small.tensor(at: index).bytes.array) == tensor.sha256)
        }
    }

    @Test("strip --keep and --drop")
    func stripKeepAndDrop() throws {
        let folder = try Fixture.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let input = Fixture.path("real/train_model.pt")
        let kept = folder.appendingPathComponent("kept.pt").path
        let result = try Strip.strip(input: input, output: kept, keep: ["schedulers"], drop: ["epoch", "model.0.bias"], overwrite: false)
        #expect(result.removedKeys == ["optimizer"])
        #expect(result.droppedPaths == ["epoch", "model.0.bias"])
        let file = try TorchFile(path: kept)
        #expect(file.entries.map(\.name) == ["model.0.weight", "model.2.weight", "model.2.bias"])
        guard case .dict(let top) = file.root else { return }
        #expect(top.stringKeys == ["model", "scheduler"])
        let missing = folder.appendingPathComponent("missing.pt").path
        let error = try #require(throws: ModelFileError.self) {
            try Strip.strip(input: input, output: missing, keep: [], drop: ["model.9.weight"], overwrite: false)
        }
        #expect("\(error)".hasSuffix("train_model.pt: --drop model.9.weight: the checkpoint has no model.9"))
        #expect(!FileManager.default.fileExists(atPath: missing))
    }

    @Test("strip leaves out a Hydra config it cannot write back, and says so; the result needs no flag")
    func stripOmegaConf() throws {
        let folder = try Fixture.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let input = Fixture.path("real/lightning_omegaconf.ckpt")
        let output = folder.appendingPathComponent("small.ckpt").path
        let result = try Strip.strip(input: input, output: output, keep: [], overwrite: false, options: Self.allowing)
        #expect(result.removedKeys == ["loops", "callbacks", "optimizer_states", "lr_schedulers"])
        // Lightning also saves the config's class itself, as hparams_type.
        #expect(result.warnings == [
            .inertValueLeftOut(key: "hyper_parameters", global: "omegaconf.dictconfig.DictConfig"),
            .inertValueLeftOut(key: "hparams_type", global: "omegaconf.dictconfig.DictConfig"),
        ])
        let small = try TorchFile(path: output)  // default options: nothing outside the allowlist
        guard case .dict(let top) = small.root else { return }
        #expect(top.stringKeys == ["epoch", "global_step", "pytorch-lightning_version", "state_dict", "hparams_name"])
        #expect(small.unknownGlobals.isEmpty)
        let refused = try #require(throws: ModelFileError.self) {
            try Strip.strip(input: input, output: folder.appendingPathComponent("x.ckpt").path, keep: ["hyper_parameters"],
                            overwrite: false, options: Self.allowing)
        }
        #expect("\(refused)".hasSuffix("hyper_parameters holds omegaconf.dictconfig.DictConfig, which was never loaded, so it cannot be "
                                       + "written back (strip leaves such a value out unless --keep names it or it holds tensors; "
                                       + "convert extracts tensors)"))
        let module = try #require(throws: ModelFileError.self) {
            try Strip.strip(input: Fixture.path("real/train_pickled_module.pt"), output: folder.appendingPathComponent("y.pt").path,
                            keep: [], overwrite: false, options: Self.allowing)
        }
        #expect("\(module)".contains("model holds torch.nn.modules.linear.Linear, which was never loaded"))
    }
}
