import BinaryIO
import PickleVM
import TensorData
import ZipFormat

/// A PyTorch file read without executing it: a `torch.save` zip archive (`.pth`, `.pt`, `.bin`,
/// `.ckpt`) or the legacy pre-1.6 stream.
///
/// The pickle is interpreted as data under the weights-only allowlist (``TorchGlobals``); tensors
/// are named by their dotted path in the object tree (`model.linear1.weight`,
/// `optimizer.state.0.exp_avg`), so a plain state dict keeps its keys. Tensor bytes are read on
/// request: zero-copy when the record is stored, little-endian and the view contiguous; copied
/// (gathered, byte-swapped) otherwise.
public final class TorchFile: ReadBudgeted {
    /// The path the file was opened from.
    public let path: String
    /// The detected format.
    public let format: ModelFormat
    /// The object tree the pickle holds.
    public let root: TorchValue
    /// Every tensor the pickle rebuilds (including storage-less ones), in rebuild order.
    public let tensors: [TorchTensorRecord]
    /// Every storage the pickle references.
    public let storages: [TorchStorageRecord]
    /// The globals the pickle names, with their verdicts, in order of appearance.
    public let globals: [PickleGlobalUse]
    /// Whether the archive's `byteorder` record says `big` (storages are swapped on read).
    public let isBigEndian: Bool
    /// Every tensor, in file order.
    public let entries: [TensorEntry]
    /// What reading the pickle noticed.
    public private(set) var warnings: [ModelFileWarning]
    /// The tensor record behind each entry.
    public let entryTensors: [Int]
    /// What each entry is, by where it sits in the object tree.
    public let entryRoles: [TorchEntryRole]
    /// For a TorchScript archive (``ModelFormat/torchScript``): its code records, class
    /// declarations and constants. The tensors are then the module's parameters and buffers by
    /// module path (as `torch.jit.load(path).state_dict()` names them), then the constants.
    public let torchScript: TorchScriptContents?
    /// Everything this read materialises: every tensor's bytes handed out, copies, inflated zip
    /// entries (``ReadOptions/maxMaterializedBytes`` beyond twice the file's size).
    public let readBudget: ReadBudget

    private let file: MappedFile
    private let container: Container
    private let geometries: [Int: TensorGeometry]
    private let limits: ReadOptions
    private var verifiedRecords = Set<ExactString>()
    private var inflated: [ExactString: ZipEntryData] = [:]

    enum Container {
        case zip(ZipArchive, folder: String)
        case legacy(ranges: [ExactString: Range<Int>])
    }

