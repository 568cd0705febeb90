import BinaryIO
import ModelFormats
import TensorData

/// What `inspect` says about a checkpoint: progress, optimizers, schedulers, hyper-parameters and
/// how the bytes split between weights, optimizer state and the rest.
struct CheckpointSummary {
    let checkpoint: LightningCheckpoint
    let file: TorchFile

    init?(_ file: TorchFile) {
        guard let checkpoint = try? LightningCheckpoint(root: file.root),
              checkpoint.lightningVersion != nil || !checkpoint.optimizers.isEmpty || checkpoint.epoch != nil
        else { return nil }
        self.checkpoint = checkpoint
        self.file = file
    }

    /// A 0-d or one-element tensor's value (for `step`).
    private func scalar(_ record: Int) -> Double? {
        guard let tensor = try? file.tensor(record: record, name: "step"), tensor.elementCount == 1,
              ElementCodec.canDecodeToReal(tensor.dtype) else { return nil }
        return tensor.bytes.withUnsafeBytes { ElementCodec.decodeDoubles($0, dtype: tensor.dtype).first }
    }

    /// A count read from a file as a number: `12` when it is a whole number `Int64` can hold, else
    /// as it is (`nan`, `inf`, `1e+300`, `2.5`), never trapping.
    static func wholeNumberText(_ value: Double) -> String {
        if value.rounded() == value, let whole = Int64(exactly: value) { return String(whole) }
        return String(value)
    }

    /// Bytes of tensors under the weights, under the optimizers, and elsewhere.
    var byteSplit: (weights: Int, optimizer: Int, other: Int) {
        var split = (weights: 0, optimizer: 0, other: 0)
        for entry in file.entries {
            if let key = checkpoint.stateDictKey, entry.name.hasPrefix(key + ".") {
                split.weights = split.weights.saturatingAdded(entry.byteCount)
            } else if let key = checkpoint.optimizerKey, entry.name.hasPrefix(key + ".") {
                split.optimizer = split.optimizer.saturatingAdded(entry.byteCount)
            } else {
                split.other = split.other.saturatingAdded(entry.byteCount)
            }
        }
        return split
    }

    func optimizerJSON(_ optimizer: TorchOptimizerState) -> JSONValue {
        var members: [(String, JSONValue)] = [("kind", .string(optimizer.kind.rawValue))]
        for key in ["lr", "initial_lr", "momentum", "dampening", "eps", "weight_decay"] {
            if let value = optimizer.number(key) { members.append((key, .double(value))) }
        }
        if let betas = optimizer.betas { members.append(("betas", .array([.double(betas.0), .double(betas.1)]))) }
        for key in ["nesterov", "amsgrad", "maximize"] {
            if case .bool(let flag)? = optimizer.paramGroups.first?[key] { members.append((key, .bool(flag))) }
        }
        members.append(("step", checkpoint.stepCount(of: optimizer, tensorValue: scalar).map { .double($0) } ?? .null))
        members.append(("param_groups", .int(optimizer.paramGroups.count)))
        members.append(("parameters", .array(optimizer.parameterIndices.map { .int($0) })))
        members.append(("parameters_with_state", .int(optimizer.state.count)))
        members.append(("state_keys", .array(Array(Set(optimizer.state.flatMap { $0.entries.map(\.name) })).sorted().map { .string($0) })))
        return .object(members)
    }

    var json: JSONValue {
        let split = byteSplit
        return .object([
            ("lightning_version", checkpoint.lightningVersion.map { .string($0) } ?? .null),
            ("epoch", checkpoint.epoch.map { .int($0) } ?? .null),
            ("global_step", checkpoint.globalStep.map { .int($0) } ?? .null),
            ("state_dict_key", checkpoint.stateDictKey.map { .string($0) } ?? .null),
            ("optimizers", .array(checkpoint.optimizers.map(optimizerJSON))),
            ("lr_schedulers", .array(checkpoint.schedulers.map { scheduler in
                .object([("kind", scheduler.kind.map { .string($0) } ?? .null)]
                        + scheduler.settings.entries.compactMap { entry in
                            guard let key = entry.key.stringValue, entry.value.isScalarLeaf || entry.value.sequenceItems?.allSatisfy(\.isScalarLeaf) == true else { return nil }
                            return (key, .string(entry.value.summary))
                        })
            })),
            ("hyper_parameters", checkpoint.hyperParameters.map { .string($0.summary) } ?? .null),
            ("bytes", .object([("weights", .int(split.weights)), ("optimizer", .int(split.optimizer)), ("other", .int(split.other))])),
        ])
    }

