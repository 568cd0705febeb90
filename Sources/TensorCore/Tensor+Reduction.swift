// Sums, means, maxima, softmax and log-softmax, each with its backward rule.
//
// An axis reduction views the tensor as `[outer, length, inner]` and reduces the middle axis.

extension Tensor {
    /// `(outer, length, inner)` around `axis`.
    func split(around axis: Int) -> (outer: Int, length: Int, inner: Int) {
        (shape[..<axis].reduce(1, *), shape[axis], shape[(axis + 1)...].reduce(1, *))
    }

    /// The shape after reducing `axis`, keeping it as size 1 or removing it.
    func reducedShape(_ axis: Int, keepDims: Bool) -> [Int] {
        var result = shape
        if keepDims { result[axis] = 1 } else { result.remove(at: axis) }
        return result
    }
}

// MARK: - Sum and mean

extension Tensor {
    /// The sum of all elements, as a scalar tensor.
    public func sum() -> Tensor {
        var result = Tensor(Kernels.sum(storage.pointer, count: elementCount))
        if Tensor.isRecording(self) {
            let inputShape = shape
            // d(Σx)/dx_i = 1
            result.record(from: self) { g in Tensor.full(inputShape, value: g.storage.pointer[0]) }
        }
        return result
    }

    /// Sums along `axis` (negative counts from the end), removing it unless `keepDims`.
    public func sum(axis: Int, keepDims: Bool = false) -> Tensor {
        let axis = Tensor.normalize(axis: axis, rank: rank)
        let (outer, length, inner) = split(around: axis)
        let source = storage
        var result = Tensor(shape: reducedShape(axis, keepDims: keepDims)) { out in
            Kernels.sumMiddleAxis(source.pointer, into: out.baseAddress!, outer: outer, length: length, inner: inner)
        }
        if Tensor.isRecording(self) {
            let inputShape = shape, keptShape = reducedShape(axis, keepDims: true)
            result.record(from: self) { g in Kernels.expand(g.reshaped(keptShape), to: inputShape) }
        }
        return result
    }

    /// The mean of all elements, as a scalar tensor (NaN when empty).
    public func mean() -> Tensor {
        sum() / Float(elementCount)
    }

    /// The mean along `axis` (negative counts from the end), removing it unless `keepDims`.
    public func mean(axis: Int, keepDims: Bool = false) -> Tensor {
        let resolved = Tensor.normalize(axis: axis, rank: rank)
        return sum(axis: resolved, keepDims: keepDims) / Float(shape[resolved])
    }
}

// MARK: - Maximum and argmax

extension Tensor {
    /// The largest element along `axis` (negative counts from the end), removing it unless `keepDims`.
    /// The gradient goes to the first maximal element of each slice.
    ///
    /// Traps if the axis is empty.
    public func max(axis: Int, keepDims: Bool = false) -> Tensor {
        let axis = Tensor.normalize(axis: axis, rank: rank)
        let (outer, length, inner) = split(around: axis)
        precondition(length > 0, "max(axis: \(axis)): the axis is empty")
        let positions = argmaxPositions(outer: outer, length: length, inner: inner)
        let source = storage
        var result = Tensor(shape: reducedShape(axis, keepDims: keepDims)) { out in
            for slot in 0..<(outer * inner) {
                let o = slot / inner, i = slot % inner
                out[slot] = source.pointer[(o * length + positions[slot]) * inner + i]
            }
        }
        if Tensor.isRecording(self) {
            let inputShape = shape
            result.record(from: self) { g in
                var full = Tensor.zeros(inputShape)
                full.withUnsafeMutableBufferPointer { out in
                    for slot in 0..<(outer * inner) {
                        let o = slot / inner, i = slot % inner
                        out[(o * length + positions[slot]) * inner + i] = g.storage.pointer[slot]
                    }
                }
                return full
            }
        }
        return result
    }

    /// The index of the largest element along `axis` (the first one on ties; NaN counts as largest,
    /// as in PyTorch), as a tensor of whole numbers without a gradient. Indices are exact below 2^24.
    ///
    /// Traps if the axis is empty.
    public func argmax(axis: Int, keepDims: Bool = false) -> Tensor {
        let axis = Tensor.normalize(axis: axis, rank: rank)
        let (outer, length, inner) = split(around: axis)
        precondition(length > 0, "argmax(axis: \(axis)): the axis is empty")
        let positions = argmaxPositions(outer: outer, length: length, inner: inner)
        return Tensor(positions.map(Float.init), shape: reducedShape(axis, keepDims: keepDims))
    }

    /// The smallest element along `axis` (negative counts from the end), removing it unless
    /// `keepDims` (PyTorch's `x.min(dim).values`). The gradient goes to the first minimal element.
    ///
    /// Traps if the axis is empty.
    public func min(axis: Int, keepDims: Bool = false) -> Tensor {
        -(-self).max(axis: axis, keepDims: keepDims)
    }

    /// The largest element, as a scalar tensor (PyTorch's `x.max()`); NaN if any element is NaN.
    /// The gradient goes to the first maximal element.
    ///
    /// Traps if the tensor is empty.
    public func max() -> Tensor {
        precondition(elementCount > 0, "max(): the tensor is empty")
        return reshaped([-1]).max(axis: 0)
    }

