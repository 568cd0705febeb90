import BinaryIO
import PickleVM
import TensorData
import ZipFormat

// Opening the two containers. Zip: caffe2/serialize/inline_container.cc (the folder is the text
// before the first "/" of the first central-directory entry; `version` is required) and
// torch/serialization.py `_load`. Legacy: torch/serialization.py `_legacy_load` (docs/formats.md,
// "Legacy torch files"). TorchScript: docs/formats.md, "TorchScript archives".

extension TorchFile {
    typealias Opened = (root: TorchValue, interpreter: TorchInterpreter, storages: [TorchStorageRecord],
                        globals: [PickleGlobalUse], container: Container, bigEndian: Bool, script: TorchScriptContents?)

    static func openZip(_ file: MappedFile, options: ReadOptions, budget: ReadBudget, warnings: inout [ModelFileWarning]) throws -> Opened {
        let archive: ZipArchive
        do {
            archive = try ZipArchive(file: file, limits: options.zipLimits)
            try archive.checkSingleRootFolder()
        } catch {
            // A zip that is not a torch archive at all (a wheel, …) is named, not blamed on its layout.
            if let zip = try? ZipArchive(file: file, limits: options.zipLimits),
               let other = FormatDetector.describeZip(entryNames: zip.entries.map(\.name)) {
                throw UnrecognizedFormatError(looksLike: other)
            }
            throw TorchFormatError.zip(error)
        }
        if let other = FormatDetector.describeZip(entryNames: archive.entries.map(\.name)) {
            throw UnrecognizedFormatError(looksLike: other)
        }
        guard let folder = archive.rootFolder else { throw TorchFormatError.missingRecord("data.pkl") }
        let scriptArchive = TorchScriptArchive.detect(in: archive)
        guard let pickleEntry = archive.entry(named: "\(folder)/data.pkl") else { throw TorchFormatError.missingRecord("data.pkl") }

        // The version record: `.data/version` if present, else `version` (required, as in torch).
        guard let versionEntry = archive.entry(named: "\(folder)/.data/version") ?? archive.entry(named: "\(folder)/version") else {
            throw TorchFormatError.missingRecord("version")
        }
        let versionText = try smallRecord(archive, versionEntry)
        guard let version = Int(versionText.trimmingCharacters(in: " \n\r\t")), (1...10).contains(version) else {
            throw TorchFormatError.unsupportedVersion(record: versionEntry.name, found: versionText)
        }
        var bigEndian = false
        if let orderEntry = archive.entry(named: "\(folder)/byteorder") {
            switch try smallRecord(archive, orderEntry) {
            case "little": break
            case "big": bigEndian = true
            case let other: throw TorchFormatError.invalidByteOrder(other)
            }
        }

        // A TorchScript archive's own classes (`__torch__.…`) and TorchScript's container tags
        // (`torch.jit._pickle.…`) are kept inert without --allow-unknown-objects: they describe the
        // module tree, and nothing is run either way. Every other global meets the usual policy.
        let policy: PickleGlobalPolicy
        if scriptArchive != nil {
            let usual = options.globalPolicy
            policy = { module, name in
                module == "__torch__" || module.hasPrefix("__torch__.") || module == "torch.jit._pickle" ? .keepInert : usual(module, name)
            }
        } else {
            policy = options.globalPolicy
        }
        func unpickle(_ record: String, _ entry: ZipEntry) throws -> (UnpickleResult, ZipEntryData) {
            let pickle: ZipEntryData
            // An inflated pickle is materialised: it counts against the read budget.
            if !entry.isStored { try budget.reserve(entry.uncompressedByteCount, for: "zip entry \(entry.name)") }
            do {
                pickle = try archive.data(of: entry, verifyingCRC: true)
            } catch {
                throw TorchFormatError.zip(error)
            }
            let unpickled: UnpickleResult
            do {
                var unpickler = Unpickler(limits: options.pickleLimits, globalPolicy: policy)
                unpickler.binaryStrings = .utf8  // torch.load's encoding="utf-8" for Python 2 str
                unpickled = try unpickler.unpickle(pickle.bytes, from: 0)
            } catch {
                throw TorchFormatError.pickle(record: "\(folder)/\(record)", error)
            }
            warnings += unpickled.warnings.map { .pickle(record: record, $0) }
            if unpickled.trailingByteCount > 0 { warnings.append(.bytesAfterPickle(record: record, count: unpickled.trailingByteCount)) }
            return (unpickled, pickle)
        }
        let (unpickled, pickle) = try unpickle("data.pkl", pickleEntry)

        var table = StorageTable()
        var recordFolder = "data"
        var interpreter = TorchInterpreter(
            maxNodes: options.maxTreeNodes,
            resolveStorage: { id, path in
                let parsed = try PersistentID(id, path: path, legacy: false)
                let index = try table.add(parsed, path: path, recordFolder: recordFolder)
                let storage = table.records[index]
                guard let entry = archive.entry(named: "\(folder)/\(storage.recordPath)") else {
                    throw TorchFormatError.missingRecord(storage.recordPath)
                }
                guard entry.uncompressedByteCount == storage.byteCount else {
                    throw TorchFormatError.storageSizeMismatch(record: storage.recordPath, expected: storage.byteCount, found: entry.uncompressedByteCount)
                }
                return index
            },
            storageRecord: { index in table.records[index] })
        let root = try interpreter.interpret(unpickled.value)
        var globals = unpickled.globals
        var script: TorchScriptContents?
        if let scriptArchive {
            // The constants: a tuple of tensors whose storages are under constants/. The data.pkl
            // tree stays alive meanwhile, so the interpreter's node identities stay unique.
            var constants: TorchValue = .tuple([])
            if scriptArchive.hasConstants, let entry = archive.entry(named: "\(folder)/constants.pkl") {
                let (constantsPickle, _) = try unpickle("constants.pkl", entry)
                recordFolder = "constants"
                constants = try withExtendedLifetime((unpickled, pickle)) { try interpreter.interpret(constantsPickle.value) }
                globals += constantsPickle.globals
            }
            let classes: [String: TorchScriptClass]
            do { classes = try scriptArchive.classDeclarations(in: archive) } catch { throw TorchFormatError.zip(error) }
            script = TorchScriptContents(archive: scriptArchive, classes: classes, constants: constants)
        }
        return (root, interpreter, table.records, globals, .zip(archive, folder: folder), bigEndian, script)
    }

