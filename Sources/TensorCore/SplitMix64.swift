// A small seeded generator for reproducible initialisation, shuffling and sampling.
//
// SplitMix64 (Steele, Lea and Flood, "Fast splittable pseudorandom number generators", 2014; the
// constants are those of Vigna's public-domain reference implementation). Every random function
// in this package takes a generator explicitly, so a seed fully determines a run.

/// A fast, seedable 64-bit pseudo-random number generator (SplitMix64).
///
/// Not for cryptography. Two generators with the same seed produce the same sequence on every
/// platform, which is what makes initialisation and shuffling reproducible:
///
/// ```swift
/// var generator = SplitMix64(seed: 42)
/// let w = Tensor.randn([3, 4], using: &generator)
/// ```
public struct SplitMix64: RandomNumberGenerator, Sendable, Hashable {
    /// The current state; the next output is a function of it.
    public private(set) var state: UInt64

    /// A generator whose sequence is determined by `seed`.
    public init(seed: UInt64) {
        state = seed
    }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

extension RandomNumberGenerator {
    /// A uniform `Float` in `[0, 1)` with 24 random bits.
    @inline(__always)
    mutating func nextUnitFloat() -> Float {
        Float(next() >> 40) * 0x1p-24
    }

    /// A uniform `Double` in `[0, 1)` with 53 random bits.
    @inline(__always)
    mutating func nextUnitDouble() -> Double {
        Double(next() >> 11) * 0x1p-53
    }
}
