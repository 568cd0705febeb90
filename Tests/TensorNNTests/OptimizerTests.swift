import Testing
@testable import TensorNN

@Suite("Optimizers")
struct OptimizerTests {
    /// One step of `optimizer` on `parameter` with loss `Σ c·p`, i.e. a constant gradient `c`.
    func step(_ optimizer: some Optimizer, _ parameter: Parameter, gradient c: Float) {
        optimizer.zeroGrad()
        (parameter.value * c).sum().backward()
        optimizer.step()
    }

    @Test("SGD with momentum and dampening, step by step")
    func sgdMomentum() {
        let p = Parameter(Tensor([1]))
        let sgd = SGD(parameters: [p], learningRate: 0.1, momentum: 0.9, dampening: 0.1)
        step(sgd, p, gradient: 0.5)
        // First step: the buffer is the gradient itself (no dampening): b = 0.5, p = 1 − 0.1·0.5
        expectClose(p.value.scalars, [0.95])
        step(sgd, p, gradient: 0.5)
        // b = 0.9·0.5 + (1 − 0.1)·0.5 = 0.9, p = 0.95 − 0.1·0.9
        expectClose(p.value.scalars, [0.86])
        expectClose(sgd.momentumBuffers[0]?.scalars ?? [], [0.9])
    }

    @Test("SGD with Nesterov momentum and weight decay")
    func sgdNesterov() {
        let p = Parameter(Tensor([1]))
        let sgd = SGD(parameters: [p], learningRate: 0.1, momentum: 0.9, weightDecay: 0.2, nesterov: true)
        step(sgd, p, gradient: 0.3)
        // g = 0.3 + 0.2·1 = 0.5; b = 0.5; g' = 0.5 + 0.9·0.5 = 0.95; p = 1 − 0.095
        expectClose(p.value.scalars, [0.905])
        step(sgd, p, gradient: 0.3)
        // g = 0.3 + 0.2·0.905 = 0.481; b = 0.9·0.5 + 0.481 = 0.931; g' = 0.481 + 0.9·0.931 = 1.3189
        expectClose(p.value.scalars, [0.905 - 0.131_89])
    }

    @Test("plain SGD keeps no state; maximize ascends")
    func sgdPlain() {
        let p = Parameter(Tensor([1, 2]))
        let sgd = SGD(parameters: [p], learningRate: 0.5, maximize: true)
        step(sgd, p, gradient: 1)
        #expect(p.value.scalars == [1.5, 2.5])
        #expect(sgd.stateDict().parameterStates.isEmpty)
    }

    @Test("Adam: bias-corrected steps of lr·g/(|g| + ε) for a constant gradient")
    func adam() {
        let p = Parameter(Tensor([1, -1]))
        let adam = Adam(parameters: [p], learningRate: 0.1)
        step(adam, p, gradient: 0.5)
        // m̂ = m/(1 − β₁) = g, v̂ = v/(1 − β₂) = g², so p −= 0.1·0.5/(0.5 + 1e-8) ≈ 0.1
        expectClose(p.value.scalars, [0.9, -1.1])
        step(adam, p, gradient: 0.5)
        // With a constant gradient the corrected moments stay g and g²: another 0.1
        expectClose(p.value.scalars, [0.8, -1.2])
        #expect(adam.stepCounts == [2])
    }

    @Test("Adam adds weight decay to the gradient; AdamW decays the weights directly")
    func weightDecay() {
        let coupled = Parameter(Tensor([2])), decoupled = Parameter(Tensor([2]))
        let adam = Adam(parameters: [coupled], learningRate: 0.1, weightDecay: 0.5)
        let adamW = AdamW(parameters: [decoupled], learningRate: 0.1, weightDecay: 0.5)
        step(adam, coupled, gradient: 0.25)
        step(adamW, decoupled, gradient: 0.25)
        // Adam: g = 0.25 + 0.5·2 = 1.25 > 0, so the step is still ≈ lr: 2 − 0.1
        expectClose(coupled.value.scalars, [1.9])
        // AdamW: p = 2·(1 − 0.1·0.5) = 1.9, then − 0.1·0.25/0.25 = 1.8
        expectClose(decoupled.value.scalars, [1.8])
        #expect(adamW.stateDict().parameterGroups[0]["decoupled_weight_decay"] == .bool(true))
        #expect(adamW.stateDict().parameterGroups[0]["weight_decay"] == .double(0.5))
        #expect(adam.stateDict().parameterGroups[0]["decoupled_weight_decay"] == .bool(false))
    }

