// Adam and AdamW with PyTorch's single-tensor update rule (torch/optim/adam.py,
// `_single_tensor_adam`, torch 2.x; AdamW is Adam with decoupled weight decay, as in
// torch/optim/adamw.py). Scalar factors are computed in Double, as Python does; elements in Float.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The per-parameter state of Adam.
struct AdamSlot {
    /// The number of steps taken, as PyTorch's float32 `step` tensor holds it.
    var step: Float
    var expAvg: Tensor
    var expAvgSq: Tensor
    var maxExpAvgSq: Tensor?
}

/// Adam (Kingma and Ba, 2014), exactly as PyTorch's `torch.optim.Adam`, bias correction always on:
///
/// ```
/// t ← t + 1;  g ← maximize ? −∇ : ∇
/// p ← p·(1 − lr·wd)  (decoupled)   or   g ← g + wd·p  (coupled), if wd ≠ 0
/// m ← lerp(m, g, 1 − β₁);   v ← β₂·v + (1 − β₂)·g²
/// v̂ ← amsgrad ? (vmax ← max(vmax, v)) : v
/// p ← p − (lr / (1 − β₁ᵗ)) · m / (√v̂ / √(1 − β₂ᵗ) + ε)
/// ```
///
/// State per parameter (created on its first step): `step` (a count, stored as PyTorch's 0-d
/// float32 tensor), `exp_avg`, `exp_avg_sq`, and `max_exp_avg_sq` with AMSGrad.
public class Adam: Optimizer {
    /// The parameters, in index order.
    public let parameters: [Parameter]
    /// Step size (`lr`).
    public var learningRate: Double
    /// Coefficients of the running averages of the gradient and its square (`betas`).
    public var betas: (Double, Double)
    /// Term added to the denominator (`eps`).
    public var epsilon: Double
    /// Weight decay (`weight_decay`): an L2 penalty, or decoupled decay when ``decoupledWeightDecay``.
    public var weightDecay: Double
    /// Use the AMSGrad variant (`amsgrad`).
    public var amsgrad: Bool
    /// Ascend instead of descend (`maximize`).
    public var maximize: Bool
    /// Decay the weights directly instead of adding to the gradient (`decoupled_weight_decay`; AdamW).
    public var decoupledWeightDecay: Bool
    /// State by parameter index; `nil` until that parameter's first step.
    var slots: [AdamSlot?]
    /// The group last loaded, whose entries this optimizer does not interpret are written back.
    private var loadedGroup: ParameterGroup?

    /// An optimizer over `parameters`, with PyTorch's defaults.
    ///
    /// Traps on invalid settings, as PyTorch's constructor raises: a negative learning rate,
    /// epsilon or weight decay, a beta outside [0, 1), or a parameter listed twice.
    public init(
        parameters: [Parameter], learningRate: Double = 1e-3, betas: (Double, Double) = (0.9, 0.999),
        epsilon: Double = 1e-8, weightDecay: Double = 0, amsgrad: Bool = false, maximize: Bool = false,
        decoupledWeightDecay: Bool = false
    ) {
        precondition(learningRate >= 0, "Adam: invalid learning rate \(learningRate)")
        precondition(epsilon >= 0, "Adam: invalid epsilon \(epsilon)")
        precondition(betas.0 >= 0 && betas.0 < 1, "Adam: invalid beta parameter at index 0: \(betas.0)")
        precondition(betas.1 >= 0 && betas.1 < 1, "Adam: invalid beta parameter at index 1: \(betas.1)")
        precondition(weightDecay >= 0, "Adam: invalid weight decay \(weightDecay)")
        precondition(Set(parameters.map(ObjectIdentifier.init)).count == parameters.count, "Adam: a parameter is listed twice")
        self.parameters = parameters
        self.learningRate = learningRate
        self.betas = betas
        self.epsilon = epsilon
        self.weightDecay = weightDecay
        self.amsgrad = amsgrad
        self.maximize = maximize
        self.decoupledWeightDecay = decoupledWeightDecay
        self.slots = Array(repeating: nil, count: parameters.count)
    }

