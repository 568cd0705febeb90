import ArgumentParser
import ModelFileKit
import TensorData

/// `--json` and `--quiet`, shared by the commands that print reports.
struct OutputOptions: ParsableArguments {
    @Flag(name: .long, help: "Print one JSON document instead of a table.")
    var json = false
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

/// Parses a size in the Hugging Face convention: `5GB` = 5×10^9 bytes, `5GiB` = 5×2^30, `500MB`,
/// `100KB`, or a plain byte count.
func parseByteSize(_ text: String) -> Int? {
    let units: [(String, Int)] = [
        ("KIB", 1 << 10), ("MIB", 1 << 20), ("GIB", 1 << 30), ("TIB", 1 << 40),
        ("KB", 1_000), ("MB", 1_000_000), ("GB", 1_000_000_000), ("TB", 1_000_000_000_000), ("B", 1),
    ]
    let upper = text.uppercased().trimmingWhitespace()
    for (suffix, factor) in units where upper.hasSuffix(suffix) {
        guard let amount = Double(upper.dropLast(suffix.count).trimmingWhitespace()), amount > 0 else { return nil }
        let bytes = amount * Double(factor)
        return bytes < 9e18 ? Int(bytes) : nil
    }
    return Int(upper).flatMap { $0 > 0 ? $0 : nil }
}

extension StringProtocol {
    func trimmingWhitespace() -> String {
        String(drop(while: { $0.isWhitespace }).reversed().drop(while: { $0.isWhitespace }).reversed())
    }
}
