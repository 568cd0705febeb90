// Creating tensors: constants, ranges, random values and Swift arrays.

// MARK: - From Swift values

extension Tensor {
    /// A tensor holding `scalars` in row-major order with the given shape (PyTorch's
    /// `torch.tensor(values).reshape(shape)`); with `requiresGrad` it is a leaf of the autograd graph.
    ///
    /// Traps if the number of scalars is not the product of `shape`.
    public init(_ scalars: [Float], shape: [Int], requiresGrad: Bool = false) {
        let count = Tensor.elementCount(of: shape)
        precondition(scalars.count == count, "\(scalars.count) values given for shape \(shape), which holds \(count)")
        self.init(shape: shape, storage: TensorStorage.make(copying: scalars))
        if requiresGrad { self.requiresGrad = true }
    }

    /// A one-dimensional tensor holding `scalars` (`torch.tensor([1., 2.])`); with `requiresGrad` it
    /// is a leaf of the autograd graph.
    public init(_ scalars: [Float], requiresGrad: Bool = false) {
        self.init(shape: [scalars.count], storage: TensorStorage.make(copying: scalars))
        if requiresGrad { self.requiresGrad = true }
    }

    /// A scalar (rank 0) tensor.
    public init(_ scalar: Float) {
        self.init(shape: [], storage: TensorStorage.make(repeating: scalar, count: 1))
    }

    /// A tensor from Swift values of any nesting depth, like `torch.tensor(nested_lists)`:
    /// `Tensor([1.5, 2])` has shape `[2]`, `Tensor([[1, 2, 3], [4, 5, 6]])` has shape `[2, 3]`, and
    /// `[Double]` or `[Int]` values are rounded to the nearest float32 as `torch.tensor(...,
    /// dtype=torch.float32)` rounds them.
    ///
    /// Traps if the nested arrays are ragged (rows of different lengths at the same depth).
    public init<Element: TensorLiteralElement>(_ values: [Element], requiresGrad: Bool = false) {
        var scalars: [Float] = []
        let shape = values.appendScalars(to: &scalars)
        self.init(scalars, shape: shape, requiresGrad: requiresGrad)
    }

    /// A tensor of `shape` from `scalars` of another numeric type (`[Double]`, `[Int]`), each rounded
    /// to the nearest float32.
    ///
    /// Traps if the number of scalars is not the product of `shape`.
    public init<Scalar: TensorLiteralScalar>(_ scalars: [Scalar], shape: [Int], requiresGrad: Bool = false) {
        self.init(scalars.map(\.floatValue), shape: shape, requiresGrad: requiresGrad)
    }
}

/// A value that can be written into a tensor: `Float`, `Double`, `Int`, or an array of such values at
/// any depth. `Tensor(_:)` uses it to accept nested arrays, as `torch.tensor` accepts nested lists.
public protocol TensorLiteralElement {
    /// Appends this value's scalars in row-major order to `scalars` and returns its shape (`[]` for a
    /// number). Traps if nested arrays are ragged.
    func appendScalars(to scalars: inout [Float]) -> [Int]
}

/// A single number that converts to a float32 tensor element (rounding to nearest).
public protocol TensorLiteralScalar: TensorLiteralElement {
    /// The value rounded to the nearest `Float`.
    var floatValue: Float { get }
}

extension TensorLiteralScalar {
    /// Appends the value; a number has the empty shape.
    public func appendScalars(to scalars: inout [Float]) -> [Int] {
        scalars.append(floatValue)
        return []
    }
}

extension Float: TensorLiteralScalar {
    /// The value itself.
    public var floatValue: Float { self }
}

extension Double: TensorLiteralScalar {
    /// The nearest float32, as `torch.tensor([x], dtype=torch.float32)` rounds a Python float.
    public var floatValue: Float { Float(self) }
}

extension Int: TensorLiteralScalar {
    /// The nearest float32 (exact below 2^24 in magnitude).
    public var floatValue: Float { Float(self) }
}

extension Array: TensorLiteralElement where Element: TensorLiteralElement {
    /// Appends every element's scalars and returns `[count] + the elements' common shape`.
    ///
    /// Traps if the elements' shapes differ (a ragged nested array).
    public func appendScalars(to scalars: inout [Float]) -> [Int] {
        guard let first = first else { return [0] }
        let innerShape = first.appendScalars(to: &scalars)
        for element in dropFirst() {
            let shape = element.appendScalars(to: &scalars)
            precondition(shape == innerShape,
                         "Tensor(_:): ragged nested arrays: an element of shape \(shape) beside one of shape \(innerShape)")
        }
        return [count] + innerShape
    }
}

