import ArgumentParser
import HubClient
import ModelFileKit
import ModelFormats

struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "List a model file's tensors, metadata and contents from its headers alone.")

    @Argument(help: "A model file, a Hugging Face model folder, a cached org/name, or hf://org/name[@rev]/file.", transform: resolvedModelPath)
    var path: String

    @OptionGroup var output: OutputOptions

    @Flag(name: .long, help: "With --json, give every GGUF metadata array in full (arrays over 64 items are otherwise summarised).")
    var full = false

    @Option(name: .long, help: "Only list tensors whose names match this shell glob (e.g. '*.weight').")
    var filter: String?

    @Flag(name: .long, help: "Read every byte and give each file's SHA-256, as sha256sum and the Hugging Face hub show it.")
    var checksums = false

    @Flag(name: .long, help: "Print the module tree of the weights with each module's parameter count.")
    var tree = false

    @OptionGroup var reading: ReadingOptions

    func validate() throws {
        if checksums, path.hasPrefix("hf://") {
            throw ValidationError("--checksums reads every byte of the files; hf:// reads headers only (download the repository first, or see the hub's own sha256)")
        }
    }

    func run() throws {
        try Terminal.run {
            let inspection = try Inspection.inspect(
                path: path, filter: filter, checksums: checksums, tree: tree, options: reading.readOptions)
            if output.json { Terminal.out(json: inspection.json(full: full)) } else { Terminal.out(inspection.table) }
            for warning in inspection.warnings { Terminal.warning(warning) }
            return 0
        }
    }
}

struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Read every byte of a model file: structure, bounds, non-finite values; exit 1 with findings.")

    @Argument(help: "A model file, a Hugging Face model folder or a cached org/name.", transform: resolvedModelPath)
    var path: String

    @OptionGroup var output: OutputOptions

    @OptionGroup var reading: ReadingOptions

    func run() throws {
        try Terminal.run {
            let report = try Verification.verify(path: path, options: reading.readOptions)
            if output.json { Terminal.out(json: report.json) } else { Terminal.out(report.table) }
            for warning in report.warnings { Terminal.warning(warning) }
            return report.isClean ? 0 : 1
        }
    }
}

struct ScanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scan",
        abstract: "Security verdict without loading tensors: every global and opcode class a pickle uses; exit 1 with findings.")

    @Argument(help: "Model files, folders or cached org/name repositories.", transform: resolvedModelPath)
    var paths: [String]

    @OptionGroup var output: OutputOptions

    @OptionGroup var budgets: LimitsOption

    func run() throws {
        try Terminal.run {
            var worst: Int32 = 0
            var documents: [JSONValue] = []
            // Every path gets its own section (or document), also when it cannot be scanned.
            for path in paths {
                do {
                    let report = try ScanReport.scan(path: path, options: budgets.applied(to: ReadOptions()))
                    if output.json { documents.append(report.json) } else { Terminal.out(report.table) }
                    for failure in report.failures { Terminal.error(ModelFileError(path: path, underlying: failure)) }
                    worst = max(worst, report.failures.isEmpty ? (report.findings.isEmpty ? 0 : 1) : 2)
                } catch {
                    if output.json {
                        documents.append(.object([("schema", "modelfile.scan/1"), ("path", .string(path)), ("clean", false),
                                                  ("error", .string("\(error)"))]))
                    } else {
                        Terminal.out("\(name: path): not scanned (see the error)")
                    }
                    Terminal.error(error)
                    worst = 2
                }
            }
            if output.json { Terminal.out(json: documents.count == 1 ? documents[0] : .array(documents)) }
            return worst
        }
    }
}

struct DiffCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diff",
        abstract: "Compare two model files of any formats tensor by tensor; exit 1 when they differ.")

    @Argument(help: "The first file.", transform: resolvedModelPath)
    var a: String

    @Argument(help: "The second file.", transform: resolvedModelPath)
    var b: String

    @Option(name: .long, help: "Absolute tolerance (default 0: bit-identical values).")
    var atol: Double = 0

    @Option(name: .long, help: "Relative tolerance.")
    var rtol: Double = 0

    @Option(name: .long, help: "On each side, keep the subtree at this dotted path and name tensors relative to it (a side with nothing under it keeps its names).")
    var select: String?

    @Option(name: .customLong("strip-prefix"), help: "Then remove this prefix from each side's tensor names (e.g. 'model.').")
    var stripPrefix: String?

    @Flag(name: .long, help: "Compare floating-point tensors of different dtypes by value (both widened to float64); the dtype change alone is not a difference.")
    var cast = false

    @OptionGroup var output: OutputOptions

    @OptionGroup var reading: ReadingOptions

    func validate() throws {
        guard atol >= 0, rtol >= 0, atol.isFinite, rtol.isFinite else { throw ValidationError("--atol and --rtol must be finite and non-negative") }
    }

    func run() throws {
        try Terminal.run {
            let report = try DiffReport.diff(a, b, absoluteTolerance: atol, relativeTolerance: rtol,
                                             select: select, stripPrefix: stripPrefix, cast: cast, options: reading.readOptions)
            if output.json { Terminal.out(json: report.json) } else { Terminal.out(report.table) }
            return report.isEqual ? 0 : 1
        }
    }
}
