import PickleVM
import TensorData

// Gives torch meaning to an inert pickle tree, without ever calling anything.
//
// Three passes, none recursive:
//  1. top-down, assign each shared node the first path that reaches it (for messages);
//  2. bottom-up in order of nesting depth (children are always shallower), convert each node
//     once, so sharing in the pickle stays sharing here;
//  3. (TorchFile) name the tensors by walking the result from the root.
// Every rebuild call, and every BUILD state, is applied the way `torch.load(weights_only=True)`
// applies it, or refused with the tensor's path; docs/formats.md "Torch rebuild semantics" lists
// each function, each argument and each state form with what modelfile does with it.

/// Resolves a persistent id (`BINPERSID`) to an index into the storage table.
typealias StorageResolver = (_ id: PickleValue, _ path: String) throws -> Int

/// Converts an unpickled torch object tree to ``TorchValue``s and a tensor table.
struct TorchInterpreter {
    private(set) var tensors: [TorchTensorRecord] = []
    /// Devices named by rebuild calls (`_rebuild_device_tensor_from_cpu_tensor`) other than the CPU.
    private(set) var devices: Set<String> = []
    /// Each node seen, by identity: its place in `nodePaths` and `convertedValues`.
    private var nodeIndex: [ObjectIdentifier: Int] = [:]
    private var nodePaths: [String] = []
    private var convertedValues: [TorchValue?] = []
    /// The meaning of each distinct global met so far, so a pickle naming the same global a
    /// million times looks it up in the allowlist once.
    private let meanings = GlobalMeanings()
    private let resolveStorage: StorageResolver
    private let storageRecord: (Int) -> TorchStorageRecord
    private let maxNodes: Int

    init(maxNodes: Int, resolveStorage: @escaping StorageResolver, storageRecord: @escaping (Int) -> TorchStorageRecord) {
        self.maxNodes = maxNodes
        self.resolveStorage = resolveStorage
        self.storageRecord = storageRecord
    }

    /// Interprets `root`.
    mutating func interpret(_ root: PickleValue) throws -> TorchValue {
        // Pass 1: first path of every node. A TorchScript archive interprets a second pickle
        // with the same interpreter, so indices continue after the first pickle's nodes.
        let first = nodePaths.count
        var nodes: [PickleNode] = []
        var deepest = 0
        var pending: [(PickleValue, String)] = [(root, "")]
        while let (value, path) = pending.popLast() {
            guard let node = value.node else { continue }
            let id = ObjectIdentifier(node)
            guard nodeIndex[id] == nil else { continue }
            nodeIndex[id] = nodePaths.count
            nodePaths.append(path)
            convertedValues.append(nil)
            nodes.append(node)
            deepest = max(deepest, node.depth)
            guard nodes.count <= maxNodes else { throw TorchFormatError.tooManyNodes(limit: maxNodes) }
            TorchInterpreter.forEachChild(of: value, reversed: true) { child, component in
                pending.append((child, component.map { path.isEmpty ? $0 : path + "." + $0 } ?? path))
            }
        }
        // Pass 2: shallowest first, so every child is converted before its parent. A stable
        // counting sort by depth (depths are 1...deepest, and deepest <= the node count).
        var starts = [Int](repeating: 0, count: deepest + 2)
        for node in nodes { starts[node.depth + 1] += 1 }
        for depth in 1..<starts.count { starts[depth] += starts[depth - 1] }
        var order = [Int](repeating: 0, count: nodes.count)
        for (position, node) in nodes.enumerated() {
            order[starts[node.depth]] = position
            starts[node.depth] += 1
        }
        for position in order {
            let index = first + position
            convertedValues[index] = try convertNode(nodes[position], path: nodePaths[index])
        }
        return try value(root)
    }

    /// The meaning of an allowed global (nil: not allowed), looked up once per distinct global.
    private func meaningOf(_ global: PickleGlobal) -> TorchGlobal? { meanings.meaning(global) }

    /// Calls `body` with each child of a value and the name component it adds to a path (`nil`:
    /// same path), in order or in reverse order, without making an array of them.
    static func forEachChild(of value: PickleValue, reversed: Bool, _ body: (PickleValue, String?) -> Void) {
        switch value {
        case .list(let list):
            if reversed {
                for offset in list.items.indices.reversed() { body(list.items[offset], String(offset)) }
            } else {
                for offset in list.items.indices { body(list.items[offset], String(offset)) }
            }
        case .tuple(let tuple):
            if reversed {
                for offset in tuple.items.indices.reversed() { body(tuple.items[offset], String(offset)) }
            } else {
                for offset in tuple.items.indices { body(tuple.items[offset], String(offset)) }
            }
        default:
            let all = children(of: value)
            if reversed {
                for (child, component) in all.reversed() { body(child, component) }
            } else {
                for (child, component) in all { body(child, component) }
            }
        }
    }

