import BinaryIO
import PickleVM
import TensorData
import ZipFormat

/// Writes `torch.save`-style zip archives that `torch.load(path, weights_only=True)` reads.
///
/// The layout follows torch 2.x (docs/formats.md, "Torch zip archives"): records `data.pkl` (a protocol-2 pickle),
/// `.format_version`, `.storage_alignment`, `byteorder`, `data/0`, `data/1`, … (one per tensor, in
/// pickling order), `version` and `.data/serialization_id`; every record stored and its data
/// aligned to 64 bytes with the same padding field torch uses. Each tensor is written contiguous
/// in its own storage, little-endian, straight from its source to disk.
public enum TorchWriter {
    /// Writes `object` (plain values, containers and ``TorchValue/tensor(_:)`` placeholders that
    /// index `tensors`) to `path`.
    ///
    /// - Parameters:
    ///   - archiveName: the records' folder; default: the file name without its extension, as torch
    ///     names it (`archive` when that is not plain ASCII).
    ///   - tensorBytes: the contiguous little-endian bytes of tensor `i`, called once per tensor in
    ///     write order.
    ///   - didWrite: called after tensor `i` has been written.
    /// - Throws: `TorchFormatError.unwritable` for values a weights-only load cannot read back,
    ///   `FileError`, `ZipError`, or whatever `tensorBytes` throws; nothing is left at `path` on failure.
    public static func write(
        to path: String,
        object: TorchValue,
        tensors: [TensorEntry],
        overwrite: Bool,
        archiveName: String? = nil,
        tensorBytes: (Int) throws -> TensorBytes,
        didWrite: (Int) -> Void = { _ in }
    ) throws {
        var encoder = ObjectEncoder(tensors: tensors)
        let pickle = try PickleEncoder().encode(try encoder.pickleValue(object))
        let folder = archiveName ?? defaultArchiveName(for: path)
        let output = try OutputFile(path: path, overwrite: overwrite)
        let zip = ZipWriter(output: output)
        var names: [String] = []
        var combinedCRC: UInt32 = 0
        func record(_ name: String, _ bytes: [UInt8]) throws {
            try zip.addEntry(name: "\(folder)/\(name)", bytes: bytes)
            names.append(name)
            combinedCRC = bytes.withUnsafeBytes { CRC32.checksum($0, continuing: combinedCRC) }
        }
        try record("data.pkl", pickle)
        try record(".format_version", Array("1".utf8))
        try record(".storage_alignment", Array("64".utf8))
        try record("byteorder", Array("little".utf8))
        for (key, tensorIndex) in encoder.storageOrder.enumerated() {
            let bytes = try tensorBytes(tensorIndex)
            guard bytes.count == tensors[tensorIndex].byteCount else {
                throw TensorDataError.byteCountMismatch(
                    dtype: tensors[tensorIndex].dtype, shape: tensors[tensorIndex].shape, expected: tensors[tensorIndex].byteCount, found: bytes.count)
            }
            try zip.beginEntry(name: "\(folder)/data/\(key)", byteCount: bytes.count)
            try bytes.withUnsafeBytes { try zip.write($0) }
            try zip.endEntry()
            names.append("data/\(key):\(bytes.count)")
            didWrite(tensorIndex)
        }
        try record("version", Array("3\n".utf8))
        // Informational, like torch's: 20 digits hashing the record names and sizes, 20 digits of
        // the small records' CRC (the storages' CRCs are in the zip entries already).
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in names.joined(separator: "\n").utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01B3 }
        try record(".data/serialization_id", Array((padded(hash) + padded(UInt64(combinedCRC))).utf8))
        try zip.finish()
        try output.commit()
    }

    /// Writes `stateDict` as torch writes `model.state_dict()`: an OrderedDict of tensors.
    ///
    /// - Throws: as ``write(to:object:tensors:overwrite:archiveName:tensorBytes:didWrite:)``.
    public static func write(_ stateDict: StateDict, to path: String, overwrite: Bool) throws {
        let items = Array(stateDict)
        let object = TorchValue.dict(TorchDict(items.enumerated().map { (key: .string($0.element.name), value: .tensor($0.offset)) }, isOrdered: true))
        try write(to: path, object: object, tensors: items.map { TensorEntry(name: $0.name, dtype: $0.tensor.dtype, shape: $0.tensor.shape) },
                  overwrite: overwrite, tensorBytes: { items[$0].tensor.bytes })
    }

    /// The folder torch would use for `path`: the file name without its last extension.
    public static func defaultArchiveName(for path: String) -> String {
        let name = path.split(separator: "/").last.map(String.init) ?? path
        let stem = name.contains(".") && !name.hasPrefix(".") ? String(name[..<name.lastIndex(of: ".")!]) : name
        let plain = !stem.isEmpty && stem.utf8.allSatisfy { $0 >= 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "/") && $0 != UInt8(ascii: "\\") }
        return plain ? stem : "archive"
    }

    private static func padded(_ value: UInt64) -> String {
        let digits = String(value)
        return String(repeating: "0", count: max(0, 20 - digits.count)) + digits
    }
}

