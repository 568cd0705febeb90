import BinaryIO
import TensorData

// Writing checkpoints that `torch.load(weights_only=True)` reads and that
// `pytorch_lightning.Trainer.fit(model, ckpt_path=...)` resumes from (docs/formats.md, "Lightning
// checkpoints"): the version, the exact state_dict keys, one complete optimizer state_dict per
// optimizer, the schedulers, and `loops` progress counters for the epoch to resume at.

/// One optimizer's state in torch's `state_dict()` form, with tensors as stored tensors.
public struct OptimizerStateDict: Sendable {
    /// The parameter groups: every setting torch writes (`lr`, `betas`, …) and `params`.
    public var paramGroups: [TorchDict]
    /// Per-parameter state by parameter index: (name, tensor) in torch's order
    /// (`step`, `exp_avg`, `exp_avg_sq`, `max_exp_avg_sq`, or `momentum_buffer`).
    public var state: [(index: Int, entries: [(name: String, tensor: RawTensor)])]

    /// An optimizer state.
    public init(paramGroups: [TorchDict], state: [(index: Int, entries: [(name: String, tensor: RawTensor)])]) {
        self.paramGroups = paramGroups
        self.state = state
    }
}

/// Everything a resumable checkpoint holds.
public struct CheckpointContents: Sendable {
    /// The model's weights, under the LightningModule's attribute names (e.g. `linear1.weight`).
    public var stateDict: StateDict
    /// One entry per optimizer.
    public var optimizers: [OptimizerStateDict]
    /// One `state_dict()` per learning-rate scheduler (may be empty).
    public var schedulers: [TorchDict]
    /// Epochs completed; training resumes at this epoch (0-based).
    public var epochsCompleted: Int
    /// Optimizer steps taken in total.
    public var globalStep: Int
    /// Optimizer steps in the last completed epoch (Lightning's "current" batch progress).
    public var stepsInLastEpoch: Int
    /// Scheduler steps taken in total (epoch-interval schedulers step once per epoch).
    public var schedulerSteps: Int
    /// `hyper_parameters` (with `hparams_name` = "kwargs"), or nil.
    public var hyperParameters: TorchDict?
    /// Further top-level keys kept as plain data (a weights-only load reads them; Lightning ignores
    /// keys it does not know).
    public var extraKeys: [(String, TorchValue)]
    /// The `pytorch-lightning_version` recorded (a recent version, so no migration runs).
    public var lightningVersion: String

    /// Contents with the given weights and optimizer state.
    public init(stateDict: StateDict, optimizers: [OptimizerStateDict] = [], schedulers: [TorchDict] = [], epochsCompleted: Int = 0,
                globalStep: Int = 0, stepsInLastEpoch: Int = 0, schedulerSteps: Int = 0, hyperParameters: TorchDict? = nil,
                extraKeys: [(String, TorchValue)] = [], lightningVersion: String = "2.6.6") {
        self.stateDict = stateDict
        self.optimizers = optimizers
        self.schedulers = schedulers
        self.epochsCompleted = epochsCompleted
        self.globalStep = globalStep
        self.stepsInLastEpoch = stepsInLastEpoch
        self.schedulerSteps = schedulerSteps
        self.hyperParameters = hyperParameters
        self.extraKeys = extraKeys
        self.lightningVersion = lightningVersion
    }
}

/// Writes Lightning checkpoints.
public enum CheckpointWriter {
    /// Writes `contents` to `path` as a `.ckpt` (a torch zip archive with folder `archive/`, as
    /// Lightning writes it).
    ///
    /// - Throws: `TorchFormatError`, `FileError`; nothing is left at `path` on failure.
    public static func write(_ contents: CheckpointContents, to path: String, overwrite: Bool) throws {
        let (root, tensors) = tree(contents)
        try TorchWriter.write(
            to: path, object: root, tensors: tensors.map { TensorEntry(name: $0.name, dtype: $0.tensor.dtype, shape: $0.tensor.shape) },
            overwrite: overwrite, archiveName: "archive", tensorBytes: { tensors[$0].tensor.bytes })
    }

    /// Writes weights alone as Lightning's `save_checkpoint(weights_only=True)` does: epoch,
    /// global step, version, `state_dict` and loop counters at zero. `LightningModule.load_from_checkpoint`
    /// and `trainer.validate/test/predict(ckpt_path=…)` accept it; resuming `fit` needs optimizer
    /// state (use ``write(_:to:overwrite:)``). Tensors are streamed one at a time.
    public static func writeWeights(
        entries: [TensorEntry], to path: String, overwrite: Bool, stateDict: [(name: String, tensor: Int)]? = nil,
        tensorBytes: (Int) throws -> TensorBytes, didWrite: (Int) -> Void = { _ in }
    ) throws {
        // `stateDict` names the tensors when several names share one (tied weights); by default
        // each entry is its own tensor under its own name.
        let items = stateDict ?? entries.enumerated().map { (name: $0.element.name, tensor: $0.offset) }
        let weights = TorchDict(items.map { (key: TorchValue.string($0.name), value: TorchValue.tensor($0.tensor)) }, isOrdered: true)
        let root = TorchValue.dict(TorchDict([
            (key: .string("epoch"), value: .int(0)),
            (key: .string("global_step"), value: .int(0)),
            (key: .string("pytorch-lightning_version"), value: .string("2.6.6")),
            (key: .string("state_dict"), value: .dict(weights)),
            (key: .string("loops"), value: loops(epochsCompleted: 0, globalStep: 0, stepsInLastEpoch: 0, schedulerSteps: 0)),
        ]))
        try TorchWriter.write(to: path, object: root, tensors: entries, overwrite: overwrite, archiveName: "archive",
                              tensorBytes: tensorBytes, didWrite: didWrite)
    }

