import BinaryIO
import ModelFormats
import TensorData

/// What `inspect` says about a checkpoint: progress, optimizers, schedulers, hyper-parameters and
/// how the bytes split between weights, optimizer state and the rest, as values.
public struct CheckpointSummary {
    /// One optimizer's kind, hyper-parameters and state.
    public struct Optimizer {
        /// The kind inferred from the keys torch writes (`Adam`, `SGD`, …).
        public let kind: String
        /// Numeric settings of the first parameter group, in the order `lr`, `initial_lr`,
        /// `momentum`, `dampening`, `eps`, `weight_decay` (those present).
        public let numbers: [(key: String, value: Double)]
        /// Adam's `betas`.
        public let betas: (Double, Double)?
        /// Boolean settings of the first parameter group (`nesterov`, `amsgrad`, `maximize`).
        public let flags: [(key: String, value: Bool)]
        /// The step count, when the state records one.
        public let step: Double?
        /// Parameter groups.
        public let parameterGroupCount: Int
        /// Parameter indices, in `param_groups` order.
        public let parameterIndices: [Int]
        /// Parameters that have state.
        public let parametersWithState: Int
        /// The state keys used (`exp_avg`, `momentum_buffer`, …), sorted.
        public let stateKeys: [String]

        /// The numeric setting named `key`.
        public func number(_ key: String) -> Double? { numbers.first { $0.key == key }?.value }
        /// The boolean setting named `key`.
        public func flag(_ key: String) -> Bool? { flags.first { $0.key == key }?.value }
    }

    /// One learning-rate scheduler.
    public struct Scheduler {
        /// The class inferred from its keys (`StepLR`, …), or `nil`.
        public let kind: String?
        /// Its settings whose values are plain (a scalar, or a list or tuple of scalars).
        public let settings: [(key: String, summary: String, isScalar: Bool)]
    }

    /// `pytorch-lightning_version`.
    public let lightningVersion: String?
    /// `epoch`.
    public let epoch: Int?
    /// `global_step`.
    public let globalStep: Int?
    /// The key the weights are under (`state_dict`), if any.
    public let stateDictKey: String?
    /// Tensors under it.
    public let stateDictTensorCount: Int
    /// The optimizers, in order.
    public let optimizers: [Optimizer]
    /// The schedulers, in order.
    public let schedulers: [Scheduler]
    /// A short rendering of `hyper_parameters`, if present.
    public let hyperParameters: String?
    /// `hyper_parameters` entry by entry, when it is a dict.
    public let hyperParameterEntries: [(key: String, summary: String)]?
    /// Bytes of tensors under the weights, under the optimizers, and elsewhere.
    public let byteSplit: (weights: Int, optimizer: Int, other: Int)

    init?(_ file: TorchFile) {
        guard let checkpoint = try? LightningCheckpoint(root: file.root),
              checkpoint.lightningVersion != nil || !checkpoint.optimizers.isEmpty || checkpoint.epoch != nil
        else { return nil }
        /// A 0-d or one-element tensor's value (for `step`).
        func scalar(_ record: Int) -> Double? {
            guard let tensor = try? file.tensor(record: record, name: "step"), tensor.elementCount == 1,
                  ElementCodec.canDecodeToReal(tensor.dtype) else { return nil }
            return tensor.bytes.withUnsafeBytes { ElementCodec.decodeDoubles($0, dtype: tensor.dtype).first }
        }
        lightningVersion = checkpoint.lightningVersion
        epoch = checkpoint.epoch
        globalStep = checkpoint.globalStep
        stateDictKey = checkpoint.stateDictKey
        stateDictTensorCount = checkpoint.stateDict?.entries.count ?? 0
        optimizers = checkpoint.optimizers.map { optimizer in
            var flags: [(String, Bool)] = []
            for key in ["nesterov", "amsgrad", "maximize"] {
                if case .bool(let flag)? = optimizer.paramGroups.first?[key] { flags.append((key, flag)) }
            }
            return Optimizer(
                kind: optimizer.kind.rawValue,
                numbers: ["lr", "initial_lr", "momentum", "dampening", "eps", "weight_decay"].compactMap { key in optimizer.number(key).map { (key, $0) } },
                betas: optimizer.betas, flags: flags,
                step: checkpoint.stepCount(of: optimizer, tensorValue: scalar),
                parameterGroupCount: optimizer.paramGroups.count, parameterIndices: optimizer.parameterIndices,
                parametersWithState: optimizer.state.count,
                stateKeys: Array(Set(optimizer.state.flatMap { $0.entries.map(\.name) })).sorted())
        }
        schedulers = checkpoint.schedulers.map { scheduler in
            Scheduler(kind: scheduler.kind, settings: scheduler.settings.entries.compactMap { entry in
                guard let key = entry.key.stringValue,
                      entry.value.isScalarLeaf || entry.value.sequenceItems?.allSatisfy(\.isScalarLeaf) == true else { return nil }
                return (key, entry.value.summary, entry.value.isScalarLeaf)
            })
        }
        hyperParameters = checkpoint.hyperParameters?.summary
        if case .dict(let hyper)? = checkpoint.hyperParameters {
            hyperParameterEntries = hyper.entries.map { ($0.key.nameComponent, $0.value.summary) }
        } else {
            hyperParameterEntries = nil
        }
        var split = (weights: 0, optimizer: 0, other: 0)
        for entry in file.entries {
            if let key = checkpoint.stateDictKey, entry.name.hasBytePrefix(key + ".") {
                split.weights += entry.byteCount
            } else if let key = checkpoint.optimizerKey, entry.name.hasBytePrefix(key + ".") {
                split.optimizer += entry.byteCount
            } else {
                split.other += entry.byteCount
            }
        }
        byteSplit = split
    }