    /// The smallest element, as a scalar tensor (PyTorch's `x.min()`).
    ///
    /// Traps if the tensor is empty.
    public func min() -> Tensor {
        precondition(elementCount > 0, "min(): the tensor is empty")
        return reshaped([-1]).min(axis: 0)
    }

    /// The row-major position of the largest element, as a scalar tensor (PyTorch's `x.argmax()`,
    /// which flattens the tensor first).
    ///
    /// Traps if the tensor is empty.
    public func argmax() -> Tensor {
        precondition(elementCount > 0, "argmax(): the tensor is empty")
        return reshaped([-1]).argmax(axis: 0)
    }

    /// For each `(outer, inner)` slot, the position of the maximum along the middle axis.
    private func argmaxPositions(outer: Int, length: Int, inner: Int) -> [Int] {
        let source = storage.pointer
        return withExtendedLifetime(storage) {
            (0..<(outer * inner)).map { slot in
                let o = slot / inner, i = slot % inner
                var best = 0
                var bestValue = source[o * length * inner + i]
                if bestValue.isNaN { return 0 }
                for l in 1..<Swift.max(length, 1) {
                    let value = source[(o * length + l) * inner + i]
                    if value.isNaN { return l }
                    if value > bestValue { best = l; bestValue = value }
                }
                return best
            }
        }
    }
}

// MARK: - Softmax

extension Tensor {
    /// `exp(x) / Σ exp(x)` along `axis` (negative counts from the end), computed after subtracting
    /// each slice's maximum so that it cannot overflow.
    public func softmax(axis: Int = -1) -> Tensor {
        let axis = Tensor.normalize(axis: axis, rank: rank)
        let (outer, length, inner) = split(around: axis)
        let source = storage
        var result = Tensor(shape: shape) { out in
            Tensor.softmaxKernel(source.pointer, out.baseAddress!, outer: outer, length: length, inner: inner, logarithm: false)
        }
        if Tensor.isRecording(self) {
            let y = result.detached()
            // dx = y ⊙ (g − Σ_axis g ⊙ y)
            result.record(from: self) { g in
                let dot = (g * y).sum(axis: axis, keepDims: true)
                return y * (g - dot)
            }
        }
        return result
    }

    /// `x − log Σ exp(x)` along `axis` (negative counts from the end), computed stably.
    public func logSoftmax(axis: Int = -1) -> Tensor {
        let axis = Tensor.normalize(axis: axis, rank: rank)
        let (outer, length, inner) = split(around: axis)
        let source = storage
        var result = Tensor(shape: shape) { out in
            Tensor.softmaxKernel(source.pointer, out.baseAddress!, outer: outer, length: length, inner: inner, logarithm: true)
        }
        if Tensor.isRecording(self) {
            let y = result.detached()
            // dx = g − exp(y) ⊙ Σ_axis g
            result.record(from: self) { g in g - y.exp() * g.sum(axis: axis, keepDims: true) }
        }
        return result
    }

    /// Softmax or log-softmax of each `[length]` slice of a `[outer, length, inner]` array.
    static func softmaxKernel(
        _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, outer: Int, length: Int, inner: Int, logarithm: Bool
    ) {
        for o in 0..<outer {
            for i in 0..<inner {
                let base = o * length * inner + i
                var maximum = -Float.infinity
                for l in 0..<length { maximum = Swift.max(maximum, x[base + l * inner]) }
                if maximum == -.infinity { maximum = 0 }
                // The denominator is accumulated in Double, so long axes stay accurate.
                var wideTotal: Double = 0
                for l in 0..<length {
                    let e = LibM.exp(x[base + l * inner] - maximum)
                    if !logarithm { y[base + l * inner] = e }
                    wideTotal += Double(e)
                }
                let total = Float(wideTotal)
                if logarithm {
                    // (x − max) − log Σ, PyTorch's order: subtracting the maximum first keeps the
                    // precision of large inputs.
                    let logTotal = LibM.log(total)
                    for l in 0..<length { y[base + l * inner] = (x[base + l * inner] - maximum) - logTotal }
                } else {
                    for l in 0..<length { y[base + l * inner] /= total }
                }
            }
        }
    }
}

// MARK: - Comparison within a tolerance

extension Tensor {
    /// Whether every element of `self` is close to the element of `other` it broadcasts against:
    /// `|self − other| ≤ atol + rtol·|other|`, exactly PyTorch's `torch.allclose(self, other, rtol,
    /// atol)` (NaNs are never close; infinities are close only to the same infinity).
    ///
    /// Traps if the shapes cannot be broadcast together.
    public func allClose(_ other: Tensor, rtol: Float = 1e-5, atol: Float = 1e-8) -> Bool {
        let closeness = Kernels.broadcastZip(self, other) { a, b in
            if a == b { return 1 }
            if !a.isFinite || !b.isFinite { return 0 }
            return Swift.abs(a - b) <= atol + rtol * Swift.abs(b) ? 1 : 0
        }
        return closeness.withUnsafeBufferPointer { $0.allSatisfy { $0 == 1 } }
    }
}
