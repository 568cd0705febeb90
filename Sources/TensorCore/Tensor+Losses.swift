// Loss functions as single operations, with PyTorch's formulas for both directions
// (aten/src/ATen/native/Loss.cpp, LossNLL.cpp). All use mean reduction.

extension Tensor {
    /// Binary cross-entropy between probabilities (`self`, in [0, 1]) and targets of the same shape,
    /// averaged over all elements (PyTorch's `binary_cross_entropy`, reduction "mean").
    ///
    /// As in PyTorch, each logarithm is clamped at -100 so that a probability of exactly 0 or 1
    /// gives a finite loss, and the gradient is `(p − y) / max(p(1 − p), 1e-12) / n`.
    ///
    /// Traps if the shapes differ.
    public func binaryCrossEntropy(target: Tensor) -> Tensor {
        precondition(shape == target.shape, "binaryCrossEntropy: prediction of shape \(shape) and target of shape \(target.shape) differ")
        let n = elementCount
        let p = storage, y = target.storage
        let terms = Tensor(shape: shape) { out in
            for i in 0..<n {
                let pi = p.pointer[i], yi = y.pointer[i]
                // L = (y − 1)·max(ln(1 − p), −100) − y·max(ln p, −100), PyTorch's order of terms.
                out[i] = (yi - 1) * Swift.max(LibM.log(1 - pi), -100) - yi * Swift.max(LibM.log(pi), -100)
            }
        }
        var result = Tensor(Kernels.sum(terms.storage.pointer, count: n) / Float(n))
        if Tensor.isRecording(self, target) {
            let prediction = detached(), labels = target.detached()
            result.record(from: self, target) { g, needs in
                let scale = g.storage.pointer[0]
                // ∂L/∂p = (p − y) / (p(1 − p)), with PyTorch's floor of 1e-12 on the denominator.
                let gradP: Tensor? = needs[0] ? Kernels.zipped(prediction, labels) { p, y in
                    scale * (p - y) / Swift.max((1 - p) * p, 1e-12) / Float(n)
                } : nil
                // ∂L/∂y = ln(1 − p) − ln p (clamped like the forward)
                let gradY: Tensor? = needs[1] ? prediction.mapped { p in
                    scale * (Swift.max(LibM.log(1 - p), -100) - Swift.max(LibM.log(p), -100)) / Float(n)
                } : nil
                return (gradP, gradY)
            }
        }
        return result
    }

    /// Binary cross-entropy between logits (`self`, any real values) and targets of the same shape,
    /// averaged over all elements (PyTorch's `binary_cross_entropy_with_logits`, reduction "mean").
    ///
    /// Computed as PyTorch computes it, `(1 − y)·x + m + log(e^−m + e^(−x−m))` with `m = max(−x, 0)`,
    /// which never exponentiates a positive number: a logit of ±100 gives a finite loss and
    /// gradient. The gradient is `(σ(x) − y)/n` for the logits and `−x/n` for the targets.
    ///
    /// Traps if the shapes differ.
    public func binaryCrossEntropyWithLogits(target: Tensor) -> Tensor {
        precondition(shape == target.shape,
                     "binaryCrossEntropyWithLogits: logits of shape \(shape) and target of shape \(target.shape) differ")
        let n = elementCount
        let terms = Kernels.zipped(self, target) { x, y in
            let m = Swift.max(-x, 0)
            return (1 - y) * x + m + LibM.log(LibM.exp(-m) + LibM.exp(-x - m))
        }
        var result = Tensor(Kernels.sum(terms.storage.pointer, count: n) / Float(n))
        if Tensor.isRecording(self, target) {
            let logits = detached(), labels = target.detached()
            result.record(from: self, target) { g, needs in
                let scale = g.storage.pointer[0]
                // ∂L/∂x = (σ(x) − y)/n, σ computed as the sigmoid operation computes it
                let gradX: Tensor? = needs[0] ? Kernels.zipped(logits.sigmoid(), labels) { p, y in (p - y) * scale / Float(n) } : nil
                // ∂L/∂y = −x/n
                let gradY: Tensor? = needs[1] ? logits.mapped { x in -x * scale / Float(n) } : nil
                return (gradX, gradY)
            }
        }
        return result
    }

    /// The mean of the squared differences between `self` and `target` (PyTorch's `mse_loss`).
    ///
    /// Traps if the shapes differ.
    public func meanSquaredError(target: Tensor) -> Tensor {
        precondition(shape == target.shape, "meanSquaredError: prediction of shape \(shape) and target of shape \(target.shape) differ")
        let n = elementCount
        let squares = Kernels.zipped(self, target) { ($0 - $1) * ($0 - $1) }
        var result = Tensor(Kernels.sum(squares.storage.pointer, count: n) / Float(n))
        if Tensor.isRecording(self, target) {
            let prediction = detached(), labels = target.detached()
            result.record(from: self, target) { g, needs in
                // ∂/∂x mean((x − y)²) = 2(x − y)/n, and the negation for y
                let norm = 2 * g.storage.pointer[0] / Float(n)
                let difference = Kernels.zipped(prediction, labels) { ($0 - $1) * norm }
                return (needs[0] ? difference : nil, needs[1] ? -difference : nil)
            }
        }
        return result
    }

    /// Cross-entropy between unnormalised scores (`self`, `[batch, classes]`) and class indices
    /// (`targets`, `[batch]`, whole numbers stored as floats), averaged over the batch (PyTorch's
    /// `cross_entropy` with class-index targets, reduction "mean"). A `[classes]` input with a scalar
    /// target is one sample.
    ///
    /// Traps if the shapes do not fit or a target is not a class index.
    public func crossEntropy(targets: Tensor) -> Tensor {
        if rank == 1 {
            return unsqueezed(axis: 0).crossEntropy(targets: targets.reshaped([1]))
        }
        precondition(rank == 2, "crossEntropy: scores must be [batch, classes], got \(shape)")
        let batch = shape[0], classes = shape[1]
        precondition(targets.shape == [batch], "crossEntropy: targets of shape \(targets.shape) for \(batch) samples (expected [\(batch)])")
        let labels: [Int] = targets.scalars.map { value in
            precondition(value >= 0 && value < Float(classes) && value.rounded() == value,
                         "crossEntropy: target \(value) is not a class index in 0..<\(classes)")
            return Int(value)
        }
        let logProbabilities = detached().logSoftmax(axis: 1)
        let lp = logProbabilities.storage.pointer
        var total: Double = 0
        for (row, label) in labels.enumerated() { total -= Double(lp[row * classes + label]) }
        var result = withExtendedLifetime(logProbabilities) { Tensor(Float(total) / Float(batch)) }
        if Tensor.isRecording(self) {
            result.record(from: self) { g in
                // ∂/∂z of −mean(log softmax(z)[t]) = (softmax(z) − onehot(t)) / batch
                let scale = g.storage.pointer[0] / Float(batch)
                var gradient = logProbabilities.mapped { LibM.exp($0) * scale }
                gradient.withUnsafeMutableBufferPointer { buffer in
                    for (row, label) in labels.enumerated() { buffer[row * classes + label] -= scale }
                }
                return gradient
            }
        }
        return result
    }
}
