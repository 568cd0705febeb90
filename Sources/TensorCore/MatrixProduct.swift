// Plain float32 matrix products on caller-owned memory, for workflows that stream large weights
// (LoRA merging) and cannot afford a `Tensor` per block.

/// Row-major float32 matrix products through the runtime's BLAS (BLAS.swift).
public enum MatrixProduct {
    /// `c[m×n] = a[m×k] · b[k×n]`, all row-major and dense.
    ///
    /// Traps if a size is negative or does not fit the BLAS interface (32-bit dimensions).
    public static func multiply(
        _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, into c: UnsafeMutablePointer<Float>, m: Int, n: Int, k: Int
    ) {
        precondition(m >= 0 && n >= 0 && k >= 0, "MatrixProduct.multiply: negative size \(m)×\(k)·\(k)×\(n)")
        precondition(m <= Int(Int32.max) && n <= Int(Int32.max) && k <= Int(Int32.max), "MatrixProduct.multiply: sizes beyond 32 bits")
        BLAS.gemm(transposeA: false, transposeB: false, m: m, n: n, k: k, a: a, b: b, beta: 0, c: c)
    }
}
