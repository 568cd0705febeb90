import BinaryIO
import ModelFormats
import TensorData

/// Output formats `convert` writes.
public enum OutputFormat: String, Sendable, CaseIterable {
    /// A `.safetensors` file (or, with `--max-shard-size`, a folder of shards).
    case safetensors
    /// A `.pth`/`.pt`/`.bin` torch zip archive of an `OrderedDict`.
    case pth
    /// A `.ckpt` Lightning checkpoint.
    case ckpt
    /// A NumPy `.npz` archive of `.npy` members.
    case npz
    /// A NumPy `.npy` file: exactly one tensor.
    case npy
    /// A GGUF file (llama.cpp).
    case gguf

    /// Whether a file with this extension may hold `format` (`.pth` and `.ckpt` are both torch
    /// archives; a `.ckpt` need not be Lightning's; `.pt` is also TorchScript's usual extension).
    public func accepts(_ format: ModelFormat) -> Bool {
        switch self {
        case .safetensors: return format == .safetensors
        case .pth: return [.pytorchZip, .pytorchLegacy, .lightningCheckpoint, .torchScript].contains(format)
        case .ckpt: return format == .pytorchZip || format == .pytorchLegacy || format == .lightningCheckpoint
        case .npz: return format == .numpyNpz
        case .npy: return format == .numpyNpy
        case .gguf: return format == .gguf
        }
    }

    /// The format implied by a file name's extension, if any.
    public init?(pathExtensionOf path: String) {
        let name = path.split(separator: "/").last.map(String.init) ?? path
        guard let dot = name.lastIndex(of: ".") else { return nil }
        switch name[name.index(after: dot)...].lowercased() {
        case "safetensors": self = .safetensors
        case "pth", "pt", "bin": self = .pth
        case "ckpt": self = .ckpt
        case "npz": self = .npz
        case "npy": self = .npy
        case "gguf": self = .gguf
        default: return nil
        }
    }
}

/// What `convert` should do besides copying.
public struct ConversionOptions {
    /// The output format; `nil` means from the output's extension.
    public var outputFormat: OutputFormat?
    /// Cast floating-point tensors (F16, BF16, F32, F64) to this dtype.
    public var dtype: DType?
    /// GGUF output only: quantize eligible tensors to this block type (`--dtype q8_0`).
    public var quantization: GGMLType?
    /// Keep only tensors under this dotted path, named relative to it.
    public var select: String?
    /// Remove this prefix from tensor names that start with it.
    public var stripPrefix: String?
    /// Write shards of at most this many bytes of tensor data into the output folder.
    public var maxShardBytes: Int?
    /// Replace existing outputs.
    public var overwrite = false
    /// Reading options (unknown pickle globals).
    public var readOptions = ReadOptions()
    /// Called with (bytes done, bytes total) as tensors are written.
    public var progress: ((Int, Int) -> Void)?
    /// When set (by a spelling such as `pth-to-safetensors`), the input must have one of these formats.
    public var requiredInput: (spelling: String, formats: Set<ModelFormat>)?

    /// Default options: same dtypes, every tensor, no overwrite.
    public init() {}
}

/// What a conversion wrote.
public struct ConversionResult {
    /// Files written.
    public let outputs: [String]
    /// Tensors written.
    public let tensorCount: Int
    /// Bytes of tensor data written.
    public let tensorBytes: Int
    /// Non-fatal notes (tensors left in their dtype, …).
    public let warnings: [ModelFileWarning]
    /// The part of the input written when `--select` was not given, if only a part was.
    public var selection: WeightsSelection? = nil
    /// Tensors of the input that were not written (outside the selection).
    public var leftOutTensorCount = 0
}

/// The part of an input `convert` writes by default, and why (docs/cli.md, `convert`). The
/// command says on stderr which part it took.
public enum WeightsSelection: Sendable, Equatable {
    /// A Lightning checkpoint's `state_dict`.
    case lightningCheckpoint
    /// A pickle whose top-level dict holds a `state_dict` dict (as `train --out x.pth` writes).
    case stateDict
    /// A training checkpoint's weights (optimizer state or progress counters beside them): the
    /// first of `model_state_dict`, `state_dict`, `model`, `module`, `net` that holds tensors, or its
    /// nested `state_dict` (`path` is then `model.state_dict`).
    case trainingCheckpoint(path: String)
    /// A TorchScript archive's parameters and buffers (its `state_dict()`); its constants and code
    /// are not written.
    case torchScriptModule

