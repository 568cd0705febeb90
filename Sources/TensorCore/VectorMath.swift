// Vectorized exponential for activation kernels, and the logarithm, sine and cosine of normal sampling.
//
// The C library's `expf` is a function call per element that the compiler cannot vectorize. This
// version evaluates eight lanes at once with Cody–Waite range reduction and the degree-5 minimax
// polynomial of Cephes' `expf` (S. Moshier), whose error is below 2 ulp over the reduced range.
// Elements outside [-87, 88] (where the result approaches the subnormal or overflow range) are
// recomputed with the C library in a second, scalar pass, so extreme inputs give the usual results.
//
// `log` (positive normal inputs) and `cosSinOfTurns` (angles given as fractions of a turn in
// [0, 1)) serve `Tensor.randn`'s Box–Muller transform; they use Cephes' `logf`, `sinf` and `cosf`
// polynomials, and the tests hold them within a few float32 ulps of the C library in Double.

enum VectorMath {
    typealias Lanes = SIMD8<Float>

    /// `e^x` for eight lanes, accurate for lanes in [-87, 88]; lanes outside give meaningless
    /// values, which callers recompute with the C library (see ``exp(_:_:count:)``).
    @inline(__always)
    static func exp(_ x: Lanes) -> Lanes {
        let log2e: Float = 1.442_695_04
        // Round x·log2(e) to the nearest integer n with the 1.5·2^23 trick: after the addition the
        // low mantissa bits hold n + 127 (the biased exponent of 2^n).
        let magic: Float = 12_582_912 + 127  // 1.5·2^23 + 127
        let shifted = x * log2e + magic
        let n = shifted - magic
        // r = x − n·ln 2 in two parts, so that r is exact to about 2^-35.
        var r = x - n * 0.693_359_375
        r = r - n * -2.121_944_4e-4
        let r2 = r * r
        var p = Lanes(repeating: 1.987_569_15e-4)
        p = p * r + 1.398_199_95e-3
        p = p * r + 8.333_451_9e-3
        p = p * r + 4.166_579_6e-2
        p = p * r + 1.666_666_55e-1
        p = p * r + 5.000_000_1e-1
        p = p * r2 + r + 1
        // 2^n: the biased exponent, moved into the exponent field.
        let bits = unsafeBitCast(shifted, to: SIMD8<UInt32>.self) &<< 23
        return p * unsafeBitCast(bits, to: Lanes.self)
    }

    /// The natural logarithm of eight positive, normal (not subnormal) lanes; others give
    /// meaningless values.
    ///
    /// Written with integer and float lane arithmetic only: the standard library's generic SIMD
    /// comparisons, selections and conversions compile to per-lane code here, several times slower.
    @inline(__always)
    static func log(_ x: Lanes) -> Lanes {
        // x = m·2^e with m in [√½, √2): offsetting the bit pattern by √½'s moves the exponent
        // boundary there, so the exponent field gives e and the mantissa bits (re-biased) give m.
        let sqrtHalfBits: Int32 = 0x3F35_04F3
        let shifted = unsafeBitCast(x, to: SIMD8<Int32>.self) &- sqrtHalfBits
        let exponentBits = (shifted &>> 23) &+ 0x4B40_0000  // e + 1.5·2^23 as a float's bits
        let exponent = unsafeBitCast(exponentBits, to: Lanes.self) - 12_582_912
        let m = unsafeBitCast((shifted & 0x007F_FFFF) &+ sqrtHalfBits, to: Lanes.self) - 1
        let z = m * m
        var p = Lanes(repeating: 7.037_683_629_2e-2)
        p = p * m - 1.151_461_031_0e-1
        p = p * m + 1.167_699_874_0e-1
        p = p * m - 1.242_014_084_6e-1
        p = p * m + 1.424_932_278_7e-1
        p = p * m - 1.666_805_766_5e-1
        p = p * m + 2.000_071_476_5e-1
        p = p * m - 2.499_999_399_3e-1
        p = p * m + 3.333_333_117_4e-1
        var y = p * m * z
        y += exponent * -2.121_944_40e-4
        y -= 0.5 * z
        return m + y + exponent * 0.693_359_375
    }

    /// `cos(2πt)` and `sin(2πt)` for eight lanes of `t` in [0, 1) (angles as fractions of a turn).
    ///
    /// The nearest quarter turn n is taken off exactly (t − n/4 has no rounding error), so the
    /// polynomials only see |r| ≤ π/4; the quarter turns are then applied by swapping the two
    /// results and flipping sign bits.
    @inline(__always)
    static func cosSinOfTurns(_ t: Lanes) -> (cos: Lanes, sin: Lanes) {
        // Rounding to the nearest integer with 1.5·2^23: the low mantissa bits then hold n.
        let magic: Float = 12_582_912
        let rounded = t * 4 + magic
        let quarters = rounded - magic
        let n = unsafeBitCast(rounded, to: SIMD8<Int32>.self) & 3
        let r = (t - quarters * 0.25) * (2 * Float.pi)
        let z = r * r
        var s = Lanes(repeating: -1.951_529_589_1e-4)
        s = s * z + 8.332_160_873_6e-3
        s = s * z - 1.666_665_461_1e-1
        let sine = unsafeBitCast(s * z * r + r, to: SIMD8<Int32>.self)
        var c = Lanes(repeating: 2.443_315_711_809_948e-5)
        c = c * z - 1.388_731_625_493_765e-3
        c = c * z + 4.166_664_568_298_827e-2
        let cosine = unsafeBitCast(c * z * z - 0.5 * z + 1, to: SIMD8<Int32>.self)
        // One quarter turn maps (cos, sin) to (−sin, cos): odd n swaps them; cos is negated for
        // n = 1, 2 and sin for n = 2, 3.
        let swap = SIMD8<Int32>() &- (n & 1)
        let a = (cosine & ~swap) | (sine & swap), b = (sine & ~swap) | (cosine & swap)
        let cosSign = ((n &+ 1) & 2) &<< 30, sinSign = (n & 2) &<< 30
        return (unsafeBitCast(a ^ cosSign, to: Lanes.self), unsafeBitCast(b ^ sinSign, to: Lanes.self))
    }

    /// `out[i] = e^x[i]`.
    static func exp(_ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, count: Int) {
        var i = 0
        while i + 8 <= count {
            // SAFETY: lanes i..<i+8 are below count.
            let lanes = UnsafeRawPointer(x + i).loadUnaligned(as: Lanes.self)
            UnsafeMutableRawPointer(out + i).storeBytes(of: exp(lanes), as: Lanes.self)
            i += 8
        }
        // The tail, and every element outside the vector range (or NaN), through the C library.
        for j in 0..<count where j >= i || !(x[j] >= -87 && x[j] <= 88) {
            out[j] = LibM.exp(x[j])
        }
    }

    /// `out[i] = 1 / (1 + e^-x[i])`.
    static func sigmoid(_ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, count: Int) {
        var i = 0
        while i + 8 <= count {
            // SAFETY: lanes i..<i+8 are below count.
            let lanes = UnsafeRawPointer(x + i).loadUnaligned(as: Lanes.self)
            UnsafeMutableRawPointer(out + i).storeBytes(of: 1 / (1 + exp(-lanes)), as: Lanes.self)
            i += 8
        }
        for j in 0..<count where j >= i || !(x[j] >= -88 && x[j] <= 87) {
            out[j] = 1 / (1 + LibM.exp(-x[j]))
        }
    }
}
