import Foundation
import TestSupport
import Testing
@testable import TensorCore

/// The tensor lines of the library contract against PyTorch 2.13 (Fixtures/generate_runtime.py,
/// runtime/basics.json): creation, arange, views, indexing, matmul, reductions, allclose, losses and
/// autograd, by value and by gradient.
@Suite("Tensor basics against PyTorch")
struct RuntimeParityTests {
    /// basics.json, parsed once.
    nonisolated(unsafe) static let basics: [String: Any] = (try? Fixture.json("runtime/basics.json")) as? [String: Any] ?? [:]

    /// A `{"shape": …, "values": …}` record as a tensor.
    static func tensor(_ record: Any?) -> Tensor {
        guard let record = record as? [String: Any], let shape = record["shape"] as? [Int] else { return Tensor(0) }
        return Tensor(floats(record["values"]), shape: shape)
    }

    /// JSON numbers (or "inf"/"-inf"/"nan") as floats.
    static func floats(_ value: Any?) -> [Float] {
        (value as? [Any] ?? []).map { item in
            if let number = item as? NSNumber { return number.floatValue }
            return Float(item as? String ?? "nan") ?? .nan
        }
    }

    static func section(_ name: String) -> [String: Any] { basics[name] as? [String: Any] ?? [:] }

    /// Expects exactly the record's shape and values.
    static func expectExact(_ actual: Tensor, _ record: Any?, _ label: String, sourceLocation: SourceLocation = #_sourceLocation) {
        let expected = tensor(record)
        #expect(actual.shape == expected.shape, "\(label): shape", sourceLocation: sourceLocation)
        #expect(actual.scalars == expected.scalars, "\(label): values", sourceLocation: sourceLocation)
    }

    @Test("the fixture is present")
    func fixturePresent() {
        #expect(Self.basics["made_by"] as? String != nil)
    }

    @Test("creation from Double, Int and nested arrays rounds as torch.tensor(..., dtype=float32)")
    func creation() throws {
        let creation = Self.section("creation")
        let doubles = try #require((creation["doubles"] as? [String: Any])?["input"] as? [Double])
        Self.expectExact(Tensor(doubles), creation["doubles"], "doubles")
        let ints = try #require((creation["ints"] as? [String: Any])?["input"] as? [Int])
        Self.expectExact(Tensor(ints), creation["ints"], "ints")
        Self.expectExact(Tensor([[[1.5, 2], [3, 4]], [[5, 6], [7, 8.25]]]), creation["nested"], "nested")
        Self.expectExact(Tensor.eye(3), creation["eye3"], "eye")
        Self.expectExact(Tensor.full([2, 3], value: 7), creation["full"], "full")
        Self.expectExact(Tensor.zeros([2, 3]), creation["zeros"], "zeros")
        // The contract's spellings.
        let scalars: [Float] = [1, 2, 3, 4, 5, 6]
        #expect(Tensor(scalars, shape: [2, 3]).shape == [2, 3])
        #expect(Tensor([1, 2] as [Float]).scalars == [1, 2])
        #expect(Tensor([[1, 2], [3, 4]]).shape == [2, 2])
        #expect(Tensor([0.1, 0.2] as [Double], shape: [2, 1]).scalars == [Float(0.1), Float(0.2)])
        #expect(Tensor([3, 4] as [Int], shape: [1, 2]).scalars == [3, 4])
        #expect(Tensor([[[[1]], [[2]]]]).shape == [1, 2, 1, 1])
        #expect(Tensor([] as [[Float]]).shape == [0])
        let leaf = Tensor(scalars, shape: [3, 2], requiresGrad: true)
        #expect(leaf.requiresGrad && leaf.isLeaf)
        #expect(Tensor([1, 2] as [Float], requiresGrad: true).requiresGrad)
    }

