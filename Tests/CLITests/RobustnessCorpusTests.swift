import Foundation
import Testing
import TestSupport

// Generated hostile cases for the families of issue 10 §2, §3 and §8, run through the built
// command under the hostile suite's caps (4 GiB of address space, a time cap), each asserting the
// exact exit code and message: numbers from files that would trap, paths that are not files,
// reads that would materialise too much, rewrites of shared trees, and outputs that are inputs.

/// One capped run of the command: exit status, whether a signal ended it, seconds, and its output.
struct CappedRun {
    let status: Int32
    let signaled: Bool
    let seconds: Double
    let stdout: String
    let stderr: String

    /// `modelfile arguments…` under `ulimit -v` and a time cap, in `folder`.
    static func run(_ arguments: [String], in folder: URL, timeCap: Double = RobustnessCorpusTests.timeCapSeconds) throws -> CappedRun {
        let out = folder.appendingPathComponent(".stdout-\(UUID().uuidString)"), err = folder.appendingPathComponent(".stderr-\(UUID().uuidString)")
        defer {
            try? FileManager.default.removeItem(at: out)
            try? FileManager.default.removeItem(at: err)
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.currentDirectoryURL = folder
        process.arguments = ["-c", "ulimit -v \(HostileCorpusTests.memoryCapKiB); exec \"$0\" \"$@\" >'\(out.path)' 2>'\(err.path)'", CLIBinary.url.path]
            + arguments
        var environment = ProcessInfo.processInfo.environment
        environment["NO_COLOR"] = "1"
        process.environment = environment
        let start = Date()
        try process.run()
        while process.isRunning {
            if Date().timeIntervalSince(start) > timeCap { process.terminate(); break }
            usleep(2_000)
        }
        process.waitUntilExit()
        let seconds = Date().timeIntervalSince(start)
        let stdout = (try? String(contentsOf: out, encoding: .utf8)) ?? ""
        let stderr = (try? String(contentsOf: err, encoding: .utf8)) ?? ""
        return CappedRun(status: process.terminationStatus, signaled: process.terminationReason == .uncaughtSignal, seconds: seconds,
                         stdout: stdout, stderr: stderr)
    }
}

@Suite("robustness corpus: traps, paths, budgets, inputs that are outputs")
struct RobustnessCorpusTests {
    static let timeCapSeconds = 60.0

