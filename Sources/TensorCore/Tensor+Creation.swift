// Creating tensors: constants, ranges, random values and Swift arrays.

// MARK: - From Swift values

extension Tensor {
    /// A tensor holding `scalars` in row-major order with the given shape.
    ///
    /// Traps if the number of scalars is not the product of `shape`.
    public init(_ scalars: [Float], shape: [Int]) {
        let count = Tensor.elementCount(of: shape)
        precondition(scalars.count == count, "\(scalars.count) values given for shape \(shape), which holds \(count)")
        self.init(shape: shape, storage: TensorStorage.make(copying: scalars))
    }

    /// A one-dimensional tensor holding `scalars`.
    public init(_ scalars: [Float]) {
        self.init(shape: [scalars.count], storage: TensorStorage.make(copying: scalars))
    }

    /// A scalar (rank 0) tensor.
    public init(_ scalar: Float) {
        self.init(shape: [], storage: TensorStorage.make(repeating: scalar, count: 1))
    }

    /// A matrix from nested rows: `Tensor([[1, 2, 3], [4, 5, 6]])` has shape `[2, 3]`.
    ///
    /// Traps if the rows differ in length.
    public init(_ rows: [[Float]]) {
        let columns = rows.first?.count ?? 0
        precondition(rows.allSatisfy { $0.count == columns }, "rows of different lengths: \(rows.map(\.count))")
        self.init(rows.flatMap { $0 }, shape: [rows.count, columns])
    }

    /// A rank-3 tensor from nested arrays, e.g. a batch of matrices.
    ///
    /// Traps if the nested arrays are ragged.
    public init(_ matrices: [[[Float]]]) {
        let rows = matrices.first?.count ?? 0
        let columns = matrices.first?.first?.count ?? 0
        precondition(matrices.allSatisfy { $0.count == rows && $0.allSatisfy { $0.count == columns } },
                     "ragged nested arrays: every matrix must be \(rows) × \(columns)")
        self.init(matrices.flatMap { $0.flatMap { $0 } }, shape: [matrices.count, rows, columns])
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

    /// `start, start + step, …` up to but excluding `end`, like PyTorch's `arange`.
    ///
    /// Traps if `step` is zero or the range is empty in its direction.
    public static func arange(_ start: Float, _ end: Float, step: Float = 1) -> Tensor {
        precondition(step != 0, "arange: step must not be zero")
        let count = Swift.max(0, Int(((end - start) / step).rounded(.up)))
        return Tensor(shape: [count]) { buffer in
            for i in 0..<count { buffer[i] = start + Float(i) * step }
        }
    }

    /// `0, 1, …, count - 1`.
    public static func arange(_ count: Int) -> Tensor { arange(0, Float(count)) }
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
