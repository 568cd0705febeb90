// Matrix multiplication through OpenBLAS.
//
// OpenBLAS runs at about 100 GFLOP/s per core here. Even for the few-hundred-FLOP products of the
// reference network it beats plain loops: a call costs 110–330 ns for shapes like 32×8·8×6, where a
// straightforward Swift loop with runtime strides took 140–1,700 ns (measured in a release build).

import COpenBLAS

/// Settings of the linear-algebra backend.
public enum ComputeThreads {
    /// Sets how many threads OpenBLAS uses for matrix products. The runtime sets 1 before its first
    /// product (parallel callers such as tests would otherwise oversubscribe the cores); raise it for
    /// large single-process workloads.
    ///
    /// Traps if `count` is below 1.
    public static func set(_ count: Int) {
        precondition(count >= 1, "ComputeThreads.set(\(count)): at least one thread is needed")
        BLAS.configureOnce()
        openblas_set_num_threads(Int32(count))
    }
}

/// `C = alpha · op(A) · op(B) + beta · C` on row-major matrices.
enum BLAS {
    /// Runs once per process, before the first product: one OpenBLAS thread by default.
    ///
    /// (OpenBLAS starts its worker threads when it is loaded; an idle worker yields in a loop for
    /// about 0.1 s before it sleeps. Stopping them with `blas_thread_shutdown_` does not help:
    /// OpenBLAS restarts the pool on its next call, single-threaded or not.)
    private static let defaultConfiguration: Void = { openblas_set_num_threads(1) }()

    /// Applies the default configuration if it has not been applied yet.
    static func configureOnce() { _ = defaultConfiguration }

    /// `C[m×n] = alpha · op(A)[m×k] · op(B)[k×n] + beta · C`, where `op` transposes when asked.
    /// `A` is stored `m×k` (or `k×m` when transposed), `B` is `k×n` (or `n×k`), all row-major and dense.
    static func gemm(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
        alpha: Float = 1, a: UnsafePointer<Float>, b: UnsafePointer<Float>,
        beta: Float, c: UnsafeMutablePointer<Float>
    ) {
        guard m > 0, n > 0 else { return }
        if k == 0 {
            for i in 0..<(m * n) { c[i] = beta == 0 ? 0 : beta * c[i] }
            return
        }
        configureOnce()
        cblas_sgemm(
            CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
            Int32(m), Int32(n), Int32(k), alpha,
            a, Int32(transposeA ? m : k), b, Int32(transposeB ? k : n),
            beta, c, Int32(n))
    }
}
