// Matrix products and the fully connected layer's affine map, each with its backward rule.
//
// Transposed operands are handled by the BLAS transpose flags, never by copying.

extension Tensor {
    /// The matrix product with PyTorch's `matmul` rules, where `op` transposes the last two axes
    /// of an operand when its flag is set (`x.matmul(w, transposeOther: true)` is `x @ w.T`):
    ///
    /// - 1-D · 1-D: the dot product, a 0-d tensor;
    /// - 2-D · 2-D: the matrix product `[m, k] · [k, n] → [m, n]`;
    /// - 1-D · N-D: the vector is a row `[1, k]`, removed from the result (`[k] · [k, n] → [n]`);
    /// - N-D · 1-D: the vector is a column `[k, 1]`, removed from the result (`[m, k] · [k] → [m]`);
    /// - N-D · N-D: a batch of matrix products; the batch axes (all but the last two) broadcast
    ///   against each other (`[2, 1, m, k] · [5, k, n] → [2, 5, m, n]`).
    ///
    /// Gradients flow to both operands (summed over broadcast batch axes).
    ///
    /// Traps if the inner dimensions differ, the batch axes cannot be broadcast, an operand is a
    /// scalar, or a 1-D operand is marked transposed.
    public func matmul(_ other: Tensor, transposeSelf: Bool = false, transposeOther: Bool = false) -> Tensor {
        precondition(rank >= 1 && other.rank >= 1, "matmul: operands must have at least 1 dimension, got \(shape) and \(other.shape)")
        precondition(rank >= 2 || !transposeSelf, "matmul: a 1-D left operand cannot be transposed")
        precondition(other.rank >= 2 || !transposeOther, "matmul: a 1-D right operand cannot be transposed")
        if rank == 1 && other.rank == 1 {
            precondition(shape[0] == other.shape[0], "matmul: dot product of vectors of lengths \(shape[0]) and \(other.shape[0])")
            return reshaped([1, shape[0]]).matmul(other.reshaped([other.shape[0], 1])).reshaped([])
        }
        if rank == 1 {
            return unsqueezed(axis: 0).matmul(other, transposeOther: transposeOther).squeezed(axis: -2)
        }
        if other.rank == 1 {
            return matmul(other.unsqueezed(axis: 1), transposeSelf: transposeSelf).squeezed(axis: -1)
        }
        if other.rank == 2 && !transposeSelf && rank > 2 {
            // Fold the leading axes into rows: one product instead of a loop.
            let rows = shape.dropLast().reduce(1, *)
            let folded = reshaped([rows, shape[rank - 1]]).matmul(other, transposeOther: transposeOther)
            return folded.reshaped(Array(shape.dropLast()) + [folded.shape[1]])
        }
        return batchedMatmul(other, transposeSelf: transposeSelf, transposeOther: transposeOther)
    }

