import Foundation
import Testing
import TestSupport

/// Folders and files built here, byte by byte, for `scan`.
enum ScanFiles {
    static let weight = P.floatTensor(numel: 4)
    static let weightBytes = float32Bytes([1, 2, 3, 4])
    /// A clean `torch.save` archive of `{"w": [1, 2, 3, 4]}`.
    static var clean: [UInt8] { TorchZip(pickle: P.pickle(P.stateDict([("w", weight)])), storages: [weightBytes]).bytes }

    /// A shard holding a tensor and an object whose reduction calls `posix.system`.
    static func evilShard(folder: String) -> [UInt8] {
        let call = P.global("posix", "system") + P.tuple([P.string("touch /tmp/modelfile-scan-canary")]) + P.reduce
        let body = P.stateDict([("v", weight), ("evil", call)])
        return TorchZip(folder: folder, pickle: P.pickle(body), storages: [weightBytes]).bytes
    }

    /// `torch.save(TrainingArguments(...))`: an object of a class outside the allowlist, built with BUILD.
    static var trainingArgs: [UInt8] {
        let object = P.global("transformers.training_args", "TrainingArguments") + P.emptyTuple + P.newObject
            + P.dict([("output_dir", P.string("out"))]) + P.build
        return TorchZip(folder: "training_args", pickle: P.pickle(object)).bytes
    }

    static func index(_ map: [(String, String)]) -> [UInt8] {
        let entries = map.map { "\"\($0.0)\": \"\($0.1)\"" }.joined(separator: ", ")
        return Array("{\"metadata\": {\"total_size\": 32}, \"weight_map\": {\(entries)}}".utf8)
    }
}

@Suite("scan covers everything a load would touch")
struct ScanTests {
    let folder: URL

    init() throws { folder = try Fixture.temporaryFolder() }

    @discardableResult
    func write(_ name: String, _ bytes: [UInt8]) throws -> String {
        let url = folder.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(bytes).write(to: url)
        return url.path
    }

    func path(_ name: String) -> String { folder.appendingPathComponent(name).path }

