import Foundation
import ModelFormats
import TensorData
import Testing
import TestSupport

/// Every safetensors fixture, read by us and compared with what the reference library read.
@Suite("safetensors reader")
struct SafetensorsReaderTests {
    static let fixtureNames: [String] = {
        let folder = Fixture.url("safetensors")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        return names.filter { $0.hasSuffix(".safetensors") }.sorted()
    }()

    static let validNames = fixtureNames.filter { (try? ExpectedFile.load("safetensors/" + $0))?.valid == true }
    static let invalidNames = fixtureNames.filter { (try? ExpectedFile.load("safetensors/" + $0))?.valid == false }

    @Test("there are fixtures of both kinds")
    func fixturesPresent() {
        #expect(Self.validNames.count >= 15)
        #expect(Self.invalidNames.count >= 25)
    }

    @Test("reads every valid fixture exactly as the reference does", arguments: validNames)
    func readsValid(name: String) throws {
        let expected = try ExpectedFile.load("safetensors/" + name)
        let file = try SafetensorsFile(path: Fixture.path("safetensors/" + name))
        #expect(file.metadata == expected.exactMetadata)
        let tensors = try #require(expected.tensors)
        #expect(file.entries.map(\.name) == tensors.map(\.name), "names in header order")
        for (index, want) in tensors.enumerated() {
            let got = try file.tensor(at: index)
            #expect(got.dtype.rawValue == want.dtype, "\(want.name) dtype")
            #expect(got.shape.dimensions == want.shape, "\(want.name) shape")
            #expect(got.bytes.count == want.nbytes)
            #expect(sha256Hex(got.bytes.array) == want.sha256, "\(want.name) bytes")
            if let hex = want.hex { #expect(hexString(got.bytes.array) == hex) }
        }
    }

    @Test("refuses every fixture the reference refuses, with the expected fault", arguments: invalidNames)
    func refusesInvalid(name: String) throws {
        let expected = try ExpectedFile.load("safetensors/" + name)
        do {
            _ = try SafetensorsFile(path: Fixture.path("safetensors/" + name))
            Issue.record("\(name) was accepted; the reference says: \(expected.reference_error ?? "")")
        } catch let error as SafetensorsError {
            #expect(caseName(error) == expected.expect, "\(name): \(error)")
            #expect(!error.description.contains("\n"), "one-line message")
        }
    }

    @Test("errors name the tensor, the offsets and what was expected")
    func preciseErrors() throws {
        func error(_ name: String) -> SafetensorsError? {
            do { _ = try SafetensorsFile(path: Fixture.path("safetensors/" + name)) } catch let e as SafetensorsError { return e } catch {}
            return nil
        }
        #expect(error("bad_gap.safetensors") == .offsetsNotContiguous(tensor: "t", expectedBegin: 0, found: 4))
        #expect(error("bad_overlap.safetensors") == .offsetsNotContiguous(tensor: "u", expectedBegin: 8, found: 4))
        #expect(error("bad_trailing_bytes.safetensors") == .dataNotCovered(expectedFileSize: 70, actualFileSize: 71))
        #expect(error("bad_truncated_data.safetensors") == .dataNotCovered(expectedFileSize: 70, actualFileSize: 67))
        #expect(error("bad_header_too_large.safetensors") == .headerTooLarge(declared: 100_000_001, limit: 100_000_000))
        #expect(error("bad_header_beyond_file.safetensors") == .headerBeyondFile(declared: 1000, available: 2))
        #expect(error("bad_shape_mismatch.safetensors") == .byteCountMismatch(tensor: "t", dtype: .i32, shape: [3], expected: 12, found: 8))
        #expect(error("bad_duplicate_key.safetensors") == .duplicateKey("t", inObject: "the header", at: 62))
        #expect(error("bad_utf8.safetensors") == .invalidUTF8(at: 10))
        #expect(error("bad_too_small.safetensors") == .fileTooSmall(size: 3))
        #expect(error("bad_f4_odd.safetensors") == .partialByte(tensor: "t", elements: 3, dtype: .f4))
    }

    @Test("the sharded set huggingface_hub wrote reads as one model")
    func shardedSet() throws {
        let set = try ShardedModel(indexPath: Fixture.path("safetensors/sharded/model.safetensors.index.json"))
        #expect(set.shards.map(\.name) == ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"])
        #expect(Set(set.entries.map(\.name)) == ["layers.0.weight", "layers.1.weight", "layers.2.weight", "layers.3.weight", "head.bias"])
        #expect(set.disagreements.isEmpty)
        #expect(set.warnings.isEmpty, "total_size agrees")
        let folder = try ModelFile.open(Fixture.path("safetensors/sharded"))
        #expect(folder.format == .safetensorsSharded)
        #expect(folder.entries.count == 5)
        let single = try ModelFile.open(Fixture.path("safetensors/single_shard"))
        #expect(single.format == .directory)
        #expect(single.entries.count == 5)
    }

    @Test("an index and shards that disagree are refused, or listed for verify")
    func shardDisagreement() throws {
        let folder = try Fixture.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        for name in ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"] {
            try FileManager.default.copyItem(at: Fixture.url("safetensors/sharded/" + name), to: folder.appendingPathComponent(name))
        }
        let index = #"{"metadata": {}, "weight_map": {"layers.0.weight": "model-00002-of-00002.safetensors", "ghost": "model-00001-of-00002.safetensors"}}"#
        try index.write(to: folder.appendingPathComponent("model.safetensors.index.json"), atomically: true, encoding: .utf8)
        let path = folder.appendingPathComponent("model.safetensors.index.json").path
        // Shards are visited in order of first appearance in the index: 00002 first.
        #expect(throws: ShardedSafetensorsError.tensorNotInIndex(tensor: "head.bias", shard: "model-00002-of-00002.safetensors")) {
            try ShardedModel(indexPath: path)
        }
        let lenient = try ShardedModel(indexPath: path, strict: false)
        #expect(lenient.disagreements.contains(.tensorMissingFromShard(tensor: "ghost", shard: "model-00001-of-00002.safetensors")))
        #expect(lenient.disagreements.contains(.tensorNotInIndex(tensor: "layers.0.weight", shard: "model-00001-of-00002.safetensors")))
        // 00002 holds three unlisted tensors, 00001 two (one listed under the other shard), plus the ghost.
        #expect(lenient.disagreements.count == 6, "\(lenient.disagreements)")
        let escape = #"{"metadata": {}, "weight_map": {"a": "../model-00001-of-00002.safetensors"}}"#
        try escape.write(to: folder.appendingPathComponent("model.safetensors.index.json"), atomically: true, encoding: .utf8)
        #expect(throws: ShardedSafetensorsError.unsafeShardName("../model-00001-of-00002.safetensors")) { try ShardedModel(indexPath: path) }
    }
}

