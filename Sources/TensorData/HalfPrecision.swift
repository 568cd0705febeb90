// Conversions between float32 and the 16-bit float formats, done on bit patterns.
//
// On baseline x86-64, `Float(Float16)` is a library call per element (0.35 G/s here); these
// branch-light versions run at memory speed. Rounding is to nearest, ties to even, as torch
// does (c10/util/Half.h `fp16_ieee_from_fp32_value`, c10/util/BFloat16.h
// `round_to_nearest_even`). Infinities map to infinities and NaNs to NaNs, with the bit patterns
// torch's CPU conversions produce.

/// Bit-level conversions between `Float` and IEEE half (`F16`) and bfloat16 (`BF16`).
public enum HalfPrecision {
    /// The float32 value of IEEE half bits. Exact (every half is a float).
    @inline(__always)
    public static func float(fromHalfBits h: UInt16) -> Float {
        // Shift exponent and mantissa into place, then fix the exponent bias. Subnormal halves are
        // renormalised with one float subtraction (F. Giesen's "magic" method).
        let shiftedExponentMask: UInt32 = 0x7C00 << 13
        var bits = UInt32(h & 0x7FFF) << 13
        let exponent = bits & shiftedExponentMask
        bits &+= (127 - 15) << 23
        if exponent == shiftedExponentMask {
            bits &+= (128 - 16) << 23  // infinity or NaN: exponent all ones
        } else if exponent == 0 {
            bits &+= 1 << 23  // zero or subnormal
            bits = (Float(bitPattern: bits) - Float(bitPattern: 113 << 23)).bitPattern
        }
        return Float(bitPattern: bits | (UInt32(h & 0x8000) << 16))
    }

    /// IEEE half bits of `value`, rounded to nearest even. Values beyond the half range become
    /// infinity; a NaN stays a NaN with its sign and top payload bits, quieted.
    @inline(__always)
    public static func halfBits(from value: Float) -> UInt16 {
        var bits = value.bitPattern
        let sign = bits & 0x8000_0000
        bits ^= sign
        let result: UInt32
        if bits > 0x7F80_0000 {
            // NaN: quieted, top mantissa bits kept (what F16C's vcvtps2ph and torch produce).
            result = 0x7E00 | ((bits >> 13) & 0x3FF)
        } else if bits >= 0x4780_0000 {
            // 65520 and above round to infinity, as does infinity itself.
            result = 0x7C00
        } else if bits < 0x3880_0000 {
            // The result is subnormal or zero: add a magic number so the float adder rounds the
            // mantissa to 10 bits at the bottom, then subtract it as an integer.
            let magic: UInt32 = ((127 - 15) + (23 - 10) + 1) << 23
            let sum = Float(bitPattern: bits) + Float(bitPattern: magic)
            result = sum.bitPattern &- magic
        } else {
            let mantissaOdd = (bits >> 13) & 1
            bits &+= 0xC800_0000 &+ 0xFFF  // (15 - 127) << 23 as a wrapping add: rebias the exponent
            bits &+= mantissaOdd
            result = bits >> 13
        }
        return UInt16(truncatingIfNeeded: result | (sign >> 16))
    }

    /// The float32 value of bfloat16 bits. Exact.
    @inline(__always)
    public static func float(fromBFloat16Bits b: UInt16) -> Float {
        Float(bitPattern: UInt32(b) << 16)
    }

    /// bfloat16 bits of `value`, rounded to nearest even. Every NaN becomes 0xFFFF, which is what
    /// torch 2.x's CPU conversion produces.
    @inline(__always)
    public static func bfloat16Bits(from value: Float) -> UInt16 {
        let bits = value.bitPattern
        if bits & 0x7FFF_FFFF > 0x7F80_0000 { return 0xFFFF }
        let roundingBias = ((bits >> 16) & 1) &+ 0x7FFF
        return UInt16(truncatingIfNeeded: (bits &+ roundingBias) >> 16)
    }
}
