import Foundation
import Testing
import TestSupport

/// The JSON document a command printed.
private func document(_ result: CLIResult) throws -> [String: Any] {
    try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
}

@Suite("diff after convert: --select, --strip-prefix, --cast")
struct DiffAfterConvertTests {
    static let checkpoint = Fixture.path("lightning/adam_steplr.ckpt")

    @Test("a Lightning checkpoint against its weights cast by torch: equal by value, dtypes named, differences as torch computes them",
          arguments: ["cli/adam_steplr_f16.safetensors", "cli/adam_steplr_bf16.pth"])
    func castAgreesWithTorch(fixture: String) throws {
        let expected = try #require(try Fixture.json(fixture + ".json") as? [String: Any])
        let tensors = try #require(expected["tensors"] as? [[String: Any]])
        let largest = tensors.compactMap { $0["max_abs_diff"] as? Double }.max() ?? 0
        let result = try modelfile("diff", Self.checkpoint, Fixture.path(fixture), "--select", "state_dict", "--strip-prefix", "model.",
                                   "--cast", "--atol", String(largest * 1.001), "--json")
        #expect(result.status == 0, "\(result.stderr)")
        let json = try document(result)
        #expect(Array(json.keys).sorted() == ["a", "atol", "b", "equal", "only_in_a", "only_in_b", "rtol", "schema", "tensors"])
        #expect(json["schema"] as? String == "modelfile.diff/1")
        #expect(json["equal"] as? Bool == true)
        #expect((json["only_in_a"] as? [String]) == [])
        #expect((json["only_in_b"] as? [String]) == [])
        let rows = try #require(json["tensors"] as? [[String: Any]])
        #expect(rows.count == tensors.count)
        for (row, want) in zip(rows, tensors) {
            #expect(Array(row.keys).sorted() == ["dtype", "identical", "max_abs_diff", "name", "shape", "within_tolerance"])
            #expect(row["name"] as? String == want["name"] as? String)
            #expect(row["dtype"] as? [String] == want["dtype"] as? [String])
            #expect(row["shape"] as? [Int] == want["shape"] as? [Int])
            #expect(row["identical"] as? Bool == false)
            #expect(row["max_abs_diff"] as? Double == want["max_abs_diff"] as? Double, "\(row["name"] ?? "")")
            #expect(row["within_tolerance"] as? Bool == true)
        }
    }

    @Test("without --cast the dtype change is a difference; with a tolerance below the largest difference, --cast finds it")
    func castIsNeeded() throws {
        let other = Fixture.path("cli/adam_steplr_f16.safetensors")
        let plain = try modelfile("diff", Self.checkpoint, other, "--select", "state_dict", "--strip-prefix", "model.", "--atol", "1", "--json")
        #expect(plain.status == 1)
        let json = try document(plain)
        #expect(json["equal"] as? Bool == false)
        let rows = try #require(json["tensors"] as? [[String: Any]])
        #expect(rows.count == 8 && rows.allSatisfy { $0["within_tolerance"] as? Bool == false })

        let tight = try modelfile("diff", Self.checkpoint, other, "--select", "state_dict", "--strip-prefix", "model.", "--cast")
        #expect(tight.status == 1)
        #expect(tight.stdout.contains("linear1.weight  dtype F32 → F16, max |a−b| 0.00011500716209411621  DIFFERENT"))
        #expect(tight.stdout.hasSuffix("8 common tensors (0 identical), 0 only in A, 0 only in B: different\n"))
    }

