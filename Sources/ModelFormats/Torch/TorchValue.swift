import PickleVM
import TensorData

/// A value from a torch pickle with torch's meaning applied: containers and scalars as Python
/// holds them, tensors as indices into the file's tensor table.
///
/// Containers store their children in arrays, which Swift shares on copy, so a value the pickle
/// references many times is stored once.
public indirect enum TorchValue: Sendable, Equatable {
    /// Python's `None`.
    case none
    /// `True` or `False`.
    case bool(Bool)
    /// An integer that fits in 64 bits.
    case int(Int64)
    /// An integer beyond 64 bits.
    case bigInt(PickleBigInt)
    /// A Python float.
    case float(Double)
    /// A Python complex number.
    case complex(real: Double, imaginary: Double)
    /// A Python `str`.
    case string(String)
    /// A Python `bytes` (or a Python 2 byte string).
    case bytes([UInt8])
    /// A list, in order.
    case list([TorchValue])
    /// A tuple, in order.
    case tuple([TorchValue])
    /// A dict (or `OrderedDict`), its items in insertion order.
    case dict(TorchDict)
    /// A set or frozenset, in pickle order.
    case set([TorchValue])
    /// A tensor: an index into ``TorchFile/tensors``.
    case tensor(Int)
    /// A storage (appears only as a rebuild call's argument): an index into ``TorchFile/storages``.
    case storage(Int)
    /// A `torch.dtype` object, by torch name (`float32`).
    case dtype(String)
    /// A `torch.device`, as text (`cuda:0`).
    case device(String)
    /// A tensor layout (`torch.sparse_coo`).
    case layout(String)
    /// A quantization scheme.
    case qscheme(String)
    /// An allowed global used as a value (a class such as `torch.FloatStorage`).
    case global(module: String, name: String)
    /// An object outside the allowlist, kept inert (`--allow-unknown-objects`): nothing of it
    /// was imported or called.
    case opaque(TorchOpaqueObject)

    /// A short description for summaries (`int 3`, `dict of 4`, `tensor`).
    public var summary: String {
        switch self {
        case .none: return "None"
        case .bool(let value): return value ? "True" : "False"
        case .int(let value): return String(value)
        case .bigInt(let big): return big.description
        case .float(let value): return String(value)
        case .complex(let re, let im): return "(\(re)\(im < 0 ? "-" : "+")\(abs(im))j)"
        case .string(let text): return text.count > 60 ? "'\(text.prefix(57))…'" : "'\(text)'"
        case .bytes(let bytes): return "bytes of \(bytes.count)"
        case .list(let items): return "list of \(items.count)"
        case .tuple(let items): return "(" + items.prefix(4).map(\.summary).joined(separator: ", ") + (items.count > 4 ? ", …" : "") + (items.count == 1 ? ",)" : ")")
        case .dict(let dict): return "\(dict.isOrdered ? "OrderedDict" : "dict") of \(dict.entries.count)"
        case .set(let items): return "set of \(items.count)"
        case .tensor: return "tensor"
        case .storage: return "storage"
        case .dtype(let name): return "torch.\(name)"
        case .device(let name): return "device(\(name))"
        case .layout(let name): return name
        case .qscheme(let name): return "torch.\(name)"
        case .global(let module, let name): return "\(module).\(name)"
        case .opaque(let object): return "\(object.module).\(object.name)(…) (not loaded)"
        }
    }

    /// The value under `key` of a dict.
    public subscript(key: String) -> TorchValue? {
        guard case .dict(let dict) = self else { return nil }
        return dict[key]
    }

    /// The string, if this is one.
    public var stringValue: String? { if case .string(let s) = self { return s } else { return nil } }
    /// The integer, if this is one (bools count, as in Python).
    public var intValue: Int64? {
        switch self {
        case .int(let value): return value
        case .bool(let value): return value ? 1 : 0
        default: return nil
        }
    }
    /// The number as a double, for ints and floats.
    public var doubleValue: Double? {
        switch self {
        case .float(let value): return value
        case .int(let value): return Double(value)
        case .bool(let value): return value ? 1 : 0
        default: return nil
        }
    }
    /// Items of a list or tuple.
    public var sequenceItems: [TorchValue]? {
        switch self {
        case .list(let items), .tuple(let items): return items
        default: return nil
        }
    }

    /// The text a dict key contributes to a dotted tensor name (`linear1`, `0`, `True`).
    public var nameComponent: String {
        switch self {
        case .string(let text): return text
        case .int(let value): return String(value)
        case .bigInt(let big): return big.description
        case .bool(let value): return value ? "True" : "False"
        case .none: return "None"
        case .float(let value): return String(value)
        case .bytes(let bytes): return String(decoding: bytes, as: UTF8.self)
        case .tuple(let items): return "(" + items.map(\.nameComponent).joined(separator: ", ") + ")"
        default: return summary
        }
    }
}

