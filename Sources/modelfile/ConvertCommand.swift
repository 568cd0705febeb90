import ArgumentParser
import HubClient
import ModelFileKit
import ModelFormats
import TensorData

struct ConvertCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert",
        abstract: "Convert a model file to safetensors, .pth, .ckpt, .npz, .npy or GGUF, bit for bit (GGUF blocks are dequantized).",
        discussion: """
            modelfile convert IN OUT                      (format from OUT's extension or --to)
            modelfile convert pth-to-safetensors IN OUT   (also safetensors-to-pth, ckpt-to-safetensors, …:
                                                           the input's format is checked)
            """)

    @Argument(help: "[SPELLING] IN OUT")
    var arguments: [String]

    @Option(name: .long, help: "Output format: safetensors, pth, ckpt, npz, npy or gguf (default: from OUT's extension).")
    var to: OutputFormat?

    @Option(name: .long, help: "Cast floating-point tensors to f32, f16 or bf16; for GGUF output also q8_0 (GGUF input converts to f32 by default).")
    var dtype: ConvertDType?

    @Option(name: .long, help: "Keep only the tensors under this dotted path of a pickle, named relative to it (default: a checkpoint's weights, named on stderr).")
    var select: String?

    @Option(name: .customLong("strip-prefix"), help: "Remove this prefix from tensor names (e.g. 'model.').")
    var stripPrefix: String?

    @Option(name: .customLong("max-shard-size"), help: "Write shards of at most this size (5GB = 5×10^9 bytes, 5GiB = 5×2^30) plus an index into the folder OUT.")
    var maxShardSize: String?

    @Flag(name: .long, help: "Overwrite existing output files.")
    var force = false

    @Flag(name: .long, help: "Write nothing on stderr unless the command fails: no progress, warnings or 'wrote' lines.")
    var quiet = false

    @OptionGroup var reading: ReadingOptions

    /// `pth-to-safetensors` and friends: the input formats each spelling accepts, and the output.
    static let spellings: [String: (inputs: Set<ModelFormat>, output: OutputFormat)] = {
        let inputs: [String: Set<ModelFormat>] = [
            "safetensors": [.safetensors, .safetensorsSharded, .directory],
            "pth": [.pytorchZip, .pytorchLegacy, .pytorchSharded],
            "legacy": [.pytorchLegacy],
            "ckpt": [.lightningCheckpoint, .pytorchZip, .pytorchLegacy],
            "gguf": [.gguf],
        ]
        var table: [String: (Set<ModelFormat>, OutputFormat)] = [:]
        for (inName, formats) in inputs {
            for output in OutputFormat.allCases { table["\(inName)-to-\(output.rawValue)"] = (formats, output) }
        }
        return table
    }()

    /// The stderr line naming the part of the input converted by default.
    static func describe(_ selection: WeightsSelection, leftOut: Int) -> Shown {
        let rest: Shown = leftOut == 0 ? "" : "; \(leftOut) other tensor\(leftOut == 1 ? "" : "s") left out (--select PATH picks another part)"
        switch selection {
        case .lightningCheckpoint:
            return "converting \"state_dict\", the weights of a Lightning checkpoint" + rest
        case .stateDict:
            return "converting \"state_dict\"" + rest
        case .trainingCheckpoint(let path):
            return "converting \"\(name: path)\", the weights of a training checkpoint" + rest
        case .torchScriptModule:
            let constants: Shown = leftOut == 0 ? "" : "; \(leftOut) constant\(leftOut == 1 ? "" : "s") left out"
            return "converting the TorchScript module's parameters and buffers (its code is not converted)" + constants
        }
    }

    func validate() throws {
        Terminal.isQuiet = quiet
        guard arguments.count == 2 || arguments.count == 3 else {
            throw ValidationError("expected IN OUT, or a spelling such as pth-to-safetensors followed by IN OUT")
        }
        if arguments.count == 3, ConvertCommand.spellings[arguments[0]] == nil {
            throw ValidationError("unknown conversion \"\(arguments[0])\"; expected e.g. pth-to-safetensors, safetensors-to-pth, ckpt-to-safetensors")
        }
        // `--to` that contradicts OUT's extension is a usage error (docs/cli.md, `convert`).
        if let to, let named = OutputFormat(pathExtensionOf: arguments[arguments.count - 1]), named != to {
            throw ValidationError("--to \(to.rawValue) contradicts the extension of \(arguments[arguments.count - 1]), which names \(named.rawValue)")
        }
        if dtype == .q8_0 {
            let output = to ?? (arguments.count == 3 ? ConvertCommand.spellings[arguments[0]]?.output : nil)
                ?? OutputFormat(pathExtensionOf: arguments[arguments.count - 1])
            guard output == .gguf else { throw ValidationError("--dtype q8_0 writes GGUF blocks; use a .gguf output or --to gguf") }
        }
        if let maxShardSize, ByteSize.parse(maxShardSize) == nil {
            throw ValidationError("--max-shard-size \(maxShardSize) is not a size (e.g. 5GB, 500MiB, 1000000)")
        }
    }

    func run() throws {
        try Terminal.run {
            let input = resolvedModelPath(arguments[arguments.count - 2]), outputPath = arguments[arguments.count - 1]
            var options = ConversionOptions()
            options.outputFormat = to
            if arguments.count == 3, let spelling = ConvertCommand.spellings[arguments[0]] {
                options.requiredInput = (arguments[0], spelling.inputs)
                options.outputFormat = to ?? spelling.output
            }
            options.dtype = dtype?.dtype
            options.quantization = dtype?.quantization
            options.select = select
            options.stripPrefix = stripPrefix
            options.maxShardBytes = maxShardSize.flatMap(ByteSize.parse)
            options.overwrite = force
            options.readOptions = reading.readOptions
            let progress = ProgressLine(quiet: quiet)
            options.progress = progress.update
            let result: ConversionResult
            do {
                result = try Conversion.convert(input: input, output: outputPath, options: options)
            } catch let error as ModelFileError where (error.underlying as? ConversionError)?.isUsageError == true {
                // Known only once the input is open (a .npy output and several tensors): still a usage error.
                Terminal.err("modelfile: error: \(error.underlying)")
                throw ExitCode(64)
            }
            progress.finish()
            for warning in result.warnings { Terminal.warning(warning) }
            if let selection = result.selection { Terminal.note(ConvertCommand.describe(selection, leftOut: result.leftOutTensorCount)) }
            Terminal.note("wrote \(result.tensorCount) tensors to \(result.outputs.joined(separator: ", "))")
            return 0
        }
    }
}

/// The types `convert --dtype` accepts: the float casts, and Q8_0 blocks for GGUF output.
enum ConvertDType: String, ExpressibleByArgument, CaseIterable {
    case f32, f16, bf16, q8_0

    /// The float dtype to cast to, or `nil` for a block type.
    var dtype: DType? {
        switch self {
        case .f32: return .f32
        case .f16: return .f16
        case .bf16: return .bf16
        case .q8_0: return nil
        }
    }

    /// The GGUF block type to quantize to, if any.
    var quantization: GGMLType? { self == .q8_0 ? .q8_0 : nil }
}
