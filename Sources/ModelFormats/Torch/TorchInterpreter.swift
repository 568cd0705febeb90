import PickleVM
import TensorData

// Gives torch meaning to an inert pickle tree, without ever calling anything.
//
// Three passes, none recursive:
//  1. top-down, assign each shared node the first path that reaches it (for messages);
//  2. bottom-up in order of nesting depth (children are always shallower), convert each node
//     once, so sharing in the pickle stays sharing here;
//  3. (TorchFile) name the tensors by walking the result from the root.
// The rebuild calls follow torch/_utils.py and torch/_tensor.py: `_rebuild_tensor_v2(storage,
// offset, size, stride, requires_grad, hooks[, metadata])`, `_rebuild_tensor_v3(…, dtype[, metadata])`,
// `_rebuild_parameter(data, requires_grad, hooks)`, and so on (FORMATS.md §2.6).

/// Resolves a persistent id (`BINPERSID`) to an index into the storage table.
typealias StorageResolver = (_ id: PickleValue, _ path: String) throws -> Int

/// Converts an unpickled torch object tree to ``TorchValue``s and a tensor table.
struct TorchInterpreter {
    private(set) var tensors: [TorchTensorRecord] = []
    private var converted: [ObjectIdentifier: TorchValue] = [:]
    private var paths: [ObjectIdentifier: String] = [:]
    private let resolveStorage: StorageResolver
    private let storageDType: (Int) -> (dtype: DType?, className: String, key: String)
    private let maxNodes: Int

    init(maxNodes: Int, resolveStorage: @escaping StorageResolver, storageDType: @escaping (Int) -> (dtype: DType?, className: String, key: String)) {
        self.maxNodes = maxNodes
        self.resolveStorage = resolveStorage
        self.storageDType = storageDType
    }

