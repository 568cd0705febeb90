import Foundation
@testable import ModelFormats
import PickleVM
import TensorData
import Testing
import TestSupport

// The legacy (pre-1.6) stream (docs/formats.md, "Legacy torch files"): five pickles through the same
// restricted unpickler, then raw storages whose sizes must agree with the pickle.
extension TorchHostileInputTests {
    static let legacyKey = "94199368932000"

    /// The object pickle `{"w": tensor over legacy storage legacyKey}` (4 floats by default).
    static func legacyObject(_ id: [UInt8] = P.legacyStorage(key: legacyKey, numel: 4), size: [Int64] = [4], stride: [Int64] = [1]) -> [UInt8] {
        P.pickle(P.stateDict([("w", P.rebuildV2(id, size: size, stride: stride))]))
    }

    /// A legacy file holding `object`, the key list and the storage sections.
    static func legacyFile(object: [UInt8] = legacyObject(), keys: [String] = [legacyKey],
                           storages: [[UInt8]] = [Legacy.storage(count: 4, weightBytes)], version: Int64 = 1001) -> [UInt8] {
        Legacy.file(object: object, keys: keys, storages: storages, version: version)
    }

    /// Where the storage sections start in `legacyFile(object:keys:)`.
    static func storageSectionOffset(object: [UInt8] = legacyObject(), keys: [String] = [legacyKey]) -> Int {
        Legacy.magic.count + Legacy.protocolVersion().count + Legacy.sysInfo.count + object.count + Legacy.keys(keys).count
    }

    static func openLegacy(_ bytes: [UInt8]) throws -> TorchFile { try open(bytes, name: "old.pt") }

    @Test("a well-formed hand-built legacy file loads (control for this file's attacks)")
    func legacyControl() throws {
        let file = try Self.openLegacy(Self.legacyFile())
        #expect(file.format == .pytorchLegacy)
        #expect(file.warnings.isEmpty)
        #expect(Self.floats(try file.tensor(at: 0)) == [1, 2, 3, 4])
    }

    @Test("a bad magic number is refused: only torch's exact 15 bytes select the legacy reader, anything else is a bare pickle")
    func legacyBadMagic() throws {
        // torch: "Invalid magic number; corrupt file?". The first pickle here is a different
        // LONG1, so the content is a bare pickle stream and never reaches the legacy reader.
        let bytes = P.pickle(P.long1(0x1950_A86A_20F9_469C)) + Array(Self.legacyFile().dropFirst(Legacy.magic.count))
        let path = try writeTemporaryFile(bytes, name: "old.pt")
        let expected = UnrecognizedFormatError(
            looksLike: "a bare pickle stream (protocol 2), not a torch archive; refused, since a renamed pickle is a known way to run code")
        #expect(throws: expected) { _ = try TorchFile(path: path) }
        #expect(throws: expected) { _ = try ModelFile.open(path) }
    }

    @Test("legacy protocol version 1000 is refused")
    func legacyProtocol1000() {
        // torch: "Invalid protocol version: 1000".
        #expect(throws: TorchFormatError.badLegacyProtocol(found: "1000")) { _ = try Self.openLegacy(Self.legacyFile(version: 1000)) }
        let text = Legacy.magic + P.pickle(P.string("1001")) + Array(Self.legacyFile().dropFirst(Legacy.magic.count + Legacy.protocolVersion().count))
        #expect(throws: TorchFormatError.badLegacyProtocol(found: "string")) { _ = try Self.openLegacy(text) }
    }

