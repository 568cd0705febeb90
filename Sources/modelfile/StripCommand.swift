import ArgumentParser
import HubClient
import ModelFileKit
import ModelFormats

struct StripCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "strip",
        abstract: "Copy a checkpoint without optimizer, scheduler, loop and callback state; the weights and plain values stay.")

    @Argument(help: "A Lightning .ckpt or a torch checkpoint dict.", transform: resolvedModelPath)
    var input: String

    @Argument(help: "The smaller checkpoint to write.")
    var output: String

    @Option(name: .long, parsing: .upToNextOption,
            help: "Parts to keep: optimizer, schedulers, loops, callbacks, hyper_parameters (several allowed).")
    var keep: [String] = []

    @Flag(name: .long, help: "Overwrite an existing output file.")
    var force = false

    @OptionGroup var reading: ReadingOptions

    func validate() throws {
        for part in keep where Strip.keepChoices[part] == nil {
            throw ValidationError("--keep \(part): expected one of \(Strip.keepChoices.keys.sorted().joined(separator: ", "))")
        }
    }

    func run() throws {
        try Terminal.run {
            let result = try Strip.strip(input: input, output: output, keep: Set(keep), overwrite: force,
                                         options: reading.readOptions)
            let removed = result.removedKeys.isEmpty ? "nothing to remove" : "removed " + result.removedKeys.joined(separator: ", ")
            Terminal.err("\(removed); \(result.inputBytes) → \(result.outputBytes) bytes")
            return 0
        }
    }
}