    @Test("without renaming nothing matches: every name is only on one side")
    func namesNeedRenaming() throws {
        let result = try modelfile("diff", Self.checkpoint, Fixture.path("cli/adam_steplr_f16.safetensors"), "--cast", "--json")
        #expect(result.status == 1)
        let json = try document(result)
        #expect((json["only_in_b"] as? [String])?.contains("model.linear1.weight") == true)
        #expect((json["only_in_b"] as? [String])?.count == 8)
        #expect((json["only_in_a"] as? [String])?.contains("state_dict.linear1.weight") == true)
        #expect((json["tensors"] as? [Any])?.isEmpty == true)

        // --select alone: A's names become the state dict's; B keeps its names (nothing under state_dict).
        let selected = try document(try modelfile("diff", Self.checkpoint, Fixture.path("cli/adam_steplr_f16.safetensors"),
                                                  "--select", "state_dict", "--json"))
        #expect((selected["only_in_a"] as? [String]) == ["linear1.weight", "linear1.bias", "linear2.weight", "linear2.bias",
                                                         "linear3.weight", "linear3.bias", "linear4.weight", "linear4.bias"])
    }

    @Test("after convert --strip-prefix the files are identical under the same renaming")
    func afterConvert() throws {
        let folder = try Fixture.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let out = folder.appendingPathComponent("weights.safetensors").path
        #expect(try modelfile("convert", Fixture.path("cli/adam_steplr_bf16.pth"), out, "--strip-prefix", "model.", "--quiet").status == 0)
        let result = try modelfile("diff", Fixture.path("cli/adam_steplr_bf16.pth"), out, "--strip-prefix", "model.")
        #expect(result.status == 0)
        #expect(result.stdout == "8 common tensors (8 identical), 0 only in A, 0 only in B: equal\n")
        // Without the renaming, A's names keep their prefix.
        let unrenamed = try modelfile("diff", Fixture.path("cli/adam_steplr_bf16.pth"), out)
        #expect(unrenamed.status == 1)
        #expect(unrenamed.stdout.hasSuffix("0 common tensors (0 identical), 8 only in A, 8 only in B: different\n"))
    }
}

@Suite("strip --drop")
struct StripDropTests {
    @Test("--drop takes several dotted paths; each is gone from the output, and a path not in the input fails writing nothing")
    func drop() throws {
        let folder = try Fixture.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let out = folder.appendingPathComponent("s.ckpt").path
        let result = try modelfile("strip", Fixture.path("lightning/adam_steplr.ckpt"), out, "--drop", "hyper_parameters.lr", "hyper_parameters.optimizer")
        #expect(result.status == 0)
        #expect(result.stderr.hasPrefix("removed loops, callbacks, optimizer_states, lr_schedulers, hyper_parameters.lr, hyper_parameters.optimizer; 12483 → "))
        let again = folder.appendingPathComponent("again.ckpt").path
        let missing = try modelfile("strip", out, again, "--drop", "hyper_parameters.scheduler", "hyper_parameters.lr")
        #expect(missing.status == 2)
        #expect(missing.stderr == "modelfile: error: \(out): --drop hyper_parameters.lr: the checkpoint has no hyper_parameters.lr\n")
        #expect(!FileManager.default.fileExists(atPath: again))
        #expect(try modelfile("strip", out, again, "--drop", "hyper_parameters.scheduler", "--quiet").status == 0)
        #expect(try modelfile("diff", out, again).status == 0, "the weights stay")
    }
}

