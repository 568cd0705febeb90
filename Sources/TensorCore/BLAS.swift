// Matrix multiplication through OpenBLAS.
//
// OpenBLAS runs at about 70 GFLOP/s per core here (512 × 512 products, AVX-512 kernels). Even for
// the few-hundred-FLOP products of the
// reference network it beats plain loops: a call costs 110–330 ns for shapes like 32×8·8×6, where a
// straightforward Swift loop with runtime strides took 140–1,700 ns (measured in a release build).
//
// The library is opened on first use (dlopen), not linked: loading OpenBLAS starts its thread pool
// and costs about 9 ms, which every `modelfile inspect` would otherwise pay at start-up. The
// declarations come from OpenBLAS's own cblas.h (the COpenBLAS module); if the shared library is
// missing at run time, a plain Swift kernel computes the same products, slowly.
//
// OpenBLAS picks its kernels from the CPU model when it is loaded. Versions that do not know the CPU
// (Debian 12's 0.3.21 on recent Xeons, which virtual machines report as a generic "Intel Xeon
// Processor") fall back to "Prescott", SSE3 kernels about 7× slower than the AVX-512 ones on the
// same machine. So, unless the user has set `OPENBLAS_CORETYPE`, the runtime names the kernel
// family the CPU's features allow (from the flags Linux lists in /proc/cpuinfo, which include
// AVX-512 only when the kernel has enabled its registers) while the library loads, and removes
// the variable again afterwards.

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

    /// Opens `libopenblas.so.0` (Debian's libopenblas0, through the alternatives system) or nil,
    /// with the kernels of ``preferredCoreType()`` when the user has not chosen any.
    static func open() -> OpenBLASLibrary? {
        let coreType = getenv("OPENBLAS_CORETYPE") == nil ? preferredCoreType() : nil
        if let coreType { setenv("OPENBLAS_CORETYPE", coreType, 0) }
        defer { if coreType != nil { unsetenv("OPENBLAS_CORETYPE") } }
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

    /// The OpenBLAS kernel family for this CPU's vector instructions: "SkylakeX" with AVX-512
    /// (F, CD, BW, DQ, VL), "Haswell" with AVX2 and FMA, `nil` otherwise (OpenBLAS then decides).
    static func preferredCoreType() -> String? {
        let flags = cpuFlags()
        if ["avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"].allSatisfy(flags.contains) { return "SkylakeX" }
        if ["avx2", "fma"].allSatisfy(flags.contains) { return "Haswell" }
        return nil
    }

    /// The words of the first `flags` line of /proc/cpuinfo (empty where there is none).
    static func cpuFlags() -> Set<Substring> {
        #if os(Linux)
        guard let file = fopen("/proc/cpuinfo", "r") else { return [] }
        defer { fclose(file) }
        var line = [CChar](repeating: 0, count: 8192)
        // A line longer than the buffer arrives in pieces; only a piece that starts a line is examined.
        var atLineStart = true
        while fgets(&line, Int32(line.count), file) != nil {
            let text = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            defer { atLineStart = text.hasSuffix("\n") }
            guard atLineStart, text.hasPrefix("flags"), let colon = text.firstIndex(of: ":") else { continue }
            return Set(text[text.index(after: colon)...].split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" }))
        }
        #endif
        return []
    }
}
