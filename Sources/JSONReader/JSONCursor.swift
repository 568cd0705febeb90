import ExactText

/// A pull reader over JSON text: the caller asks for the next key, element or value, so a known
/// document (a safetensors header) is read into its own types without building a tree, and every
/// other document goes through ``readValue()``, built on the same steps. Both therefore accept
/// exactly the same texts:
///
/// - RFC 8259 grammar, nothing more: no comments, trailing commas, single quotes, leading zeros,
///   `+1`, `.5`, `NaN` or `Infinity`; only space, tab, LF and CR as whitespace;
/// - strings are valid UTF-8 with no raw control characters; escapes are decoded exactly
///   (`\u0000` is kept); a lone surrogate is refused, since no text can hold it;
/// - a key may appear once per object (``readValue()`` checks; callers reading objects
///   themselves check their own keys);
/// - numbers keep their literal: integers are exact over the whole `Int64` and `UInt64` range,
///   other numbers are 64-bit floats, and a magnitude beyond the largest float is refused;
/// - arrays and objects nest at most `maxDepth` levels (the root counts as one).
///
/// The cursor reads the memory it was given without copying it: the buffer must stay valid
/// while the cursor and its tokens are used.
public struct JSONCursor {
    /// serde_json's recursion budget (128) lets 127 arrays and objects nest, which is where the
    /// safetensors reference reader stops (docs/formats.md, "The header's JSON").
    public static let defaultMaxDepth = 127

    @usableFromInline let bytes: UnsafeRawBufferPointer
    @usableFromInline var position = 0
    /// Added to buffer positions in offsets and errors.
    public let offsetBase: Int
    /// The nesting budget.
    public let maxDepth: Int
    /// One entry per open array or object: whether it already has a member.
    @usableFromInline var open: [Bool] = []

    /// A cursor at the start of `bytes`.
    ///
    /// - Parameters:
    ///   - offsetBase: added to every offset reported (8 for a safetensors header).
    ///   - maxDepth: how deeply arrays and objects may nest.
    public init(_ bytes: UnsafeRawBufferPointer, offsetBase: Int = 0, maxDepth: Int = JSONCursor.defaultMaxDepth) {
        self.bytes = bytes
        self.offsetBase = offsetBase
        self.maxDepth = maxDepth
        open.reserveCapacity(8)
    }

    /// The offset (with `offsetBase`) of the next unread byte.
    public var offset: Int { offsetBase + position }

    /// How many arrays and objects are open.
    public var depth: Int { open.count }

    /// Bytes not yet read.
    public var remainingByteCount: Int { bytes.count - position }

    /// Skips whitespace and returns the offset (with `offsetBase`) where the next token starts.
    public mutating func nextValueOffset() -> Int {
        skipWhitespace()
        return offset
    }

    @inline(__always) @usableFromInline func error(_ fault: JSONFault, at position: Int) -> JSONError {
        JSONError(fault, at: offsetBase + position)
    }

    @inline(__always) @usableFromInline mutating func skipWhitespace() {
        while position < bytes.count {
            let byte = bytes[position]
            guard byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 else { return }
            position += 1
        }
    }

    // MARK: - Values

    /// The kind of the next value, after whitespace; nothing is consumed but the whitespace.
    ///
    /// - Throws: at the end of the input, or at a byte that starts no value (naming `NaN` and
    ///   `Infinity`).
    public mutating func peekKind() throws(JSONError) -> JSONKind {
        skipWhitespace()
        guard position < bytes.count else { throw error(.unexpectedEnd(expected: .value), at: position) }
        switch bytes[position] {
        case UInt8(ascii: "{"): return .object
        case UInt8(ascii: "["): return .array
        case UInt8(ascii: "\""): return .string
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number
        case UInt8(ascii: "t"): return .bool
        case UInt8(ascii: "f"): return .bool
        case UInt8(ascii: "n"): return .null
        case let byte:
            if let literal = nonFiniteLiteral(at: position) { throw error(.nonFiniteLiteral(literal), at: position) }
            throw error(.unexpectedByte(byte, expected: .value), at: position)
        }
    }

    /// `NaN`, `Infinity` or `-Infinity` when the bytes at `index` spell one.
    func nonFiniteLiteral(at index: Int) -> String? {
        for literal in ["NaN", "Infinity", "-Infinity"] {
            let utf8 = Array(literal.utf8)
            if utf8.count <= bytes.count - index, utf8.indices.allSatisfy({ bytes[index + $0] == utf8[$0] }) { return literal }
        }
        return nil
    }

