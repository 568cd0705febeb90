@testable import ModelFormats
import TensorData
import Testing
import TestSupport
import ZipFormat

/// Storage keys and record names are compared by their bytes, as torch's dict and its zip reader
/// do: two storages whose keys differ only by Unicode normalization are two storages with their
/// own values, never one shared by both tensors.
extension TorchHostileInputTests {
    static let keyPair = ("\u{E9}", "e\u{301}")

    static func pairedTensors(_ tensor: (String) -> [UInt8]) -> [UInt8] {
        P.stateDict([("a", tensor(keyPair.0)), ("b", tensor(keyPair.1))])
    }

    @Test("zip: records whose names differ only by normalization are refused as ambiguous (torch reads both)")
    func zipStorageKeysAmbiguous() throws {
        var zip = TorchZip(pickle: P.pickle(Self.pairedTensors { P.floatTensor(key: $0, numel: 1) }))
        zip.records.insert(TorchZip.Record("archive/data/\(Self.keyPair.0)", P.le(Float(1).bitPattern)), at: 2)
        zip.records.insert(TorchZip.Record("archive/data/\(Self.keyPair.1)", P.le(Float(2).bitPattern)), at: 3)
        let layout = zip.layout()
        let expected = ZipError.duplicateEntryName(
            name: "archive/data/\(Self.keyPair.1)", offset: layout.centralOffsets[3], firstOffset: layout.centralOffsets[2])
        #expect(throws: TorchFormatError.zip(expected)) { _ = try Self.open(layout.bytes) }
    }

    @Test("zip: a storage key finds only the record spelled with its bytes")
    func zipStorageKeyLookupByBytes() throws {
        // The pickle names storage "e\u{301}"; the archive holds only "data/\u{E9}". torch finds no
        // record for the key, and neither may modelfile (it must not read the other spelling's bytes).
        let body = P.stateDict([("b", P.floatTensor(key: Self.keyPair.1, numel: 1))])
        var zip = TorchZip(pickle: P.pickle(body))
        zip.records.insert(TorchZip.Record("archive/data/\(Self.keyPair.0)", P.le(Float(1).bitPattern)), at: 2)
        do {
            _ = try Self.open(zip.bytes)
            Issue.record("read storage e\\u0301 from another record")
        } catch let error as TorchFormatError {
            guard case .missingRecord(let name) = error else {
                Issue.record("\(error)")
                return
            }
            #expect(Array(name.utf8) == Array("data/e\u{301}".utf8))
        }
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
