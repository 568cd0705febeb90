import ModelFormats
import PickleVM
import ZipFormat

/// `--limits NAME=VALUE,…`: raises (or lowers) the budgets a file may use. The names are the
/// ones error messages print after "limit" (`maxStringByteCount`, `maxTreeNodes`, …); byte
/// budgets accept sizes such as `256MiB`.
public enum ReadLimitsSpec {
    /// Every name `--limits` accepts, with what it bounds.
    public static let names: [(name: String, meaning: String)] = [
        ("maxStringByteCount", "bytes in one pickle string"),
        ("maxMemoEntries", "pickle memo entries"),
        ("maxStackDepth", "pickle stack items"),
        ("maxMarkDepth", "open pickle MARKs"),
        ("maxNestingDepth", "nesting depth of pickle containers"),
        ("maxObjectCount", "pickle objects created"),
        ("maxLongByteCount", "bytes in one pickle integer"),
        ("maxOpcodeCount", "pickle opcodes executed"),
        ("maxGlobalLineByteCount", "bytes in a GLOBAL's module or name"),
        ("maxDerivedByteCount", "bytes hashed or converted while unpickling"),
        ("maxInflatedByteCount", "bytes inflated from compressed zip entries"),
        ("maxEntryCount", "zip entries"),
        ("maxTreeNodes", "nodes visited naming a pickle's tensors"),
        ("maxTensorRank", "tensor rank"),
        ("maxMaterializedBytes", "bytes one read may materialise beyond twice the file's size (tensors handed out, copies, inflated entries)"),
    ]

    /// Applies `spec` (`maxTreeNodes=100000000,maxMaterializedBytes=64GiB`) to `options`.
    ///
    /// - Throws: `LimitsSpecError` naming the unknown name or malformed value.
    public static func apply(_ spec: String, to options: inout ReadOptions) throws {
        for item in spec.split(separator: ",") {
            let parts = item.split(separator: "=", maxSplits: 1).map { String($0).trimmingSpaces }
            guard parts.count == 2 else { throw LimitsSpecError.malformed(String(item)) }
            let (name, text) = (parts[0], parts[1])
            guard let value = ByteSize.parse(text) else { throw LimitsSpecError.badValue(name: name, value: text) }
            switch name {
            case "maxStringByteCount": options.pickleLimits.maxStringByteCount = value
            case "maxMemoEntries": options.pickleLimits.maxMemoEntries = value
            case "maxStackDepth": options.pickleLimits.maxStackDepth = value
            case "maxMarkDepth": options.pickleLimits.maxMarkDepth = value
            case "maxNestingDepth": options.pickleLimits.maxNestingDepth = value
            case "maxObjectCount": options.pickleLimits.maxObjectCount = value
            case "maxLongByteCount": options.pickleLimits.maxLongByteCount = value
            case "maxOpcodeCount": options.pickleLimits.maxOpcodeCount = value
            case "maxGlobalLineByteCount": options.pickleLimits.maxGlobalLineByteCount = value
            case "maxDerivedByteCount": options.pickleLimits.maxDerivedByteCount = value
            case "maxInflatedByteCount": options.zipLimits.maxInflatedByteCount = value
            case "maxEntryCount": options.zipLimits.maxEntryCount = value
            case "maxTreeNodes": options.maxTreeNodes = value
            case "maxTensorRank": options.maxTensorRank = value
            case "maxMaterializedBytes": options.maxMaterializedBytes = value
            default: throw LimitsSpecError.unknownName(name)
            }
        }
    }
}

/// Sizes on the command line, in the Hugging Face convention: `5GB` = 5×10^9 bytes,
/// `5GiB` = 5×2^30; also KB, MB, TB, KiB, MiB, TiB, B, or a plain number.
public enum ByteSize {
    /// The positive number of bytes (or count) `text` spells, or nil.
    public static func parse(_ text: String) -> Int? {
        let units: [(String, Double)] = [
            ("KIB", 1024), ("MIB", 1_048_576), ("GIB", 1_073_741_824), ("TIB", 1_099_511_627_776),
            ("KB", 1e3), ("MB", 1e6), ("GB", 1e9), ("TB", 1e12), ("B", 1),
        ]
        let upper = text.uppercased().trimmingSpaces
        for (suffix, factor) in units where upper.hasSuffix(suffix) {
            guard let amount = Double(upper.dropLast(suffix.count).trimmingSpaces), amount > 0, amount * factor < 9e18 else { return nil }
            return Int(amount * factor)
        }
        return Int(upper).flatMap { $0 > 0 ? $0 : nil }
    }
}

/// A `--limits` value that cannot be used.
public enum LimitsSpecError: Error, Equatable, CustomStringConvertible {
    /// An item that is not `NAME=VALUE`.
    case malformed(String)
    /// A name that is not one of the budgets.
    case unknownName(String)
    /// A value that is not a positive number or size.
    case badValue(name: String, value: String)

    public var description: String {
        switch self {
        case .malformed(let item): return "--limits \"\(item)\": expected NAME=VALUE"
        case .unknownName(let name):
            return "--limits: unknown limit \(name); expected one of \(ReadLimitsSpec.names.map(\.name).joined(separator: ", "))"
        case .badValue(let name, let value): return "--limits \(name)=\(value): expected a positive number or size (e.g. 1000000, 256MiB)"
        }
    }
}

extension StringProtocol {
    var trimmingSpaces: String {
        String(drop(while: { $0 == " " }).reversed().drop(while: { $0 == " " }).reversed())
    }
}