    /// The children of a value with the name component each adds to a path (`nil`: same path).
    static func children(of value: PickleValue) -> [(PickleValue, String?)] {
        switch value {
        case .list(let list): return list.items.enumerated().map { ($0.element, String($0.offset)) }
        case .tuple(let tuple): return tuple.items.enumerated().map { ($0.element, String($0.offset)) }
        case .set(let set): return set.elements.map { ($0, nil) }
        case .dict(let dict):
            var result: [(PickleValue, String?)] = []
            for (key, item) in zip(dict.keys, dict.values) {
                result.append((key, nil))
                result.append((item, key.stringValue ?? key.intValue.map(String.init) ?? "?"))
            }
            if let state = dict.buildState { result.append((state, nil)) }
            return result
        case .object(let object):
            var result: [(PickleValue, String?)] = [(.tuple(object.arguments), nil)]
            if let state = object.state { result.append((state, nil)) }
            if let items = object.listItems { result.append((.list(items), nil)) }
            if let items = object.dictItems { result.append((.dict(items), nil)) }
            return result
        case .persistentID(let id): return [(id.id, nil)]
        default: return []
        }
    }

    /// The converted form of a child value (scalars converted here, nodes looked up).
    private func value(_ value: PickleValue) throws -> TorchValue {
        switch value {
        case .none: return .none
        case .bool(let b): return .bool(b)
        case .int(let i): return .int(i)
        case .bigInt(let big): return .bigInt(big)
        case .float(let f): return .float(f)
        case .string(let s): return .string(s)
        case .bytes(let b): return .bytes(b)
        case .global(let global):
            switch meaningOf(global) {
            case .dtype(let name, _): return .dtype(name)
            case .qscheme(let name): return .qscheme(name)
            default: return .global(module: global.module, name: global.name)
            }
        default:
            guard let node = value.node, let index = nodeIndex[ObjectIdentifier(node)], let result = convertedValues[index] else {
                throw TorchFormatError.unsupportedObject(path: "?", description: "the pickle refers to an object before it is made")
            }
            return result
        }
    }

    private mutating func convertNode(_ node: PickleNode, path: String) throws -> TorchValue {
        let place = path.isEmpty ? "the top-level object" : path
        switch node {
        case let list as PickleList: return .list(try list.items.map(value))
        case let tuple as PickleTuple: return .tuple(try tuple.items.map(value))
        case let set as PickleSet: return .set(try set.elements.map(value))
        case let dict as PickleDict:
            let entries = try zip(dict.keys, dict.values).map { (key: try value($0), value: try value($1)) }
            if let state = dict.buildState {
                // torch builds only an OrderedDict (or Counter) among dicts: `__dict__.update(state)`,
                // Python attributes such as `_metadata` that hold no tensor values.
                guard let className = dict.className?.qualifiedName,
                      className == "collections.OrderedDict" || className == "collections.Counter"
                else { throw TorchFormatError.unsupportedObject(path: place, description: "BUILD on a plain dict, which torch refuses") }
                try checkAttributeUpdate(try value(state), target: className, path: place)
            }
            return .dict(TorchDict(entries, isOrdered: dict.className?.name == "OrderedDict"))
        case let id as PicklePersistentID:
            return .storage(try resolveStorage(.persistentID(id), path))
        case let object as PickleObject:
            return try convertObject(object, path: path)
        default:
            throw TorchFormatError.unsupportedObject(path: place, description: "unexpected pickle node")
        }
    }

    // MARK: - Calls

    private mutating func convertObject(_ object: PickleObject, path: String) throws -> TorchValue {
        let callable = object.callable
        let arguments = try object.arguments.items.map(value)
        let state = try object.state.map(value)
        if callable.isUnknown {
            var listItems: [TorchValue] = []
            if let items = object.listItems, case .list(let converted) = try value(.list(items)) { listItems = converted }
            var dictItems: TorchDict?
            if let items = object.dictItems, case .dict(let converted) = try value(.dict(items)) { dictItems = converted }
            return .opaque(TorchOpaqueObject(
                module: callable.module, name: callable.name, arguments: arguments, state: state, listItems: listItems,
                dictItems: dictItems))
        }
        guard let meaning = meaningOf(callable) else {
            throw TorchFormatError.unsupportedObject(path: path, description: "call to \(callable.qualifiedName), which is not allowed")
        }
        let place = path.isEmpty ? "the top-level object" : path
        let result = try call(meaning, callable, arguments, path: place)
        guard let state else { return result }
        return try applyBuild(state, to: result, callable: callable, path: place)
    }

