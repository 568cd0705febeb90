import Testing
@testable import TensorCore

@Suite("Shapes, joining and indexing")
struct TensorShapeTests {
    let x = Tensor((0..<24).map(Float.init), shape: [2, 3, 4])

    @Test("reshape infers one -1 and shares the elements")
    func reshape() {
        #expect(x.reshaped([4, -1]).shape == [4, 6])
        #expect(x.reshaped([-1]).shape == [24])
        #expect(x.flattened().scalars == x.scalars)
        #expect(x.reshaped([6, 4]).storage === x.storage)
    }

    @Test("reshape to a size that does not fit traps")
    func reshapeTraps() async {
        await #expect(processExitsWith: .failure) {
            _ = Tensor.zeros([2, 3]).reshaped([4, -1])
        }
    }

    @Test("squeeze and unsqueeze")
    func squeeze() {
        let t = Tensor.zeros([1, 3, 1])
        #expect(t.squeezed().shape == [3])
        #expect(t.squeezed(axis: -1).shape == [1, 3])
        #expect(t.unsqueezed(axis: 0).shape == [1, 1, 3, 1])
        #expect(t.unsqueezed(axis: -1).shape == [1, 3, 1, 1])
    }

    @Test("transpose copies the elements into the new order")
    func transpose() {
        let m = Tensor([[1, 2, 3], [4, 5, 6]])
        expectTensor(m.transposed(), shape: [3, 2], [1, 4, 2, 5, 3, 6])
        // x[i, j, k] = 12i + 4j + k; transposed(0, 2)[k, j, i] = x[i, j, k].
        let t = x.transposed(0, 2)
        #expect(t.shape == [4, 3, 2])
        #expect(t.scalar(at: 3, 1, 1) == 12 + 4 + 3)
        #expect(t.scalar(at: 2, 2, 0) == 8 + 2)
    }

    @Test("concatenate and stack along any axis")
    func join() {
        let a = Tensor([[1, 2], [3, 4]]), b = Tensor([[5, 6]])
        expectTensor(Tensor.concatenated([a, b]), shape: [3, 2], [1, 2, 3, 4, 5, 6])
        expectTensor(Tensor.concatenated([a, a], axis: 1), shape: [2, 4], [1, 2, 1, 2, 3, 4, 3, 4])
        expectTensor(Tensor.stacked([a, a * 10]), shape: [2, 2, 2], [1, 2, 3, 4, 10, 20, 30, 40])
        expectTensor(Tensor.stacked([Tensor([1, 2]), Tensor([3, 4])], axis: 1), shape: [2, 2], [1, 3, 2, 4])
    }

    @Test("rows by index, slices and subscripts")
    func indexing() {
        let m = Tensor([[1, 2], [3, 4], [5, 6]])
        expectTensor(m.rows(at: [2, 0, 2]), shape: [3, 2], [5, 6, 1, 2, 5, 6])
        expectTensor(m.rows(1..<3), shape: [2, 2], [3, 4, 5, 6])
        expectTensor(m[1], shape: [2], [3, 4])
        expectTensor(x.sliced(axis: 2, 1..<3)[0], shape: [3, 2], [1, 2, 5, 6, 9, 10])
        #expect(m.rows(at: []).shape == [0, 2])
    }

    @Test("an index out of range traps")
    func indexTraps() async {
        await #expect(processExitsWith: .failure) {
            _ = Tensor([[1, 2]]).rows(at: [1])
        }
    }
}

@Suite("Elementwise arithmetic, reductions and comparisons")
struct TensorArithmeticTests {
    @Test("broadcasting follows NumPy's rules")
    func broadcasting() {
        let column = Tensor([[1], [2]]), row = Tensor([10, 20, 30])
        expectTensor(column + row, shape: [2, 3], [11, 21, 31, 12, 22, 32])
        expectTensor(row - column, shape: [2, 3], [9, 19, 29, 8, 18, 28])
        expectTensor(Tensor([[2, 4], [6, 8]]) / Tensor([2, 4]), shape: [2, 2], [1, 1, 3, 2])
        expectTensor(Tensor.ones([2, 1, 3]) * Tensor([[1], [2]]), shape: [2, 2, 3], [1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2])
        expectTensor(Tensor(3) * Tensor.ones([2, 2]), shape: [2, 2], [3, 3, 3, 3])
        expectTensor(2 - Tensor([1, 2]) * 3 + 1, shape: [2], [0, -3])
        expectTensor(1 / Tensor([2, 4]), shape: [2], [0.5, 0.25])
    }