    /// Runs `arguments` and checks the exit status, that no signal ended it and that it stayed in
    /// the caps; returns the run for further checks.
    @discardableResult
    static func expect(_ arguments: [String], in folder: URL, status: Int32, stderr expected: String? = nil,
                       sourceLocation: SourceLocation = #_sourceLocation) throws -> CappedRun {
        let result = try CappedRun.run(arguments, in: folder)
        let command = arguments.joined(separator: " ")
        #expect(!result.signaled, "\(command): ended by a signal", sourceLocation: sourceLocation)
        #expect(result.seconds < timeCapSeconds, "\(command) took \(result.seconds) s", sourceLocation: sourceLocation)
        #expect(result.status == status, "\(command): exit \(result.status), expected \(status); stderr: \(result.stderr)", sourceLocation: sourceLocation)
        if let expected { #expect(result.stderr == expected, "\(command)", sourceLocation: sourceLocation) }
        return result
    }

    static func write(_ bytes: [UInt8], _ name: String, in folder: URL) throws -> String {
        let path = folder.appendingPathComponent(name).path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    // MARK: - Builders

    /// A float32 tensor over storage `key` of `numel` elements, shaped `size` (contiguous).
    static func tensor(_ key: String, _ size: [Int64]) -> [UInt8] {
        P.floatTensor(key: key, numel: size.reduce(1, *), size: size)
    }

    /// A Lightning-style checkpoint of an 8→1 network with an SGD state, whose `epoch` and
    /// `global_step` are the given pickle values; `state` replaces the (empty) optimizer state.
    static func checkpoint(epoch: [UInt8], globalStep: [UInt8], optimizerGroup: [(String, [UInt8])]? = nil,
                           state: [UInt8] = P.emptyDict, extraStorages: [[UInt8]] = []) -> [UInt8] {
        let sgd: [(String, [UInt8])] = [
            ("lr", P.float(0.01)), ("momentum", P.float(0)), ("dampening", P.int(0)), ("weight_decay", P.int(0)),
            ("nesterov", P.newFalse), ("maximize", P.newFalse), ("foreach", P.none), ("differentiable", P.newFalse),
            ("fused", P.none), ("params", P.list([P.int(0), P.int(1)])),
        ]
        let group = P.dict(optimizerGroup ?? sgd)
        let optimizer = P.dict([("state", state), ("param_groups", P.list([group]))])
        let top = P.dict([
            ("epoch", epoch), ("global_step", globalStep), ("pytorch-lightning_version", P.string("2.6.6")),
            ("state_dict", P.stateDict([("linear1.weight", tensor("0", [1, 8])), ("linear1.bias", tensor("1", [1]))])),
            ("optimizer_states", P.list([optimizer])),
        ])
        let weights = float32Bytes([0.1, -0.2, 0.3, -0.4, 0.5, -0.6, 0.7, -0.8])
        return TorchZip(pickle: P.pickle(top), storages: [weights, float32Bytes([0.05])] + extraStorages).bytes
    }

    /// A safetensors 8→`outputs` network (`linear1.weight`, `linear1.bias`) with `metadata`.
    static func network(outputs: Int = 1, metadata: [String: String] = [:]) -> [UInt8] {
        SafetensorsBytes.file([
            ("linear1.weight", "F32", [outputs, 8], float32Bytes((0..<(8 * outputs)).map { Float($0) / 100 })),
            ("linear1.bias", "F32", [outputs], float32Bytes([Float](repeating: 0, count: outputs))),
        ], metadata: metadata.isEmpty ? nil : metadata.sorted { $0.key < $1.key }.map { ($0.key, $0.value) })
    }

    /// A CSV of `rows` rows of 8 features and a target.
    static func csv(rows: [[String]]) -> [UInt8] {
        Array(((["a,b,c,d,e,f,g,h,y"] + rows.map { $0.joined(separator: ",") }).joined(separator: "\n") + "\n").utf8)
    }

    static func row(_ value: String, target: String) -> [String] { [String](repeating: value, count: 8) + [target] }

    // MARK: - Traps: numbers from files and the command line

    @Test("a checkpoint's epoch or global_step of NaN, ±inf, 1e300, negative or beyond Int64: inspect shows the file, train --resume refuses it by name")
    func checkpointProgressValues() throws {
        let folder = try Fixture.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let twoToThe70 = P.long1(bytes: [0, 0, 0, 0, 0, 0, 0, 0, 0x40])
        let cases: [(String, [UInt8], String)] = [
            ("nan", P.float(.nan), "nan"), ("inf", P.float(.infinity), "inf"), ("-inf", P.float(-.infinity), "-inf"),
            ("1e300", P.float(1e300), "1e+300"), ("half", P.float(2.5), "2.5"), ("negative", P.int(-5), "-5"),
            ("2^70", twoToThe70, "1180591620717411303424"), ("string", P.string("3"), "'3'"),
        ]
        for (label, value, shown) in cases {
            for key in ["epoch", "global_step"] {
                let bytes = key == "epoch" ? Self.checkpoint(epoch: value, globalStep: P.int(48)) : Self.checkpoint(epoch: P.int(2), globalStep: value)
                let path = try Self.write(bytes, "\(key)-\(label).ckpt", in: folder)
                let inspected = try Self.expect(["inspect", path], in: folder, status: 0, stderr: "")
                #expect(inspected.stdout.contains("state_dict.linear1.weight"), "inspect \(key) \(label)")
                try Self.expect(["verify", path], in: folder, status: 0)
                try Self.expect(["train", "--resume", path, "--epochs", "3"], in: folder, status: 2,
                                stderr: "modelfile: error: \(path): \(key) is \(shown); resuming needs a whole number from 0 to 9223372036854775807\n")
            }
        }
        // Control: whole numbers resume.
        let good = try Self.write(Self.checkpoint(epoch: P.int(2), globalStep: P.int(48)), "good.ckpt", in: folder)
        let resumed = try Self.expect(["train", "--resume", good, "--epochs", "3"], in: folder, status: 0)
        #expect(resumed.stdout.hasPrefix("Epoch[3/3],loss:"))
        // A float is not a count, even a whole one (Lightning writes ints).
        let whole = try Self.write(Self.checkpoint(epoch: P.float(2), globalStep: P.int(48)), "whole.ckpt", in: folder)
        try Self.expect(["train", "--resume", whole, "--epochs", "3"], in: folder, status: 2,
                        stderr: "modelfile: error: \(whole): epoch is 2.0; resuming needs a whole number from 0 to 9223372036854775807\n")
        // A global step at Int64.max cannot count one more step.
        let full = try Self.write(Self.checkpoint(epoch: P.int(0), globalStep: P.int(Int64.max)), "full.ckpt", in: folder)
        try Self.expect(["train", "--resume", full, "--epochs", "1"], in: folder, status: 2,
                        stderr: "modelfile: error: the global step 9223372036854775807 cannot count further steps\n")
    }

    @Test("an optimizer step of NaN or 1e300 is shown as it is by inspect")
    func optimizerStepValues() throws {
        let folder = try Fixture.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let adam: [(String, [UInt8])] = [
            ("lr", P.float(0.001)), ("betas", P.tuple([P.float(0.9), P.float(0.999)])), ("eps", P.float(1e-8)),
            ("weight_decay", P.int(0)), ("amsgrad", P.newFalse), ("params", P.list([P.int(0), P.int(1)])),
        ]
        for (label, step, shown) in [("nan", P.float(.nan), "step nan"), ("huge", P.float(1e300), "step 1e+300"),
                                     ("tensor-nan", Self.tensor("2", []), "step nan"), ("whole", P.float(12), "step 12")] {
            let state = P.intKeyedDict([(0, P.dict([("step", step)]))])
            let storages = label == "tensor-nan" ? [float32Bytes([.nan])] : []
            let path = try Self.write(Self.checkpoint(epoch: P.int(1), globalStep: P.int(4), optimizerGroup: adam, state: state, extraStorages: storages),
                                      "step-\(label).ckpt", in: folder)
            let result = try Self.expect(["inspect", path], in: folder, status: 0, stderr: "")
            #expect(result.stdout.contains(", \(shown), 2 parameters [0…1], 1 with state\n"), "\(label): \(result.stdout)")
        }
    }

    @Test("meta tensors whose sizes add past Int64 are listed with saturated totals; converting them is refused by the read budget")
    func metaTensorTotals() throws {
        let folder = try Fixture.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let meta = P.rebuild("_rebuild_meta_tensor_no_storage", [P.global("torch", "float32"), P.ints([1 << 62]), P.ints([1]), P.newFalse])
        let bytes = TorchZip(pickle: P.pickle(P.stateDict((0..<4).map { ("m\($0)", meta) }))).bytes
        let path = try Self.write(bytes, "meta.pth", in: folder)
        let result = try Self.expect(["inspect", "--json", path], in: folder, status: 0, stderr: "")
        let document = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let totals = try #require(document["totals"] as? [String: Any])
        #expect((totals["parameters"] as? NSNumber)?.int64Value == Int64.max, "4 × 2^62 elements saturate")
        let output = folder.appendingPathComponent("out.safetensors").path
        let converted = try Self.expect(["convert", path, output], in: folder, status: 2)
        #expect(converted.stderr.hasPrefix("modelfile: error: \(path): converting its 4 tensors needs 9223372036854775807 bytes, over the read budget of "))
        #expect(!FileManager.default.fileExists(atPath: output))
    }

    @Test("train never traps: bad settings, bad data, huge and non-finite losses, networks that cannot work")
    func trainingInputs() throws {
        let folder = try Fixture.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let ones = (0..<10).map { Self.row("\($0)", target: String($0 % 2)) }
        let data = try Self.write(Self.csv(rows: ones), "data.csv", in: folder)
        let e = "modelfile: error: "
        // Usage errors (exit 64).
        for arguments in [["--batch-size", "0"], ["--validation-split", "1.0"], ["--validation-split", "nan"], ["--layers", "8,0,1"],
                          ["--layers", "8,99999999999999999999,1"], ["--epochs", "-1"], ["--lr", "inf"]] {
            let result = try Self.expect(["train", "--data", data] + arguments, in: folder, status: 64)
            #expect(!result.stderr.isEmpty, "\(arguments)")
        }
        // Data the parser refuses.
        let cases: [(String, [UInt8], String)] = [
            ("empty.csv", [], "CSV: no header line"),
            ("header.csv", Self.csv(rows: []), "CSV: the header is not followed by any data lines"),
            ("nan.csv", Self.csv(rows: [Self.row("nan", target: "1")]), "CSV line 2, column \"a\": \"nan\" is not a number"),
            ("inf.csv", Self.csv(rows: [Self.row("1", target: "inf")]), "CSV line 2, column \"y\": \"inf\" is not a number"),
            ("huge.csv", Self.csv(rows: [Self.row("1e300", target: "1")]), "CSV line 2, column \"a\": \"1e300\" is not a number"),
            ("binary.csv", [0xFF, 0xFE, 0x00, 0x41], "cannot read the file (not UTF-8 text)"),
        ]
        for (name, bytes, message) in cases {
            let path = try Self.write(bytes, name, in: folder)
            let expected = "\(e)\(path): \(message)\n"
            try Self.expect(["train", "--data", path, "--epochs", "1"], in: folder, status: 2, stderr: expected)
        }
        // One row, and a batch larger than the data, train.
        let one = try Self.write(Self.csv(rows: [Self.row("1", target: "1")]), "one.csv", in: folder)
        try Self.expect(["train", "--data", one, "--epochs", "2"], in: folder, status: 0)
        try Self.expect(["train", "--data", data, "--epochs", "2", "--batch-size", "1000000"], in: folder, status: 0)
        // A validation split that leaves nothing to train on.
        try Self.expect(["train", "--data", one, "--validation-split", "0.9", "--epochs", "1"], in: folder, status: 2,
                        stderr: "\(e)--validation-split 0.9 holds out all 1 rows; no rows are left to train on\n")
        // Networks that cannot work with the loss or are too large.
        try Self.expect(["train", "--data", data, "--layers", "8,6,2", "--epochs", "1"], in: folder, status: 2,
                        stderr: "\(e)the network has 2 outputs; bce needs exactly 1 (the target is one column)\n")
        try Self.expect(["train", "--data", data, "--layers", "8,6,2", "--loss", "mse", "--epochs", "1"], in: folder, status: 2,
                        stderr: "\(e)the network has 2 outputs; mse needs exactly 1 (the target is one column)\n")
        try Self.expect(["train", "--data", data, "--layers", "8,100000000,1", "--epochs", "1"], in: folder, status: 2,
                        stderr: "\(e)layers 8,100000000,1 would hold 1000000001 values; train handles at most 67108864\n")
        let many = try Self.write(Self.csv(rows: (0..<70_000).map { Self.row(String($0 % 7), target: String($0 % 2)) }), "many.csv", in: folder)
        try Self.expect(["train", "--data", many, "--layers", "8,1000,1", "--batch-size", "70000", "--epochs", "1"], in: folder, status: 2,
                        stderr: "\(e)one step of 70000 rows through layers of 1009 units would hold 70630000 values; train handles at most 67108864\n")
        // Labels outside the classes of cross-entropy.
        let labels = try Self.write(Self.csv(rows: [Self.row("1", target: "0"), Self.row("2", target: "7")]), "labels.csv", in: folder)
        try Self.expect(["train", "--data", labels, "--layers", "8,3", "--loss", "cross-entropy", "--epochs", "1"], in: folder, status: 2,
                        stderr: "\(e)target column \"y\" holds 7.0; cross-entropy with 3 outputs needs class indices 0 to 2\n")
        // A loss that overflows float32 stops training; with --no-stop-on-nan every epoch runs and the model is saved.
        let overflow = try Self.write(Self.csv(rows: [Self.row("1", target: "3e38"), Self.row("2", target: "-3e38")]), "overflow.csv", in: folder)
        let out = folder.appendingPathComponent("overflow.safetensors").path
        let stopped = try Self.expect(["train", "--data", overflow, "--loss", "mse", "--layers", "8,1", "--epochs", "3", "--out", out],
                                      in: folder, status: 2,
                                      stderr: "\(e)epoch 1: the mean loss is inf; training stopped and nothing was written (--no-stop-on-nan trains on)\n")
        #expect(stopped.stdout == "Epoch[1/3],loss:inf\n")
        #expect(!FileManager.default.fileExists(atPath: out))
        let continued = try Self.expect(["train", "--data", overflow, "--loss", "mse", "--layers", "8,1", "--epochs", "3", "--out", out,
                                         "--no-stop-on-nan"], in: folder, status: 0)
        #expect(continued.stdout.components(separatedBy: "\n").filter { $0.hasPrefix("Epoch[") }.count == 3)
        #expect(FileManager.default.fileExists(atPath: out))
        // A huge but finite loss prints in full.
        let big = try Self.write(Self.csv(rows: [Self.row("0", target: "1e18"), Self.row("0", target: "1e18")]), "big.csv", in: folder)
        let printed = try Self.expect(["train", "--data", big, "--loss", "mse", "--layers", "8,1", "--epochs", "1"], in: folder, status: 0)
        let line = try #require(printed.stdout.split(separator: "\n").first.map(String.init))
        #expect(line.range(of: #"^Epoch\[1/1\],loss:[0-9]{36,37}\.000000$"#, options: .regularExpression) != nil, "\(line)")
    }

    @Test("predict never traps on a saved network whose shape, loss or statistics do not fit")
    func predictionInputs() throws {
        let folder = try Fixture.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let data = try Self.write(Self.csv(rows: [Self.row("1", target: "0"), Self.row("2", target: "9")]), "data.csv", in: folder)
        let e = "modelfile: error: "
        let twoOutputs = try Self.write(Self.network(outputs: 2), "two.safetensors", in: folder)
        try Self.expect(["predict", "--model", twoOutputs, "--data", data], in: folder, status: 2,
                        stderr: "\(e)\(twoOutputs): the network has 2 outputs; bce needs exactly 1 (the target is one column)\n")
        let described: [String: String] = [
            "modelfile.layers": "8,1", "modelfile.activation": "sigmoid", "modelfile.output_activation": "sigmoid", "modelfile.loss": "bce",
            "modelfile.standardization.mean": "0,0,0", "modelfile.standardization.std": "1,1,1",
        ]
        let statistics = try Self.write(Self.network(metadata: described), "stats.safetensors", in: folder)
        try Self.expect(["predict", "--model", statistics, "--data", data], in: folder, status: 2,
                        stderr: "\(e)\(statistics): the saved input standardisation is for 3 features; the data has 8 feature columns\n")
        try Self.expect(["train", "--init", statistics, "--data", data, "--epochs", "1"], in: folder, status: 2,
                        stderr: "\(e)the saved input standardisation is for 3 features; the data has 8 feature columns\n")
        var classes = described
        classes["modelfile.loss"] = "cross-entropy"
        classes["modelfile.output_activation"] = "identity"
        classes.removeValue(forKey: "modelfile.standardization.mean")
        classes.removeValue(forKey: "modelfile.standardization.std")
        let crossEntropy = try Self.write(Self.network(outputs: 3, metadata: classes), "classes.safetensors", in: folder)
        let predicted = try Self.expect(["predict", "--model", crossEntropy, "--data", data], in: folder, status: 0)
        #expect(predicted.stdout.hasSuffix("accuracy: 0.0000\n"), "a target of 9 with 3 classes is simply wrong, not a trap")
        let empty = try Self.write(SafetensorsBytes.file([("linear1.weight", "F32", [0, 8], []), ("linear1.bias", "F32", [0], [])]),
                                   "empty.safetensors", in: folder)
        try Self.expect(["predict", "--model", empty, "--data", data], in: folder, status: 2,
                        stderr: "\(e)\(empty): layers 8,0 include a layer of size 0; every layer needs at least one unit\n")
        try Self.expect(["train", "--init", empty, "--data", data, "--epochs", "1"], in: folder, status: 2,
                        stderr: "\(e)layers 8,0 include a layer of size 0; every layer needs at least one unit\n")
    }

    // MARK: - Paths that are not files

    @Test("a FIFO, socket, device, folder or symbolic link loop where a file is expected is refused by name, for every command and input")
    func nonRegularInputs() throws {
        let folder = try Fixture.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let fifo = folder.appendingPathComponent("fifo").path
        #expect(mkfifo(fifo, 0o600) == 0)
        let socketPath = folder.appendingPathComponent("socket").path
        let descriptor = try Self.boundSocket(at: socketPath)
        defer { close(descriptor) }
        let loop = folder.appendingPathComponent("loop").path
        #expect(symlink(loop, loop) == 0)
        let directory = folder.appendingPathComponent("dir").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false)
        var paths: [(String, String)] = [
            (fifo, "cannot open: is a FIFO (named pipe), not a regular file"),
            (socketPath, "cannot open: is a socket, not a regular file"),
            ("/dev/null", "cannot open: is a character device, not a regular file"),
            ("/dev/zero", "cannot open: is a character device, not a regular file"),
            (loop, "cannot open: a symbolic link loop (too many levels of symbolic links)"),
        ]
        if let block = Self.blockDevice() { paths.append((block, "cannot open: is a block device, not a regular file")) }
        let model = Fixture.path("safetensors/mlp.safetensors")
        let out = folder.appendingPathComponent("out.safetensors").path
        for (path, message) in paths {
            let expected = "modelfile: error: \(path): \(message)\n"
            for arguments in [["inspect", path], ["verify", path], ["convert", path, out], ["diff", path, model], ["diff", model, path],
                              ["strip", path, out], ["train", "--data", path, "--epochs", "1"], ["train", "--init", path, "--epochs", "1"],
                              ["train", "--resume", path, "--epochs", "1"], ["predict", "--model", path], ["predict", "--model", model, "--data", path],
                              ["inspect", "--json", path]] {
                try Self.expect(arguments, in: folder, status: 2, stderr: expected)
            }
            let scanned = try Self.expect(["scan", path], in: folder, status: 2)
            #expect(scanned.stderr == expected)
        }
        #expect(!FileManager.default.fileExists(atPath: out))
        // A folder where a file is needed is named as one.
        try Self.expect(["train", "--data", directory, "--epochs", "1"], in: folder, status: 2,
                        stderr: "modelfile: error: \(directory): cannot open: is a directory, not a file\n")
        try Self.expect(["predict", "--model", model, "--data", directory], in: folder, status: 2,
                        stderr: "modelfile: error: \(directory): cannot open: is a directory, not a file\n")
        let weightsFolder = folder.appendingPathComponent("weights").path
        try FileManager.default.createDirectory(atPath: weightsFolder, withIntermediateDirectories: false)
        try FileManager.default.copyItem(atPath: model, toPath: weightsFolder + "/model.safetensors")
        try Self.expect(["train", "--resume", weightsFolder, "--epochs", "1"], in: folder, status: 2,
                        stderr: "modelfile: error: \(weightsFolder): --resume needs a checkpoint file (.ckpt, or a torch checkpoint dict holding a state_dict); this is a directory\n")
        try Self.expect(["strip", weightsFolder, out], in: folder, status: 2,
                        stderr: "modelfile: error: \(weightsFolder): not a checkpoint dict (found a directory); strip works on .ckpt and torch checkpoint files\n")
        // A folder whose weights file is a FIFO, and a shard named by an index that is one.
        let fifoFolder = folder.appendingPathComponent("fifo-weights").path
        try FileManager.default.createDirectory(atPath: fifoFolder, withIntermediateDirectories: false)
        #expect(mkfifo(fifoFolder + "/model.safetensors", 0o600) == 0)
        try Self.expect(["inspect", fifoFolder], in: folder, status: 2,
                        stderr: "modelfile: error: \(fifoFolder): \(fifoFolder)/model.safetensors: cannot open: is a FIFO (named pipe), not a regular file\n")
        let sharded = folder.appendingPathComponent("sharded").path
        try FileManager.default.createDirectory(atPath: sharded, withIntermediateDirectories: false)
        let index = #"{"metadata": {}, "weight_map": {"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}}"#
        try index.write(toFile: sharded + "/model.safetensors.index.json", atomically: false, encoding: .utf8)
        try FileManager.default.copyItem(atPath: model, toPath: sharded + "/model-00001-of-00002.safetensors")
        #expect(mkfifo(sharded + "/model-00002-of-00002.safetensors", 0o600) == 0)
        let shardMessage = "shard model-00002-of-00002.safetensors: \(sharded)/model-00002-of-00002.safetensors: cannot open: is a FIFO (named pipe), not a regular file"
        for arguments in [["inspect", sharded], ["convert", sharded, out], ["inspect", sharded + "/model.safetensors.index.json"]] {
            try Self.expect(arguments, in: folder, status: 2, stderr: "modelfile: error: \(arguments[1]): \(shardMessage)\n")
        }
        // verify reports an unreadable shard as a finding of the set.
        let verified = try Self.expect(["verify", sharded], in: folder, status: 1)
        #expect(verified.stdout.contains("finding: \(shardMessage)\n"), "\(verified.stdout)")
    }

    // MARK: - Bounded resources

    @Test("one storage viewed by 100,000 tensors: listed, but reading them all is refused by the read budget; a rewrite writes it once")
    func oneStorageManyViews() throws {
        // The issue's case is a million views; a tenth of it with a budget limit of 16 MiB is the
        // same shape at a debug build's speed (the million, release build: see docs/security.md).
        let folder = try Fixture.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        // A 1 KiB storage and 100 × 1000 tensors, each its own rebuild call (5 bytes: BINGET the
        // function, BINGET the arguments, REDUCE) viewing all of it.
        let (outer, inner, limit) = (100, 1000, 16 << 20)
        let count = outer * inner
        let arguments = P.mark + P.storage(numel: 256) + P.int(0) + P.ints([256]) + P.ints([1]) + P.newFalse + P.orderedDict + P.tupleMark
        var pickle = P.proto2 + P.emptyDict + P.mark
        var first = true
        for i in 0..<outer {
            pickle += P.int(Int64(i)) + P.emptyDict + P.mark
            for j in 0..<inner {
                pickle += P.int(Int64(j))
                if first {
                    pickle += P.global("torch._utils", "_rebuild_tensor_v2") + P.put(0) + arguments + P.put(1) + P.reduce
                    first = false
                } else {
                    pickle += P.get(0) + P.get(1) + P.reduce
                }
            }
            pickle += P.setItems
        }
        pickle += P.setItems + P.stop
        let bytes = TorchZip(pickle: pickle, storages: [float32Bytes((0..<256).map(Float.init))]).bytes
        let path = try Self.write(bytes, "views.pth", in: folder)
        let limits = ["--limits", "maxMaterializedBytes=16MiB"]
        let allowance = 2 * bytes.count + limit
        let budget = "over the read budget of \(allowance) bytes (limit maxMaterializedBytes = \(limit), plus twice the file's \(bytes.count) bytes"
        let listed = try Self.expect(["inspect", "--json", path] + limits, in: folder, status: 0)
        #expect(listed.stdout.contains("\"tensors\": \(count)"))
        let hint = "; raise it with --limits maxMaterializedBytes=VALUE if the file is trusted\n"
        for name in ["out.safetensors", "out.pth", "out.ckpt"] {
            // Every name written in full: refused before anything is written.
            let output = folder.appendingPathComponent(name).path
            try Self.expect(["convert", path, output] + limits, in: folder, status: 2,
                            stderr: "modelfile: error: \(path): converting its \(count) tensors needs \(count * 1024) bytes, \(budget); 0 already materialised)" + hint)
            #expect(!FileManager.default.fileExists(atPath: output))
        }
        let read = allowance / 1024
        let verified = try Self.expect(["verify", path] + limits, in: folder, status: 1)
        #expect(verified.stdout.contains("finding: tensor \"\(read / inner).\(read % inner)\" needs 1024 bytes, \(budget); \(read * 1024) already materialised); \(count - read) of \(count) tensors not read\n"),
                "\(verified.stdout.suffix(600))")
        // strip keeps the tree: the tied views are one tensor, written once.
        let stripped = folder.appendingPathComponent("stripped.pth").path
        try Self.expect(["strip", path, stripped] + limits, in: folder, status: 0)
        let written = try FileManager.default.attributesOfItem(atPath: stripped)[.size] as? Int ?? 0
        #expect(written <= 2 * bytes.count, "a rewrite writes at most about twice its input: \(written) from \(bytes.count)")
        let reread = try Self.expect(["inspect", "--json", stripped] + limits, in: folder, status: 0)
        #expect(reread.stdout.contains("\"tensors\": \(count)"))
    }