    private mutating func call(_ meaning: TorchGlobal, _ callable: PickleGlobal, _ arguments: [TorchValue], path place: String) throws -> TorchValue {
        switch meaning {
        case .rebuild(let function):
            return try rebuild(function, arguments, path: place)
        case .rebuildFromTypeV2:
            // (function, type, args, state): ret = function(*args), made an instance of `type`,
            // then `state` set as attributes (torch/_tensor.py `_rebuild_from_type_v2`).
            guard arguments.count == 4, case .global(let module, let name) = arguments[0],
                  case .rebuild(let function)? = meaningOf(PickleGlobal(module: module, name: name)),
                  case .global(let typeModule, let typeName) = arguments[1],
                  let inner = arguments[2].sequenceItems
            else {
                throw invalid(place, "_rebuild_from_type_v2", "(rebuild function, tensor type, arguments, state)", arguments)
            }
            let type = meaningOf(PickleGlobal(module: typeModule, name: typeName))
            guard type == .tensorClass || type == .parameterClass else {
                throw TorchFormatError.unsupportedObject(path: place, description: "tensor subclass \(typeModule).\(typeName) is not supported")
            }
            guard case .tensor(let index) = try rebuild(function, inner, path: place) else {
                throw invalid(place, "_rebuild_from_type_v2", "a rebuild function that makes a tensor", arguments)
            }
            var record = tensors[index]
            record.isParameter = type == .parameterClass
            try setAttributes(arguments[3], on: &record, path: place)
            return append(record)
        case .parameterClass:
            // Parameter(data=None, requires_grad=True), by NEWOBJ or REDUCE.
            guard arguments.count <= 2 else { throw invalid(place, "Parameter", "(tensor[, requires_grad])", arguments) }
            var record: TorchTensorRecord
            switch arguments.first ?? .none {
            case .none: record = TorchInterpreter.emptyTensor(torchDType: "float32")
            case .tensor(let index): record = tensors[index]
            default: throw invalid(place, "Parameter", "(tensor[, requires_grad])", arguments)
            }
            record.isParameter = true
            record.requiresGrad = try requiresGrad(arguments.count > 1 ? arguments[1] : .bool(true), torchDType: record.torchDType, path: place)
            return append(record)
        case .tensorClass, .legacyTensorClass:
            // torch.Tensor() / torch.FloatTensor(): an empty tensor, which BUILD may then `set_`.
            guard arguments.isEmpty else {
                throw invalid(place, "\(callable.qualifiedName)()", "no arguments (a later BUILD gives the data)", arguments)
            }
            var torchDType = "float32"
            if case .legacyTensorClass(let dtype, let sparse) = meaning {
                guard !sparse, !callable.module.hasPrefix("torch.cuda") else {
                    throw TorchFormatError.unsupportedObject(path: place, description: "\(callable.qualifiedName)() is not a dense CPU tensor class")
                }
                torchDType = dtype?.torchName ?? "float32"
            }
            return append(TorchInterpreter.emptyTensor(torchDType: torchDType))
        case .size:
            guard arguments.count == 1, let dims = arguments[0].sequenceItems, dims.allSatisfy({ $0.strictInt != nil }) else {
                throw invalid(place, "torch.Size", "(a tuple of ints,)", arguments)
            }
            return .tuple(dims)
        case .device:
            guard let type = arguments.first?.stringValue, arguments.count <= 2 else { throw invalid(place, "torch.device", "(type[, index])", arguments) }
            if arguments.count > 1 {
                guard let index = arguments[1].strictInt else { throw invalid(place, "torch.device", "(type[, index])", arguments) }
                return .device("\(type):\(index)")
            }
            return .device(type)
        case .complex:
            let parts = arguments.compactMap(\.doubleValue)
            guard parts.count == arguments.count, parts.count <= 2 else { throw invalid(place, "complex", "(real, imaginary)", arguments) }
            return .complex(real: parts.first ?? 0, imaginary: parts.count > 1 ? parts[1] : 0)
        case .bytearray:
            if arguments.isEmpty { return .bytes([]) }
            guard arguments.count == 1, case .bytes(let bytes) = arguments[0] else { throw invalid(place, "bytearray", "(bytes,)", arguments) }
            return .bytes(bytes)
        case .counter, .orderedDict:
            if arguments.isEmpty { return .dict(TorchDict(isOrdered: meaning == .orderedDict)) }
            guard arguments.count == 1, case .dict(var dict) = arguments[0] else { throw invalid(place, callable.qualifiedName, "(dict,)", arguments) }
            dict.isOrdered = meaning == .orderedDict
            return .dict(dict)
        case .layout:
            guard arguments.count == 1, let name = arguments[0].stringValue, TorchInterpreter.layouts.contains(name) else {
                throw invalid(place, "_get_layout", "(the name of a torch layout,)", arguments)
            }
            return .layout(name)
        case .set, .codecsEncode:
            throw invalid(place, callable.qualifiedName, "the arguments Python's pickler writes", arguments)
        case .storage, .dtype, .qscheme:
            throw TorchFormatError.unsupportedObject(path: place, description: "\(callable.qualifiedName) is called; torch never writes that")
        }
    }

    /// The layouts `torch.serialization._get_layout` knows.
    static let layouts: Set<String> = ["torch.strided", "torch.sparse_coo", "torch.sparse_csr", "torch.sparse_csc",
                                       "torch.sparse_bsr", "torch.sparse_bsc", "torch._mkldnn", "torch.jagged"]

    private mutating func append(_ record: TorchTensorRecord) -> TorchValue {
        tensors.append(record)
        return .tensor(tensors.count - 1)
    }

    private func invalid(_ path: String, _ function: String, _ expected: String, _ found: [TorchValue]) -> TorchFormatError {
        .invalidRebuildArguments(path: path, function: function, expected: expected, found: "(" + found.map(\.summary).joined(separator: ", ") + ")")
    }

    private func refuse(_ path: String, _ description: String) -> TorchFormatError {
        .unsupportedObject(path: path, description: description)
    }

    /// An empty dense tensor (`torch.Tensor()`): one dimension of size 0, no storage.
    static func emptyTensor(torchDType: String) -> TorchTensorRecord {
        TorchTensorRecord(kind: .dense, torchDType: torchDType, dtype: DType(torchName: torchDType), sizes: [0], strides: [1],
                          storageOffset: 0, storage: nil, isParameter: false, requiresGrad: false)
    }