    /// An optimizer over `parameters` in PyTorch's spelling, `Adam(model.parameters(), lr: 1e-3)`
    /// (`torch.optim.Adam(params, lr, betas, eps, weight_decay, amsgrad, maximize=...)`), with
    /// PyTorch's defaults.
    ///
    /// Traps on invalid settings, as PyTorch's constructor raises.
    public convenience init(
        _ parameters: [Parameter], lr: Double = 1e-3, betas: (Double, Double) = (0.9, 0.999), eps: Double = 1e-8,
        weightDecay: Double = 0, amsgrad: Bool = false, maximize: Bool = false
    ) {
        self.init(parameters: parameters, learningRate: lr, betas: betas, epsilon: eps, weightDecay: weightDecay,
                  amsgrad: amsgrad, maximize: maximize, decoupledWeightDecay: false)
    }

    /// The step count of each parameter (`nil` before its first step).
    public var stepCounts: [Int?] { slots.map { $0.map { Int($0.step) } } }

    /// One update of every parameter that has a gradient.
    public func step() {
        let (beta1, beta2) = betas
        let lr = learningRate
        for (index, parameter) in parameters.enumerated() {
            guard let grad = parameter.grad else { continue }
            var slot = slots[index] ?? AdamSlot(
                step: 0, expAvg: .zeros(like: grad), expAvgSq: .zeros(like: grad),
                maxExpAvgSq: amsgrad ? .zeros(like: grad) : nil)
            slots[index] = nil  // so that the moments are uniquely referenced and updated in place
            slot.step += 1
            if amsgrad && slot.maxExpAvgSq == nil { slot.maxExpAvgSq = .zeros(like: grad) }

            // Scalars in Double, like the Python code; each is rounded to Float where it meets a tensor.
            let step = Double(slot.step)
            let biasCorrection1 = 1 - cPow(beta1, step)
            let biasCorrection2 = 1 - cPow(beta2, step)
            let stepSize = lr / biasCorrection1
            let biasCorrection2Sqrt = cPow(biasCorrection2, 0.5)
            let constants = AdamConstants(
                sign: maximize ? -1 : 1, decay: Float(weightDecay), useDecay: weightDecay != 0,
                decoupled: decoupledWeightDecay, decoupledScale: Float(1 - lr * weightDecay),
                weight1: Float(1 - beta1), beta2: Float(beta2), oneMinusBeta2: Float(1 - beta2),
                negativeStepSize: Float(-stepSize), biasCorrection2Sqrt: Float(biasCorrection2Sqrt), epsilon: Float(epsilon))

            var maximum = slot.maxExpAvgSq
            slot.maxExpAvgSq = nil
            grad.withUnsafeBufferPointer { g in
                slot.expAvg.withUnsafeMutableBufferPointer { m in
                    slot.expAvgSq.withUnsafeMutableBufferPointer { v in
                        parameter.withUnsafeMutableValues { p in
                            if maximum != nil {
                                maximum!.withUnsafeMutableBufferPointer { vmax in
                                    Adam.update(p, g, m, v, vmax.baseAddress, constants)
                                }
                            } else {
                                Adam.update(p, g, m, v, nil, constants)
                            }
                        }
                    }
                }
            }
            slot.maxExpAvgSq = maximum
            slots[index] = slot
        }
    }

    /// The element loop of one parameter's update, dispatched so that each combination of options
    /// runs a loop without branches (which the compiler vectorizes).
    private static func update(
        _ p: UnsafeMutableBufferPointer<Float>, _ g: UnsafeBufferPointer<Float>,
        _ m: UnsafeMutableBufferPointer<Float>, _ v: UnsafeMutableBufferPointer<Float>,
        _ vmax: UnsafeMutablePointer<Float>?, _ c: AdamConstants
    ) {
        let small = c.weight1 < 0.5
        switch (c.useDecay ? (c.decoupled ? 2 : 1) : 0, vmax != nil, small) {
        case (0, false, true): loop(p, g, m, v, vmax, c, decay: 0, amsgrad: false, smallWeight: true)
        case (1, false, true): loop(p, g, m, v, vmax, c, decay: 1, amsgrad: false, smallWeight: true)
        case (2, false, true): loop(p, g, m, v, vmax, c, decay: 2, amsgrad: false, smallWeight: true)
        case (0, true, true): loop(p, g, m, v, vmax, c, decay: 0, amsgrad: true, smallWeight: true)
        case (1, true, true): loop(p, g, m, v, vmax, c, decay: 1, amsgrad: true, smallWeight: true)
        case (2, true, true): loop(p, g, m, v, vmax, c, decay: 2, amsgrad: true, smallWeight: true)
        default: loop(p, g, m, v, vmax, c, decay: c.useDecay ? (c.decoupled ? 2 : 1) : 0, amsgrad: vmax != nil, smallWeight: small)
        }
    }