@Suite("predict: classes, labels and probabilities")
struct PredictLabelTests {
    @Test("a sigmoid classifier: LABEL and PROBABILITY columns, --labels, and the JSON keys")
    func classifier() throws {
        let folder = try Fixture.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let out = folder.appendingPathComponent("m.safetensors").path
        #expect(try modelfile("train", "--epochs", "40", "--optimizer", "adam", "--standardize", "--out", out, "--quiet").status == 0)
        let table = try modelfile("predict", "--model", out, "--labels", "healthy,diabetic")
        #expect(table.status == 0)
        let lines = table.stdout.split(separator: "\n").map(String.init)
        #expect(lines.count == 1 + 768 + 1)
        #expect(lines[0].split(separator: " ", omittingEmptySubsequences: true) == ["ROW", "LABEL", "PROBABILITY", "OUTPUT"])
        let json = try document(try modelfile("predict", "--model", out, "--labels", "healthy,diabetic", "--json"))
        #expect(json["classes"] as? [String] == ["healthy", "diabetic"])
        let predictions = try #require(json["predictions"] as? [[Double]])
        let probabilities = try #require(json["probabilities"] as? [[Double]])
        let labels = try #require(json["labels"] as? [String])
        #expect(predictions.count == 768 && probabilities.count == 768 && labels.count == 768)
        for (index, (output, row)) in zip(predictions, probabilities).enumerated() {
            let p = output[0]
            #expect(row.count == 2 && abs(row[1] - p) < 1e-7 && abs(row[0] - (1 - p)) < 1e-7)
            #expect(labels[index] == (p >= 0.5 ? "diabetic" : "healthy"))
        }
        #expect(Set(labels) == ["healthy", "diabetic"], "a network that learned predicts both classes")
        // The table's rows say the same.
        let first = lines[1].split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        #expect(first[0] == "1" && first[1] == labels[0])
        let chosen = labels[0] == "diabetic" ? probabilities[0][1] : probabilities[0][0]
        #expect(abs((Double(first[2]) ?? -1) - chosen) <= 5e-7)
        #expect(lines.last?.hasPrefix("accuracy: ") == true)

        let defaults = try document(try modelfile("predict", "--model", out, "--json"))
        #expect(defaults["classes"] as? [String] == ["0", "1"])
        #expect((defaults["labels"] as? [String])?.allSatisfy { $0 == "0" || $0 == "1" } == true)

        let wrongCount = try modelfile("predict", "--model", out, "--labels", "a,b,c")
        #expect(wrongCount.status == 64)
        #expect(wrongCount.stderr.hasPrefix("modelfile: error: --labels names 3 classes; the network has 2 (one name per class, class 0 first)\n"))
        #expect(try modelfile("predict", "--model", out, "--labels", "a,a").status == 64)
        #expect(try modelfile("predict", "--model", out, "--labels", "a,").status == 64)
    }

    @Test("a .ckpt converted to safetensors keeps train's description: predict gives the same answers")
    func convertedCheckpoint() throws {
        let folder = try Fixture.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let ckpt = folder.appendingPathComponent("m.ckpt").path, converted = folder.appendingPathComponent("m.safetensors").path
        #expect(try modelfile("train", "--epochs", "5", "--optimizer", "adam", "--standardize", "--out", ckpt, "--quiet").status == 0)
        #expect(try modelfile("convert", ckpt, converted, "--quiet").status == 0)
        let inspected = try document(try modelfile("inspect", converted, "--json"))
        let metadata = try #require(inspected["metadata"] as? [String: String])
        #expect(metadata["modelfile.layers"] == "8,6,4,2,1" && metadata["modelfile.target"] == "diabetes" && metadata["format"] == "pt")
        #expect(metadata["modelfile.standardization.mean"]?.hasPrefix("3.845052") == true)
        let fromCheckpoint = try modelfile("predict", "--model", ckpt, "--labels", "no,yes")
        #expect(fromCheckpoint.status == 0)
        #expect(try modelfile("predict", "--model", converted, "--labels", "no,yes").stdout == fromCheckpoint.stdout)
    }

