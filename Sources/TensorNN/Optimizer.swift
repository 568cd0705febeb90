// The optimizer abstraction and its format-neutral state, in the terms of PyTorch's
// `optimizer.state_dict()`: per-parameter state keyed by parameter index, plus parameter groups
// of hyper-parameters with PyTorch's key names (torch/optim/optimizer.py `state_dict`).

/// Updates parameters from their gradients.
///
/// Parameters are numbered 0, 1, … in the order given to the optimizer (PyTorch's numbering in
/// `state_dict()["param_groups"][0]["params"]`); ``stateDict()`` and ``loadStateDict(_:)`` use
/// those indices, so a checkpoint written from one optimizer restores into another built over
/// the same parameter list.
public protocol Optimizer: AnyObject {
    /// The parameters, in index order.
    var parameters: [Parameter] { get }
    /// The learning rate of the (single) parameter group; schedulers may change it between steps.
    var learningRate: Double { get set }
    /// Updates every parameter that has a gradient; parameters without one are skipped, as in PyTorch.
    func step()
    /// The state and hyper-parameters in PyTorch's terms.
    func stateDict() -> OptimizerState
    /// Restores state and hyper-parameters written by ``stateDict()`` or read from a PyTorch checkpoint.
    ///
    /// - Throws: ``NNError/optimizerStateMismatch(path:problem:)`` when the state does not fit
    ///   this optimizer's parameters; nothing is changed then.
    func loadStateDict(_ state: OptimizerState) throws
}

extension Optimizer {
    /// Drops every parameter's gradient (PyTorch's `zero_grad()`, which sets them to `None`).
    public func zeroGrad() {
        for parameter in parameters { parameter.zeroGrad() }
    }
}

/// A value in a parameter group: the plain Python values PyTorch stores there.
public enum HyperParameter: Sendable, Equatable, CustomStringConvertible {
    /// Python's `None` (`foreach` and `fused` by default).
    case null
    /// A Python `bool`.
    case bool(Bool)
    /// A Python `int` (PyTorch keeps default zeros such as `weight_decay=0` as ints).
    case int(Int)
    /// A Python `float`.
    case double(Double)
    /// A pair of floats (`betas`).
    case pair(Double, Double)

    /// The number, for `int` and `double` values.
    public var doubleValue: Double? {
        switch self {
        case .int(let value): return Double(value)
        case .double(let value): return value
        default: return nil
        }
    }

    /// The flag, for `bool` values.
    public var boolValue: Bool? {
        if case .bool(let value) = self { return value }
        return nil
    }

    /// Python's spelling: `None`, `True`, `0`, `0.01`, `(0.9, 0.999)`.
    public var description: String {
        switch self {
        case .null: return "None"
        case .bool(let value): return value ? "True" : "False"
        case .int(let value): return String(value)
        case .double(let value): return String(value)
        case .pair(let first, let second): return "(\(first), \(second))"
        }
    }
}

/// One entry of `param_groups`: hyper-parameters in PyTorch's key order and spelling, and the
/// indices of the parameters they apply to (`params`, always written last by PyTorch).
public struct ParameterGroup: Sendable, Equatable {
    /// `(key, value)` pairs in order, e.g. `("lr", .double(0.01))`, `("nesterov", .bool(false))`.
    public var hyperParameters: [(name: String, value: HyperParameter)]
    /// The parameter indices (`params`).
    public var parameterIndices: [Int]

    /// A group with the given entries.
    public init(hyperParameters: [(name: String, value: HyperParameter)], parameterIndices: [Int]) {
        self.hyperParameters = hyperParameters
        self.parameterIndices = parameterIndices
    }

    /// The value stored under `name`; setting `nil` removes it, setting a new name appends it.
    public subscript(name: String) -> HyperParameter? {
        get { hyperParameters.first { $0.name == name }?.value }
        set {
            if let index = hyperParameters.firstIndex(where: { $0.name == name }) {
                if let newValue { hyperParameters[index].value = newValue } else { hyperParameters.remove(at: index) }
            } else if let newValue {
                hyperParameters.append((name, newValue))
            }
        }
    }

    /// Same entries in the same order and the same parameter indices.
    public static func == (lhs: ParameterGroup, rhs: ParameterGroup) -> Bool {
        lhs.parameterIndices == rhs.parameterIndices
            && lhs.hyperParameters.count == rhs.hyperParameters.count
            && zip(lhs.hyperParameters, rhs.hyperParameters).allSatisfy { $0.name == $1.name && $0.value == $1.value }
    }
}

/// An optimizer's state in PyTorch's `state_dict()` terms, independent of any file format.
///
/// - ``parameterStates``: PyTorch's `state`, `{index: {name: tensor}}`, only for parameters that
///   have state. Names are PyTorch's (``Key``); Adam's `step` is a 0-d float32 tensor, as in PyTorch.
/// - ``parameterGroups``: PyTorch's `param_groups`.
public struct OptimizerState {
    /// Per-parameter state by parameter index (PyTorch's `state`).
    public var parameterStates: [Int: [String: Tensor]]
    /// The parameter groups (PyTorch's `param_groups`); the optimizers here use one.
    public var parameterGroups: [ParameterGroup]

    /// A state from its parts.
    public init(parameterStates: [Int: [String: Tensor]], parameterGroups: [ParameterGroup]) {
        self.parameterStates = parameterStates
        self.parameterGroups = parameterGroups
    }

