// Stochastic gradient descent with PyTorch's single-tensor update rule
// (torch/optim/sgd.py, `_single_tensor_sgd`, torch 2.x). Scalar factors are computed in Double, as
// Python does, and applied to the float32 elements.

/// Stochastic gradient descent, optionally with momentum, dampening, Nesterov momentum and weight
/// decay, exactly as PyTorch's `torch.optim.SGD`:
///
/// ```
/// g ← maximize ? −∇ : ∇
/// g ← g + weight_decay·p                      (if weight_decay ≠ 0)
/// b ← g on the first step, else momentum·b + (1 − dampening)·g   (if momentum ≠ 0)
/// g ← nesterov ? g + momentum·b : b           (if momentum ≠ 0)
/// p ← p − lr·g
/// ```
///
/// The momentum buffer (`momentum_buffer`) is created on a parameter's first step as a copy of `g`.
public final class SGD: Optimizer {
    /// The parameters, in index order.
    public let parameters: [Parameter]
    /// Step size (`lr`).
    public var learningRate: Double
    /// Momentum factor (`momentum`); 0 disables momentum and its state.
    public var momentum: Double
    /// Dampening of the momentum (`dampening`).
    public var dampening: Double
    /// L2 penalty added to the gradient (`weight_decay`).
    public var weightDecay: Double
    /// Nesterov momentum (`nesterov`).
    public var nesterov: Bool
    /// Ascend instead of descend (`maximize`).
    public var maximize: Bool
    /// Momentum buffers by parameter index; `nil` until that parameter's first step with momentum.
    public private(set) var momentumBuffers: [Tensor?]
    /// The group last loaded, whose entries this optimizer does not interpret are written back.
    private var loadedGroup: ParameterGroup?

    /// An optimizer over `parameters`, with PyTorch's defaults.
    ///
    /// Traps on invalid settings, as PyTorch's constructor raises: a negative learning rate,
    /// momentum or weight decay; Nesterov without momentum or with dampening; a parameter listed twice.
    public init(
        parameters: [Parameter], learningRate: Double = 1e-3, momentum: Double = 0, dampening: Double = 0,
        weightDecay: Double = 0, nesterov: Bool = false, maximize: Bool = false
    ) {
        precondition(learningRate >= 0, "SGD: invalid learning rate \(learningRate)")
        precondition(momentum >= 0, "SGD: invalid momentum \(momentum)")
        precondition(weightDecay >= 0, "SGD: invalid weight decay \(weightDecay)")
        precondition(!nesterov || (momentum > 0 && dampening == 0), "SGD: Nesterov momentum requires a momentum and zero dampening")
        precondition(Set(parameters.map(ObjectIdentifier.init)).count == parameters.count, "SGD: a parameter is listed twice")
        self.parameters = parameters
        self.learningRate = learningRate
        self.momentum = momentum
        self.dampening = dampening
        self.weightDecay = weightDecay
        self.nesterov = nesterov
        self.maximize = maximize
        self.momentumBuffers = Array(repeating: nil, count: parameters.count)
    }

    /// An optimizer over `parameters` in PyTorch's spelling, `SGD(model.parameters(), lr: 0.01,
    /// momentum: 0.9)` (`torch.optim.SGD(params, lr, momentum, dampening, weight_decay, nesterov,
    /// maximize=...)`), with PyTorch's defaults.
    ///
    /// Traps on invalid settings, as PyTorch's constructor raises.
    public convenience init(
        _ parameters: [Parameter], lr: Double = 1e-3, momentum: Double = 0, dampening: Double = 0,
        weightDecay: Double = 0, nesterov: Bool = false, maximize: Bool = false
    ) {
        self.init(parameters: parameters, learningRate: lr, momentum: momentum, dampening: dampening,
                  weightDecay: weightDecay, nesterov: nesterov, maximize: maximize)
    }