    /// One parameter's update. `decay` is 0 (none), 1 (added to the gradient) or 2 (decoupled).
    /// Eight elements at a time with SIMD, then the remainder; both evaluate the same expression.
    @inline(__always)
    private static func loop(
        _ p: UnsafeMutableBufferPointer<Float>, _ g: UnsafeBufferPointer<Float>,
        _ m: UnsafeMutableBufferPointer<Float>, _ v: UnsafeMutableBufferPointer<Float>,
        _ vmaxPointer: UnsafeMutablePointer<Float>?, _ c: AdamConstants,
        decay: Int, amsgrad: Bool, smallWeight: Bool
    ) {
        @inline(__always)
        func element<T: SIMD>(_ pi: T, _ gi: T, _ mi: T, _ vi: T, _ maxi: T) -> (p: T, m: T, v: T, max: T)
        where T.Scalar == Float {
            var gi = gi * c.sign
            var pi = pi
            if decay == 2 { pi = pi * c.decoupledScale }
            if decay == 1 { gi = gi + pi * c.decay }
            // lerp as ATen computes it: from the nearer end depending on the weight.
            let mNew = smallWeight ? mi + (gi - mi) * c.weight1 : gi - (gi - mi) * (1 - c.weight1)
            let vNew = vi * c.beta2 + (gi * c.oneMinusBeta2) * gi
            var second = vNew
            var maxNew = maxi
            if amsgrad {
                maxNew = pointwiseMaxLanes(maxi, vNew)
                second = maxNew
            }
            let denominator = second.squareRootLanes() / c.biasCorrection2Sqrt + c.epsilon
            return (pi + (mNew * c.negativeStepSize) / denominator, mNew, vNew, maxNew)
        }
        // SAFETY: p, g, m, v (and vmax) all hold p.count elements: state is created with the
        // parameter's shape and checked on load.
        let pp = p.baseAddress!, pg = g.baseAddress!, pm = m.baseAddress!, pv = v.baseAddress!
        let pmax = vmaxPointer ?? pv
        let n = p.count
        typealias Lanes = SIMD8<Float>
        var i = 0
        while i + 8 <= n {
            let r = element(Lanes.load(pp + i), Lanes.load(pg + i), Lanes.load(pm + i), Lanes.load(pv + i),
                            amsgrad ? Lanes.load(pmax + i) : Lanes())
            r.p.store(to: pp + i)
            r.m.store(to: pm + i)
            r.v.store(to: pv + i)
            if amsgrad { r.max.store(to: pmax + i) }
            i += 8
        }
        if i < n {
            // The remainder through the same expression, in lanes padded with zeros.
            var lp = Lanes(), lg = Lanes(), lm = Lanes(), lv = Lanes(), lmax = Lanes()
            for lane in 0..<(n - i) {
                lp[lane] = pp[i + lane]
                lg[lane] = pg[i + lane]
                lm[lane] = pm[i + lane]
                lv[lane] = pv[i + lane]
                if amsgrad { lmax[lane] = pmax[i + lane] }
            }
            let r = element(lp, lg, lm, lv, lmax)
            for lane in 0..<(n - i) {
                pp[i + lane] = r.p[lane]
                pm[i + lane] = r.m[lane]
                pv[i + lane] = r.v[lane]
                if amsgrad { pmax[i + lane] = r.max[lane] }
            }
        }
    }