    @Test("ragged nested arrays trap")
    func raggedTraps() async {
        await #expect(processExitsWith: .failure) {
            _ = Tensor([[1, 2], [3]])
        }
    }

    @Test("arange has torch's length (computed in Double) and values")
    func arange() throws {
        let cases = try #require(Self.basics["arange"] as? [[String: Any]])
        #expect(cases.count == 13)
        for entry in cases {
            if let count = entry["count"] as? Int {
                Self.expectExact(Tensor.arange(count), entry, "arange(\(count))")
                continue
            }
            let start = try #require(entry["start"] as? Double), end = try #require(entry["end"] as? Double)
            let step = try #require(entry["step"] as? Double)
            Self.expectExact(Tensor.arange(start, end, step: step), entry, "arange(\(start), \(end), step: \(step))")
        }
        #expect(Tensor.arange(1, 1.3, step: 0.1).elementCount == 4)
        #expect(Tensor.arange(0, 1, step: 0.25).scalars == [0, 0.25, 0.5, 0.75])
    }

    @Test("views: reshape with -1, squeeze, unsqueeze, transpose, stack, concatenate")
    func views() {
        let views = Self.section("views")
        let x = Self.tensor(views["x"]), u = Self.tensor(views["u"])
        Self.expectExact(x.reshaped([-1]), views["reshape_-1"], "reshape -1")
        Self.expectExact(x.reshaped([4, -1]), views["reshape_4_-1"], "reshape 4, -1")
        Self.expectExact(u.squeezed(), views["squeeze"], "squeeze")
        Self.expectExact(u.squeezed(axis: 2), views["squeeze_2"], "squeeze 2")
        Self.expectExact(u.squeezed().unsqueezed(axis: 0), views["unsqueeze_0"], "unsqueeze 0")
        Self.expectExact(u.squeezed().unsqueezed(axis: -1), views["unsqueeze_-1"], "unsqueeze -1")
        Self.expectExact(x[0].transposed(), views["t"], "t")
        Self.expectExact(x.transposed(0, 2), views["transpose_0_2"], "transpose 0 2")
        Self.expectExact(x.transposed(-1, 0), views["transpose_-1_0"], "transpose -1 0")
        Self.expectExact(Tensor.stacked([x[0], x[1]], axis: 0), views["stack_0"], "stack 0")
        Self.expectExact(Tensor.stacked([x[0], x[1]], axis: 1), views["stack_1"], "stack 1")
        Self.expectExact(Tensor.concatenated([x[0], x[1]], axis: 0), views["cat_0"], "cat 0")
        Self.expectExact(Tensor.concatenated([x[0], x[1][.all, .range(..<2)]], axis: 1), views["cat_1"], "cat 1")
    }

    /// The Swift spelling of each Python index expression in generate_runtime.py.
    static func index(_ name: String, _ x: Tensor) -> Tensor? {
        switch name {
        case "x[1]": return x[1]
        case "x[-1]": return x[-1]
        case "x[1:3]": return x[1..<3]
        case "x[:,0]": return x[.all, 0]
        case "x[:,-1]": return x[.all, -1]
        case "x[-3:-1]": return x[-3 ..< -1]
        case "x[1,2]": return x[1, 2]
        case "x[1:,-2:]": return x[.range(1...), .range((-2)...)]
        case "x[5:9]": return x[5..<9]
        case "x[:,1:100]": return x[.all, .range(1..<100)]
        case "x[-1,:,2]": return x[-1, .all, 2]
        case "x[:2]": return x[..<2]
        case "x[-2:]": return x[(-2)...]
        case "x[1:-1]": return x[.slice(start: 1, end: -1)]
        case "x[2:1]": return x[.slice(start: 2, end: 1)]
        default: return nil
        }
    }

    @Test("indexing with negative indices, ranges and .all, with gradients to the selected elements")
    func indexing() throws {
        let indexing = Self.section("indexing")
        let cases = try #require(indexing["cases"] as? [String: [String: Any]])
        #expect(cases.count == 15)
        for (name, entry) in cases.sorted(by: { $0.key < $1.key }) {
            let source = Self.tensor(name.filter { $0 == "," }.count == 2 ? indexing["x3"] : indexing["x"])
            let leaf = source.requiringGrad()
            guard let result = Self.index(name, leaf) else {
                Issue.record("no Swift spelling for \(name)")
                continue
            }
            Self.expectExact(result, entry, name)
            (result * Self.tensor(entry["weights"])).sum().backward()
            Self.expectExact(leaf.grad ?? Tensor(0), entry["grad"], "\(name) gradient")
        }
    }

    @Test("an index out of range traps, negative ones too")
    func indexOutOfRangeTraps() async {
        await #expect(processExitsWith: .failure) {
            _ = Tensor.zeros([3, 2])[-4]
        }
        await #expect(processExitsWith: .failure) {
            _ = Tensor.zeros([3, 2])[.all, 2]
        }
    }

    @Test("matmul follows torch's rank rules and broadcasts batches, with gradients", arguments: 0..<11)
    func matmul(index: Int) throws {
        let cases = try #require(Self.basics["matmul"] as? [[String: Any]])
        let entry = cases[index]
        let a = Self.tensor(entry["a"]).requiringGrad(), b = Self.tensor(entry["b"]).requiringGrad()
        let out = a.matmul(b)
        let expected = Self.tensor(entry["out"])
        #expect(out.shape == expected.shape, "\(a.shape) · \(b.shape)")
        expectClose(out.scalars, expected.scalars, rtol: 1e-5, atol: 1e-6, "\(a.shape) · \(b.shape)")
        (out * Self.tensor(entry["weights"])).sum().backward()
        expectTensor(a.grad ?? Tensor(0), shape: a.shape, Self.tensor(entry["grad_a"]).scalars)
        expectTensor(b.grad ?? Tensor(0), shape: b.shape, Self.tensor(entry["grad_b"]).scalars)
    }

    @Test("a dot product of two vectors is a 0-d tensor")
    func dotProduct() {
        let dot = Tensor([1, 2, 3] as [Float]).matmul(Tensor([4, 5, 6] as [Float]))
        #expect(dot.shape == [] && dot.item() == 32)
    }

    @Test("matmul of batches that cannot broadcast traps")
    func matmulBatchTraps() async {
        await #expect(processExitsWith: .failure) {
            _ = Tensor.zeros([2, 3, 4]).matmul(Tensor.zeros([3, 4, 5]))
        }
    }

    @Test("sum, mean, max, argmax and softmax against torch, with gradients")
    func reductions() throws {
        let reductions = Self.section("reductions")
        let x = Self.tensor(reductions["x"])
        let operations: [(String, (Tensor) -> Tensor)] = [
            ("sum", { $0.sum() }), ("sum_0", { $0.sum(axis: 0) }), ("sum_-1", { $0.sum(axis: -1) }), ("mean", { $0.mean() }),
            ("mean_1", { $0.mean(axis: 1) }), ("max_1", { $0.max(axis: 1) }), ("max_-1", { $0.max(axis: -1) }),
            ("softmax_1", { $0.softmax(axis: 1) }), ("softmax_-1", { $0.softmax(axis: -1) }), ("max", { $0.max() }),
        ]
        for (name, operation) in operations {
            let entry = try #require(reductions[name] as? [String: Any])
            let leaf = x.requiringGrad()
            let result = operation(leaf)
            let expected = Self.tensor(entry)
            #expect(result.shape == expected.shape, "\(name)")
            expectClose(result.scalars, expected.scalars, rtol: 1e-5, atol: 1e-6, name)
            (result * Self.tensor(entry["weights"])).sum().backward()
            expectClose(leaf.grad?.scalars ?? [], Self.tensor(entry["grad"]).scalars, rtol: 1e-5, atol: 1e-6, "\(name) gradient")
        }
        Self.expectExact(x.argmax(axis: 1), reductions["argmax_1"], "argmax 1")
        Self.expectExact(x.argmax(axis: -1), reductions["argmax_-1"], "argmax -1")
        Self.expectExact(x.argmax(), reductions["argmax"], "argmax")
    }

    @Test("sums over 17 million elements are exact; long axes, columns and softmax denominators are accurate")
    func longReductions() throws {
        let ones = Tensor.ones([17_000_000])
        #expect(ones.sum().item() == 17_000_000)
        #expect(ones.mean().item() == 1)
        #expect(ones.sum(axis: 0).item() == 17_000_000)
        expectClose([ones.softmax(axis: 0)[0].item()], [1 / 17_000_000], rtol: 1e-6, atol: 0, "softmax of a long axis")

        let long = try #require(Self.section("reductions")["long"] as? [String: Any])
        var generator = SplitMix64(seed: 7)
        let values = Tensor.rand([1_000_000], using: &generator)
        let exact = try #require(long["exact_sum"] as? Double)
        #expect(abs(Double(values.sum().item()) - exact) <= exact * 1e-7)
        expectClose([values.sum().item()], Self.floats([long["sum"] ?? 0]), rtol: 1e-7, atol: 0, "torch's sum")
        expectClose([values.mean().item()], Self.floats([long["mean"] ?? 0]), rtol: 1e-7, atol: 0, "torch's mean")

        // Column sums (the bias gradient of a layer is one) of 300,000 rows.
        var columnGenerator = SplitMix64(seed: 8)
        let columns = Tensor.rand([300_000, 3], using: &columnGenerator)
        let exactColumns = try #require(long["exact_column_sums"] as? [Double])
        for (actual, expected) in zip(columns.sum(axis: 0).scalars, exactColumns) {
            #expect(abs(Double(actual) - expected) <= expected * 1e-7, "column sum \(actual) vs \(expected)")
        }
        let input = Tensor.ones([300_000, 2]), weight = Tensor.zeros([3, 2]), bias = Tensor.zeros([3]).requiringGrad()
        (input.linear(weight: weight, bias: bias) * columns).sum().backward()
        for (actual, expected) in zip(bias.grad?.scalars ?? [], exactColumns) {
            #expect(abs(Double(actual) - expected) <= expected * 1e-7, "bias gradient \(actual) vs \(expected)")
        }
        let broadcastBias = Tensor.zeros([3]).requiringGrad()
        ((Tensor.zeros([300_000, 3]) + broadcastBias) * columns).sum().backward()
        for (actual, expected) in zip(broadcastBias.grad?.scalars ?? [], exactColumns) {
            #expect(abs(Double(actual) - expected) <= expected * 1e-7, "broadcast gradient \(actual) vs \(expected)")
        }

        var rowGenerator = SplitMix64(seed: 9)
        let row = Tensor.rand([100_000], using: &rowGenerator) * 20 - 10
        expectClose(Array(row.softmax(axis: 0).scalars.prefix(8)), Self.floats(long["softmax_head"]), rtol: 1e-5, atol: 0, "softmax")
        expectClose(Array(row.logSoftmax(axis: 0).scalars.prefix(8)), Self.floats(long["log_softmax_head"]), rtol: 1e-6, atol: 0,
                    "log-softmax")
    }

    @Test("allClose gives torch.allclose's verdicts")
    func allClose() throws {
        let cases = try #require(Self.basics["allclose"] as? [[String: Any]])
        #expect(cases.count == 13)
        for entry in cases {
            let a = Tensor(Self.floats(entry["a"]), shape: entry["a_shape"] as? [Int] ?? [])
            let b = Tensor(Self.floats(entry["b"]))
            let rtol = Float(entry["rtol"] as? Double ?? 0), atol = Float(entry["atol"] as? Double ?? 0)
            #expect(a.allClose(b, rtol: rtol, atol: atol) == (entry["expected"] as? Bool), "\(a.scalars) vs \(b.scalars)")
        }
        #expect(Tensor([1, 2] as [Float]).allClose(Tensor([1, 2.000001] as [Float])))
    }

    @Test("losses: BCE, BCE with logits (stable at ±100), MSE and cross-entropy, values and gradients")
    func losses() throws {
        let losses = Self.section("losses")
        let functions: [(String, (Tensor, Tensor) -> Tensor)] = [
            ("bce", { $0.binaryCrossEntropy(target: $1) }), ("bce_edges", { $0.binaryCrossEntropy(target: $1) }),
            ("bce_with_logits", { $0.binaryCrossEntropyWithLogits(target: $1) }),
            ("bce_with_logits_2d", { $0.binaryCrossEntropyWithLogits(target: $1) }),
            ("mse", { $0.meanSquaredError(target: $1) }), ("cross_entropy", { $0.crossEntropy(targets: $1) }),
        ]
        for (name, function) in functions {
            let entry = try #require(losses[name] as? [String: Any])
            let prediction = Self.tensor(entry["prediction"]).requiringGrad()
            let target = entry["target_grad"] != nil ? Self.tensor(entry["target"]).requiringGrad() : Self.tensor(entry["target"])
            let value = function(prediction, target)
            expectClose([value.item()], Self.floats([entry["value"] ?? 0]), rtol: 1e-6, atol: 0, name)
            value.backward()
            expectClose(prediction.grad?.scalars ?? [], Self.tensor(entry["grad"]).scalars, rtol: 1e-5, atol: 1e-9, "\(name) gradient")
            if entry["target_grad"] != nil {
                expectClose(target.grad?.scalars ?? [], Self.tensor(entry["target_grad"]).scalars, rtol: 1e-5, atol: 1e-9,
                            "\(name) target gradient")
            }
        }
        let logits = Tensor([-100, 100] as [Float]).requiringGrad()
        let stable = logits.binaryCrossEntropyWithLogits(target: Tensor([1, 0] as [Float]))
        #expect(stable.item() == 100)
        stable.backward()
        #expect(logits.grad?.scalars == [-0.5, 0.5])
    }

    @Test("gradients accumulate across backward calls; an update under withNoGrad keeps the leaf")
    func autograd() throws {
        let autograd = Self.section("autograd")
        let x = Tensor(Self.floats(autograd["x"]), requiresGrad: true)
        (x * x).sum().backward()
        #expect(x.grad?.scalars == Self.floats(autograd["grad_after_first"]))
        (x * 3).sum().backward()
        #expect(x.grad?.scalars == Self.floats(autograd["grad_after_second"]))

        var w = Tensor([1, -2, 0.5] as [Float], requiresGrad: true)
        let loss = ((w * Tensor([3, 1, -2] as [Float])).sum() - 1).pow(2)
        loss.backward()
        let before = w
        let lr: Float = 0.1
        withNoGrad { w -= lr * w.grad! }
        #expect(w.scalars == Self.floats(autograd["w_after_update"]))
        #expect(w.grad?.scalars == Self.floats(autograd["w_grad"]))
        #expect(w.isLeaf == (autograd["w_is_leaf"] as? Bool) && w.requiresGrad == (autograd["w_requires_grad"] as? Bool))
        #expect(before.scalars == [1, -2, 0.5])
        // The leaf keeps working: a new graph from it adds to the same gradient.
        (w * 2).sum().backward()
        #expect(w.grad?.scalars == Self.floats(autograd["w_grad"]).map { $0 + 2 })
        // Outside withNoGrad the update is recorded and the result is no longer a leaf.
        let original = Tensor([1, 2] as [Float], requiresGrad: true)
        var v = original
        v *= 3
        #expect(v.requiresGrad && !v.isLeaf)
        v.sum().backward()
        #expect(original.grad?.scalars == [3, 3])
    }
}

