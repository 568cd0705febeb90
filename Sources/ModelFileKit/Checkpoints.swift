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
              checkpoint.lightningVersion != nil || !checkpoint.optimizers.isEmpty || checkpoint.epochValue != nil
                || checkpoint.globalStepValue != nil
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

    /// Bytes of tensors under the weights, under the optimizers, and elsewhere (each sum saturates
    /// at `Int.max`: sizes come from the file).
    var byteSplit: (weights: Int, optimizer: Int, other: Int) {
        var split = (weights: 0, optimizer: 0, other: 0)
        func add(_ total: inout Int, _ count: Int) {
            let (sum, overflow) = total.addingReportingOverflow(count)
            total = overflow ? Int.max : sum
        }
        for (index, entry) in file.entries.enumerated() {
            if let key = checkpoint.stateDictKey, entry.name.hasPrefix(key + ".") {
                add(&split.weights, entry.byteCount)
            } else if file.entryRoles[index] == .optimizerState
                        || checkpoint.optimizerKey.map({ entry.name.hasPrefix($0 + ".") }) == true {
                add(&split.optimizer, entry.byteCount)
            } else {
                add(&split.other, entry.byteCount)
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
            ("epoch", checkpoint.epochValue.map(InertDataRendering.json) ?? .null),
            ("global_step", checkpoint.globalStepValue.map(InertDataRendering.json) ?? .null),
            ("state_dict_key", checkpoint.stateDictKey.map { .string($0) } ?? .null),
            ("optimizers", .array(checkpoint.optimizers.map(optimizerJSON))),
            ("lr_schedulers", .array(checkpoint.schedulers.map { scheduler in
                .object([("kind", scheduler.kind.map { .string($0) } ?? .null)]
                        + scheduler.settings.entries.compactMap { entry in
                            guard let key = entry.key.stringValue, entry.value.isScalarLeaf || entry.value.sequenceItems?.allSatisfy(\.isScalarLeaf) == true else { return nil }
                            return (key, .string(entry.value.summary))
                        })
            })),
            ("hyper_parameters", checkpoint.hyperParameterData.map(InertDataRendering.json) ?? .null),
            ("bytes", .object([("weights", .int(split.weights)), ("optimizer", .int(split.optimizer)), ("other", .int(split.other))])),
        ])
    }

    var lines: [String] {
        var lines: [String] = []
        var progress: [String] = []
        if let version = checkpoint.lightningVersion { progress.append("Lightning \(version)") }
        if let epoch = checkpoint.epochValue { progress.append("epoch \(InertDataRendering.text(epoch))") }
        if let step = checkpoint.globalStepValue { progress.append("global step \(InertDataRendering.text(step))") }
        if !progress.isEmpty { lines.append(progress.joined(separator: ", ")) }
        if let key = checkpoint.stateDictKey {
            let count = file.entries.filter { $0.name.hasPrefix(key + ".") }.count
            lines.append("weights under \"\(key)\": \(count) tensors")
        }
        for (i, optimizer) in checkpoint.optimizers.enumerated() {
            var parts = ["optimizer \(i): \(optimizer.kind.rawValue)"]
            if let lr = optimizer.number("lr") { parts.append("lr \(lr)" + (optimizer.number("initial_lr").map { " (initial \($0))" } ?? "")) }
            if let betas = optimizer.betas { parts.append("betas (\(betas.0), \(betas.1))") }
            if let momentum = optimizer.number("momentum"), optimizer.kind == .sgd { parts.append("momentum \(momentum)") }
            if let decay = optimizer.number("weight_decay") { parts.append("weight_decay \(decay)") }
            if case .bool(true)? = optimizer.paramGroups.first?["amsgrad"] { parts.append("amsgrad") }
            if let step = checkpoint.stepCount(of: optimizer, tensorValue: scalar) { parts.append("step \(InertDataRendering.number(step))") }
            let indices = optimizer.parameterIndices
            let range = indices.first.flatMap { first in indices.last.map { " [\(first)…\($0)]" } } ?? ""
            parts.append("\(indices.count) parameters" + range + ", \(optimizer.state.count) with state")
            lines.append(parts.joined(separator: ", "))
        }
        for (i, scheduler) in checkpoint.schedulers.enumerated() {
            let settings = scheduler.settings.entries.compactMap { entry -> String? in
                guard let key = entry.key.stringValue, !key.hasPrefix("_"), entry.value.isScalarLeaf else { return nil }
                return "\(key) \(entry.value.summary)"
            }
            lines.append("scheduler \(i): \(scheduler.kind ?? "unknown")" + (settings.isEmpty ? "" : ", " + settings.joined(separator: ", ")))
        }
        if let hyper = checkpoint.hyperParameterData {
            let text: String
            if case .dict(let dict) = hyper {
                text = InertDataRendering.text(.dict(dict), limit: 600, bare: true)
            } else {
                text = InertDataRendering.text(hyper, limit: 600)
            }
            lines.append("hyper_parameters: " + text)
        }
        let split = byteSplit
        lines.append("bytes: weights \(Formatting.bytes(split.weights)), optimizer state \(Formatting.bytes(split.optimizer)), other tensors \(Formatting.bytes(split.other))")
        return lines
    }
}