// MARK: - Constants and ranges

extension Tensor {
    /// A tensor of `shape` filled with `value`.
    public static func full(_ shape: [Int], value: Float) -> Tensor {
        Tensor(shape: shape, storage: TensorStorage.make(repeating: value, count: elementCount(of: shape)))
    }

    /// A tensor of `shape` filled with zeros.
    public static func zeros(_ shape: [Int]) -> Tensor { full(shape, value: 0) }

    /// A tensor of `shape` filled with ones.
    public static func ones(_ shape: [Int]) -> Tensor { full(shape, value: 1) }

    /// A tensor of zeros with `other`'s shape.
    public static func zeros(like other: Tensor) -> Tensor { full(other.shape, value: 0) }

    /// A tensor of ones with `other`'s shape.
    public static func ones(like other: Tensor) -> Tensor { full(other.shape, value: 1) }

    /// The `n × n` identity matrix.
    public static func eye(_ n: Int) -> Tensor {
        var result = zeros([n, n])
        result.withUnsafeMutableBufferPointer { buffer in
            for i in 0..<n { buffer[i * n + i] = 1 }
        }
        return result
    }

    /// `start, start + step, …` up to but excluding `end`, with PyTorch's length and values:
    /// the length is `ceil((end − start) / step)` computed in Double (as Python computes it, so
    /// `arange(1, 1.3, step: 0.1)` has 4 elements), and each value is computed in Double and rounded
    /// to float32 the way PyTorch's CPU kernel does (eight-lane blocks from a rounded block start,
    /// single elements at the end).
    ///
    /// Traps if `step` is zero or not finite, if a bound is not finite, or if the range runs
    /// against the step's direction (as PyTorch raises).
    public static func arange(_ start: Double, _ end: Double, step: Double = 1) -> Tensor {
        precondition(step != 0 && step.isFinite, "arange: step must be finite and nonzero, got \(step)")
        precondition(start.isFinite && end.isFinite, "arange: bounds must be finite, got \(start) and \(end)")
        precondition((step > 0 && end >= start) || (step < 0 && end <= start),
                     "arange(\(start), \(end), step: \(step)): upper bound and step have inconsistent signs")
        let length = ((end - start) / step).rounded(.up)
        precondition(length < 0x1p48, "arange: \(length) elements are too many")
        let count = Int(length)
        return Tensor(shape: [count]) { buffer in
            // PyTorch's vectorized loop writes blocks of two 8-lane vectors; each vector starts at
            // Float(start + step·i) and its lanes add j·step in Double before rounding again. The
            // elements after the last whole block are Float(start + step·i).
            let lanes = 8
            var i = 0
            while i + 2 * lanes <= count {
                for half in 0..<2 {
                    let base = Double(Float(start + step * Double(i + half * lanes)))
                    for j in 0..<lanes { buffer[i + half * lanes + j] = Float(base + Double(j) * step) }
                }
                i += 2 * lanes
            }
            while i < count {
                buffer[i] = Float(start + step * Double(i))
                i += 1
            }
        }
    }

    /// `0, 1, …, count − 1` (`torch.arange(count)`, as float32).
    ///
    /// Traps if `count` is negative.
    public static func arange(_ count: Int) -> Tensor {
        precondition(count >= 0, "arange(\(count)): the count must not be negative")
        return Tensor(shape: [count]) { buffer in
            for i in 0..<count { buffer[i] = Float(i) }
        }
    }
}

// MARK: - Random values

extension Tensor {
    /// Samples of the standard normal distribution, like PyTorch's `randn` but from `generator`,
    /// with PyTorch's CPU algorithm (`normal_fill`): the tensor is filled with 24-bit uniforms, then
    /// each block of 16 becomes 8 pairs by Box–Muller in float32, `r·cos θ` in the first half and
    /// `r·sin θ` in the second, with `r = √(−2 ln(1 − u₁))`, `θ = 2πu₂` (u₁ from the first half, u₂
    /// from the second); a partial last block is redrawn as the last 16 elements. Tensors of fewer
    /// than 16 elements use pairs in order. No sample exceeds 5.8 in magnitude.
    public static func randn<G: RandomNumberGenerator>(_ shape: [Int], using generator: inout G) -> Tensor {
        let count = elementCount(of: shape)
        return Tensor(shape: shape) { buffer in
            guard let base = buffer.baseAddress else { return }
            guard count >= 16 else {
                var i = 0
                while i < count {
                    // 1 − u is in (0, 1], so the logarithm is finite.
                    let u1 = 1 - generator.nextUnitFloat(), u2 = generator.nextUnitFloat()
                    let radius = (-2 * LibM.log(u1)).squareRoot()
                    let angle = 2 * Float.pi * u2
                    buffer[i] = radius * LibM.cos(angle)
                    if i + 1 < count { buffer[i + 1] = radius * LibM.sin(angle) }
                    i += 2
                }
                return
            }
            if !withSplitMix64(&generator, { fillUniform(buffer, lower: 0, upper: 1, &$0) }) {
                fillUniform(buffer, lower: 0, upper: 1, &generator)
            }
            var start = 0
            while start + 16 <= count {
                // SAFETY: elements start..<start + 16 are inside the buffer.
                Tensor.boxMuller(base + start)
                start += 16
            }
            if start < count {
                // SAFETY: count ≥ 16, so the last 16 elements are inside the buffer.
                let last = UnsafeMutableBufferPointer(rebasing: buffer[(count - 16)...])
                if !withSplitMix64(&generator, { fillUniform(last, lower: 0, upper: 1, &$0) }) {
                    fillUniform(last, lower: 0, upper: 1, &generator)
                }
                Tensor.boxMuller(base + count - 16)
            }
        }
    }

