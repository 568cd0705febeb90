import Foundation
import ModelFormats
import TensorData
import Testing
import TestSupport

@Suite("safetensors writer")
struct SafetensorsWriterTests {
    @Test("our bytes equal safetensors.torch.save_file's", arguments: [
        "mlp.safetensors", "mlp_no_metadata.safetensors", "dtypes.safetensors", "unicode_names.safetensors", "empty.safetensors",
        "mlp_bf16.safetensors",
    ])
    func byteIdentical(name: String) throws {
        let source = try SafetensorsFile(path: Fixture.path("safetensors/" + name))
        let folder = try Fixture.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let output = folder.appendingPathComponent("out.safetensors")
        var reversed = StateDict()
        for index in source.entries.indices.reversed() { try reversed.append(source.entries[index].name, try source.tensor(at: index)) }
        try SafetensorsWriter.write(reversed, to: output.path, metadata: source.metadata, overwrite: false)
        let ours = [UInt8](try Data(contentsOf: output))
        let reference = try Fixture.bytes("safetensors/" + name)
        #expect(ours.count == reference.count)
        #expect(ours == reference, "first difference at byte \(zip(ours, reference).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? -1)")
    }

    @Test("shards equal huggingface_hub's for the same limit")
    func shardsIdentical() throws {
        let source = try ModelFile.open(Fixture.path("safetensors/sharded"))
        // The hub walks the state dict in its insertion order: layers.0-3, then head.bias.
        let order = ["layers.0.weight", "layers.1.weight", "layers.2.weight", "layers.3.weight", "head.bias"]
        let entries = order.map { name in source.entries[source.index(of: name)!] }
        let folder = try Fixture.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let written = try SafetensorsShardWriter.write(
            folder: folder.path, entries: entries, metadata: ["format": "pt"], maxShardBytes: 2500, overwrite: false,
            tensorBytes: { try source.tensor(at: source.index(of: order[$0])!).bytes })
        #expect(written.map { ($0 as NSString).lastPathComponent } == [
            "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors", "model.safetensors.index.json",
        ])
        for name in ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"] {
            #expect([UInt8](try Data(contentsOf: folder.appendingPathComponent(name))) == (try Fixture.bytes("safetensors/sharded/" + name)), "\(name)")
        }
        let ours = try JSONSerialization.jsonObject(with: Data(contentsOf: folder.appendingPathComponent("model.safetensors.index.json"))) as? NSDictionary
        let theirs = try JSONSerialization.jsonObject(with: Data(contentsOf: Fixture.url("safetensors/sharded/model.safetensors.index.json"))) as? NSDictionary
        #expect(ours == theirs)
        // One shard: a plain model.safetensors and no index.
        #expect(SafetensorsShardWriter.plan(entries: entries, maxShardBytes: 10_000_000).count == 1)
        #expect(SafetensorsShardWriter.shardNames(count: 1) == ["model.safetensors"])
    }

    @Test("random tensors round-trip through write and read")
    func roundTrip() throws {
        var generator = TestRandom(seed: 42)
        let folder = try Fixture.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        for trial in 0..<20 {
            var dict = StateDict()
            for index in 0..<Int.random(in: 0...8, using: &generator) {
                let dtype = DType.safetensorsCases.randomElement(using: &generator)!
                let rank = Int.random(in: 0...3, using: &generator)
                var dims = (0..<rank).map { _ in Int.random(in: 0...4, using: &generator) }
                if dtype == .f4 || dtype == .f6e2m3 || dtype == .f6e3m2 { dims = [4 * Int.random(in: 0...3, using: &generator)] }
                let count = try RawTensor.byteCount(dtype: dtype, shape: Shape(dims))
                let bytes = (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
                try dict.append("t\(index).\(dtype)", try RawTensor(dtype: dtype, shape: Shape(dims), bytes: TensorBytes(copying: bytes)))
            }
            let path = folder.appendingPathComponent("trial\(trial).safetensors").path
            let metadata: [ExactString: String]? = trial % 2 == 0 ? nil : [ExactString("k\(trial)"): "v", "a": "ü"]
            try SafetensorsWriter.write(dict, to: path, metadata: metadata, overwrite: false)
            let file = try SafetensorsFile(path: path)
            #expect(file.metadata == metadata)
            #expect(Set(file.entries.map(\.name)) == Set(dict.names))
            for (index, entry) in file.entries.enumerated() { #expect(try file.tensor(at: index) == dict[entry.name]) }
            #expect(file.header.headerByteCount % 8 == 0, "header padded to 8 bytes")
        }
    }

    @Test("refuses what the format cannot hold")
    func refusals() throws {
        let t = try RawTensor(dtype: .u8, shape: [1], bytes: TensorBytes(copying: [1]))
        let folder = try Fixture.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("x.safetensors").path
        #expect(throws: SafetensorsError.reservedTensorName) { try SafetensorsWriter.write(try StateDict([("__metadata__", t)]), to: path, metadata: nil, overwrite: false) }
        let c128 = try RawTensor(dtype: .c128, shape: [1], bytes: TensorBytes(copying: [UInt8](repeating: 0, count: 16)))
        #expect(throws: SafetensorsError.unrepresentableDType(tensor: "z", dtype: .c128)) {
            try SafetensorsWriter.write(try StateDict([("z", c128)]), to: path, metadata: nil, overwrite: false)
        }
        #expect(!FileManager.default.fileExists(atPath: path), "nothing written on failure")
        #expect((try FileManager.default.contentsOfDirectory(atPath: folder.path)).isEmpty, "no temporary file left")
    }

    @Test("never overwrites without permission, and replaces atomically with it")
    func overwriting() throws {
        let folder = try Fixture.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("x.safetensors").path
        try "keep me".write(toFile: path, atomically: false, encoding: .utf8)
        let dict = try StateDict([("a", try RawTensor(dtype: .u8, shape: [1], bytes: TensorBytes(copying: [1])))])
        #expect(throws: (any Error).self) { try SafetensorsWriter.write(dict, to: path, metadata: nil, overwrite: false) }
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "keep me")
        try SafetensorsWriter.write(dict, to: path, metadata: nil, overwrite: true)
        #expect(try SafetensorsFile(path: path).entries.map(\.name) == ["a"])
        #expect((try FileManager.default.contentsOfDirectory(atPath: folder.path)) == ["x.safetensors"])
        let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
        #expect(mode.map { $0 & 0o044 != 0 } == true, "readable by others like any new file, not 0600")
    }
}
