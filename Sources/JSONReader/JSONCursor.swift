import ExactText

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

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
    /// The deepest nesting a cursor can track (`maxDepth` is capped here).
    public static let maximumDepth = 128

    @usableFromInline let bytes: UnsafeRawBufferPointer
    @usableFromInline var position = 0
    /// Added to buffer positions in offsets and errors.
    public let offsetBase: Int
    /// The nesting budget.
    public let maxDepth: Int
    /// How many arrays and objects are open.
    public var depth: Int { openCount }
    @usableFromInline var openCount = 0
    /// Bit `k` (of 128): whether the container open at depth `k + 1` already has a member.
    @usableFromInline var hasMembersLow: UInt64 = 0
    @usableFromInline var hasMembersHigh: UInt64 = 0

    /// A cursor at the start of `bytes`.
    ///
    /// - Parameters:
    ///   - offsetBase: added to every offset reported (8 for a safetensors header).
    ///   - maxDepth: how deeply arrays and objects may nest (at most ``maximumDepth``).
    public init(_ bytes: UnsafeRawBufferPointer, offsetBase: Int = 0, maxDepth: Int = JSONCursor.defaultMaxDepth) {
        self.bytes = bytes
        self.offsetBase = offsetBase
        self.maxDepth = max(0, min(maxDepth, JSONCursor.maximumDepth))
    }

    /// Whether the innermost open container already has a member.
    @inlinable var innermostHasMembers: Bool {
        get {
            guard openCount > 0 else { return false }
            let bit = openCount - 1
            return bit < 64 ? hasMembersLow & (1 << UInt64(bit)) != 0 : hasMembersHigh & (1 << UInt64(bit - 64)) != 0
        }
        set {
            guard openCount > 0 else { return }
            let bit = openCount - 1
            if bit < 64 {
                if newValue { hasMembersLow |= 1 << UInt64(bit) } else { hasMembersLow &= ~(1 << UInt64(bit)) }
            } else {
                if newValue { hasMembersHigh |= 1 << UInt64(bit - 64) } else { hasMembersHigh &= ~(1 << UInt64(bit - 64)) }
            }
        }
    }

    /// The offset (with `offsetBase`) of the next unread byte.
    @inlinable
    public var offset: Int { offsetBase + position }

    /// Bytes not yet read.
    public var remainingByteCount: Int { bytes.count - position }

    /// Skips whitespace and returns the offset (with `offsetBase`) where the next token starts.
    @inlinable
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
    @inlinable
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
    @usableFromInline func nonFiniteLiteral(at index: Int) -> String? {
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
    @inlinable
    public mutating func beginObject() throws(JSONError) {
        try begin(UInt8(ascii: "{"), .object)
    }

    /// Opens the array that comes next.
    @inlinable
    public mutating func beginArray() throws(JSONError) {
        try begin(UInt8(ascii: "["), .array)
    }

    @inlinable mutating func begin(_ byte: UInt8, _ expectation: JSONExpectation) throws(JSONError) {
        skipWhitespace()
        guard position < bytes.count else { throw error(.unexpectedEnd(expected: expectation), at: position) }
        guard bytes[position] == byte else { throw error(.unexpectedByte(bytes[position], expected: expectation), at: position) }
        guard openCount < maxDepth else { throw error(.tooDeep(limit: maxDepth), at: position) }
        openCount += 1
        innermostHasMembers = false
        position += 1
    }

    /// The next key of the innermost open object, its `:` consumed, so that its value comes
    /// next; `nil` when the object ends (its `}` consumed). Keys are not checked for duplicates.
    @inlinable
    public mutating func nextKey() throws(JSONError) -> JSONStringToken? {
        skipWhitespace()
        let hasMembers = innermostHasMembers
        guard position < bytes.count else {
            throw error(.unexpectedEnd(expected: hasMembers ? .commaOrObjectEnd : .keyOrObjectEnd), at: position)
        }
        var byte = bytes[position]
        if byte == UInt8(ascii: "}") {
            openCount -= 1
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
        innermostHasMembers = true
        return key
    }

    /// Whether another element of the innermost open array comes next (its `,` consumed);
    /// `false` when the array ends (its `]` consumed).
    @inlinable
    public mutating func nextElement() throws(JSONError) -> Bool {
        skipWhitespace()
        let hasMembers = innermostHasMembers
        guard position < bytes.count else {
            throw error(.unexpectedEnd(expected: hasMembers ? .commaOrArrayEnd : .valueOrArrayEnd), at: position)
        }
        let byte = bytes[position]
        if byte == UInt8(ascii: "]") {
            openCount -= 1
            position += 1
            return false
        }
        if hasMembers {
            guard byte == UInt8(ascii: ",") else { throw error(.unexpectedByte(byte, expected: .commaOrArrayEnd), at: position) }
            position += 1
        } else {
            innermostHasMembers = true
        }
        return true
    }

    // MARK: - Strings

    /// Reads the string that comes next, validating it (UTF-8, control characters, escapes,
    /// surrogate pairs) without decoding it.
    @inlinable
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
    @usableFromInline mutating func scanEscape() throws(JSONError) {
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
    @inlinable
    public func rawBytes(_ token: JSONStringToken) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: bytes[token.start..<token.end])
    }

    /// The decoded text of a string token, byte for byte (`\u0000` kept).
    @inlinable
    public func string(_ token: JSONStringToken) -> String {
        guard token.hasEscapes else { return String(decoding: rawBytes(token), as: UTF8.self) }
        return String(decoding: decodedBytes(token), as: UTF8.self)
    }

    /// Whether the decoded text of `token` is exactly `literal` (compared by bytes).
    @inlinable public func token(_ token: JSONStringToken, equals literal: StaticString) -> Bool {
        let count = literal.utf8CodeUnitCount
        guard !token.hasEscapes else { return decodedBytes(token).elementsEqual(UnsafeBufferPointer(start: literal.utf8Start, count: count)) }
        guard token.end - token.start == count else { return false }
        guard count > 0, let base = bytes.baseAddress else { return true }
        return memcmp(base + token.start, literal.utf8Start, count) == 0
    }

    /// The raw bytes of a token without escapes, packed little-endian into two words (the first
    /// 16 bytes; the rest ignored), and its byte count: a cheap key to match known spellings.
    @inlinable public func packedRawBytes(_ token: JSONStringToken) -> (count: Int, low: UInt64, high: UInt64) {
        let count = token.end - token.start
        var low: UInt64 = 0, high: UInt64 = 0
        for k in 0..<min(count, 16) {
            let byte = UInt64(bytes[token.start + k])
            if k < 8 { low |= byte << (8 * UInt64(k)) } else { high |= byte << (8 * UInt64(k - 8)) }
        }
        return (count, low, high)
    }

    /// A saved place: ``rewind(to:)`` goes back to it to read the same value again.
    public struct Mark: Sendable {
        @usableFromInline let position: Int
        @usableFromInline let depth: Int
        @usableFromInline let low: UInt64
        @usableFromInline let high: UInt64

        @usableFromInline init(position: Int, depth: Int, low: UInt64, high: UInt64) {
            self.position = position
            self.depth = depth
            self.low = low
            self.high = high
        }
    }

    /// The current place, to come back to.
    @inlinable
    public func mark() -> Mark { Mark(position: position, depth: openCount, low: hasMembersLow, high: hasMembersHigh) }

    /// Goes back to `mark`, taken earlier by this cursor at the start of a value that has not
    /// been left yet (the value may have been read in part).
    @inlinable
    public mutating func rewind(to mark: Mark) {
        position = mark.position
        openCount = mark.depth
        hasMembersLow = mark.low
        hasMembersHigh = mark.high
    }

    /// The UTF-8 of a validated token with its escapes decoded.
    @usableFromInline func decodedBytes(_ token: JSONStringToken) -> [UInt8] {
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
    @inlinable
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
    /// An object, an array, a string, a number, `true`/`false`, or `null`.
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
    @usableFromInline let start: Int
    @usableFromInline let end: Int
    /// Whether the raw bytes hold backslash escapes (its text then differs from them).
    public let hasEscapes: Bool

    @usableFromInline init(offset: Int, start: Int, end: Int, hasEscapes: Bool) {
        self.offset = offset
        self.start = start
        self.end = end
        self.hasEscapes = hasEscapes
    }
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