    /// Opens `path`, which must be a zip archive or a legacy torch file.
    ///
    /// - Throws: `FileError`, `TorchFormatError` (with the record, offset or tensor at fault).
    public init(path: String, options: ReadOptions = ReadOptions()) throws {
        self.path = path
        limits = options
        file = try MappedFile(path: path)
        readBudget = ReadBudget(fileByteCount: file.count, limit: options.maxMaterializedBytes)
        var warnings: [ModelFileWarning] = []
        let opened: Opened
        switch try FormatDetector.detect(bytes: file.bytes) {
        case .zipArchive: opened = try TorchFile.openZip(file, options: options, budget: readBudget, warnings: &warnings)
        case .legacyTorch: opened = try TorchFile.openLegacy(file, options: options, warnings: &warnings)
        default: throw UnrecognizedFormatError(looksLike: "not a PyTorch file")
        }
        root = opened.root
        storages = opened.storages
        globals = opened.globals
        container = opened.container
        isBigEndian = opened.bigEndian
        torchScript = opened.script

        // Name the tensors and check each one's view against its storage. A quantized tensor
        // adds entries for its parameters (docs/cli.md "Quantized tensors").
        var records = opened.interpreter.tensors
        var named = try TorchFile.nameTensors(root, maxNodes: options.maxTreeNodes, scriptClasses: opened.script?.classes)
        if let script = opened.script {
            if case .opaque(let module) = root, script.classes[module.qualifiedName] == nil {
                warnings.append(.torchScriptUndeclaredClass(module.qualifiedName))
            }
            named += try TorchFile.nameTensors(script.constants, maxNodes: options.maxTreeNodes).map { tensor in
                // `CONSTANTS.c0`, as the code refers to the constant (items of the tuple by index).
                let dot = tensor.name.utf8.firstIndex(of: UInt8(ascii: ".")) ?? tensor.name.endIndex
                let index = tensor.name[..<dot]
                let rest = tensor.name[dot...]
                let name = Int(index).map { TorchScriptContents.constantName($0) + rest } ?? "CONSTANTS." + tensor.name
                return NamedTensor(name: name, record: tensor.record, role: .torchScriptConstant)
            }
        }
        var entries: [TensorEntry] = []
        var entryTensors: [Int] = []
        var entryRoles: [TorchEntryRole] = []
        var geometries: [Int: TensorGeometry] = [:]
        var derivedNames: [String] = []
        func addEntry(_ name: String, _ index: Int, role: TorchEntryRole, quantization: TensorQuantizationInfo? = nil) throws {
            let record = records[index]
            guard let dtype = record.dtype else {
                warnings.append(.unreadableDType(tensor: name, torchDType: record.torchDType))
                return
            }
            if let storageIndex = record.storage, geometries[index] == nil {
                let storage = opened.storages[storageIndex]
                do {
                    geometries[index] = try TensorGeometry(
                        offset: record.storageOffset, sizes: record.sizes, strides: record.strides,
                        storageElements: storage.byteCount / record.elementBytes, maxRank: options.maxTensorRank)
                } catch {
                    throw TorchFormatError.invalidGeometry(tensor: name, storage: TorchFile.recordName(storage), error)
                }
            }
            if record.storage == nil {
                // Storage-less tensors (meta, sparse, empty) have a shape and nothing to check it
                // against; check it on its own, since `Shape` traps on negative or overflowing sizes.
                do {
                    try TensorGeometry.checkSizes(record.sizes, strides: record.strides, maxRank: options.maxTensorRank)
                } catch {
                    throw TorchFormatError.invalidGeometry(tensor: name, storage: "no storage (\(record.kindName))", error)
                }
                if record.kind == .dense, (Shape(record.sizes).checkedElementCount ?? 1) != 0 {
                    throw TorchFormatError.notDense(tensor: name, kind: "a tensor without storage")
                }
            }
            // The logical shape doubles a float4 tensor's last size, which a zero-stride view can overflow.
            guard let shape = record.checkedLogicalShape else {
                throw TorchFormatError.invalidGeometry(
                    tensor: name, storage: record.storage.map { TorchFile.recordName(opened.storages[$0]) } ?? "no storage",
                    .overflow(sizes: record.sizes, strides: record.strides))
            }
            entries.append(TensorEntry(name: name, dtype: dtype, shape: shape, quantization: quantization))
            entryTensors.append(index)
            entryRoles.append(role)
        }
        func constant(_ value: Int64) -> Int {
            records.append(TorchTensorRecord(
                kind: .constant(withUnsafeBytes(of: value.littleEndian) { Array($0) }), torchDType: "int64", dtype: .i64, sizes: [],
                strides: [], storageOffset: 0, storage: nil, isParameter: false, requiresGrad: false))
            return records.count - 1
        }
        for tensor in named {
            let (name, index, role) = (tensor.name, tensor.record, tensor.role)
            guard case .quantized(let quantization) = records[index].kind else {
                try addEntry(name, index, role: role)
                continue
            }
            var parameters: [(String, Int)] = []
            let info: TensorQuantizationInfo
            switch quantization.parameters {
            case .perTensor(let scale, let zeroPoint):
                records.append(TorchTensorRecord(
                    kind: .constant(withUnsafeBytes(of: scale.bitPattern.littleEndian) { Array($0) }), torchDType: "float64", dtype: .f64,
                    sizes: [], strides: [], storageOffset: 0, storage: nil, isParameter: false, requiresGrad: false))
                parameters = [(name + ".q_scale", records.count - 1), (name + ".q_zero_point", constant(zeroPoint))]
                info = TensorQuantizationInfo(torchDType: quantization.torchDType, scheme: quantization.scheme, scale: scale,
                                              zeroPoint: zeroPoint, axis: nil, parameterTensors: parameters.map(\.0))
            case .perChannel(let scales, let zeroPoints, let axis):
                parameters = [(name + ".q_per_channel_scales", scales), (name + ".q_per_channel_zero_points", zeroPoints),
                              (name + ".q_per_channel_axis", constant(Int64(axis)))]
                info = TensorQuantizationInfo(torchDType: quantization.torchDType, scheme: quantization.scheme, scale: nil,
                                              zeroPoint: nil, axis: axis, parameterTensors: parameters.map(\.0))
            }
            try addEntry(name, index, role: role, quantization: info)
            for (parameterName, parameterIndex) in parameters { try addEntry(parameterName, parameterIndex, role: role) }
            derivedNames += parameters.map(\.0)
            warnings.append(.quantizedAsIntegers(tensor: name, torchDType: quantization.torchDType, scheme: quantization.scheme,
                                                 parameterTensors: parameters.map(\.0)))
        }
        if !derivedNames.isEmpty {
            var counts: [ExactString: Int] = [:]
            for entry in entries { counts[ExactString(entry.name), default: 0] += 1 }
            if let clash = derivedNames.first(where: { (counts[ExactString($0)] ?? 0) > 1 }) {
                throw TorchFormatError.unsupportedObject(path: clash, description: "this name of a quantized tensor's parameters is also the name of another tensor")
            }
        }
        tensors = records
        self.entries = entries
        self.entryTensors = entryTensors
        self.entryRoles = entryRoles
        self.geometries = geometries
        if isBigEndian { warnings.append(.bigEndianArchive) }
        let locations = Set(opened.storages.map(\.location)).union(opened.interpreter.devices).subtracting(["cpu"])
        if !locations.isEmpty { warnings.append(.storagesOnDevices(locations.sorted())) }
        self.warnings = warnings
        if opened.script != nil {
            format = .torchScript
        } else if case .dict(let top) = root, top["pytorch-lightning_version"] != nil || (top["state_dict"] != nil && top["optimizer_states"] != nil) {
            format = .lightningCheckpoint
        } else {
            format = file.bytes.first == 0x50 ? .pytorchZip : .pytorchLegacy
        }
    }

