import Foundation
import Testing
import TestSupport

/// Runs the built `modelfile` binary, as a user would.
struct CLIResult {
    let status: Int32
    let stdout: String
    let stderr: String
}

/// The built `modelfile` executable: the test bundle and the executable share a build folder.
enum CLIBinary {
    static let url: URL = {
        let folder = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        let binary = folder.appendingPathComponent("modelfile")
        return FileManager.default.fileExists(atPath: binary.path) ? binary : Fixture.packageRoot.appendingPathComponent(".build/debug/modelfile")
    }()
}

func modelfile(_ arguments: String..., sourceLocation: SourceLocation = #_sourceLocation) throws -> CLIResult {
    try modelfile(arguments)
}

func modelfile(_ arguments: [String]) throws -> CLIResult {
    let process = Process()
    process.executableURL = CLIBinary.url
    process.arguments = arguments
    var environment = ProcessInfo.processInfo.environment
    environment["NO_COLOR"] = "1"
    process.environment = environment
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    let stdout = out.fileHandleForReading.readDataToEndOfFile()
    let stderr = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return CLIResult(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self), stderr: String(decoding: stderr, as: UTF8.self))
}

@Suite("modelfile command")
struct CLITests {
    @Test("inspect prints the table and exits 0")
    func inspect() throws {
        let result = try modelfile("inspect", Fixture.path("safetensors/mlp.safetensors"))
        #expect(result.status == 0)
        #expect(result.stdout.contains("linear1.weight  F32    [6, 8]"))
        #expect(result.stdout.contains("8 tensors, 95 parameters, 380 B"))
        #expect(result.stderr.isEmpty)
    }

    @Test("inspect --json prints one document whose first key is schema")
    func inspectJSON() throws {
        let result = try modelfile("inspect", "--json", Fixture.path("safetensors/dtypes.safetensors"))
        #expect(result.status == 0)
        #expect(result.stdout.hasPrefix("{\n  \"schema\": \"modelfile.inspect/1\""))
        let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
        #expect((object?["tensors"] as? [Any])?.count == 22)
    }

    @Test("bad input: one line on stderr naming the file and the fault, exit 2")
    func badInput() throws {
        let path = Fixture.path("safetensors/bad_overlap.safetensors")
        let result = try modelfile("inspect", path)
        #expect(result.status == 2)
        #expect(result.stdout.isEmpty)
        #expect(result.stderr == "modelfile: error: \(path): tensor \"u\": data begins at buffer offset 4; expected 8 (tensors must tile the buffer with no gap or overlap)\n")
        #expect(try modelfile("inspect", "/nonexistent/model.safetensors").status == 2)
        #expect(try modelfile("convert", "/nonexistent/a.safetensors", "/tmp/b.safetensors").status == 2)
    }

    @Test("usage errors exit 64")
    func usage() throws {
        #expect(try modelfile("inspect").status == 64)
        #expect(try modelfile("convert", "only-one-argument").status == 64)
        #expect(try modelfile("convert", "bogus-to-safetensors", "a", "b").status == 64)
        #expect(try modelfile("convert", "a", "b", "--max-shard-size", "lots").status == 64)
        #expect(try modelfile("frobnicate").status == 64)
    }

    @Test("convert refuses to overwrite without --force and checks the spelling's input format")
    func convert() throws {
        let folder = try Fixture.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let output = folder.appendingPathComponent("out.safetensors").path
        let source = Fixture.path("safetensors/mlp.safetensors")
        #expect(try modelfile("convert", "safetensors-to-safetensors", source, output, "--dtype", "bf16").status == 0)
        let again = try modelfile("convert", source, output)
        #expect(again.status == 2)
        #expect(again.stderr.contains("file exists (use --force to overwrite)"))
        #expect(try modelfile("convert", source, output, "--force").status == 0)
        let wrongSpelling = try modelfile("convert", "pth-to-safetensors", source, folder.appendingPathComponent("x.safetensors").path)
        #expect(wrongSpelling.status == 2)
        #expect(wrongSpelling.stderr.contains("pth-to-safetensors expects a pth file; this is safetensors"))
    }

    @Test("verify exits 0 when clean and 1 with findings")
    func verify() throws {
        #expect(try modelfile("verify", Fixture.path("safetensors/mlp.safetensors")).status == 0)
        let broken = try modelfile("verify", Fixture.path("safetensors/bad_trailing_bytes.safetensors"))
        #expect(broken.status == 1)
        #expect(broken.stdout.contains("1 bytes follow the last tensor"))
    }
}