    /// Replaces 16 uniforms at `block` (u₁ in the first 8, u₂ in the last 8) by `r·cos 2πu₂` and
    /// `r·sin 2πu₂`, `r = √(−2 ln(1 − u₁))`.
    @inline(__always)
    static func boxMuller(_ block: UnsafeMutablePointer<Float>) {
        let first = UnsafeRawPointer(block).loadUnaligned(as: SIMD8<Float>.self)
        let second = UnsafeRawPointer(block + 8).loadUnaligned(as: SIMD8<Float>.self)
        let radius = (-2 * VectorMath.log(1 - first)).squareRoot()
        let (cosine, sine) = VectorMath.cosSinOfTurns(second)
        UnsafeMutableRawPointer(block).storeBytes(of: radius * cosine, as: SIMD8<Float>.self)
        UnsafeMutableRawPointer(block + 8).storeBytes(of: radius * sine, as: SIMD8<Float>.self)
    }

    /// Samples of the standard normal distribution from the system's random generator
    /// (not reproducible; pass a seeded ``SplitMix64`` for that).
    public static func randn(_ shape: [Int]) -> Tensor {
        var generator = SystemRandomNumberGenerator()
        return randn(shape, using: &generator)
    }

    /// Uniform samples in `[0, 1)`, like PyTorch's `rand` but from `generator`.
    public static func rand<G: RandomNumberGenerator>(_ shape: [Int], using generator: inout G) -> Tensor {
        uniform(shape, in: 0..<1, using: &generator)
    }

    /// Uniform samples in `[0, 1)` from the system's random generator (not reproducible).
    public static func rand(_ shape: [Int]) -> Tensor {
        var generator = SystemRandomNumberGenerator()
        return rand(shape, using: &generator)
    }

    /// Uniform samples in `range` (PyTorch's `uniform_`).
    public static func uniform<G: RandomNumberGenerator>(
        _ shape: [Int], in range: Range<Float>, using generator: inout G
    ) -> Tensor {
        let lower = range.lowerBound, upper = range.upperBound
        return Tensor(shape: shape) { buffer in
            if !withSplitMix64(&generator, { fillUniform(buffer, lower: lower, upper: upper, &$0) }) {
                fillUniform(buffer, lower: lower, upper: upper, &generator)
            }
        }
    }
}

/// Calls `body` with `generator` as a `SplitMix64` when it is one and returns whether it did. Loops
/// written for the concrete generator call it directly instead of through the protocol, which is
/// five times faster for a million draws requested from another module (which cannot specialize
/// this module's generic functions).
@inline(__always)
func withSplitMix64<G: RandomNumberGenerator>(_ generator: inout G, _ body: (inout SplitMix64) -> Void) -> Bool {
    guard G.self == SplitMix64.self else { return false }
    withUnsafeMutablePointer(to: &generator) { pointer in
        // SAFETY: G is SplitMix64, so the memory holds one.
        pointer.withMemoryRebound(to: SplitMix64.self, capacity: 1) { body(&$0.pointee) }
    }
    return true
}

/// Fills `buffer` with uniform samples in `lower ..< upper` (see `Tensor.uniform`).
@inline(__always)
func fillUniform<G: RandomNumberGenerator>(_ buffer: UnsafeMutableBufferPointer<Float>, lower: Float, upper: Float, _ generator: inout G) {
    let width = upper - lower
    for i in buffer.indices {
        // Rounding can reach the upper bound for wide ranges; keep the half-open promise.
        let value = lower + width * generator.nextUnitFloat()
        buffer[i] = value < upper ? value : lower
    }
}