/// Turns a ``TorchValue`` tree into the pickle torch writes for it, numbering storages in the
/// order the pickler meets them (as `torch.save` does).
private struct ObjectEncoder {
    let tensors: [TensorEntry]
    /// Tensor indices in storage-key order ("0", "1", …).
    private(set) var storageOrder: [Int] = []
    private var keyOfTensor: [Int: Int] = [:]
    /// The rebuild call written for each tensor index, so a tensor referenced twice is one object.
    private var tensorObjects: [Int: PickleValue] = [:]
    private var globals: [String: PickleValue] = [:]

    init(tensors: [TensorEntry]) { self.tensors = tensors }

    /// The pickle value of `root`. Iterative, and each container is converted once: a container
    /// the tree shares becomes one pickle node, which the encoder writes once and fetches from its
    /// memo afterwards, so the pickle grows with the number of containers, not of paths.
    mutating func pickleValue(_ root: TorchValue) throws -> PickleValue {
        enum Step {
            case enter(TorchValue, path: String)
            case exit(TorchValue, path: String)
        }
        var converted: [TorchContainerIdentity: PickleValue] = [:]
        var results: [PickleValue] = []
        var steps: [Step] = [.enter(root, path: "")]
        while let step = steps.popLast() {
            switch step {
            case .enter(let value, let path):
                if let identity = value.containerIdentity, let done = converted[identity] {
                    results.append(done)
                    continue
                }
                switch value {
                case .list(let items), .tuple(let items):
                    steps.append(.exit(value, path: path))
                    for (i, item) in items.enumerated().reversed() { steps.append(.enter(item, path: join(path, String(i)))) }
                case .set(let items):
                    steps.append(.exit(value, path: path))
                    for item in items.reversed() { steps.append(.enter(item, path: path)) }
                case .dict(let dict):
                    steps.append(.exit(value, path: path))
                    for entry in dict.entries.reversed() {
                        steps.append(.enter(entry.value, path: join(path, entry.key.nameComponent)))
                        steps.append(.enter(entry.key, path: path))
                    }
                default:
                    results.append(try leaf(value, path: path))
                }
            case .exit(let value, let path):
                let result: PickleValue
                switch value {
                case .list(let items):
                    result = .list(PickleList(Array(results.suffix(items.count))))
                    results.removeLast(items.count)
                case .tuple(let items):
                    result = .tuple(PickleTuple(Array(results.suffix(items.count))))
                    results.removeLast(items.count)
                case .set(let items):
                    result = .set(PickleSet(Array(results.suffix(items.count))))
                    results.removeLast(items.count)
                case .dict(let dict):
                    let flat = Array(results.suffix(2 * dict.entries.count))
                    results.removeLast(2 * dict.entries.count)
                    var entries: [(key: PickleValue, value: PickleValue)] = []
                    entries.reserveCapacity(dict.entries.count)
                    for (i, entry) in dict.entries.enumerated() {
                        let key = flat[2 * i]
                        guard PickleDict.isHashableKey(key) else {
                            throw TorchFormatError.unwritable(path: path, reason: "dict key \(entry.key.summary) is not hashable")
                        }
                        entries.append((key, flat[2 * i + 1]))
                    }
                    result = .dict(PickleDict(entries, className: dict.isOrdered ? global("collections", "OrderedDict") : nil))
                default:
                    result = try leaf(value, path: path)
                }
                if let identity = value.containerIdentity { converted[identity] = result }
                results.append(result)
            }
        }
        return results.last ?? .none
    }

