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
    /// `epoch` as stored: an integer, or whatever else the file holds (a float such as NaN, an
    /// integer beyond 64 bits), shown as it is and never converted.
    public let epoch: TorchValue?
    /// `global_step` as stored, like ``epoch``.
    public let globalStep: TorchValue?
    /// The dotted path the weights are under (`state_dict`, `model.state_dict`), if any.
    public let stateDictKey: String?
    /// Tensors under it.
    public let stateDictTensorCount: Int
    /// The optimizers, in order.
    public let optimizers: [Optimizer]
    /// The schedulers, in order.
    public let schedulers: [Scheduler]
    /// `hyper_parameters` as plain data (OmegaConf configs replaced by the keys and values they
    /// hold, ``InertData``), if present.
    public let hyperParameters: TorchValue?
    /// `hyper_parameters` in one line of at most about 600 characters (a dict as `key=value, …`).
    public let hyperParametersText: String?
    /// Bytes of tensors under the weights, under the optimizers, and elsewhere (each sum saturates
    /// at `Int.max`: sizes come from the file).
    public let byteSplit: (weights: Int, optimizer: Int, other: Int)

    init?(_ file: TorchFile) {
        guard let checkpoint = try? LightningCheckpoint(root: file.root),
              checkpoint.lightningVersion != nil || !checkpoint.optimizers.isEmpty || checkpoint.epochValue != nil
                || checkpoint.globalStepValue != nil
        else { return nil }
        /// A 0-d or one-element tensor's value (for `step`).
        func scalar(_ record: Int) -> Double? {
            guard let tensor = try? file.tensor(record: record, name: "step"), tensor.elementCount == 1,
                  ElementCodec.canDecodeToReal(tensor.dtype) else { return nil }
            return tensor.bytes.withUnsafeBytes { ElementCodec.decodeDoubles($0, dtype: tensor.dtype).first }
        }
        lightningVersion = checkpoint.lightningVersion
        // Progress counters are kept as stored (a NaN or 2**70 epoch is shown, never converted).
        epoch = checkpoint.epochValue
        globalStep = checkpoint.globalStepValue
        stateDictKey = checkpoint.stateDictKey
        // The entries under the weights' path (a pickled module's weights are not a dict of tensors).
        stateDictTensorCount = checkpoint.stateDictKey.map { key in file.entries.filter { $0.name.hasBytePrefix(key + ".") }.count } ?? 0
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
        let hyper = checkpoint.hyperParameterData
        hyperParameters = hyper
        hyperParametersText = hyper.map { value in
            if case .dict = value { return InertDataRendering.text(value, limit: 600, bare: true) }
            return InertDataRendering.text(value, limit: 600)
        }
        var split = (weights: 0, optimizer: 0, other: 0)
        for (index, entry) in file.entries.enumerated() {
            if let key = checkpoint.stateDictKey, entry.name.hasBytePrefix(key + ".") {
                split.weights = split.weights.saturatingAdded(entry.byteCount)
            } else if file.entryRoles[index] == .optimizerState
                        || checkpoint.optimizerKey.map({ entry.name.hasBytePrefix($0 + ".") }) == true {
                split.optimizer = split.optimizer.saturatingAdded(entry.byteCount)
            } else {
                split.other = split.other.saturatingAdded(entry.byteCount)
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
            ("epoch", epoch.map(InertDataRendering.json) ?? .null),
            ("global_step", globalStep.map(InertDataRendering.json) ?? .null),
            ("state_dict_key", stateDictKey.map { .string($0) } ?? .null),
            ("optimizers", .array(optimizers.map(optimizerJSON))),
            ("lr_schedulers", .array(schedulers.map { scheduler in
                .object([("kind", scheduler.kind.map { .string($0) } ?? .null)] + scheduler.settings.map { ($0.key, .string($0.summary)) })
            })),
            ("hyper_parameters", hyperParameters.map(InertDataRendering.json) ?? .null),
            ("bytes", .object([("weights", .int(byteSplit.weights)), ("optimizer", .int(byteSplit.optimizer)), ("other", .int(byteSplit.other))])),
        ])
    }
}