    /// Reads the next value as a tree, checking every object for duplicate keys.
    public mutating func readValue() throws(JSONError) -> JSONNode {
        switch try peekKind() {
        case .object:
            try beginObject()
            var members: [JSONObject.Member] = []
            var seen: Set<ExactString>?
            while let keyToken = try nextKey() {
                let key = string(keyToken)
                if let set = seen {
                    if set.contains(ExactString(key)) { throw error(.duplicateKey(key), at: keyToken.offset - offsetBase) }
                    seen?.insert(ExactString(key))
                } else {
                    if members.contains(where: { $0.key.isByteEqual(to: key) }) {
                        throw error(.duplicateKey(key), at: keyToken.offset - offsetBase)
                    }
                    if members.count >= 16 { seen = Set(members.map { ExactString($0.key) } + [ExactString(key)]) }
                }
                skipWhitespace()
                let valueOffset = offset
                members.append(JSONObject.Member(key: key, value: try readValue(), offset: valueOffset))
            }
            return .object(JSONObject(members))
        case .array:
            try beginArray()
            var items: [JSONNode] = []
            while try nextElement() { items.append(try readValue()) }
            return .array(items)
        case .string:
            return .string(string(try readString()))
        case .number:
            return .number(JSONNumber(try readNumber(), in: self))
        case .bool:
            if bytes[position] == UInt8(ascii: "t") {
                try consumeLiteral("true", .literalTrue)
                return .bool(true)
            }
            try consumeLiteral("false", .literalFalse)
            return .bool(false)
        case .null:
            try consumeLiteral("null", .literalNull)
            return .null
        }
    }

    /// Reads past the next value, with every check ``readValue()`` makes.
    public mutating func skipValue() throws(JSONError) {
        _ = try readValue()
    }

    /// Reads `null` if it comes next (after whitespace).
    ///
    /// - Returns: whether it did.
    public mutating func readNullIfPresent() throws(JSONError) -> Bool {
        guard try peekKind() == .null else { return false }
        try consumeLiteral("null", .literalNull)
        return true
    }

