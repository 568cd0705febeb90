import TensorData
import Testing
@testable import TensorNN

@Suite("Modules, parameter names and state dicts")
struct ModuleTests {
    /// A two-level module: own parameter, then children, like a PyTorch module with a buffer-free
    /// parameter registered before its submodules.
    final class Block: Module {
        let scale = Parameter(Tensor([2]))
        let body: Sequential
        init(_ generator: inout SplitMix64) {
            body = Sequential([Linear(inFeatures: 3, outFeatures: 2, using: &generator), ReLU(),
                               Linear(inFeatures: 2, outFeatures: 1, bias: false, using: &generator)])
        }
        var ownParameters: [(name: String, parameter: Parameter)] { [("scale", scale)] }
        var children: [(name: String, module: any Module)] { [("body", body)] }
        func forward(_ input: Tensor) -> Tensor { body(input) * scale.value }
    }

    @Test("Linear has PyTorch's layout and default initialisation bounds")
    func linear() {
        var generator = SplitMix64(seed: 1)
        let layer = Linear(inFeatures: 16, outFeatures: 3, using: &generator)
        #expect(layer.weight.shape == [3, 16] && layer.bias?.shape == [3])
        // kaiming_uniform(a: √5) and the bias rule both give U(−1/√16, 1/√16) = U(−0.25, 0.25).
        let all = layer.weight.value.scalars + (layer.bias?.value.scalars ?? [])
        #expect(all.allSatisfy { abs($0) <= 0.25 })
        #expect(all.contains { abs($0) > 0.2 })
        #expect(layer(Tensor.zeros([5, 16])).shape == [5, 3])
        #expect(Linear(inFeatures: 4, outFeatures: 2, bias: false, using: &generator).ownParameters.map(\.name) == ["weight"])
    }

    @Test("Sequential names children 0, 1, …; activations have no parameters")
    func sequentialNames() {
        var generator = SplitMix64(seed: 1)
        let model = Sequential([Linear(inFeatures: 4, outFeatures: 3, using: &generator), Tanh(),
                                Linear(inFeatures: 3, outFeatures: 1, using: &generator), Sigmoid()])
        #expect(model.namedParameters().map(\.name) == ["0.weight", "0.bias", "2.weight", "2.bias"])
        #expect(model.parameterCount == 12 + 3 + 3 + 1)
    }