    func optimizerJSON(_ optimizer: Optimizer) -> JSONValue {
        var members: [(String, JSONValue)] = [("kind", .string(optimizer.kind))]
        for (key, value) in optimizer.numbers { members.append((key, .double(value))) }
        if let betas = optimizer.betas { members.append(("betas", .array([.double(betas.0), .double(betas.1)]))) }
        for (key, flag) in optimizer.flags { members.append((key, .bool(flag))) }
        members.append(("step", optimizer.step.map { .double($0) } ?? .null))
        members.append(("param_groups", .int(optimizer.parameterGroupCount)))
        members.append(("parameters", .array(optimizer.parameterIndices.map { .int($0) })))
        members.append(("parameters_with_state", .int(optimizer.parametersWithState)))
        members.append(("state_keys", .array(optimizer.stateKeys.map { .string($0) })))
        return .object(members)
    }

    /// The `checkpoint` member of the `modelfile.inspect/1` document.
    var json: JSONValue {
        .object([
            ("lightning_version", lightningVersion.map { .string($0) } ?? .null),
            ("epoch", epoch.map { .int($0) } ?? .null),
            ("global_step", globalStep.map { .int($0) } ?? .null),
            ("state_dict_key", stateDictKey.map { .string($0) } ?? .null),
            ("optimizers", .array(optimizers.map(optimizerJSON))),
            ("lr_schedulers", .array(schedulers.map { scheduler in
                .object([("kind", scheduler.kind.map { .string($0) } ?? .null)] + scheduler.settings.map { ($0.key, .string($0.summary)) })
            })),
            ("hyper_parameters", hyperParameters.map { .string($0) } ?? .null),
            ("bytes", .object([("weights", .int(byteSplit.weights)), ("optimizer", .int(byteSplit.optimizer)), ("other", .int(byteSplit.other))])),
        ])
    }
}

/// `modelfile strip`: a checkpoint without optimizer, scheduler, loop and callback state.
public enum Strip {
    /// The parts `strip` removes unless `--keep` names them.
    public static let removableKeys = ["optimizer_states", "lr_schedulers", "loops", "callbacks"]
    /// What `--keep` accepts, with the keys each keeps (`optimizer` also covers plain torch
    /// checkpoints' `optimizer`/`optimizer_state_dict`).
    public static let keepChoices: [String: [String]] = [
        "optimizer": ["optimizer_states", "optimizer", "optimizer_state_dict", "optim"],
        "schedulers": ["lr_schedulers", "scheduler", "lr_scheduler"],
        "loops": ["loops"],
        "callbacks": ["callbacks"],
        "hyper_parameters": ["hyper_parameters", "hparams_name"],
    ]

    /// What was removed and written.
    public struct Result {
        /// Top-level keys dropped.
        public let removedKeys: [String]
        /// Bytes of the input and the output.
        public let inputBytes: Int, outputBytes: Int
    }