@Suite("The linear-algebra backend")
struct BLASTests {
    @Test("OpenBLAS's kernels follow the CPU's features, and the choice does not leak into the environment")
    func coreType() {
        let flags = OpenBLASLibrary.cpuFlags()
        #if os(Linux) && arch(x86_64)
        #expect(flags.contains("sse2"))
        #endif
        let expected: String? = flags.contains("avx512bw") && flags.contains("avx512vl") && flags.contains("avx512dq")
            && flags.contains("avx512cd") && flags.contains("avx512f") ? "SkylakeX"
            : flags.contains("avx2") && flags.contains("fma") ? "Haswell" : nil
        #expect(OpenBLASLibrary.preferredCoreType() == expected)
        let before = getenv("OPENBLAS_CORETYPE").map { String(cString: $0) }
        #expect(ComputeThreads.isUsingOpenBLAS)
        #expect(getenv("OPENBLAS_CORETYPE").map { String(cString: $0) } == before)
        let product = Tensor.ones([64, 64]).matmul(Tensor.ones([64, 64]))
        #expect(product.scalars.allSatisfy { $0 == 64 })
    }
}

@Suite("Vectorized logarithm, sine and cosine of normal sampling")
struct VectorMathTests {
    @Test("log stays within 2 ulp of the C library over (0, 1] and beyond")
    func logarithm() {
        var generator = SplitMix64(seed: 11)
        var worst: Float = 0
        for _ in 0..<20_000 {
            var lanes = SIMD8<Float>()
            for lane in 0..<8 {
                // Uniform exponents from 2^-24 to 2^8, uniform mantissas.
                let exponent = Float(Int(generator.next() % 33)) - 24
                lanes[lane] = Float(sign: .plus, exponent: Int(exponent), significand: 1 + generator.nextUnitFloat())
            }
            let result = VectorMath.log(lanes)
            for lane in 0..<8 {
                let exact = Foundation.log(Double(lanes[lane]))
                let ulp = Float(exact).ulp
                worst = max(worst, Float(abs(Double(result[lane]) - exact)) / ulp)
            }
        }
        #expect(worst <= 2, "worst error \(worst) ulp")
        #expect(VectorMath.log(SIMD8(repeating: 1)) == SIMD8(repeating: 0))
    }

    @Test("cos(2πt) and sin(2πt) stay within 2e-7 of the C library in Double")
    func cosineAndSine() {
        var generator = SplitMix64(seed: 12)
        var worst: Double = 0
        for step in 0..<20_000 {
            var turns = SIMD8<Float>()
            for lane in 0..<8 { turns[lane] = step == 0 ? Float(lane) / 8 : generator.nextUnitFloat() }
            let (cosine, sine) = VectorMath.cosSinOfTurns(turns)
            for lane in 0..<8 {
                let angle = 2 * Double.pi * Double(turns[lane])
                worst = max(worst, abs(Double(cosine[lane]) - Foundation.cos(angle)), abs(Double(sine[lane]) - Foundation.sin(angle)))
            }
        }
        #expect(worst <= 2e-7, "worst error \(worst)")
        let (cosine, sine) = VectorMath.cosSinOfTurns(SIMD8(0, 0.25, 0.5, 0.75, 0.125, 0.999_999_94, 0.375, 0.625))
        #expect(cosine[0] == 1 && sine[0] == 0 && cosine[1] == 0 && sine[1] == 1)
        #expect(cosine[2] == -1 && sine[2] == 0 && cosine[3] == 0 && sine[3] == -1)
    }
}
