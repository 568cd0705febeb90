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
    /// Samples of the standard normal distribution (Box–Muller on 53-bit uniforms), like PyTorch's
    /// `randn` but from `generator`.
    public static func randn<G: RandomNumberGenerator>(_ shape: [Int], using generator: inout G) -> Tensor {
        let count = elementCount(of: shape)
        return Tensor(shape: shape) { buffer in
            var i = 0
            while i < count {
                // 1 - u is in (0, 1], so the logarithm is finite.
                let u1 = 1 - generator.nextUnitDouble(), u2 = generator.nextUnitDouble()
                let radius = (-2 * LibM.log(u1)).squareRoot()
                let angle = 2 * Double.pi * u2
                buffer[i] = Float(radius * LibM.cos(angle))
                if i + 1 < count { buffer[i + 1] = Float(radius * LibM.sin(angle)) }
                i += 2
            }
        }
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
        let lower = range.lowerBound, width = range.upperBound - range.lowerBound
        return Tensor(shape: shape) { buffer in
            for i in buffer.indices {
                // Rounding can reach the upper bound for wide ranges; keep the half-open promise.
                let value = lower + width * generator.nextUnitFloat()
                buffer[i] = value < range.upperBound ? value : lower
            }
        }
    }
}