    @Test("parameters without a gradient are skipped and get no state")
    func skipsMissingGradients() {
        let used = Parameter(Tensor([1])), unused = Parameter(Tensor([1]))
        let adam = Adam(parameters: [used, unused], learningRate: 0.1)
        step(adam, used, gradient: 1)
        #expect(unused.value.scalars == [1])
        #expect(Set(adam.stateDict().parameterStates.keys) == [0])
        let sgd = SGD(parameters: [used, unused], learningRate: 0.1, momentum: 0.5)
        step(sgd, used, gradient: 1)
        #expect(Set(sgd.stateDict().parameterStates.keys) == [0])
    }

    @Test("param groups carry PyTorch's keys, order and value types")
    func groups() {
        let sgd = SGD(parameters: [Parameter(Tensor([1])), Parameter(Tensor([2]))], learningRate: 0.01, momentum: 0.9)
        let group = sgd.stateDict().parameterGroups[0]
        #expect(group.hyperParameters.map(\.name) == ["lr", "momentum", "dampening", "weight_decay", "nesterov", "maximize",
                                                        "foreach", "differentiable", "fused"])
        #expect(group.hyperParameters.map(\.value) == [.double(0.01), .double(0.9), .int(0), .int(0), .bool(false), .bool(false),
                                                         .null, .bool(false), .null])
        #expect(group.parameterIndices == [0, 1])
        let adam = Adam(parameters: [Parameter(Tensor([1]))])
        let adamGroup = adam.stateDict().parameterGroups[0]
        #expect(adamGroup.hyperParameters.map(\.name) == ["lr", "betas", "eps", "weight_decay", "amsgrad", "maximize", "foreach",
                                                            "capturable", "differentiable", "fused", "decoupled_weight_decay"])
        #expect(adamGroup["betas"] == .pair(0.9, 0.999) && adamGroup["eps"] == .double(1e-8) && adamGroup["weight_decay"] == .int(0))
    }

    @Test("a state dict restores into a new optimizer, which then continues identically", arguments: ["sgd", "adam", "amsgrad"])
    func roundTrip(kind: String) throws {
        func make(_ parameters: [Parameter]) -> any Optimizer {
            switch kind {
            case "sgd": return SGD(parameters: parameters, learningRate: 0.05, momentum: 0.8, nesterov: true)
            case "adam": return Adam(parameters: parameters, learningRate: 0.05)
            default: return AdamW(parameters: parameters, learningRate: 0.05, amsgrad: true)
            }
        }
        var generator = SplitMix64(seed: 2)
        let model = FeedForward(layerSizes: [3, 4, 1], using: &generator)
        let x = Tensor.randn([8, 3], using: &generator), y = Tensor.rand([8, 1], using: &generator)
        let optimizer = make(model.parameters())
        func train(_ model: FeedForward, _ optimizer: any Optimizer, steps: Int) {
            for _ in 0..<steps {
                optimizer.zeroGrad()
                MSELoss()(model(x), y).backward()
                optimizer.step()
            }
        }
        train(model, optimizer, steps: 3)
        let copy = try FeedForward(stateDict: model.stateDict())
        let restored = make(copy.parameters())
        restored.learningRate = 1
        try restored.loadStateDict(optimizer.stateDict())
        #expect(restored.learningRate == 0.05)
        train(model, optimizer, steps: 3)
        train(copy, restored, steps: 3)
        #expect(copy.stateDict() == model.stateDict())
        let names = optimizer.stateDict().orderedState(ofParameter: 0).map(\.name)
        #expect(names == (kind == "sgd" ? ["momentum_buffer"] : kind == "adam" ? ["step", "exp_avg", "exp_avg_sq"]
            : ["step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"]))
    }

    @Test("state that does not fit is rejected with its location")
    func loadErrors() throws {
        let p = Parameter(Tensor([1, 2]))
        let sgd = SGD(parameters: [p], learningRate: 0.1, momentum: 0.9)
        var state = sgd.stateDict()
        state.parameterStates[0] = ["momentum_buffer": Tensor([1, 2, 3])]
        #expect(throws: NNError.optimizerStateMismatch(path: "state[0].momentum_buffer", problem: "shape [3] for a parameter of shape [2]")) {
            try sgd.loadStateDict(state)
        }
        state = sgd.stateDict()
        state.parameterGroups.append(state.parameterGroups[0])
        #expect(throws: NNError.optimizerStateMismatch(path: "param_groups", problem: "2 groups; this optimizer has one group")) {
            try sgd.loadStateDict(state)
        }
        state = sgd.stateDict()
        state.parameterGroups[0].parameterIndices = [0, 1]
        #expect(throws: NNError.optimizerStateMismatch(path: "param_groups[0].params", problem: "2 parameters; the optimizer has 1")) {
            try sgd.loadStateDict(state)
        }
        state = sgd.stateDict()
        state.parameterGroups[0]["lr"] = .bool(true)
        #expect(throws: NNError.optimizerStateMismatch(path: "param_groups[0].lr", problem: "True is not a number")) {
            try sgd.loadStateDict(state)
        }
        state = sgd.stateDict()
        state.parameterStates[0] = ["exp_avg": Tensor([0, 0])]
        #expect(throws: NNError.optimizerStateMismatch(path: "state[0].exp_avg", problem: "not an SGD state entry (expected momentum_buffer)")) {
            try sgd.loadStateDict(state)
        }
        let adam = Adam(parameters: [p])
        var adamState = adam.stateDict()
        adamState.parameterStates[0] = ["exp_avg": Tensor([0, 0]), "exp_avg_sq": Tensor([0, 0])]
        let missingStep = try #require(throws: NNError.self) { try adam.loadStateDict(adamState) }
        #expect(missingStep.description == "optimizer state state[0]: missing \"step\"; expected step, exp_avg, exp_avg_sq")
        adamState = adam.stateDict()
        adamState.parameterGroups[0]["betas"] = nil
        #expect(throws: NNError.optimizerStateMismatch(path: "param_groups[0].betas", problem: "missing")) {
            try adam.loadStateDict(adamState)
        }
        #expect(sgd.learningRate == 0.1 && adam.learningRate == 1e-3)
    }

    @Test("loading keeps group entries it does not interpret, such as a scheduler's initial_lr")
    func extraGroupEntries() throws {
        let adam = Adam(parameters: [Parameter(Tensor([1]))])
        var state = adam.stateDict()
        state.parameterGroups[0]["initial_lr"] = .double(0.001)
        state.parameterGroups[0]["foreach"] = .bool(true)
        try adam.loadStateDict(state)
        let written = adam.stateDict().parameterGroups[0]
        #expect(written["initial_lr"] == .double(0.001) && written["foreach"] == .bool(true))
        #expect(written.hyperParameters.last?.name == "initial_lr")
    }

    @Test("Nesterov without momentum traps, as PyTorch raises")
    func invalidSettingsTrap() async {
        await #expect(processExitsWith: .failure) {
            _ = SGD(parameters: [Parameter(Tensor([1]))], learningRate: 0.1, nesterov: true)
        }
    }

    @Test("convergence: fitting y = 2x + 1", arguments: ["sgd", "sgd-momentum", "adam", "adamw"])
    func convergence(kind: String) {
        var generator = SplitMix64(seed: 0)
        let layer = Linear(inFeatures: 1, outFeatures: 1, using: &generator)
        let x = Tensor.arange(-1, 1, step: 0.1).reshaped([-1, 1])
        let y = 2 * x + 1
        let optimizer: any Optimizer
        switch kind {
        case "sgd": optimizer = SGD(parameters: layer.parameters(), learningRate: 0.3)
        case "sgd-momentum": optimizer = SGD(parameters: layer.parameters(), learningRate: 0.05, momentum: 0.9)
        case "adam": optimizer = Adam(parameters: layer.parameters(), learningRate: 0.05)
        default: optimizer = AdamW(parameters: layer.parameters(), learningRate: 0.05, weightDecay: 1e-4)
        }
        let firstLoss = MSELoss()(layer(x), y).item()
        var loss: Float = .infinity
        for _ in 0..<300 {
            optimizer.zeroGrad()
            let value = MSELoss()(layer(x), y)
            value.backward()
            optimizer.step()
            loss = value.item()
        }
        #expect(firstLoss > 0.5)
        #expect(loss < 1e-4, "\(kind): final loss \(loss)")
        expectClose(layer.weight.value.scalars, [2], rtol: 0, atol: 0.02, "\(kind) weight")
        expectClose(layer.bias?.value.scalars ?? [], [1], rtol: 0, atol: 0.02, "\(kind) bias")
    }
}