    @Test("every legacy pickle goes through the restricted unpickler: os.system in sys_info, the object or the key list is refused")
    func legacyPicklesRestricted() {
        let payload = P.pickle(Self.call("os", "system"))
        let headerEnd = Legacy.magic.count + Legacy.protocolVersion().count
        let inSysInfo = Legacy.magic + Legacy.protocolVersion() + payload
        #expect(throws: TorchFormatError.pickle(record: "sys_info pickle", .unsupportedGlobal(module: "os", name: "system", at: headerEnd + 2))) {
            _ = try Self.openLegacy(inSysInfo)
        }
        let objectStart = headerEnd + Legacy.sysInfo.count
        #expect(throws: TorchFormatError.pickle(record: "object pickle", .unsupportedGlobal(module: "os", name: "system", at: objectStart + 2))) {
            _ = try Self.openLegacy(Self.legacyFile(object: payload, keys: []))
        }
        let inKeys = Legacy.magic + Legacy.protocolVersion() + Legacy.sysInfo + Self.legacyObject() + payload
        let keysStart = objectStart + Self.legacyObject().count
        #expect(throws: TorchFormatError.pickle(record: "storage-key pickle", .unsupportedGlobal(module: "os", name: "system", at: keysStart + 2))) {
            _ = try Self.openLegacy(inKeys)
        }
    }

    @Test("a storage count that differs from the persistent id's numel is refused")
    func legacyCountMismatch() {
        // torch: "storage has wrong byte size: expected 16 got 20".
        let bytes = Self.legacyFile(storages: [Legacy.storage(count: 5, Self.weightBytes + float32Bytes([5]))])
        #expect(throws: TorchFormatError.legacyStorageMismatch(key: Self.legacyKey, at: Self.storageSectionOffset(), expected: 4, found: 5)) {
            _ = try Self.openLegacy(bytes)
        }
    }

    @Test("a storage listed but never referenced, or listed twice, is refused")
    func legacyUnreferencedStorage() {
        let extra = Self.legacyFile(keys: [Self.legacyKey, "999"],
                                    storages: [Legacy.storage(count: 4, Self.weightBytes), Legacy.storage(count: 1, float32Bytes([9]))])
        #expect(throws: TorchFormatError.invalidStorageKeyList("key \"999\" is not referenced by the object pickle")) {
            _ = try Self.openLegacy(extra)
        }
        let twice = Self.legacyFile(keys: [Self.legacyKey, Self.legacyKey],
                                    storages: [Legacy.storage(count: 4, Self.weightBytes), Legacy.storage(count: 4, Self.weightBytes)])
        #expect(throws: TorchFormatError.invalidStorageKeyList("key \"\(Self.legacyKey)\" appears twice")) { _ = try Self.openLegacy(twice) }
    }

    @Test("a referenced storage missing from the list is refused (torch returns never-filled memory)")
    func legacyMissingStorage() {
        #expect(throws: TorchFormatError.missingStorage(key: Self.legacyKey)) { _ = try Self.openLegacy(Self.legacyFile(keys: [], storages: [])) }
    }

    @Test("a file truncated inside a storage, or inside its count, is refused")
    func legacyTruncatedStorage() {
        let start = Self.storageSectionOffset()
        #expect(throws: TorchFormatError.legacyTruncated(key: Self.legacyKey, at: start + 8, needed: 16, available: 12)) {
            _ = try Self.openLegacy(Self.legacyFile(storages: [Legacy.storage(count: 4, float32Bytes([1, 2, 3]))]))
        }
        #expect(throws: TorchFormatError.legacyTruncated(key: Self.legacyKey, at: start, needed: 8, available: 3)) {
            _ = try Self.openLegacy(Self.legacyFile(storages: [[4, 0, 0]]))
        }
    }

    @Test("trailing bytes after the last storage are a warning only")
    func legacyTrailingBytes() throws {
        let file = try Self.openLegacy(Self.legacyFile() + P.pickle(Self.call("os", "system")))
        #expect(file.warnings == [.bytesAfterLastStorage(count: P.pickle(Self.call("os", "system")).count)])
        #expect(Self.floats(try file.tensor(at: 0)) == [1, 2, 3, 4])
    }

    @Test("a 6-tuple persistent id with a view past its root storage, or a malformed view, is refused")
    func legacyBadView() throws {
        // The view (key, offset, size) is a window on the root storage in its elements
        // (docs/formats.md, "Legacy torch files"); [2, 5) does not fit a 4-element root.
        let past = P.legacyStorage(key: Self.legacyKey, numel: 4, view: P.tuple([P.string("v"), P.int(2), P.int(3)]))
        #expect(throws: TorchFormatError.invalidGeometry(
            tensor: "w.0", storage: "storage \(Self.legacyKey)",
            .outOfStorage(offset: 2, sizes: [3], strides: [1], lastElement: 4, storageElements: 4))) {
            _ = try Self.openLegacy(Self.legacyFile(object: Self.legacyObject(past, size: [3])))
        }
        for view in [P.tuple([P.string("v"), P.int(1)]), P.tuple([P.string("v"), P.int(-1), P.int(2)]), P.int(3)] {
            let id = P.legacyStorage(key: Self.legacyKey, numel: 4, view: view)
            #expect(throws: TorchFormatError.invalidPersistentID(path: "w.0", found: "a view that is not (key, offset, size)")) {
                _ = try Self.openLegacy(Self.legacyFile(object: Self.legacyObject(id, size: [1])))
            }
        }
        // A zip-style 5-tuple has no place in a legacy file.
        let five = P.storage(key: Self.legacyKey, numel: 4)
        #expect(throws: TorchFormatError.invalidPersistentID(path: "w.0", found: "a 5-tuple (string, global, string, string, int)")) {
            _ = try Self.openLegacy(Self.legacyFile(object: Self.legacyObject(five)))
        }
        // Control: the view [1, 3) reads elements 2 and 3 of the root.
        let inside = P.legacyStorage(key: Self.legacyKey, numel: 4, view: P.tuple([P.string("v"), P.int(1), P.int(2)]))
        let file = try Self.openLegacy(Self.legacyFile(object: Self.legacyObject(inside, size: [2])))
        #expect(Self.floats(try file.tensor(at: 0)) == [2, 3])
    }

    /// Expects every proper prefix of `whole` to be refused with an error (never a crash), and
    /// `whole` itself to load. Each cut needs a full open, so the cut points are shared among a
    /// few tasks, each shortening its own copy of the file with truncate(2).
    static func expectEveryPrefixRefused(_ whole: [UInt8], name: String, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let tasks = 4
        let accepted = try await withThrowingTaskGroup(of: [Int].self) { group in
            for task in 0..<tasks {
                let path = try writeTemporaryFile(whole, name: name)
                group.addTask {
                    var accepted: [Int] = []
                    // Cuts task, task + tasks, …, longest first, so the file only ever shrinks.
                    for cut in stride(from: whole.count - 1, through: 0, by: -1) where cut % tasks == task {
                        guard truncate(path, off_t(cut)) == 0 else { throw CocoaError(.fileWriteUnknown) }
                        if (try? TorchFile(path: path)) != nil { accepted.append(cut) }
                    }
                    return accepted
                }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
        #expect(accepted.isEmpty, "prefixes accepted: \(accepted.sorted().prefix(10))", sourceLocation: sourceLocation)
        #expect(try TorchFile(path: writeTemporaryFile(whole, name: name)).entries.count > 0, sourceLocation: sourceLocation)
    }

    @Test("every prefix of views_legacy.pt is refused without crashing")
    func legacyEveryCut() async throws {
        try await Self.expectEveryPrefixRefused(Fixture.bytes("torch/views_legacy.pt"), name: "views_legacy.pt")
    }

    @Test("every prefix of a zip fixture is refused without crashing")
    func zipEveryCut() async throws {
        try await Self.expectEveryPrefixRefused(Fixture.bytes("torch/bare_tensor.pth"), name: "bare_tensor.pth")
    }
}