    @Test("cross-entropy: the softmax of the outputs; regression: the three keys are null")
    func crossEntropyAndRegression() throws {
        let folder = try Fixture.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let csv = folder.appendingPathComponent("three.csv").path
        var rows = "a,b,class\n"
        for i in 0..<30 { rows += "\(Double(i % 3) + 0.1 * Double(i % 5)),\(Double(2 - i % 3)),\(i % 3)\n" }
        try rows.write(toFile: csv, atomically: true, encoding: .utf8)
        let ce = folder.appendingPathComponent("ce.safetensors").path
        #expect(try modelfile("train", "--data", csv, "--layers", "2,5,3", "--loss", "cross-entropy", "--activation", "relu",
                              "--optimizer", "adam", "--lr", "0.05", "--epochs", "60", "--out", ce, "--quiet").status == 0)
        let json = try document(try modelfile("predict", "--model", ce, "--data", csv, "--labels", "x,y,z", "--json"))
        #expect(json["classes"] as? [String] == ["x", "y", "z"])
        let predictions = try #require(json["predictions"] as? [[Double]])
        let probabilities = try #require(json["probabilities"] as? [[Double]])
        let labels = try #require(json["labels"] as? [String])
        for (index, (output, row)) in zip(predictions, probabilities).enumerated() {
            let largest = output.max() ?? 0
            let exponentials = output.map { exp($0 - largest) }
            let total = exponentials.reduce(0, +)
            for (p, e) in zip(row, exponentials) { #expect(abs(p - e / total) < 1e-6) }
            let best = row.indices.max { row[$0] < row[$1] } ?? 0
            #expect(labels[index] == ["x", "y", "z"][best])
        }
        #expect(try modelfile("predict", "--model", ce, "--data", csv, "--labels", "x,y").status == 64)

        let mse = folder.appendingPathComponent("mse.safetensors").path
        #expect(try modelfile("train", "--data", csv, "--layers", "2,3,1", "--loss", "mse", "--epochs", "3", "--out", mse, "--quiet").status == 0)
        let regression = try modelfile("predict", "--model", mse, "--data", csv, "--json")
        let document = try document(regression)
        #expect(document["classes"] is NSNull && document["probabilities"] is NSNull && document["labels"] is NSNull)
        #expect((document["predictions"] as? [[Double]])?.count == 30)
        let text = try modelfile("predict", "--model", mse, "--data", csv)
        #expect(!text.stdout.contains("LABEL"))
        let refused = try modelfile("predict", "--model", mse, "--data", csv, "--labels", "a,b")
        #expect(refused.status == 64)
        #expect(refused.stderr.hasPrefix("modelfile: error: --labels names classes, but this is a regression network (loss mse) with no classes\n"))
    }
}

@Suite("train stops at a non-finite loss")
struct TrainNonFiniteTests {
    @Test("at learning rates from tiny to absurd: exit 0 with finite losses, or exit 2 at the first non-finite epoch with nothing written",
          arguments: ["0.000001", "0.5", "10", "1000", "1e6", "1e12", "1e30", "1e300"])
    func anyLearningRate(lr: String) throws {
        let folder = try Fixture.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let csv = folder.appendingPathComponent("big.csv").path
        // Large inputs and an MSE target make high rates diverge quickly.
        var rows = "x,y\n"
        for i in 0..<40 { rows += "\(Double(i) * 1000),\(Double(i) * 3000)\n" }
        try rows.write(toFile: csv, atomically: true, encoding: .utf8)
        for (optimizer, loss, data) in [("sgd", "mse", [csv]), ("adam", "bce", [String]()), ("sgd", "bce", [String]())] {
            let out = folder.appendingPathComponent("m.safetensors").path
            let plot = folder.appendingPathComponent("loss.svg").path
            var arguments = ["train", "--lr", lr, "--optimizer", optimizer, "--loss", loss, "--epochs", "30", "--out", out, "--plot", plot]
            if let data = data.first { arguments += ["--data", data, "--layers", "1,4,1", "--activation", "relu"] }
            let result = try modelfile(arguments)
            let epochs = result.stdout.split(separator: "\n").filter { $0.hasPrefix("Epoch[") }
            let losses = epochs.map { Double($0.split(separator: ":").last ?? "") }
            if result.status == 0 {
                #expect(epochs.count == 30)
                #expect(losses.allSatisfy { $0?.isFinite == true }, "\(lr) \(optimizer): \(epochs)")
                #expect(FileManager.default.fileExists(atPath: out) && FileManager.default.fileExists(atPath: plot))
            } else {
                #expect(result.status == 2, "\(lr) \(optimizer) \(loss): \(result.stderr)")
                let last = try #require(epochs.last)
                #expect(last.hasSuffix(",loss:nan") || last.hasSuffix(",loss:inf"), "\(last)")
                #expect(losses.dropLast().allSatisfy { $0?.isFinite == true })
                let number = epochs.count
                #expect(result.stderr.hasPrefix("modelfile: error: epoch \(number): the mean loss is "), "\(result.stderr)")
                #expect(result.stderr.split(separator: "\n").count == 1)
                #expect(!FileManager.default.fileExists(atPath: out) && !FileManager.default.fileExists(atPath: plot))
                let onward = try modelfile(arguments + ["--no-stop-on-nan"])
                #expect(onward.status == 0, "\(onward.stderr)")
                #expect(onward.stdout.split(separator: "\n").filter { $0.hasPrefix("Epoch[") }.count == 30)
                #expect(FileManager.default.fileExists(atPath: out) && FileManager.default.fileExists(atPath: plot))
                // --json stays strict JSON: the non-finite loss is a string.
                let json = try modelfile(arguments + ["--no-stop-on-nan", "--json", "--force"])
                let records = try #require(try document(json)["epochs"] as? [[String: Any]])
                let stopped = records[number - 1]["loss"] as? String
                #expect(stopped == "nan" || stopped == "inf", "\(records[number - 1])")
            }
            try? FileManager.default.removeItem(atPath: out)
            try? FileManager.default.removeItem(atPath: plot)
        }
    }
}