    // MARK: - Argument checks (each as torch applies it)

    /// A `requires_grad` argument: a bool (torch refuses anything else), and `True` only for
    /// floating-point and complex dtypes (torch refuses it on integers).
    private func requiresGrad(_ value: TorchValue, torchDType: String, path: String) throws -> Bool {
        guard case .bool(let flag) = value else {
            throw refuse(path, "requires_grad is \(value.summary); torch accepts only True or False")
        }
        if flag && !TorchInterpreter.canRequireGrad(torchDType) {
            throw refuse(path, "requires_grad is True on a torch.\(torchDType) tensor; torch allows it only for floating-point and complex dtypes")
        }
        return flag
    }

    static func canRequireGrad(_ torchDType: String) -> Bool {
        torchDType.hasPrefix("float") || torchDType.hasPrefix("complex") || torchDType == "bfloat16"
    }

    /// Backward hooks: torch stores them and never runs them while loading; modelfile accepts
    /// only none (an empty dict, as `torch.save` writes, or `None`).
    private func checkHooks(_ value: TorchValue, path: String) throws {
        switch value {
        case .none: return
        case .dict(let dict) where dict.entries.isEmpty: return
        default: throw refuse(path, "backward hooks are \(value.summary); only an empty dict is supported")
        }
    }

    /// The neg/conj bits of a rebuild call's metadata dict (torch sets a bit when its key is
    /// present, whatever the value). Unknown keys are refused; so is what torch cannot load or resolve.
    private func applyMetadata(_ value: TorchValue, to record: inout TorchTensorRecord, path: String) throws {
        switch value {
        case .none: return
        case .dict(let dict):
            for entry in dict.entries {
                switch entry.key.stringValue {
                case "neg": record.isNegative = true
                case "conj": record.isConjugate = true
                default: throw refuse(path, "tensor metadata key \(entry.key.summary) is not known; expected \"neg\" or \"conj\"")
                }
            }
        default:
            throw refuse(path, "tensor metadata is \(value.summary); torch expects a dict")
        }
        if record.isConjugate, !["complex64", "complex128", "complex32"].contains(record.torchDType) {
            throw refuse(path, "the conjugate bit is set on a torch.\(record.torchDType) tensor; torch fails on it for non-complex dtypes")
        }
        if record.isNegative || record.isConjugate, record.dtype.map(TorchInterpreter.resolvesBits) != true {
            throw refuse(path, "the \(record.isNegative ? "negative" : "conjugate") bit on a torch.\(record.torchDType) tensor is not supported (torch cannot resolve it either)")
        }
    }

    /// Dtypes whose neg/conj bits modelfile resolves exactly as torch does.
    static func resolvesBits(_ dtype: DType) -> Bool {
        switch dtype {
        case .f16, .bf16, .f32, .f64, .c64, .c128, .i8, .i16, .i32, .i64, .u8: return true
        default: return false
        }
    }

    /// `module.__dict__.update(state)` on an OrderedDict or Counter: attributes only.
    private func checkAttributeUpdate(_ state: TorchValue, target: String, path: String) throws {
        switch state {
        case .none: return
        case .dict(let dict):
            guard dict.entries.allSatisfy({ $0.key.stringValue != nil }) else {
                throw refuse(path, "BUILD state of \(target) has a key that is not a string")
            }
        default:
            throw refuse(path, "BUILD state of \(target) is \(state.summary); expected a dict of attributes")
        }
    }

    // MARK: - BUILD

    /// BUILD `state` applied to a call's result as the weights-only unpickler applies it: `set_`
    /// on a plain tensor, `Tensor.__setstate__` on a Parameter, attribute updates on an
    /// OrderedDict or Counter; on other allowed objects only an empty state, which torch ignores.
    private mutating func applyBuild(_ state: TorchValue, to result: TorchValue, callable: PickleGlobal, path: String) throws -> TorchValue {
        switch result {
        case .tensor(let index):
            var record = tensors[index]
            if record.isParameter {
                try parameterSetState(state, on: &record, path: path)
            } else {
                guard let items = state.sequenceItems else { throw refuse(path, "BUILD state of a tensor is \(state.summary); expected set_ arguments") }
                try setStorage(items, on: &record, path: path)
            }
            return append(record)
        case .dict:
            try checkAttributeUpdate(state, target: callable.qualifiedName, path: path)
            return result
        default:
            if state.isEmptyState { return result }
            throw refuse(path, "BUILD state \(state.summary) on \(callable.qualifiedName) is not supported")
        }
    }

    /// `Tensor.__setstate__` (which Parameter uses): 4 items `set_`, 5 items replace the data
    /// then set requires_grad and hooks, 3 items set requires_grad and hooks.
    private func parameterSetState(_ state: TorchValue, on record: inout TorchTensorRecord, path: String) throws {
        guard let items = state.sequenceItems else { throw refuse(path, "Parameter state is \(state.summary); expected a 3-, 4- or 5-item tuple") }
        switch items.count {
        case 4:
            guard !record.requiresGrad else {
                throw refuse(path, "Parameter state (storage, offset, size, stride) sets the data of a Parameter that requires grad, which torch refuses")
            }
            try setStorage(items, on: &record, path: path)
        case 5:
            guard case .tensor(let data) = items[0] else { throw refuse(path, "Parameter state's data is \(items[0].summary); expected a tensor") }
            let replaced = tensors[data]
            record = TorchInterpreter.replacingData(of: record, with: replaced)
            try checkHooks(items[2], path: path)
            record.requiresGrad = try requiresGrad(items[3], torchDType: record.torchDType, path: path)
        case 3:
            try checkHooks(items[2], path: path)
            record.requiresGrad = try requiresGrad(items[0], torchDType: record.torchDType, path: path)
        default:
            throw refuse(path, "Parameter state has \(items.count) items; torch accepts 3, 4 or 5")
        }
    }