    @Test("incompatible shapes trap")
    func incompatibleTraps() async {
        await #expect(processExitsWith: .failure) {
            _ = Tensor.ones([2, 3]) + Tensor.ones([2])
        }
    }

    @Test("unary functions")
    func unary() {
        let v = Tensor([-1, 0, 2])
        expectTensor(v.relu(), shape: [3], [0, 0, 2])
        expectTensor(v.sigmoid(), shape: [3], [0.268941421, 0.5, 0.880797078])
        expectTensor(v.tanh(), shape: [3], [-0.761594156, 0, 0.964027580])
        expectTensor(v.exp(), shape: [3], [0.367879441, 1, 7.389056099])
        expectTensor(Tensor([1, 4]).log(), shape: [2], [0, 1.386294361])
        expectTensor(Tensor([4, 9]).sqrt(), shape: [2], [2, 3])
        expectTensor(v.abs(), shape: [3], [1, 0, 2])
        expectTensor(v.pow(2), shape: [3], [1, 0, 4])
        expectTensor(v.clamped(min: -0.5, max: 1), shape: [3], [-0.5, 0, 1])
    }

    @Test("the vector exponential matches the C library across its range and at the extremes")
    func vectorExp() {
        let inputs = Tensor.arange(-104, 104, step: 0.37)
        let expected = inputs.scalars.map { LibM.exp($0) }
        expectClose(inputs.exp().scalars, expected, rtol: 3e-7, atol: 0, "exp")
        let sigmoids = inputs.scalars.map { 1 / (1 + LibM.exp(-$0)) }
        expectClose(inputs.sigmoid().scalars, sigmoids, rtol: 3e-7, atol: 0, "sigmoid")
        let special = Tensor([.nan, .infinity, -.infinity, 0, 0, 0, 0, 0, 1])
        let result = special.exp().scalars
        #expect(result[0].isNaN && result[1] == .infinity && result[2] == 0 && result[8] == LibM.exp(1))
    }

    @Test("sums and means over all elements or one axis")
    func reductions() {
        let m = Tensor([[1, 2, 3], [4, 5, 6]])
        #expect(m.sum().item() == 21)
        #expect(m.mean().item() == 3.5)
        expectTensor(m.sum(axis: 0), shape: [3], [5, 7, 9])
        expectTensor(m.sum(axis: 1, keepDims: true), shape: [2, 1], [6, 15])
        expectTensor(m.mean(axis: -1), shape: [2], [2, 5])
        expectTensor(m.max(axis: 1), shape: [2], [3, 6])
        let long = Tensor.ones([1000])
        #expect(long.sum().item() == 1000)
    }

    @Test("softmax and log-softmax are stable for large inputs")
    func softmax() {
        let logits = Tensor([[1, 2, 3], [1000, 1000, 1000]])
        expectTensor(logits.softmax(), shape: [2, 3], [0.090030573, 0.244728471, 0.665240956, 1.0 / 3, 1.0 / 3, 1.0 / 3])
        expectTensor(logits.logSoftmax(axis: 1), shape: [2, 3],
                     [-2.407605964, -1.407605964, -0.407605964, -1.098612289, -1.098612289, -1.098612289])
        expectTensor(Tensor([[0, 0], [1, 3]]).softmax(axis: 0), shape: [2, 2], [0.268941421, 0.047425873, 0.731058579, 0.952574127])
    }

    @Test("comparisons and argmax give 0/1 values and indices")
    func comparisons() {
        let a = Tensor([1, 5, 3]), b = Tensor([2, 5, 1])
        #expect((a .> b).scalars == [0, 0, 1])
        #expect((a .== b).scalars == [0, 1, 0])
        #expect((a .<= 3).scalars == [1, 0, 1])
        #expect((a .!= 5).scalars == [1, 0, 1])
        let scores = Tensor([[0.1, 0.7, 0.2], [0.9, 0.05, 0.05], [0.3, 0.3, 0.4]])
        #expect(scores.argmax(axis: 1).scalars == [1, 0, 2])
        #expect(scores.argmax(axis: 0).scalars == [1, 0, 2])
        let accuracy = (scores.argmax(axis: 1) .== Tensor([1, 0, 0])).mean().item()
        #expect(abs(accuracy - 2.0 / 3) < 1e-6)
        #expect(Tensor([[1, 3, 3]]).argmax(axis: 1).scalars == [1])
    }

    @Test("matrix products with transpose flags, vectors and batches")
    func matmul() {
        let a = Tensor([[1, 2], [3, 4], [5, 6]])  // 3×2
        let b = Tensor([[1, 0, 2], [0, 1, 3]])  // 2×3
        expectTensor(a.matmul(b), shape: [3, 3], [1, 2, 8, 3, 4, 18, 5, 6, 28])
        expectTensor(a.matmul(a, transposeSelf: true), shape: [2, 2], [35, 44, 44, 56])
        expectTensor(a.matmul(a, transposeOther: true), shape: [3, 3], [5, 11, 17, 11, 25, 39, 17, 39, 61])
        expectTensor(b.matmul(b, transposeSelf: true, transposeOther: false).matmul(Tensor([1, 1, 1])), shape: [3], [3, 4, 18])
        expectTensor(Tensor([1, 1]).matmul(b), shape: [3], [1, 1, 5])
        let batch = Tensor.stacked([a, a * 2])
        expectTensor(batch.matmul(b), shape: [2, 3, 3], [1, 2, 8, 3, 4, 18, 5, 6, 28, 2, 4, 16, 6, 8, 36, 10, 12, 56])
        expectTensor(batch.matmul(Tensor.stacked([b, b])), shape: [2, 3, 3],
                     [1, 2, 8, 3, 4, 18, 5, 6, 28, 2, 4, 16, 6, 8, 36, 10, 12, 56])
        let w = Tensor([[1, 1], [0, 2]]), bias = Tensor([10, 20])
        expectTensor(a.linear(weight: w, bias: bias), shape: [3, 2], [13, 24, 17, 28, 21, 32])
        expectTensor(Tensor([1, 2]).linear(weight: w), shape: [2], [3, 4])
    }

    @Test("mismatched inner dimensions trap")
    func matmulTraps() async {
        await #expect(processExitsWith: .failure) {
            _ = Tensor.ones([2, 3]).matmul(Tensor.ones([2, 3]))
        }
    }
}
