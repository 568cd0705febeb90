#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// A string compared, hashed and ordered by its exact UTF-8 bytes.
///
/// Swift's `String ==` and `String.hashValue` follow Unicode canonical equivalence: `"é"`
/// (U+00E9) equals `"e\u{301}"`, and `"\u{212A}"` (KELVIN SIGN) equals `"K"`. Python, Rust and
/// every model file format compare names by their code points, so two such names are two
/// tensors. Every dictionary, set and comparison keyed by a name or key read from a file uses
/// this type (or ``Swift/String/isByteEqual(to:)`` and its siblings) instead of bare `String`.
/// See docs/formats.md, "Names and text".
public struct ExactString: Hashable, Comparable, Sendable, CustomStringConvertible, ExpressibleByStringLiteral {
    /// The text, byte for byte as read.
    public let string: String

    /// `string`, compared by its bytes.
    public init(_ string: String) {
        self.string = string
    }

    public init(stringLiteral value: String) {
        string = value
    }

    public var description: String { string }

    public static func == (lhs: ExactString, rhs: ExactString) -> Bool {
        lhs.string.isByteEqual(to: rhs.string)
    }

    /// Byte order (what Python's `sorted` gives for str keys, and Rust's `Ord` for `String`).
    public static func < (lhs: ExactString, rhs: ExactString) -> Bool {
        lhs.string.bytePrecedes(rhs.string)
    }

    public func hash(into hasher: inout Hasher) {
        var text = string
        text.withUTF8 { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
        hasher.combine(text.utf8.count)
    }
}

extension String {
    /// Whether the two strings have the same UTF-8 bytes (Swift's `==` also accepts canonically
    /// equivalent spellings, which are different names in every file format).
    public func isByteEqual(to other: String) -> Bool {
        let left = utf8, right = other.utf8
        let count = left.count
        guard count == right.count else { return false }
        let compared: Bool? =
            left.withContiguousStorageIfAvailable { a in
                right.withContiguousStorageIfAvailable { b in
                    guard let x = a.baseAddress, let y = b.baseAddress else { return true }
                    return x == y || memcmp(x, y, count) == 0
                }
            } ?? nil
        return compared ?? left.elementsEqual(right)
    }

    /// Whether `self` comes before `other` in byte order.
    public func bytePrecedes(_ other: String) -> Bool {
        utf8.lexicographicallyPrecedes(other.utf8)
    }

    /// Whether `self` starts with the bytes of `prefix` (Swift's `hasPrefix` compares whole
    /// characters under canonical equivalence, so `"e\u{301}x".hasPrefix("e")` is false while
    /// Python's `startswith` is true).
    public func hasBytePrefix(_ prefix: String) -> Bool {
        let count = prefix.utf8.count
        guard count <= utf8.count else { return false }
        return utf8.prefix(count).elementsEqual(prefix.utf8)
    }

    /// The rest of `self` after the bytes of `prefix`, or `nil` when it does not start with them.
    /// The remainder is valid UTF-8: a string that starts with a complete UTF-8 sequence's bytes
    /// has a scalar boundary right after them.
    public func droppingBytePrefix(_ prefix: String) -> String? {
        guard hasBytePrefix(prefix) else { return nil }
        return String(decoding: utf8.dropFirst(prefix.utf8.count), as: UTF8.self)
    }
}