    @Test("a pickle whose tree is a DAG of 2^60 paths is inspected, stripped and converted to .ckpt in linear time and size")
    func sharedTreeRewrite() throws {
        let folder = try Fixture.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        // hyper_parameters = L60, where L0 = [0] and L(k+1) = [Lk, Lk]: 61 lists, 2^60 paths. Each
        // list is memoized empty, then filled: its first item is built inline, the second fetched.
        var levels = P.emptyList + P.put(0) + P.int(0) + P.append
        for k in 0..<60 { levels = P.emptyList + P.put(UInt8(k + 1)) + P.mark + levels + P.get(UInt8(k)) + P.appends }
        let top = P.dict([
            ("epoch", P.int(1)), ("global_step", P.int(3)), ("pytorch-lightning_version", P.string("2.6.6")),
            ("state_dict", P.stateDict([("linear1.weight", Self.tensor("0", [1, 8])), ("linear1.bias", Self.tensor("1", [1]))])),
            ("hyper_parameters", levels), ("shared_again", P.get(60)),
        ])
        let bytes = TorchZip(pickle: P.pickle(top), storages: [float32Bytes((0..<8).map(Float.init)), float32Bytes([1])]).bytes
        let path = try Self.write(bytes, "dag.ckpt", in: folder)
        try Self.expect(["inspect", path], in: folder, status: 0, stderr: "")
        for (name, arguments) in [("stripped.ckpt", ["strip", path]), ("converted.ckpt", ["convert", path])] {
            let output = folder.appendingPathComponent(name).path
            let result = try Self.expect(arguments + [output], in: folder, status: 0)
            #expect(result.seconds < 10, "\(name): \(result.seconds) s")
            let written = try FileManager.default.attributesOfItem(atPath: output)[.size] as? Int ?? 0
            #expect(written <= 2 * bytes.count, "\(name): \(written) bytes from \(bytes.count)")
            let inspected = try Self.expect(["inspect", "--json", output], in: folder, status: 0)
            #expect(inspected.stdout.contains("\"name\": \"state_dict.linear1.weight\""))
            try Self.expect(["diff", path, output], in: folder, status: 0)
        }
    }

