import TensorData

// The globals a torch pickle may name, and what each means here.
//
// This is exactly the default allowlist of `torch.load(weights_only=True)` in torch 2.15
// (torch/_weights_only_unpickler.py `_get_allowed_globals`; 144 entries; docs/security.md,
// "The allowlist is torch's, exactly"). Names are matched exactly, after the Python-2 name mapping, as
// "module.name". Nothing is ever imported or called: each entry maps to a Swift meaning that the
// torch interpreter applies to inert pickle values. Anything else is refused at the GLOBAL opcode
// that names it (or, with --allow-unknown-objects, kept as an inert record).

/// The rebuild functions in `torch._utils` (and `torch._tensor`) that construct tensors.
public enum TorchRebuildFunction: String, Sendable, CaseIterable {
    /// A tensor over a storage (the oldest form).
    case tensor = "_rebuild_tensor"
    /// A tensor over a storage, with `requires_grad` and backward hooks.
    case tensorV2 = "_rebuild_tensor_v2"
    /// A tensor over a storage with its dtype given separately.
    case tensorV3 = "_rebuild_tensor_v3"
    /// An `nn.Parameter` around a tensor.
    case parameter = "_rebuild_parameter"
    /// An `nn.Parameter` with extra attributes.
    case parameterWithState = "_rebuild_parameter_with_state"
    /// A quantized tensor: integers and a quantization scheme.
    case qtensor = "_rebuild_qtensor"
    /// A sparse tensor (indices and values).
    case sparseTensor = "_rebuild_sparse_tensor"
    /// A tensor on the meta device: a shape without values.
    case metaTensorNoStorage = "_rebuild_meta_tensor_no_storage"
    /// A tensor subclass wrapper (meta tensors of newer torch versions).
    case wrapperSubclass = "_rebuild_wrapper_subclass"
    /// A device tensor saved through a NumPy array.
    case deviceTensorFromNumpy = "_rebuild_device_tensor_from_numpy"
    /// A device tensor saved through a CPU tensor.
    case deviceTensorFromCPUTensor = "_rebuild_device_tensor_from_cpu_tensor"
}

/// The meaning of an allowed global.
public enum TorchGlobal: Equatable, Sendable {
    /// `_codecs.encode`: protocol 2's spelling of `bytes` (`encode(text, 'latin1')`).
    case codecsEncode
    /// `builtins.bytearray`.
    case bytearray
    /// `builtins.complex`.
    case complex
    /// `builtins.set`.
    case set
    /// `collections.Counter` (a dict).
    case counter
    /// `collections.OrderedDict` (a dict that keeps order).
    case orderedDict
    /// `torch.Size` (a tuple of ints).
    case size
    /// `torch.Tensor` (the class; BUILD on an instance sets its storage in very old pickles).
    case tensorClass
    /// `torch.device`.
    case device
    /// `torch.nn.parameter.Parameter` (the class).
    case parameterClass
    /// `torch.serialization._get_layout` (a layout name for sparse tensors).
    case layout
    /// `torch._tensor._rebuild_from_type_v2` (a rebuild wrapped with a tensor type and Python state).
    case rebuildFromTypeV2
    /// A `torch._utils` rebuild function.
    case rebuild(TorchRebuildFunction)
    /// A storage class: `dtype` for typed classes (`torch.FloatStorage`), `nil` for
    /// `torch.storage.UntypedStorage` (bytes) and `torch.storage.TypedStorage`.
    case storage(StorageClass)
    /// A legacy tensor class (`torch.FloatTensor`, `torch.cuda.sparse.LongTensor`, …).
    case legacyTensorClass(dtype: DType?, sparse: Bool)
    /// A dtype object (`torch.float32`); `dtype` is nil for torch dtypes with no stored equivalent here
    /// (quantized, bits, sub-byte integers).
    case dtype(name: String, dtype: DType?)
    /// A quantization scheme (`torch.per_tensor_affine`, …).
    case qscheme(String)
}

/// What a storage class says about its elements.
public enum StorageClass: Equatable, Sendable {
    /// A typed storage: elements of `dtype` (for quantized storages, the integers they are
    /// stored as; nil for the packed sub-byte quantized types).
    case typed(name: String, dtype: DType?)
    /// `torch.storage.UntypedStorage`: bytes; the dtype comes from `_rebuild_tensor_v3`.
    case untyped
    /// `torch.storage.TypedStorage` (seen only in hand-made pickles; torch cannot load it, as the
    /// class has no dtype).
    case typedGeneric
}

/// The allowlist, keyed by "module.name".
public enum TorchGlobals {
    /// Modules refused even if a future table named something inside them (torch blocks these
    /// unconditionally).
    public static let blockedModules: Set<String> = ["sys", "os", "posix", "nt"]

    /// The meaning of `module.name`, or `nil` if it is not allowed.
    public static func meaning(module: String, name: String) -> TorchGlobal? {
        // The module's first dotted component, compared without making a String of it.
        let head = module.utf8.firstIndex(of: UInt8(ascii: ".")).map { module[..<$0] } ?? module[...]
        if blockedModules.contains(module) || blockedModules.contains(where: { $0 == head }) {
            return nil
        }
        return table["\(module).\(name)"]
    }

