// Matrix products and the fully connected layer's affine map, each with its backward rule.
//
// Transposed operands are handled by the BLAS transpose flags, never by copying.

extension Tensor {
    /// The matrix product `op(self) · op(other)`, where `op` transposes the last two axes when the
    /// matching flag is set (PyTorch's `matmul`, with `x.matmul(w, transposeOther: true)` for `x @ w.T`).
    ///
    /// Supported shapes: `[m, k] · [k, n]`; a 1-D left operand is a row vector and a 1-D right operand
    /// a column vector (that axis is removed from the result); a left operand with extra leading
    /// axes `[…, m, k]` times a matrix; and batches `[…, m, k] · […, k, n]` with equal leading axes.
    ///
    /// Traps if the inner dimensions differ or the shapes are not one of these.
    public func matmul(_ other: Tensor, transposeSelf: Bool = false, transposeOther: Bool = false) -> Tensor {
        precondition(rank >= 1 && other.rank >= 1, "matmul: operands must have at least 1 dimension, got \(shape) and \(other.shape)")
        if rank == 1 {
            precondition(!transposeSelf, "matmul: a 1-D left operand cannot be transposed")
            return unsqueezed(axis: 0).matmul(other, transposeOther: transposeOther).squeezed(axis: -2)
        }
        if other.rank == 1 {
            precondition(!transposeOther, "matmul: a 1-D right operand cannot be transposed")
            return matmul(other.unsqueezed(axis: 1), transposeSelf: transposeSelf).squeezed(axis: -1)
        }
        if other.rank == 2 && !transposeSelf && rank > 2 {
            // Fold the leading axes into rows: one product instead of a loop.
            let rows = shape.dropLast().reduce(1, *)
            let folded = reshaped([rows, shape[rank - 1]]).matmul(other, transposeOther: transposeOther)
            return folded.reshaped(Array(shape.dropLast()) + [folded.shape[1]])
        }
        precondition(rank == other.rank && shape.dropLast(2) == other.shape.dropLast(2),
                     "matmul: batch dimensions of \(shape) and \(other.shape) differ")
        let m = transposeSelf ? shape[rank - 1] : shape[rank - 2]
        let k = transposeSelf ? shape[rank - 2] : shape[rank - 1]
        let otherK = transposeOther ? other.shape[rank - 1] : other.shape[rank - 2]
        let n = transposeOther ? other.shape[rank - 2] : other.shape[rank - 1]
        precondition(k == otherK, "matmul: inner dimensions differ: \(shape)\(transposeSelf ? "ᵀ" : "") · \(other.shape)\(transposeOther ? "ᵀ" : "") (\(k) vs \(otherK))")
        let batchShape = Array(shape.dropLast(2))
        let batch = batchShape.reduce(1, *)
        let a = storage, b = other.storage
        var result = Tensor(shape: batchShape + [m, n]) { out in
            for index in 0..<batch {
                BLAS.gemm(transposeA: transposeSelf, transposeB: transposeOther, m: m, n: n, k: k,
                          a: a.pointer + index * m * k, b: b.pointer + index * k * n,
                          beta: 0, c: out.baseAddress! + index * m * n)
            }
        }
        if Tensor.isRecording(self, other) {
            let left = detached(), right = other.detached()
            let tA = transposeSelf, tB = transposeOther
            result.record(from: self, other) { g, needs in
                // With C = op(A)·op(B): d op(A) = dC·op(B)ᵀ and d op(B) = op(A)ᵀ·dC; when an operand
                // is stored transposed its gradient is the transpose of those, written as products
                // of the stored matrices with the transpose flags chosen accordingly.
                var gradA: Tensor?, gradB: Tensor?
                if needs[0] {
                    gradA = Tensor(shape: left.shape) { out in
                        for index in 0..<batch {
                            let pg = g.storage.pointer + index * m * n, pb = right.storage.pointer + index * k * n
                            let pa = out.baseAddress! + index * m * k
                            if tA {
                                BLAS.gemm(transposeA: tB, transposeB: true, m: k, n: m, k: n, a: pb, b: pg, beta: 0, c: pa)
                            } else {
                                BLAS.gemm(transposeA: false, transposeB: !tB, m: m, n: k, k: n, a: pg, b: pb, beta: 0, c: pa)
                            }
                        }
                    }
                }
                if needs[1] {
                    gradB = Tensor(shape: right.shape) { out in
                        for index in 0..<batch {
                            let pg = g.storage.pointer + index * m * n, pa = left.storage.pointer + index * m * k
                            let pb = out.baseAddress! + index * k * n
                            if tB {
                                BLAS.gemm(transposeA: true, transposeB: tA, m: n, n: k, k: m, a: pg, b: pa, beta: 0, c: pb)
                            } else {
                                BLAS.gemm(transposeA: !tA, transposeB: false, m: k, n: n, k: m, a: pa, b: pg, beta: 0, c: pb)
                            }
                        }
                    }
                }
                return (gradA, gradB)
            }
        }
        return result
    }

