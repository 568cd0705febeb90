import BinaryIO

/// A JSON document with ordered object keys, for the `--json` outputs. (Not `indirect`: arrays
/// already hold their elements out of line, and boxing every scalar made a 10,000-tensor
/// document cost an allocation per number.)
public enum JSONValue: Equatable, Sendable, ExpressibleByStringLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByBooleanLiteral, ExpressibleByArrayLiteral, ExpressibleByNilLiteral
{
    case null
    case bool(Bool)
    case int(Int)
    /// An unsigned integer, exact over its whole range (GGUF UINT64 metadata).
    case uint64(UInt64)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object([(String, JSONValue)])

    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int) { self = .int(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    public init(nilLiteral: ()) { self = .null }

    public static func == (lhs: JSONValue, rhs: JSONValue) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): return true
        case (.bool(let a), .bool(let b)): return a == b
        case (.int(let a), .int(let b)): return a == b
        case (.uint64(let a), .uint64(let b)): return a == b
        case (.double(let a), .double(let b)): return a == b
        case (.string(let a), .string(let b)): return a == b
        case (.array(let a), .array(let b)): return a == b
        case (.object(let a), .object(let b)): return a.count == b.count && zip(a, b).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: return false
        }
    }

    /// The value under `key` of an object.
    public subscript(key: String) -> JSONValue? {
        guard case .object(let members) = self else { return nil }
        return members.first { $0.0 == key }?.1
    }

    /// Renders the document; `pretty` uses two-space indentation (arrays of scalars stay on one
    /// line). Non-finite doubles become the strings `"nan"`, `"inf"` and `"-inf"`, so the document
    /// stays strict JSON (docs/cli.md, "General rules").
    public func rendered(pretty: Bool = true) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(4096)
        write(to: &out, pretty: pretty, indent: 0)
        return String(decoding: out, as: UTF8.self)
    }

    private func write(to out: inout [UInt8], pretty: Bool, indent: Int) {
        switch self {
        case .null: out.append(contentsOf: "null".utf8)
        case .bool(let value): out.append(contentsOf: (value ? "true" : "false").utf8)
        case .int(let value): DecimalText.append(value, to: &out)
        case .uint64(let value): out.append(contentsOf: String(value).utf8)
        case .double(let value):
            if !value.isFinite {
                out.append(contentsOf: (value.isNaN ? "\"nan\"" : value < 0 ? "\"-inf\"" : "\"inf\"").utf8)
            } else if value == value.rounded(), abs(value) < 1e15 {
                out.append(contentsOf: (String(Int(value)) + ".0").utf8)
            } else {
                out.append(contentsOf: "\(value)".utf8)
            }
        case .string(let value): JSONValue.appendEscaped(value, to: &out)
        case .array(let items):
            if items.isEmpty { out.append(contentsOf: "[]".utf8); return }
            if items.allSatisfy(\.isScalar) || !pretty {
                out.append(UInt8(ascii: "["))
                for (i, item) in items.enumerated() {
                    if i > 0 { out.append(contentsOf: (pretty ? ", " : ",").utf8) }
                    item.write(to: &out, pretty: pretty, indent: indent + 1)
                }
                out.append(UInt8(ascii: "]"))
                return
            }
            out.append(contentsOf: "[\n".utf8)
            for (i, item) in items.enumerated() {
                JSONValue.appendIndent(indent + 1, to: &out)
                item.write(to: &out, pretty: pretty, indent: indent + 1)
                if i + 1 < items.count { out.append(UInt8(ascii: ",")) }
                out.append(UInt8(ascii: "\n"))
            }
            JSONValue.appendIndent(indent, to: &out)
            out.append(UInt8(ascii: "]"))
        case .object(let members):
            if members.isEmpty { out.append(contentsOf: "{}".utf8); return }
            out.append(UInt8(ascii: "{"))
            if pretty { out.append(UInt8(ascii: "\n")) }
            for (i, (key, value)) in members.enumerated() {
                if pretty { JSONValue.appendIndent(indent + 1, to: &out) }
                JSONValue.appendEscaped(key, to: &out)
                out.append(contentsOf: (pretty ? ": " : ":").utf8)
                value.write(to: &out, pretty: pretty, indent: indent + 1)
                if i + 1 < members.count { out.append(UInt8(ascii: ",")) }
                if pretty { out.append(UInt8(ascii: "\n")) }
            }
            if pretty { JSONValue.appendIndent(indent, to: &out) }
            out.append(UInt8(ascii: "}"))
        }
    }

    private var isScalar: Bool {
        switch self {
        case .array, .object: return false
        default: return true
        }
    }

    private static func appendIndent(_ level: Int, to out: inout [UInt8]) {
        for _ in 0..<(2 * level) { out.append(0x20) }
    }

    /// Appends `string` as a JSON string: quote, backslash and control characters escaped as RFC
    /// 8259 requires; DEL, C1 controls, format characters (bidirectional overrides, zero-width
    /// characters) and line/paragraph separators written as `\uXXXX` escapes too, which decode to
    /// the same exact string but cannot act on a terminal that shows the document. Everything else
    /// is UTF-8 as it is.
    static func appendEscaped(_ string: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        // Most strings are printable ASCII without a quote or backslash: copy them whole.
        let copied: Bool? = string.utf8.withContiguousStorageIfAvailable { bytes in
            guard bytes.allSatisfy({ $0 >= 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "\\") }) else { return false }
            out.append(contentsOf: bytes)
            return true
        }
        if copied == true {
            out.append(UInt8(ascii: "\""))
            return
        }
        for scalar in string.unicodeScalars {
            let value = scalar.value
            switch value {
            case 0x22: out.append(contentsOf: [0x5C, 0x22])
            case 0x5C: out.append(contentsOf: [0x5C, 0x5C])
            case 0x0A: out.append(contentsOf: [0x5C, UInt8(ascii: "n")])
            case 0x0D: out.append(contentsOf: [0x5C, UInt8(ascii: "r")])
            case 0x09: out.append(contentsOf: [0x5C, UInt8(ascii: "t")])
            case 0..<0x20, 0x7F..<0xA0:
                appendUnicodeEscape(UInt16(value), to: &out)
            case 0x20..<0x7F:
                out.append(UInt8(value))
            default:
                switch scalar.properties.generalCategory {
                case .format, .lineSeparator, .paragraphSeparator:
                    if value < 0x10000 {
                        appendUnicodeEscape(UInt16(value), to: &out)
                    } else {
                        // A surrogate pair, as JSON spells scalars beyond the BMP.
                        let offset = value - 0x10000
                        appendUnicodeEscape(UInt16(0xD800 + (offset >> 10)), to: &out)
                        appendUnicodeEscape(UInt16(0xDC00 + (offset & 0x3FF)), to: &out)
                    }
                default:
                    out.append(contentsOf: String(scalar).utf8)
                }
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    private static func appendUnicodeEscape(_ unit: UInt16, to out: inout [UInt8]) {
        let hex = Array("0123456789abcdef".utf8)
        out.append(contentsOf: "\\u".utf8)
        for shift in stride(from: 12, through: 0, by: -4) { out.append(hex[Int((unit >> UInt16(shift)) & 0xF)]) }
    }
}