    /// Interprets `root`.
    mutating func interpret(_ root: PickleValue) throws -> TorchValue {
        var nodes: [PickleNode] = []
        // Pass 1: first path of every node.
        var pending: [(PickleValue, String)] = [(root, "")]
        while let (value, path) = pending.popLast() {
            guard let node = value.node else { continue }
            let id = ObjectIdentifier(node)
            guard paths[id] == nil else { continue }
            paths[id] = path
            nodes.append(node)
            guard nodes.count <= maxNodes else { throw TorchFormatError.tooManyNodes(limit: maxNodes) }
            for (child, component) in TorchInterpreter.children(of: value).reversed() {
                pending.append((child, component.map { path.isEmpty ? $0 : path + "." + $0 } ?? path))
            }
        }
        // Pass 2: shallowest first, so every child is converted before its parent.
        nodes.sort { $0.depth < $1.depth }
        for node in nodes {
            let id = ObjectIdentifier(node)
            converted[id] = try convertNode(node, path: paths[id] ?? "")
        }
        return try value(root)
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
            switch TorchGlobals.meaning(module: global.module, name: global.name) {
            case .dtype(let name, _): return .dtype(name)
            case .qscheme(let name): return .qscheme(name)
            default: return .global(module: global.module, name: global.name)
            }
        default:
            guard let node = value.node, let result = converted[ObjectIdentifier(node)] else {
                preconditionFailure("interpreter visited a parent before its child")
            }
            return result
        }
    }

    private mutating func convertNode(_ node: PickleNode, path: String) throws -> TorchValue {
        switch node {
        case let list as PickleList: return .list(try list.items.map(value))
        case let tuple as PickleTuple: return .tuple(try tuple.items.map(value))
        case let set as PickleSet: return .set(try set.elements.map(value))
        case let dict as PickleDict:
            let entries = try zip(dict.keys, dict.values).map { (key: try value($0), value: try value($1)) }
            return .dict(TorchDict(entries, isOrdered: dict.className?.name == "OrderedDict"))
        case let id as PicklePersistentID:
            return .storage(try resolveStorage(.persistentID(id), path))
        case let object as PickleObject:
            return try convertObject(object, path: path)
        default:
            throw TorchFormatError.unsupportedObject(path: path, description: "unexpected pickle node")
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
        guard let meaning = TorchGlobals.meaning(module: callable.module, name: callable.name) else {
            throw TorchFormatError.unsupportedObject(path: path, description: "call to \(callable.qualifiedName), which is not allowed")
        }
        let place = path.isEmpty ? "the top-level object" : path
        switch meaning {
        case .rebuild(let function):
            return try rebuild(function, arguments, path: place)
        case .rebuildFromTypeV2:
            // (function, type, args, state): the function rebuilds; the type must be a plain tensor
            // or a Parameter; Python attributes in `state` are not needed for the data.
            guard arguments.count == 4, case .global(let module, let name) = arguments[0],
                  case .rebuild(let function)? = TorchGlobals.meaning(module: module, name: name),
                  case .global(let typeModule, let typeName) = arguments[1],
                  let inner = arguments[2].sequenceItems
            else {
                throw invalid(place, "_rebuild_from_type_v2", "(rebuild function, tensor type, arguments, state)", arguments)
            }
            let type = TorchGlobals.meaning(module: typeModule, name: typeName)
            guard type == .tensorClass || type == .parameterClass else {
                throw TorchFormatError.unsupportedObject(path: place, description: "tensor subclass \(typeModule).\(typeName) is not supported")
            }
            let result = try rebuild(function, inner, path: place)
            if type == .parameterClass, case .tensor(let index) = result { tensors[index].isParameter = true }
            return result
        case .parameterClass:
            // Parameter.__new__(cls, data, requires_grad) via NEWOBJ.
            guard let data = arguments.first, case .tensor(let index) = data else {
                throw invalid(place, "Parameter", "(tensor, requires_grad)", arguments)
            }
            return .tensor(markParameter(index, requiresGrad: arguments.count > 1 ? arguments[1] == .bool(true) : true))
        case .tensorClass, .legacyTensorClass:
            // Very old pickles: an empty tensor, then BUILD with (storage, offset, size, stride).
            guard arguments.isEmpty || arguments.allSatisfy({ $0 == .none }), let state, let items = state.sequenceItems, items.count == 4 else {
                throw invalid(place, "\(callable.qualifiedName)()", "no arguments and a (storage, offset, size, stride) state", arguments)
            }
            return try rebuild(.tensor, items, path: place)
        case .size:
            guard arguments.count == 1, let dims = arguments[0].sequenceItems, dims.allSatisfy({ $0.intValue != nil }) else {
                throw invalid(place, "torch.Size", "(a tuple of ints,)", arguments)
            }
            return .tuple(dims)
        case .device:
            guard let type = arguments.first?.stringValue else { throw invalid(place, "torch.device", "(type[, index])", arguments) }
            if arguments.count > 1, let index = arguments[1].intValue { return .device("\(type):\(index)") }
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
            guard arguments.count == 1, let name = arguments[0].stringValue else { throw invalid(place, "_get_layout", "(name,)", arguments) }
            return .layout(name)
        case .set, .codecsEncode:
            throw invalid(place, callable.qualifiedName, "the arguments Python's pickler writes", arguments)
        case .storage, .dtype, .qscheme:
            throw TorchFormatError.unsupportedObject(path: place, description: "\(callable.qualifiedName) is called; torch never writes that")
        }
    }

    private mutating func markParameter(_ index: Int, requiresGrad: Bool) -> Int {
        var record = tensors[index]
        record.isParameter = true
        record.requiresGrad = requiresGrad
        tensors.append(record)
        return tensors.count - 1
    }

    private func invalid(_ path: String, _ function: String, _ expected: String, _ found: [TorchValue]) -> TorchFormatError {
        .invalidRebuildArguments(path: path, function: function, expected: expected, found: "(" + found.map(\.summary).joined(separator: ", ") + ")")
    }

    // MARK: - Tensor rebuilding

    private mutating func rebuild(_ function: TorchRebuildFunction, _ arguments: [TorchValue], path: String) throws -> TorchValue {
        func ints(_ value: TorchValue) -> [Int]? {
            guard let items = value.sequenceItems else { return nil }
            var result: [Int] = []
            for item in items {
                guard let v = item.intValue, let i = Int(exactly: v) else { return nil }
                result.append(i)
            }
            return result
        }
        func storageIndex(_ value: TorchValue) -> Int? {
            if case .storage(let index) = value { return index }
            return nil
        }
        func offset(_ value: TorchValue) -> Int? { value.intValue.flatMap { Int(exactly: $0) } }
        switch function {
        case .tensor, .tensorV2, .tensorV3:
            let expected = function == .tensorV3
                ? "(storage, offset, size, stride, requires_grad, hooks, dtype[, metadata])"
                : function == .tensorV2 ? "(storage, offset, size, stride, requires_grad, hooks[, metadata])" : "(storage, offset, size, stride)"
            let minimum = function == .tensorV3 ? 7 : (function == .tensorV2 ? 6 : 4)
            guard arguments.count >= minimum, arguments.count <= minimum + 1,
                  let storage = storageIndex(arguments[0]), let storageOffset = offset(arguments[1]),
                  let sizes = ints(arguments[2]), let strides = ints(arguments[3])
            else { throw invalid(path, function.rawValue, expected, arguments) }
            let requiresGrad = arguments.count > 4 ? arguments[4] == .bool(true) : false
            let (storageType, className, key) = storageDType(storage)
            var torchName: String
            if function == .tensorV3 {
                guard case .dtype(let name) = arguments[6] else { throw invalid(path, function.rawValue, expected, arguments) }
                torchName = name
            } else {
                guard let dtype = storageType, let name = dtype.torchName else {
                    throw TorchFormatError.unsupportedStorage(key: key, className: className)
                }
                torchName = name
            }
            let dtype = DType(torchName: torchName)
            tensors.append(TorchTensorRecord(
                kind: dtype == nil ? .quantized : .dense, torchDType: torchName, dtype: dtype, sizes: sizes, strides: strides,
                storageOffset: storageOffset, storage: storage, isParameter: false, requiresGrad: requiresGrad))
            return .tensor(tensors.count - 1)
        case .parameter, .parameterWithState:
            guard arguments.count >= 2, case .tensor(let index) = arguments[0] else {
                throw invalid(path, function.rawValue, "(tensor, requires_grad, hooks[, state])", arguments)
            }
            return .tensor(markParameter(index, requiresGrad: arguments[1] == .bool(true)))
        case .metaTensorNoStorage:
            guard arguments.count >= 3, case .dtype(let name) = arguments[0], let sizes = ints(arguments[1]), let strides = ints(arguments[2]) else {
                throw invalid(path, function.rawValue, "(dtype, size, stride, requires_grad)", arguments)
            }
            tensors.append(TorchTensorRecord(
                kind: .meta, torchDType: name, dtype: DType(torchName: name), sizes: sizes, strides: strides, storageOffset: 0,
                storage: nil, isParameter: false, requiresGrad: arguments.count > 3 && arguments[3] == .bool(true)))
            return .tensor(tensors.count - 1)
        case .sparseTensor:
            // (layout, data): COO data = (indices, values, size, is_coalesced); compressed layouts =
            // (compressed indices, plain indices, values, size).
            guard arguments.count == 2, case .layout(let layout) = arguments[0], let parts = arguments[1].sequenceItems,
                  parts.count >= 3
            else { throw invalid(path, function.rawValue, "(layout, data)", arguments) }
            let valuesIndex = layout.hasSuffix("coo") ? 1 : 2
            let sizePart = layout.hasSuffix("coo") ? parts[2] : (parts.count > 3 ? parts[3] : .none)
            guard valuesIndex < parts.count, case .tensor(let values) = parts[valuesIndex], let sizes = ints(sizePart) else {
                throw invalid(path, function.rawValue, "sparse components with a size", arguments)
            }
            let valueRecord = tensors[values]
            tensors.append(TorchTensorRecord(
                kind: .sparse(layout: layout.replacingPrefix("torch.")), torchDType: valueRecord.torchDType, dtype: valueRecord.dtype,
                sizes: sizes, strides: [], storageOffset: 0, storage: nil, isParameter: false, requiresGrad: false))
            return .tensor(tensors.count - 1)
        case .qtensor:
            guard arguments.count >= 4, let sizes = ints(arguments[2]) else { throw invalid(path, function.rawValue, "(storage, offset, size, stride, qparams, …)", arguments) }
            tensors.append(TorchTensorRecord(
                kind: .quantized, torchDType: storageIndex(arguments[0]).map { storageDType($0).className } ?? "quantized",
                dtype: nil, sizes: sizes, strides: ints(arguments[3]) ?? [], storageOffset: 0, storage: nil, isParameter: false,
                requiresGrad: false))
            return .tensor(tensors.count - 1)
        case .deviceTensorFromCPUTensor:
            // (cpu tensor, dtype, device, requires_grad): the CPU tensor is the data; we load to CPU.
            guard let first = arguments.first, case .tensor = first else {
                throw invalid(path, function.rawValue, "(tensor, dtype, device, requires_grad)", arguments)
            }
            return first
        case .wrapperSubclass, .deviceTensorFromNumpy:
            throw TorchFormatError.unsupportedObject(path: path, description: "\(function.rawValue) builds a tensor without dense data here")
        }
    }
}

extension String {
    fileprivate func replacingPrefix(_ prefix: String) -> String { hasPrefix(prefix) ? String(dropFirst(prefix.count)) : self }
}
