// Element types of stored tensors.
//
// The first 22 cases are the safetensors dtypes, declared in the order of the reference
// implementation's `enum Dtype` (safetensors/src/tensor.rs), because the reference writer sorts
// tensors by that position. The last two exist only in torch files; they can be read from and
// written to `.pth` archives, but have no safetensors spelling.

/// The element type of a stored tensor.
///
/// `rawValue` is the safetensors spelling (`"F32"`, `"BF16"`, `"F8_E4M3"`, …). Every fact about a
/// dtype (bit width, torch name, kind) comes from one `switch` below, pinned by `DTypeTests`.
public enum DType: String, CaseIterable, Sendable, Hashable, Comparable {
    /// Booleans, one byte each (torch `bool`).
    case bool = "BOOL"
    /// Packed 4-bit floats, E2M1, two per byte (torch `float4_e2m1fn_x2`).
    case f4 = "F4"
    /// 6-bit floats with 2 exponent and 3 mantissa bits (no torch dtype).
    case f6e2m3 = "F6_E2M3"
    /// 6-bit floats with 3 exponent and 2 mantissa bits (no torch dtype).
    case f6e3m2 = "F6_E3M2"
    /// Unsigned 8-bit integers (torch `uint8`).
    case u8 = "U8"
    /// Signed 8-bit integers (torch `int8`).
    case i8 = "I8"
    /// 8-bit floats, E5M2 (torch `float8_e5m2`).
    case f8e5m2 = "F8_E5M2"
    /// 8-bit floats, E4M3 without infinities (torch `float8_e4m3fn`).
    case f8e4m3 = "F8_E4M3"
    /// 8-bit exponent-only scales, E8M0 (torch `float8_e8m0fnu`).
    case f8e8m0 = "F8_E8M0"
    /// 8-bit floats, E4M3 with one NaN and no negative zero (torch `float8_e4m3fnuz`).
    case f8e4m3fnuz = "F8_E4M3FNUZ"
    /// 8-bit floats, E5M2 with one NaN and no negative zero (torch `float8_e5m2fnuz`).
    case f8e5m2fnuz = "F8_E5M2FNUZ"
    /// Signed 16-bit integers (torch `int16`).
    case i16 = "I16"
    /// Unsigned 16-bit integers (torch `uint16`).
    case u16 = "U16"
    /// IEEE half-precision floats (torch `float16`).
    case f16 = "F16"
    /// bfloat16: float32 with the low 16 mantissa bits dropped (torch `bfloat16`).
    case bf16 = "BF16"
    /// Signed 32-bit integers (torch `int32`).
    case i32 = "I32"
    /// Unsigned 32-bit integers (torch `uint32`).
    case u32 = "U32"
    /// IEEE single-precision floats (torch `float32`), the compute type of the tensor runtime.
    case f32 = "F32"
    /// Complex numbers of two float32 parts (torch `complex64`).
    case c64 = "C64"
    /// IEEE double-precision floats (torch `float64`).
    case f64 = "F64"
    /// Signed 64-bit integers (torch `int64`).
    case i64 = "I64"
    /// Unsigned 64-bit integers (torch `uint64`).
    case u64 = "U64"
    /// torch `complex128`; not a safetensors dtype.
    case c128 = "C128"
    /// torch `complex32` (two float16 halves); not a safetensors dtype.
    case c32 = "C32"

    /// The dtypes the safetensors format defines, in the reference enum's order.
    public static let safetensorsCases: [DType] = allCases.filter { $0.safetensorsRank != nil }

    /// Position in the safetensors reference `enum Dtype`; `nil` for torch-only dtypes.
    ///
    /// The reference writer orders tensors by this rank, descending, then by name.
    public var safetensorsRank: Int? {
        switch self {
        case .c128, .c32: return nil
        default: return DType.allCases.firstIndex(of: self)
        }
    }

    /// Whether the safetensors format can store this dtype.
    public var isSafetensorsDType: Bool { safetensorsRank != nil }