    /// `record` with its data (dtype, storage, view, bits) taken from `data`, as `t.data = data` does.
    private static func replacingData(of record: TorchTensorRecord, with data: TorchTensorRecord) -> TorchTensorRecord {
        var result = data
        result.isParameter = record.isParameter
        result.requiresGrad = record.requiresGrad
        return result
    }

    /// `tensor.set_(*items)`: `()` empties it, `(storage)` views the whole storage, `(tensor)`
    /// shares another tensor's view, `(storage, offset, size[, stride])` sets the view. The
    /// storage must hold the tensor's dtype.
    private func setStorage(_ items: [TorchValue], on record: inout TorchTensorRecord, path: String) throws {
        guard record.kind == .dense, !record.isNegative, !record.isConjugate else {
            throw refuse(path, "BUILD state (set_) on a \(record.kindName) tensor is not supported")
        }
        guard !record.requiresGrad else { throw refuse(path, "BUILD state (set_) on a tensor that requires grad, which torch refuses") }
        switch items.count {
        case 0:
            let empty = TorchInterpreter.emptyTensor(torchDType: record.torchDType)
            record.sizes = empty.sizes
            record.strides = empty.strides
            record.storageOffset = 0
            record.storage = nil
        case 1:
            if case .tensor(let source) = items[0] {
                let other = tensors[source]
                guard other.kind == .dense, !other.isNegative, !other.isConjugate, other.torchDType == record.torchDType else {
                    throw refuse(path, "set_ from a torch.\(other.torchDType) \(other.kindName) tensor onto a torch.\(record.torchDType) tensor is not supported")
                }
                record.sizes = other.sizes
                record.strides = other.strides
                record.storageOffset = other.storageOffset
                record.storage = other.storage
                return
            }
            guard case .storage(let index) = items[0] else { throw refuse(path, "set_ argument is \(items[0].summary); expected a storage or a tensor") }
            let storage = try checkedStorage(index, for: record, path: path)
            record.sizes = [storage.byteCount / max(1, storage.elementBytes)]
            record.strides = [1]
            record.storageOffset = 0
            record.storage = index
        case 3, 4:
            guard case .storage(let index) = items[0], let offset = items[1].strictInt, let sizes = items[2].strictInts,
                  items.count == 3 || items[3].strictInts != nil
            else { throw refuse(path, "set_ arguments are (\(items.map(\.summary).joined(separator: ", "))); expected (storage, offset, size[, stride])") }
            _ = try checkedStorage(index, for: record, path: path)
            let strides = items.count == 4 ? (items[3].strictInts ?? []) : try TorchInterpreter.contiguousStrides(sizes, path: path)
            record.sizes = sizes
            record.strides = strides
            record.storageOffset = offset
            record.storage = index
        default:
            throw refuse(path, "set_ with \(items.count) arguments; torch accepts 0, 1, 3 or 4")
        }
    }

    private func checkedStorage(_ index: Int, for record: TorchTensorRecord, path: String) throws -> TorchStorageRecord {
        let storage = storageRecord(index)
        guard storage.torchDType == record.torchDType else {
            throw refuse(path, "set_ with a \(storage.className) (torch.\(storage.torchDType)) on a torch.\(record.torchDType) tensor, which torch refuses")
        }
        return storage
    }

    /// Row-major strides for `sizes`, checked for overflow.
    static func contiguousStrides(_ sizes: [Int], path: String) throws -> [Int] {
        var strides = [Int](repeating: 1, count: sizes.count)
        var running = 1
        for axis in sizes.indices.reversed() {
            strides[axis] = running
            let (product, overflow) = running.multipliedReportingOverflow(by: max(sizes[axis], 1))
            guard !overflow else { throw TorchFormatError.unsupportedObject(path: path, description: "size \(sizes) overflows 64 bits") }
            running = product
        }
        return strides
    }