    /// Bytes on disk.
    public var fileByteCount: Int { file.count }
    /// Always `nil`: the format has no string metadata.
    public var metadata: [ExactString: String]? { nil }

    /// Whether data.pkl holds bytes after its STOP: torch never reads them, but nothing legitimate
    /// puts them there (hidden second pickles have been used to slip past scanners).
    public var hasBytesAfterPickle: Bool { warnings.contains { $0.code == .bytesAfterPickle } }

    /// The globals outside the allowlist that were kept as inert records.
    public var unknownGlobals: [PickleGlobalUse] { globals.filter { $0.verdict != .allow } }

    /// Storage bytes not covered by any tensor (views that saved their whole storage).
    public var unreferencedStorageBytes: Int {
        var covered: [Int: [Range<Int>]] = [:]
        for (index, geometry) in geometries {
            guard let storage = tensors[index].storage, let touched = geometry.touchedElements else { continue }
            let size = tensors[index].elementBytes
            covered[storage, default: []].append((touched.lowerBound * size)..<((touched.upperBound + 1) * size))
        }
        var unused = 0
        for (index, storage) in storages.enumerated() where storage.legacyView == nil {
            var used = 0, end = 0
            for range in (covered[index] ?? []).sorted(by: { $0.lowerBound < $1.lowerBound }) {
                let start = max(range.lowerBound, end)
                if range.upperBound > start { used += range.upperBound - start; end = range.upperBound }
            }
            unused = unused.saturatingAdded(max(0, storage.byteCount - used))
        }
        return unused
    }

    // MARK: - Tensor bytes

    /// The bytes of tensor `index` (see ``TensorSource/tensor(at:)``).
    public func tensor(at index: Int) throws -> RawTensor {
        try tensor(record: entryTensors[index], name: entries[index].name)
    }

