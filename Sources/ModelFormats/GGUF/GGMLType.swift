import TensorData

// The ggml tensor types a GGUF file names, with their block layouts (docs/formats.md, "GGUF":
// values and sizes as gguf-py 0.19.0's `GGMLQuantizationType` and `GGML_QUANT_SIZES` give them).
// One table: every fact about a type comes from the switches below, pinned by `GGMLTypeTests`.

/// A ggml tensor type: plain elements (`F32`, `I8`, …) or blocks of quantized values (`Q4_K`, …).
///
/// `rawValue` is the number stored in a GGUF tensor info; ``name`` is gguf-py's spelling.
public enum GGMLType: UInt32, Sendable, CaseIterable, Hashable {
    /// 32-bit floats.
    case f32 = 0
    /// IEEE half-precision floats.
    case f16 = 1
    /// Blocks of 32 4-bit values with one float16 scale.
    case q4_0 = 2
    /// Blocks of 32 4-bit values with a float16 scale and minimum.
    case q4_1 = 3
    /// Blocks of 32 5-bit values with one float16 scale.
    case q5_0 = 6
    /// Blocks of 32 5-bit values with a float16 scale and minimum.
    case q5_1 = 7
    /// Blocks of 32 8-bit values with one float16 scale.
    case q8_0 = 8
    /// Blocks of 32 8-bit values with a float16 scale and sum (listed, not read).
    case q8_1 = 9
    /// Super-blocks of 256 2-bit values with 4-bit sub-block scales and minimums.
    case q2_K = 10
    /// Super-blocks of 256 3-bit values with 6-bit sub-block scales.
    case q3_K = 11
    /// Super-blocks of 256 4-bit values with 6-bit sub-block scales and minimums.
    case q4_K = 12
    /// Super-blocks of 256 5-bit values with 6-bit sub-block scales and minimums.
    case q5_K = 13
    /// Super-blocks of 256 6-bit values with 8-bit sub-block scales.
    case q6_K = 14
    /// Super-blocks of 256 8-bit values with a float32 scale and block sums.
    case q8_K = 15
    /// Super-blocks of 256 values on the IQ2 lattice, 2.06 bits each.
    case iq2_XXS = 16
    /// Super-blocks of 256 values on the IQ2 lattice, 2.31 bits each.
    case iq2_XS = 17
    /// Super-blocks of 256 values on the IQ3 lattice, 3.06 bits each.
    case iq3_XXS = 18
    /// Super-blocks of 256 ternary-grid values, 1.56 bits each.
    case iq1_S = 19
    /// Blocks of 32 4-bit indices into a non-linear table, with a float16 scale.
    case iq4_NL = 20
    /// Super-blocks of 256 values on the IQ3 lattice, 3.44 bits each.
    case iq3_S = 21
    /// Super-blocks of 256 values on the IQ2 lattice, 2.5 bits each.
    case iq2_S = 22
    /// Super-blocks of 256 4-bit non-linear values with 6-bit sub-block scales.
    case iq4_XS = 23
    /// 8-bit integers.
    case i8 = 24
    /// 16-bit integers.
    case i16 = 25
    /// 32-bit integers.
    case i32 = 26
    /// 64-bit integers.
    case i64 = 27
    /// 64-bit floats.
    case f64 = 28
    /// Super-blocks of 256 ternary-grid values, 1.75 bits each.
    case iq1_M = 29
    /// bfloat16 floats.
    case bf16 = 30
    /// Super-blocks of 256 ternary values packed 1.69 bits each.
    case tq1_0 = 34
    /// Super-blocks of 256 ternary values, 2 bits each.
    case tq2_0 = 35
    /// Blocks of 32 4-bit floats (E2M1) with a shared E8M0 scale (OCP MX).
    case mxfp4 = 39
    /// Blocks of 4-bit floats (E2M1) with FP8 scales (NVIDIA NVFP4).
    case nvfp4 = 40
    /// Blocks of 1-bit values with a scale (listed, not read).
    case q1_0 = 41

    /// Elements in a super-block of the K and IQ types.
    static let superBlock = 256

    /// gguf-py's name (`"F32"`, `"Q4_K"`, `"IQ2_XXS"`).
    public var name: String {
        switch self {
        case .f32: return "F32"
        case .f16: return "F16"
        case .q4_0: return "Q4_0"
        case .q4_1: return "Q4_1"
        case .q5_0: return "Q5_0"
        case .q5_1: return "Q5_1"
        case .q8_0: return "Q8_0"
        case .q8_1: return "Q8_1"
        case .q2_K: return "Q2_K"
        case .q3_K: return "Q3_K"
        case .q4_K: return "Q4_K"
        case .q5_K: return "Q5_K"
        case .q6_K: return "Q6_K"
        case .q8_K: return "Q8_K"
        case .iq2_XXS: return "IQ2_XXS"
        case .iq2_XS: return "IQ2_XS"
        case .iq3_XXS: return "IQ3_XXS"
        case .iq1_S: return "IQ1_S"
        case .iq4_NL: return "IQ4_NL"
        case .iq3_S: return "IQ3_S"
        case .iq2_S: return "IQ2_S"
        case .iq4_XS: return "IQ4_XS"
        case .i8: return "I8"
        case .i16: return "I16"
        case .i32: return "I32"
        case .i64: return "I64"
        case .f64: return "F64"
        case .iq1_M: return "IQ1_M"
        case .bf16: return "BF16"
        case .tq1_0: return "TQ1_0"
        case .tq2_0: return "TQ2_0"
        case .mxfp4: return "MXFP4"
        case .nvfp4: return "NVFP4"
        case .q1_0: return "Q1_0"
        }
    }