    /// The checkpoint dict and the tensors its ``TorchValue/tensor(_:)`` entries index.
    public static func tree(_ contents: CheckpointContents) -> (TorchValue, [(name: String, tensor: RawTensor)]) {
        var tensors: [(name: String, tensor: RawTensor)] = []
        func add(_ name: String, _ tensor: RawTensor) -> TorchValue {
            tensors.append((name, tensor))
            return .tensor(tensors.count - 1)
        }
        let weights = TorchDict(contents.stateDict.map { (key: TorchValue.string($0.name), value: add("state_dict." + $0.name, $0.tensor)) }, isOrdered: true)
        let optimizers: [TorchValue] = contents.optimizers.enumerated().map { number, optimizer in
            let state = TorchDict(optimizer.state.map { parameter in
                (key: TorchValue.int(Int64(parameter.index)), value: TorchValue.dict(TorchDict(parameter.entries.map {
                    (key: TorchValue.string($0.name), value: add("optimizer_states.\(number).state.\(parameter.index).\($0.name)", $0.tensor))
                })))
            })
            return .dict(TorchDict([(key: .string("state"), value: .dict(state)),
                                    (key: .string("param_groups"), value: .list(optimizer.paramGroups.map { .dict($0) }))]))
        }
        var top: [(key: TorchValue, value: TorchValue)] = [
            (.string("epoch"), .int(Int64(contents.epochsCompleted))),
            (.string("global_step"), .int(Int64(contents.globalStep))),
            (.string("pytorch-lightning_version"), .string(contents.lightningVersion)),
            (.string("state_dict"), .dict(weights)),
            (.string("loops"), loops(epochsCompleted: contents.epochsCompleted, globalStep: contents.globalStep,
                                     stepsInLastEpoch: contents.stepsInLastEpoch, schedulerSteps: contents.schedulerSteps)),
            (.string("callbacks"), .dict(TorchDict())),
            (.string("optimizer_states"), .list(optimizers)),
            (.string("lr_schedulers"), .list(contents.schedulers.map { .dict($0) })),
        ]
        if let hyperParameters = contents.hyperParameters {
            top.append((.string("hparams_name"), .string("kwargs")))
            top.append((.string("hyper_parameters"), .dict(hyperParameters)))
        }
        for (key, value) in contents.extraKeys { top.append((.string(key), value)) }
        return (.dict(TorchDict(top)), tensors)
    }

    /// Lightning's `loops` progress for a checkpoint taken after `epochsCompleted` whole epochs
    /// (the layout `Trainer.save_checkpoint` writes; docs/formats.md, "Lightning checkpoints"). On resume, the fit loop
    /// continues at epoch `epochsCompleted` and the step counters at `globalStep`.
    public static func loops(epochsCompleted: Int, globalStep: Int, stepsInLastEpoch: Int, schedulerSteps: Int) -> TorchValue {
        func d(_ pairs: (String, TorchValue)...) -> TorchValue { .dict(TorchDict(pairs.map { (key: .string($0.0), value: $0.1) })) }
        func n(_ value: Int) -> TorchValue { .int(Int64(value)) }
        func four(_ value: Int) -> TorchValue { d(("ready", n(value)), ("completed", n(value)), ("started", n(value)), ("processed", n(value))) }
        func two(_ value: Int) -> TorchValue { d(("ready", n(value)), ("completed", n(value))) }
        func three(_ value: Int) -> TorchValue { d(("ready", n(value)), ("completed", n(value)), ("started", n(value))) }
        let last = min(stepsInLastEpoch, globalStep)
        let schedulerCurrent = epochsCompleted > 0 && schedulerSteps > 0 ? schedulerSteps / epochsCompleted : 0
        let emptyBatches = d(("total", four(0)), ("current", four(0)), ("is_last_batch", .bool(false)))
        let fitLoop = d(
            ("state_dict", d()),
            ("epoch_loop.state_dict", d(("_batches_that_stepped", n(globalStep)))),
            ("epoch_loop.batch_progress", d(("total", four(globalStep)), ("current", four(last)), ("is_last_batch", .bool(epochsCompleted > 0)))),
            ("epoch_loop.scheduler_progress", d(("total", two(schedulerSteps)), ("current", two(schedulerCurrent)))),
            ("epoch_loop.automatic_optimization.state_dict", d()),
            ("epoch_loop.automatic_optimization.optim_progress", d(("optimizer", d(
                ("step", d(("total", two(globalStep)), ("current", two(last)))),
                ("zero_grad", d(("total", three(globalStep)), ("current", three(last)))))))),
            ("epoch_loop.manual_optimization.state_dict", d()),
            ("epoch_loop.manual_optimization.optim_step_progress", d(("total", two(0)), ("current", two(0)))),
            ("epoch_loop.val_loop.state_dict", d()),
            ("epoch_loop.val_loop.batch_progress", emptyBatches),
            ("epoch_progress", d(("total", four(epochsCompleted)), ("current", four(epochsCompleted)))))
        return d(
            ("fit_loop", fitLoop),
            ("validate_loop", d(("state_dict", d()), ("batch_progress", emptyBatches))),
            ("test_loop", d(("state_dict", d()), ("batch_progress", emptyBatches))),
            ("predict_loop", d(("state_dict", d()), ("batch_progress", d(("total", four(0)), ("current", four(0)))))))
    }
}