    /// The dotted path whose tensors are written, named relative to it; `nil` for a TorchScript
    /// module, whose state dict is every entry that is not a constant.
    public var path: String? {
        switch self {
        case .lightningCheckpoint, .stateDict: return "state_dict"
        case .trainingCheckpoint(let path): return path
        case .torchScriptModule: return nil
        }
    }
}

/// Converts between model formats, streaming one tensor at a time.
public enum Conversion {
    /// Converts `input` to `output`.
    ///
    /// - Throws: `ModelFileError` naming the file at fault; nothing is left at `output` on failure.
    public static func convert(input: String, output: String, options: ConversionOptions) throws -> ConversionResult {
        // The input (a file, an index, a folder) stays claimed until the end, so no output replaces it.
        let claim = InputClaim(path: input)
        defer { withExtendedLifetime(claim) {} }
        let source = try attributing(to: input) { try ModelFile.open(input, options: options.readOptions) }
        if let required = options.requiredInput {
            let format = source.contentSource.format
            guard required.formats.contains(format) || required.formats.contains(source.format) else {
                throw ModelFileError(path: input, underlying: ConversionError.inputFormatMismatch(spelling: required.spelling, found: source.format))
            }
        }
        let format = options.outputFormat ?? OutputFormat(pathExtensionOf: output) ?? (options.maxShardBytes != nil ? .safetensors : nil)
        guard let format else {
            throw ModelFileError(path: output, underlying: ConversionError.unknownOutputFormat)
        }
        if let quantization = options.quantization, format != .gguf {
            throw ModelFileError(path: output, underlying: ConversionError.quantizationNeedsGGUF(quantization))
        }
        let plan = try attributing(to: input) { try ConversionPlan(source: source, options: options, output: format) }
        // A conversion that would materialise more than the read budget allows fails before
        // anything is written (one storage viewed by a million tensors, zero-stride expansions).
        if let budgeted = ((source as? FolderSource)?.weights ?? source) as? ReadBudgeted {
            let charge = plan.sourceIndices.saturatingSum { budgeted.budgetCharge(forTensorAt: $0) }
            try attributing(to: input) { try budgeted.readBudget.check(charge, for: "converting its \(plan.entries.count) tensors") }
        }
        var result = try write(plan, format: format, output: output, options: options)
        // A .ckpt of a whole checkpoint keeps everything: nothing was selected then.
        if format != .ckpt || wholeCheckpoint(plan, options: options) == nil {
            result.selection = plan.selection
            result.leftOutTensorCount = plan.source.entries.count - plan.entries.count
        }
        return result
    }

    static func write(_ plan: ConversionPlan, format: OutputFormat, output: String, options: ConversionOptions) throws -> ConversionResult {
        return try attributing(to: output) {
            switch format {
            case .safetensors:
                return try writeSafetensors(plan, to: output, options: options)
            case .pth:
                return try writePth(plan, to: output, options: options)
            case .ckpt:
                return try writeCheckpoint(plan, to: output, options: options)
            case .npz:
                return try writeNpz(plan, to: output, options: options)
            case .npy:
                return try writeNpy(plan, to: output, options: options)
            case .gguf:
                return try writeGGUF(plan, to: output, options: options)
            }
        }
    }

    static func writeSafetensors(_ plan: ConversionPlan, to output: String, options: ConversionOptions) throws -> ConversionResult {
        let total = plan.entries.saturatingSum(\.byteCount)
        var done = 0
        // safetensors inputs keep their metadata as it is; others get Hugging Face's {"format": "pt"}.
        let inputFormat = plan.source.contentSource.format
        var metadata = inputFormat == .safetensors || inputFormat == .safetensorsSharded ? plan.source.metadata : ["format": "pt"]
        if inputFormat == .gguf {
            // Every GGUF key, its value as JSON text, beside the "format" Hugging Face loaders check.
            metadata = (plan.source.metadata ?? [:]).merging(["format": "pt"]) { fromFile, _ in fromFile }
        }
        // A network `train` saved as .pth or .ckpt keeps its description (architecture,
        // standardisation, columns) in safetensors, where `predict` looks for it.
        if let file = plan.source as? TorchFile, let description = NetworkDescription(torchValue: file.root["modelfile"]) {
            metadata = (metadata ?? [:]).merging(description.metadata) { fromFile, _ in fromFile }
        }
        let didWrite: (Int) -> Void = { index in
            plan.release(index)
            done = done.saturatingAdded(plan.entries[index].byteCount)
            options.progress?(done, total)
        }
        let outputs: [String]
        if let maxShardBytes = options.maxShardBytes {
            try ensureFolder(output)
            outputs = try SafetensorsShardWriter.write(
                folder: output, entries: plan.entries, metadata: metadata ?? ["format": "pt"], maxShardBytes: maxShardBytes,
                overwrite: options.overwrite, tensorBytes: plan.bytes(at:), didWrite: didWrite)
        } else {
            try SafetensorsWriter.write(
                to: output, entries: plan.entries, metadata: metadata, overwrite: options.overwrite,
                tensorBytes: plan.bytes(at:), didWrite: didWrite)
            outputs = [output]
        }
        return ConversionResult(outputs: outputs, tensorCount: plan.entries.count, tensorBytes: total, warnings: plan.warnings)
    }

