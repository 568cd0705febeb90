// The `.npy` preamble and header (docs/formats.md, "NumPy"): the magic `\x93NUMPY`, a major and
// minor version byte, the header length (2 bytes little-endian in 1.0, 4 bytes in 2.0 and 3.0),
// then the header: a Python dict literal with exactly the keys `descr`, `fortran_order` and
// `shape`, padded with spaces and a newline so the data starts on a 64-byte boundary.

/// The `descr` value of a `.npy` header.
public enum NumPyDescr: Sendable, Equatable {
    /// A dtype string such as `'<f4'`.
    case string(String)
    /// A list of fields: a structured dtype; `holdsObjects` when a field (at any depth) is an object.
    case structured(holdsObjects: Bool)
    /// A `(base, shape)` tuple: a subarray dtype.
    case subarray(holdsObjects: Bool)

    /// Whether the array's data is a pickle (numpy's `dtype.hasobject`).
    public var holdsObjects: Bool {
        switch self {
        case .string(let text): return NumPyDType.isObjectCode(text)
        case .structured(let objects), .subarray(let objects): return objects
        }
    }

    /// The descr as the header spells it, or a short stand-in for the composite forms.
    public var text: String {
        switch self {
        case .string(let text): return text
        case .structured: return "[…]"
        case .subarray: return "(…)"
        }
    }
}

/// The preamble and header of one `.npy` array, checked.
public struct NumPyHeader: Sendable, Equatable {
    /// The format version's major number (1, 2 or 3).
    public let majorVersion: UInt8
    /// The format version's minor number (0).
    public let minorVersion: UInt8
    /// The offset of the first data byte (after magic, version, length and header).
    public let dataOffset: Int
    /// The dtype description.
    public let descr: NumPyDescr
    /// Where the `descr` value starts, for messages.
    public let descrOffset: Int
    /// Whether the data is stored column-major.
    public let fortranOrder: Bool
    /// The dimensions; empty for a 0-d array.
    public let shape: [Int]