/// Values read from a pickle, OmegaConf configs made plain (``InertData``), as JSON and as one
/// line of text.
enum InertDataRendering {
    /// The JSON form: dicts as objects (keys as dotted names spell them), lists, tuples and sets as
    /// arrays, numbers and strings as themselves, integers beyond 64 bits and anything else
    /// (tensors, objects never loaded) as their text.
    static func json(_ value: TorchValue) -> JSONValue {
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
    static func text(_ value: TorchValue, limit: Int = 200, bare: Bool = false) -> String {
        var output = ""
        write(value, into: &output, limit: limit, depth: 0, bare: bare)
        return output
    }

    /// A number as a count when it is one (`3`), else as written (`nan`, `1e+300`, `2.5`).
    static func number(_ value: Double) -> String {
        if let integer = Int(exactly: value) { return String(integer) }
        return String(value)
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
        let file = try attributing(to: input) { () throws -> TorchFile in
            guard let torch = try ModelFile.open(input, options: options) as? TorchFile else {
                throw StripError.notACheckpoint(found: "not a PyTorch or Lightning file")
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
            if let global = firstInertObject(in: entry.value) {
                let name = entry.key.nameComponent
                guard !kept.contains(key), !entry.value.containsTensor() else {
                    throw ModelFileError(path: input, underlying: StripError.inertValue(key: name, global: global))
                }
                warnings.append(.inertValueLeftOut(key: name, global: global))
                continue
            }
            entries.append(entry)
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
        return Result(removedKeys: removed, droppedPaths: drop, inputBytes: file.fileByteCount, outputBytes: written, warnings: warnings)
    }

    /// `top` without the entry at dotted `path`. Keys may themselves hold dots (a state dict's
    /// `0.weight`): at each dict the key that equals the rest of the path wins, else the longest key
    /// that starts it; list items go by index.
    static func removing(_ path: String, from top: TorchDict) throws -> TorchDict {
        func remove(_ rest: Substring, from value: TorchValue, at place: String) throws -> TorchValue {
            func here(_ component: String) -> String { place.isEmpty ? component : place + "." + component }
            switch value {
            case .dict(var dict):
                var best: (index: Int, length: Int)?
                for (index, entry) in dict.entries.enumerated() {
                    let key = entry.key.nameComponent
                    if key == rest {
                        best = (index, key.count)
                        break
                    }
                    if rest.hasPrefix(key + "."), key.count > best?.length ?? -1 { best = (index, key.count) }
                }
                guard let (index, length) = best else {
                    throw StripError.pathNotFound(path: path, missing: here(String(rest.prefix { $0 != "." })))
                }
                let key = dict.entries[index].key.nameComponent
                if length == rest.count {
                    dict.entries.remove(at: index)
                } else {
                    dict.entries[index].value = try remove(rest.dropFirst(length + 1), from: dict.entries[index].value, at: here(key))
                }
                return .dict(dict)
            case .list(var items):
                let first = rest.prefix { $0 != "." }
                guard let index = Int(first), items.indices.contains(index) else { throw StripError.pathNotFound(path: path, missing: here(String(first))) }
                if first.count == rest.count {
                    items.remove(at: index)
                } else {
                    items[index] = try remove(rest.dropFirst(first.count + 1), from: items[index], at: here(String(first)))
                }
                return .list(items)
            default:
                throw StripError.pathNotFound(path: path, missing: here(String(rest.prefix { $0 != "." })))
            }
        }
        guard case .dict(let result) = try remove(path[...], from: .dict(top), at: "") else { return top }
        return result
    }

    /// The qualified name of the first object or class inside `value` that was never loaded (kept
    /// inert), depth first.
    static func firstInertObject(in value: TorchValue) -> String? {
        var pending: [TorchValue] = [value]
        var visits = 0
        while let next = pending.popLast(), visits < 10_000_000 {
            visits += 1
            switch next {
            case .opaque(let object): return object.qualifiedName
            case .global(let module, let name) where TorchGlobals.meaning(module: module, name: name) == nil: return "\(module).\(name)"
            case .dict(let dict): pending.append(contentsOf: dict.entries.reversed().flatMap { [$0.value, $0.key] })
            case .list(let items), .tuple(let items), .set(let items): pending.append(contentsOf: items.reversed())
            default: continue
            }
        }
        return nil
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