    /// `_set_obj_state`: `state` is None, a dict of attributes, or a (dict, slots) pair; each
    /// attribute is set in order. `data`, `requires_grad` and empty hooks are applied; other
    /// attributes of torch's tensor type are refused; any other name is a Python attribute that
    /// holds no tensor value and is accepted.
    private func setAttributes(_ state: TorchValue, on record: inout TorchTensorRecord, path: String) throws {
        var groups: [TorchValue] = [state]
        if case .tuple(let items) = state {
            guard items.count == 2 else { throw refuse(path, "tensor state is a \(items.count)-tuple; torch accepts (dict, slots) only") }
            groups = items
        }
        for group in groups where !group.isEmptyState {
            guard case .dict(let dict) = group else { throw refuse(path, "tensor state is \(group.summary); expected a dict of attributes") }
            for entry in dict.entries {
                guard let name = entry.key.stringValue else { throw refuse(path, "tensor state key \(entry.key.summary) is not a string") }
                switch name {
                case "data":
                    guard case .tensor(let data) = entry.value else { throw refuse(path, "tensor state sets data to \(entry.value.summary); expected a tensor") }
                    record = TorchInterpreter.replacingData(of: record, with: tensors[data])
                case "requires_grad":
                    record.requiresGrad = try requiresGrad(entry.value, torchDType: record.torchDType, path: path)
                case "_backward_hooks":
                    try checkHooks(entry.value, path: path)
                case "grad", "_grad":
                    guard entry.value == .none else { throw refuse(path, "tensor state sets \(name) to \(entry.value.summary); only None is supported") }
                default:
                    if TorchInterpreter.tensorAttributes.contains(name) {
                        throw refuse(path, "tensor state sets the tensor attribute \"\(name)\", which is not supported")
                    }
                }
            }
        }
    }

    /// The data descriptors of torch's tensor type (torch 2.13): setting one changes or queries
    /// the tensor itself rather than adding a Python attribute.
    static let tensorAttributes: Set<String> = [
        "H", "T", "__class__", "__cuda_array_interface__", "__dict__", "__weakref__", "_backward_hooks", "_base", "_cdata",
        "_grad", "_grad_fn", "_has_symbolic_sizes_strides", "_post_accumulate_grad_hooks", "_python_dispatch", "_version",
        "data", "device", "dtype", "grad", "grad_dtype", "grad_fn", "imag", "is_cpu", "is_cuda", "is_ipu", "is_leaf",
        "is_maia", "is_meta", "is_mkldnn", "is_mps", "is_mtia", "is_nested", "is_quantized", "is_sparse", "is_sparse_csr",
        "is_vulkan", "is_xla", "is_xpu", "itemsize", "layout", "mH", "mT", "name", "names", "nbytes", "ndim", "output_nr",
        "real", "requires_grad", "retains_grad", "shape", "volatile",
    ]

    // MARK: - Tensor rebuilding

    private mutating func rebuild(_ function: TorchRebuildFunction, _ arguments: [TorchValue], path: String) throws -> TorchValue {
        switch function {
        case .tensor, .tensorV2, .tensorV3:
            let expected = function == .tensorV3
                ? "(storage, offset, size, stride, requires_grad, hooks, dtype[, metadata])"
                : function == .tensorV2 ? "(storage, offset, size, stride, requires_grad, hooks[, metadata])" : "(storage, offset, size, stride)"
            let minimum = function == .tensorV3 ? 7 : (function == .tensorV2 ? 6 : 4)
            let maximum = function == .tensor ? 4 : minimum + 1
            guard arguments.count >= minimum, arguments.count <= maximum,
                  case .storage(let storageIndex) = arguments[0], let storageOffset = arguments[1].strictInt,
                  let sizes = arguments[2].strictInts, let strides = arguments[3].strictInts
            else { throw invalid(path, function.rawValue, expected, arguments) }
            let storage = storageRecord(storageIndex)
            var torchName = storage.torchDType
            if function == .tensorV3 {
                guard case .dtype(let name) = arguments[6] else { throw invalid(path, function.rawValue, expected, arguments) }
                torchName = name
            } else if storage.torchDType.hasPrefix("q") {
                throw refuse(path, "\(function.rawValue) on a \(storage.className): a quantized storage needs _rebuild_qtensor")
            }
            var record = TorchTensorRecord(
                kind: .dense, torchDType: torchName, dtype: DType(torchName: torchName), sizes: sizes, strides: strides,
                storageOffset: storageOffset, storage: storageIndex, isParameter: false, requiresGrad: false)
            if function != .tensor {
                record.requiresGrad = try requiresGrad(arguments[4], torchDType: torchName, path: path)
                try checkHooks(arguments[5], path: path)
                let metadataIndex = function == .tensorV3 ? 7 : 6
                if arguments.count > metadataIndex { try applyMetadata(arguments[metadataIndex], to: &record, path: path) }
            }
            return append(record)
        case .parameter, .parameterWithState:
            let count = function == .parameter ? 3 : 4
            guard arguments.count == count, case .tensor(let index) = arguments[0] else {
                throw invalid(path, function.rawValue, function == .parameter ? "(tensor, requires_grad, hooks)" : "(tensor, requires_grad, hooks, state)", arguments)
            }
            var record = tensors[index]
            record.isParameter = true
            record.requiresGrad = try requiresGrad(arguments[1], torchDType: record.torchDType, path: path)
            try checkHooks(arguments[2], path: path)
            if function == .parameterWithState { try setAttributes(arguments[3], on: &record, path: path) }
            return append(record)
        case .metaTensorNoStorage:
            guard arguments.count == 4, case .dtype(let name) = arguments[0], let sizes = arguments[1].strictInts,
                  let strides = arguments[2].strictInts
            else { throw invalid(path, function.rawValue, "(dtype, size, stride, requires_grad)", arguments) }
            var record = TorchTensorRecord(
                kind: .meta, torchDType: name, dtype: DType(torchName: name), sizes: sizes, strides: strides, storageOffset: 0,
                storage: nil, isParameter: false, requiresGrad: false)
            record.requiresGrad = try requiresGrad(arguments[3], torchDType: name, path: path)
            return append(record)
        case .sparseTensor:
            // (layout, data): COO data = (indices, values, size[, is_coalesced]); compressed
            // layouts = (compressed indices, plain indices, values, size).
            guard arguments.count == 2, case .layout(let layout) = arguments[0], let parts = arguments[1].sequenceItems else {
                throw invalid(path, function.rawValue, "(layout, data)", arguments)
            }
            let coo = layout == "torch.sparse_coo"
            guard coo || ["torch.sparse_csr", "torch.sparse_csc", "torch.sparse_bsr", "torch.sparse_bsc"].contains(layout) else {
                throw refuse(path, "sparse layout \(layout) cannot be rebuilt (torch refuses it too)")
            }
            guard coo ? (parts.count == 3 || parts.count == 4) : parts.count == 4,
                  case .tensor(let values) = parts[coo ? 1 : 2], let sizes = parts[coo ? 2 : 3].strictInts
            else { throw invalid(path, function.rawValue, coo ? "(indices, values, size[, is_coalesced])" : "(compressed indices, plain indices, values, size)", arguments) }
            let valueRecord = tensors[values]
            return append(TorchTensorRecord(
                kind: .sparse(layout: layout.replacingPrefix("torch.")), torchDType: valueRecord.torchDType, dtype: valueRecord.dtype,
                sizes: sizes, strides: [], storageOffset: 0, storage: nil, isParameter: false, requiresGrad: false))
        case .qtensor:
            return try rebuildQuantized(arguments, path: path)
        case .deviceTensorFromCPUTensor:
            // (cpu tensor, dtype, device, requires_grad) = data.to(dtype, device).
            guard arguments.count == 4, case .tensor(let index) = arguments[0], case .dtype(let dtypeName) = arguments[1] else {
                throw invalid(path, function.rawValue, "(tensor, dtype, device, requires_grad)", arguments)
            }
            var record = tensors[index]
            guard dtypeName == record.torchDType else {
                throw refuse(path, "\(function.rawValue) converts torch.\(record.torchDType) to torch.\(dtypeName); conversions are not supported")
            }
            let device: String
            switch arguments[2] {
            case .string(let text), .device(let text): device = text
            default: throw invalid(path, function.rawValue, "(tensor, dtype, device, requires_grad)", arguments)
            }
            let deviceType = device.split(separator: ":").first.map(String.init) ?? device
            if deviceType == "meta" {
                guard record.kind == .dense else { throw refuse(path, "\(function.rawValue) moves a \(record.kindName) tensor to meta") }
                record.kind = .meta
                record.storage = nil
            } else if deviceType != "cpu" {
                devices.insert(device)
            }
            record.requiresGrad = try requiresGrad(arguments[3], torchDType: record.torchDType, path: path)
            return append(record)
        case .wrapperSubclass:
            throw refuse(path, "\(function.rawValue) makes a tensor subclass with no data; torch needs the subclass allowed to load it")
        case .deviceTensorFromNumpy:
            throw refuse(path, "\(function.rawValue) needs a NumPy array, which the weights-only allowlist cannot make")
        }
    }