    /// The bytes of tensor record `index` (an index into ``tensors``, as ``TorchValue/tensor(_:)``
    /// holds it), named `name` in messages.
    ///
    /// - Throws: `TorchFormatError` for tensors without dense data, views outside their storage,
    ///   missing or corrupt records.
    public func tensor(record index: Int, name: String) throws -> RawTensor {
        let record = tensors[index]
        switch record.kind {
        case .dense, .quantized: break
        case .constant(let bytes):
            guard let dtype = record.dtype else { throw TorchFormatError.unsupportedDType(tensor: name, dtype: record.torchDType) }
            return try RawTensor(dtype: dtype, shape: Shape(record.sizes), bytes: TensorBytes(copying: bytes))
        case .meta: throw TorchFormatError.notDense(tensor: name, kind: "a meta tensor (shape only, no data)")
        case .sparse(let layout): throw TorchFormatError.notDense(tensor: name, kind: "a sparse tensor (\(layout))")
        }
        guard let dtype = record.dtype else {
            throw TorchFormatError.unsupportedDType(tensor: name, dtype: record.torchDType)
        }
        guard let storageIndex = record.storage else {
            // `torch.Tensor()` with no data: empty.
            guard let shape = record.checkedLogicalShape, shape.elementCount == 0 else {
                throw TorchFormatError.notDense(tensor: name, kind: "a tensor without storage")
            }
            return try RawTensor(dtype: dtype, shape: shape, bytes: .empty)
        }
        let geometry = try geometries[index] ?? validatedGeometry(record, name: name)
        guard let shape = record.checkedLogicalShape else {
            throw TorchFormatError.invalidGeometry(tensor: name, storage: TorchFile.recordName(storages[storageIndex]), .overflow(sizes: record.sizes, strides: record.strides))
        }
        guard let touched = geometry.touchedElements else {
            return try RawTensor(dtype: dtype, shape: shape, bytes: .empty)
        }
        let elementBytes = record.elementBytes
        // Every tensor handed out counts against the read budget, borrowed or copied: one storage
        // viewed by a million tensors, a zero-stride expansion, a byte-swapped copy.
        try readBudget.reserve(geometry.shape.elementCount.saturatingMultiplied(by: elementBytes), for: "tensor \"\(name)\"", tensor: name)
        let (storage, owner) = try storageBytes(storageIndex)
        let swapUnit = isBigEndian ? (dtype == .f4 ? 1 : dtype.swapUnitBytes) : 1
        let resolve = TensorGeometry.BitResolution(dtype: dtype, negative: record.isNegative, conjugate: record.isConjugate)
        if geometry.isContiguous && swapUnit == 1 && resolve == nil {
            let range = (touched.lowerBound * elementBytes)..<((touched.upperBound + 1) * elementBytes)
            return try RawTensor(dtype: dtype, shape: shape, bytes: TensorBytes(borrowing: UnsafeRawBufferPointer(rebasing: storage[range]), owner: owner))
        }
        let bytes = withExtendedLifetime(owner) {
            geometry.copy(from: storage, elementBytes: elementBytes, swapUnit: swapUnit, resolving: resolve)
        }
        if let resolve, resolve.negative, dtype == .f16 || dtype == .bf16, TorchFile.holdsNaN(bytes, dtype: dtype) {
            // torch negates a float16/bfloat16 NaN differently in its vector and scalar CPU loops.
            throw TorchFormatError.unsupportedObject(
                path: name, description: "the negative bit on a \(dtype == .f16 ? "float16" : "bfloat16") tensor holding NaN is not supported: torch's result depends on its CPU kernel")
        }
        return try RawTensor(dtype: dtype, shape: shape, bytes: bytes)
    }

    /// Whether 16-bit float `bytes` hold a NaN.
    static func holdsNaN(_ bytes: TensorBytes, dtype: DType) -> Bool {
        let (exponent, mantissa): (UInt16, UInt16) = dtype == .f16 ? (0x7C00, 0x03FF) : (0x7F80, 0x007F)
        return bytes.withUnsafeBytes { buffer in
            stride(from: 0, to: buffer.count - 1, by: 2).contains { offset in
                let bits = buffer.loadUnaligned(fromByteOffset: offset, as: UInt16.self)
                return bits & exponent == exponent && bits & mantissa != 0
            }
        }
    }

    /// A record's view checked against its storage (records reached by name were checked on open).
    private func validatedGeometry(_ record: TorchTensorRecord, name: String) throws -> TensorGeometry {
        guard let storageIndex = record.storage else { throw TorchFormatError.notDense(tensor: name, kind: "without storage") }
        let storage = storages[storageIndex]
        do {
            return try TensorGeometry(offset: record.storageOffset, sizes: record.sizes, strides: record.strides,
                                      storageElements: storage.byteCount / record.elementBytes, maxRank: limits.maxTensorRank)
        } catch {
            throw TorchFormatError.invalidGeometry(tensor: name, storage: TorchFile.recordName(storage), error)
        }
    }

    /// Drops the mapped pages of tensor `index`'s bytes.
    public func releaseMemory(forTensorAt index: Int) {
        guard let storageIndex = tensors[entryTensors[index]].storage else { return }
        let storage = storages[storageIndex]
        switch container {
        case .zip(let archive, let folder):
            if let entry = archive.entry(named: "\(folder)/\(storage.recordPath)"), entry.isStored { file.discardPages(entry.dataRange) }
        case .legacy(let ranges):
            if let range = ranges[ExactString(storage.legacyView?.rootKey ?? storage.key)] { file.discardPages(range) }
        }
    }