    /// `\x93NUMPY`.
    public static let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]
    /// The longest header read: numpy's own default `max_header_size`. A numeric array's header is
    /// under 2 KB even at 64 dimensions; only structured dtypes with many fields come near.
    public static let maxHeaderBytes = 10_000
    /// The most bytes the preamble and header can take (a 2.0 length field plus the limit).
    public static let maxPreambleBytes = 12 + maxHeaderBytes
    /// How deep lists and tuples may nest in a header (structured dtypes nest).
    static let maxNesting = 32

    /// Parses the preamble and header at the start of `bytes`. Only those bytes are read; the
    /// caller checks the data against ``dataOffset`` and the shape.
    ///
    /// - Parameter maxRank: the most dimensions accepted.
    /// - Throws: ``NumPyError`` with the byte offset of the fault (no member set).
    public static func parse(_ bytes: UnsafeRawBufferPointer, maxRank: Int) throws(NumPyError) -> NumPyHeader {
        guard bytes.count >= 10 else {
            if bytes.count >= 6, !bytes.prefix(6).elementsEqual(magic) {
                throw NumPyError(offset: 0, .badMagic(found: Array(bytes.prefix(6))))
            }
            throw NumPyError(offset: 0, .preambleTruncated(size: bytes.count, needed: 10))
        }
        guard bytes.prefix(6).elementsEqual(magic) else { throw NumPyError(offset: 0, .badMagic(found: Array(bytes.prefix(6)))) }
        let major = bytes[6], minor = bytes[7]
        guard (major == 1 || major == 2 || major == 3) && minor == 0 else {
            throw NumPyError(offset: 6, .unsupportedVersion(major: major, minor: minor))
        }
        let headerStart: Int
        let declared: Int
        if major == 1 {
            declared = Int(bytes[8]) | Int(bytes[9]) << 8
            headerStart = 10
        } else {
            guard bytes.count >= 12 else { throw NumPyError(offset: 0, .preambleTruncated(size: bytes.count, needed: 12)) }
            declared = Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24
            headerStart = 12
        }
        guard declared <= maxHeaderBytes else { throw NumPyError(offset: 8, .headerTooLarge(declared: declared, limit: maxHeaderBytes)) }
        guard declared <= bytes.count - headerStart else {
            throw NumPyError(offset: 8, .headerBeyondEnd(declared: declared, available: bytes.count - headerStart))
        }
        let header = Array(bytes[headerStart..<(headerStart + declared)])
        if major == 3, let bad = firstInvalidUTF8(header) { throw NumPyError(offset: headerStart + bad, .headerNotUTF8) }

        var parser = NumPyLiteralParser(bytes: header, base: headerStart, acceptsLongSuffix: major < 3, maxNesting: maxNesting)
        let entries = try parser.parseHeader()
        return try interpret(entries, version: (major, minor), dataOffset: headerStart + declared, headerStart: headerStart, maxRank: maxRank)
    }

    private static func interpret(
        _ entries: [(key: NumPyLiteral, value: NumPyLiteral)], version: (UInt8, UInt8), dataOffset: Int, headerStart: Int, maxRank: Int
    ) throws(NumPyError) -> NumPyHeader {
        var values: [String: NumPyLiteral] = [:]
        for (key, value) in entries {
            guard case .string(let name) = key.kind else {
                throw NumPyError(offset: key.offset, .wrongType(key: "key", found: key.kind.described, expected: "a string"))
            }
            guard ["descr", "fortran_order", "shape"].contains(name) else { throw NumPyError(offset: key.offset, .unexpectedKey(name)) }
            guard values[name] == nil else { throw NumPyError(offset: key.offset, .duplicateKey(name)) }
            values[name] = value
        }
        for name in ["descr", "fortran_order", "shape"] where values[name] == nil {
            throw NumPyError(offset: headerStart, .missingKey(name))
        }
        guard let descrValue = values["descr"], let orderValue = values["fortran_order"], let shapeValue = values["shape"] else {
            throw NumPyError(offset: headerStart, .missingKey("descr"))
        }

        let descr: NumPyDescr
        switch descrValue.kind {
        case .string(let text): descr = .string(text)
        case .list: descr = .structured(holdsObjects: holdsObjects(descrValue))
        case .tuple: descr = .subarray(holdsObjects: holdsObjects(descrValue))
        default:
            throw NumPyError(offset: descrValue.offset, .wrongType(key: "descr", found: descrValue.kind.described, expected: "a dtype string such as '<f4'"))
        }

        guard case .bool(let fortranOrder) = orderValue.kind else {
            throw NumPyError(offset: orderValue.offset, .wrongType(key: "fortran_order", found: orderValue.kind.described, expected: "True or False"))
        }

        guard case .tuple(let items) = shapeValue.kind else {
            throw NumPyError(offset: shapeValue.offset, .wrongType(key: "shape", found: shapeValue.kind.described, expected: "a tuple of ints"))
        }
        guard items.count <= maxRank else { throw NumPyError(offset: shapeValue.offset, .rankTooHigh(rank: items.count, limit: maxRank)) }
        var shape: [Int] = []
        for item in items {
            guard case .int(let digits, let negative) = item.kind else {
                throw NumPyError(offset: item.offset, .wrongType(key: "shape", found: "a tuple holding \(item.kind.described)", expected: "a tuple of ints"))
            }
            guard !negative || digits.allSatisfy({ $0 == UInt8(ascii: "0") }) else {
                throw NumPyError(offset: item.offset, .negativeDimension("-" + String(decoding: digits, as: UTF8.self)))
            }
            guard let value = decimalValue(digits) else {
                throw NumPyError(offset: item.offset, .dimensionTooLarge(String(decoding: digits, as: UTF8.self)))
            }
            shape.append(value)
        }
        return NumPyHeader(
            majorVersion: version.0, minorVersion: version.1, dataOffset: dataOffset, descr: descr, descrOffset: descrValue.offset,
            fortranOrder: fortranOrder, shape: shape)
    }

    /// Whether a descr value (string, field list or subarray tuple) holds an object type anywhere.
    static func holdsObjects(_ value: NumPyLiteral) -> Bool {
        switch value.kind {
        case .string(let text):
            return NumPyDType.isObjectCode(text)
        case .list(let fields):
            // Each field is (name, descr) or (name, descr, shape); the name may be a (title, name) pair.
            return fields.contains { field in
                guard case .tuple(let parts) = field.kind, parts.count == 2 || parts.count == 3 else { return false }
                return holdsObjects(parts[1])
            }
        case .tuple(let parts):
            return parts.first.map(holdsObjects) ?? false
        default:
            return false
        }
    }

    /// The value of decimal ASCII digits, or `nil` when it exceeds `Int.max`.
    static func decimalValue(_ digits: [UInt8]) -> Int? {
        var value = 0
        for digit in digits {
            let (times, o1) = value.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times.addingReportingOverflow(Int(digit - UInt8(ascii: "0")))
            guard !o1, !o2 else { return nil }
            value = sum
        }
        return value
    }

    /// The index of the first byte that breaks UTF-8 (a bad lead or continuation byte, an
    /// overlong form, a surrogate, a scalar past U+10FFFF, a truncated sequence), or `nil`.
    static func firstInvalidUTF8(_ bytes: [UInt8]) -> Int? {
        var index = 0
        while index < bytes.count {
            let lead = bytes[index]
            let length: Int
            switch lead {
            case 0x00..<0x80:
                index += 1
                continue
            case 0xC2...0xDF: length = 2
            case 0xE0...0xEF: length = 3
            case 0xF0...0xF4: length = 4
            default: return index
            }
            guard length <= bytes.count - index else { return index }
            var scalar = UInt32(lead) & (length == 2 ? 0x1F : length == 3 ? 0x0F : 0x07)
            for next in bytes[(index + 1)..<(index + length)] {
                guard next & 0xC0 == 0x80 else { return index }
                scalar = scalar << 6 | UInt32(next & 0x3F)
            }
            if length == 3 && (scalar < 0x800 || (0xD800...0xDFFF).contains(scalar)) { return index }
            if length == 4 && (scalar < 0x10000 || scalar > 0x10FFFF) { return index }
            index += length
        }
        return nil
    }
}

