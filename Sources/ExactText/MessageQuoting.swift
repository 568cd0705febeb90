extension String {
    /// The string in double quotes, for error messages: `"` and `\` escaped, control characters
    /// as `\n`, `\t`, `\u0000`…, and every other character that would change how a terminal
    /// shows the line (DEL, C1 controls, line and paragraph separators, bidirectional overrides,
    /// zero-width and other format characters) as `\uXXXX`. The result is one line that a file
    /// cannot use to forge output, and the original bytes can be read back from it (it is a JSON
    /// string literal).
    public var quotedForMessage: String {
        if utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F && $0 != 0x22 && $0 != 0x5C }) { return "\"" + self + "\"" }
        var out = "\""
        for scalar in unicodeScalars {
            switch scalar.value {
            case 0x22: out += "\\\""
            case 0x5C: out += "\\\\"
            case 0x0A: out += "\\n"
            case 0x0D: out += "\\r"
            case 0x09: out += "\\t"
            case 0x08: out += "\\b"
            case 0x0C: out += "\\f"
            case 0..<0x20, 0x7F...0x9F, 0x2028, 0x2029:
                out += String.unicodeEscape(scalar.value)
            default:
                if scalar.properties.generalCategory == .format {
                    out += String.unicodeEscape(scalar.value)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }

    /// `\uXXXX` (lowercase hex) for a BMP scalar, or the surrogate pair JSON uses beyond it.
    static func unicodeEscape(_ value: UInt32) -> String {
        func four(_ unit: UInt32) -> String {
            let hex = String(unit, radix: 16)
            return "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
        }
        guard value > 0xFFFF else { return four(value) }
        let offset = value - 0x10000
        return four(0xD800 + (offset >> 10)) + four(0xDC00 + (offset & 0x3FF))
    }
}
