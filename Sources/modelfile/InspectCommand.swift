import ArgumentParser
import ModelFileKit
import ModelFormats

struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "List a model file's tensors, metadata and contents from its headers alone.")

    @Argument(help: "A model file or a Hugging Face model folder.")
    var path: String

    @OptionGroup var output: OutputOptions

    @Option(name: .long, help: "Only list tensors whose names match this shell glob (e.g. '*.weight').")
    var filter: String?

    @Flag(name: .long, help: "Keep pickle globals outside the allowlist as inert records instead of refusing the file.")
    var allowUnknownObjects = false

    func run() throws {
        try Terminal.run {
            let inspection = try Inspection.inspect(
                path: path, filter: filter, options: ReadOptions(allowUnknownObjects: allowUnknownObjects))
            Terminal.out(output.json ? inspection.json.rendered() : inspection.table)
            return 0
        }
    }
}

struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Read every byte of a model file: structure, bounds, non-finite values; exit 1 with findings.")

    @Argument(help: "A model file or a Hugging Face model folder.")
    var path: String

    @OptionGroup var output: OutputOptions

    @Flag(name: .long, help: "Keep pickle globals outside the allowlist as inert records instead of refusing the file.")
    var allowUnknownObjects = false

    func run() throws {
        try Terminal.run {
            let report = try Verification.verify(path: path, options: ReadOptions(allowUnknownObjects: allowUnknownObjects))
            Terminal.out(output.json ? report.json.rendered() : report.table)
            return report.isClean ? 0 : 1
        }
    }
}