// MARK: - The literal

/// A value of the Python literal subset that `.npy` headers use, with the offset it starts at.
struct NumPyLiteral {
    indirect enum Kind {
        case string(String)
        case bool(Bool)
        case none
        /// Decimal digits and a sign, kept as text until checked.
        case int(digits: [UInt8], negative: Bool)
        case tuple([NumPyLiteral])
        case list([NumPyLiteral])

        /// `a string`, `an int`, … for messages.
        var described: String {
            switch self {
            case .string: return "a string"
            case .bool(let value): return value ? "True" : "False"
            case .none: return "None"
            case .int: return "an int"
            case .tuple: return "a tuple"
            case .list: return "a list"
            }
        }
    }

    let kind: Kind
    /// Absolute offset of the value's first byte.
    let offset: Int
}

/// Reads exactly the Python literal numpy writes with `repr`: a dict of string keys whose values
/// are strings (single or double quoted, no escapes), `True`, `False`, `None`, decimal ints (with
/// Python 2's `L` suffix in versions 1.0 and 2.0), tuples and lists. Whitespace (space, tab, line
/// feed, carriage return, form feed) may separate tokens; trailing commas are allowed where Python
/// allows them. Anything else is refused with its offset.
struct NumPyLiteralParser {
    let bytes: [UInt8]
    /// Absolute offset of `bytes[0]`.
    let base: Int
    let acceptsLongSuffix: Bool
    let maxNesting: Int
    var position = 0

    init(bytes: [UInt8], base: Int, acceptsLongSuffix: Bool, maxNesting: Int) {
        self.bytes = bytes
        self.base = base
        self.acceptsLongSuffix = acceptsLongSuffix
        self.maxNesting = maxNesting
    }

    /// The whole header: one dict, then only whitespace.
    mutating func parseHeader() throws(NumPyError) -> [(key: NumPyLiteral, value: NumPyLiteral)] {
        skipSpace()
        try expect(UInt8(ascii: "{"), "'{' (a dict)")
        var entries: [(key: NumPyLiteral, value: NumPyLiteral)] = []
        while true {
            skipSpace()
            if peek == UInt8(ascii: "}") { position += 1; break }
            if !entries.isEmpty {
                try expect(UInt8(ascii: ","), "',' or '}'")
                skipSpace()
                if peek == UInt8(ascii: "}") { position += 1; break }
            }
            let key = try parseValue(depth: 1)
            skipSpace()
            try expect(UInt8(ascii: ":"), "':'")
            skipSpace()
            let value = try parseValue(depth: 1)
            entries.append((key, value))
        }
        skipSpace()
        guard position == bytes.count else { throw failure("the end of the header (spaces and a newline after '}')") }
        return entries
    }