    static func openLegacy(_ file: MappedFile, options: ReadOptions, warnings: inout [ModelFileWarning]) throws -> Opened {
        var unpickler = Unpickler(limits: options.pickleLimits, globalPolicy: options.globalPolicy)
        unpickler.binaryStrings = .utf8  // torch.load's encoding="utf-8" for Python 2 str
        var offset = 0
        var globals: [PickleGlobalUse] = []
        func next(_ name: String) throws -> UnpickleResult {
            do {
                let result = try unpickler.unpickle(file.bytes, from: offset)
                offset = result.endOffset
                globals += result.globals
                warnings += result.warnings.map { .pickle(record: name, $0) }
                return result
            } catch {
                throw TorchFormatError.pickle(record: name, error)
            }
        }
        let magic = try next("magic-number pickle")
        guard case .bigInt(let big) = magic.value, big.description == "119547037146038801333356" else { throw TorchFormatError.badMagicNumber }
        let protocolVersion = try next("protocol-version pickle")
        guard protocolVersion.value.intValue == 1001 else {
            throw TorchFormatError.badLegacyProtocol(found: "\(protocolVersion.value.intValue.map(String.init) ?? protocolVersion.value.kind.rawValue)")
        }
        let systemInfo = try next("sys_info pickle")
        if let dict = systemInfo.value.dictValue, dict["little_endian"]?.boolValue == false {
            warnings.append(.legacyBigEndianSystem)
        }
        let main = try next("object pickle")
        let keyList = try next("storage-key pickle")

        var table = StorageTable()
        var interpreter = TorchInterpreter(
            maxNodes: options.maxTreeNodes,
            resolveStorage: { id, path in try table.add(try PersistentID(id, path: path, legacy: true), path: path) },
            storageRecord: { index in table.records[index] })
        let root = try interpreter.interpret(main.value)

        // The storage section: for each key in the (sorted) list, an int64 element count and the data.
        guard let keys = keyList.value.listValue?.items else {
            throw TorchFormatError.invalidStorageKeyList("is \(keyList.value.kind.withArticle); expected a list of keys")
        }
        var ranges: [ExactString: Range<Int>] = [:]  // storage keys compare by their bytes
        var reader = ByteReader(file.bytes, offset: offset)
        for keyValue in keys {
            guard let key = PersistentID.text(keyValue) else {
                throw TorchFormatError.invalidStorageKeyList("holds \(keyValue.kind.withArticle); expected strings")
            }
            guard let storage = table.root(key) else {
                throw TorchFormatError.invalidStorageKeyList("key \"\(key)\" is not referenced by the object pickle")
            }
            guard ranges[ExactString(key)] == nil else { throw TorchFormatError.invalidStorageKeyList("key \"\(key)\" appears twice") }
            let countOffset = reader.offset
            let declared: Int64
            do { declared = try reader.readLittleEndian(Int64.self) } catch {
                throw TorchFormatError.legacyTruncated(key: key, at: countOffset, needed: 8, available: reader.remaining)
            }
            guard declared == Int64(storage.declaredElements) else {
                throw TorchFormatError.legacyStorageMismatch(key: key, at: countOffset, expected: storage.declaredElements, found: Int(clamping: declared))
            }
            let byteCount = storage.byteCount  // declaredElements × element size, checked when the id was read
            let start = reader.offset
            do { try reader.skip(byteCount) } catch {
                throw TorchFormatError.legacyTruncated(key: key, at: start, needed: byteCount, available: reader.remaining)
            }
            ranges[ExactString(key)] = start..<(start + byteCount)
        }
        for storage in table.records where ranges[ExactString(storage.legacyView?.rootKey ?? storage.key)] == nil {
            throw TorchFormatError.missingStorage(key: storage.legacyView?.rootKey ?? storage.key)
        }
        if reader.remaining > 0 { warnings.append(.bytesAfterLastStorage(count: reader.remaining)) }
        return (root, interpreter, table.records, globals, .legacy(ranges: ranges), false, nil)
    }