    mutating func consumeLiteral(_ literal: StaticString, _ expectation: JSONExpectation) throws(JSONError) {
        let utf8 = UnsafeBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount)
        for (k, expected) in utf8.enumerated() {
            guard position + k < bytes.count else { throw error(.unexpectedEnd(expected: expectation), at: position + k) }
            let byte = bytes[position + k]
            guard byte == expected else {
                if k == 0, let nonFinite = nonFiniteLiteral(at: position) { throw error(.nonFiniteLiteral(nonFinite), at: position) }
                throw error(.unexpectedByte(byte, expected: expectation), at: position + k)
            }
        }
        position += utf8.count
    }

    /// Checks that only whitespace follows.
    public mutating func finish() throws(JSONError) {
        skipWhitespace()
        guard position == bytes.count else { throw error(.trailingCharacters, at: position) }
    }

    // MARK: - Objects and arrays

    /// Opens the object that comes next.
    public mutating func beginObject() throws(JSONError) {
        try begin(UInt8(ascii: "{"), .object)
    }

    /// Opens the array that comes next.
    public mutating func beginArray() throws(JSONError) {
        try begin(UInt8(ascii: "["), .array)
    }

    @inline(__always) mutating func begin(_ byte: UInt8, _ expectation: JSONExpectation) throws(JSONError) {
        skipWhitespace()
        guard position < bytes.count else { throw error(.unexpectedEnd(expected: expectation), at: position) }
        guard bytes[position] == byte else { throw error(.unexpectedByte(bytes[position], expected: expectation), at: position) }
        guard open.count < maxDepth else { throw error(.tooDeep(limit: maxDepth), at: position) }
        open.append(false)
        position += 1
    }

    /// The next key of the innermost open object, its `:` consumed, so that its value comes
    /// next; `nil` when the object ends (its `}` consumed). Keys are not checked for duplicates.
    public mutating func nextKey() throws(JSONError) -> JSONStringToken? {
        skipWhitespace()
        let hasMembers = open.last ?? false
        guard position < bytes.count else {
            throw error(.unexpectedEnd(expected: hasMembers ? .commaOrObjectEnd : .keyOrObjectEnd), at: position)
        }
        var byte = bytes[position]
        if byte == UInt8(ascii: "}") {
            open.removeLast()
            position += 1
            return nil
        }
        if hasMembers {
            guard byte == UInt8(ascii: ",") else { throw error(.unexpectedByte(byte, expected: .commaOrObjectEnd), at: position) }
            position += 1
            skipWhitespace()
            guard position < bytes.count else { throw error(.unexpectedEnd(expected: .key), at: position) }
            byte = bytes[position]
        }
        guard byte == UInt8(ascii: "\"") else {
            throw error(.unexpectedByte(byte, expected: hasMembers ? .key : .keyOrObjectEnd), at: position)
        }
        let key = try readString()
        skipWhitespace()
        guard position < bytes.count else { throw error(.unexpectedEnd(expected: .colon), at: position) }
        guard bytes[position] == UInt8(ascii: ":") else { throw error(.unexpectedByte(bytes[position], expected: .colon), at: position) }
        position += 1
        open[open.count - 1] = true
        return key
    }

    /// Whether another element of the innermost open array comes next (its `,` consumed);
    /// `false` when the array ends (its `]` consumed).
    public mutating func nextElement() throws(JSONError) -> Bool {
        skipWhitespace()
        let hasMembers = open.last ?? false
        guard position < bytes.count else {
            throw error(.unexpectedEnd(expected: hasMembers ? .commaOrArrayEnd : .valueOrArrayEnd), at: position)
        }
        let byte = bytes[position]
        if byte == UInt8(ascii: "]") {
            open.removeLast()
            position += 1
            return false
        }
        if hasMembers {
            guard byte == UInt8(ascii: ",") else { throw error(.unexpectedByte(byte, expected: .commaOrArrayEnd), at: position) }
            position += 1
        }
        open[open.count - 1] = true
        return true
    }

    // MARK: - Strings

    /// Reads the string that comes next, validating it (UTF-8, control characters, escapes,
    /// surrogate pairs) without decoding it.
    public mutating func readString() throws(JSONError) -> JSONStringToken {
        skipWhitespace()
        guard position < bytes.count else { throw error(.unexpectedEnd(expected: .string), at: position) }
        guard bytes[position] == UInt8(ascii: "\"") else { throw error(.unexpectedByte(bytes[position], expected: .string), at: position) }
        let opening = position
        position += 1
        let start = position
        var hasEscapes = false
        let count = bytes.count
        while true {
            // Plain ASCII runs are the common case: one comparison per byte.
            while position < count {
                let byte = bytes[position]
                guard byte >= 0x20, byte < 0x80, byte != UInt8(ascii: "\""), byte != UInt8(ascii: "\\") else { break }
                position += 1
            }
            guard position < count else { throw error(.unexpectedEnd(expected: .closingQuote), at: position) }
            let byte = bytes[position]
            if byte == UInt8(ascii: "\"") { break }
            if byte == UInt8(ascii: "\\") {
                hasEscapes = true
                try scanEscape()
            } else if byte < 0x20 {
                throw error(.controlCharacter(byte), at: position)
            } else {
                guard let length = UTF8Check.sequenceLength(bytes, at: position) else { throw error(.invalidUTF8, at: position) }
                position += length
            }
        }
        let token = JSONStringToken(offset: offsetBase + opening, start: start, end: position, hasEscapes: hasEscapes)
        position += 1
        return token
    }

    /// Checks the escape at `position` (a backslash) and moves past it.
    mutating func scanEscape() throws(JSONError) {
        guard position + 1 < bytes.count else { throw error(.unexpectedEnd(expected: .escape), at: position + 1) }
        switch bytes[position + 1] {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
            UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
            position += 2
        case UInt8(ascii: "u"):
            let unit = try hex4(at: position + 2, escapeAt: position)
            switch unit {
            case 0xD800...0xDBFF:
                guard position + 7 < bytes.count, bytes[position + 6] == UInt8(ascii: "\\"), bytes[position + 7] == UInt8(ascii: "u") else {
                    throw error(.loneSurrogate(unit), at: position)
                }
                let low = try hex4(at: position + 8, escapeAt: position + 6)
                guard (0xDC00...0xDFFF).contains(low) else { throw error(.loneSurrogate(unit), at: position) }
                position += 12
            case 0xDC00...0xDFFF:
                throw error(.loneSurrogate(unit), at: position)
            default:
                position += 6
            }
        case let other:
            throw error(.invalidEscape(other), at: position)
        }
    }

    /// The four hex digits at `index` (part of the `\u` escape at `escapeAt`).
    func hex4(at index: Int, escapeAt: Int) throws(JSONError) -> UInt16 {
        guard index + 4 <= bytes.count else {
            // Fewer than four bytes remain: a bad digit among them is the fault, else the end.
            for k in index..<bytes.count where JSONCursor.hexValue(bytes[k]) == nil { throw error(.invalidUnicodeEscape, at: escapeAt) }
            throw error(.unexpectedEnd(expected: .escape), at: bytes.count)
        }
        var value: UInt16 = 0
        for k in 0..<4 {
            guard let digit = JSONCursor.hexValue(bytes[index + k]) else { throw error(.invalidUnicodeEscape, at: escapeAt) }
            value = value << 4 | UInt16(digit)
        }
        return value
    }

    @inline(__always) static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }

    /// The raw bytes of a token read by this cursor (escapes not decoded).
    public func rawBytes(_ token: JSONStringToken) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: bytes[token.start..<token.end])
    }

    /// The decoded text of a string token, byte for byte (`\u0000` kept).
    public func string(_ token: JSONStringToken) -> String {
        guard token.hasEscapes else { return String(decoding: rawBytes(token), as: UTF8.self) }
        return String(decoding: decodedBytes(token), as: UTF8.self)
    }

    /// Whether the decoded text of `token` is exactly `literal` (compared by bytes).
    public func token(_ token: JSONStringToken, equals literal: StaticString) -> Bool {
        let expected = UnsafeRawBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount)
        guard token.hasEscapes else { return rawBytes(token).elementsEqual(expected) }
        return decodedBytes(token).elementsEqual(expected)
    }

    /// The UTF-8 of a validated token with its escapes decoded.
    func decodedBytes(_ token: JSONStringToken) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(token.end - token.start)
        var index = token.start
        while index < token.end {
            let byte = bytes[index]
            guard byte == UInt8(ascii: "\\") else {
                out.append(byte)
                index += 1
                continue
            }
            let kind = bytes[index + 1]
            index += 2
            switch kind {
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = UInt32(unitAt(index))
                index += 4
                if (0xD800...0xDBFF).contains(scalar) {
                    // Validated: a low surrogate escape follows.
                    let low = UInt32(unitAt(index + 2))
                    index += 6
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                }
                UTF8Check.append(scalar: scalar, to: &out)
            default: out.append(kind)  // " \ /
            }
        }
        return out
    }

    /// Four validated hex digits at `index`.
    private func unitAt(_ index: Int) -> UInt16 {
        var value: UInt16 = 0
        for k in 0..<4 { value = value << 4 | UInt16(JSONCursor.hexValue(bytes[index + k]) ?? 0) }
        return value
    }

    // MARK: - Numbers

    /// Reads the number that comes next, checking its grammar and range.
    public mutating func readNumber() throws(JSONError) -> JSONNumberToken {
        skipWhitespace()
        let start = position
        let count = bytes.count
        var negative = false
        if position < count, bytes[position] == UInt8(ascii: "-") {
            negative = true
            position += 1
        }
        guard position < count else { throw error(.invalidNumber, at: start) }
        var magnitude: UInt64 = 0
        var fits = true
        let first = bytes[position]
        if first == UInt8(ascii: "0") {
            position += 1
            if position < count, UTF8Check.isDigit(bytes[position]) { throw error(.invalidNumber, at: start) }
        } else if first >= UInt8(ascii: "1"), first <= UInt8(ascii: "9") {
            while position < count, UTF8Check.isDigit(bytes[position]) {
                let digit = UInt64(bytes[position] &- UInt8(ascii: "0"))
                if fits {
                    let (times10, o1) = magnitude.multipliedReportingOverflow(by: 10)
                    let (sum, o2) = times10.addingReportingOverflow(digit)
                    if o1 || o2 { fits = false } else { magnitude = sum }
                }
                position += 1
            }
        } else {
            if negative, let literal = nonFiniteLiteral(at: start) { throw error(.nonFiniteLiteral(literal), at: start) }
            throw error(.invalidNumber, at: start)
        }
        var isInteger = true
        if position < count, bytes[position] == UInt8(ascii: ".") {
            isInteger = false
            position += 1
            guard position < count, UTF8Check.isDigit(bytes[position]) else { throw error(.invalidNumber, at: start) }
            while position < count, UTF8Check.isDigit(bytes[position]) { position += 1 }
        }
        if position < count, bytes[position] == UInt8(ascii: "e") || bytes[position] == UInt8(ascii: "E") {
            isInteger = false
            position += 1
            if position < count, bytes[position] == UInt8(ascii: "+") || bytes[position] == UInt8(ascii: "-") { position += 1 }
            guard position < count, UTF8Check.isDigit(bytes[position]) else { throw error(.invalidNumber, at: start) }
            while position < count, UTF8Check.isDigit(bytes[position]) { position += 1 }
        }
        var token = JSONNumberToken(
            offset: offsetBase + start, start: start, end: position, isInteger: isInteger, isNegative: negative,
            magnitude: isInteger && fits ? magnitude : nil)
        if token.value == nil {
            // Not a 64-bit integer: it must be a finite double.
            let double = parseDouble(token)
            guard double.isFinite else { throw error(.numberOutOfRange, at: start) }
            token.double = double
        }
        return token
    }

    /// The correctly rounded double nearest a grammar-checked literal.
    func parseDouble(_ token: JSONNumberToken) -> Double {
        let text = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[token.start..<token.end]), as: UTF8.self)
        return Double(text) ?? .nan
    }

    /// The literal text of a number token.
    public func literal(_ token: JSONNumberToken) -> String {
        String(decoding: UnsafeRawBufferPointer(rebasing: bytes[token.start..<token.end]), as: UTF8.self)
    }

    /// Reads the next value if it is a number that is a non-negative integer below 2^64.
    ///
    /// - Returns: the integer, or `nil` (nothing consumed but whitespace) when the next value is
    ///   something else, including a negative, fractional or larger number.
    /// - Throws: as ``readNumber()`` when the next value is a malformed number.
    public mutating func readUnsignedIfPresent() throws(JSONError) -> UInt64? {
        skipWhitespace()
        // The common case, digits then a delimiter, without building a token.
        let count = bytes.count
        var index = position
        var value: UInt64 = 0
        if index < count, bytes[index] >= UInt8(ascii: "1"), bytes[index] <= UInt8(ascii: "9") {
            while index < count, UTF8Check.isDigit(bytes[index]), index - position < 19 {
                value = value &* 10 &+ UInt64(bytes[index] &- UInt8(ascii: "0"))
                index += 1
            }
            if index >= count || !UTF8Check.continuesNumber(bytes[index]) {
                position = index
                return value
            }
        } else if index < count, bytes[index] == UInt8(ascii: "0") {
            index += 1
            if index >= count || !UTF8Check.continuesNumber(bytes[index]) {
                position = index
                return 0
            }
        }
        guard try peekKind() == .number else { return nil }
        let saved = position
        let token = try readNumber()
        guard case .unsigned(let unsigned)? = token.value else {
            position = saved
            return nil
        }
        return unsigned
    }
}

