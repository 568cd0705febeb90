import TensorData

// A typed view of a Lightning checkpoint (docs/formats.md, "Lightning checkpoints"): a torch.save'd dict whose keys
// `trainer.save_checkpoint` documents (lightning/pytorch/trainer/connectors/checkpoint_connector.py
// `dump_checkpoint`). Everything is plain data: hyper-parameters, loop progress, callbacks and
// strings that name code (`_instantiator`, `_class_path`) are reported, never acted on.
// The same view reads plain torch checkpoints of the form {"model": …, "optimizer": …}.

/// A checkpoint key that is missing or has the wrong type, by key path
/// (`optimizer_states[0].param_groups[0].lr`).
public enum CheckpointError: Error, Equatable, CustomStringConvertible {
    /// The key at `path` is missing; `expected` says what should be there.
    case missingKey(path: String, expected: String)
    /// The value at `path` is `found`, not `expected`.
    case wrongType(path: String, expected: String, found: String)

    public var description: String {
        switch self {
        case .missingKey(let path, let expected): return "\(path): missing; expected \(expected)"
        case .wrongType(let path, let expected, let found): return "\(path) is \(found); expected \(expected)"
        }
    }
}

/// One optimizer's `state_dict()`: per-parameter state by index and the parameter groups.
public struct TorchOptimizerState: Sendable, Equatable {
    /// The optimizer, inferred from the keys torch writes for each.
    public enum Kind: String, Sendable {
        /// SGD, Adam, AdamW, Adam or AdamW (their keys are the same), RMSprop.
        case sgd = "SGD", adam = "Adam", adamW = "AdamW", adamOrAdamW = "Adam or AdamW", rmsprop = "RMSprop"
        /// Adagrad, Adadelta, or an optimizer whose keys match none of these.
        case adagrad = "Adagrad", adadelta = "Adadelta", other = "unknown optimizer"
    }

    /// The inferred kind.
    public let kind: Kind
    /// Each group's settings, every key torch wrote, in order (including `params`).
    public let paramGroups: [TorchDict]
    /// Per-parameter state: parameter index → (name, value) in order; values are tensors
    /// (``TorchValue/tensor(_:)``) or numbers (an old-style numeric `step`).
    public let state: [(index: Int, entries: [(name: String, value: TorchValue)])]

    public static func == (lhs: TorchOptimizerState, rhs: TorchOptimizerState) -> Bool {
        lhs.kind == rhs.kind && lhs.paramGroups == rhs.paramGroups && lhs.state.count == rhs.state.count
            && zip(lhs.state, rhs.state).allSatisfy { a, b in
                a.index == b.index && a.entries.count == b.entries.count && zip(a.entries, b.entries).allSatisfy { $0.name == $1.name && $0.value == $1.value }
            }
    }

    /// Reads `value` (a torch optimizer `state_dict()`) found at `path`.
    ///
    /// - Throws: `CheckpointError` naming the key path at fault.
    public init(_ value: TorchValue, path: String) throws {
        guard case .dict(let dict) = value else { throw CheckpointError.wrongType(path: path, expected: "an optimizer state_dict (a dict)", found: value.summary) }
        guard let groupsValue = dict["param_groups"] else { throw CheckpointError.missingKey(path: path + ".param_groups", expected: "a list of parameter groups") }
        guard let groups = groupsValue.sequenceItems else { throw CheckpointError.wrongType(path: path + ".param_groups", expected: "a list", found: groupsValue.summary) }
        var paramGroups: [TorchDict] = []
        for (i, group) in groups.enumerated() {
            guard case .dict(let settings) = group else {
                throw CheckpointError.wrongType(path: "\(path).param_groups[\(i)]", expected: "a dict", found: group.summary)
            }
            guard let params = settings["params"]?.sequenceItems, params.allSatisfy({ $0.intValue != nil }) else {
                throw CheckpointError.wrongType(path: "\(path).param_groups[\(i)].params", expected: "a list of parameter indices",
                                                found: settings["params"]?.summary ?? "missing")
            }
            paramGroups.append(settings)
        }
        var state: [(Int, [(String, TorchValue)])] = []
        if let stateValue = dict["state"] {
            guard case .dict(let perParameter) = stateValue else {
                throw CheckpointError.wrongType(path: path + ".state", expected: "a dict of parameter index to state", found: stateValue.summary)
            }
            for entry in perParameter.entries {
                guard let index = entry.key.intValue.flatMap({ Int(exactly: $0) }) else {
                    throw CheckpointError.wrongType(path: path + ".state", expected: "integer parameter indices", found: entry.key.summary)
                }
                guard case .dict(let values) = entry.value else {
                    throw CheckpointError.wrongType(path: "\(path).state[\(index)]", expected: "a dict", found: entry.value.summary)
                }
                state.append((index, values.entries.compactMap { item in item.key.stringValue.map { ($0, item.value) } }))
            }
        }
        self.paramGroups = paramGroups
        self.state = state
        kind = TorchOptimizerState.inferKind(paramGroups.first, state: state)
    }

