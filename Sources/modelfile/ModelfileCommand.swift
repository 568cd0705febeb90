import ArgumentParser
import ModelFileKit

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
        subcommands: [InspectCommand.self, ConvertCommand.self, VerifyCommand.self, DiffCommand.self, ScanCommand.self, StripCommand.self, TrainCommand.self, PredictCommand.self, DownloadCommand.self]
    )
}