/// Values read from a pickle, OmegaConf configs made plain (``InertData``), as JSON and as one
/// line of text (the exact text: the command escapes it when it shows it).
public enum InertDataRendering {
    /// The JSON form: dicts as objects (keys as dotted names spell them), lists, tuples and sets as
    /// arrays, numbers and strings as themselves, integers beyond 64 bits and anything else
    /// (tensors, objects never loaded) as their text.
    public static func json(_ value: TorchValue) -> JSONValue {
        json(value, depth: 0)
    }

    private static func json(_ value: TorchValue, depth: Int) -> JSONValue {
        // Recursion: values come from ``InertData/plain(_:)`` or a checkpoint's top level, and
        // are cut at `InertData.maxDepth` here too.
        guard depth <= InertData.maxDepth else { return .string("…") }
        switch value {
        case .none: return .null
        case .bool(let flag): return .bool(flag)
        case .int(let number): return Int(exactly: number).map { .int($0) } ?? .string(String(number))
        case .float(let number): return .double(number)
        case .string(let text): return .string(text)
        case .dict(let dict): return .object(dict.entries.map { ($0.key.nameComponent, json($0.value, depth: depth + 1)) })
        case .list(let items), .tuple(let items), .set(let items): return .array(items.map { json($0, depth: depth + 1) })
        default: return .string(text(value))
        }
    }

    /// One line: `{model: {hidden: 4, layers: [1, 2]}, lr: 0.1, name: 'x'}`, at most about `limit`
    /// characters (the rest elided with `…`); `bare` leaves out a top-level dict's braces.
    public static func text(_ value: TorchValue, limit: Int = 200, bare: Bool = false) -> String {
        var output = ""
        write(value, into: &output, limit: limit, depth: 0, bare: bare)
        return output
    }

    private static func write(_ value: TorchValue, into output: inout String, limit: Int, depth: Int, bare: Bool = false) {
        guard output.count < limit else { return }
        guard depth <= InertData.maxDepth else {
            output += "…"
            return
        }
        func sequence(_ items: [TorchValue], open: String, close: String) {
            output += open
            for (i, item) in items.enumerated() {
                if i > 0 { output += ", " }
                guard output.count < limit else {
                    output += "…"
                    break
                }
                write(item, into: &output, limit: limit, depth: depth + 1)
            }
            output += close
        }
        switch value {
        case .string(let text):
            let shown = text.prefix(limit)
            output += "'" + shown + (shown.endIndex < text.endIndex ? "…'" : "'")
        case .float(let number): output += number.isFinite ? String(number) : (number.isNaN ? "nan" : (number < 0 ? "-inf" : "inf"))
        case .list(let items): sequence(items, open: "[", close: "]")
        case .tuple(let items): sequence(items, open: "(", close: items.count == 1 ? ",)" : ")")
        case .set(let items): sequence(items, open: "{", close: "}")
        case .dict(let dict):
            if !bare { output += "{" }
            for (i, entry) in dict.entries.enumerated() {
                if i > 0 { output += ", " }
                guard output.count < limit else {
                    output += "…"
                    break
                }
                output += entry.key.nameComponent + (bare ? "=" : ": ")
                write(entry.value, into: &output, limit: limit, depth: depth + 1)
            }
            if !bare { output += "}" }
        case .opaque(let object):
            output += object.qualifiedName
            if case .dict(let state)? = object.state {
                output += "("
                for (i, entry) in state.entries.enumerated() {
                    if i > 0 { output += ", " }
                    guard output.count < limit else {
                        output += "…"
                        break
                    }
                    output += entry.key.nameComponent + "="
                    write(entry.value, into: &output, limit: limit, depth: depth + 1)
                }
                output += ")"
            } else {
                sequence(object.arguments, open: "(", close: ")")
            }
        default: output += value.summary
        }
        if output.count > limit + 1 { output = String(output.prefix(limit)) + "…" }
    }
}

