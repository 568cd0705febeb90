import ArgumentParser
import HubClient
import ModelFileKit
import ModelFormats

struct ConvertCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert",
        abstract: "Convert a model file to safetensors, .pth or .ckpt, bit for bit.",
        discussion: """
            modelfile convert IN OUT                      (format from OUT's extension or --to)
            modelfile convert pth-to-safetensors IN OUT   (also safetensors-to-pth, ckpt-to-safetensors, …:
                                                           the input's format is checked)
            """)

    @Argument(help: "[SPELLING] IN OUT")
    var arguments: [String]

    @Option(name: .long, help: "Output format: safetensors, pth or ckpt (default: from OUT's extension).")
    var to: OutputFormat?

    @Option(name: .long, help: "Cast floating-point tensors to f32, f16 or bf16.")
    var dtype: DTypeArgument?

    @Option(name: .long, help: "Keep only the tensors under this dotted path of a pickle, named relative to it.")
    var select: String?

    @Option(name: .customLong("strip-prefix"), help: "Remove this prefix from tensor names (e.g. 'model.').")
    var stripPrefix: String?

    @Option(name: .customLong("max-shard-size"), help: "Write shards of at most this size (5GB = 5×10^9 bytes, 5GiB = 5×2^30) plus an index into the folder OUT.")
    var maxShardSize: String?

    @Flag(name: .long, help: "Overwrite existing output files.")
    var force = false

    @Flag(name: .long, help: "No progress line.")
    var quiet = false

    @OptionGroup var reading: ReadingOptions

    /// `pth-to-safetensors` and friends: the input formats each spelling accepts, and the output.
    static let spellings: [String: (inputs: Set<ModelFormat>, output: OutputFormat)] = {
        let inputs: [String: Set<ModelFormat>] = [
            "safetensors": [.safetensors, .safetensorsSharded, .directory],
            "pth": [.pytorchZip, .pytorchLegacy, .pytorchSharded],
            "legacy": [.pytorchLegacy],
            "ckpt": [.lightningCheckpoint, .pytorchZip, .pytorchLegacy],
        ]
        var table: [String: (Set<ModelFormat>, OutputFormat)] = [:]
        for (inName, formats) in inputs {
            for output in OutputFormat.allCases { table["\(inName)-to-\(output.rawValue)"] = (formats, output) }
        }
        return table
    }()

    func validate() throws {
        guard arguments.count == 2 || arguments.count == 3 else {
            throw ValidationError("expected IN OUT, or a spelling such as pth-to-safetensors followed by IN OUT")
        }
        if arguments.count == 3, ConvertCommand.spellings[arguments[0]] == nil {
            throw ValidationError("unknown conversion \"\(arguments[0])\"; expected e.g. pth-to-safetensors, safetensors-to-pth, ckpt-to-safetensors")
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
            options.select = select
            options.stripPrefix = stripPrefix
            options.maxShardBytes = maxShardSize.flatMap(ByteSize.parse)
            options.overwrite = force
            options.readOptions = reading.readOptions
            let progress = ProgressLine(quiet: quiet)
            options.progress = progress.update
            let result = try Conversion.convert(input: input, output: outputPath, options: options)
            progress.finish()
            for warning in result.warnings { Terminal.err("warning: \(warning)") }
            Terminal.err("wrote \(result.tensorCount) tensors to \(result.outputs.joined(separator: ", "))")
            return 0
        }
    }
}