    @Test("FeedForward names its layers linear1 … linearN, in state-dict order")
    func feedForwardNames() {
        var generator = SplitMix64(seed: 1)
        let model = FeedForward(layerSizes: [8, 6, 4, 2, 1], using: &generator)
        let names = model.stateDict().names
        #expect(names == ["linear1.weight", "linear1.bias", "linear2.weight", "linear2.bias",
                          "linear3.weight", "linear3.bias", "linear4.weight", "linear4.bias"])
        #expect(model.stateDict()["linear1.weight"]?.shape == [6, 8])
        #expect(model.stateDict()["linear1.weight"]?.dtype == .f32)
        #expect(model.layerSizes == [8, 6, 4, 2, 1])
        let output = model(Tensor.zeros([3, 8]))
        #expect(output.shape == [3, 1] && output.scalars.allSatisfy { $0 > 0 && $0 < 1 })
    }

    @Test("nested modules: own parameters first, then children, dotted")
    func nestedNames() {
        var generator = SplitMix64(seed: 1)
        let block = Block(&generator)
        #expect(block.namedParameters().map(\.name) == ["scale", "body.0.weight", "body.0.bias", "body.2.weight"])
    }

    @Test("a shared parameter appears under every name but once in parameters()")
    func tiedParameters() {
        var generator = SplitMix64(seed: 1)
        let layer = Linear(inFeatures: 2, outFeatures: 2, using: &generator)
        let model = Sequential([layer, layer])
        #expect(model.namedParameters().count == 4)
        #expect(model.parameters().count == 2)
        #expect(model.stateDict().names == ["0.weight", "0.bias", "1.weight", "1.bias"])
    }

    @Test("state dicts save as any dtype and load from any real dtype")
    func dtypes() throws {
        var generator = SplitMix64(seed: 1)
        let source = FeedForward(layerSizes: [3, 2, 1], using: &generator)
        let target = FeedForward(layerSizes: [3, 2, 1], using: &generator)
        let half = source.stateDict(as: .bf16)
        #expect(half["linear1.weight"]?.dtype == .bf16)
        let report = try target.loadStateDict(half)
        #expect(report.isExactMatch)
        // bfloat16 keeps 8 bits of mantissa.
        for (name, parameter) in target.namedParameters() {
            let original = source.namedParameters().first { $0.name == name }!.parameter.value.scalars
            expectClose(parameter.value.scalars, original, rtol: 4e-3, atol: 0, name)
        }
        try target.loadStateDict(source.stateDict(as: .f64))
        #expect(target.stateDict() == source.stateDict())
    }

    @Test("a strict load lists missing, unexpected and mismatched names, and changes nothing")
    func strictMismatch() throws {
        var generator = SplitMix64(seed: 1)
        let model = FeedForward(layerSizes: [8, 6, 1], using: &generator)
        let before = model.stateDict()
        let file = try makeStateDict([
            ("linear1.weight", [8, 6], [Float](repeating: 0, count: 48)),
            ("linear1.bias", [6], [Float](repeating: 0, count: 6)),
            ("linear2.weight", [1, 6], [Float](repeating: 0, count: 6)),
            ("extra.weight", [1], [0]),
        ])
        let error = try #require(throws: NNError.self) { try model.loadStateDict(file) }
        #expect(error == .stateDictMismatch(
            missing: ["linear2.bias"], unexpected: ["extra.weight"],
            shapeMismatches: [ShapeMismatch(name: "linear1.weight", foundShape: [8, 6], expectedShape: [6, 8])]))
        #expect(error.description == "state dict does not match the model: missing linear2.bias; unexpected extra.weight; "
            + "linear1.weight is [8, 6] in the file and [6, 8] in the model (was it saved transposed?)")
        #expect(model.stateDict() == before)
    }

    @Test("a non-strict load loads what matches and reports the rest")
    func lenientLoad() throws {
        var generator = SplitMix64(seed: 1)
        let model = FeedForward(layerSizes: [2, 2, 1], using: &generator)
        let file = try makeStateDict([("linear1.bias", [2], [7, 8]), ("linear2.weight", [2, 1], [0, 0]), ("other", [1], [1])])
        let report = try model.loadStateDict(file, strict: false)
        #expect(report.missing == ["linear1.weight", "linear2.bias"])
        #expect(report.unexpected == ["other"])
        #expect(report.shapeMismatches.map(\.name) == ["linear2.weight"])
        #expect(model.layers[0].bias?.value.scalars == [7, 8])
    }

    @Test("a complex-valued entry cannot be loaded")
    func complexEntry() throws {
        var generator = SplitMix64(seed: 1)
        let model = Sequential([Linear(inFeatures: 1, outFeatures: 1, bias: false, using: &generator)])
        let raw = try RawTensor(dtype: .c64, shape: [1, 1], bytes: TensorBytes(copyingValuesOf: [Float(1), 0]))
        #expect(throws: NNError.unconvertibleTensor(name: "0.weight", dtype: .c64)) {
            try model.loadStateDict(StateDict([("0.weight", raw)]))
        }
    }

    @Test("a feed-forward network rebuilds from its state dict")
    func rebuildFromStateDict() throws {
        var generator = SplitMix64(seed: 4)
        let model = FeedForward(layerSizes: [5, 3, 2], activation: .tanh, outputActivation: .identity, using: &generator)
        let copy = try FeedForward(stateDict: model.stateDict(as: .f16), activation: .tanh, outputActivation: .identity)
        #expect(copy.layerSizes == [5, 3, 2])
        let x = Tensor.randn([4, 5], using: &generator)
        expectClose(copy(x).scalars, model(x).scalars, rtol: 1e-2, atol: 1e-2)
        #expect(throws: NNError.notAFeedForwardStateDict(reason: "no linear1.weight entry")) {
            try FeedForward.layerSizes(in: StateDict())
        }
        let broken = try makeStateDict([("linear1.weight", [3, 5], .init(repeating: 0, count: 15)),
                                        ("linear2.weight", [2, 4], .init(repeating: 0, count: 8))])
        #expect(throws: NNError.notAFeedForwardStateDict(reason: "linear2.weight takes 4 inputs but linear1 has 3 outputs")) {
            try FeedForward.layerSizes(in: broken)
        }
    }

    @Test("parameters: setting a value keeps the gradient; freezing drops it")
    func parameters() {
        let parameter = Parameter(Tensor([1, 2]))
        (parameter.value * 3).sum().backward()
        #expect(parameter.grad?.scalars == [3, 3])
        parameter.value = Tensor([5, 6])
        #expect(parameter.value.scalars == [5, 6] && parameter.grad?.scalars == [3, 3])
        parameter.zeroGrad()
        #expect(parameter.grad == nil)
        parameter.requiresGrad = false
        #expect(!(parameter.value * 2).requiresGrad)
    }

    @Test("the loss modules match the functional forms")
    func losses() {
        let p = Tensor([[0.9], [0.2]]), y = Tensor([[1], [0]])
        #expect(BCELoss()(p, y).item() == p.binaryCrossEntropy(target: y).item())
        #expect(MSELoss()(p, y).item() == p.meanSquaredError(target: y).item())
        let logits = Tensor([[1, 2, 0], [0, 0, 3]])
        #expect(CrossEntropyLoss()(logits, Tensor([[1], [2]])).item() == logits.crossEntropy(targets: Tensor([1, 2])).item())
    }
}