    /// Bits per element. Sub-byte dtypes (F4, F6) pack elements; see ``byteCount(elementCount:)``.
    public var bitWidth: Int {
        switch self {
        case .f4: return 4
        case .f6e2m3, .f6e3m2: return 6
        case .bool, .u8, .i8, .f8e5m2, .f8e4m3, .f8e8m0, .f8e4m3fnuz, .f8e5m2fnuz: return 8
        case .i16, .u16, .f16, .bf16: return 16
        case .i32, .u32, .f32, .c32: return 32
        case .c64, .f64, .i64, .u64: return 64
        case .c128: return 128
        }
    }

    /// Bytes per element for whole-byte dtypes; `nil` for the packed sub-byte dtypes.
    public var byteWidth: Int? { bitWidth % 8 == 0 ? bitWidth / 8 : nil }

    /// The size, in bytes, of the scalar a byte swap works on (the real part for complex types).
    /// Used to honour a big-endian `byteorder` record; 1 means no swap is needed.
    public var swapUnitBytes: Int {
        switch self {
        case .c64: return 4
        case .c128: return 8
        case .c32: return 2
        default: return max(1, bitWidth / 8)
        }
    }

    /// The torch dtype name (`torch.<name>`), or `nil` when torch has no matching dtype.
    public var torchName: String? {
        switch self {
        case .bool: return "bool"
        case .f4: return "float4_e2m1fn_x2"
        case .f6e2m3, .f6e3m2: return nil
        case .u8: return "uint8"
        case .i8: return "int8"
        case .f8e5m2: return "float8_e5m2"
        case .f8e4m3: return "float8_e4m3fn"
        case .f8e8m0: return "float8_e8m0fnu"
        case .f8e4m3fnuz: return "float8_e4m3fnuz"
        case .f8e5m2fnuz: return "float8_e5m2fnuz"
        case .i16: return "int16"
        case .u16: return "uint16"
        case .f16: return "float16"
        case .bf16: return "bfloat16"
        case .i32: return "int32"
        case .u32: return "uint32"
        case .f32: return "float32"
        case .c64: return "complex64"
        case .f64: return "float64"
        case .i64: return "int64"
        case .u64: return "uint64"
        case .c128: return "complex128"
        case .c32: return "complex32"
        }
    }

    /// The dtype whose torch name is `torchName` (`"float32"`, `"bfloat16"`, …).
    public init?(torchName: String) {
        guard let match = DType.allCases.first(where: { $0.torchName == torchName }) else { return nil }
        self = match
    }

    /// The dtype spelled `name` in a safetensors header (exact, uppercase).
    public init?(safetensorsName name: String) {
        guard let match = DType(rawValue: name), match.isSafetensorsDType else { return nil }
        self = match
    }

    /// Real floating-point types, including the 8-, 6- and 4-bit formats.
    public var isFloatingPoint: Bool {
        switch self {
        case .f4, .f6e2m3, .f6e3m2, .f8e5m2, .f8e4m3, .f8e8m0, .f8e4m3fnuz, .f8e5m2fnuz, .f16, .bf16, .f32, .f64:
            return true
        default:
            return false
        }
    }

    /// Complex types (pairs of floats).
    public var isComplex: Bool { self == .c64 || self == .c128 || self == .c32 }

    /// The dtypes `--dtype` casts between: float16, bfloat16, float32 and float64.
    public var isCastableFloat: Bool { self == .f16 || self == .bf16 || self == .f32 || self == .f64 }

    /// The number of bytes `elementCount` elements occupy, or `nil` when the product overflows or
    /// the bits do not fill whole bytes (the safetensors "misaligned slice" rule: an F4 tensor needs
    /// an even element count, an F6 tensor a multiple of four).
    public func byteCount(elementCount: Int) -> Int? {
        guard elementCount >= 0 else { return nil }
        let (bits, overflow) = elementCount.multipliedReportingOverflow(by: bitWidth)
        guard !overflow, bits % 8 == 0 else { return nil }
        return bits / 8
    }

    public static func < (lhs: DType, rhs: DType) -> Bool {
        (DType.allCases.firstIndex(of: lhs) ?? 0) < (DType.allCases.firstIndex(of: rhs) ?? 0)
    }
}

extension DType: CustomStringConvertible {
    /// The safetensors spelling.
    public var description: String { rawValue }
}