    /// A Hugging Face folder of two `.bin` shards and `pytorch_model.bin.index.json`; the second
    /// shard calls `posix.system`.
    func shardedFolder(in name: String = "model") throws -> String {
        try write("\(name)/config.json", Array(#"{"model_type": "bert"}"#.utf8))
        try write("\(name)/pytorch_model-00001-of-00002.bin", TorchZip(folder: "pytorch_model-00001-of-00002", pickle: P.pickle(P.stateDict([("w", ScanFiles.weight)])), storages: [ScanFiles.weightBytes]).bytes)
        try write("\(name)/pytorch_model-00002-of-00002.bin", ScanFiles.evilShard(folder: "pytorch_model-00002-of-00002"))
        try write("\(name)/pytorch_model.bin.index.json", ScanFiles.index([("w", "pytorch_model-00001-of-00002.bin"), ("v", "pytorch_model-00002-of-00002.bin")]))
        return path(name)
    }

    @Test("a folder's verdict covers every shard of pytorch_model.bin.index.json; the finding names the shard")
    func shardCallingSystem() throws {
        defer { try? FileManager.default.removeItem(at: folder) }
        let model = try shardedFolder()
        let result = try modelfile("scan", model)
        #expect(result.status == 1)
        #expect(result.stdout == """
            \(model): folder, 2 file(s) scanned
              pytorch_model-00001-of-00002.bin: pytorch-zip
                pytorch_model-00001-of-00002/data.pkl: opcode classes call, container, framing, importName, persistentID, scalar, stack
                  allowed  collections.OrderedDict
                  allowed  torch._utils._rebuild_tensor_v2
                  allowed  torch.FloatStorage
              pytorch_model-00002-of-00002.bin: pytorch-zip
                pytorch_model-00002-of-00002/data.pkl: opcode classes call, container, framing, importName, persistentID, scalar, stack
                  allowed  collections.OrderedDict
                  allowed  torch._utils._rebuild_tensor_v2
                  allowed  torch.FloatStorage
                  REFUSED  posix.system
            finding: pytorch_model-00002-of-00002.bin: pytorch_model-00002-of-00002/data.pkl at byte 168: GLOBAL posix.system is outside the weights-only allowlist
            1 finding(s)

            """)
        // The index alone covers the same shards.
        let index = try modelfile("scan", model + "/pytorch_model.bin.index.json")
        #expect(index.status == 1)
        #expect(index.stdout.hasPrefix("\(model)/pytorch_model.bin.index.json: index, 2 file(s) scanned\n"))
        let json = try modelfile("scan", "--json", model)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        #expect(object["kind"] as? String == "folder" && object["clean"] as? Bool == false)
        #expect((object["finding_details"] as? [[String: String]]) == [["code": "global_outside_allowlist", "file": "pytorch_model-00002-of-00002.bin"]])
        #expect((object["files"] as? [[String: String]])?.map { $0["path"] ?? "" } == ["pytorch_model-00001-of-00002.bin", "pytorch_model-00002-of-00002.bin"])
        let globals = try #require(object["globals"] as? [[String: Any]])
        #expect(globals.count == 7)
        #expect(globals.last?["file"] as? String == "pytorch_model-00002-of-00002.bin" && globals.last?["module"] as? String == "posix"
                && globals.last?["name"] as? String == "system" && globals.last?["allowed"] as? Bool == false)
    }

    @Test("pickle-bearing files beside the weights are scanned: training_args.bin, optimizer.pt, a .pkl")
    func trainingOutputs() throws {
        defer { try? FileManager.default.removeItem(at: folder) }
        try write("run/model.safetensors", SafetensorsBytes.file([("w", "F32", [1], SafetensorsBytes.floats([1]))]))
        try write("run/training_args.bin", ScanFiles.trainingArgs)
        try write("run/checkpoint-10/optimizer.pt", ScanFiles.clean)
        try write("run/checkpoint-10/rng_state.pth", P.pickle(P.global("numpy.core.multiarray", "_reconstruct")))
        try write("run/README.md", Array("# a model".utf8))
        let result = try modelfile("scan", path("run"))
        #expect(result.status == 1)
        let findings = result.stdout.split(separator: "\n").filter { $0.hasPrefix("finding: ") }
        #expect(findings == [
            "finding: checkpoint-10/rng_state.pth: a bare pickle stream, not a torch archive: torch.load refuses it",
            "finding: checkpoint-10/rng_state.pth: pickle at byte 2: GLOBAL numpy.core.multiarray._reconstruct is outside the weights-only allowlist",
            "finding: training_args.bin: training_args/data.pkl at byte 2: GLOBAL transformers.training_args.TrainingArguments is outside the weights-only allowlist",
        ])
        #expect(result.stdout.contains("\n  checkpoint-10/optimizer.pt: pytorch-zip\n"))
        #expect(result.stdout.contains("\n  model.safetensors: safetensors\n"))
        #expect(!result.stdout.contains("README"))
    }

    @Test("a shard that links out of the folder is refused, not read; inspect refuses the folder")
    func linkOutOfFolder() throws {
        defer { try? FileManager.default.removeItem(at: folder) }
        let outside = try write("elsewhere/evil.bin", ScanFiles.evilShard(folder: "evil"))
        try write("model/pytorch_model-00001-of-00001.bin", [])
        try FileManager.default.removeItem(atPath: path("model/pytorch_model-00001-of-00001.bin"))
        try FileManager.default.createSymbolicLink(atPath: path("model/pytorch_model-00001-of-00001.bin"), withDestinationPath: outside)
        try write("model/pytorch_model.bin.index.json", ScanFiles.index([("v", "pytorch_model-00001-of-00001.bin")]))
        let result = try modelfile("scan", path("model"))
        #expect(result.status == 1)
        let resolved = try #require(URL(fileURLWithPath: outside).resolvingSymlinksInPath().path as String?)
        #expect(result.stdout == """
            \(path("model")): folder, 1 file(s) scanned
              pytorch_model-00001-of-00001.bin: not-read
            finding: pytorch_model-00001-of-00001.bin: a link to \(resolved), outside the folder; refused (not read)
            1 finding(s)

            """)
        let inspect = try modelfile("inspect", path("model"))
        #expect(inspect.status == 2)
        #expect(try modelfile("verify", path("model")).status == 2, "refused, not a finding")
        #expect(inspect.stderr.contains("pytorch_model-00001-of-00001.bin is a link to \(resolved), outside the folder"))
        // A linked folder that leaves is reported too, and not walked.
        try FileManager.default.createSymbolicLink(atPath: path("model/extra"), withDestinationPath: path("elsewhere"))
        let linked = try modelfile("scan", path("model"))
        #expect(linked.stdout.contains("finding: extra/: a link to \(URL(fileURLWithPath: path("elsewhere")).resolvingSymlinksInPath().path), outside the folder; refused (not read)"))
        #expect(!linked.stdout.contains("posix.system"))
    }

    @Test("a hub cache snapshot's links into the same repository's blobs are followed")
    func hubCache() throws {
        defer { try? FileManager.default.removeItem(at: folder) }
        let repository = "hub/models--org--tiny"
        try write("\(repository)/blobs/1a2b", ScanFiles.clean)
        try write("\(repository)/blobs/3c4d", ScanFiles.index([("w", "pytorch_model-00001-of-00001.bin")]))
        try write("\(repository)/blobs/5e6f", Array(#"{"model_type": "bert"}"#.utf8))
        let snapshot = path("\(repository)/snapshots/0123abcd")
        try FileManager.default.createDirectory(atPath: snapshot, withIntermediateDirectories: true)
        for (name, blob) in [("pytorch_model-00001-of-00001.bin", "1a2b"), ("pytorch_model.bin.index.json", "3c4d"), ("config.json", "5e6f")] {
            try FileManager.default.createSymbolicLink(atPath: snapshot + "/" + name, withDestinationPath: "../../blobs/" + blob)
        }
        let result = try modelfile("scan", snapshot)
        #expect(result.status == 0)
        #expect(result.stdout.hasPrefix("\(snapshot): folder, 1 file(s) scanned\n  pytorch_model-00001-of-00001.bin: pytorch-zip\n"))
        #expect(result.stdout.hasSuffix("\nclean\n"))
        #expect(try modelfile("inspect", snapshot).status == 0)
        // Another repository's blobs are outside.
        try write("hub/models--other--repo/blobs/9999", ScanFiles.clean)
        try FileManager.default.removeItem(atPath: snapshot + "/pytorch_model-00001-of-00001.bin")
        try FileManager.default.createSymbolicLink(atPath: snapshot + "/pytorch_model-00001-of-00001.bin",
                                                   withDestinationPath: "../../../models--other--repo/blobs/9999")
        let crossed = try modelfile("scan", snapshot)
        #expect(crossed.status == 1)
        #expect(crossed.stdout.contains("finding: pytorch_model-00001-of-00001.bin: a link to "))
        #expect(try modelfile("inspect", snapshot).status == 2)
    }

    @Test("zip entries no record references and bytes between entries are findings; torch still loads the file")
    func hiddenZipContent() throws {
        defer { try? FileManager.default.removeItem(at: folder) }
        var zip = TorchZip(pickle: P.pickle(P.stateDict([("w", ScanFiles.weight)])), storages: [ScanFiles.weightBytes])
        zip.records.insert(TorchZip.Record("archive/data/7", Array("payload".utf8)), at: 3)
        // A whole local entry hidden between byteorder and data/0, listed by no central directory record.
        var hidden = TorchZip(records: [TorchZip.Record("archive/data.pkl", ScanFiles.evilShard(folder: "x"))])
        hidden.alignsData = false
        let hiddenEntry = Array(hidden.layout().bytes.prefix(30 + "archive/data.pkl".utf8.count + 4))
        zip.bytesAfter[1] = hiddenEntry
        zip.comment = Array("#!/bin/sh".utf8)
        let layout = zip.layout()
        let file = try write("hidden.pth", layout.bytes)
        let result = try modelfile("scan", file)
        #expect(result.status == 1)
        let gapStart = layout.dataOffsets[1] + "little".utf8.count
        let findings = result.stdout.split(separator: "\n").filter { $0.hasPrefix("finding: ") }
        #expect(findings == [
            "finding: \(file): entry \"archive/data/7\" is read by no torch load (no record references it)",
            "finding: \(file): \(hiddenEntry.count) bytes at byte \(gapStart) after entry \"archive/byteorder\" belong to no entry",
            "finding: \(file): a local entry \"archive/data.pkl\" at byte \(gapStart) is listed by no central directory record (hidden from zip readers that use the directory)",
            "finding: \(file): 9 bytes at byte \(layout.bytes.count - 9) in the archive comment, after the central directory belong to no entry",
        ])
        #expect(try modelfile("inspect", file).status == 0, "a load reads past all of it, as torch does")
        // Data before the first header: reported by scan, refused by loading.
        var prefixed = TorchZip(pickle: P.pickle(P.stateDict([("w", ScanFiles.weight)])), storages: [ScanFiles.weightBytes])
        prefixed.leadingBytes = Array("#!/bin/sh\nexit 0\n".utf8)
        let prefixedFile = try write("prefixed.pth", prefixed.bytes)
        let scan = try modelfile("scan", prefixedFile)
        #expect(scan.status == 1)
        #expect(scan.stdout.contains("finding: \(prefixedFile): 17 bytes at byte 0 before the first entry belong to no entry\n"))
        #expect(try modelfile("inspect", prefixedFile).status == 2)
    }

    @Test("every path gets its own section, also one that cannot be scanned; the worst exit wins")
    func sections() throws {
        defer { try? FileManager.default.removeItem(at: folder) }
        let clean = try write("clean.pth", ScanFiles.clean)
        let missing = path("missing.pth")
        let model = try shardedFolder()
        let result = try modelfile("scan", clean, missing, model)
        #expect(result.status == 2)
        let headers = result.stdout.split(separator: "\n").filter { !$0.hasPrefix(" ") && !$0.hasPrefix("finding") && $0 != "clean" && !$0.hasSuffix("finding(s)") }
        #expect(headers == ["\(clean): pytorch-zip", "\(missing): not scanned (see the error)", "\(model): folder, 2 file(s) scanned"])
        #expect(result.stderr == "modelfile: error: \(missing): cannot open: No such file or directory\n")
        let json = try modelfile("scan", "--json", clean, missing)
        let documents = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]])
        #expect(documents.count == 2 && documents[1]["error"] as? String == "\(missing): cannot open: No such file or directory")
        #expect(try modelfile("scan", clean).status == 0)
    }

    @Test("NumPy object arrays are scanned through their pickle; numeric arrays are clean")
    func numpy() throws {
        defer { try? FileManager.default.removeItem(at: folder) }
        func npy(descr: String, body: [UInt8]) -> [UInt8] {
            var header = Array("{'descr': '\(descr)', 'fortran_order': False, 'shape': (1,), }".utf8)
            while (10 + header.count + 1) % 64 != 0 { header.append(0x20) }
            header.append(0x0A)
            return [0x93] + Array("NUMPY".utf8) + [1, 0] + P.le(UInt16(header.count)) + header + body
        }
        let objects = npy(descr: "|O", body: [0x80, 0x03] + P.global("numpy.core.multiarray", "_reconstruct") + P.stop)
        let numbers = npy(descr: "<f4", body: float32Bytes([1]))
        try write("arrays/objects.npy", objects)
        try write("arrays/numbers.npy", numbers)
        let result = try modelfile("scan", path("arrays"))
        #expect(result.status == 1)
        #expect(result.stdout.contains("\n  numbers.npy: numpy-npy\n  objects.npy: numpy-npy\n    object array: opcode classes"))
        #expect(result.stdout.contains("finding: objects.npy: object array at byte 130: GLOBAL numpy.core.multiarray._reconstruct is outside the weights-only allowlist"))
        #expect(try modelfile("scan", path("arrays/numbers.npy")).status == 0)
    }
}

@Suite("what a file is: named, and refused by every command")
struct ContentNamingTests {
    /// A minimal ONNX ModelProto: ir_version 8, producer_name "pytorch", graph { name "g" }, opset_import { version 17 }.
    static let onnx: [UInt8] = [0x08, 0x08, 0x12, 0x07] + Array("pytorch".utf8) + [0x3A, 0x03, 0x0A, 0x01, 0x67] + [0x42, 0x02, 0x10, 0x11]

    static func wheel() -> [UInt8] {
        TorchZip(records: [TorchZip.Record("tiny/__init__.py", Array("x = 1\n".utf8)),
                           TorchZip.Record("tiny-1.0.dist-info/METADATA", Array("Name: tiny\n".utf8)),
                           TorchZip.Record("tiny-1.0.dist-info/RECORD", [])]).bytes
    }

    // GGUF files are read as a format (GGUFCLITests), so they are no longer among these.
    @Test("wheels, ONNX models, JSON files and HTML pages: exit 2 and a line naming them", arguments: [
        ("tiny-1.0-py3-none-any.whl", "wheel", "a Python wheel (a zip holding tiny-1.0.dist-info/), not a model file"),
        ("model.onnx", "onnx", "an ONNX model (a protobuf ModelProto with ir_version and graph), which modelfile does not read"),
        ("config.json", "json", "a JSON file without a weight_map (a config or tokenizer file, not weights)"),
        ("pytorch_model.bin", "html", "an HTML page, probably an error or login page saved instead of the file"),
    ])
    func refused(name: String, kind: String, looksLike: String) throws {
        let folder = try Fixture.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let bytes: [UInt8]
        switch kind {
        case "wheel": bytes = Self.wheel()
        case "onnx": bytes = Self.onnx
        case "json": bytes = Array(#"{"architectures": ["BertModel"], "hidden_size": 16}"#.utf8)
        default: bytes = Array("<!DOCTYPE html>\n<html><body>Access denied</body></html>".utf8)
        }
        let path = folder.appendingPathComponent(name).path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let other = Fixture.path("safetensors/mlp.safetensors")
        for arguments in [["inspect", path], ["verify", path], ["scan", path], ["convert", path, folder.appendingPathComponent("o.safetensors").path],
                          ["diff", other, path], ["strip", path, folder.appendingPathComponent("o.ckpt").path]] {
            let result = try modelfile(arguments)
            #expect(result.status == 2, "\(arguments[0]) \(name)")
            #expect(result.stderr == "modelfile: error: \(path): not a model file: \(looksLike)\n", "\(arguments[0]) \(name)")
        }
    }
}
