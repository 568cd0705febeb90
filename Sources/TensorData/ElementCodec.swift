// Bulk conversions between stored element bytes and Float/Double values.
//
// All loops read and write through raw pointers with unaligned-safe loads and stores, so bytes
// borrowed from any file offset are handled correctly.

/// Decoding, encoding and casting of stored elements.
public enum ElementCodec {
    /// Whether ``decode(_:dtype:into:)`` can turn `dtype` into real values: every dtype except the
    /// complex ones and the packed 6-bit floats (whose packing torch does not define).
    public static func canDecodeToReal(_ dtype: DType) -> Bool {
        !dtype.isComplex && dtype != .f6e2m3 && dtype != .f6e3m2
    }

    /// The number of values ``decode(_:dtype:into:)`` produces for `byteCount` bytes.
    public static func valueCount(byteCount: Int, dtype: DType) -> Int {
        byteCount * 8 / dtype.bitWidth
    }

    /// Decodes `source` (elements of `dtype`) into `destination`, rounding to nearest float where
    /// the value is not exactly representable (float64, wide integers).
    ///
    /// Traps if `dtype` cannot be decoded (see ``canDecodeToReal(_:)``) or `destination` is too short.
    public static func decode(_ source: UnsafeRawBufferPointer, dtype: DType, into destination: UnsafeMutableBufferPointer<Float>) {
        let n = valueCount(byteCount: source.count, dtype: dtype)
        precondition(destination.count >= n, "decode: destination holds \(destination.count) of \(n) values")
        precondition(canDecodeToReal(dtype), "decode: \(dtype) has no real-valued decoding")
        func each<T: BitwiseCopyable>(_: T.Type, _ convert: (T) -> Float) {
            let stride = MemoryLayout<T>.size
            for i in 0..<n { destination[i] = convert(source.loadUnaligned(fromByteOffset: i * stride, as: T.self)) }
        }
        switch dtype {
        case .f32: each(Float.self) { $0 }
        case .f16: each(UInt16.self, HalfPrecision.float(fromHalfBits:))
        case .bf16: each(UInt16.self, HalfPrecision.float(fromBFloat16Bits:))
        case .f64: each(Double.self) { Float($0) }
        case .bool: each(UInt8.self) { $0 != 0 ? 1 : 0 }
        case .u8: each(UInt8.self) { Float($0) }
        case .i8: each(Int8.self) { Float($0) }
        case .i16: each(Int16.self) { Float($0) }
        case .u16: each(UInt16.self) { Float($0) }
        case .i32: each(Int32.self) { Float($0) }
        case .u32: each(UInt32.self) { Float($0) }
        case .i64: each(Int64.self) { Float($0) }
        case .u64: each(UInt64.self) { Float($0) }
        case .f8e5m2, .f8e4m3, .f8e8m0, .f8e4m3fnuz, .f8e5m2fnuz:
            let table = Float8Format(dtype)!.decodeTable
            each(UInt8.self) { table[Int($0)] }
        case .f4:
            // Two values per byte, the first in the low nibble (torch float4_e2m1fn_x2).
            for i in 0..<n {
                let byte = source[i / 2]
                let nibble = i % 2 == 0 ? byte & 0x0F : byte >> 4
                destination[i] = Float4E2M1.decodeTable[Int(nibble)]
            }
        case .c64, .c128, .c32, .f6e2m3, .f6e3m2:
            preconditionFailure("unreachable: checked above")
        }
    }

    /// Decodes like ``decode(_:dtype:into:)`` into a new array.
    public static func decode(_ source: UnsafeRawBufferPointer, dtype: DType) -> [Float] {
        let n = valueCount(byteCount: source.count, dtype: dtype)
        return [Float](unsafeUninitializedCapacity: n) { buffer, initialized in
            decode(source, dtype: dtype, into: buffer)
            initialized = n
        }
    }

    /// Decodes to `Double`, exactly for every decodable dtype (float64 and 64-bit integers beyond
    /// 2^53 round to nearest). Complex values decode as (real, imaginary) pairs.
    public static func decodeDoubles(_ source: UnsafeRawBufferPointer, dtype: DType) -> [Double] {
        switch dtype {
        case .f64:
            return (0..<(source.count / 8)).map { source.loadUnaligned(fromByteOffset: $0 * 8, as: Double.self) }
        case .i64:
            return (0..<(source.count / 8)).map { Double(source.loadUnaligned(fromByteOffset: $0 * 8, as: Int64.self)) }
        case .u64:
            return (0..<(source.count / 8)).map { Double(source.loadUnaligned(fromByteOffset: $0 * 8, as: UInt64.self)) }
        case .c64:
            return decode(source, dtype: .f32).map(Double.init)
        case .c128:
            return decodeDoubles(source, dtype: .f64)
        case .c32:
            return decode(source, dtype: .f16).map(Double.init)
        default:
            return decode(source, dtype: dtype).map(Double.init)
        }
    }

