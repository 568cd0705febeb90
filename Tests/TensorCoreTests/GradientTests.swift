import Testing
@testable import TensorCore

/// Every differentiable operation's backward rule against central finite differences.
@Suite("Backward rules against finite differences")
struct FiniteDifferenceTests {
    var generator = SplitMix64(seed: 3)

    mutating func random(_ shape: [Int], in range: Range<Float> = -1..<1) -> Tensor {
        Tensor.uniform(shape, in: range, using: &generator)
    }

    @Test("add, subtract, multiply and divide, with broadcasting")
    mutating func arithmetic() {
        let a = random([2, 3]), b = random([3]), c = random([2, 1], in: 0.5..<2)
        checkGradients([a, b]) { $0[0] + $0[1] }
        checkGradients([a, b]) { $0[0] - $0[1] }
        checkGradients([a, b]) { $0[0] * $0[1] }
        checkGradients([a, c]) { $0[0] / $0[1] }
        checkGradients([b, a]) { $0[0] - $0[1] * $0[0] }
        checkGradients([random([1, 3]), random([4, 1])]) { $0[0] * $0[1] + $0[1] }
    }

    @Test("operations with a scalar")
    mutating func scalars() {
        let a = random([3], in: 0.5..<2)
        checkGradients([a]) { $0[0] + 2 }
        checkGradients([a]) { 3 - $0[0] }
        checkGradients([a]) { $0[0] * -1.5 }
        checkGradients([a]) { $0[0] / 4 }
        checkGradients([a]) { 2 / $0[0] }
        checkGradients([a]) { -$0[0] }
    }

    @Test("unary functions")
    mutating func unary() {
        let x = random([5], in: -2..<2)
        let positive = random([5], in: 0.5..<3)
        checkGradients([x]) { $0[0].exp() }
        checkGradients([positive]) { $0[0].log() }
        checkGradients([positive]) { $0[0].sqrt() }
        checkGradients([positive]) { $0[0].pow(1.7) }
        checkGradients([x]) { $0[0].squared() }
        checkGradients([x]) { $0[0].sigmoid() }
        checkGradients([x]) { $0[0].tanh() }
        // Away from the kinks at 0 and at the clamp bounds, where the derivative jumps.
        let kinked = Tensor([-1.5, -0.4, 0.3, 0.8, 1.7])
        checkGradients([kinked]) { $0[0].relu() }
        checkGradients([kinked]) { $0[0].abs() }
        checkGradients([kinked]) { $0[0].clamped(min: -1, max: 1) }
    }

    @Test("matrix products in every transpose combination, vectors and batches")
    mutating func matmul() {
        let a = random([3, 4]), b = random([4, 2]), at = random([4, 3]), bt = random([2, 4])
        checkGradients([a, b]) { $0[0].matmul($0[1]) }
        checkGradients([at, b]) { $0[0].matmul($0[1], transposeSelf: true) }
        checkGradients([a, bt]) { $0[0].matmul($0[1], transposeOther: true) }
        checkGradients([at, bt]) { $0[0].matmul($0[1], transposeSelf: true, transposeOther: true) }
        checkGradients([random([4]), b]) { $0[0].matmul($0[1]) }
        checkGradients([a, random([4])]) { $0[0].matmul($0[1]) }
        checkGradients([random([2, 3, 4]), random([2, 4, 2])]) { $0[0].matmul($0[1]) }
        checkGradients([random([2, 3, 4]), b]) { $0[0].matmul($0[1]) }
    }

    @Test("the fused linear map, with and without bias")
    mutating func linear() {
        let x = random([5, 3]), w = random([2, 3]), bias = random([2])
        checkGradients([x, w, bias]) { $0[0].linear(weight: $0[1], bias: $0[2]) }
        checkGradients([x, w]) { $0[0].linear(weight: $0[1]) }
        checkGradients([random([3]), w, bias]) { $0[0].linear(weight: $0[1], bias: $0[2]) }
        checkGradients([random([2, 2, 3]), w, bias]) { $0[0].linear(weight: $0[1], bias: $0[2]) }
    }

    @Test("sums, means and maxima")
    mutating func reductions() {
        let x = random([2, 3, 4])
        checkGradients([x]) { $0[0].sum() }
        checkGradients([x]) { $0[0].mean() }
        checkGradients([x]) { $0[0].sum(axis: 1) }
        checkGradients([x]) { $0[0].sum(axis: -1, keepDims: true) }
        checkGradients([x]) { $0[0].mean(axis: 0) }
        checkGradients([x]) { $0[0].max(axis: 2) }
    }

    @Test("softmax and log-softmax on either axis")
    mutating func softmax() {
        let x = random([3, 4], in: -3..<3)
        checkGradients([x]) { $0[0].softmax() }
        checkGradients([x]) { $0[0].softmax(axis: 0) }
        checkGradients([x]) { $0[0].logSoftmax() }
        checkGradients([x]) { $0[0].logSoftmax(axis: 0) }
    }