/// `modelfile strip`: a checkpoint without optimizer, scheduler, loop and callback state.
public enum Strip {
    /// The top-level keys `strip` removes unless `--keep` names their part (docs/cli.md, `strip`).
    public static let removableKeys = [
        "optimizer_states", "optimizer", "optimizer_state_dict", "optim",
        "lr_schedulers", "scheduler", "scheduler_state_dict", "lr_scheduler",
        "loops", "callbacks",
    ]
    /// What `--keep` accepts, with the top-level keys each keeps.
    public static let keepChoices: [String: [String]] = [
        "optimizer": ["optimizer_states", "optimizer", "optimizer_state_dict", "optim"],
        "schedulers": ["lr_schedulers", "scheduler", "scheduler_state_dict", "lr_scheduler"],
        "loops": ["loops"],
        "callbacks": ["callbacks"],
        "hyper_parameters": ["hyper_parameters", "hparams_name", "hparams_type"],
    ]

    /// What was removed and written.
    public struct Result {
        /// Top-level keys dropped, in the input's order.
        public let removedKeys: [String]
        /// The `--drop` paths removed.
        public let droppedPaths: [String]
        /// Bytes of the input and the output.
        public let inputBytes: Int, outputBytes: Int
        /// Values left out because they hold objects that were never loaded
        /// (``ModelFileWarning/inertValueLeftOut(key:global:)``).
        public let warnings: [ModelFileWarning]
    }

    /// Copies `input` to `output` without the removable parts (except those in `keep`) and without
    /// the entries at the dotted paths `drop`. The weights and plain values stay, so the result
    /// loads with `torch.load(weights_only=True)`: a top-level value holding an object that was
    /// never loaded (an OmegaConf config in `hyper_parameters`, read with
    /// `--allow-unknown-objects`) is left out and reported, and refused when `keep` names it.
    ///
    /// - Throws: `ModelFileError` if the input is not a checkpoint dict or cannot be read, a `drop`
    ///   path is not in it, or a kept value cannot be written back.
    public static func strip(input: String, output: String, keep: Set<String>, drop: [String] = [], overwrite: Bool,
                             options: ReadOptions = ReadOptions()) throws -> Result {
        let claim = InputClaim(path: input)
        defer { withExtendedLifetime(claim) {} }
        let file = try attributing(to: input) { () throws -> TorchFile in
            let source = try ModelFile.open(input, options: options)
            guard let torch = source as? TorchFile else {
                throw StripError.notACheckpoint(found: source.format == .directory ? "a directory" : "a \(source.format.rawValue) file")
            }
            return torch
        }
        guard case .dict(var top) = file.root else {
            throw ModelFileError(path: input, underlying: StripError.notACheckpoint(found: file.root.summary))
        }
        for path in drop {
            do { top = try removing(path, from: top) } catch { throw ModelFileError(path: input, underlying: error) }
        }
        let kept = Set(keep.flatMap { keepChoices[$0] ?? [] })
        var removed: [String] = []
        var warnings: [ModelFileWarning] = []
        var entries: [(key: TorchValue, value: TorchValue)] = []
        for entry in top.entries {
            let key = entry.key.stringValue ?? ""
            if removableKeys.contains(key) && !kept.contains(key) {
                removed.append(key)
                continue
            }
            if let global = entry.value.firstInertObject {
                let name = entry.key.nameComponent
                guard !kept.contains(key), !entry.value.containsTensor() else {
                    throw ModelFileError(path: input, underlying: StripError.inertValue(key: name, global: global))
                }
                warnings.append(.inertValueLeftOut(key: name, global: global))
                continue
            }
            entries.append(entry)
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
        return Result(removedKeys: removed, droppedPaths: drop, inputBytes: file.fileByteCount, outputBytes: written, warnings: warnings)
    }

    /// `top` without the entry at dotted `path`. Keys may themselves hold dots (a state dict's
    /// `0.weight`): at each dict the key that equals the rest of the path wins, else the longest key
    /// that starts it; list items go by index.
    static func removing(_ path: String, from top: TorchDict) throws -> TorchDict {
        // Keys and paths compare by their bytes (docs/formats.md, "Names and text").
        func firstComponent(_ rest: String) -> String {
            rest.utf8.firstIndex(of: UInt8(ascii: ".")).map { String(rest[..<$0]) } ?? rest
        }
        func remove(_ rest: String, from value: TorchValue, at place: String) throws -> TorchValue {
            func here(_ component: String) -> String { place.isEmpty ? component : place + "." + component }
            switch value {
            case .dict(var dict):
                var best: (index: Int, length: Int)?
                for (index, entry) in dict.entries.enumerated() {
                    let key = entry.key.nameComponent
                    if key.isByteEqual(to: rest) {
                        best = (index, key.utf8.count)
                        break
                    }
                    if rest.hasBytePrefix(key + "."), key.utf8.count > best?.length ?? -1 { best = (index, key.utf8.count) }
                }
                guard let (index, length) = best else {
                    throw StripError.pathNotFound(path: path, missing: here(firstComponent(rest)))
                }
                let key = dict.entries[index].key.nameComponent
                if length == rest.utf8.count {
                    dict.entries.remove(at: index)
                } else if let inner = rest.droppingBytePrefix(key + ".") {
                    dict.entries[index].value = try remove(inner, from: dict.entries[index].value, at: here(key))
                }
                return .dict(dict)
            case .list(var items):
                let first = firstComponent(rest)
                guard let index = Int(first), items.indices.contains(index) else { throw StripError.pathNotFound(path: path, missing: here(first)) }
                if let inner = rest.droppingBytePrefix(first + ".") {
                    items[index] = try remove(inner, from: items[index], at: here(first))
                } else {
                    items.remove(at: index)
                }
                return .list(items)
            default:
                throw StripError.pathNotFound(path: path, missing: here(firstComponent(rest)))
            }
        }
        guard case .dict(let result) = try remove(path, from: .dict(top), at: "") else { return top }
        return result
    }
}

/// Why `strip` cannot work on a file.
public enum StripError: Error, Equatable, CustomStringConvertible {
    /// The input's top level is not a dict.
    case notACheckpoint(found: String)
    /// A `--drop` path names nothing in the input; `missing` is its first component not found.
    case pathNotFound(path: String, missing: String)
    /// A value to keep holds an object that was never loaded, which cannot be written back.
    case inertValue(key: String, global: String)

