import TensorData

// float32 values to GGUF tensor bytes, bit for bit as gguf-py 0.19.0's `gguf.quants.quantize`
// writes them (docs/formats.md, "GGUF"): Q8_0 blocks, F16 (numpy's float16 cast) and BF16
// (ggml's rounding). Non-finite inputs give the same bytes as numpy on x86-64 too.

/// Turns float32 values into GGUF tensor bytes.
public enum GGUFQuantizer {
    /// Quantizes `values` (a whole number of 32-value blocks) to Q8_0 blocks in `output`:
    /// per block, d = max|x| / 127, q = round-half-away(x · (1/d)) as a signed byte, d stored as f16.
    ///
    /// Traps unless `values.count` is a multiple of 32 and `output` holds `values.count / 32 · 34` bytes.
    public static func quantizeQ8_0(_ values: UnsafeBufferPointer<Float>, into output: UnsafeMutableRawBufferPointer) {
        precondition(values.count % 32 == 0, "Q8_0: \(values.count) values are not whole blocks of 32")
        let blocks = values.count / 32
        precondition(output.count == blocks * 34, "Q8_0: \(output.count) bytes for \(blocks) blocks")
        guard blocks > 0, let x = values.baseAddress, let out = output.baseAddress else { return }
        for block in 0..<blocks {
            let v = UnsafeRawPointer(x + block * 32)
            let o = out + block * 34
            // Four vectors of 8: |x|, its maximum, and whether any is NaN (numpy's max propagates NaN).
            let signMask = SIMD8<UInt32>(repeating: 0x7FFF_FFFF)
            var largest = SIMD8<Float>(repeating: 0)
            var sawNaN = SIMDMask<SIMD8<Int32>>(repeating: false)
            for part in 0..<4 {
                let a = unsafeBitCast(unsafeBitCast(v.loadUnaligned(fromByteOffset: 32 * part, as: SIMD8<Float>.self), to: SIMD8<UInt32>.self) & signMask, to: SIMD8<Float>.self)
                sawNaN .|= a .!= a
                largest.replace(with: a, where: a .> largest)
            }
            var maximum = largest[0]
            for lane in 1..<8 where largest[lane] > maximum { maximum = largest[lane] }
            let d = (any(sawNaN) ? Float.nan : maximum) / 127
            let inverse: Float = d == 0 ? 0 : 1 / d
            o.storeBytes(of: numpyHalfBits(d).littleEndian, as: UInt16.self)
            let q = o + 2
            if inverse.isFinite, maximum * inverse < 4096 {
                // Every |x · inverse| is below 4096 (about 127 in practice): float arithmetic only.
                for part in 0..<4 {
                    let bytes = smallQuantizedBytes(v.loadUnaligned(fromByteOffset: 32 * part, as: SIMD8<Float>.self) * inverse)
                    q.storeBytes(of: bytes, toByteOffset: 8 * part, as: SIMD8<UInt8>.self)
                }
            } else {
                let values = v.assumingMemoryBound(to: Float.self)
                for j in 0..<32 { q.storeBytes(of: quantizedByte(values[j] * inverse), toByteOffset: j, as: Int8.self) }
            }
        }
    }

    /// ``smallQuantizedByte(_:)`` for eight values at once: for 0 ≤ a < 2^22, a + 0.5 is exact
    /// or rounds without crossing an integer, so truncating it rounds a half away from zero.
    @inline(__always) static func smallQuantizedBytes(_ x: SIMD8<Float>) -> SIMD8<UInt8> {
        let a = unsafeBitCast(unsafeBitCast(x, to: SIMD8<UInt32>.self) & SIMD8(repeating: 0x7FFF_FFFF), to: SIMD8<Float>.self)
        let shifted = a + 0.5
        let nearest = (shifted + 0x1p23) - 0x1p23  // shifted rounded to an integer (ties to even)
        var rounded = nearest
        rounded.replace(with: nearest - 1, where: nearest .> shifted)  // so: floor(shifted)
        rounded.replace(with: -rounded, where: x .< 0)
        // Adding 1.5 · 2^23 puts the integer, two's complement, in the low mantissa bits.
        return SIMD8<UInt8>(truncatingIfNeeded: unsafeBitCast(rounded + 0x1.8p23, to: SIMD8<UInt32>.self))
    }

