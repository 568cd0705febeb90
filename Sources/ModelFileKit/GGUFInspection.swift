import BinaryIO
import ModelFormats
import TensorData

// What `inspect` adds for a GGUF file (docs/cli.md, "GGUF"): the version, the alignment, every
// metadata value with its exact type (long arrays summarised unless --full), each tensor's ggml
// type, stored size and absolute offset, and totals by ggml type. All of it comes from the header.

/// The GGUF part of an inspection.
public struct GGUFDetails {
    /// Arrays longer than this are summarised (type, length, first items) unless the full value is asked for.
    public static let summaryThreshold = 64
    /// How many items a summary shows.
    public static let summaryItems = 8

    /// 2 or 3.
    public let version: UInt32
    /// The data alignment in bytes.
    public let alignment: Int
    /// Where the data section starts.
    public let dataStart: Int
    /// Every metadata entry, in file order.
    public let metadata: [GGUFMetadataEntry]
    /// The infos of the listed tensors, in file order (parallel to `Inspection.tensors`).
    public let tensors: [GGUFTensorInfo]

    /// The details of `file` for the tensors at `listed` (indices into its entries, in order).
    init(file: GGUFFile, listed: [Int]) {
        version = file.header.version
        alignment = file.header.alignment
        dataStart = file.header.dataStart
        metadata = file.header.metadata
        tensors = listed.map { file.header.tensors[$0] }
    }

    /// Stored bytes of the listed tensors.
    public var storedBytes: Int { tensors.saturatingSum(\.byteCount) }

    /// Tensor count and stored bytes per ggml type, largest first.
    public var byGGMLType: [(type: GGMLType, tensors: Int, bytes: Int)] {
        var totals: [GGMLType: (Int, Int)] = [:]
        for info in tensors {
            let (count, bytes) = totals[info.type, default: (0, 0)]
            totals[info.type] = (count + 1, bytes.saturatingAdded(info.byteCount))
        }
        return totals.map { ($0.key, $0.value.0, $0.value.1) }.sorted { ($0.bytes, $0.type.name) > ($1.bytes, $1.type.name) }
    }

    /// `{key: {"type": …, "value": …}}`, arrays over ``summaryThreshold`` items summarised unless `full`.
    public func metadataJSON(full: Bool) -> JSONValue {
        .object(metadata.map { entry in
            if case .array(let array) = entry.value {
                var members: [(String, JSONValue)] = [("type", "ARRAY"), ("item_type", .string(array.itemType.name))]
                if full || array.count <= GGUFDetails.summaryThreshold {
                    members.append(("value", GGUFDetails.json(entry.value)))
                } else {
                    members.append(("length", .int(array.count)))
                    members.append(("first", .array(array.items(prefix: GGUFDetails.summaryItems).map(GGUFDetails.json))))
                }
                return (entry.key, .object(members))
            }
            return (entry.key, .object([("type", .string(entry.value.type.name)), ("value", GGUFDetails.json(entry.value))]))
        })
    }

    /// A value as plain JSON: integers exact, floats as float64 (NaN and infinities as the strings
    /// `"nan"`, `"inf"`, `"-inf"`), strings as text, arrays as arrays.
    public static func json(_ value: GGUFValue) -> JSONValue {
        func number(_ value: Double) -> JSONValue {
            if value.isNaN { return "nan" }
            if value.isInfinite { return value < 0 ? "-inf" : "inf" }
            return .double(value)
        }
        switch value {
        case .uint8(let v): return .int(Int(v))
        case .int8(let v): return .int(Int(v))
        case .uint16(let v): return .int(Int(v))
        case .int16(let v): return .int(Int(v))
        case .uint32(let v): return .int(Int(v))
        case .int32(let v): return .int(Int(v))
        case .uint64(let v): return v <= UInt64(Int.max) ? .int(Int(v)) : .uint64(v)
        case .int64(let v): return .int(Int(v))
        case .float32(let v): return number(Double(v))
        case .float64(let v): return number(v)
        case .bool(let v): return .bool(v)
        case .string(let s): return .string(s.text)
        case .array(let a): return .array(a.items().map(json))
        }
    }

    /// One row per metadata entry for the table: key, type, value (arrays: item type, length,
    /// first items). The text is the file's, unescaped; the table escapes it.
    public var metadataRows: [[String]] {
        metadata.map { entry in
            switch entry.value {
            case .array(let array):
                let first = array.items(prefix: GGUFDetails.summaryItems).map { GGUFDetails.shortText($0) }
                let more = array.count > GGUFDetails.summaryItems ? ", …" : ""
                return [entry.key, "ARRAY[\(array.itemType.name)]", "\(array.count) items: [\(first.joined(separator: ", "))\(more)]"]
            default:
                return [entry.key, entry.value.type.name, GGUFDetails.shortText(entry.value)]
            }
        }
    }

    /// A value shortened for a table cell: strings quoted and cut at 80 characters.
    static func shortText(_ value: GGUFValue) -> String {
        switch value {
        case .string(let s):
            let text = s.text
            return "\"" + (text.count > 80 ? String(text.prefix(80)) + "…" : text) + "\""
        case .array(let a):
            return "[\(a.count) × \(a.itemType.name)]"
        default:
            return GGUFDetails.json(value).rendered(pretty: false)
        }
    }
}