/// The kind of the next JSON value.
public enum JSONKind: Sendable, Equatable {
    case object, array, string, number, bool, null

    /// The JSON type's name for messages ("object", "string", …).
    public var name: String {
        switch self {
        case .object: return "object"
        case .array: return "array"
        case .string: return "string"
        case .number: return "number"
        case .bool: return "boolean"
        case .null: return "null"
        }
    }
}

/// A string read by a ``JSONCursor``: where it is, and whether it holds escapes. Its text comes
/// from ``JSONCursor/string(_:)``.
public struct JSONStringToken: Sendable, Equatable {
    /// Offset (with the cursor's base) of the opening quote.
    public let offset: Int
    let start: Int
    let end: Int
    /// Whether the raw bytes hold backslash escapes (its text then differs from them).
    public let hasEscapes: Bool
}

/// A number read by a ``JSONCursor``.
public struct JSONNumberToken: Sendable, Equatable {
    /// Offset (with the cursor's base) of the literal's first byte.
    public let offset: Int
    let start: Int
    let end: Int
    /// No fraction and no exponent.
    public let isInteger: Bool
    /// Written with a leading `-`.
    public let isNegative: Bool
    /// The absolute value, when it is an integer below 2^64.
    let magnitude: UInt64?
    /// The value as a double, when it is not a 64-bit integer.
    var double: Double?

    /// The exact integer when the literal is one within `Int64.min...UInt64.max`; `-0` is not
    /// one (it reads as the float -0.0, as in serde_json).
    public var value: JSONNumber.Value? {
        if let double { return .float(double) }
        guard let magnitude else { return nil }
        if !isNegative { return .unsigned(magnitude) }
        if magnitude == 0 { return nil }
        if magnitude <= UInt64(Int64.max) { return .negative(-Int64(magnitude)) }
        if magnitude == UInt64(Int64.max) + 1 { return .negative(Int64.min) }
        return nil
    }
}