    /// Copies `input` to `output` without the removable parts (except those in `keep`). The weights
    /// and plain values stay; hyper-parameters stay unless they hold objects that were never loaded.
    ///
    /// - Throws: `ModelFileError` if the input is not a checkpoint dict or cannot be read.
    public static func strip(input: String, output: String, keep: Set<String>, overwrite: Bool, options: ReadOptions = ReadOptions()) throws -> Result {
        let file = try attributing(to: input) { () throws -> TorchFile in
            guard let torch = try ModelFile.open(input, options: options) as? TorchFile else {
                throw StripError.notACheckpoint(found: "not a PyTorch or Lightning file")
            }
            return torch
        }
        guard case .dict(let top) = file.root else {
            throw ModelFileError(path: input, underlying: StripError.notACheckpoint(found: file.root.summary))
        }
        let kept = Set(keep.flatMap { keepChoices[$0] ?? [] })
        let plainOptimizerKeys = ["optimizer", "optimizer_state_dict", "optim", "scheduler", "lr_scheduler"]
        var removed: [String] = []
        var entries: [(key: TorchValue, value: TorchValue)] = []
        for entry in top.entries {
            let key = entry.key.stringValue ?? ""
            if (removableKeys.contains(key) || plainOptimizerKeys.contains(key)) && !kept.contains(key) {
                removed.append(key)
            } else {
                entries.append(entry)
            }
        }
        let (root, records) = TorchTreeRewriter.renumber(.dict(TorchDict(entries, isOrdered: top.isOrdered)))
        var tensors: [TensorEntry] = []
        for (record, name) in records {
            let info = file.tensors[record]
            guard let dtype = info.dtype else {
                throw ModelFileError(path: input, underlying: TorchFormatError.unsupportedDType(tensor: name, dtype: info.torchDType))
            }
            tensors.append(TensorEntry(name: name, dtype: dtype, shape: info.logicalShape))
        }
        try attributing(to: output) {
            try TorchWriter.write(to: output, object: root, tensors: tensors, overwrite: overwrite, archiveName: "archive",
                                  tensorBytes: { try file.tensor(record: records[$0].record, name: records[$0].name).bytes })
        }
        let written = try MappedFile(path: output).count
        return Result(removedKeys: removed, inputBytes: file.fileByteCount, outputBytes: written)
    }
}

/// Why `strip` cannot work on a file.
public enum StripError: Error, Equatable, CustomStringConvertible {
    case notACheckpoint(found: String)

    public var description: String {
        switch self {
        case .notACheckpoint(let found): return "not a checkpoint dict (found \(found)); strip works on .ckpt and torch checkpoint files"
        }
    }
}

extension Conversion {
    /// A `.ckpt`: a checkpoint's whole tree when the input is one (everything kept, so training can
    /// resume), otherwise the weights as a weights-only Lightning checkpoint.
    static func writeCheckpoint(_ plan: ConversionPlan, to output: String, options: ConversionOptions) throws -> ConversionResult {
        guard options.maxShardBytes == nil else { throw ConversionError.shardingNeedsSafetensors }
        if let file = plan.source as? TorchFile, options.select == nil, options.stripPrefix == nil, case .dict = file.root,
           (try? LightningCheckpoint(root: file.root))?.stateDictKey != nil {
            let (root, records) = TorchTreeRewriter.renumber(file.root)
            var tensors: [TensorEntry] = []
            for (record, name) in records {
                let info = file.tensors[record]
                guard let dtype = info.dtype else { throw TorchFormatError.unsupportedDType(tensor: name, dtype: info.torchDType) }
                let target = options.dtype.flatMap { dtype.isCastableFloat ? $0 : nil } ?? dtype
                tensors.append(TensorEntry(name: name, dtype: target, shape: info.logicalShape))
            }
            try TorchWriter.write(
                to: output, object: root, tensors: tensors, overwrite: options.overwrite, archiveName: "archive",
                tensorBytes: { index in
                    let raw = try file.tensor(record: records[index].record, name: records[index].name)
                    return ConversionPlan.cast(raw, to: tensors[index].dtype, byteCount: tensors[index].byteCount)
                })
            return ConversionResult(outputs: [output], tensorCount: tensors.count, tensorBytes: tensors.reduce(0) { $0 + $1.byteCount }, warnings: plan.warnings)
        }
        let total = plan.entries.reduce(0) { $0 + $1.byteCount }
        var done = 0
        try CheckpointWriter.writeWeights(
            entries: plan.entries, to: output, overwrite: options.overwrite, tensorBytes: plan.bytes(at:),
            didWrite: { index in
                plan.release(index)
                done += plan.entries[index].byteCount
                options.progress?(done, total)
            })
        return ConversionResult(outputs: [output], tensorCount: plan.entries.count, tensorBytes: total, warnings: plan.warnings)
    }
}