    /// Encodes `values` as `dtype` into `destination`, rounding like torch's `Tensor.to(dtype)`:
    /// to nearest even for floats, toward zero for integers (saturating instead of wrapping for
    /// values out of range), `value != 0` for bool.
    ///
    /// Traps if `dtype` has no real-valued encoding or `destination` has the wrong size.
    public static func encode(_ values: UnsafeBufferPointer<Float>, as dtype: DType, into destination: UnsafeMutableRawBufferPointer) {
        let n = values.count
        precondition(dtype.byteCount(elementCount: n) == destination.count, "encode: wrong destination size")
        func each<T: BitwiseCopyable>(_: T.Type, _ convert: (Float) -> T) {
            let stride = MemoryLayout<T>.size
            for i in 0..<n { destination.storeBytes(of: convert(values[i]), toByteOffset: i * stride, as: T.self) }
        }
        func integer<T: FixedWidthInteger & BitwiseCopyable>(_: T.Type) {
            each(T.self) { value in
                guard value.isFinite else { return value.isNaN ? 0 : (value > 0 ? T.max : T.min) }
                let truncated = value.rounded(.towardZero)
                if truncated >= Float(T.max) { return T.max }
                if truncated <= Float(T.min) { return T.min }
                return T(truncated)
            }
        }
        switch dtype {
        case .f32: each(Float.self) { $0 }
        case .f16: each(UInt16.self, HalfPrecision.halfBits(from:))
        case .bf16: each(UInt16.self, HalfPrecision.bfloat16Bits(from:))
        case .f64: each(Double.self) { Double($0) }
        case .bool: each(UInt8.self) { $0 != 0 ? 1 : 0 }
        case .u8: integer(UInt8.self)
        case .i8: integer(Int8.self)
        case .i16: integer(Int16.self)
        case .u16: integer(UInt16.self)
        case .i32: integer(Int32.self)
        case .u32: integer(UInt32.self)
        case .i64: integer(Int64.self)
        case .u64: integer(UInt64.self)
        case .f8e5m2, .f8e4m3, .f8e8m0, .f8e4m3fnuz, .f8e5m2fnuz:
            let format = Float8Format(dtype)!
            each(UInt8.self) { format.encode($0) }
        case .f4:
            for byteIndex in 0..<destination.count {
                let low = Float4E2M1.encode(values[2 * byteIndex])
                let high = Float4E2M1.encode(values[2 * byteIndex + 1])
                destination[byteIndex] = low | (high << 4)
            }
        case .c64, .c128, .c32, .f6e2m3, .f6e3m2:
            preconditionFailure("encode: \(dtype) has no real-valued encoding")
        }
    }

    /// Converts floating-point elements between float16, bfloat16, float32 and float64, rounding
    /// like torch (nearest even; float64 to a 16-bit type goes through float32, as torch does).
    ///
    /// Traps unless both dtypes are ``DType/isCastableFloat`` and the sizes match.
    public static func cast(
        _ source: UnsafeRawBufferPointer, from sourceType: DType,
        to targetType: DType, into destination: UnsafeMutableRawBufferPointer
    ) {
        precondition(sourceType.isCastableFloat && targetType.isCastableFloat, "cast: \(sourceType) to \(targetType)")
        let n = source.count / (sourceType.bitWidth / 8)
        precondition(destination.count == n * (targetType.bitWidth / 8), "cast: wrong destination size")
        if sourceType == targetType {
            if n > 0 { destination.baseAddress!.copyMemory(from: source.baseAddress!, byteCount: source.count) }
            return
        }
        func map<S: BitwiseCopyable, T: BitwiseCopyable>(_: S.Type, _: T.Type, _ convert: (S) -> T) {
            let inStride = MemoryLayout<S>.size, outStride = MemoryLayout<T>.size
            for i in 0..<n {
                destination.storeBytes(
                    of: convert(source.loadUnaligned(fromByteOffset: i * inStride, as: S.self)),
                    toByteOffset: i * outStride, as: T.self)
            }
        }
        switch (sourceType, targetType) {
        case (.f32, .f16): map(Float.self, UInt16.self, HalfPrecision.halfBits(from:))
        case (.f32, .bf16): map(Float.self, UInt16.self, HalfPrecision.bfloat16Bits(from:))
        case (.f32, .f64): map(Float.self, Double.self) { Double($0) }
        case (.f16, .f32): map(UInt16.self, Float.self, HalfPrecision.float(fromHalfBits:))
        case (.bf16, .f32): map(UInt16.self, Float.self, HalfPrecision.float(fromBFloat16Bits:))
        case (.f16, .bf16): map(UInt16.self, UInt16.self) { HalfPrecision.bfloat16Bits(from: HalfPrecision.float(fromHalfBits: $0)) }
        case (.bf16, .f16): map(UInt16.self, UInt16.self) { HalfPrecision.halfBits(from: HalfPrecision.float(fromBFloat16Bits: $0)) }
        case (.f16, .f64): map(UInt16.self, Double.self) { Double(HalfPrecision.float(fromHalfBits: $0)) }
        case (.bf16, .f64): map(UInt16.self, Double.self) { Double(HalfPrecision.float(fromBFloat16Bits: $0)) }
        case (.f64, .f32): map(Double.self, Float.self) { Float($0) }
        case (.f64, .f16): map(Double.self, UInt16.self) { HalfPrecision.halfBits(from: Float($0)) }
        case (.f64, .bf16): map(Double.self, UInt16.self) { HalfPrecision.bfloat16Bits(from: Float($0)) }
        default: preconditionFailure("unreachable: same-type casts return early")
        }
    }