/// Rewrites an object tree read from a torch file so its tensors can be written again: the
/// records it references, in order of first appearance, and the tree with renumbered tensors.
public enum TorchTreeRewriter {
    /// - Parameter representative: maps a tensor record to the record written for it; records
    ///   that are one tensor (the same storage, offset, sizes and strides: tied weights) map to one
    ///   of them, so it is written once and shared, as `torch.save` writes tied weights.
    /// - Returns: the tree with `.tensor(i)` renumbered 0, 1, … and, for each new number, the
    ///   record index in the source file and the tensor's dotted name (for messages).
    ///
    /// The walk is iterative and visits each container once: a container the tree shares (a pickle
    /// memo reference) is rewritten once and stays shared in the result, so a tree of 2^60 paths
    /// over 61 containers rewrites in 61 steps, and its pickle stays as small as the input's.
    public static func renumber(_ root: TorchValue, representative: (Int) -> Int = { $0 }) -> (TorchValue, [(record: Int, name: String)]) {
        enum Step {
            case enter(TorchValue, path: String)
            case exit(TorchValue)
        }
        var order: [(Int, String)] = []
        var numbers: [Int: Int] = [:]
        var rewritten: [TorchContainerIdentity: TorchValue] = [:]
        var results: [TorchValue] = []
        var steps: [Step] = [.enter(root, path: "")]
        func join(_ path: String, _ component: String) -> String { path.isEmpty ? component : path + "." + component }
        while let step = steps.popLast() {
            switch step {
            case .enter(let value, let path):
                if let identity = value.containerIdentity, let done = rewritten[identity] {
                    results.append(done)
                    continue
                }
                switch value {
                case .tensor(let record):
                    let key = representative(record)
                    if let number = numbers[key] {
                        results.append(.tensor(number))
                    } else {
                        numbers[key] = order.count
                        order.append((key, path))
                        results.append(.tensor(order.count - 1))
                    }
                case .dict(let dict):
                    steps.append(.exit(value))
                    for entry in dict.entries.reversed() { steps.append(.enter(entry.value, path: join(path, entry.key.nameComponent))) }
                case .list(let items), .tuple(let items):
                    steps.append(.exit(value))
                    for (i, item) in items.enumerated().reversed() { steps.append(.enter(item, path: join(path, String(i)))) }
                case .set(let items):
                    steps.append(.exit(value))
                    for item in items.reversed() { steps.append(.enter(item, path: path)) }
                default:
                    results.append(value)
                }
            case .exit(let value):
                let result: TorchValue
                switch value {
                case .dict(var dict):
                    let values = results.suffix(dict.entries.count)
                    dict.entries = zip(dict.entries, values).map { (key: $0.key, value: $1) }
                    results.removeLast(dict.entries.count)
                    result = .dict(dict)
                case .list(let items):
                    result = .list(Array(results.suffix(items.count)))
                    results.removeLast(items.count)
                case .tuple(let items):
                    result = .tuple(Array(results.suffix(items.count)))
                    results.removeLast(items.count)
                case .set(let items):
                    result = .set(Array(results.suffix(items.count)))
                    results.removeLast(items.count)
                default:
                    result = value
                }
                if let identity = value.containerIdentity { rewritten[identity] = result }
                results.append(result)
            }
        }
        return (results.last ?? root, order)
    }

    /// For each dense tensor record, the first record that is the same tensor: the same storage,
    /// element offset, sizes, strides and dtype (tied weights). Other records map to themselves.
    public static func tiedRepresentatives(_ records: [TorchTensorRecord]) -> [Int] {
        struct Key: Hashable {
            let storage: Int, offset: Int, sizes: [Int], strides: [Int], dtype: String
        }
        var first: [Key: Int] = [:]
        return records.enumerated().map { index, record in
            guard record.kind == .dense, let storage = record.storage else { return index }
            let key = Key(storage: storage, offset: record.storageOffset, sizes: record.sizes, strides: record.strides, dtype: record.torchDType)
            if let existing = first[key] { return existing }
            first[key] = index
            return index
        }
    }
}