    /// A `.pth` holding an OrderedDict of the tensors, as `torch.save(state_dict)` writes it.
    static func writePth(_ plan: ConversionPlan, to output: String, options: ConversionOptions) throws -> ConversionResult {
        guard options.maxShardBytes == nil else { throw ConversionError.shardingNeedsSafetensors }
        let total = plan.entries.saturatingSum(\.byteCount)
        var done = 0
        // Tied tensors are one storage under all their names, as torch.save writes them, so the
        // file loads into the tied model with load_state_dict(strict=True) (docs/cli.md, `convert`).
        let items = plan.stateDictItems.map { (key: TorchValue.string($0.name), value: TorchValue.tensor($0.tensor)) }
        let object = TorchValue.dict(TorchDict(items, isOrdered: true))
        try TorchWriter.write(
            to: output, object: object, tensors: plan.entries, overwrite: options.overwrite, tensorBytes: plan.bytes(at:),
            didWrite: { index in
                plan.release(index)
                done = done.saturatingAdded(plan.entries[index].byteCount)
                options.progress?(done, total)
            })
        return ConversionResult(outputs: [output], tensorCount: plan.entries.count, tensorBytes: total, warnings: plan.warnings)
    }

    /// An `.npz` of the tensors, one stored `.npy` member each, as `numpy.savez` writes them.
    static func writeNpz(_ plan: ConversionPlan, to output: String, options: ConversionOptions) throws -> ConversionResult {
        guard options.maxShardBytes == nil else { throw ConversionError.shardingNeedsSafetensors }
        let total = plan.entries.saturatingSum(\.byteCount)
        var done = 0
        try NumPyWriter.writeNpz(
            to: output, entries: plan.entries, overwrite: options.overwrite, tensorBytes: plan.bytes(at:),
            didWrite: { index in
                plan.release(index)
                done = done.saturatingAdded(plan.entries[index].byteCount)
                options.progress?(done, total)
            })
        return ConversionResult(outputs: [output], tensorCount: plan.entries.count, tensorBytes: total, warnings: plan.warnings)
    }

    /// A `.npy` of the one tensor the plan holds (`--select NAME` picks it from several).
    static func writeNpy(_ plan: ConversionPlan, to output: String, options: ConversionOptions) throws -> ConversionResult {
        guard options.maxShardBytes == nil else { throw ConversionError.shardingNeedsSafetensors }
        guard plan.entries.count == 1, let entry = plan.entries.first else { throw ConversionError.npyHoldsOneTensor(count: plan.entries.count) }
        try NumPyWriter.writeNpy(to: output, entry: entry, overwrite: options.overwrite) { try plan.bytes(at: 0) }
        plan.release(0)
        options.progress?(entry.byteCount, entry.byteCount)
        return ConversionResult(outputs: [output], tensorCount: 1, tensorBytes: entry.byteCount, warnings: plan.warnings)
    }

    private static func ensureFolder(_ path: String) throws {
        try OutputTarget.checkFolder(path)
        var info = stat()
        if stat(path, &info) == 0 {
            guard (info.st_mode & S_IFMT) == S_IFDIR else { throw ConversionError.shardOutputNotAFolder }
            return
        }
        guard mkdir(path, 0o777) == 0 else { throw FileError(path: path, operation: "create folder", errno: errno) }
    }
}