    /// PyTorch's key names, in one place.
    public enum Key {
        /// Adam's per-parameter step count (0-d float32 tensor).
        public static let step = "step"
        /// Adam's first moment.
        public static let expAvg = "exp_avg"
        /// Adam's second moment.
        public static let expAvgSq = "exp_avg_sq"
        /// AMSGrad's running maximum of the second moment.
        public static let maxExpAvgSq = "max_exp_avg_sq"
        /// SGD's momentum buffer.
        public static let momentumBuffer = "momentum_buffer"
        /// Learning rate.
        public static let lr = "lr"
        /// SGD momentum factor.
        public static let momentum = "momentum"
        /// SGD dampening.
        public static let dampening = "dampening"
        /// L2 penalty (coupled), or decoupled decay for AdamW.
        public static let weightDecay = "weight_decay"
        /// SGD Nesterov momentum flag.
        public static let nesterov = "nesterov"
        /// Maximize instead of minimize.
        public static let maximize = "maximize"
        /// PyTorch implementation choice (multi-tensor); `None` by default.
        public static let foreach = "foreach"
        /// PyTorch autograd-through-the-step flag.
        public static let differentiable = "differentiable"
        /// PyTorch fused-kernel choice; `None` by default.
        public static let fused = "fused"
        /// Adam's coefficients for the running averages.
        public static let betas = "betas"
        /// Adam's denominator term.
        public static let eps = "eps"
        /// Adam's AMSGrad flag.
        public static let amsgrad = "amsgrad"
        /// Adam's CUDA-graph flag.
        public static let capturable = "capturable"
        /// Adam's switch to AdamW behaviour.
        public static let decoupledWeightDecay = "decoupled_weight_decay"
    }

    /// The order in which PyTorch creates per-parameter state entries; writers use it to lay out
    /// each parameter's dictionary as PyTorch does.
    public static let stateKeyOrder = [Key.step, Key.expAvg, Key.expAvgSq, Key.maxExpAvgSq, Key.momentumBuffer]

    /// The state of parameter `index` in PyTorch's key order (unknown names last, sorted).
    public func orderedState(ofParameter index: Int) -> [(name: String, tensor: Tensor)] {
        guard let entries = parameterStates[index] else { return [] }
        let rank = { (name: String) in OptimizerState.stateKeyOrder.firstIndex(of: name) ?? OptimizerState.stateKeyOrder.count }
        return entries.sorted { rank($0.key) != rank($1.key) ? rank($0.key) < rank($1.key) : $0.key < $1.key }
            .map { ($0.key, $0.value) }
    }
}

// MARK: - Shared helpers for the optimizers

extension OptimizerState {
    /// The single group, checked against `parameterCount`.
    func singleGroup(parameterCount: Int) throws -> ParameterGroup {
        guard parameterGroups.count == 1 else {
            throw NNError.optimizerStateMismatch(path: "param_groups",
                                                 problem: "\(parameterGroups.count) groups; this optimizer has one group")
        }
        let group = parameterGroups[0]
        guard group.parameterIndices.count == parameterCount else {
            throw NNError.optimizerStateMismatch(path: "param_groups[0].params",
                                                 problem: "\(group.parameterIndices.count) parameters; the optimizer has \(parameterCount)")
        }
        return group
    }

    /// The parameter position of every state index, from the group's `params` list.
    func positions(in group: ParameterGroup) throws -> [Int: Int] {
        var positions: [Int: Int] = [:]
        for (position, index) in group.parameterIndices.enumerated() {
            guard positions.updateValue(position, forKey: index) == nil else {
                throw NNError.optimizerStateMismatch(path: "param_groups[0].params", problem: "index \(index) appears twice")
            }
        }
        for index in parameterStates.keys where positions[index] == nil {
            throw NNError.optimizerStateMismatch(path: "state[\(index)]", problem: "no parameter has this index in param_groups[0].params")
        }
        return positions
    }
}

extension ParameterGroup {
    /// The number stored under `name` (an `int` or `float`), or `defaultValue` when absent.
    func number(_ name: String, default defaultValue: Double? = nil) throws -> Double {
        guard let value = self[name] else {
            if let defaultValue { return defaultValue }
            throw NNError.optimizerStateMismatch(path: "param_groups[0].\(name)", problem: "missing")
        }
        guard let number = value.doubleValue, number.isFinite else {
            throw NNError.optimizerStateMismatch(path: "param_groups[0].\(name)", problem: "\(value) is not a number")
        }
        return number
    }

    /// The flag stored under `name`, or `defaultValue` when absent.
    func flag(_ name: String, default defaultValue: Bool) throws -> Bool {
        guard let value = self[name] else { return defaultValue }
        guard let flag = value.boolValue else {
            throw NNError.optimizerStateMismatch(path: "param_groups[0].\(name)", problem: "\(value) is not a bool")
        }
        return flag
    }

    /// `.int(0)` for a zero whose PyTorch default is the int `0`, else `.double(value)`.
    static func number(_ value: Double, zeroIsInt: Bool) -> HyperParameter {
        zeroIsInt && value == 0 ? .int(0) : .double(value)
    }

    /// The entries of `loaded` (a group read earlier) that are not in `known`, to write back unchanged.
    static func extraEntries(of loaded: ParameterGroup?, excluding known: [String]) -> [(name: String, value: HyperParameter)] {
        (loaded?.hyperParameters ?? []).filter { !known.contains($0.name) }
    }
}

/// Checks one per-parameter state tensor and returns it as a plain tensor.
func checkedStateTensor(
    _ entries: [String: Tensor], _ name: String, index: Int, shape: [Int]
) throws -> Tensor? {
    guard let tensor = entries[name] else { return nil }
    guard tensor.shape == shape else {
        throw NNError.optimizerStateMismatch(path: "state[\(index)].\(name)",
                                             problem: "shape \(tensor.shape) for a parameter of shape \(shape)")
    }
    return tensor.detached()
}
