// Showing text from files (docs/security.md, "Showing text from files"). Every piece of text that
// reaches a terminal goes through one function, `Display.escaped`: control characters, escape
// sequences, line breaks and invisible or bidirectional format characters become visible escapes,
// so a file cannot forge a table row, a verdict or a colour. `Shown` makes this the default: in a
// `Shown` literal, the literal text is the tool's own and every interpolated value is escaped,
// exactly once. JSON output does not come through here; it carries the exact strings.

/// The one escaping step, and the shortening that keeps lines bounded.
enum Display {
    /// The longest line human output prints, in Unicode scalars.
    static let maxLineLength = 1024
    /// The longest a name is shown in running text before it is shortened.
    static let maxValueLength = 256

    /// `text` as a terminal may show it: `\` is doubled; `\n`, `\r` and `\t` are written as such;
    /// other control characters (C0, DEL, C1) as `\xHH`; format characters (bidirectional
    /// overrides and isolates, zero-width characters, the BOM, …), line and paragraph separators,
    /// invisible fillers and unassigned code points as `\uHHHH` or `\UHHHHHHHH`. Everything else
    /// is kept.
    static func escaped(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: needsEscape) else { return text }
        var result = ""
        result.unicodeScalars.reserveCapacity(text.unicodeScalars.count + 16)
        for scalar in text.unicodeScalars {
            guard needsEscape(scalar) else {
                result.unicodeScalars.append(scalar)
                continue
            }
            switch scalar {
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            default:
                let value = scalar.value
                if value < 0x100 {
                    result += "\\x" + hex(value, digits: 2)
                } else if value < 0x10000 {
                    result += "\\u" + hex(value, digits: 4)
                } else {
                    result += "\\U" + hex(value, digits: 8)
                }
            }
        }
        return result
    }

    /// Whether `scalar` is shown as an escape.
    static func needsEscape(_ scalar: Unicode.Scalar) -> Bool {
        let value = scalar.value
        if value < 0x20 || value == 0x5C || (0x7F..<0xA0).contains(value) { return true }
        if value < 0xA0 { return false }
        switch value {
        // Invisible letters and blanks that render as nothing: Hangul fillers, the combining
        // grapheme joiner, the braille blank.
        case 0x115F, 0x1160, 0x3164, 0xFFA0, 0x034F, 0x2800: return true
        default: break
        }
        switch scalar.properties.generalCategory {
        case .control, .format, .lineSeparator, .paragraphSeparator, .unassigned, .surrogate: return true
        default: return false
        }
    }

    /// `shown` (already escaped) in at most `limit` scalars: when longer, its middle is replaced
    /// by `…[N characters]…`, N being its full length, so both ends stay visible.
    static func shortened(_ shown: String, to limit: Int) -> String {
        guard shown.utf8.count > limit else { return shown }
        let scalars = shown.unicodeScalars
        let count = Formatting.scalarCount(shown)
        guard count > limit else { return shown }
        let note = "…[\(Formatting.grouped(count)) characters]…"
        let keep = max(2, limit - note.unicodeScalars.count)
        let head = keep - keep / 2, tail = keep / 2
        var result = String(String.UnicodeScalarView(scalars.prefix(head)))
        result += note
        result += String(String.UnicodeScalarView(scalars.suffix(tail)))
        return result
    }

    /// Every line of `text` (split at the tool's own line breaks) at most ``maxLineLength``
    /// scalars long.
    static func boundedLines(_ text: String) -> String {
        var copy = text
        let tooLong = copy.withUTF8 { bytes -> Bool in
            var length = 0
            for byte in bytes {
                if byte == 0x0A { length = 0; continue }
                if byte & 0xC0 != 0x80 { length += 1 }
                if length > maxLineLength { return true }
            }
            return false
        }
        guard tooLong else { return text }
        return text.split(separator: "\n", omittingEmptySubsequences: false)
            .map { shortened(String($0), to: maxLineLength) }
            .joined(separator: "\n")
    }

    private static func hex(_ value: UInt32, digits: Int) -> String {
        let text = String(value, radix: 16)
        return String(repeating: "0", count: max(0, digits - text.count)) + text
    }
}

/// Text ready for a terminal. Literal parts are the tool's own words; every interpolated value
/// goes through ``Display/escaped(_:)`` (names also through ``Display/shortened(_:to:)``), except
/// a `Shown`, which is already escaped. Terminal output takes only `Shown`, so nothing from a file
/// can reach it unescaped, and nothing is escaped twice.
struct Shown: ExpressibleByStringInterpolation, CustomStringConvertible, Equatable {
    /// The escaped text.
    private(set) var text: String

    /// The escaped form of `raw` (text from a file, an error, a path).
    init(_ raw: String) {
        text = Display.escaped(raw)
    }

    /// The escaped form of a name, shortened in the middle when it is longer than `limit`.
    init(name raw: String, limit: Int = Display.maxValueLength) {
        text = Display.shortened(Display.escaped(raw), to: limit)
    }

    /// The tool's own words, built at run time (help screens, usage): shown as they are. Never
    /// for text that holds anything from a file or the command line.
    init(toolText: String) {
        text = toolText
    }

    /// The tool's own text, shown as it is.
    init(stringLiteral value: String) {
        text = value
    }

    init(stringInterpolation: Interpolation) {
        text = stringInterpolation.text
    }

    /// Text already escaped.
    private init(escaped: String) {
        text = escaped
    }

    var description: String { text }

    /// Joins lines with the tool's own line breaks.
    static func lines(_ lines: [Shown]) -> Shown {
        Shown(escaped: lines.map(\.text).joined(separator: "\n"))
    }

    /// `lhs` followed by `rhs`.
    static func + (lhs: Shown, rhs: Shown) -> Shown {
        Shown(escaped: lhs.text + rhs.text)
    }

    /// Padded with spaces to `width` scalars, on the right (or on the left when `right`).
    func padded(to width: Int, right: Bool = false) -> Shown {
        let spaces = String(repeating: " ", count: max(0, width - length))
        return Shown(escaped: right ? spaces + text : text + spaces)
    }

    /// Shortened in the middle to at most `limit` scalars.
    func shortened(to limit: Int) -> Shown {
        Shown(escaped: Display.shortened(text, to: limit))
    }

    /// Its length in Unicode scalars (how tables measure columns).
    var length: Int { Formatting.scalarCount(text) }

    /// Whether it is empty.
    var isEmpty: Bool { text.isEmpty }

    /// Builds a `Shown` from literals and escaped values.
    struct Interpolation: StringInterpolationProtocol {
        var text = ""

        init(literalCapacity: Int, interpolationCount: Int) {
            text.reserveCapacity(literalCapacity + 16 * interpolationCount)
        }

        mutating func appendLiteral(_ literal: String) { text += literal }

        /// Text from a file, an error or the user: escaped.
        mutating func appendInterpolation(_ raw: String) { text += Display.escaped(raw) }

        /// A name from a file: escaped, and shortened in the middle when long.
        mutating func appendInterpolation(name raw: String) { text += Shown(name: raw).text }

        /// Text already shown.
        mutating func appendInterpolation(_ shown: Shown) { text += shown.text }

        /// A number.
        mutating func appendInterpolation<T: BinaryInteger>(_ value: T) { text += String(value) }

        /// Anything else (errors, warnings, dtypes, shapes): its description, escaped.
        mutating func appendInterpolation<T>(_ value: T) { text += Display.escaped(String(describing: value)) }
    }
}
