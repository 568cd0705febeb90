import ExactText

/// Why JSON text was refused, and where: `offset` is the byte at fault, counted from the start
/// of the buffer plus the cursor's `offsetBase` (so a safetensors header reports file offsets).
///
/// The description is one line: `at byte 17: lone surrogate U+D800 (half of a UTF-16 pair) cannot be text`.
public struct JSONError: Error, Equatable, Sendable, CustomStringConvertible {
    /// What is wrong.
    public let fault: JSONFault
    /// The byte offset of the fault.
    public let offset: Int

    /// An error.
    public init(_ fault: JSONFault, at offset: Int) {
        self.fault = fault
        self.offset = offset
    }

    public var description: String { "at byte \(offset): \(fault)" }
}

/// The faults the reader refuses. Everything RFC 8259 forbids is refused, plus what JSON allows
/// but cannot be kept exactly or safely: lone surrogates, duplicate keys, numbers beyond the
/// range of a 64-bit float, nesting beyond the depth budget.
public enum JSONFault: Equatable, Sendable, CustomStringConvertible {
    /// The input ends where `expected` should come.
    case unexpectedEnd(expected: JSONExpectation)
    /// A byte that cannot come here.
    case unexpectedByte(UInt8, expected: JSONExpectation)
    /// `NaN`, `Infinity` or `-Infinity`: JavaScript, not JSON.
    case nonFiniteLiteral(String)
    /// A byte sequence in a string that is not UTF-8 (overlong forms, encoded surrogates and
    /// values above U+10FFFF included).
    case invalidUTF8
    /// A control character (below 0x20) written raw inside a string; JSON needs it escaped.
    case controlCharacter(UInt8)
    /// A backslash followed by something other than `" \ / b f n r t u`.
    case invalidEscape(UInt8)
    /// `\u` not followed by four hexadecimal digits.
    case invalidUnicodeEscape
    /// `\uD800`–`\uDFFF` without its other half: a UTF-16 fragment no text can hold exactly.
    case loneSurrogate(UInt16)
    /// A number that does not follow the grammar: leading zeros, `1.`, `.5`, `-`, `1e`.
    case invalidNumber
    /// A number whose magnitude is beyond the largest 64-bit float (`1e400`).
    case numberOutOfRange
    /// Something other than whitespace after the value.
    case trailingCharacters
    /// A key that already appears in the same object (the key, decoded).
    case duplicateKey(String)
    /// Arrays and objects nested deeper than the budget.
    case tooDeep(limit: Int)

    public var description: String {
        switch self {
        case .unexpectedEnd(let expected): return "the JSON ends early; expected \(expected)"
        case .unexpectedByte(let byte, let expected): return "unexpected \(JSONFault.show(byte)); expected \(expected)"
        case .nonFiniteLiteral(let literal): return "\(literal) is not JSON (only finite numbers are)"
        case .invalidUTF8: return "a string holds bytes that are not UTF-8"
        case .controlCharacter(let byte): return "raw control character \(JSONFault.hex(byte)) in a string; JSON requires it escaped"
        // The reader's own words name escapes without writing a backslash: the command escapes
        // every backslash it shows, and `\u` would read back as `\\u`.
        case .invalidEscape(let byte):
            return "invalid escape: a backslash followed by \(JSONFault.show(byte)); JSON allows only a quote, a backslash, /, b, f, n, r, t or u after one"
        case .invalidUnicodeEscape: return "a backslash-u escape must be followed by four hexadecimal digits"
        case .loneSurrogate(let unit):
            return "lone surrogate \(JSONFault.codePoint(unit)) (half of a UTF-16 pair) cannot be text"
        case .invalidNumber: return "malformed number (JSON numbers have no leading zeros, no leading + and digits on both sides of . and after e)"
        case .numberOutOfRange: return "number out of range (beyond the largest 64-bit float)"
        case .trailingCharacters: return "trailing characters after the JSON value"
        case .duplicateKey(let key): return "key \(key.quotedForMessage) appears twice in one object"
        case .tooDeep(let limit): return "arrays and objects nested deeper than \(limit) levels"
        }
    }

    static func isPrintable(_ byte: UInt8) -> Bool { byte >= 0x21 && byte < 0x7F }

    static func hex(_ byte: UInt8) -> String {
        let digits = Array("0123456789ABCDEF")
        return "0x" + String(digits[Int(byte >> 4)]) + String(digits[Int(byte & 0xF)])
    }

    /// `U+D800` for a UTF-16 code unit.
    static func codePoint(_ unit: UInt16) -> String {
        let hex = String(unit, radix: 16, uppercase: true)
        return "U+" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
    }

    static func show(_ byte: UInt8) -> String {
        isPrintable(byte) ? "'\(String(UnicodeScalar(byte)))'" : "byte \(hex(byte))"
    }
}

/// What the reader expected where it found something else.
public enum JSONExpectation: String, Equatable, Sendable, CustomStringConvertible {
    /// Any value (after `:`, at the start of the document).
    case value = "a value"
    /// A member's key (after `,` in an object).
    case key = "a string key"
    /// A member's key or the end of an empty object.
    case keyOrObjectEnd = "a string key or '}'"
    /// The `:` after a key.
    case colon = "':'"
    /// The `,` before another member, or the end of the object.
    case commaOrObjectEnd = "',' or '}'"
    /// An element, or the end of an empty array.
    case valueOrArrayEnd = "a value or ']'"
    /// The `,` before another element, or the end of the array.
    case commaOrArrayEnd = "',' or ']'"
    /// The `"` that ends a string.
    case closingQuote = "the closing '\"'"
    /// One of `"\/bfnrtu` after a backslash.
    case escape = "an escape character after a backslash"
    /// A digit (after a sign, a decimal point or an exponent mark).
    case digit = "a digit"
    /// The rest of `true`.
    case literalTrue = "true"
    /// The rest of `false`.
    case literalFalse = "false"
    /// The rest of `null`.
    case literalNull = "null"
    /// An object (a pull reader asked for one).
    case object = "'{'"
    /// An array (a pull reader asked for one).
    case array = "'['"
    /// A string (a pull reader asked for one).
    case string = "'\"'"

    public var description: String { rawValue }
}
