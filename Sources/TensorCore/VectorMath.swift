// Vectorized exponential for activation kernels.
//
// The C library's `expf` is a function call per element that the compiler cannot vectorize. This
// version evaluates eight lanes at once with Cody–Waite range reduction and the degree-5 minimax
// polynomial of Cephes' `expf` (S. Moshier), whose error is below 2 ulp over the reduced range.
// Elements outside [-87, 88] (where the result approaches the subnormal or overflow range) are
// recomputed with the C library in a second, scalar pass, so extreme inputs give the usual results.

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