    /// `_rebuild_qtensor(storage, offset, size, stride, quantizer_params, requires_grad, hooks)`
    /// for `QInt8`, `QUInt8` and `QInt32` storages with `per_tensor_affine` or per-channel affine
    /// parameters; anything else quantized is refused by name.
    private mutating func rebuildQuantized(_ arguments: [TorchValue], path: String) throws -> TorchValue {
        let expected = "(storage, offset, size, stride, quantizer_params, requires_grad, hooks)"
        guard arguments.count == 7, case .storage(let storageIndex) = arguments[0], let offset = arguments[1].strictInt,
              let sizes = arguments[2].strictInts, let strides = arguments[3].strictInts,
              let params = arguments[4].sequenceItems, case .qscheme(let scheme)? = params.first
        else { throw invalid(path, "_rebuild_qtensor", expected, arguments) }
        let storage = storageRecord(storageIndex)
        guard ["qint8", "quint8", "qint32"].contains(storage.torchDType), let dtype = storage.dtype else {
            throw refuse(path, "quantized tensor in a \(storage.className) (torch.\(storage.torchDType)) is not supported; only QInt8, QUInt8 and QInt32 storages are")
        }
        let parameters: TorchQuantization.Parameters
        switch scheme {
        case "per_tensor_affine":
            guard params.count == 3, let scale = params[1].exactDouble, let zeroPoint = params[2].strictInt64 else {
                throw invalid(path, "_rebuild_qtensor", "per_tensor_affine parameters (scheme, scale, zero_point)", params)
            }
            parameters = .perTensor(scale: scale, zeroPoint: zeroPoint)
        case "per_channel_affine", "per_channel_affine_float_qparams":
            guard params.count == 4, let axis = params[3].strictInt else {
                throw invalid(path, "_rebuild_qtensor", "per-channel parameters (scheme, scales, zero_points, axis)", params)
            }
            guard axis >= 0, axis < sizes.count, sizes[axis] >= 0 else {
                throw refuse(path, "per-channel axis \(axis) is outside size \(sizes) (torch refuses it too)")
            }
            let floatParameters = scheme == "per_channel_affine_float_qparams"
            let scales = try channelParameters(params[1], channels: sizes[axis], list: floatParameters ? nil : .f64, what: "scales", path: path)
            let zeroPoints = try channelParameters(params[2], channels: sizes[axis], list: floatParameters ? nil : .i64, what: "zero points", path: path)
            parameters = .perChannel(scales: scales, zeroPoints: zeroPoints, axis: axis)
        default:
            throw refuse(path, "quantization scheme \(scheme) is not supported (torch refuses it too)")
        }
        let requiresGrad = try requiresGrad(arguments[5], torchDType: storage.torchDType, path: path)
        try checkHooks(arguments[6], path: path)
        return append(TorchTensorRecord(
            kind: .quantized(TorchQuantization(torchDType: storage.torchDType, scheme: scheme, parameters: parameters)),
            torchDType: storage.torchDType, dtype: dtype, sizes: sizes, strides: strides, storageOffset: offset,
            storage: storageIndex, isParameter: false, requiresGrad: requiresGrad))
    }