    /// The bytes of storage `index` and the object that keeps them alive.
    private func storageBytes(_ index: Int) throws -> (UnsafeRawBufferPointer, AnyObject) {
        let storage = storages[index]
        switch container {
        case .zip(let archive, let folder):
            let name = "\(folder)/\(storage.recordPath)"
            guard let entry = archive.entry(named: name) else { throw TorchFormatError.missingRecord(storage.recordPath) }
            if !entry.isStored, inflated[ExactString(name)] == nil { try readBudget.reserve(entry.uncompressedByteCount, for: "zip entry \(name)") }
            do {
                if entry.isStored {
                    if !verifiedRecords.contains(ExactString(name)) {
                        try archive.verifyCRC(of: entry)
                        verifiedRecords.insert(ExactString(name))
                    }
                    return (try archive.storedBytes(of: entry), archive)
                }
                if let cached = inflated[ExactString(name)] { return (cached.bytes, cached.owner) }
                let data = try archive.data(of: entry, verifyingCRC: true)
                inflated[ExactString(name)] = data
                return (data.bytes, data.owner)
            } catch {
                throw TorchFormatError.zip(error)
            }
        case .legacy(let ranges):
            let rootKey = storage.legacyView?.rootKey ?? storage.key
            guard let range = ranges[ExactString(rootKey)] else { throw TorchFormatError.missingStorage(key: rootKey) }
            var bytes = UnsafeRawBufferPointer(rebasing: file.bytes[range])
            if let view = storage.legacyView { bytes = UnsafeRawBufferPointer(rebasing: bytes[view.byteRange]) }
            return (bytes, file)
        }
    }

    /// How messages name a storage's record.
    static func recordName(_ storage: TorchStorageRecord) -> String {
        "\(storage.recordPath) (\(storage.className), \(storage.byteCount) bytes)"
    }

    // MARK: - Naming

    /// A tensor reached from the root: its dotted name, its record, and what it is.
    struct NamedTensor: Equatable {
        let name: String
        let record: Int
        let role: TorchEntryRole
    }

    /// Every tensor reachable from `root`, named by its dotted path, depth first in container
    /// order. Shared containers that hold tensors are walked once per path, within `maxNodes`
    /// visits.
    ///
    /// Objects kept inert are walked as data (their state, arguments, and list or dict items),
    /// except two kinds, which are named as torch names their tensors:
    /// - a pickled `nn.Module` (an object whose state holds `_parameters` and `_modules`): exactly
    ///   what `state_dict()` returns, its parameters, persistent buffers, then its submodules,
    ///   recursively; `None` entries, non-persistent buffers (`_non_persistent_buffers_set`) and
    ///   every other attribute (`_flat_weights` of an LSTM, cached tensors) are left out;
    /// - with `scriptClasses` (a TorchScript archive), an object of a class the code declares as a
    ///   module: the attributes its `__parameters__` and `__buffers__` list, then its submodules,
    ///   as `torch.jit.load(path).state_dict()` names them.
    ///
    /// Tensors inside an optimizer's `state_dict()` (a dict holding `state` and `param_groups`) are
    /// marked ``TorchEntryRole/optimizerState``.
    static func nameTensors(_ root: TorchValue, maxNodes: Int, scriptClasses: [String: TorchScriptClass]? = nil) throws
        -> [NamedTensor]
    {
        var result: [NamedTensor] = []
        var pending: [(value: TorchValue, path: String, role: TorchEntryRole)] = [(root, "", .weights)]
        var visits = 0
        // Subtrees without tensors are skipped (each shared one is checked once), so plain data
        // shared along 2^60 paths costs nothing here.
        var presence = TensorPresence()
        func join(_ path: String, _ component: String) -> String { path.isEmpty ? component : path + "." + component }
        while let (value, path, role) = pending.popLast() {
            guard presence.holdsTensors(value) else { continue }
            visits += 1
            guard visits <= maxNodes else { throw TorchFormatError.tooManyNodes(limit: maxNodes) }
            switch value {
            case .tensor(let index):
                result.append(NamedTensor(name: path.isEmpty ? "tensor" : path, record: index, role: role))
            case .dict(let dict):
                let inner = dict["state"] != nil && dict["param_groups"] != nil ? .optimizerState : role
                for entry in dict.entries.reversed() { pending.append((entry.value, join(path, entry.key.nameComponent), inner)) }
            case .list(let items), .tuple(let items):
                for (i, item) in items.enumerated().reversed() { pending.append((item, join(path, String(i)), role)) }
            case .opaque(let object):
                let members = inertMembers(of: object, scriptClasses: scriptClasses)
                for (member, component) in members.reversed() {
                    pending.append((member, component.map { join(path, $0) } ?? path, role))
                }
            default:
                break
            }
        }
        return result
    }