    /// The number of NaN and infinite values among elements of `dtype` (0 for types that cannot
    /// hold them). Complex elements count each non-finite real or imaginary part.
    public static func nonFiniteCount(_ source: UnsafeRawBufferPointer, dtype: DType) -> Int {
        func countMasked<T: FixedWidthInteger & UnsignedInteger>(_: T.Type, exponentMask: T) -> Int {
            let stride = MemoryLayout<T>.size
            let n = source.count / stride
            var count = 0
            for i in 0..<n where source.loadUnaligned(fromByteOffset: i * stride, as: T.self) & exponentMask == exponentMask {
                count &+= 1
            }
            return count
        }
        switch dtype {
        case .f32, .c64: return countMasked(UInt32.self, exponentMask: 0x7F80_0000)
        case .f64, .c128: return countMasked(UInt64.self, exponentMask: 0x7FF0_0000_0000_0000)
        case .f16, .c32: return countMasked(UInt16.self, exponentMask: 0x7C00)
        case .bf16: return countMasked(UInt16.self, exponentMask: 0x7F80)
        case .f8e5m2, .f8e4m3, .f8e8m0, .f8e4m3fnuz, .f8e5m2fnuz:
            let table = Float8Format(dtype)!.decodeTable
            var count = 0
            for byte in source where !table[Int(byte)].isFinite { count += 1 }
            return count
        default:
            return 0
        }
    }
}

/// An 8-bit float format: sign, exponent and mantissa widths, bias, and how it spells NaN and
/// infinity. Decoding uses a 256-entry table; encoding rounds to nearest even.
struct Float8Format {
    let exponentBits: Int
    let mantissaBits: Int
    let bias: Int
    let hasSign: Bool
    /// IEEE-style: exponent all ones is infinity (mantissa 0) or NaN.
    let ieeeSpecials: Bool
    /// "fn": only exponent and mantissa all ones is NaN; no infinity.
    let onlyAllOnesNaN: Bool
    /// "fnuz": the negative-zero code 0x80 is the only NaN; no infinity, no negative zero.
    let negativeZeroIsNaN: Bool

    /// Every code's value, by code.
    private(set) var decodeTable: [Float]
    private var nanCode: UInt8
    private var overflowThreshold: Float

    private static let e5m2 = Float8Format(5, 2, 15, sign: true, ieee: true, fn: false, fnuz: false)
    private static let e4m3fn = Float8Format(4, 3, 7, sign: true, ieee: false, fn: true, fnuz: false)
    private static let e4m3fnuz = Float8Format(4, 3, 8, sign: true, ieee: false, fn: false, fnuz: true)
    private static let e5m2fnuz = Float8Format(5, 2, 16, sign: true, ieee: false, fn: false, fnuz: true)
    private static let e8m0fnu = Float8Format(8, 0, 127, sign: false, ieee: false, fn: true, fnuz: false)

    init?(_ dtype: DType) {
        switch dtype {
        case .f8e5m2: self = Self.e5m2
        case .f8e4m3: self = Self.e4m3fn
        case .f8e4m3fnuz: self = Self.e4m3fnuz
        case .f8e5m2fnuz: self = Self.e5m2fnuz
        case .f8e8m0: self = Self.e8m0fnu
        default: return nil
        }
    }

