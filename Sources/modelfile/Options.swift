import ArgumentParser
import ModelFileKit
import ModelFormats
import TensorData

/// `--json` and `--quiet`, shared by the commands that print reports.
struct OutputOptions: ParsableArguments {
    @Flag(name: .long, help: "Print one JSON document instead of a table.")
    var json = false

    @Flag(name: .long, help: "Write nothing on stderr unless the command fails: no progress, warnings or 'wrote' lines.")
    var quiet = false

    func validate() throws {
        Terminal.isQuiet = quiet
    }
}

/// `--limits`: the reading budgets, raised (or lowered) by name.
struct LimitsOption: ParsableArguments {
    @Option(name: .long, help: "Raise reading budgets: NAME=VALUE,… with names as error messages print them (maxTreeNodes, maxMaterializedBytes=64GiB, …).")
    var limits: String?

    func validate() throws {
        var options = ReadOptions()
        if let limits {
            do { try ReadLimitsSpec.apply(limits, to: &options) } catch { throw ValidationError("\(error)") }
        }
    }

    /// `options` with these budgets applied.
    func applied(to options: ReadOptions) -> ReadOptions {
        var options = options
        if let limits { try? ReadLimitsSpec.apply(limits, to: &options) }
        return options
    }
}

/// How files are read: unknown pickle globals and the budgets (`--limits`).
struct ReadingOptions: ParsableArguments {
    @Flag(name: .long, help: "Keep pickle globals outside the allowlist as inert records instead of refusing the file.")
    var allowUnknownObjects = false

    @OptionGroup var budgets: LimitsOption

    /// The options these flags describe.
    var readOptions: ReadOptions { budgets.applied(to: ReadOptions(allowUnknownObjects: allowUnknownObjects)) }
}

extension OutputFormat: ExpressibleByArgument {}

/// `--force`, `--quiet` and the reading options, shared by the commands that write a model file
/// (`convert`, `strip`, `lora merge`).
struct WritingOptions: ParsableArguments {
    @Flag(name: .long, help: "Overwrite existing output files.")
    var force = false

    @Flag(name: .long, help: "Write nothing on stderr unless the command fails: no progress, warnings or 'wrote' lines.")
    var quiet = false

    @OptionGroup var reading: ReadingOptions

    func validate() throws {
        Terminal.isQuiet = quiet
    }
}

/// `--max-shard-size`: write a folder of shards plus an index (`convert`, `lora merge`).
struct ShardSizeOption: ParsableArguments {
    @Option(name: .customLong("max-shard-size"), help: "Write shards of at most this size (5GB = 5×10^9 bytes, 5GiB = 5×2^30) plus an index into the folder OUT.")
    var maxShardSize: String?

    /// The largest shard in bytes, or `nil` for one output file.
    var maxShardBytes: Int? { maxShardSize.flatMap(ByteSize.parse) }

    /// Refuses a size that does not parse. A command calls it among its own checks (not as
    /// `validate()`, which runs first), so its usage errors keep their order.
    func check() throws {
        if let maxShardSize, ByteSize.parse(maxShardSize) == nil {
            throw ValidationError("--max-shard-size \(maxShardSize) is not a size (e.g. 5GB, 500MiB, 1000000)")
        }
    }
}

/// The float dtypes a `--dtype` casts to (`lora merge`; `convert` adds Q8_0 blocks).
enum FloatCast: String, ExpressibleByArgument, CaseIterable {
    case f32, f16, bf16

    /// The dtype cast to.
    var dtype: DType {
        switch self {
        case .f32: return .f32
        case .f16: return .f16
        case .bf16: return .bf16
        }
    }
}