    /// `state`: `{i: {"step", "exp_avg", "exp_avg_sq"[, "max_exp_avg_sq"]}}` for parameters that have
    /// taken a step; one group with PyTorch's keys: lr, betas, eps, weight_decay, amsgrad, maximize,
    /// foreach, capturable, differentiable, fused, decoupled_weight_decay. A zero weight decay is
    /// written as the int `0` (PyTorch's Adam default).
    public func stateDict() -> OptimizerState {
        typealias Key = OptimizerState.Key
        var states: [Int: [String: Tensor]] = [:]
        for (index, slot) in slots.enumerated() {
            guard let slot else { continue }
            var entries = [Key.step: Tensor(slot.step), Key.expAvg: slot.expAvg, Key.expAvgSq: slot.expAvgSq]
            if let maximum = slot.maxExpAvgSq { entries[Key.maxExpAvgSq] = maximum }
            states[index] = entries
        }
        let loaded = loadedGroup
        var entries: [(name: String, value: HyperParameter)] = [
            (Key.lr, .double(learningRate)),
            (Key.betas, .pair(betas.0, betas.1)),
            (Key.eps, .double(epsilon)),
            (Key.weightDecay, ParameterGroup.number(weightDecay, zeroIsInt: true)),
            (Key.amsgrad, .bool(amsgrad)),
            (Key.maximize, .bool(maximize)),
            (Key.foreach, loaded?[Key.foreach] ?? .null),
            (Key.capturable, loaded?[Key.capturable] ?? .bool(false)),
            (Key.differentiable, loaded?[Key.differentiable] ?? .bool(false)),
            (Key.fused, loaded?[Key.fused] ?? .null),
            (Key.decoupledWeightDecay, .bool(decoupledWeightDecay)),
        ]
        entries += ParameterGroup.extraEntries(of: loaded, excluding: entries.map(\.name))
        return OptimizerState(parameterStates: states,
                              parameterGroups: [ParameterGroup(hyperParameters: entries, parameterIndices: Array(parameters.indices))])
    }

    /// Restores step counts, moments and hyper-parameters (PyTorch's `load_state_dict`: the saved
    /// group's values replace the current ones; `amsgrad`, `maximize` and `decoupled_weight_decay`
    /// default to false when absent, as PyTorch's `__setstate__` fills them).
    ///
    /// - Throws: ``NNError/optimizerStateMismatch(path:problem:)`` when the group count, parameter
    ///   count, a state entry or a hyper-parameter does not fit; nothing is changed then.
    public func loadStateDict(_ state: OptimizerState) throws {
        typealias Key = OptimizerState.Key
        let group = try state.singleGroup(parameterCount: parameters.count)
        let positions = try state.positions(in: group)
        let lr = try group.number(Key.lr), epsilon = try group.number(Key.eps), decay = try group.number(Key.weightDecay)
        guard case .pair(let beta1, let beta2)? = group[Key.betas] else {
            throw NNError.optimizerStateMismatch(path: "param_groups[0].betas",
                                                 problem: group[Key.betas].map { "\($0) is not a pair of numbers" } ?? "missing")
        }
        let amsgrad = try group.flag(Key.amsgrad, default: false), maximize = try group.flag(Key.maximize, default: false)
        let decoupled = try forcedDecoupling ?? group.flag(Key.decoupledWeightDecay, default: false)
        var slots = [AdamSlot?](repeating: nil, count: parameters.count)
        for (index, entries) in state.parameterStates {
            let position = positions[index] ?? index
            let shape = parameters[position].shape
            let known = [Key.step, Key.expAvg, Key.expAvgSq, Key.maxExpAvgSq]
            for name in entries.keys where !known.contains(name) {
                throw NNError.optimizerStateMismatch(path: "state[\(index)].\(name)", problem: "not an Adam state entry")
            }
            guard let stepTensor = entries[Key.step] else {
                throw NNError.optimizerStateMismatch(path: "state[\(index)]", problem: "missing \"step\"; expected step, exp_avg, exp_avg_sq")
            }
            guard stepTensor.elementCount == 1, stepTensor.item() >= 0, stepTensor.item().rounded() == stepTensor.item() else {
                throw NNError.optimizerStateMismatch(path: "state[\(index)].step", problem: "\(stepTensor) is not a step count")
            }
            guard let expAvg = try checkedStateTensor(entries, Key.expAvg, index: index, shape: shape),
                  let expAvgSq = try checkedStateTensor(entries, Key.expAvgSq, index: index, shape: shape) else {
                throw NNError.optimizerStateMismatch(path: "state[\(index)]", problem: "missing \"exp_avg\" or \"exp_avg_sq\"")
            }
            let maximum = try checkedStateTensor(entries, Key.maxExpAvgSq, index: index, shape: shape)
            if amsgrad && maximum == nil {
                throw NNError.optimizerStateMismatch(path: "state[\(index)]", problem: "missing \"max_exp_avg_sq\", needed with amsgrad")
            }
            slots[position] = AdamSlot(step: stepTensor.item(), expAvg: expAvg, expAvgSq: expAvgSq, maxExpAvgSq: maximum)
        }
        guard beta1 >= 0, beta1 < 1, beta2 >= 0, beta2 < 1 else {
            throw NNError.optimizerStateMismatch(path: "param_groups[0].betas", problem: "(\(beta1), \(beta2)) outside [0, 1)")
        }
        learningRate = lr
        betas = (beta1, beta2)
        self.epsilon = epsilon
        weightDecay = decay
        self.amsgrad = amsgrad
        self.maximize = maximize
        decoupledWeightDecay = decoupled
        self.slots = slots
        loadedGroup = group
    }