@Suite("sharded torch archives")
struct ShardedTorchTests {
    @Test("a pytorch_model.bin.index.json folder reads as one model")
    func binShards() throws {
        let folder = try Fixture.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let source = try TorchFile(path: Fixture.path("torch/state_dict.pth"))
        let state = try source.stateDict()
        let names = state.names
        for (number, group) in [Array(names.prefix(4)), Array(names.dropFirst(4))].enumerated() {
            var part = StateDict()
            for name in group { try part.append(name, state[name]!) }
            try TorchWriter.write(part, to: folder.appendingPathComponent("pytorch_model-0000\(number + 1)-of-00002.bin").path, overwrite: false)
        }
        let map = names.enumerated().map { "\"\($0.element)\": \"pytorch_model-0000\($0.offset < 4 ? 1 : 2)-of-00002.bin\"" }.joined(separator: ", ")
        try #"{"metadata": {"total_size": 380}, "weight_map": {\#(map)}}"#
            .write(to: folder.appendingPathComponent("pytorch_model.bin.index.json"), atomically: true, encoding: .utf8)
        let model = try ModelFile.open(folder.path)
        #expect(model.format == .pytorchSharded)
        let sharded = try #require((model as? FolderSource)?.weights as? ShardedModel)
        #expect(sharded.format == .pytorchSharded && sharded.disagreements.isEmpty && sharded.warnings.isEmpty)
        #expect(model.entries.map(\.name) == names)
        for index in model.entries.indices { #expect(try model.tensor(at: index) == state[names[index]]) }
    }
}