    /// Products of operands of rank ≥ 2 whose batch axes broadcast.
    private func batchedMatmul(_ other: Tensor, transposeSelf: Bool, transposeOther: Bool) -> Tensor {
        let rankA = rank, rankB = other.rank
        let m = transposeSelf ? shape[rankA - 1] : shape[rankA - 2]
        let k = transposeSelf ? shape[rankA - 2] : shape[rankA - 1]
        let otherK = transposeOther ? other.shape[rankB - 1] : other.shape[rankB - 2]
        let n = transposeOther ? other.shape[rankB - 2] : other.shape[rankB - 1]
        precondition(k == otherK, "matmul: inner dimensions differ: \(shape)\(transposeSelf ? "ᵀ" : "") · \(other.shape)\(transposeOther ? "ᵀ" : "") (\(k) vs \(otherK))")
        let batchA = Array(shape.dropLast(2)), batchB = Array(other.shape.dropLast(2))
        guard let batchShape = Broadcast.shape(batchA, batchB) else {
            preconditionFailure("matmul: batch dimensions \(batchA) of \(shape) and \(batchB) of \(other.shape) cannot be broadcast together")
        }
        let plan = MatmulBatches(batchShape: batchShape, batchA: batchA, batchB: batchB)
        let a = storage, b = other.storage
        var result = Tensor(shape: batchShape + [m, n]) { out in
            for index in 0..<plan.count {
                BLAS.gemm(transposeA: transposeSelf, transposeB: transposeOther, m: m, n: n, k: k,
                          a: a.pointer + plan.offsetsA[index] * m * k, b: b.pointer + plan.offsetsB[index] * k * n,
                          beta: 0, c: out.baseAddress! + index * m * n)
            }
        }
        if Tensor.isRecording(self, other) {
            let left = detached(), right = other.detached()
            let tA = transposeSelf, tB = transposeOther
            result.record(from: self, other) { g, needs in
                // With C = op(A)·op(B): d op(A) = dC·op(B)ᵀ and d op(B) = op(A)ᵀ·dC; when an operand
                // is stored transposed its gradient is the transpose of those, written as products
                // of the stored matrices with the transpose flags chosen accordingly. A broadcast
                // operand receives the sum over the batches that used it (beta = 1 accumulates).
                var gradA: Tensor?, gradB: Tensor?
                if needs[0] {
                    let out = TensorStorage.make(repeating: 0, count: left.elementCount)
                    for index in 0..<plan.count {
                        let pg = g.storage.pointer + index * m * n, pb = right.storage.pointer + plan.offsetsB[index] * k * n
                        let pa = out.pointer + plan.offsetsA[index] * m * k
                        if tA {
                            BLAS.gemm(transposeA: tB, transposeB: true, m: k, n: m, k: n, a: pb, b: pg, beta: 1, c: pa)
                        } else {
                            BLAS.gemm(transposeA: false, transposeB: !tB, m: m, n: k, k: n, a: pg, b: pb, beta: 1, c: pa)
                        }
                    }
                    gradA = Tensor(shape: left.shape, storage: out)
                }
                if needs[1] {
                    let out = TensorStorage.make(repeating: 0, count: right.elementCount)
                    for index in 0..<plan.count {
                        let pg = g.storage.pointer + index * m * n, pa = left.storage.pointer + plan.offsetsA[index] * m * k
                        let pb = out.pointer + plan.offsetsB[index] * k * n
                        if tB {
                            BLAS.gemm(transposeA: true, transposeB: tA, m: n, n: k, k: m, a: pg, b: pa, beta: 1, c: pb)
                        } else {
                            BLAS.gemm(transposeA: !tA, transposeB: false, m: k, n: n, k: m, a: pa, b: pg, beta: 1, c: pb)
                        }
                    }
                    gradB = Tensor(shape: right.shape, storage: out)
                }
                return withExtendedLifetime((g, left, right)) { (gradA, gradB) }
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

/// The matrices a batched product pairs up: for each position of the broadcast batch (row-major),
/// the index of the left and of the right operand's matrix.
struct MatmulBatches {
    /// The number of products.
    let count: Int
    /// The left operand's matrix index for each product.
    let offsetsA: [Int]
    /// The right operand's matrix index for each product.
    let offsetsB: [Int]

    /// The pairing for operands with batch shapes `batchA` and `batchB`, broadcast to `batchShape`.
    init(batchShape: [Int], batchA: [Int], batchB: [Int]) {
        let count = Tensor.elementCount(of: batchShape)
        let stridesA = Broadcast.strides(of: batchA, in: batchShape), stridesB = Broadcast.strides(of: batchB, in: batchShape)
        var offsetsA = [Int](repeating: 0, count: count), offsetsB = [Int](repeating: 0, count: count)
        var index = [Int](repeating: 0, count: batchShape.count)
        var offsetA = 0, offsetB = 0
        for position in 0..<count {
            offsetsA[position] = offsetA
            offsetsB[position] = offsetB
            var axis = batchShape.count - 1
            while axis >= 0 {
                index[axis] += 1
                offsetA += stridesA[axis]
                offsetB += stridesB[axis]
                if index[axis] < batchShape[axis] { break }
                offsetA -= stridesA[axis] * batchShape[axis]
                offsetB -= stridesB[axis] * batchShape[axis]
                index[axis] = 0
                axis -= 1
            }
        }
        self.count = count
        self.offsetsA = offsetsA
        self.offsetsB = offsetsB
    }
}