@Suite("modelfile command on PyTorch files")
struct TorchCLITests {
    @Test("scan: exit 0 for a clean file, 1 naming each global outside the allowlist")
    func scan() throws {
        let clean = try modelfile("scan", Fixture.path("torch/state_dict.pth"), Fixture.path("torch/views_legacy.pt"), Fixture.path("safetensors/mlp.safetensors"))
        #expect(clean.status == 0)
        #expect(clean.stdout.contains("allowed  torch._utils._rebuild_tensor_v2"))
        let module = try modelfile("scan", "--json", Fixture.path("torch/whole_module.pth"))
        #expect(module.status == 1)
        let json = try JSONSerialization.jsonObject(with: Data(module.stdout.utf8)) as? [String: Any]
        #expect(json?["schema"] as? String == "modelfile.scan/1")
        #expect((json?["findings"] as? [String])?.first?.contains("GLOBAL __main__.FNNModel is outside the weights-only allowlist") == true)
    }

    @Test("inspect refuses a pickled module, naming the global and its offset (exit 2)")
    func refuses() throws {
        let result = try modelfile("inspect", Fixture.path("torch/whole_module.pth"))
        #expect(result.status == 2)
        #expect(result.stderr.hasSuffix(
            "whole_module/data.pkl at byte 2: unsupported global __main__.FNNModel, outside the weights-only allowlist "
                + "(--allow-unknown-objects reads it as inert data; nothing is imported or run)\n"))
        #expect(try modelfile("inspect", "--allow-unknown-objects", Fixture.path("torch/whole_module.pth")).status == 0)
    }

    @Test("convert between pth, legacy pth and safetensors; diff across formats")
    func convertAndDiff() throws {
        let folder = try Fixture.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let legacy = Fixture.path("torch/state_dict_legacy.pt")
        let st = folder.appendingPathComponent("sd.safetensors").path
        let pth = folder.appendingPathComponent("sd.pth").path
        #expect(try modelfile("convert", "pth-to-safetensors", legacy, st).status == 0)
        #expect(try modelfile("convert", "safetensors-to-pth", st, pth).status == 0)
        #expect(try modelfile("diff", legacy, st).status == 0)
        #expect(try modelfile("diff", st, pth).status == 0)
        #expect(try modelfile("diff", Fixture.path("safetensors/mlp.safetensors"), legacy).status == 0, "the same seeded weights")
        let differs = try modelfile("diff", Fixture.path("safetensors/mlp_bf16.safetensors"), legacy)
        #expect(differs.status == 1)
        #expect(differs.stdout.contains("8 common tensors (0 identical)"))
        let json = try modelfile("diff", "--json", st, Fixture.path("torch/checkpoint.pth"))
        #expect(json.status == 1)
        let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        #expect((object?["only_in_a"] as? [String])?.count == 8)
        #expect(try modelfile("inspect", pth).stdout.contains("format  pytorch-zip"))
    }

    @Test("--select and --strip-prefix pick a subtree of a checkpoint")
    func select() throws {
        let folder = try Fixture.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let out = folder.appendingPathComponent("model.safetensors").path
        #expect(try modelfile("convert", Fixture.path("torch/checkpoint.pth"), out, "--select", "model").status == 0)
        let listing = try modelfile("inspect", out)
        #expect(listing.stdout.contains("linear1.weight") && !listing.stdout.contains("optimizer"))
        #expect(try modelfile("diff", out, Fixture.path("torch/state_dict.pth")).status == 1, "different weights, same names")
        let none = try modelfile("convert", Fixture.path("torch/checkpoint.pth"), folder.appendingPathComponent("x.safetensors").path, "--select", "nope")
        #expect(none.status == 2 && none.stderr.contains("--select nope matches no tensors"))
    }
}

@Suite("modelfile command on checkpoints")
struct CheckpointCLITests {
    @Test("strip writes a smaller checkpoint that still inspects; --keep validates its choices")
    func strip() throws {
        let folder = try Fixture.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let output = folder.appendingPathComponent("small.ckpt").path
        let result = try modelfile("strip", Fixture.path("lightning/adam_steplr.ckpt"), output)
        #expect(result.status == 0)
        #expect(result.stderr.contains("removed loops, callbacks, optimizer_states, lr_schedulers"))
        let inspected = try modelfile("inspect", output)
        #expect(inspected.status == 0 && inspected.stdout.contains("format  lightning-ckpt"))
        #expect(!inspected.stdout.contains("optimizer 0"))
        #expect(try modelfile("strip", Fixture.path("lightning/adam_steplr.ckpt"), output).status == 2, "no overwrite without --force")
        #expect(try modelfile("strip", Fixture.path("lightning/adam_steplr.ckpt"), output, "--keep", "optimizer", "--force").status == 0)
        #expect(try modelfile("inspect", output).stdout.contains("optimizer 0: Adam"))
        #expect(try modelfile("strip", Fixture.path("lightning/adam_steplr.ckpt"), output, "--keep", "everything").status == 64)
    }