    @Test("byte-swapped copies, zero-stride expansions and inflated entries count against one budget")
    func budgetKinds() throws {
        let folder = try Fixture.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let e = "modelfile: error: "
        // Three whole views of one 1000-float storage in a big-endian archive: the third copy passes
        // twice the file's size.
        let view = P.rebuildV2(P.storage(numel: 1000), size: [1000], stride: [1])
        let bigEndian = TorchZip(pickle: P.pickle(P.stateDict([("a", view), ("b", view), ("c", view)])),
                                 storages: [(0..<1000).flatMap { P.le(Float($0).bitPattern.bigEndian) }], byteorder: "big").bytes
        let swapped = try Self.write(bigEndian, "big.pth", in: folder)
        let limit = ["--limits", "maxMaterializedBytes=1"]
        let verified = try Self.expect(["verify", swapped] + limit, in: folder, status: 1)
        #expect(verified.stdout.contains("finding: tensor \"c\" needs 4000 bytes, over the read budget of \(2 * bigEndian.count + 1) bytes (limit maxMaterializedBytes = 1, plus twice the file's \(bigEndian.count) bytes; 8000 already materialised); 1 of 3 tensors not read"),
                "\(verified.stdout)")
        try Self.expect(["verify", swapped], in: folder, status: 0)
        // A zero-stride view of one float as 2^30 elements.
        let expanded = TorchZip(pickle: P.pickle(P.stateDict([("w", P.rebuildV2(P.storage(numel: 1), size: [1 << 30], stride: [0]))])),
                                storages: [float32Bytes([1])]).bytes
        let zero = try Self.write(expanded, "zero.pth", in: folder)
        try Self.expect(["convert", zero, folder.appendingPathComponent("zero.safetensors").path], in: folder, status: 2,
                        stderr: "\(e)\(zero): converting its 1 tensors needs 4294967296 bytes, over the read budget of \(2 * expanded.count + (1 << 29)) bytes (limit maxMaterializedBytes = 536870912, plus twice the file's \(expanded.count) bytes; 0 already materialised); raise it with --limits maxMaterializedBytes=VALUE if the file is trusted\n")
        // A deflated storage record of 64 MiB (a few hundred KiB on disk) with a limit of 1 MiB.
        let inflated = 64 << 20
        // The tensor is one float of the record: the inflation is what goes over.
        let oneOfMany = P.rebuildV2(P.storage(numel: Int64(inflated / 4)), size: [1], stride: [1])
        var zip = TorchZip(pickle: P.pickle(P.stateDict([("w", oneOfMany)])), storages: [[]])
        let storageIndex = try #require(zip.index(of: "archive/data/0"))
        zip.records[storageIndex].deflated = Deflate.run(of: 0, count: inflated)
        zip.records[storageIndex].uncompressedByteCount = UInt32(inflated)
        zip.records[storageIndex].crc = CRC32Table.checksum([UInt8](repeating: 0, count: inflated))
        let bomb = zip.bytes
        let bombPath = try Self.write(bomb, "deflated.pth", in: folder)
        let report = try Self.expect(["verify", bombPath, "--limits", "maxMaterializedBytes=1MiB"], in: folder, status: 1)
        #expect(report.stdout.contains("finding: tensor \"w\": zip entry archive/data/0 needs 67108864 bytes, over the read budget of \(2 * bomb.count + (1 << 20)) bytes (limit maxMaterializedBytes = 1048576, plus twice the file's \(bomb.count) bytes; 4 already materialised); 1 of 1 tensors not read\n"),
                "\(report.stdout)")
        try Self.expect(["verify", bombPath], in: folder, status: 0)
    }

    @Test("scan charges inflated pickle records to the read budget too")
    func scanBudget() throws {
        let folder = try Fixture.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        // data.pkl deflated: a small pickle, then 64 MiB of zeros after its STOP.
        let pickle = P.pickle(P.stateDict([]))
        let inflated = 64 << 20
        var zip = TorchZip(pickle: pickle, storages: [])
        let pickleIndex = try #require(zip.index(of: "archive/data.pkl"))
        let whole = pickle + [UInt8](repeating: 0, count: inflated - pickle.count)
        zip.records[pickleIndex].deflated = Deflate.run(prefix: pickle, of: 0, count: inflated - pickle.count)
        zip.records[pickleIndex].uncompressedByteCount = UInt32(inflated)
        zip.records[pickleIndex].crc = CRC32Table.checksum(whole)
        let bomb = zip.bytes
        let path = try Self.write(bomb, "deflated.pth", in: folder)
        try Self.expect(["scan", path, "--limits", "maxMaterializedBytes=1MiB"], in: folder, status: 2,
                        stderr: "modelfile: error: \(path): zip entry archive/data.pkl needs 67108864 bytes, over the read budget of "
                            + "\(2 * bomb.count + (1 << 20)) bytes (limit maxMaterializedBytes = 1048576, plus twice the file's \(bomb.count) bytes; "
                            + "0 already materialised); raise it with --limits maxMaterializedBytes=VALUE if the file is trusted\n")
        let scanned = try Self.expect(["scan", path], in: folder, status: 1)
        #expect(scanned.stdout.contains("bytes after STOP, which no load reads"))
    }

    // MARK: - The input is never the output

    @Test("convert, strip and train refuse an output that is an input (the file, a link to it, a shard, a folder holding it), even with --force")
    func inputIsNeverOutput() throws {
        let folder = try Fixture.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        func copy(_ fixture: String, _ name: String) throws -> String {
            let path = folder.appendingPathComponent(name).path
            try FileManager.default.copyItem(atPath: Fixture.path(fixture), toPath: path)
            return path
        }
        let pth = try copy("torch/state_dict.pth", "model.pth")
        let ckpt = try copy("lightning/sgd_momentum.ckpt", "run.ckpt")
        let safetensors = try copy("safetensors/mlp.safetensors", "mlp.safetensors")
        let hard = folder.appendingPathComponent("hard.pth").path
        #expect(link(pth, hard) == 0)
        let soft = folder.appendingPathComponent("soft.pth").path
        #expect(symlink(pth, soft) == 0)
        let csv = folder.appendingPathComponent("data.csv").path
        try Data(Self.csv(rows: (0..<4).map { Self.row("\($0)", target: String($0 % 2)) })).write(to: URL(fileURLWithPath: csv))
        let sharded = folder.appendingPathComponent("sharded").path
        try FileManager.default.copyItem(atPath: Fixture.path("safetensors/sharded"), toPath: sharded)
        let shardNames = try FileManager.default.contentsOfDirectory(atPath: sharded).filter { $0.hasSuffix(".safetensors") }.sorted()
        let shard = sharded + "/" + (shardNames.first ?? "")

        func same(_ output: String, _ input: String) -> String {
            output == input
                ? "modelfile: error: \(output): cannot write: is an input of this command; the input is never the output, even with --force (choose another path)\n"
                : "modelfile: error: \(output): cannot write: is the same file as the input \(input); the input is never the output, even with --force (choose another path)\n"
        }
        func holds(_ output: String, _ input: String) -> String {
            "modelfile: error: \(output): cannot write: holds the input \(input); the input is never the output (choose another folder)\n"
        }
        let cases: [([String], String)] = [
            (["convert", pth, pth, "--force"], same(pth, pth)),
            (["convert", pth, pth], same(pth, pth)),
            (["convert", pth, hard, "--force", "--to", "pth"], same(hard, pth)),
            (["convert", pth, soft, "--force", "--to", "pth"], same(soft, pth)),
            (["convert", soft, pth, "--force"], same(pth, soft)),
            (["convert", safetensors, safetensors, "--force"], same(safetensors, safetensors)),
            (["convert", ckpt, ckpt, "--force"], same(ckpt, ckpt)),
            (["convert", pth, folder.path, "--max-shard-size", "1KB", "--force"], holds(folder.path, pth)),
            (["convert", sharded, sharded, "--max-shard-size", "1KB", "--force"],
             "modelfile: error: \(sharded): cannot write: is an input of this command; the input is never the output (choose another folder)\n"),
            (["convert", sharded + "/model.safetensors.index.json", sharded, "--max-shard-size", "1KB", "--force"],
             holds(sharded, sharded + "/model.safetensors.index.json")),
            (["convert", sharded, shard, "--force"], same(shard, shard)),
            (["convert", sharded + "/model.safetensors.index.json", sharded + "/model.safetensors.index.json", "--force", "--to", "safetensors"],
             same(sharded + "/model.safetensors.index.json", sharded + "/model.safetensors.index.json")),
            (["strip", ckpt, ckpt, "--force"], same(ckpt, ckpt)),
            (["strip", pth, hard, "--force"], same(hard, pth)),
            (["train", "--data", csv, "--plot", csv, "--force", "--epochs", "1"], same(csv, csv)),
            (["train", "--data", csv, "--out", csv + ".safetensors", "--plot", csv, "--force", "--epochs", "1"], same(csv, csv)),
            (["train", "--init", safetensors, "--out", safetensors, "--force", "--epochs", "1"], same(safetensors, safetensors)),
            (["train", "--resume", ckpt, "--out", ckpt, "--force", "--epochs", "1"], same(ckpt, ckpt)),
        ]
        let before = try Self.snapshot(folder)
        for (arguments, expected) in cases {
            try Self.expect(arguments, in: folder, status: 2, stderr: expected)
            #expect(try Self.snapshot(folder) == before, "\(arguments.joined(separator: " ")) wrote nothing and changed nothing")
        }
        // Controls: another path in the same folder is fine.
        try Self.expect(["convert", pth, folder.appendingPathComponent("copy.safetensors").path], in: folder, status: 0)
        try Self.expect(["strip", ckpt, folder.appendingPathComponent("stripped.ckpt").path], in: folder, status: 0)
    }

    // MARK: - Helpers

    /// Every file under `folder` (recursively) with its size, modification time and inode.
    static func snapshot(_ folder: URL) throws -> [String: [Int]] {
        var result: [String: [Int]] = [:]
        let enumerator = FileManager.default.enumerator(atPath: folder.path)
        while let name = enumerator?.nextObject() as? String {
            var info = stat()
            guard lstat(folder.appendingPathComponent(name).path, &info) == 0 else { continue }
            result[name] = [Int(info.st_size), Int(info.st_mtim.tv_sec), Int(info.st_mtim.tv_nsec), Int(info.st_ino)]
        }
        return result
    }

    /// The first block device under /dev, if the system has one.
    static func blockDevice() -> String? {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: "/dev")) ?? []
        for name in names.sorted() {
            var info = stat()
            if stat("/dev/" + name, &info) == 0, (info.st_mode & S_IFMT) == S_IFBLK { return "/dev/" + name }
        }
        return nil
    }

    /// A Unix-domain socket bound at `path` (the caller closes it).
    static func boundSocket(at path: String) throws -> Int32 {
        let descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        #expect(descriptor >= 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            for (i, byte) in path.utf8.prefix(buffer.count - 1).enumerated() { buffer[i] = byte }
        }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        #expect(result == 0, "bind \(path)")
        return descriptor
    }
}