    /// `true` for AdamW, whose loading always keeps decoupled decay (as PyTorch's `AdamW.__setstate__`).
    var forcedDecoupling: Bool? { nil }
}

/// AdamW (Loshchilov and Hutter, 2019): Adam with decoupled weight decay, as PyTorch's
/// `torch.optim.AdamW` (weight decay 0.01 by default; `decoupled_weight_decay` always true).
public final class AdamW: Adam {
    /// An optimizer over `parameters`, with PyTorch's AdamW defaults.
    ///
    /// Traps on invalid settings (see ``Adam/init(parameters:learningRate:betas:epsilon:weightDecay:amsgrad:maximize:decoupledWeightDecay:)``).
    public init(
        parameters: [Parameter], learningRate: Double = 1e-3, betas: (Double, Double) = (0.9, 0.999),
        epsilon: Double = 1e-8, weightDecay: Double = 1e-2, amsgrad: Bool = false, maximize: Bool = false
    ) {
        super.init(parameters: parameters, learningRate: learningRate, betas: betas, epsilon: epsilon,
                   weightDecay: weightDecay, amsgrad: amsgrad, maximize: maximize, decoupledWeightDecay: true)
    }

    /// An optimizer over `parameters` in PyTorch's spelling, `AdamW(model.parameters(), lr: 1e-3)`
    /// (`torch.optim.AdamW(params, lr, betas, eps, weight_decay=0.01, amsgrad, maximize=...)`), with
    /// PyTorch's defaults.
    ///
    /// Traps on invalid settings, as PyTorch's constructor raises.
    public convenience init(
        _ parameters: [Parameter], lr: Double = 1e-3, betas: (Double, Double) = (0.9, 0.999), eps: Double = 1e-8,
        weightDecay: Double = 1e-2, amsgrad: Bool = false, maximize: Bool = false
    ) {
        self.init(parameters: parameters, learningRate: lr, betas: betas, epsilon: eps, weightDecay: weightDecay,
                  amsgrad: amsgrad, maximize: maximize)
    }

    override var forcedDecoupling: Bool? { true }
}

/// The Float factors of one Adam step.
struct AdamConstants {
    var sign: Float
    var decay: Float
    var useDecay: Bool
    var decoupled: Bool
    var decoupledScale: Float
    var weight1: Float
    var beta2: Float
    var oneMinusBeta2: Float
    var negativeStepSize: Float
    var biasCorrection2Sqrt: Float
    var epsilon: Float
}

/// C's `pow`, which Python's `float ** float` calls.
@inline(__always) private func cPow(_ x: Double, _ y: Double) -> Double { pow(x, y) }

extension SIMD where Scalar == Float {
    /// Loads `Self.scalarCount` floats from `pointer` (any alignment).
    @inline(__always)
    static func load(_ pointer: UnsafeMutablePointer<Float>) -> Self {
        UnsafeRawPointer(pointer).loadUnaligned(as: Self.self)
    }

    /// Loads `Self.scalarCount` floats from `pointer` (any alignment).
    @inline(__always)
    static func load(_ pointer: UnsafePointer<Float>) -> Self {
        UnsafeRawPointer(pointer).loadUnaligned(as: Self.self)
    }

    /// Stores the lanes at `pointer` (any alignment).
    @inline(__always)
    func store(to pointer: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(pointer).storeBytes(of: self, as: Self.self)
    }

    /// The square root of every lane.
    @inline(__always)
    func squareRootLanes() -> Self {
        var result = self
        for lane in indices { result[lane] = self[lane].squareRoot() }
        return result
    }
}

/// The larger of each pair of lanes (NaN-propagating like `torch.maximum`).
@inline(__always)
func pointwiseMaxLanes<T: SIMD>(_ a: T, _ b: T) -> T where T.Scalar == Float {
    var result = a
    for lane in a.indices { result[lane] = a[lane] >= b[lane] || a[lane].isNaN ? a[lane] : b[lane] }
    return result
}
