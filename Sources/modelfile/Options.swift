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

/// How files are read: unknown pickle globals and the budgets (`--limits`).
struct ReadingOptions: ParsableArguments {
    @Flag(name: .long, help: "Keep pickle globals outside the allowlist as inert records instead of refusing the file.")
    var allowUnknownObjects = false

    @Option(name: .long, help: "Raise reading budgets: NAME=VALUE,… with names as error messages print them (maxTreeNodes, maxMaterializedBytes=64GiB, …).")
    var limits: String?

    func validate() throws {
        var options = ReadOptions()
        if let limits {
            do { try ReadLimitsSpec.apply(limits, to: &options) } catch { throw ValidationError("\(error)") }
        }
    }

    /// The options these flags describe.
    var readOptions: ReadOptions {
        var options = ReadOptions(allowUnknownObjects: allowUnknownObjects)
        if let limits { try? ReadLimitsSpec.apply(limits, to: &options) }
        return options
    }
}

/// The dtype names `--dtype` accepts.
enum DTypeArgument: String, ExpressibleByArgument, CaseIterable {
    case f32, f16, bf16

    var dtype: DType {
        switch self {
        case .f32: return .f32
        case .f16: return .f16
        case .bf16: return .bf16
        }
    }
}

extension OutputFormat: ExpressibleByArgument {}