/// Why a conversion could not start.
public enum ConversionError: Error, Equatable, CustomStringConvertible {
    /// No `--to` and no recognised extension.
    case unknownOutputFormat
    /// `--max-shard-size` needs a folder as output.
    case shardOutputNotAFolder
    /// The output format cannot be written from this input.
    case unsupportedOutput(OutputFormat)
    /// `--select` matched nothing.
    case selectionEmpty(String)
    /// `--dtype` asked for a type `convert` does not cast to.
    case unsupportedCast(DType)
    /// Renaming made two tensors share a name.
    case nameCollision(String)
    /// `--max-shard-size` with a non-safetensors output.
    case shardingNeedsSafetensors
    /// The input's format is not the one a spelling such as `pth-to-safetensors` names.
    case inputFormatMismatch(spelling: String, found: ModelFormat)
    /// A `.npy` output holds one tensor; the selection has `count`.
    case npyHoldsOneTensor(count: Int)
    /// `--dtype q8_0` asks for a block type only GGUF stores.
    case quantizationNeedsGGUF(GGMLType)

    /// Whether the error is in the command line rather than the files (the CLI exits 64).
    public var isUsageError: Bool {
        if case .npyHoldsOneTensor = self { return true }
        return false
    }

    public var description: String {
        switch self {
        case .unknownOutputFormat: return "cannot tell the output format from the extension; use --to safetensors|pth|ckpt|npz|npy|gguf"
        case .shardOutputNotAFolder: return "--max-shard-size writes a folder of shards; the output exists and is not a folder"
        case .unsupportedOutput(let format): return "writing \(format.rawValue) from this input is not supported"
        case .selectionEmpty(let path): return "--select \(path) matches no tensors"
        case .unsupportedCast(let dtype): return "--dtype \(dtype) is not a floating-point type convert casts to (f32, f16, bf16)"
        case .nameCollision(let name): return "after renaming, two tensors are named \(name.quotedForMessage)"
        case .shardingNeedsSafetensors: return "--max-shard-size writes safetensors shards; it cannot be combined with --to pth, ckpt, npz, npy or gguf"
        case .inputFormatMismatch(let spelling, let found):
            return "\(spelling) expects a \(spelling.split(separator: "-").first ?? "") file; this is \(found.rawValue)"
        case .npyHoldsOneTensor(let count):
            return count == 0
                ? "a .npy holds one tensor; the input has none"
                : "a .npy holds one tensor; the input has \(count) (pick one with --select NAME, or write .npz)"
        case .quantizationNeedsGGUF(let type):
            return "--dtype \(type.name.lowercased()) writes GGUF blocks; use a .gguf output or --to gguf"
        }
    }
}

/// The tensors a conversion writes: selection, renaming and casting applied to a source.
struct ConversionPlan {
    let source: TensorSource
    /// Output entries (renamed, cast).
    let entries: [TensorEntry]
    /// For each output entry, the source index.
    let sourceIndices: [Int]
    let cast: DType?
    let warnings: [ModelFileWarning]
    /// The default selection applied (no `--select`), if any.
    let selection: WeightsSelection?
    /// For each output entry, the first output entry that is the same tensor (itself when none).
    let tiedTo: [Int]
    /// safetensors aliases: names without a stored tensor, and the output entry they name.
    let aliases: [(name: String, entry: Int)]