    /// A per-channel scales or zero-points argument: a dense 1-D tensor of `channels` elements,
    /// or a list that torch turns into a tensor of `list` type (nil: lists refused).
    private mutating func channelParameters(_ value: TorchValue, channels: Int, list: DType?, what: String, path: String) throws -> Int {
        switch value {
        case .tensor(let index):
            let record = tensors[index]
            guard record.kind == .dense, !record.isNegative, !record.isConjugate, let dtype = record.dtype,
                  [.f64, .f32, .i64, .i32].contains(dtype), record.sizes.count == 1, record.sizes[0] == channels
            else { throw refuse(path, "per-channel \(what) are \(record.sizes.count == 1 ? "\(record.sizes[0])" : "\(record.sizes)") torch.\(record.torchDType) values; expected \(channels) numbers") }
            return index
        case .list(let items):
            guard let list, items.count == channels else {
                throw refuse(path, "per-channel \(what) are a list of \(items.count); expected a tensor of \(channels)")
            }
            var bytes: [UInt8] = []
            bytes.reserveCapacity(items.count * 8)
            for item in items {
                let bits: UInt64
                if list == .f64 {
                    guard let number = item.exactDouble else { throw refuse(path, "per-channel \(what) hold \(item.summary); expected numbers") }
                    bits = number.bitPattern
                } else {
                    guard let number = item.strictInt64 else { throw refuse(path, "per-channel \(what) hold \(item.summary); expected ints") }
                    bits = UInt64(bitPattern: number)
                }
                withUnsafeBytes(of: bits.littleEndian) { bytes.append(contentsOf: $0) }
            }
            tensors.append(TorchTensorRecord(
                kind: .constant(bytes), torchDType: list.torchName ?? "float64", dtype: list, sizes: [channels], strides: [1],
                storageOffset: 0, storage: nil, isParameter: false, requiresGrad: false))
            return tensors.count - 1
        default:
            throw refuse(path, "per-channel \(what) are \(value.summary); expected a tensor")
        }
    }
}

/// ``TorchGlobals/meaning(module:name:)`` remembered per distinct (module, name) pair. A cache of a
/// pure function, so interpreter copies may share it.
private final class GlobalMeanings {
    private var known: [PickleGlobal: TorchGlobal?] = [:]

    func meaning(_ global: PickleGlobal) -> TorchGlobal? {
        // Keyed by module and name only: `isUnknown` does not change the meaning.
        let key = PickleGlobal(module: global.module, name: global.name)
        if let found = known[key] { return found }
        let found = TorchGlobals.meaning(module: global.module, name: global.name)
        known[key] = .some(found)
        return found
    }
}

extension TorchValue {
    /// An `int` that is not a bool, as an `Int` (torch's size, stride and offset arguments).
    var strictInt: Int? { if case .int(let value) = self { return Int(exactly: value) } else { return nil } }
    /// An `int` that is not a bool.
    var strictInt64: Int64? { if case .int(let value) = self { return value } else { return nil } }
    /// A list or tuple of strict ints.
    var strictInts: [Int]? {
        guard let items = sequenceItems else { return nil }
        var result: [Int] = []
        result.reserveCapacity(items.count)
        for item in items {
            guard let value = item.strictInt else { return nil }
            result.append(value)
        }
        return result
    }
    /// A float, or an int that a double holds exactly (Python converts ints to double).
    var exactDouble: Double? {
        switch self {
        case .float(let value): return value
        case .int(let value): return Double(exactly: value)
        default: return nil
        }
    }
    /// A state Python treats as false (`if state:`): None or an empty container.
    var isEmptyState: Bool {
        switch self {
        case .none: return true
        case .dict(let dict): return dict.entries.isEmpty
        case .list(let items), .tuple(let items), .set(let items): return items.isEmpty
        default: return false
        }
    }
}

extension TorchTensorRecord {
    /// How messages name the kind (`dense`, `meta`, `sparse_coo`, `quantized`).
    var kindName: String {
        switch kind {
        case .dense: return "dense"
        case .meta: return "meta"
        case .sparse(let layout): return layout
        case .quantized: return "quantized"
        case .constant: return "constant"
        }
    }
}

extension String {
    fileprivate func replacingPrefix(_ prefix: String) -> String { hasPrefix(prefix) ? String(dropFirst(prefix.count)) : self }
}