    @Test("reshaping, transposing, joining and indexing")
    mutating func shapes() {
        let x = random([2, 3, 4])
        checkGradients([x]) { $0[0].reshaped([4, -1]) }
        checkGradients([x]) { $0[0].flattened() }
        checkGradients([random([1, 3, 1])]) { $0[0].squeezed() }
        checkGradients([x]) { $0[0].unsqueezed(axis: 1).squeezed(axis: 1) }
        checkGradients([x]) { $0[0].transposed() }
        checkGradients([x]) { $0[0].transposed(0, 2) }
        checkGradients([x, random([2, 1, 4])]) { Tensor.concatenated([$0[0], $0[1]], axis: 1) }
        checkGradients([random([3]), random([3])]) { Tensor.stacked([$0[0], $0[1], $0[0]], axis: 1) }
        checkGradients([x]) { $0[0].sliced(axis: 2, 1..<3) }
        checkGradients([random([4, 2])]) { $0[0].rows(at: [3, 0, 3, 1]) }
        checkGradients([random([4, 2])]) { $0[0][2] }
        checkGradients([random([4, 2])]) { $0[0].rows(1..<3) }
    }

    @Test("the three losses")
    mutating func losses() {
        let p = random([4, 1], in: 0.1..<0.9), y = Tensor([[1], [0], [1], [0]])
        checkGradients([p], h: 1e-3) { $0[0].binaryCrossEntropy(target: y) }
        checkGradients([p, random([4, 1], in: 0..<1)], h: 1e-3) { $0[0].binaryCrossEntropy(target: $0[1]) }
        checkGradients([random([3, 2]), random([3, 2])]) { $0[0].meanSquaredError(target: $0[1]) }
        checkGradients([random([4, 3], in: -2..<2)]) { $0[0].crossEntropy(targets: Tensor([2, 0, 1, 2])) }
    }
}

/// Gradients worked out by hand, the derivation beside each expected value.
@Suite("Backward rules against hand-derived values")
struct HandDerivedGradientTests {
    @Test("a polynomial: y = x² + 5x + 4, so dy/dx = 2x + 5")
    func polynomial() {
        let x = Tensor([3, -1]).requiringGrad()
        let y = (x * x + 5 * x + 4).sum()
        y.backward()
        // y(3) = 28, y(-1) = 0; dy/dx = 2·3 + 5 = 11 and 2·(−1) + 5 = 3
        #expect(y.item() == 28)
        #expect(x.grad?.scalars == [11, 3])
    }

    @Test("the sigmoid: σ(0) = 1/2 and σ'(0) = σ(1 − σ) = 1/4")
    func sigmoid() {
        let x = Tensor([0]).requiringGrad()
        x.sigmoid().sum().backward()
        #expect(x.grad?.scalars == [0.25])
    }

    @Test("a matrix product: d(Σ A·B)/dA = 1·Bᵀ (row sums of B), d/dB = Aᵀ·1 (column sums of A)")
    func matmul() {
        let a = Tensor([[1, 2], [3, 4]]).requiringGrad(), b = Tensor([[5, 6], [7, 8]]).requiringGrad()
        a.matmul(b).sum().backward()
        // dA[i][k] = Σ_j B[k][j]: rows of B sum to 11 and 15; dB[k][j] = Σ_i A[i][k]: 4 and 6
        #expect(a.grad?.scalars == [11, 15, 11, 15])
        #expect(b.grad?.scalars == [4, 4, 6, 6])
    }

    @Test("binary cross-entropy: L = −(y ln p + (1 − y) ln(1 − p))/n, dL/dp = (p − y)/(p(1 − p))/n")
    func binaryCrossEntropy() {
        let p = Tensor([0.8, 0.4]).requiringGrad()
        let loss = p.binaryCrossEntropy(target: Tensor([1, 0]))
        loss.backward()
        // L = −(ln 0.8 + ln 0.6)/2 = 0.366985; dL/dp = (−0.2/0.16)/2 = −0.625 and (0.4/0.24)/2 = 0.833333
        expectClose([loss.item()], [0.366_985_2])
        expectClose(p.grad?.scalars ?? [], [-0.625, 0.833_333_3])
    }

    @Test("binary cross-entropy clamps each log term at −100, as PyTorch")
    func binaryCrossEntropyClamp() {
        let loss = Tensor([0, 1]).binaryCrossEntropy(target: Tensor([1, 1]))
        // −(max(ln 0, −100) + ln 1)/2 = 100/2
        #expect(loss.item() == 50)
    }

    @Test("cross-entropy: softmax minus the one-hot target, over the batch")
    func crossEntropy() {
        let logits = Tensor([[0, 0]]).requiringGrad()
        let loss = logits.crossEntropy(targets: Tensor([1]))
        loss.backward()
        // softmax = [1/2, 1/2], L = ln 2; gradient = [1/2, 1/2 − 1]
        expectClose([loss.item()], [0.693_147_2])
        #expect(logits.grad?.scalars == [0.5, -0.5])
    }

    @Test("mean squared error: d mean((x − y)²)/dx = 2(x − y)/n")
    func meanSquaredError() {
        let x = Tensor([1, 2, 3, 4]).requiringGrad()
        let loss = x.meanSquaredError(target: Tensor([0, 2, 4, 4]))
        loss.backward()
        // L = (1 + 0 + 1 + 0)/4 = 0.5; gradient = 2·[1, 0, −1, 0]/4
        #expect(loss.item() == 0.5)
        #expect(x.grad?.scalars == [0.5, 0, -0.5, 0])
    }
}