    @Test("ckpt-to-safetensors and inspect of a checkpoint")
    func convertAndInspect() throws {
        let folder = try Fixture.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let output = folder.appendingPathComponent("w.safetensors").path
        #expect(try modelfile("convert", "ckpt-to-safetensors", Fixture.path("lightning/sgd_momentum.ckpt"), output).status == 0)
        #expect(try modelfile("inspect", output).stdout.contains("linear4.bias"))
        let json = try modelfile("inspect", "--json", Fixture.path("lightning/sgd_momentum.ckpt"))
        let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        let checkpoint = object?["checkpoint"] as? [String: Any]
        let optimizer = (checkpoint?["optimizers"] as? [[String: Any]])?.first
        #expect(optimizer?["kind"] as? String == "SGD")
        #expect(optimizer?["momentum"] as? Double == 0.9)
        #expect(object?["format"] as? String == "lightning-ckpt")
    }
}

@Suite("modelfile train and predict")
struct TrainCLITests {
    @Test("train prints one Epoch[i/N],loss:x.xxxxxx line per epoch, then the accuracy")
    func train() throws {
        let folder = try Fixture.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let out = folder.appendingPathComponent("m.safetensors").path
        let plot = folder.appendingPathComponent("loss.svg").path
        let result = try modelfile("train", "--epochs", "3", "--out", out, "--plot", plot)
        #expect(result.status == 0)
        let lines = result.stdout.split(separator: "\n")
        #expect(lines.count == 4)
        #expect(lines[0].hasPrefix("Epoch[1/3],loss:0.") && lines[0].count == "Epoch[1/3],loss:0.123456".count)
        #expect(lines[3].hasPrefix("accuracy: "))
        #expect(FileManager.default.fileExists(atPath: plot))
        let predicted = try modelfile("predict", "--model", out, "--json")
        let json = try JSONSerialization.jsonObject(with: Data(predicted.stdout.utf8)) as? [String: Any]
        #expect((json?["predictions"] as? [[Double]])?.count == 768)
        #expect(json?["schema"] as? String == "modelfile.predict/1")
        #expect(try modelfile("train", "--epochs", "1", "--out", out).status == 2, "no overwrite without --force")
        #expect(try modelfile("train", "--layers", "8,x").status == 64)
        #expect(try modelfile("train", "--batch-size", "0").status == 64)
        #expect(try modelfile("predict", "--model", Fixture.path("torch/whole_module.pth")).status == 2)
    }
}

@Suite("crash-safe output")
struct CrashSafetyTests {
    /// A 1 GiB safetensors file that costs no disk: one U8 tensor over a sparse buffer.
    func sparseInput(in folder: URL) throws -> String {
        let count = 1 << 30
        var header = Array(#"{"t":{"dtype":"U8","shape":[\#(count)],"data_offsets":[0,\#(count)]}}"#.utf8)
        while header.count % 8 != 0 { header.append(0x20) }
        let path = folder.appendingPathComponent("big.safetensors").path
        var bytes = withUnsafeBytes(of: UInt64(header.count).littleEndian) { Array($0) }
        bytes += header
        #expect(FileManager.default.createFile(atPath: path, contents: Data(bytes)))
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.truncate(atOffset: UInt64(bytes.count + count))
        try handle.close()
        return path
    }

    @Test("a conversion killed midway leaves the destination as it was", arguments: [SIGKILL, SIGTERM, SIGINT])
    func killed(signal: Int32) throws {
        let folder = try Fixture.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let input = try sparseInput(in: folder)
        let output = folder.appendingPathComponent("out.safetensors")
        try Data("the previous file".utf8).write(to: output)
        let process = Process()
        process.executableURL = CLIBinary.url
        process.arguments = ["convert", input, output.path, "--force", "--quiet"]
        try process.run()
        // Wait until the conversion is writing its temporary file, then kill it.
        var sawTemporary = false
        for _ in 0..<20_000 {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
            if names.contains(where: { $0.hasPrefix(".out.safetensors.tmp-") }) { sawTemporary = true; break }
            if !process.isRunning { break }
            usleep(500)
        }
        kill(process.processIdentifier, signal)
        process.waitUntilExit()
        #expect(sawTemporary, "the conversion was interrupted while writing")
        #expect(process.terminationReason == .uncaughtSignal && process.terminationStatus == signal)
        #expect(try String(contentsOf: output, encoding: .utf8) == "the previous file", "destination untouched")
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.contains(".tmp-") }
        if signal == SIGKILL {
            #expect(leftovers.count <= 1, "SIGKILL cannot be caught: at most the temporary file remains")
        } else {
            #expect(leftovers.isEmpty, "the signal handler removed the temporary file")
        }
    }
}