    /// A value without children in the walk.
    private mutating func leaf(_ value: TorchValue, path: String) throws -> PickleValue {
        switch value {
        case .none: return .none
        case .bool(let b): return .bool(b)
        case .int(let i): return .int(i)
        case .bigInt(let big): return .bigInt(big)
        case .float(let f): return .float(f)
        case .string(let s): return .string(s)
        case .bytes(let b): return .bytes(b)
        case .complex(let re, let im): return .object(PickleObject(reduce: global("builtins", "complex"), arguments: [.float(re), .float(im)]))
        case .tensor(let index):
            if let object = tensorObjects[index] { return object }
            let object = try tensor(index, path: path)
            tensorObjects[index] = object
            return object
        case .dtype(let name):
            guard TorchGlobals.meaning(module: "torch", name: name) != nil else {
                throw TorchFormatError.unwritable(path: path, reason: "torch.\(name) is not a dtype torch.load accepts")
            }
            return .global(global("torch", name))
        case .device(let name): return .object(PickleObject(reduce: global("torch", "device"), arguments: [.string(name)]))
        case .layout(let name):
            return .object(PickleObject(reduce: global("torch.serialization", "_get_layout"), arguments: [.string(name.hasPrefix("torch.") ? name : "torch." + name)]))
        case .qscheme(let name): return .global(global("torch", name))
        case .global(let module, let name):
            guard TorchGlobals.meaning(module: module, name: name) != nil else {
                throw TorchFormatError.unwritable(path: path, reason: "\(module).\(name) is outside the weights-only allowlist")
            }
            return .global(global(module, name))
        case .storage:
            throw TorchFormatError.unwritable(path: path, reason: "a bare storage cannot be written; write tensors")
        case .opaque(let object):
            throw TorchFormatError.unwritable(path: path, reason: "\(object.module).\(object.name) was never loaded, so it cannot be written back")
        case .list, .tuple, .set, .dict:
            // Empty containers (no identity) still reach here through `exit`; non-empty ones never do.
            switch value {
            case .list: return .list(PickleList([]))
            case .tuple: return .tuple(PickleTuple([]))
            case .set: return .set(PickleSet([]))
            default: return .dict(PickleDict([], className: nil))
            }
        }
    }

    /// `_rebuild_tensor_v2(storage, 0, size, stride, False, OrderedDict())`, or `_v3` with an
    /// untyped storage and a dtype for the types that have no legacy storage class.
    private mutating func tensor(_ index: Int, path: String) throws -> PickleValue {
        guard tensors.indices.contains(index) else { throw TorchFormatError.unwritable(path: path, reason: "tensor \(index) is not among the tensors given") }
        let entry = tensors[index]
        guard let torchName = entry.dtype.torchName else {
            throw TorchFormatError.unwritable(path: path, reason: "\(entry.dtype) has no torch dtype")
        }
        let key: Int
        if let existing = keyOfTensor[index] {
            key = existing
        } else {
            key = storageOrder.count
            storageOrder.append(index)
            keyOfTensor[index] = key
        }
        // torch counts float4_e2m1fn_x2 elements in byte pairs: halve the last dimension.
        var sizes = entry.shape.dimensions
        if entry.dtype == .f4, let last = sizes.popLast() { sizes.append(last / 2) }
        let elementBytes = entry.dtype == .f4 ? 1 : (entry.dtype.byteWidth ?? 1)
        let strides = Shape(sizes).contiguousStrides
        let hooks = PickleValue.dict(PickleDict([], className: global("collections", "OrderedDict")))
        let sizeTuple = PickleValue.tuple(PickleTuple(sizes.map { .int(Int64($0)) }))
        let strideTuple = PickleValue.tuple(PickleTuple(strides.map { .int(Int64($0)) }))
        let storageKey = PickleValue.string(String(key))
        let location = PickleValue.string("cpu")
        if let className = TorchGlobals.legacyStorageClassName(for: entry.dtype) {
            let id = PickleValue.tuple(PickleTuple([.string("storage"), .global(global("torch", className)), storageKey, location,
                                                    .int(Int64(entry.byteCount / elementBytes))]))
            return .object(PickleObject(reduce: global("torch._utils", "_rebuild_tensor_v2"), arguments: [
                .persistentID(PicklePersistentID(id)), .int(0), sizeTuple, strideTuple, .bool(false), hooks,
            ]))
        }
        let id = PickleValue.tuple(PickleTuple([.string("storage"), .global(global("torch.storage", "UntypedStorage")), storageKey, location,
                                                .int(Int64(entry.byteCount))]))
        return .object(PickleObject(reduce: global("torch._utils", "_rebuild_tensor_v3"), arguments: [
            .persistentID(PicklePersistentID(id)), .int(0), sizeTuple, strideTuple, .bool(false), hooks, .global(global("torch", torchName)),
        ]))
    }

    private func global(_ module: String, _ name: String) -> PickleGlobal { PickleGlobal(module: module, name: name) }

    private func join(_ path: String, _ component: String) -> String { path.isEmpty ? component : path + "." + component }
}