    init(source: TensorSource, options: ConversionOptions, output: OutputFormat = .safetensors) throws {
        self.source = source
        if let dtype = options.dtype, !dtype.isCastableFloat || dtype == .f64 { throw ConversionError.unsupportedCast(dtype) }
        // GGUF to another format dequantizes to float32 by default (docs/cli.md, "GGUF"); GGUF
        // output plans its own types (GGUFConversion.swift).
        let ggufDefault: DType? = output != .gguf && source.format == .gguf ? .f32 : nil
        let target = output == .gguf ? nil : (options.dtype ?? ggufDefault)
        cast = target
        selection = options.select == nil ? ConversionPlan.defaultSelection(source) : nil
        let select = options.select ?? selection?.path
        let roles = selection == .torchScriptModule ? (source as? TorchFile)?.entryRoles : nil
        var entries: [TensorEntry] = []
        var indices: [Int] = []
        // Names are matched and compared by their bytes (docs/formats.md, "Names and text").
        var names = Set<ExactString>()
        var uncast: [String] = []
        func renamed(_ original: String) -> String? {
            var name = original
            if let select {
                if let rest = name.droppingBytePrefix(select + ".") { name = rest } else if !name.isByteEqual(to: select) { return nil }
            }
            if let prefix = options.stripPrefix, let rest = name.droppingBytePrefix(prefix), !rest.isEmpty { name = rest }
            return name
        }
        for (index, entry) in source.entries.enumerated() {
            if let roles, roles[index] == .torchScriptConstant { continue }
            guard let name = renamed(entry.name) else { continue }
            guard names.insert(ExactString(name)).inserted else { throw ConversionError.nameCollision(name) }
            var dtype = entry.dtype
            if options.dtype == nil, let target, entry.dtype == .f16 || entry.dtype == .bf16 {
                dtype = target  // the GGUF default: half types widened, F64 kept
            } else if options.dtype != nil, let target {
                if entry.dtype.isCastableFloat { dtype = target } else if entry.dtype.isFloatingPoint || entry.dtype.isComplex { uncast.append(entry.name) }
            }
            entries.append(TensorEntry(name: name, dtype: dtype, shape: entry.shape))
            indices.append(index)
        }
        if let select, entries.isEmpty, !source.entries.isEmpty { throw ConversionError.selectionEmpty(select) }
        self.entries = entries
        sourceIndices = indices
        // Tied tensors (docs/cli.md, "Tied tensors"): entries that are one pickled tensor, and
        // safetensors aliases, renamed as their tensors are.
        let inner = (source as? FolderSource)?.weights ?? source
        let identities = (inner as? ParameterCountingSource)?.parameterCounting
        var firstOf: [AnyHashable: Int] = [:]
        tiedTo = indices.enumerated().map { output, sourceIndex in
            guard let identity = identities?[sourceIndex].tensor else { return output }
            if let first = firstOf[identity] { return first }
            firstOf[identity] = output
            return output
        }
        var outputOf: [Int: Int] = [:]
        for (output, sourceIndex) in indices.enumerated() { outputOf[sourceIndex] = output }
        var aliases: [(name: String, entry: Int)] = []
        for (sourceIndex, aliasNames) in TiedTensors.aliases(of: source).sorted(by: { $0.key < $1.key }) {
            guard let output = outputOf[sourceIndex] else { continue }
            for alias in aliasNames {
                guard let name = renamed(alias) else { continue }
                guard names.insert(ExactString(name)).inserted else { throw ConversionError.nameCollision(name) }
                aliases.append((name, output))
            }
        }
        self.aliases = aliases
        warnings = uncast.isEmpty ? [] : [.castLeavesTensorsUnchanged(names: uncast)]
    }

    /// What is converted when `--select` is not given: a Lightning checkpoint's `state_dict`; a
    /// TorchScript module's parameters and buffers; a training checkpoint's weights
    /// (``LightningCheckpoint/weightsPath(in:)``); the `state_dict` of any other pickle whose
    /// top-level dict holds one; otherwise everything (`nil`).
    static func defaultSelection(_ source: TensorSource) -> WeightsSelection? {
        if source.format == .lightningCheckpoint { return .lightningCheckpoint }
        if source.format == .torchScript { return .torchScriptModule }
        guard let file = source as? TorchFile, case .dict(let top) = file.root else { return nil }
        if LightningCheckpoint.isTrainingCheckpoint(top), let path = LightningCheckpoint.weightsPath(in: top) {
            return .trainingCheckpoint(path: path)
        }
        if case .dict? = top["state_dict"] { return .stateDict }
        return nil
    }

    /// The bytes of output entry `index`, cast if asked.
    func bytes(at index: Int) throws -> TensorBytes {
        // A fault in the input names the input, though it surfaces while the output is written.
        let raw = try attributing(to: source.path) { try source.tensor(at: sourceIndices[index]) }
        return ConversionPlan.cast(raw, to: entries[index].dtype, byteCount: entries[index].byteCount)
    }

    /// `raw`'s bytes as `target` (one of the castable float types when it differs from raw's).
    static func cast(_ raw: RawTensor, to target: DType, byteCount: Int) -> TensorBytes {
        guard raw.dtype != target else { return raw.bytes }
        return raw.bytes.withUnsafeBytes { input in
            TensorBytes(count: byteCount) { output in
                ElementCodec.cast(input, from: raw.dtype, to: target, into: output)
            }
        }
    }

    /// The state dict written to `.pth` and `.ckpt`: every output name, tied names and aliases
    /// pointing at one tensor.
    var stateDictItems: [(name: String, tensor: Int)] {
        entries.enumerated().map { (name: $0.element.name, tensor: tiedTo[$0.offset]) } + aliases.map { (name: $0.name, tensor: tiedTo[$0.entry]) }
    }

    func release(_ index: Int) { source.releaseMemory(forTensorAt: sourceIndices[index]) }
}

#if canImport(Glibc)
import Glibc
#endif
