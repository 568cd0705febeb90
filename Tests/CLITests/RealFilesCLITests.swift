import Foundation
import Testing
import TestSupport

/// The command on files made by the real libraries (Fixtures/real): its messages and exit codes.
@Suite("modelfile command on real third-party files")
struct RealFilesCLITests {
    static func path(_ name: String) -> String { Fixture.path("real/" + name) }

    @Test("a Hydra checkpoint is refused by default, naming the global, its offset and the flag; read with the flag")
    func omegaConf() throws {
        let refused = try modelfile("inspect", Self.path("lightning_omegaconf.ckpt"))
        #expect(refused.status == 2)
        #expect(refused.stderr == "modelfile: error: \(Self.path("lightning_omegaconf.ckpt")): archive/data.pkl at byte 2124: "
                + "unsupported global omegaconf.dictconfig.DictConfig, outside the weights-only allowlist "
                + "(--allow-unknown-objects reads it as inert data; nothing is imported or run)\n")
        let read = try modelfile("inspect", "--allow-unknown-objects", Self.path("lightning_omegaconf.ckpt"))
        #expect(read.status == 0)
        #expect(read.stdout.contains("hyper_parameters: model={_target_: 'torch.nn.Linear'"))
    }

    @Test("convert names on stderr the part of a training checkpoint it took")
    func convertTraining() throws {
        let folder = try Fixture.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let output = folder.appendingPathComponent("w.safetensors").path
        let result = try modelfile("convert", Self.path("train_model_state_dict.pt"), output)
        #expect(result.status == 0)
        #expect(result.stderr.contains(
            "converting \"model_state_dict\", the weights of a training checkpoint; 4 other tensors left out (--select PATH picks another part)\n"))
        let quiet = try modelfile("convert", "--quiet", "--force", Self.path("train_nested.pt"), output)
        #expect(quiet.status == 0 && !quiet.stderr.contains("converting"))
        let nested = try modelfile("convert", "--force", Self.path("train_nested.pt"), output)
        #expect(nested.stderr.contains("converting \"model.state_dict\", the weights of a training checkpoint;"))
        let listing = try modelfile("inspect", output)
        #expect(listing.stdout.contains("0.weight") && !listing.stdout.contains("momentum_buffer"))
    }

    @Test("convert of a TorchScript archive writes its parameters and buffers, and says the constants were left out")
    func convertTorchScript() throws {
        let folder = try Fixture.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let output = folder.appendingPathComponent("w.safetensors").path
        let result = try modelfile("convert", Self.path("torchscript_traced.pt"), output)
        #expect(result.status == 0)
        #expect(result.stderr.contains(
            "converting the TorchScript module's parameters and buffers (its code is not converted); 1 constant left out\n"))
    }

    @Test("strip warns about a config it leaves out, and --drop of a missing path fails writing nothing")
    func strip() throws {
        let folder = try Fixture.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let output = folder.appendingPathComponent("small.ckpt").path
        let result = try modelfile("strip", "--allow-unknown-objects", Self.path("lightning_omegaconf.ckpt"), output)
        #expect(result.status == 0)
        #expect(result.stderr.contains("modelfile: warning: hyper_parameters left out: it holds omegaconf.dictconfig.DictConfig, "
                                       + "which was never loaded, so it cannot be written back for torch.load(weights_only=True)\n"))
        #expect(try modelfile("inspect", output).status == 0, "readable without the flag")
        let missing = folder.appendingPathComponent("missing.pt").path
        let failed = try modelfile("strip", Self.path("train_model.pt"), missing, "--drop", "nothing.here")
        #expect(failed.status == 2 && failed.stderr.hasSuffix("--drop nothing.here: the checkpoint has no nothing\n"))
        #expect(!FileManager.default.fileExists(atPath: missing))
    }

    @Test("scan and inspect agree that a TorchScript archive is torchscript")
    func torchScriptKind() throws {
        let scan = try modelfile("scan", "--json", Self.path("torchscript_module.pt"))
        #expect(scan.status == 1)
        let json = try JSONSerialization.jsonObject(with: Data(scan.stdout.utf8)) as? [String: Any]
        #expect(json?["kind"] as? String == "torchscript")
        let inspect = try modelfile("inspect", "--json", Self.path("torchscript_module.pt"))
        let document = try JSONSerialization.jsonObject(with: Data(inspect.stdout.utf8)) as? [String: Any]
        #expect(document?["format"] as? String == "torchscript")
        #expect(((document?["torchscript"] as? [String: Any])?["constants"] as? Int) == 0)
    }

    @Test("inspect's table shows odd progress counters as stored and a TorchScript archive's code")
    func inspectTables() throws {
        let odd = try modelfile("inspect", Self.path("train_odd_counters.pt"))
        #expect(odd.status == 0)
        #expect(odd.stdout.contains("\n  epoch nan, global step 1e+300\n"))
        let huge = try modelfile("inspect", Self.path("train_huge_counters.pt"))
        #expect(huge.stdout.contains("\n  epoch 1180591620717411303424, global step -5\n"))
        let script = try modelfile("inspect", Self.path("torchscript_traced.pt"))
        #expect(script.status == 0)
        #expect(script.stdout.contains("TorchScript archive\n  code: code/__torch__.py, code/__torch__/torch/nn/modules/linear/___torch_mangle_1.py "
                                       + "(read-only; never run)\n"))
        let hydra = try modelfile("inspect", "--allow-unknown-objects", Self.path("lightning_omegaconf.ckpt"))
        #expect(hydra.stdout.contains("\n  hyper_parameters.model.hidden  "))
    }
}