    /// `x` (|x| < 2^22) rounded half away from zero, as a byte holding the low 8 bits of the
    /// integer: the rounding of ``quantizedByte(_:)`` in float operations only, without branches.
    @inline(__always) static func smallQuantizedByte(_ x: Float) -> UInt8 {
        let a = abs(x)
        let nearest = (a + 0x1p23) - 0x1p23  // a rounded to an integer (ties to even)
        let floor = nearest > a ? nearest - 1 : nearest
        let rounded = floor + (a - floor >= 0.5 ? 1 : 0)
        let signed = x < 0 ? -rounded : rounded
        // Adding 1.5 · 2^23 puts the integer, two's complement, in the low mantissa bits.
        return UInt8(truncatingIfNeeded: (signed + 0x1.8p23).bitPattern)
    }

    /// `x` rounded half away from zero (gguf-py's `np_roundf`), then cast to int8 as numpy does.
    /// In the usual range this is integer arithmetic, equal to floor-based rounding because
    /// a − trunc(a) is exact; anything else takes the general path.
    @inline(__always) static func quantizedByte(_ x: Float) -> Int8 {
        let a = abs(x)
        guard a < 8_388_608 else { return int8Cast(roundHalfAway(x)) }  // also NaN
        let whole = Int32(a)
        let rounded = whole &+ (a - Float(whole) >= 0.5 ? 1 : 0)
        return Int8(truncatingIfNeeded: x < 0 ? 0 &- rounded : rounded)
    }

    /// gguf-py's rounding (`np_roundf`): halves away from zero.
    @inline(__always) static func roundHalfAway(_ n: Float) -> Float {
        let a = abs(n)
        let floored = a.rounded(.down)
        let b = floored + (2 * (a - floored)).rounded(.down)
        return n < 0 ? -b : (n > 0 ? b : (n.isNaN ? .nan : 0))
    }

    /// numpy's float32 → int8 cast on x86-64: through a 32-bit conversion that yields 0x80000000
    /// for NaN and out-of-range values, then the low byte.
    @inline(__always) static func int8Cast(_ value: Float) -> Int8 {
        guard value.isFinite, value > -2_147_483_648, value < 2_147_483_648 else { return 0 }
        return Int8(truncatingIfNeeded: Int32(value))
    }

    /// IEEE half bits as numpy's float32 → float16 cast gives them: round to nearest even; a NaN
    /// keeps its sign and top payload bits without being quieted (0x7C01 if they are all zero).
    @inline(__always) public static func numpyHalfBits(_ value: Float) -> UInt16 {
        let bits = value.bitPattern
        guard bits & 0x7FFF_FFFF > 0x7F80_0000 else { return HalfPrecision.halfBits(from: value) }
        var result = UInt16(truncatingIfNeeded: 0x7C00 + ((bits & 0x007F_FFFF) >> 13))
        if result == 0x7C00 { result += 1 }
        return result | UInt16(truncatingIfNeeded: (bits >> 16) & 0x8000)
    }

    /// bfloat16 bits as gguf-py (and ggml) give them: a NaN forced quiet, then round to nearest even.
    @inline(__always) public static func ggmlBFloat16Bits(_ value: Float) -> UInt16 {
        var n = UInt64(value.bitPattern)
        if n & 0x7FFF_FFFF > 0x7F80_0000 { n = (n & 0xFFFF_0000) | (64 << 16) }
        return UInt16(truncatingIfNeeded: (n + (0x7FFF + ((n >> 16) & 1))) >> 16)
    }

    /// Encodes `values` as `type` (F32, F16, BF16 or Q8_0) into `output`, which must hold exactly
    /// `type.byteCount(elementCount: values.count)` bytes. For Q8_0 each row of `rowLength`
    /// values is quantized on its own, as gguf-py does (rows are whole blocks, so it is the same
    /// as quantizing the run).
    ///
    /// Traps for other types or a wrong output size.
    public static func encode(_ values: UnsafeBufferPointer<Float>, as type: GGMLType, into output: UnsafeMutableRawBufferPointer) {
        precondition(type.byteCount(elementCount: values.count) == output.count, "encode: wrong output size for \(type.name)")
        switch type {
        case .f32:
            if let source = values.baseAddress, values.count > 0 {
                output.baseAddress?.copyMemory(from: source, byteCount: values.count * 4)
            }
        case .f16:
            for (i, value) in values.enumerated() { output.storeBytes(of: numpyHalfBits(value).littleEndian, toByteOffset: 2 * i, as: UInt16.self) }
        case .bf16:
            for (i, value) in values.enumerated() { output.storeBytes(of: ggmlBFloat16Bits(value).littleEndian, toByteOffset: 2 * i, as: UInt16.self) }
        case .q8_0:
            quantizeQ8_0(values, into: output)
        default:
            preconditionFailure("encode: \(type.name) is not written by modelfile")
        }
    }
}
