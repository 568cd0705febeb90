@testable import ModelFormats
import TensorData
import Testing
import TestSupport

/// Storage keys and record names are compared by their bytes, as torch's dict and its zip reader
/// do: two storages whose keys differ only by Unicode normalization are two storages with their
/// own values, never one shared by both tensors.
extension TorchHostileInputTests {
    static let keyPair = ("\u{E9}", "e\u{301}")

    static func pairedTensors(_ tensor: (String) -> [UInt8]) -> [UInt8] {
        P.stateDict([("a", tensor(keyPair.0)), ("b", tensor(keyPair.1))])
    }

    @Test("zip: storages under keys that differ only by normalization keep their own values")
    func zipStorageKeysByBytes() throws {
        var zip = TorchZip(pickle: P.pickle(Self.pairedTensors { P.floatTensor(key: $0, numel: 1) }))
        zip.records.insert(TorchZip.Record("archive/data/\(Self.keyPair.0)", P.le(Float(1).bitPattern)), at: 2)
        zip.records.insert(TorchZip.Record("archive/data/\(Self.keyPair.1)", P.le(Float(2).bitPattern)), at: 3)
        let file = try Self.open(zip.bytes)
        #expect(file.entries.map(\.name) == ["a", "b"])
        #expect(Self.floats(try file.tensor(at: 0)) == [1])
        #expect(Self.floats(try file.tensor(at: 1)) == [2])
        #expect(file.storages.count == 2)
    }

    @Test("legacy: storage sections under keys that differ only by normalization keep their own values")
    func legacyStorageKeysByBytes() throws {
        let object = Self.pairedTensors { key in
            P.rebuildV2(P.legacyStorage(key: key, numel: 1), size: [1], stride: [1])
        }
        let bytes = Legacy.file(
            object: P.pickle(object), keys: [Self.keyPair.0, Self.keyPair.1],
            storages: [Legacy.storage(count: 1, P.le(Float(1).bitPattern)), Legacy.storage(count: 1, P.le(Float(2).bitPattern))])
        let file = try Self.openLegacy(bytes)
        #expect(Self.floats(try file.tensor(at: 0)) == [1])
        #expect(Self.floats(try file.tensor(at: 1)) == [2])
    }

    @Test("tensor names from pickle keys that differ only by normalization are two names")
    func pickleKeysByBytes() throws {
        let body = P.stateDict([(Self.keyPair.0, P.floatTensor(key: "0", numel: 4)), (Self.keyPair.1, P.floatTensor(key: "0", numel: 4))])
        let file = try Self.open(Self.archive(body))
        #expect(file.entries.map { Array($0.name.utf8) } == [[0xC3, 0xA9], [0x65, 0xCC, 0x81]])
        #expect(try file.stateDict().count == 2)
    }
}