    public var description: String {
        switch self {
        case .notACheckpoint(let found): return "not a checkpoint dict (found \(found)); strip works on .ckpt and torch checkpoint files"
        case .pathNotFound(let path, let missing):
            return "--drop \(path): the checkpoint has no \(missing)"
        case .inertValue(let key, let global):
            return "\(key) holds \(global), which was never loaded, so it cannot be written back "
                + "(strip leaves such a value out unless --keep names it or it holds tensors; convert extracts tensors)"
        }
    }
}

extension Conversion {
    /// The input file when a `.ckpt` output is its whole tree: a checkpoint with weights, converted
    /// without `--select` or `--strip-prefix`.
    static func wholeCheckpoint(_ plan: ConversionPlan, options: ConversionOptions) -> TorchFile? {
        guard let file = plan.source as? TorchFile, options.select == nil, options.stripPrefix == nil, case .dict = file.root,
              (try? LightningCheckpoint(root: file.root))?.stateDictKey != nil
        else { return nil }
        return file
    }

    /// A `.ckpt`: a checkpoint's whole tree when the input is one (everything kept, so training can
    /// resume), otherwise the weights as a weights-only Lightning checkpoint.
    static func writeCheckpoint(_ plan: ConversionPlan, to output: String, options: ConversionOptions) throws -> ConversionResult {
        guard options.maxShardBytes == nil else { throw ConversionError.shardingNeedsSafetensors }
        if let file = wholeCheckpoint(plan, options: options) {
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
            entries: plan.entries, to: output, overwrite: options.overwrite, stateDict: plan.stateDictItems, tensorBytes: plan.bytes(at:),
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
