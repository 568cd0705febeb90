// Matrix multiplication through OpenBLAS.
//
// OpenBLAS runs at about 100 GFLOP/s per core here. Even for the few-hundred-FLOP products of the
// reference network it beats plain loops: a call costs 110–330 ns for shapes like 32×8·8×6, where a
// straightforward Swift loop with runtime strides took 140–1,700 ns (measured in a release build).
//
// The library is opened on first use (dlopen), not linked: loading OpenBLAS starts its thread pool
// and costs about 9 ms, which every `modelfile inspect` would otherwise pay at start-up. The
// declarations come from OpenBLAS's own cblas.h (the COpenBLAS module); if the shared library is
// missing at run time, a plain Swift kernel computes the same products, slowly.

import COpenBLAS

#if canImport(Glibc)
import Glibc
#endif

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
        BLAS.library?.setThreads(Int32(count))
    }

    /// Whether OpenBLAS was found (false: products run on the slow built-in kernel).
    public static var isUsingOpenBLAS: Bool { BLAS.library != nil }
}

/// `C = alpha · op(A) · op(B) + beta · C` on row-major matrices.
enum BLAS {
    /// Runs once per process, before the first product: one OpenBLAS thread by default.
    ///
    /// (OpenBLAS starts its worker threads when it is loaded; an idle worker yields in a loop for
    /// about 0.1 s before it sleeps. Stopping them with `blas_thread_shutdown_` does not help:
    /// OpenBLAS restarts the pool on its next call, single-threaded or not.)
    private static let defaultConfiguration: Void = { library?.setThreads(1) }()

    /// Applies the default configuration if it has not been applied yet.
    static func configureOnce() { _ = defaultConfiguration }

    /// The OpenBLAS entry points, opened on first use; nil when the library is not installed.
    static let library: OpenBLASLibrary? = OpenBLASLibrary.open()

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
        guard let library else {
            fallbackGEMM(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha, a: a, b: b, beta: beta, c: c)
            return
        }
        library.sgemm(
            CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
            Int32(m), Int32(n), Int32(k), alpha,
            a, Int32(transposeA ? m : k), b, Int32(transposeB ? k : n),
            beta, c, Int32(n))
    }

    /// The same product without BLAS (i-p-j order, so the inner loop runs over contiguous rows
    /// of B and C when B is not transposed).
    static func fallbackGEMM(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float,
        a: UnsafePointer<Float>, b: UnsafePointer<Float>, beta: Float, c: UnsafeMutablePointer<Float>
    ) {
        for i in 0..<(m * n) { c[i] = beta == 0 ? 0 : beta * c[i] }
        for i in 0..<m {
            for p in 0..<k {
                let scale = alpha * (transposeA ? a[p * m + i] : a[i * k + p])
                if transposeB {
                    for j in 0..<n { c[i * n + j] += scale * b[j * k + p] }
                } else {
                    for j in 0..<n { c[i * n + j] += scale * b[p * n + j] }
                }
            }
        }
    }
}

/// The two OpenBLAS functions the runtime calls, looked up in the shared library.
struct OpenBLASLibrary: @unchecked Sendable {
    typealias SGEMM = @convention(c) (
        CBLAS_ORDER, CBLAS_TRANSPOSE, CBLAS_TRANSPOSE, blasint, blasint, blasint, Float,
        UnsafePointer<Float>?, blasint, UnsafePointer<Float>?, blasint, Float, UnsafeMutablePointer<Float>?, blasint
    ) -> Void
    typealias SetThreads = @convention(c) (Int32) -> Void

    let sgemm: SGEMM
    let setThreads: SetThreads

    /// Opens `libopenblas.so.0` (Debian's libopenblas0, through the alternatives system) or nil.
    static func open() -> OpenBLASLibrary? {
        for name in ["libopenblas.so.0", "libopenblas.so"] {
            guard let handle = dlopen(name, RTLD_NOW | RTLD_LOCAL) else { continue }
            guard let sgemm = dlsym(handle, "cblas_sgemm"), let threads = dlsym(handle, "openblas_set_num_threads") else {
                dlclose(handle)
                continue
            }
            return OpenBLASLibrary(sgemm: unsafeBitCast(sgemm, to: SGEMM.self), setThreads: unsafeBitCast(threads, to: SetThreads.self))
        }
        return nil
    }
}