    /// Every allowed qualified name with its meaning.
    public static let table: [String: TorchGlobal] = {
        var table: [String: TorchGlobal] = [
            "_codecs.encode": .codecsEncode,
            "builtins.bytearray": .bytearray,
            "builtins.complex": .complex,
            "builtins.set": .set,
            "collections.Counter": .counter,
            "collections.OrderedDict": .orderedDict,
            "torch.Size": .size,
            "torch.Tensor": .tensorClass,
            "torch.device": .device,
            "torch.nn.parameter.Parameter": .parameterClass,
            "torch.serialization._get_layout": .layout,
            "torch._tensor._rebuild_from_type_v2": .rebuildFromTypeV2,
            "torch.storage.TypedStorage": .storage(.typedGeneric),
            "torch.storage.UntypedStorage": .storage(.untyped),
        ]
        for function in TorchRebuildFunction.allCases { table["torch._utils.\(function.rawValue)"] = .rebuild(function) }
        for (prefix, dtype) in storageTypePrefixes {
            table["torch.\(prefix)Storage"] = .storage(.typed(name: "\(prefix)Storage", dtype: dtype ?? quantizedRepresentation[prefix]))
        }
        for (prefix, dtype) in storageTypePrefixes where cudaStoragePrefixes.contains(prefix) {
            table["torch.cuda.\(prefix)Storage"] = .storage(.typed(name: "\(prefix)Storage", dtype: dtype))
        }
        for (prefix, dtype) in legacyTensorPrefixes {
            table["torch.\(prefix)Tensor"] = .legacyTensorClass(dtype: dtype, sparse: false)
            table["torch.cuda.\(prefix)Tensor"] = .legacyTensorClass(dtype: dtype, sparse: false)
            if prefix != "Bool" {
                table["torch.sparse.\(prefix)Tensor"] = .legacyTensorClass(dtype: dtype, sparse: true)
                table["torch.cuda.sparse.\(prefix)Tensor"] = .legacyTensorClass(dtype: dtype, sparse: true)
            }
        }
        for name in dtypeNames { table["torch.\(name)"] = .dtype(name: name, dtype: DType(torchName: name)) }
        for scheme in ["per_tensor_affine", "per_tensor_symmetric", "per_channel_affine", "per_channel_symmetric",
                       "per_channel_affine_float_qparams"] {
            table["torch.\(scheme)"] = .qscheme(scheme)
        }
        return table
    }()

    /// Storage class name prefixes and their element dtypes (quantized ones have none here).
    static let storageTypePrefixes: [(String, DType?)] = [
        ("BFloat16", .bf16), ("Bool", .bool), ("Byte", .u8), ("Char", .i8), ("ComplexDouble", .c128),
        ("ComplexFloat", .c64), ("Double", .f64), ("Float", .f32), ("Half", .f16), ("Int", .i32), ("Long", .i64),
        ("QInt32", nil), ("QInt8", nil), ("QUInt2x4", nil), ("QUInt4x2", nil), ("QUInt8", nil), ("Short", .i16),
    ]

    /// The storage classes that also exist under `torch.cuda`.
    static let cudaStoragePrefixes: Set<String> = [
        "BFloat16", "Bool", "Byte", "Char", "ComplexDouble", "ComplexFloat", "Double", "Float", "Half", "Int", "Long", "Short",
    ]

    /// Legacy tensor class prefixes (`torch.FloatTensor`, …); there is no sparse bool class.
    static let legacyTensorPrefixes: [(String, DType)] = [
        ("BFloat16", .bf16), ("Bool", .bool), ("Byte", .u8), ("Char", .i8), ("Double", .f64), ("Float", .f32),
        ("Half", .f16), ("Int", .i32), ("Long", .i64), ("Short", .i16),
    ]

    /// The 47 dtype objects torch allows.
    static let dtypeNames: [String] = [
        "bool", "uint8", "int8", "int16", "int32", "int64", "uint16", "uint32", "uint64", "float16", "bfloat16",
        "float32", "float64", "complex32", "complex64", "complex128", "bcomplex32", "float8_e4m3fn",
        "float8_e4m3fnuz", "float8_e5m2", "float8_e5m2fnuz", "float8_e8m0fnu", "float4_e2m1fn_x2", "bits8",
        "bits16", "bits1x8", "bits2x4", "bits4x2",
    ] + (1...7).map { "int\($0)" } + (1...7).map { "uint\($0)" } + ["qint8", "qint32", "quint8", "quint4x2", "quint2x4"]

    /// The torch dtype and element width a typed storage class holds (`QInt8Storage`: `qint8`,
    /// 1 byte), as `torch.serialization.StorageType` gives them.
    public static func storageElement(className: String) -> (torchDType: String, elementBytes: Int)? {
        switch className {
        case "QInt8Storage": return ("qint8", 1)
        case "QUInt8Storage": return ("quint8", 1)
        case "QInt32Storage": return ("qint32", 4)
        case "QUInt4x2Storage": return ("quint4x2", 1)
        case "QUInt2x4Storage": return ("quint2x4", 1)
        default:
            guard let prefix = storageTypePrefixes.first(where: { "\($0.0)Storage" == className }), let dtype = prefix.1,
                  let name = dtype.torchName, let width = dtype.byteWidth
            else { return nil }
            return (name, width)
        }
    }

    /// The integers a quantized storage's elements are stored as.
    static let quantizedRepresentation: [String: DType] = ["QInt8": .i8, "QUInt8": .u8, "QInt32": .i32]

    /// The storage class name torch writes for `dtype` with `_rebuild_tensor_v2`, or `nil` when
    /// torch uses `_rebuild_tensor_v3` with an untyped storage instead.
    public static func legacyStorageClassName(for dtype: DType) -> String? {
        storageTypePrefixes.first { $0.1 == dtype }.map { "\($0.0)Storage" }
    }
}