    /// The values inside an inert object that can hold tensors, each with the name component it
    /// adds (`nil`: the object's own path), in the order torch would name them.
    static func inertMembers(of object: TorchOpaqueObject, scriptClasses: [String: TorchScriptClass]?) -> [(TorchValue, String?)] {
        if case .dict(let state)? = object.state {
            if let scriptClasses, let declaration = scriptClasses[object.qualifiedName], declaration.isModule {
                return scriptModuleMembers(state, declaration: declaration, scriptClasses: scriptClasses)
            }
            if scriptClasses == nil, state["_parameters"] != nil, state["_modules"] != nil {
                return moduleMembers(state)
            }
        }
        var members: [(TorchValue, String?)] = []
        if let state = object.state { members.append((state, nil)) }
        for (i, item) in object.arguments.enumerated() { members.append((item, String(i))) }
        for (i, item) in object.listItems.enumerated() { members.append((item, String(i))) }
        for entry in object.dictItems?.entries ?? [] { members.append((entry.value, entry.key.nameComponent)) }
        return members
    }

    /// What `nn.Module.state_dict()` walks (`_save_to_state_dict`, then `_modules`): parameters
    /// that are not `None`, buffers that are neither `None` nor non-persistent, then submodules.
    static func moduleMembers(_ state: TorchDict) -> [(TorchValue, String?)] {
        var nonPersistent = Set<ExactString>()  // names compare by their bytes
        switch state["_non_persistent_buffers_set"] {
        case .set(let names)?, .list(let names)?, .tuple(let names)?: nonPersistent = Set(names.compactMap { $0.stringValue.map { ExactString($0) } })
        default: break
        }
        var members: [(TorchValue, String?)] = []
        if case .dict(let parameters)? = state["_parameters"] {
            for entry in parameters.entries where entry.value != .none { members.append((entry.value, entry.key.nameComponent)) }
        }
        if case .dict(let buffers)? = state["_buffers"] {
            for entry in buffers.entries where entry.value != .none {
                if let name = entry.key.stringValue, nonPersistent.contains(ExactString(name)) { continue }
                members.append((entry.value, entry.key.nameComponent))
            }
        }
        if case .dict(let modules)? = state["_modules"] {
            for entry in modules.entries where entry.value != .none { members.append((entry.value, entry.key.nameComponent)) }
        }
        return members
    }

    /// A TorchScript module's state dict: its declared parameters, then its declared buffers (each
    /// in attribute order, which is the class's slot order), then attributes holding modules.
    static func scriptModuleMembers(_ attributes: TorchDict, declaration: TorchScriptClass,
                                    scriptClasses: [String: TorchScriptClass]) -> [(TorchValue, String?)] {
        let parameters = Set(declaration.parameters), buffers = Set(declaration.buffers)
        var members: [(TorchValue, String?)] = []
        for group in [parameters, buffers] {
            for entry in attributes.entries {
                guard let name = entry.key.stringValue, group.contains(name), case .tensor = entry.value else { continue }
                members.append((entry.value, name))
            }
        }
        for entry in attributes.entries {
            guard let name = entry.key.stringValue, case .opaque(let child) = entry.value,
                  scriptClasses[child.qualifiedName]?.isModule ?? (child.module == "__torch__" || child.module.hasPrefix("__torch__."))
            else { continue }
            members.append((entry.value, name))
        }
        return members
    }
}

/// What a tensor in a torch file is, by where it sits in the object tree.
public enum TorchEntryRole: Sendable, Equatable {
    /// A weight: anything not listed below.
    case weights
    /// Inside an optimizer's `state_dict()` (a dict holding `state` and `param_groups`).
    case optimizerState
    /// A TorchScript archive's constant (`CONSTANTS.c0`).
    case torchScriptConstant
}

extension ReadOptions {
    /// The pickle policy: allow the weights-only allowlist; refuse or keep inert everything else.
    var globalPolicy: PickleGlobalPolicy {
        let keep = allowUnknownObjects
        return { module, name in
            if TorchGlobals.meaning(module: module, name: name) != nil { return .allow }
            return keep && !TorchGlobals.blockedModules.contains(String(module.split(separator: ".").first ?? "")) ? .keepInert : .refuse
        }
    }
}
