import Foundation
import TensorData
import TestSupport
import Testing
@testable import TensorNN

/// Training the reference network (FNNModel, 8→6→4→2→1 with sigmoids, BCELoss) step by step against
/// PyTorch 2.13 traces: same initial weights, same batches; the loss, every gradient and every weight
/// after each of 100 steps must agree.
///
/// Tolerance: |ours − torch| ≤ 1e-5·|torch| + floor, the floor covering entries near 0: 1e-7 for
/// gradients (which reach 0.2 here) and 1e-6 for weights (which reach 1.7); the loss has no floor.
/// Measured on this machine: losses within 3e-7 relative; gradients within 3e-8 absolute; weights
/// within 3e-8 (SGD) and 2.4e-7 (Adam) absolute. Float32 rounding differences (different sgemm
/// summation orders, Sleef's vs our exp) are all that separates the two, and Adam, which divides by
/// √v, lets them grow the most.
@Suite("Parity with PyTorch training traces")
struct ParityTests {
    static let relativeTolerance: Float = 1e-5
    static let gradientFloor: Float = 1e-7
    static let weightFloor: Float = 1e-6

    /// Runs `steps` of training with `optimizer` and compares each step with `trace`.
    static func replay(
        model: FeedForward, optimizer: some Optimizer, data: Traces.Data, trace: Traces.Trace,
        from firstStep: Int = 0, sourceLocation: SourceLocation = #_sourceLocation
    ) {
        let inputs = data.inputs.tensor, targets = data.targets.tensor
        let loss = BCELoss()
        let rtol = relativeTolerance
        var worstLoss: Float = 0, worstGradient: (ratio: Float, absolute: Float) = (0, 0), worstWeight: (ratio: Float, absolute: Float) = (0, 0)
        func merge(_ a: (ratio: Float, absolute: Float), _ b: (ratio: Float, absolute: Float)) -> (ratio: Float, absolute: Float) {
            (max(a.ratio, b.ratio), max(a.absolute, b.absolute))
        }
        for stepIndex in firstStep..<trace.steps.count {
            let expected = trace.steps[stepIndex]
            let indices = data.batches[stepIndex]
            optimizer.zeroGrad()
            let value = loss(model(inputs.rows(at: indices)), targets.rows(at: indices))
            value.backward()
            worstLoss = max(worstLoss, agreement([value.item()], [expected.loss], rtol: rtol, atol: 0).ratio)
            let named = model.namedParameters()
            if let grads = expected.grads {
                for (name, parameter) in named {
                    let actual = parameter.grad?.scalars ?? []
                    worstGradient = merge(worstGradient, agreement(actual, grads[name] ?? [], rtol: rtol, atol: gradientFloor))
                }
            }
            optimizer.step()
            if let weights = expected.weights {
                for (name, parameter) in named {
                    worstWeight = merge(worstWeight, agreement(parameter.value.scalars, weights[name] ?? [], rtol: rtol, atol: weightFloor))
                }
            }
        }
        #expect(worstLoss <= 1, "loss differs by \(worstLoss)× the tolerance", sourceLocation: sourceLocation)
        #expect(worstGradient.ratio <= 1, "gradients differ by up to \(worstGradient.absolute) (\(worstGradient.ratio)× the tolerance)",
                sourceLocation: sourceLocation)
        #expect(worstWeight.ratio <= 1, "weights differ by up to \(worstWeight.absolute) (\(worstWeight.ratio)× the tolerance)",
                sourceLocation: sourceLocation)
    }

    @Test("SGD with momentum: 100 steps of loss, gradients and weights")
    func sgdMomentum() throws {
        let data = try #require(Traces.data)
        let trace = try Traces.load(Traces.Trace.self, "sgd_momentum.json")
        let model = try Traces.initialModel(data)
        let optimizer = SGD(parameters: model.parameters(), learningRate: 0.01, momentum: 0.9)
        Self.replay(model: model, optimizer: optimizer, data: data, trace: trace)
        #expect(trace.steps.count == 100)
    }

    @Test("Adam: 100 steps of loss, gradients and weights")
    func adam() throws {
        let data = try #require(Traces.data)
        let trace = try Traces.load(Traces.Trace.self, "adam.json")
        let model = try Traces.initialModel(data)
        let optimizer = Adam(parameters: model.parameters(), learningRate: 0.01)
        Self.replay(model: model, optimizer: optimizer, data: data, trace: trace)
    }

    @Test("variants: Nesterov, dampening, weight decay, maximize, AdamW with AMSGrad", arguments: [
        "sgd_nesterov_weight_decay", "sgd_dampening_maximize", "adamw_amsgrad", "adam_weight_decay_maximize",
    ])
    func variant(name: String) throws {
        let data = try #require(Traces.data)
        let trace = try #require(try Traces.load(Traces.Variants.self, "variants.json").variants[name])
        let model = try Traces.initialModel(data)
        let parameters = model.parameters()
        let optimizer: any Optimizer
        switch name {
        case "sgd_nesterov_weight_decay":
            optimizer = SGD(parameters: parameters, learningRate: 0.05, momentum: 0.9, weightDecay: 1e-3, nesterov: true)
        case "sgd_dampening_maximize":
            optimizer = SGD(parameters: parameters, learningRate: 0.02, momentum: 0.8, dampening: 0.25, weightDecay: 0.01, maximize: true)
        case "adamw_amsgrad":
            optimizer = AdamW(parameters: parameters, learningRate: 0.01, betas: (0.8, 0.99), weightDecay: 0.05, amsgrad: true)
        default:
            optimizer = Adam(parameters: parameters, learningRate: 0.002, epsilon: 1e-6, weightDecay: 0.01, maximize: true)
        }
        Self.replay(model: model, optimizer: optimizer, data: data, trace: trace)
        // The final state, in PyTorch's terms.
        let keys = trace.optimizer == "SGD" ? Traces.OptimizerRecord.sgdKeys : Traces.OptimizerRecord.adamKeys
        let expected = try #require(trace.optimizer_states["100"]).optimizerState(keys: keys)
        Self.expectSameState(optimizer.stateDict(), expected)
    }

    /// Compares two optimizer states: the same groups (keys, order, values and value types) and
    /// the same per-parameter entries.
    static func expectSameState(_ actual: OptimizerState, _ expected: OptimizerState, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(actual.parameterGroups == expected.parameterGroups, sourceLocation: sourceLocation)
        #expect(Set(actual.parameterStates.keys) == Set(expected.parameterStates.keys), sourceLocation: sourceLocation)
        for (index, entries) in expected.parameterStates {
            let ours = actual.parameterStates[index] ?? [:]
            #expect(Set(ours.keys) == Set(entries.keys), "state[\(index)] keys", sourceLocation: sourceLocation)
            for (name, tensor) in entries {
                let mine = ours[name]
                #expect(mine?.shape == tensor.shape, "state[\(index)].\(name) shape", sourceLocation: sourceLocation)
                // Moments are gradient-sized (first) or squared-gradient-sized (second); step counts are exact.
                let floor: Float = name == OptimizerState.Key.step ? 0 : (name.hasSuffix("_sq") ? 1e-12 : gradientFloor)
                let worst = agreement(mine?.scalars ?? [], tensor.scalars, rtol: relativeTolerance, atol: floor)
                #expect(worst.ratio <= 1, "state[\(index)].\(name) differs by up to \(worst.absolute)", sourceLocation: sourceLocation)
            }
        }
    }

    @Test("the optimizer state matches PyTorch's state_dict at steps 50 and 100", arguments: ["sgd_momentum.json", "adam.json"])
    func stateDictMatches(file: String) throws {
        let data = try #require(Traces.data)
        let trace = try Traces.load(Traces.Trace.self, file)
        let model = try Traces.initialModel(data)
        let isSGD = trace.optimizer == "SGD"
        let optimizer: any Optimizer = isSGD
            ? SGD(parameters: model.parameters(), learningRate: 0.01, momentum: 0.9)
            : Adam(parameters: model.parameters(), learningRate: 0.01)
        let keys = isSGD ? Traces.OptimizerRecord.sgdKeys : Traces.OptimizerRecord.adamKeys
        let record50 = try #require(trace.optimizer_states["50"])
        #expect(record50.parameter_names == model.namedParameters().map(\.name))
        let halfway = Traces.Trace(optimizer: trace.optimizer, steps: Array(trace.steps.prefix(50)), optimizer_states: [:])
        Self.replay(model: model, optimizer: optimizer, data: data, trace: halfway)
        Self.expectSameState(optimizer.stateDict(), record50.optimizerState(keys: keys))
    }

    @Test("resuming from PyTorch's state at step 50 reproduces steps 51–100", arguments: ["sgd_momentum.json", "adam.json"])
    func resume(file: String) throws {
        let data = try #require(Traces.data)
        let trace = try Traces.load(Traces.Trace.self, file)
        let record = try #require(trace.optimizer_states["50"])
        let weights = try #require(trace.steps[49].weights)
        // A fresh model and optimizer with other hyper-parameters: loading must restore them all.
        let model = try Traces.initialModel(data)
        let named = model.namedParameters()
        try model.loadStateDict(makeStateDict(named.map { ($0.name, $0.parameter.shape, weights[$0.name]!) }))
        let isSGD = trace.optimizer == "SGD"
        let optimizer: any Optimizer = isSGD
            ? SGD(parameters: model.parameters(), learningRate: 0.5)
            : Adam(parameters: model.parameters(), learningRate: 0.5, betas: (0.5, 0.5))
        try optimizer.loadStateDict(record.optimizerState(keys: isSGD ? Traces.OptimizerRecord.sgdKeys : Traces.OptimizerRecord.adamKeys))
        #expect(optimizer.learningRate == 0.01)
        Self.replay(model: model, optimizer: optimizer, data: data, trace: trace, from: 50)
    }
}