    static func inferKind(_ group: TorchDict?, state: [(Int, [(String, TorchValue)])]) -> Kind {
        guard let group else { return .other }
        let keys = Set(group.stringKeys)
        if keys.contains("betas") {
            if keys.contains("momentum_decay") || keys.contains("lambd") { return .other }
            switch group["decoupled_weight_decay"] {
            case .bool(true)?: return .adamW
            case .bool(false)?: return .adam
            default: return .adamOrAdamW
            }
        }
        if keys.contains("dampening") && keys.contains("nesterov") { return .sgd }
        if keys.contains("alpha") && keys.contains("centered") { return .rmsprop }
        if keys.contains("lr_decay") { return .adagrad }
        if keys.contains("rho") { return .adadelta }
        return .other
    }

    /// A group setting as a number (`lr`, `eps`, `weight_decay`, `momentum`, …).
    public func number(_ key: String, group: Int = 0) -> Double? {
        guard paramGroups.indices.contains(group) else { return nil }
        return paramGroups[group][key]?.doubleValue
    }

    /// `betas` of the first group.
    public var betas: (Double, Double)? {
        guard let items = paramGroups.first?["betas"]?.sequenceItems, items.count == 2,
              let b1 = items[0].doubleValue, let b2 = items[1].doubleValue else { return nil }
        return (b1, b2)
    }

    /// The parameter indices of every group, in order.
    public var parameterIndices: [Int] {
        paramGroups.flatMap { $0["params"]?.sequenceItems?.compactMap { $0.intValue.map(Int.init) } ?? [] }
    }

    /// The state value `name` of parameter `index`.
    public func stateValue(_ name: String, parameter index: Int) -> TorchValue? {
        state.first { $0.index == index }?.entries.first { $0.name == name }?.value
    }
}

/// A learning-rate scheduler's `state_dict()` with its kind inferred from its keys.
public struct TorchSchedulerState: Sendable, Equatable {
    /// The scheduler class, inferred (`StepLR`, `CosineAnnealingLR`, …), or nil.
    public let kind: String?
    /// Every key, in order.
    public let settings: TorchDict

    init(_ settings: TorchDict) {
        self.settings = settings
        let keys = Set(settings.stringKeys)
        switch true {
        case keys.contains("milestones"): kind = "MultiStepLR"
        case keys.contains("step_size") && keys.contains("gamma"): kind = "StepLR"
        case keys.contains("T_max"): kind = "CosineAnnealingLR"
        case keys.contains("T_0"): kind = "CosineAnnealingWarmRestarts"
        case keys.contains("patience") && keys.contains("mode"): kind = "ReduceLROnPlateau"
        case keys.contains("total_steps") && keys.contains("anneal_strategy"): kind = "OneCycleLR"
        case keys.contains("start_factor"): kind = "LinearLR"
        case keys.contains("factor") && keys.contains("total_iters"): kind = "ConstantLR"
        case keys.contains("lr_lambdas"): kind = "LambdaLR"
        case keys.contains("gamma") && keys.contains("last_epoch"): kind = "ExponentialLR"
        default: kind = nil
        }
    }
}

/// A checkpoint's contents in typed form. Every field is optional: a plain `torch.save`d
/// training checkpoint has only some of them.
public struct LightningCheckpoint: Sendable {
    /// The dotted path of the weights (``weightsPath(in:)``: `state_dict`, `model_state_dict`,
    /// `model.state_dict`, …), if found.
    public let stateDictKey: String?
    /// The weights, when they are a dict: name → ``TorchValue/tensor(_:)``.
    public let stateDict: TorchDict?
    /// The optimizers (`optimizer_states`, or `optimizer` in a plain torch checkpoint).
    public let optimizers: [TorchOptimizerState]
    /// The key the optimizers came from.
    public let optimizerKey: String?
    /// `lr_schedulers`.
    public let schedulers: [TorchSchedulerState]
    /// `epoch` (the epoch in progress when saved; resuming uses `loops`), when it is an integer.
    public let epoch: Int?
    /// `global_step`: optimizer steps taken, when it is an integer.
    public let globalStep: Int?
    /// `epoch` as stored, whatever it is (a float, NaN, a huge integer): for showing.
    public let epochValue: TorchValue?
    /// `global_step` as stored, whatever it is: for showing.
    public let globalStepValue: TorchValue?
    /// `pytorch-lightning_version`.
    public let lightningVersion: String?
    /// `hyper_parameters`, as stored (OmegaConf containers are inert objects).
    public let hyperParameters: TorchValue?
    /// `hyper_parameters` as plain data: OmegaConf and other inert containers replaced by the keys
    /// and values they hold (``InertData/plain(_:)``).
    public var hyperParameterData: TorchValue? { hyperParameters.map { InertData.plain($0) } }
    /// `loops`: the trainer's progress counters.
    public let loops: TorchValue?
    /// `callbacks`: the callbacks' state.
    public let callbacks: TorchValue?

