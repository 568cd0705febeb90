import Foundation
import Testing
import TestSupport

/// `inspect` and `convert` on files made by torch, safetensors, huggingface_hub and Lightning
/// (Fixtures/generate_inspect.py): counts, tied tensors, files of folders, checksums, the module tree.
@Suite("modelfile command: inspect counts, tied tensors, files, checksums and trees")
struct InspectCLITests {
    func document(_ arguments: String...) throws -> [String: Any] {
        let result = try modelfile(arguments)
        #expect(result.status == 0, "\(result.stderr)")
        return try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
    }

    func expected(_ name: String) throws -> [String: Any] {
        try #require(try Fixture.json("inspect/\(name).json") as? [String: Any])
    }

    /// `modules` as the fixture's JSON holds it: name → [tensors, parameters].
    func modules(_ value: Any?) -> [String: [Int]] {
        var result: [String: [Int]] = [:]
        for (name, counts) in (value as? [String: [String: Int]]) ?? [:] { result[name] = [counts["tensors"] ?? -1, counts["parameters"] ?? -1] }
        return result
    }

    @Test("a tied model saved with torch.save, save_model and save_torch_model: parameters as model.parameters(), one tied group, the tree")
    func tiedModels() throws {
        for name in ["tied.pth", "tied.safetensors", "tied_sharded"] {
            let facts = try expected(name)
            let json = try document("inspect", "--json", "--tree", Fixture.path("inspect/\(name)"))
            let totals = try #require(json["totals"] as? [String: Any])
            #expect(totals["parameters"] as? Int == 60 && facts["parameters"] as? Int == 60, "\(name)")
            #expect(json["tied"] as? [[String]] == [["embed.weight", "lm_head.weight"]], "\(name)")
            #expect(json["tied"] as? [[String]] == facts["tied"] as? [[String]])
            #expect(modules(json["modules"]) == modules(facts["modules"]), "\(name)")
            #expect(json["sha256"] == nil)
        }
        let table = try modelfile("inspect", "--tree", Fixture.path("inspect/tied.safetensors"))
        #expect(table.stdout.contains("tied (one tensor, several names)\n  embed.weight = lm_head.weight\n"))
        #expect(table.stdout.contains("modules\n  body     20 parameters  2 tensors\n    0      20 parameters  2 tensors\n"
                                      + "  embed    40 parameters   1 tensor\n  lm_head  40 parameters   1 tensor\n"), "\(table.stdout)")
        // Without --tree there is no tree.
        #expect(try document("inspect", "--json", Fixture.path("inspect/tied.pth"))["modules"] == nil)
    }

    @Test("an untied model has no tied groups")
    func untied() throws {
        #expect(try document("inspect", "--json", Fixture.path("safetensors/mlp.safetensors"))["tied"] as? [[String]] == [])
    }

    @Test("a training checkpoint's parameter count leaves out the Adam moments")
    func trainingCheckpoint() throws {
        let facts = try expected("adam_training.pth")
        let json = try document("inspect", "--json", "--tree", Fixture.path("inspect/adam_training.pth"))
        #expect((json["totals"] as? [String: Any])?["parameters"] as? Int == facts["parameters"] as? Int)
        #expect((json["totals"] as? [String: Any])?["tensors"] as? Int == 4 + 9)  // 4 names of the model, 3 × 3 Adam entries
        #expect(json["tied"] as? [[String]] == [["model.embed.weight", "model.lm_head.weight"]])
        #expect(modules(json["modules"])["model.embed"] == [1, 40])
    }

    @Test("a Lightning checkpoint reads top down: summary, tensors, then globals and values; loops and callbacks one line each")
    func lightningTopDown() throws {
        let facts = try expected("lit_tied.ckpt")
        let path = Fixture.path("inspect/lit_tied.ckpt")
        let table = try modelfile("inspect", path).stdout
        let order = ["\ncheckpoint\n", "\n  scheduler 0: StepLR", "\nNAME ", "\nstate_dict.net.embed.weight ", "\nglobals\n", "\nvalues besides tensors\n"]
            .map { table.range(of: $0)?.lowerBound }
        #expect(order.allSatisfy { $0 != nil }, "\(table)")
        let positions = order.compactMap { $0 }
        #expect(positions == positions.sorted(), "\(table)")
        let loops = try #require(facts["loop_values"] as? Int), callbacks = try #require(facts["callback_values"] as? Int)
        #expect(table.contains("\n  loops  ") && table.contains(" \(loops) values (not listed)\n"))
        #expect(table.contains("\n  callbacks  ") && table.contains(" \(callbacks) values (not listed)\n"))
        #expect(!table.contains("fit_loop"))

        let json = try document("inspect", "--json", "--tree", path)
        #expect((json["totals"] as? [String: Any])?["parameters"] as? Int == facts["parameters"] as? Int)
        #expect(json["tied"] as? [[String]] == facts["tied"] as? [[String]])
        #expect(modules(json["modules"]) == modules(facts["modules"]))
    }

    @Test("a shard folder names its files: files with bytes, each tensor's file, the FILE column; --checksums per file")
    func shardFolder() throws {
        let facts = try expected("tied_sharded")
        let index = try #require(facts["index"] as? [String: Any])
        let weightMap = try #require(index["weight_map"] as? [String: String])
        let factFiles = try #require(facts["files"] as? [[String: Any]])
        let json = try document("inspect", "--json", "--checksums", Fixture.path("inspect/tied_sharded"))
        #expect(json["sha256"] == nil)
        let files = try #require(json["files"] as? [[String: Any]])
        #expect(files.map { $0["path"] as? String } == ["model.safetensors.index.json", "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"])
        for file in files {
            let fact = factFiles.first { $0["path"] as? String == file["path"] as? String }
            #expect(file["bytes"] as? Int == fact?["bytes"] as? Int)
            #expect(file["sha256"] as? String == fact?["sha256"] as? String)
        }
        for tensor in try #require(json["tensors"] as? [[String: Any]]) {
            #expect(tensor["file"] as? String == weightMap[tensor["name"] as? String ?? ""])
        }
        // The index given directly: the same files, relative to its folder.
        let direct = try document("inspect", "--json", Fixture.path("inspect/tied_sharded/model.safetensors.index.json"))
        #expect((direct["files"] as? [[String: Any]])?.map { $0["sha256"] == nil } == [true, true, true])
        #expect((direct["tensors"] as? [[String: Any]])?.first?["file"] as? String == "model-00001-of-00002.safetensors")
        let table = try modelfile("inspect", Fixture.path("inspect/tied_sharded")).stdout
        #expect(table.contains("NAME           DTYPE  SHAPE    SIZE   FILE\nembed.weight   F32    [10, 4]  160 B  model-00001-of-00002.safetensors\n"), "\(table)")
        #expect(table.contains("\nfiles\n  model.safetensors.index.json      273 bytes"), "\(table)")
    }

    @Test("a folder with config.json: its weights file in files and on every tensor; --checksums in the files entry")
    func folder() throws {
        let facts = try expected("nested_folder")
        let weights = try #require((facts["files"] as? [[String: Any]])?.first { $0["path"] as? String == "model.safetensors" })
        let json = try document("inspect", "--json", "--checksums", "--tree", Fixture.path("inspect/nested_folder"))
        let files = try #require(json["files"] as? [[String: Any]])
        #expect(files.count == 1)
        #expect(files.first?["path"] as? String == "model.safetensors")
        #expect(files.first?["bytes"] as? Int == weights["bytes"] as? Int)
        #expect(files.first?["sha256"] as? String == weights["sha256"] as? String)
        #expect(json["sha256"] == nil)
        #expect((json["tensors"] as? [[String: Any]])?.allSatisfy { $0["file"] as? String == "model.safetensors" } == true)
        #expect(modules(json["modules"]) == modules(facts["modules"]))
        #expect((json["totals"] as? [String: Any])?["parameters"] as? Int == facts["parameters"] as? Int)
    }

    @Test("--checksums on a single file: sha256 at the top level and in the table; never without it, nor a files list")
    func singleFileChecksum() throws {
        let facts = try expected("tied.pth")
        let json = try document("inspect", "--json", "--checksums", Fixture.path("inspect/tied.pth"))
        #expect(json["sha256"] as? String == facts["sha256"] as? String)
        #expect(json["files"] == nil)
        #expect((json["tensors"] as? [[String: Any]])?.first?["file"] == nil)
        let table = try modelfile("inspect", "--checksums", Fixture.path("inspect/tied.pth")).stdout
        #expect(table.contains("  sha256  \(facts["sha256"] as? String ?? "?")\n"), "\(table)")
        #expect(!(try modelfile("inspect", Fixture.path("inspect/tied.pth")).stdout.contains("sha256")))
    }

    @Test("--checksums over hf:// is a usage error: a remote inspect reads headers only")
    func remoteChecksums() throws {
        let result = try modelfile("inspect", "--checksums", "hf://org/name/model.safetensors")
        #expect(result.status == 64)
        #expect(result.stderr.hasPrefix("modelfile: error: --checksums reads every byte of the files; hf:// reads headers only"), "\(result.stderr)")
    }

    @Test("convert keeps tied tensors one storage in .pth and .ckpt, safetensors aliases included")
    func convertKeepsTies() throws {
        let folder = try Fixture.temporaryFolder()
        for (input, output) in [("tied.safetensors", "a.pth"), ("tied.pth", "b.pth"), ("tied_sharded", "c.pth"), ("tied.safetensors", "d.ckpt")] {
            let path = folder.appendingPathComponent(output).path
            let convert = try modelfile("convert", Fixture.path("inspect/\(input)"), path)
            #expect(convert.status == 0, "\(convert.stderr)")
            let json = try document("inspect", "--json", path)
            let prefix = output.hasSuffix(".ckpt") ? "state_dict." : ""
            #expect(json["tied"] as? [[String]] == [[prefix + "embed.weight", prefix + "lm_head.weight"]], "\(input) → \(output)")
            #expect((json["storages"] as? [String: Any])?["count"] as? Int == 3, "\(input) → \(output)")
            #expect((json["totals"] as? [String: Any])?["parameters"] as? Int == 60)
        }
        // safetensors output writes every stored name in full, aliases staying aliases in the metadata.
        let out = folder.appendingPathComponent("e.safetensors").path
        #expect(try modelfile("convert", Fixture.path("inspect/tied.pth"), out).status == 0)
        #expect((try document("inspect", "--json", out)["totals"] as? [String: Any])?["tensors"] as? Int == 4)
    }

    @Test("--to that contradicts OUT's extension: usage error, exit 64, nothing written; an unknown extension is fine")
    func toContradictsExtension() throws {
        let folder = try Fixture.temporaryFolder()
        let out = folder.appendingPathComponent("out.pth").path
        let result = try modelfile("convert", "--to", "safetensors", Fixture.path("inspect/tied.pth"), out)
        #expect(result.status == 64)
        #expect(result.stderr.hasPrefix("modelfile: error: --to safetensors contradicts the extension of \(out), which names pth\n"))
        #expect(!FileManager.default.fileExists(atPath: out))
        let ckpt = folder.appendingPathComponent("out.ckpt").path
        #expect(try modelfile("convert", "--to", "pth", Fixture.path("inspect/tied.pth"), ckpt).status == 64)
        let other = folder.appendingPathComponent("weights.data").path
        #expect(try modelfile("convert", "--to", "safetensors", Fixture.path("inspect/tied.pth"), other).status == 0)
        #expect(try modelfile("convert", "--to", "pth", Fixture.path("inspect/tied.pth"), folder.appendingPathComponent("w.bin").path).status == 0)
    }

    @Test("verify in a shard folder names the file in its finding and its JSON")
    func verifyNamesFile() throws {
        let folder = try Fixture.temporaryFolder().appendingPathComponent("set")
        try FileManager.default.copyItem(at: Fixture.url("inspect/tied_sharded"), to: folder)
        let shard = folder.appendingPathComponent("model-00002-of-00002.safetensors")
        var bytes = [UInt8](try Data(contentsOf: shard))
        let headerLength = Int(bytes[0]) | Int(bytes[1]) << 8
        // The first tensor of the second shard (body.0.bias, first in the data) gets a NaN.
        bytes.replaceSubrange((8 + headerLength)..<(12 + headerLength), with: [0x00, 0x00, 0xC0, 0x7F])
        try Data(bytes).write(to: shard)
        let result = try modelfile("verify", folder.path)
        #expect(result.status == 1)
        #expect(result.stdout.contains("finding: model-00002-of-00002.safetensors: tensor \"body.0.bias\": 1 of 4 values are NaN or infinite\n"), "\(result.stdout)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(try modelfile("verify", "--json", folder.path).stdout.utf8)) as? [String: Any])
        #expect((json["tensors"] as? [[String: Any]])?.map { $0["file"] as? String } == [
            "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors", "model-00002-of-00002.safetensors"])
    }
}