    private init(_ e: Int, _ m: Int, _ bias: Int, sign: Bool, ieee: Bool, fn: Bool, fnuz: Bool) {
        exponentBits = e
        mantissaBits = m
        self.bias = bias
        hasSign = sign
        ieeeSpecials = ieee
        onlyAllOnesNaN = fn
        negativeZeroIsNaN = fnuz
        decodeTable = []
        nanCode = 0
        overflowThreshold = 0
        let table = (0...255).map { decode(UInt8($0)) }
        let finite = table.filter { $0.isFinite }.sorted()
        let largest = finite.last ?? 0
        let belowLargest = finite.last(where: { $0 < largest }) ?? 0
        decodeTable = table
        nanCode = table.firstIndex(where: { $0.isNaN }).map { UInt8($0) } ?? 0xFF
        // Halfway between the largest value and the next one the format would have: at or past it,
        // rounding overflows. For E8M0 (powers of two) the next value is twice the largest.
        overflowThreshold = mantissaBits == 0 ? largest * 1.5 : largest + (largest - belowLargest) / 2
    }

    func decode(_ code: UInt8) -> Float {
        let magnitudeBits = exponentBits + mantissaBits
        let negative = hasSign && (code >> magnitudeBits) & 1 == 1
        let exponent = Int(code >> mantissaBits) & ((1 << exponentBits) - 1)
        let mantissa = Int(code) & ((1 << mantissaBits) - 1)
        let allOnesExponent = (1 << exponentBits) - 1
        if negativeZeroIsNaN && code == 0x80 { return .nan }
        if ieeeSpecials && exponent == allOnesExponent { return mantissa == 0 ? (negative ? -.infinity : .infinity) : .nan }
        if onlyAllOnesNaN && exponent == allOnesExponent && mantissa == (1 << mantissaBits) - 1 { return .nan }
        let magnitude: Float
        if exponent == 0 && mantissaBits > 0 {
            magnitude = Float(mantissa) * Float(sign: .plus, exponent: 1 - bias - mantissaBits, significand: 1)
        } else {
            let significand = 1 + Float(mantissa) / Float(1 << mantissaBits)
            magnitude = Float(sign: .plus, exponent: exponent - bias, significand: significand)
        }
        return negative ? -magnitude : magnitude
    }

    /// Nearest code to `value`, ties to the even code, like torch's c10 conversions: overflow
    /// gives infinity (IEEE style) or NaN (fn and fnuz formats); NaN gives NaN.
    func encode(_ value: Float) -> UInt8 {
        let table = decodeTable
        if value.isNaN { return nanCode }
        if !hasSign && value < 0 { return nanCode }
        if abs(value) >= overflowThreshold {
            if ieeeSpecials { return value < 0 ? 0xFC : 0x7C }
            return nanCode
        }
        var best: UInt8 = 0
        var bestDistance = Float.infinity
        for code in 0...255 {
            let candidate = table[code]
            guard candidate.isFinite else { continue }
            if candidate == 0 && candidate.sign != value.sign && value != 0 { continue }
            let distance = abs(candidate - value)
            if distance < bestDistance || (distance == bestDistance && code & 1 == 0 && best & 1 == 1) {
                best = UInt8(code)
                bestDistance = distance
            }
        }
        if value == 0 { return value.sign == .minus && hasSign && !negativeZeroIsNaN ? 0x80 : 0 }
        return best
    }
}

/// The 4-bit float E2M1 (one sign, two exponent, one mantissa bit; bias 1; no NaN or infinity).
enum Float4E2M1 {
    static let decodeTable: [Float] = (0..<16).map { code in
        let magnitudes: [Float] = [0, 0.5, 1, 1.5, 2, 3, 4, 6]
        return code & 8 != 0 ? -magnitudes[code & 7] : magnitudes[code & 7]
    }

    /// Nearest code, ties to even; saturates at ±6.
    static func encode(_ value: Float) -> UInt8 {
        if value.isNaN { return 0 }
        let magnitudes: [Float] = [0, 0.5, 1, 1.5, 2, 3, 4, 6]
        var best = 0
        for code in 1..<8 {
            let d = abs(magnitudes[code] - abs(value)), bestD = abs(magnitudes[best] - abs(value))
            if d < bestD || (d == bestD && code & 1 == 0) { best = code }
        }
        return UInt8(best) | (value.sign == .minus ? 8 : 0)
    }
}