    private mutating func parseValue(depth: Int) throws(NumPyError) -> NumPyLiteral {
        let start = position
        guard let byte = peek else { throw failure("a value") }
        switch byte {
        case UInt8(ascii: "'"), UInt8(ascii: "\""):
            return NumPyLiteral(kind: .string(try parseString(quote: byte)), offset: base + start)
        case UInt8(ascii: "("), UInt8(ascii: "["):
            guard depth < maxNesting else { throw NumPyError(offset: base + start, .nestedTooDeeply(limit: maxNesting)) }
            return try parseSequence(open: byte, depth: depth)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return try parseInt()
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "_"):
            var end = position
            while end < bytes.count, isNameByte(bytes[end]) { end += 1 }
            let word = String(decoding: bytes[position..<end], as: UTF8.self)
            let kind: NumPyLiteral.Kind
            switch word {
            case "True": kind = .bool(true)
            case "False": kind = .bool(false)
            case "None": kind = .none
            default: throw failure("a value")
            }
            position = end
            return NumPyLiteral(kind: kind, offset: base + start)
        default:
            throw failure("a value")
        }
    }

    /// A tuple or list. `(x)` without a comma is `x` itself, as in Python.
    private mutating func parseSequence(open: UInt8, depth: Int) throws(NumPyError) -> NumPyLiteral {
        let start = position
        let close = open == UInt8(ascii: "(") ? UInt8(ascii: ")") : UInt8(ascii: "]")
        let closeText = open == UInt8(ascii: "(") ? "')'" : "']'"
        position += 1
        var items: [NumPyLiteral] = []
        var sawComma = false
        while true {
            skipSpace()
            if peek == close { position += 1; break }
            if !items.isEmpty {
                try expect(UInt8(ascii: ","), "',' or \(closeText)")
                sawComma = true
                skipSpace()
                if peek == close { position += 1; break }
            }
            items.append(try parseValue(depth: depth + 1))
        }
        if open == UInt8(ascii: "(") {
            if items.count == 1 && !sawComma { return items[0] }
            return NumPyLiteral(kind: .tuple(items), offset: base + start)
        }
        return NumPyLiteral(kind: .list(items), offset: base + start)
    }

    private mutating func parseString(quote: UInt8) throws(NumPyError) -> String {
        position += 1
        let start = position
        while position < bytes.count {
            switch bytes[position] {
            case quote:
                let text = String(decoding: bytes[start..<position], as: UTF8.self)
                position += 1
                return text
            case UInt8(ascii: "\\"):
                throw failure("the closing quote (escape sequences are not part of the header numpy writes)")
            case 0x0A, 0x0D, 0x00:
                throw failure("the closing quote")
            default:
                position += 1
            }
        }
        throw failure("the closing quote")
    }

    private mutating func parseInt() throws(NumPyError) -> NumPyLiteral {
        let start = position
        var negative = false
        if peek == UInt8(ascii: "-") {
            negative = true
            position += 1
        }
        let digitsStart = position
        while let byte = peek, byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") { position += 1 }
        guard position > digitsStart else { throw failure("a digit") }
        let digits = Array(bytes[digitsStart..<position])
        // Python 3 refuses leading zeros ("0" itself is fine).
        if digits.count > 1, digits[0] == UInt8(ascii: "0") {
            position = digitsStart + 1
            throw failure("',' or ')' (Python forbids leading zeros)")
        }
        if acceptsLongSuffix, peek == UInt8(ascii: "L") { position += 1 }
        if let byte = peek, isNameByte(byte) || byte == UInt8(ascii: ".") { throw failure("',' or ')' after the digits") }
        return NumPyLiteral(kind: .int(digits: digits, negative: negative), offset: base + start)
    }

    private var peek: UInt8? { position < bytes.count ? bytes[position] : nil }

    private mutating func skipSpace() {
        while let byte = peek, byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D || byte == 0x0C { position += 1 }
    }

    private mutating func expect(_ byte: UInt8, _ what: String) throws(NumPyError) {
        guard peek == byte else { throw failure(what) }
        position += 1
    }

    private func isNameByte(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
            || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: "_")
    }

    /// A syntax error at the current position.
    private func failure(_ expected: String) -> NumPyError {
        let found: String
        if let byte = peek {
            found = byte >= 0x20 && byte < 0x7F ? "'\(Character(Unicode.Scalar(byte)))'" : "byte 0x\(NumPyProblem.hex([byte]))"
        } else {
            found = "the end of the header"
        }
        return NumPyError(offset: base + position, .syntax(expected: expected, found: found))
    }
}
