// The C math library under unambiguous names.
//
// `Tensor` has methods called `exp`, `log`, `sqrt` and `tanh`, which shadow the free functions
// inside its extensions; kernels call these instead.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Scalar math functions from the platform's C library.
enum LibM {
    @inline(__always) static func exp(_ x: Float) -> Float { expf(x) }
    @inline(__always) static func log(_ x: Float) -> Float { logf(x) }
    @inline(__always) static func tanh(_ x: Float) -> Float { tanhf(x) }
    @inline(__always) static func pow(_ x: Float, _ y: Float) -> Float { powf(x, y) }
    @inline(__always) static func cos(_ x: Float) -> Float { cosf(x) }
    @inline(__always) static func sin(_ x: Float) -> Float { sinf(x) }
    @inline(__always) static func log(_ x: Double) -> Double { cLogDouble(x) }
    @inline(__always) static func cos(_ x: Double) -> Double { cCosDouble(x) }
    @inline(__always) static func sin(_ x: Double) -> Double { cSinDouble(x) }
}

// Module-level aliases: inside `LibM` the names `log`, `cos`… would refer to its own members.
@inline(__always) private func cLogDouble(_ x: Double) -> Double { log(x) }
@inline(__always) private func cCosDouble(_ x: Double) -> Double { cos(x) }
@inline(__always) private func cSinDouble(_ x: Double) -> Double { sin(x) }
