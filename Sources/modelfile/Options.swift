import ArgumentParser
import ModelFileKit
import ModelFormats

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
