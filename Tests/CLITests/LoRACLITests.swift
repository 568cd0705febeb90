import Foundation
import JSONReader
import Testing
import TestSupport

@Suite("modelfile lora, train --lora, predict --adapter, inspect of adapters")
struct LoRACLITests {
    @Test("lora merge writes PEFT's merge: diff against merge_and_unload's file is equal; stderr says what was merged")
    func merge() throws {
        let folder = try Fixture.temporaryFolder()
        let output = folder.appendingPathComponent("merged.safetensors").path
        let result = try modelfile("lora", "merge", Fixture.path("lora/patterns/base.safetensors"), Fixture.path("lora/patterns/adapter"), output)
        #expect(result.status == 0)
        #expect(result.stderr == "merged peft-lora adapter into 5 tensors\nwrote 10 tensors to \(output)\n")
        let diff = try modelfile("diff", output, Fixture.path("lora/patterns/merged.safetensors"), "--rtol", "1e-6", "--atol", "0")
        #expect(diff.status == 0, "\(diff.stdout)")
        let again = try modelfile("lora", "merge", Fixture.path("lora/patterns/base.safetensors"), Fixture.path("lora/patterns/adapter"), output)
        #expect(again.status == 2 && again.stderr.contains("file exists (use --force to overwrite)"))
        let quiet = try modelfile("lora", "merge", Fixture.path("lora/patterns/base.safetensors"), Fixture.path("lora/patterns/adapter"), output,
                                  "--force", "--quiet")
        #expect(quiet.status == 0 && quiet.stderr.isEmpty)
    }

    @Test("a refused adapter: exit 2, one error line naming the entry, no output")
    func refusal() throws {
        let folder = try Fixture.temporaryFolder()
        let output = folder.appendingPathComponent("merged.safetensors").path
        let adapter = Fixture.path("lora/missing_target/adapter")
        let result = try modelfile("lora", "merge", Fixture.path("lora/missing_target/base.safetensors"), adapter, output)
        #expect(result.status == 2)
        #expect(result.stderr == "modelfile: error: \(adapter): adapter entry \"base_model.model.head.lora_A.weight\" applies to \"head.weight\", which the base does not have\n")
        #expect(!FileManager.default.fileExists(atPath: output))
    }

    @Test("the output may not be an input, even with --force")
    func sameFile() throws {
        let folder = try Fixture.temporaryFolder()
        let base = folder.appendingPathComponent("base.safetensors").path
        try FileManager.default.copyItem(atPath: Fixture.path("lora/plain/base.safetensors"), toPath: base)
        let result = try modelfile("lora", "merge", base, Fixture.path("lora/plain/adapter"), base, "--force")
        #expect(result.status == 2 && result.stderr.contains("the input is never the output"))
    }

    @Test("usage errors exit 64")
    func usage() throws {
        #expect(try modelfile("lora", "merge", "a", "b", "c", "--scale", "nan").status == 64)
        #expect(try modelfile("lora", "merge", "a", "b", "c", "--max-shard-size", "lots").status == 64)
        #expect(try modelfile("train", "--lora-alpha", "4").status == 64)
        #expect(try modelfile("train", "--lora", "2").status == 64, "--lora needs --init")
        #expect(try modelfile("train", "--lora", "0", "--init", "x").status == 64)
    }

    @Test("help lists every option of lora merge and the LoRA options of train and predict")
    func help() throws {
        let top = try modelfile("help")
        #expect(top.stdout.contains("lora"))
        let merge = try modelfile("help", "lora", "merge")
        for option in ["--scale", "--dtype", "--to", "--max-shard-size", "--force", "--quiet", "--limits"] { #expect(merge.stdout.contains(option), "\(option)") }
        let train = try modelfile("help", "train")
        for option in ["--lora", "--lora-alpha", "--lora-targets", "--use-rslora", "--adapter-init", "--merge"] { #expect(train.stdout.contains(option), "\(option)") }
        #expect(try modelfile("help", "predict").stdout.contains("--adapter"))
    }

    @Test("inspect --json of a PEFT folder has the adapter object")
    func inspect() throws {
        let result = try modelfile("inspect", Fixture.path("lora/rslora/adapter"), "--json")
        #expect(result.status == 0)
        let document = try JSONNode.parse(Array(result.stdout.utf8))
        #expect(document["format"]?.stringValue == "peft-lora")
        let adapter = try #require(document["adapter"]?.objectValue)
        #expect(adapter.keys == ["kind", "rank", "alpha", "use_rslora", "targets", "per_target"])
        #expect(adapter["rank"]?.numberValue?.int64 == 4 && adapter["alpha"]?.numberValue?.int64 == 8 && adapter["use_rslora"] == .bool(true))
        let table = try modelfile("inspect", Fixture.path("lora/kohya/adapter.safetensors"))
        #expect(table.stdout.contains("kind       kohya-lora") && table.stdout.contains("lora_unet_down_blocks_0_proj_in (rank 2, alpha 4)"))
    }

    @Test("train --lora writes a PEFT folder; predict --adapter prints what predict of the --merge output prints")
    func trainAndPredict() throws {
        let folder = try Fixture.temporaryFolder()
        let adapter = folder.appendingPathComponent("adapter").path, merged = folder.appendingPathComponent("merged.safetensors").path
        let common = ["train", "--init", Fixture.path("lora/training/base.safetensors"), "--data", Fixture.path("lora/training/data.csv"),
                      "--lora", "2", "--lora-alpha", "4", "--lora-targets", "linear2,linear3", "--use-rslora", "--epochs", "3", "--seed", "3"]
        let trained = try modelfile(common + ["--out", adapter])
        #expect(trained.status == 0, "\(trained.stderr)")
        #expect(trained.stdout.hasPrefix("Epoch[1/3],loss:"))
        let config = try JSONNode.parse(Array(try Data(contentsOf: URL(fileURLWithPath: adapter + "/adapter_config.json"))))
        #expect(config["peft_type"]?.stringValue == "LORA" && config["use_rslora"] == .bool(true) && config["bias"]?.stringValue == "none")
        #expect(config["target_modules"]?.arrayValue?.compactMap(\.stringValue) == ["linear2", "linear3"])
        #expect(try modelfile(common + ["--out", merged, "--merge"]).status == 0)
        let data = Fixture.path("lora/training/data.csv")
        let withAdapter = try modelfile("predict", "--model", Fixture.path("lora/training/base.safetensors"), "--adapter", adapter, "--data", data)
        let fromMerge = try modelfile("predict", "--model", merged, "--data", data)
        #expect(withAdapter.status == 0 && !withAdapter.stdout.isEmpty)
        #expect(withAdapter.stdout == fromMerge.stdout)
        let wrong = try modelfile(common + ["--out", folder.appendingPathComponent("x.safetensors").path])
        #expect(wrong.status == 2 && wrong.stderr.contains("add --merge"))
    }
}