    /// The type gguf-py spells `name`.
    public init?(name: String) {
        guard let match = GGMLType.allCases.first(where: { $0.name == name }) else { return nil }
        self = match
    }

    /// Elements per block (1 for plain types).
    public var blockElementCount: Int {
        switch self {
        case .f32, .f16, .bf16, .f64, .i8, .i16, .i32, .i64: return 1
        case .q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .q8_1, .iq4_NL, .mxfp4: return 32
        case .nvfp4: return 64
        case .q1_0: return 128
        case .q2_K, .q3_K, .q4_K, .q5_K, .q6_K, .q8_K, .iq2_XXS, .iq2_XS, .iq3_XXS, .iq1_S, .iq3_S, .iq2_S,
             .iq4_XS, .iq1_M, .tq1_0, .tq2_0:
            return GGMLType.superBlock
        }
    }

    /// Bytes per block.
    public var blockByteCount: Int {
        let k = GGMLType.superBlock
        switch self {
        case .f32, .i32: return 4
        case .f16, .bf16, .i16: return 2
        case .f64, .i64: return 8
        case .i8: return 1
        case .q4_0: return 2 + 16
        case .q4_1: return 2 + 2 + 16
        case .q5_0: return 2 + 4 + 16
        case .q5_1: return 2 + 2 + 4 + 16
        case .q8_0: return 2 + 32
        case .q8_1: return 4 + 4 + 32
        case .q2_K: return 2 + 2 + k / 16 + k / 4
        case .q3_K: return 2 + k / 4 + k / 8 + 12
        case .q4_K: return 2 + 2 + k / 2 + 12
        case .q5_K: return 2 + 2 + k / 2 + k / 8 + 12
        case .q6_K: return 2 + k / 2 + k / 4 + k / 16
        case .q8_K: return 4 + k + k / 8
        case .iq2_XXS: return 2 + k / 4
        case .iq2_XS: return 2 + k / 4 + k / 32
        case .iq3_XXS: return 2 + k / 4 + k / 8
        case .iq1_S: return 2 + k / 8 + k / 16
        case .iq4_NL: return 2 + 16
        case .iq3_S: return 2 + k / 4 + k / 8 + k / 32 + 4
        case .iq2_S: return 2 + k / 4 + k / 16
        case .iq4_XS: return 2 + 2 + k / 2 + k / 64
        case .iq1_M: return k / 8 + k / 16 + k / 32
        case .tq1_0: return 2 + 4 * 13
        case .tq2_0: return 2 + 64
        case .mxfp4: return 1 + 16
        case .nvfp4: return 4 + 32
        case .q1_0: return 2 + 16
        }
    }

    /// Whether values are stored in blocks with shared scales rather than one by one.
    public var isQuantized: Bool { blockElementCount > 1 }

    /// The element type of a plain (unquantized) type; `nil` for block types.
    public var plainDType: DType? {
        switch self {
        case .f32: return .f32
        case .f16: return .f16
        case .bf16: return .bf16
        case .f64: return .f64
        case .i8: return .i8
        case .i16: return .i16
        case .i32: return .i32
        case .i64: return .i64
        default: return nil
        }
    }

    /// The plain type that holds `dtype` in a GGUF file, if there is one.
    public init?(plain dtype: DType) {
        guard let match = GGMLType.allCases.first(where: { $0.plainDType == dtype }) else { return nil }
        self = match
    }

    /// The dtype a tensor of this type is read as: its own for plain types, F32 for block types
    /// (their values are dequantized to float32, as `gguf.quants.dequantize` returns them).
    public var readDType: DType { plainDType ?? .f32 }

    /// Whether modelfile turns blocks of this type into float32 values: every block type that
    /// gguf-py dequantizes, and Q8_K (ggml's `d · q`). Q8_1 and Q1_0 are listed and copied, not read.
    public var isDequantizable: Bool {
        switch self {
        case .q8_1, .q1_0: return false
        default: return true
        }
    }

    /// Bytes of a tensor of `elementCount` elements, or `nil` when the count is not a whole
    /// number of blocks or the size overflows.
    public func byteCount(elementCount: Int) -> Int? {
        guard elementCount >= 0, elementCount % blockElementCount == 0 else { return nil }
        let (bytes, overflow) = (elementCount / blockElementCount).multipliedReportingOverflow(by: blockByteCount)
        return overflow ? nil : bytes
    }
}
