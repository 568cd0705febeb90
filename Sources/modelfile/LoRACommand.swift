import ArgumentParser
import ModelFileKit
import ModelFormats
import TensorData

/// `modelfile lora`: LoRA adapter files.
struct LoRACommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lora",
        abstract: "Work with LoRA adapters (PEFT folders, kohya-style safetensors).",
        subcommands: [LoRAMergeCommand.self])
}

struct LoRAMergeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge",
        abstract: "Merge a LoRA adapter into base weights: W + S·s·(B·A), streaming, written like convert.",
        discussion: """
            ADAPTER is a PEFT adapter folder (adapter_config.json + adapter_model.safetensors or .bin) or a kohya-style
            safetensors file (lora_down / lora_up / alpha). s is PEFT's scaling (lora_alpha / r, rsLoRA lora_alpha / √r,
            rank_pattern / alpha_pattern), or kohya's alpha / r. The delta is computed and added in float32 and rounded
            once to each tensor's dtype; other tensors are copied bit for bit. Every adapter entry must land on a base
            tensor of a fitting shape, else nothing is written. DoRA, LoHa, LoKr, IA³ and other kinds are refused.
            """)

    @Argument(help: "The base model: a file, a folder or a sharded set, in any readable format.")
    var base: String

    @Argument(help: "The adapter: a PEFT adapter folder (or its adapter_model.* file) or a kohya-style .safetensors file.")
    var adapter: String

    @Argument(help: "The merged model (format from the extension, or a folder with --max-shard-size).")
    var out: String

    @Option(name: .long, help: "Multiply the adapter's delta by S (default 1).")
    var scale: Double = 1

    @Option(name: .long, help: "Write floating-point tensors as f32, f16 or bf16 (merged ones are rounded once, to it).")
    var dtype: MergeDType?

    @Option(name: .long, help: "Output format: safetensors, pth or ckpt (default: from OUT's extension).")
    var to: OutputFormat?

    @Option(name: .customLong("max-shard-size"), help: "Write shards of at most this size (5GB = 5×10^9 bytes, 5GiB = 5×2^30) plus an index into the folder OUT.")
    var maxShardSize: String?

    @Flag(name: .long, help: "Overwrite existing output files.")
    var force = false

    @Flag(name: .long, help: "Write nothing on stderr unless the command fails: no progress, warnings or 'wrote' lines.")
    var quiet = false

    @OptionGroup var reading: ReadingOptions

    func validate() throws {
        Terminal.isQuiet = quiet
        guard scale.isFinite else { throw ValidationError("--scale \(scale) is not a finite number") }
        if let maxShardSize, ByteSize.parse(maxShardSize) == nil {
            throw ValidationError("--max-shard-size \(maxShardSize) is not a size (e.g. 5GB, 500MiB, 1000000)")
        }
    }

    func run() throws {
        try Terminal.run {
            var options = LoRAMergeOptions()
            options.scale = scale
            options.dtype = dtype?.dtype
            options.outputFormat = to
            options.maxShardBytes = maxShardSize.flatMap(ByteSize.parse)
            options.overwrite = force
            options.readOptions = reading.readOptions
            let progress = ProgressLine(quiet: quiet)
            options.progress = progress.update
            let result = try LoRAMerge.merge(base: base, adapter: adapter, output: out, options: options)
            progress.finish()
            for warning in result.conversion.warnings { Terminal.warning(warning) }
            if let selection = result.conversion.selection {
                Terminal.note(ConvertCommand.describe(selection, leftOut: result.conversion.leftOutTensorCount))
            }
            let replaced: Shown = result.replacedTensorCount == 0 ? "" : ", \(result.replacedTensorCount) replaced or given a LoRA bias"
            Terminal.note("merged \(result.adapterKind.rawValue) adapter into \(result.mergedTensorCount) tensors\(replaced)")
            Terminal.note("wrote \(result.conversion.tensorCount) tensors to \(result.conversion.outputs.joined(separator: ", "))")
            return 0
        }
    }
}

/// The dtypes `lora merge --dtype` accepts: float casts only (merged values are rounded once, to it).
enum MergeDType: String, ExpressibleByArgument, CaseIterable {
    case f32, f16, bf16

    var dtype: DType {
        switch self {
        case .f32: return .f32
        case .f16: return .f16
        case .bf16: return .bf16
        }
    }
}
