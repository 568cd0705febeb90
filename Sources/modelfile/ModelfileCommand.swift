import ArgumentParser
import ModelFileKit

#if canImport(Glibc)
import Glibc
#endif

/// The `modelfile` command: inspect, convert and verify model files, and train small networks.
@main
struct ModelfileCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "modelfile",
        abstract: "Open, convert and check machine-learning model files safely (safetensors, PyTorch .pth, Lightning .ckpt).",
        discussion: """
            Formats are detected from content. Nothing in a file is ever executed.
            Exit codes: 0 success, 1 findings, 2 failure, 64 usage error.
            """,
        version: "0.1.0",
        subcommands: [InspectCommand.self, ConvertCommand.self, VerifyCommand.self, DiffCommand.self, ScanCommand.self, StripCommand.self, TrainCommand.self, PredictCommand.self, DownloadCommand.self, LoRACommand.self]
    )

    /// Parses and runs a command. Usage errors are one `modelfile: error: ` line on stderr (the
    /// usage follows) and exit 64; help and the version go to stdout and exit 0; with no command
    /// at all, the usage goes to stderr and the exit is 64.
    static func main() {
        let arguments = Array(CommandLine.arguments.dropFirst())
        guard !arguments.isEmpty else {
            Terminal.err(Shown(toolText: helpMessage()))
            Glibc.exit(ExitCode.validationFailure.rawValue)
        }
        do {
            var command = try parseAsRoot(arguments)
            try command.run()
            Glibc.exit(0)
        } catch let exit as ExitCode {
            // The command has already said what happened.
            Glibc.exit(exit.rawValue)
        } catch {
            let code = exitCode(for: error)
            if code == .success {
                Terminal.out(Shown(toolText: fullMessage(for: error)))
            } else {
                Terminal.err("modelfile: error: \(message(for: error))")
                let subcommand = configuration.subcommands.first { $0._commandName == arguments[0] }
                let name = subcommand.map { " " + $0._commandName } ?? ""
                Terminal.err(Shown(toolText: "Usage: \(usageString(for: subcommand ?? Self.self))\n  See 'modelfile\(name) --help' for more information."))
            }
            Glibc.exit(code.rawValue)
        }
    }
}