    /// Keys tried, in order, for the weights of a training checkpoint (docs/cli.md, `convert`).
    public static let weightKeys = ["model_state_dict", "state_dict", "model", "module", "net"]
    /// Keys tried for the optimizer of a plain torch checkpoint.
    public static let optimizerKeys = ["optimizer_states", "optimizer", "optimizer_state_dict", "optim"]
    /// Top-level keys that mark a training checkpoint: optimizer and scheduler state and progress
    /// counters saved beside the weights.
    public static let trainingKeys = optimizerKeys + [
        "lr_schedulers", "scheduler", "scheduler_state_dict", "lr_scheduler", "epoch", "global_step", "step", "iteration",
    ]

    /// The dotted path of a checkpoint's weights: the first of ``weightKeys`` whose value holds a
    /// tensor, or `key.state_dict` when that value is a dict whose `state_dict` holds one (a
    /// Lightning checkpoint's `state_dict` always comes first). `nil` when none does.
    public static func weightsPath(in top: TorchDict) -> String? {
        let keys = top["pytorch-lightning_version"] != nil ? ["state_dict"] + weightKeys : weightKeys
        for key in keys {
            guard let value = top[key], value.containsTensor() else { continue }
            if case .dict(let inner) = value, let nested = inner["state_dict"], nested.containsTensor() {
                return key + ".state_dict"
            }
            return key
        }
        return nil
    }

    /// Whether `top` is a training checkpoint: weights (``weightsPath(in:)``) beside optimizer or
    /// scheduler state or progress counters (``trainingKeys``).
    public static func isTrainingCheckpoint(_ top: TorchDict) -> Bool {
        weightsPath(in: top) != nil && trainingKeys.contains { top[$0] != nil }
    }

    /// Reads the checkpoint dict `root`.
    ///
    /// - Throws: `CheckpointError` when the top level is not a dict or a known key has the wrong type.
    public init(root: TorchValue) throws {
        guard case .dict(let top) = root else {
            throw CheckpointError.wrongType(path: "(top level)", expected: "a checkpoint dict", found: root.summary)
        }
        stateDictKey = LightningCheckpoint.weightsPath(in: top)
        var weights: TorchValue? = nil
        for (i, component) in (stateDictKey?.split(separator: ".") ?? []).enumerated() {
            weights = i == 0 ? top[String(component)] : weights?[String(component)]
        }
        if case .dict(let dict)? = weights { stateDict = dict } else { stateDict = nil }
        var optimizers: [TorchOptimizerState] = []
        var optimizerKey: String?
        for key in LightningCheckpoint.optimizerKeys {
            guard let value = top[key] else { continue }
            optimizerKey = key
            if case .dict = value {
                optimizers = [try TorchOptimizerState(value, path: key)]
            } else if let items = value.sequenceItems {
                optimizers = try items.enumerated().map { try TorchOptimizerState($0.element, path: "\(key)[\($0.offset)]") }
            } else {
                throw CheckpointError.wrongType(path: key, expected: "a list of optimizer state_dicts", found: value.summary)
            }
            break
        }
        self.optimizers = optimizers
        self.optimizerKey = optimizerKey
        var schedulers: [TorchSchedulerState] = []
        if let value = top["lr_schedulers"] {
            guard let items = value.sequenceItems else {
                throw CheckpointError.wrongType(path: "lr_schedulers", expected: "a list of scheduler state_dicts", found: value.summary)
            }
            for (i, item) in items.enumerated() {
                guard case .dict(let settings) = item else {
                    throw CheckpointError.wrongType(path: "lr_schedulers[\(i)]", expected: "a dict", found: item.summary)
                }
                schedulers.append(TorchSchedulerState(settings))
            }
        }
        self.schedulers = schedulers
        // Progress counters are shown as stored; only an integer is taken as a count (a NaN,
        // 1e300 or 2**70 epoch is shown, never converted).
        epochValue = top["epoch"]
        globalStepValue = top["global_step"]
        epoch = epochValue?.intValue.flatMap { Int(exactly: $0) }
        globalStep = globalStepValue?.intValue.flatMap { Int(exactly: $0) }
        if let value = top["pytorch-lightning_version"] {
            guard let text = value.stringValue else {
                throw CheckpointError.wrongType(path: "pytorch-lightning_version", expected: "a string", found: value.summary)
            }
            lightningVersion = text
        } else {
            lightningVersion = nil
        }
        hyperParameters = top["hyper_parameters"]
        loops = top["loops"]
        callbacks = top["callbacks"]
    }

    /// The optimizer step count: the first parameter's `step` state (a 0-d tensor in torch 2.x,
    /// read through `tensorValue`), or nil.
    public func stepCount(of optimizer: TorchOptimizerState, tensorValue: (Int) -> Double?) -> Double? {
        guard let first = optimizer.state.first, let step = first.entries.first(where: { $0.name == "step" })?.value else { return nil }
        if case .tensor(let index) = step { return tensorValue(index) }
        return step.doubleValue
    }
}