    /// A short text record (`version`, `byteorder`).
    private static func smallRecord(_ archive: ZipArchive, _ entry: ZipEntry) throws -> String {
        guard entry.uncompressedByteCount <= 64 else { return "(\(entry.uncompressedByteCount) bytes)" }
        do {
            return try archive.data(of: entry, verifyingCRC: true).withUnsafeBytes { String(decoding: $0, as: UTF8.self) }
        } catch {
            throw TorchFormatError.zip(error)
        }
    }
}

/// A parsed `('storage', <class>, key, location, numel[, view])` persistent id.
struct PersistentID {
    let className: String
    let storageClass: StorageClass
    let key: String
    let location: String
    let numel: Int
    /// Legacy views: (view key, offset, size) in elements of the root storage's dtype.
    let view: (key: String, offset: Int, size: Int)?

    init(_ value: PickleValue, path: String, legacy: Bool) throws {
        guard case .persistentID(let node) = value, let items = node.id.tupleValue?.items else {
            throw TorchFormatError.invalidPersistentID(path: path, found: PersistentID.describe(value))
        }
        let expectedCount = legacy ? 6 : 5
        guard items.count == expectedCount, PersistentID.text(items[0]) == "storage", case .global(let global) = items[1],
              let key = PersistentID.text(items[2]), let location = PersistentID.text(items[3]),
              let numelValue = items[4].intValue, let numel = Int(exactly: numelValue), numel >= 0
        else { throw TorchFormatError.invalidPersistentID(path: path, found: PersistentID.describe(.tuple(node.id.tupleValue ?? PickleTuple([])))) }
        guard case .storage(let storageClass)? = TorchGlobals.meaning(module: global.module, name: global.name) else {
            throw TorchFormatError.unsupportedStorage(key: key, className: global.qualifiedName)
        }
        className = global.name
        self.storageClass = storageClass
        self.key = key
        self.location = location
        self.numel = numel
        if legacy, case .tuple(let viewTuple) = items[5] {
            guard viewTuple.items.count == 3, let viewKey = PersistentID.text(viewTuple.items[0]),
                  let offset = viewTuple.items[1].intValue.flatMap({ Int(exactly: $0) }), offset >= 0,
                  let size = viewTuple.items[2].intValue.flatMap({ Int(exactly: $0) }), size >= 0
            else { throw TorchFormatError.invalidPersistentID(path: path, found: "a view that is not (key, offset, size)") }
            view = (viewKey, offset, size)
        } else if legacy, items[5] != .none {
            throw TorchFormatError.invalidPersistentID(path: path, found: "a view that is not (key, offset, size)")
        } else {
            view = nil
        }
    }

    /// A string, or Python-2-era ASCII bytes.
    static func text(_ value: PickleValue) -> String? {
        switch value {
        case .string(let text): return text
        case .bytes(let bytes) where bytes.allSatisfy({ $0 < 0x80 }): return String(decoding: bytes, as: UTF8.self)
        default: return nil
        }
    }