    /// The affine map of a fully connected layer, `self · weightᵀ + bias` (PyTorch's
    /// `nn.functional.linear`), as one operation: the bias is written first and the product added
    /// by one matrix multiply with the weight transposed by flag.
    ///
    /// `self` is `[in]` or `[…, in]`, `weight` is `[out, in]` and `bias` (optional) is `[out]`; the
    /// result is `[out]` or `[…, out]`.
    ///
    /// Traps if the shapes do not fit together.
    public func linear(weight: Tensor, bias: Tensor? = nil) -> Tensor {
        precondition(weight.rank == 2, "linear: weight must be [out, in], got \(weight.shape)")
        let outFeatures = weight.shape[0], inFeatures = weight.shape[1]
        precondition(rank >= 1 && shape[rank - 1] == inFeatures,
                     "linear: input of shape \(shape) does not end in the weight's \(inFeatures) input features (weight \(weight.shape))")
        if let bias {
            precondition(bias.shape == [outFeatures], "linear: bias of shape \(bias.shape) for \(outFeatures) output features")
        }
        let rows = elementCount / Swift.max(inFeatures, 1)
        let outShape = Array(shape.dropLast()) + [outFeatures]
        let x = storage, w = weight.storage, b = bias?.storage
        var result = Tensor(shape: outShape) { out in
            let po = out.baseAddress!
            if let b {
                for row in 0..<rows { Kernels.copy(b.pointer, to: po + row * outFeatures, count: outFeatures) }
            }
            BLAS.gemm(transposeA: false, transposeB: true, m: rows, n: outFeatures, k: inFeatures,
                      a: x.pointer, b: w.pointer, beta: b == nil ? 0 : 1, c: po)
        }
        if Tensor.isRecording(self, weight) || bias.map({ Tensor.isRecording($0) }) == true {
            let inputShape = shape
            result.record(from: self, weight, bias) { g, needs in
                // y = x·Wᵀ + b:  dx = dy·W,  dW = dyᵀ·x,  db = Σ_rows dy
                let pg = g.storage.pointer
                let dx: Tensor? = needs[0] ? Tensor(shape: inputShape) { out in
                    BLAS.gemm(transposeA: false, transposeB: false, m: rows, n: inFeatures, k: outFeatures,
                              a: pg, b: w.pointer, beta: 0, c: out.baseAddress!)
                } : nil
                let dw: Tensor? = needs[1] ? Tensor(shape: [outFeatures, inFeatures]) { out in
                    BLAS.gemm(transposeA: true, transposeB: false, m: outFeatures, n: inFeatures, k: rows,
                              a: pg, b: x.pointer, beta: 0, c: out.baseAddress!)
                } : nil
                let db: Tensor? = b != nil && needs[2] ? Tensor(shape: [outFeatures]) { out in
                    Kernels.sumMiddleAxis(pg, into: out.baseAddress!, outer: 1, length: rows, inner: outFeatures)
                } : nil
                return withExtendedLifetime(g) { (dx, dw, db) }
            }
        }
        return result
    }
}