    var lines: [String] {
        var lines: [String] = []
        var progress: [String] = []
        if let version = checkpoint.lightningVersion { progress.append("Lightning \(version)") }
        if let epoch = checkpoint.epoch { progress.append("epoch \(epoch)") }
        if let step = checkpoint.globalStep { progress.append("global step \(step)") }
        if !progress.isEmpty { lines.append(progress.joined(separator: ", ")) }
        if let key = checkpoint.stateDictKey { lines.append("weights under \"\(key)\": \(checkpoint.stateDict?.entries.count ?? 0) tensors") }
        for (i, optimizer) in checkpoint.optimizers.enumerated() {
            var parts = ["optimizer \(i): \(optimizer.kind.rawValue)"]
            if let lr = optimizer.number("lr") { parts.append("lr \(lr)" + (optimizer.number("initial_lr").map { " (initial \($0))" } ?? "")) }
            if let betas = optimizer.betas { parts.append("betas (\(betas.0), \(betas.1))") }
            if let momentum = optimizer.number("momentum"), optimizer.kind == .sgd { parts.append("momentum \(momentum)") }
            if let decay = optimizer.number("weight_decay") { parts.append("weight_decay \(decay)") }
            if case .bool(true)? = optimizer.paramGroups.first?["amsgrad"] { parts.append("amsgrad") }
            if let step = checkpoint.stepCount(of: optimizer, tensorValue: scalar) { parts.append("step \(CheckpointSummary.wholeNumberText(step))") }
            let indices = optimizer.parameterIndices
            parts.append("\(indices.count) parameters" + (indices.isEmpty ? "" : " [\(indices.first!)…\(indices.last!)]") + ", \(optimizer.state.count) with state")
            lines.append(parts.joined(separator: ", "))
        }
        for (i, scheduler) in checkpoint.schedulers.enumerated() {
            let settings = scheduler.settings.entries.compactMap { entry -> String? in
                guard let key = entry.key.stringValue, !key.hasPrefix("_"), entry.value.isScalarLeaf else { return nil }
                return "\(key) \(entry.value.summary)"
            }
            lines.append("scheduler \(i): \(scheduler.kind ?? "unknown")" + (settings.isEmpty ? "" : ", " + settings.joined(separator: ", ")))
        }
        if case .dict(let hyper)? = checkpoint.hyperParameters {
            lines.append("hyper_parameters: " + hyper.entries.map { "\($0.key.nameComponent)=\($0.value.summary)" }.joined(separator: ", "))
        }
        let split = byteSplit
        lines.append("bytes: weights \(Formatting.bytes(split.weights)), optimizer state \(Formatting.bytes(split.optimizer)), other tensors \(Formatting.bytes(split.other))")
        return lines
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
        let claim = InputClaim(path: input)
        defer { withExtendedLifetime(claim) {} }
        let file = try attributing(to: input) { () throws -> TorchFile in
            let source = try ModelFile.open(input, options: options)
            guard let torch = source as? TorchFile else {
                throw StripError.notACheckpoint(found: source.format == .directory ? "a directory" : "a \(source.format.rawValue) file")
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
        let representatives = TorchTreeRewriter.tiedRepresentatives(file.tensors)
        let (root, records) = TorchTreeRewriter.renumber(.dict(TorchDict(entries, isOrdered: top.isOrdered)), representative: { representatives[$0] })
        var tensors: [TensorEntry] = []
        for (record, name) in records {
            let info = file.tensors[record]
            guard let dtype = info.dtype else {
                throw ModelFileError(path: input, underlying: TorchFormatError.unsupportedDType(tensor: name, dtype: info.torchDType))
            }
            tensors.append(TensorEntry(name: name, dtype: dtype, shape: try attributing(to: input) { try TorchTreeRewriter.checkedShape(info, name: name) }))
        }
        // The whole rewrite fits the read budget, or nothing is written (a rewrite writes at most
        // about twice its input).
        try attributing(to: input) { try file.readBudget.check(tensors.saturatingSum(\.byteCount), for: "rewriting its \(tensors.count) tensors") }
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
            let representatives = TorchTreeRewriter.tiedRepresentatives(file.tensors)
            let (root, records) = TorchTreeRewriter.renumber(file.root, representative: { representatives[$0] })
            var tensors: [TensorEntry] = []
            var readBytes = 0
            for (record, name) in records {
                let info = file.tensors[record]
                guard let dtype = info.dtype else { throw TorchFormatError.unsupportedDType(tensor: name, dtype: info.torchDType) }
                let target = options.dtype.flatMap { dtype.isCastableFloat ? $0 : nil } ?? dtype
                let shape = try TorchTreeRewriter.checkedShape(info, name: name)
                tensors.append(TensorEntry(name: name, dtype: target, shape: shape))
                readBytes = readBytes.saturatingAdded(TensorEntry(name: name, dtype: dtype, shape: shape).byteCount)
            }
            // The whole rewrite fits the read budget, or nothing is written.
            try file.readBudget.check(readBytes, for: "rewriting its \(tensors.count) tensors")
            try TorchWriter.write(
                to: output, object: root, tensors: tensors, overwrite: options.overwrite, archiveName: "archive",
                tensorBytes: { index in
                    let raw = try file.tensor(record: records[index].record, name: records[index].name)
                    return ConversionPlan.cast(raw, to: tensors[index].dtype, byteCount: tensors[index].byteCount)
                })
            return ConversionResult(outputs: [output], tensorCount: tensors.count, tensorBytes: tensors.saturatingSum(\.byteCount), warnings: plan.warnings)
        }
        let total = plan.entries.saturatingSum(\.byteCount)
        var done = 0
        try CheckpointWriter.writeWeights(
            entries: plan.entries, to: output, overwrite: options.overwrite, tensorBytes: plan.bytes(at:),
            didWrite: { index in
                plan.release(index)
                done = done.saturatingAdded(plan.entries[index].byteCount)
                options.progress?(done, total)
            })
        return ConversionResult(outputs: [output], tensorCount: plan.entries.count, tensorBytes: total, warnings: plan.warnings)
    }
}

extension TorchTreeRewriter {
    /// A record's shape as safetensors counts it, or the error naming the tensor when its sizes
    /// are negative or overflow (records a rewrite reaches were checked when the file was opened;
    /// this keeps the check where the shape is built).
    static func checkedShape(_ record: TorchTensorRecord, name: String) throws -> Shape {
        if let shape = record.checkedLogicalShape { return shape }
        throw TorchFormatError.invalidGeometry(tensor: name, storage: record.storage.map { "storage \($0)" } ?? "no storage",
                                               record.sizes.contains { $0 < 0 }
                                                   ? .negative(what: "size", value: record.sizes.first { $0 < 0 } ?? 0)
                                                   : .overflow(sizes: record.sizes, strides: record.strides))
    }
}