@Suite("every command: non-model files, usage errors, --quiet")
struct CommandConventionTests {
    static let commands = ["inspect", "convert", "verify", "diff", "scan", "strip", "train", "predict", "download"]

    @Test("train --init, train --resume and predict --model refuse non-model files by name, exit 2",
          arguments: [("tiny-1.0-py3-none-any.whl", "wheel", "a Python wheel (a zip holding tiny-1.0.dist-info/), not a model file"),
                      ("model.onnx", "onnx", "an ONNX model (a protobuf ModelProto with ir_version and graph), which modelfile does not read"),
                      ("config.json", "json", "a JSON file without a weight_map (a config or tokenizer file, not weights)"),
                      ("model.ckpt", "html", "an HTML page, probably an error or login page saved instead of the file")])
    func trainAndPredict(name: String, kind: String, looksLike: String) throws {
        let folder = try Fixture.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let bytes: [UInt8]
        switch kind {
        case "wheel": bytes = ContentNamingTests.wheel()
        case "onnx": bytes = ContentNamingTests.onnx
        case "json": bytes = Array(#"{"architectures": ["BertModel"], "hidden_size": 16}"#.utf8)
        default: bytes = Array("<!DOCTYPE html>\n<html><body>Access denied</body></html>".utf8)
        }
        let path = folder.appendingPathComponent(name).path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let out = folder.appendingPathComponent("o.safetensors").path
        for arguments in [["predict", "--model", path], ["train", "--init", path, "--epochs", "1", "--out", out],
                          ["train", "--resume", path, "--epochs", "1", "--out", out]] {
            let result = try modelfile(arguments)
            #expect(result.status == 2, "\(arguments)")
            #expect(result.stderr == "modelfile: error: \(path): not a model file: \(looksLike)\n", "\(arguments)")
            #expect(!FileManager.default.fileExists(atPath: out))
        }
    }

    @Test("docs/cli.md names every option that modelfile help lists, and no document names a path of this machine")
    func documented() throws {
        let docs = try String(contentsOf: Fixture.packageRoot.appendingPathComponent("docs/cli.md"), encoding: .utf8)
        for command in Self.commands {
            let help = try modelfile("help", command).stdout
            let options = Set(help.matches(of: /--[a-z][a-z-]*/).map { String($0.output) })
            #expect(options.count >= 2, "\(command)")
            for option in options {
                // The whole option: not the start of a longer one.
                #expect([" ", "`", "]", "=", ",", ")", "\n"].contains { docs.contains(option + $0) },
                        "\(command) \(option) is not in docs/cli.md")
            }
        }
        let folders = ["docs", "Benchmarks", "scripts", "Fixtures"]
        var documents = [Fixture.packageRoot.appendingPathComponent("README.md")]
        for folder in folders {
            let enumerator = FileManager.default.enumerator(at: Fixture.packageRoot.appendingPathComponent(folder), includingPropertiesForKeys: nil)
            while let url = enumerator?.nextObject() as? URL {
                if url.pathExtension == "md" { documents.append(url) }
            }
        }
        for url in documents {
            let text = try String(contentsOf: url, encoding: .utf8)
            for machinePath in ["/work/", "/root/", Fixture.packageRoot.path] {
                #expect(!text.contains(machinePath), "\(url.lastPathComponent) names \(machinePath)")
            }
        }
    }