    static func describe(_ value: PickleValue) -> String {
        switch value {
        case .tuple(let tuple): return "a \(tuple.items.count)-tuple (" + tuple.items.prefix(6).map { $0.kind.rawValue }.joined(separator: ", ") + ")"
        case .persistentID(let node): return describe(node.id)
        default: return value.kind.withArticle
        }
    }
}

/// The storages a pickle references. As in `torch.load`, the first reference to a key decides
/// its class and size and later references get that same storage whatever class or size they
/// name, except that an empty storage is not kept, so each reference to it takes its own class
/// (torch/serialization.py `persistent_load`; docs/formats.md "Torch rebuild semantics").
struct StorageTable {
    private(set) var records: [TorchStorageRecord] = []
    private var indexByKey: [ExactString: Int] = [:]  // keys compare by their bytes, as torch's dict does

    /// The record for a root (non-view) storage key.
    func root(_ key: String) -> TorchStorageRecord? {
        guard let index = indexByKey[ExactString(key)], records[index].legacyView == nil else { return nil }
        return records[index]
    }

    mutating func add(_ id: PersistentID, path: String, recordFolder: String = "data") throws -> Int {
        let dtype: DType?
        let torchDType: String
        let elementBytes: Int
        switch id.storageClass {
        case .typed(let name, let type):
            guard let element = TorchGlobals.storageElement(className: name) else { throw TorchFormatError.unsupportedStorage(key: id.key, className: name) }
            dtype = type
            torchDType = element.torchDType
            elementBytes = element.elementBytes
        case .untyped:
            dtype = nil
            torchDType = "uint8"
            elementBytes = 1
        case .typedGeneric:
            throw TorchFormatError.unsupportedStorage(key: id.key, className: "TypedStorage (a class without a dtype, which torch cannot load)")
        }
        let (byteCount, overflow) = id.numel.multipliedReportingOverflow(by: elementBytes)
        guard !overflow else { throw TorchFormatError.invalidPersistentID(path: path, found: "numel \(id.numel), which overflows") }
        var root = TorchStorageRecord(key: id.key, className: id.className, dtype: dtype, declaredElements: id.numel,
                                      byteCount: byteCount, location: id.location, legacyView: nil, recordFolder: recordFolder)
        root.torchDType = torchDType
        root.elementBytes = elementBytes
        // A TorchScript archive's constants have their own keys ("0", …) under constants/.
        let tableKey = ExactString(recordFolder == "data" ? id.key : root.recordPath)
        let rootIndex: Int
        if let existing = indexByKey[tableKey], records[existing].byteCount > 0 || records[existing].torchDType == torchDType {
            rootIndex = existing
        } else if indexByKey[tableKey] != nil {
            records.append(root)  // an empty storage referenced again with another class
            rootIndex = records.count - 1
        } else {
            records.append(root)
            rootIndex = records.count - 1
            indexByKey[tableKey] = rootIndex
        }
        guard let view = id.view else { return rootIndex }
        if let existing = indexByKey[ExactString(view.key)] { return existing }  // the first view with a key is kept
        // A legacy view: a byte range of the root storage, in this reference's dtype.
        let rootBytes = records[rootIndex].byteCount
        let (start, o1) = view.offset.multipliedReportingOverflow(by: elementBytes)
        let (length, o2) = view.size.multipliedReportingOverflow(by: elementBytes)
        let (end, o3) = start.addingReportingOverflow(length)
        guard !o1, !o2, !o3, end <= rootBytes else {
            let (last, o4) = view.offset.addingReportingOverflow(view.size)
            throw TorchFormatError.invalidGeometry(
                tensor: path, storage: "storage \(id.key)",
                .outOfStorage(offset: view.offset, sizes: [view.size], strides: [1], lastElement: o4 ? Int.max : last - 1,
                              storageElements: rootBytes / elementBytes))
        }
        var viewRecord = TorchStorageRecord(key: view.key, className: id.className, dtype: dtype, declaredElements: view.size,
                                            byteCount: length, location: id.location, legacyView: (records[rootIndex].key, start..<end))
        viewRecord.torchDType = torchDType
        viewRecord.elementBytes = elementBytes
        records.append(viewRecord)
        indexByKey[ExactString(view.key)] = records.count - 1
        return records.count - 1
    }
}

extension String {
    fileprivate func trimmingCharacters(in set: String) -> String {
        let characters = Set(set)
        return String(drop(while: { characters.contains($0) }).reversed().drop(while: { characters.contains($0) }).reversed())
    }
}