/// A dict from a torch pickle, in insertion order.
public struct TorchDict: Sendable, Equatable {
    /// The entries, in order.
    public var entries: [(key: TorchValue, value: TorchValue)]
    /// `collections.OrderedDict` (what `state_dict()` returns) rather than a plain dict.
    public var isOrdered: Bool

    /// A dict.
    public init(_ entries: [(key: TorchValue, value: TorchValue)] = [], isOrdered: Bool = false) {
        self.entries = entries
        self.isOrdered = isOrdered
    }

    /// The value under string key `key` (compared by bytes, as Python compares str keys).
    public subscript(key: String) -> TorchValue? {
        entries.first {
            if case .string(let text) = $0.key { return text.isByteEqual(to: key) }
            return false
        }?.value
    }

    /// The string keys, in order.
    public var stringKeys: [String] { entries.compactMap { $0.key.stringValue } }

    public static func == (lhs: TorchDict, rhs: TorchDict) -> Bool {
        lhs.isOrdered == rhs.isOrdered && lhs.entries.count == rhs.entries.count
            && zip(lhs.entries, rhs.entries).allSatisfy { $0.key == $1.key && $0.value == $1.value }
    }
}

/// An object whose class is outside the allowlist, kept as data.
public struct TorchOpaqueObject: Sendable, Equatable {
    /// The class or function's module.
    public let module: String
    /// Its name.
    public let name: String
    /// The arguments it would have been called with.
    public let arguments: [TorchValue]
    /// The state BUILD would have applied.
    public let state: TorchValue?
    /// The items APPEND(S) would have added (a list subclass).
    public let listItems: [TorchValue]
    /// The entries SETITEM(S) would have added (a dict subclass such as `collections.defaultdict`).
    public let dictItems: TorchDict?

    /// An inert record of a call.
    public init(module: String, name: String, arguments: [TorchValue], state: TorchValue?, listItems: [TorchValue] = [],
                dictItems: TorchDict? = nil) {
        self.module = module
        self.name = name
        self.arguments = arguments
        self.state = state
        self.listItems = listItems
        self.dictItems = dictItems
    }

    /// `module.name`.
    public var qualifiedName: String { "\(module).\(name)" }
}

/// One tensor rebuilt from a torch pickle: where its bytes are and how they are laid out.
public struct TorchTensorRecord: Sendable, Equatable {
    /// What kind of tensor this is.
    public enum Kind: Sendable, Equatable {
        /// A strided tensor with data in a storage.
        case dense
        /// A tensor on the `meta` device: a shape with no data.
        case meta
        /// A sparse tensor (COO, CSR, …) with its layout.
        case sparse(layout: String)
        /// A quantized tensor: integers in a storage (``dtype`` is their stored type) and the
        /// parameters that map them to real numbers.
        case quantized(TorchQuantization)
        /// A scalar made here from values in the pickle (a quantized tensor's `q_scale`,
        /// `q_zero_point` or `q_per_channel_axis`), with its little-endian bytes.
        case constant([UInt8])
    }

    /// The kind.
    public var kind: Kind
    /// The torch dtype name (`float32`, `float8_e4m3fn`, …).
    public var torchDType: String
    /// The stored element type, or `nil` when torch's dtype has none here.
    public var dtype: DType?
    /// Sizes as torch reports them (for `float4_e2m1fn_x2`, the last one counts byte pairs).
    public var sizes: [Int]
    /// Strides in torch elements.
    public var strides: [Int]
    /// Offset into the storage in torch elements.
    public var storageOffset: Int
    /// Index into the file's storage table (dense tensors only).
    public var storage: Int?
    /// Rebuilt through `_rebuild_parameter` (an `nn.Parameter`).
    public var isParameter: Bool
    /// The `requires_grad` flag.
    public var requiresGrad: Bool
    /// The negative bit `torch.save` records for `neg()` views: the values are the stored ones
    /// negated (torch's `resolve_neg`).
    public var isNegative: Bool = false
    /// The conjugate bit `torch.save` records for `conj()` views of complex tensors: the values
    /// are the stored ones with their imaginary parts negated (torch's `resolve_conj`).
    public var isConjugate: Bool = false