    @Test("bare modelfile prints the usage on stderr and exits 64; --help exits 0")
    func bare() throws {
        let result = try modelfile([])
        #expect(result.status == 64)
        #expect(result.stdout.isEmpty)
        #expect(result.stderr.contains("USAGE: modelfile <subcommand>"))
        for command in Self.commands { #expect(result.stderr.contains("  \(command) "), "\(command)") }
        #expect(try modelfile("--help").status == 0)
        for command in Self.commands { #expect(try modelfile("help", command).status == 0, "\(command)") }
    }

    @Test("usage errors: one modelfile: error: line first, exit 64, for every command",
          arguments: [["inspect", "--bogus"], ["convert", "a"], ["verify"], ["diff", "a"], ["scan", "--nope"], ["strip", "a"],
                      ["train", "--epochs", "many"], ["predict"], ["download"], ["diff", "a", "b", "--atol", "-1"],
                      ["strip", "a", "b", "--keep", "weights"], ["frobnicate"]])
    func usage(arguments: [String]) throws {
        let result = try modelfile(arguments)
        #expect(result.status == 64)
        #expect(result.stdout.isEmpty)
        #expect(result.stderr.hasPrefix("modelfile: error: "))
        #expect(result.stderr.split(separator: "\n").first.map { !$0.isEmpty } == true)
    }

    @Test("every command accepts --quiet: nothing on stderr for a run that does not fail, stdout unchanged")
    func quiet() throws {
        let folder = try Fixture.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let model = Fixture.path("safetensors/mlp.safetensors")
        let checkpoint = Fixture.path("lightning/adam_steplr.ckpt")
        let trained = folder.appendingPathComponent("t.safetensors").path
        let runs: [[String]] = [
            ["inspect", model], ["verify", model], ["scan", checkpoint], ["diff", model, checkpoint],
            ["convert", checkpoint, folder.appendingPathComponent("c.safetensors").path],
            ["strip", checkpoint, folder.appendingPathComponent("s.ckpt").path],
            ["train", "--epochs", "2", "--out", trained, "--plot", folder.appendingPathComponent("l.svg").path],
            ["predict", "--model", trained],
            // A warning that --quiet silences: a cast that leaves integer tensors alone.
            ["convert", Fixture.path("safetensors/dtypes.safetensors"), folder.appendingPathComponent("d.safetensors").path, "--dtype", "f16"],
        ]
        for arguments in runs {
            let loud = try modelfile(arguments)
            #expect(loud.status == 0 || loud.status == 1, "\(arguments): \(loud.stderr)")
            if ["convert", "strip", "train"].contains(arguments[0]) {
                #expect(!loud.stderr.isEmpty, "\(arguments) says what it wrote")
                for path in arguments where path.hasPrefix(folder.path) { try? FileManager.default.removeItem(atPath: path) }
            }
            let quiet = try modelfile(arguments + ["--quiet"])
            #expect(quiet.status == loud.status, "\(arguments)")
            #expect(quiet.stderr.isEmpty, "\(arguments): \(quiet.stderr)")
            if arguments[0] != "train" { #expect(quiet.stdout == loud.stdout, "\(arguments)") }
        }
        let download = try modelfile("download", "org/name", "--quiet", "--dry-run", "--endpoint", "http://127.0.0.1:9")
        #expect(download.status == 2, "download accepts --quiet (and fails: nothing listens there)")
    }
}