    /// One update of every parameter that has a gradient.
    public func step() {
        let lr = Float(-learningRate), decay = Float(weightDecay)
        let mu = Float(momentum), keep = Float(1 - dampening)
        let useDecay = weightDecay != 0, useMomentum = momentum != 0
        let sign: Float = maximize ? -1 : 1
        for (index, parameter) in parameters.enumerated() {
            guard let grad = parameter.grad else { continue }
            guard useMomentum else {
                grad.withUnsafeBufferPointer { g in
                    parameter.withUnsafeMutableValues { p in
                        for i in 0..<p.count {
                            var gi = sign * g[i]
                            if useDecay { gi = gi + decay * p[i] }
                            p[i] = p[i] + lr * gi
                        }
                    }
                }
                continue
            }
            let isFirst = momentumBuffers[index] == nil
            var buffer = momentumBuffers[index] ?? Tensor.zeros(like: grad)
            momentumBuffers[index] = nil  // so that `buffer` is uniquely referenced and updated in place
            grad.withUnsafeBufferPointer { g in
                buffer.withUnsafeMutableBufferPointer { b in
                    parameter.withUnsafeMutableValues { p in
                        for i in 0..<p.count {
                            var gi = sign * g[i]
                            if useDecay { gi = gi + decay * p[i] }
                            b[i] = isFirst ? gi : b[i] * mu + keep * gi
                            gi = nesterov ? gi + mu * b[i] : b[i]
                            p[i] = p[i] + lr * gi
                        }
                    }
                }
            }
            momentumBuffers[index] = buffer
        }
    }

    /// `state`: `{i: {"momentum_buffer": …}}` for parameters with a buffer; one group with PyTorch's
    /// keys: lr, momentum, dampening, weight_decay, nesterov, maximize, foreach, differentiable, fused.
    /// Zeros whose PyTorch default is the int `0` are written as ints.
    public func stateDict() -> OptimizerState {
        var states: [Int: [String: Tensor]] = [:]
        for (index, buffer) in momentumBuffers.enumerated() {
            if let buffer { states[index] = [OptimizerState.Key.momentumBuffer: buffer] }
        }
        typealias Key = OptimizerState.Key
        let loaded = loadedGroup
        var entries: [(name: String, value: HyperParameter)] = [
            (Key.lr, .double(learningRate)),
            (Key.momentum, ParameterGroup.number(momentum, zeroIsInt: true)),
            (Key.dampening, ParameterGroup.number(dampening, zeroIsInt: true)),
            (Key.weightDecay, ParameterGroup.number(weightDecay, zeroIsInt: true)),
            (Key.nesterov, .bool(nesterov)),
            (Key.maximize, .bool(maximize)),
            (Key.foreach, loaded?[Key.foreach] ?? .null),
            (Key.differentiable, loaded?[Key.differentiable] ?? .bool(false)),
            (Key.fused, loaded?[Key.fused] ?? .null),
        ]
        entries += ParameterGroup.extraEntries(of: loaded, excluding: entries.map(\.name))
        return OptimizerState(parameterStates: states,
                              parameterGroups: [ParameterGroup(hyperParameters: entries, parameterIndices: Array(parameters.indices))])
    }

    /// Restores momentum buffers and hyper-parameters (PyTorch's `load_state_dict`: the saved
    /// group's values replace the current ones).
    ///
    /// - Throws: ``NNError/optimizerStateMismatch(path:problem:)`` when the group count, parameter
    ///   count, a buffer's shape or a hyper-parameter does not fit; nothing is changed then.
    public func loadStateDict(_ state: OptimizerState) throws {
        typealias Key = OptimizerState.Key
        let group = try state.singleGroup(parameterCount: parameters.count)
        let positions = try state.positions(in: group)
        let lr = try group.number(Key.lr), mu = try group.number(Key.momentum)
        let damp = try group.number(Key.dampening), decay = try group.number(Key.weightDecay)
        let nesterov = try group.flag(Key.nesterov, default: false), maximize = try group.flag(Key.maximize, default: false)
        var buffers = [Tensor?](repeating: nil, count: parameters.count)
        for (index, entries) in state.parameterStates {
            let position = positions[index] ?? index
            for name in entries.keys where name != Key.momentumBuffer {
                throw NNError.optimizerStateMismatch(path: "state[\(index)].\(name)", problem: "not an SGD state entry (expected momentum_buffer)")
            }
            buffers[position] = try checkedStateTensor(entries, Key.momentumBuffer, index: index, shape: parameters[position].shape)
        }
        learningRate = lr
        momentum = mu
        dampening = damp
        weightDecay = decay
        self.nesterov = nesterov
        self.maximize = maximize
        momentumBuffers = buffers
        loadedGroup = group
    }
}