    /// The shape as safetensors counts it: a `float4_e2m1fn_x2` tensor's last size doubled.
    public var logicalShape: Shape {
        var dims = sizes
        if dtype == .f4, let last = dims.popLast() { dims.append(last * 2) }
        return Shape(dims)
    }

    /// ``logicalShape``, or `nil` when a size is negative or the element count (or the doubled
    /// float4 size) overflows: sizes come from the file, and `Shape` traps on both.
    public var checkedLogicalShape: Shape? {
        var dims = sizes
        guard dims.allSatisfy({ $0 >= 0 }) else { return nil }
        if dtype == .f4, let last = dims.popLast() {
            let (doubled, overflow) = last.multipliedReportingOverflow(by: 2)
            guard !overflow else { return nil }
            dims.append(doubled)
        }
        let shape = Shape(dims)
        return shape.checkedElementCount == nil ? nil : shape
    }

    /// Bytes per torch element (1 for the packed float4 pairs).
    public var elementBytes: Int {
        guard let dtype else { return 1 }
        return dtype == .f4 ? 1 : (dtype.byteWidth ?? 1)
    }
}

/// How a quantized tensor's integers map to real numbers (torch/_utils.py `_rebuild_qtensor`).
public struct TorchQuantization: Sendable, Equatable {
    /// The parameters, by scheme.
    public enum Parameters: Sendable, Equatable {
        /// `per_tensor_affine`: real = (q − zero_point) × scale.
        case perTensor(scale: Double, zeroPoint: Int64)
        /// `per_channel_affine` (or `per_channel_affine_float_qparams`): one scale and zero point
        /// per index along `axis`, each held by a tensor (indices into the tensor table).
        case perChannel(scales: Int, zeroPoints: Int, axis: Int)
    }

    /// The torch dtype (`qint8`, `quint8`, `qint32`).
    public var torchDType: String
    /// The scheme's torch name (`per_tensor_affine`, …).
    public var scheme: String
    /// The parameters.
    public var parameters: Parameters

    /// A quantization of `torchDType` by `scheme` with `parameters`.
    public init(torchDType: String, scheme: String, parameters: Parameters) {
        self.torchDType = torchDType
        self.scheme = scheme
        self.parameters = parameters
    }
}

/// A storage a torch pickle references.
public struct TorchStorageRecord: Sendable, Equatable {
    /// The storage key (the record name under `data/` in a zip, an opaque id in legacy files).
    public let key: String
    /// The storage class named in the persistent id (`FloatStorage`, `UntypedStorage`).
    public let className: String
    /// The element type of a typed storage (the integers of a quantized one: `I8` for
    /// `QInt8Storage`); `nil` for an untyped (byte) storage and for packed sub-byte quantized types.
    public let dtype: DType?
    /// The torch dtype the storage holds, as torch loads it: `uint8` for an `UntypedStorage`.
    public var torchDType: String = "uint8"
    /// Bytes per element of ``torchDType``.
    public var elementBytes: Int = 1
    /// Elements as the persistent id declares them (bytes for untyped storages).
    public let declaredElements: Int
    /// The storage's size in bytes.
    public let byteCount: Int
    /// The device tag (`cpu`, `cuda:0`); everything is loaded to the CPU.
    public let location: String
    /// For legacy views of another storage: the root key and the byte range within it.
    public let legacyView: (rootKey: String, byteRange: Range<Int>)?
    /// The archive folder holding the record: `data`, or `constants` for a TorchScript archive's
    /// constants.
    public var recordFolder = "data"

    /// The record's path inside the archive folder (`data/0`).
    public var recordPath: String { "\(recordFolder)/\(key)" }

    public static func == (lhs: TorchStorageRecord, rhs: TorchStorageRecord) -> Bool {
        lhs.key == rhs.key && lhs.recordFolder == rhs.recordFolder && lhs.className == rhs.className && lhs.dtype == rhs.dtype
            && lhs.declaredElements == rhs.declaredElements && lhs.location == rhs.location
            && lhs.legacyView?.rootKey == rhs.legacyView?.rootKey && lhs.legacyView?.byteRange == rhs.legacyView?.byteRange
    }
}
