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

    @Option(name: .long, parsing: .upToNextOption,
            help: "Also remove the entry at each dotted path (e.g. hyper_parameters.data_dir; several allowed). A path not in the input is an error.")
    var drop: [String] = []

    @Flag(name: .long, help: "Overwrite an existing output file.")
    var force = false

    @Flag(name: .long, help: "Write nothing on stderr unless the command fails.")
    var quiet = false

    @OptionGroup var reading: ReadingOptions

    func validate() throws {
        Terminal.isQuiet = quiet
        for part in keep where Strip.keepChoices[part] == nil {
            throw ValidationError("--keep \(part): expected one of \(Strip.keepChoices.keys.sorted().joined(separator: ", "))")
        }
    }

    func run() throws {
        try Terminal.run {
            let result = try Strip.strip(input: input, output: output, keep: Set(keep), drop: drop, overwrite: force,
                                         options: reading.readOptions)
            for warning in result.warnings { Terminal.warning(warning) }
            let parts = result.removedKeys + result.droppedPaths.filter { !result.removedKeys.contains($0) }
            let removed: Shown = parts.isEmpty ? "nothing to remove" : "removed \(parts.joined(separator: ", "))"
            Terminal.note("\(removed); \(result.inputBytes) → \(result.outputBytes) bytes")
            return 0
        }
    }
}
