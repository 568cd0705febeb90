import ExactText

/// A JSON value read exactly: strings byte for byte, integers exact, object members in document
/// order with their keys compared by bytes.
public enum JSONNode: Sendable, Equatable {
    /// `null`.
    case null
    /// `true` or `false`.
    case bool(Bool)
    /// A number, exactly as written.
    case number(JSONNumber)
    /// A string, its escapes resolved.
    case string(String)
    /// An array, in order.
    case array([JSONNode])
    /// An object, its members in document order.
    case object(JSONObject)

    /// Parses a whole document: one value, surrounded by whitespace only.
    ///
    /// - Parameters:
    ///   - offsetBase: added to offsets in errors and members.
    ///   - maxDepth: how deeply arrays and objects may nest (the root counts as one).
    /// - Throws: `JSONError` naming the first fault and its byte offset.
    public static func parse(
        _ bytes: UnsafeRawBufferPointer, offsetBase: Int = 0, maxDepth: Int = JSONCursor.defaultMaxDepth
    ) throws(JSONError) -> JSONNode {
        var cursor = JSONCursor(bytes, offsetBase: offsetBase, maxDepth: maxDepth)
        let value = try cursor.readValue()
        try cursor.finish()
        return value
    }

    /// Parses a whole document held in an array.
    public static func parse(_ bytes: [UInt8], maxDepth: Int = JSONCursor.defaultMaxDepth) throws(JSONError) -> JSONNode {
        let result: Result<JSONNode, JSONError> = bytes.withUnsafeBytes { buffer in
            do throws(JSONError) { return .success(try parse(buffer, maxDepth: maxDepth)) } catch { return .failure(error) }
        }
        return try result.get()
    }

    /// The JSON type's name for messages.
    public var kind: JSONKind {
        switch self {
        case .null: return .null
        case .bool: return .bool
        case .number: return .number
        case .string: return .string
        case .array: return .array
        case .object: return .object
        }
    }

    /// The string, if this is one.
    public var stringValue: String? {
        if case .string(let text) = self { return text }
        return nil
    }

    /// The object, if this is one.
    public var objectValue: JSONObject? {
        if case .object(let object) = self { return object }
        return nil
    }

    /// The elements, if this is an array.
    public var arrayValue: [JSONNode]? {
        if case .array(let items) = self { return items }
        return nil
    }

    /// The number, if this is one.
    public var numberValue: JSONNumber? {
        if case .number(let number) = self { return number }
        return nil
    }

    /// The member `key` when this is an object (compared by bytes).
    public subscript(key: String) -> JSONNode? { objectValue?[key] }

    /// A short rendering for messages: the literal of a scalar (strings in plain quotes, as read),
    /// `an array`, `an object`.
    public var summary: String {
        switch self {
        case .null: return "null"
        case .bool(let flag): return flag ? "true" : "false"
        case .number(let number): return number.literal
        case .string(let text): return text.quotedForMessage
        case .array: return "an array"
        case .object: return "an object"
        }
    }

    public static func == (lhs: JSONNode, rhs: JSONNode) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): return true
        case (.bool(let a), .bool(let b)): return a == b
        case (.number(let a), .number(let b)): return a == b
        case (.string(let a), .string(let b)): return a.isByteEqual(to: b)
        case (.array(let a), .array(let b)): return a == b
        case (.object(let a), .object(let b)): return a == b
        default: return false
        }
    }
}

/// A JSON object: members in document order, keys unique by their bytes.
public struct JSONObject: Sendable, Equatable {
    /// One member.
    public struct Member: Sendable {
        /// The key, decoded byte for byte.
        public let key: String
        /// The value.
        public let value: JSONNode
        /// The byte offset (with the cursor's base) where the value starts.
        public let offset: Int
    }

    /// The members, in document order.
    public let members: [Member]

    init(_ members: [Member]) {
        self.members = members
    }

    /// The value under `key`, compared by bytes.
    public subscript(key: String) -> JSONNode? { member(key)?.value }

    /// The member under `key`, compared by bytes.
    public func member(_ key: String) -> Member? { members.first { $0.key.isByteEqual(to: key) } }

    /// The keys, in document order.
    public var keys: [String] { members.map(\.key) }

    /// The number of members.
    public var count: Int { members.count }

    public static func == (lhs: JSONObject, rhs: JSONObject) -> Bool {
        lhs.members.count == rhs.members.count
            && zip(lhs.members, rhs.members).allSatisfy { $0.key.isByteEqual(to: $1.key) && $0.value == $1.value }
    }
}

/// A JSON number with its literal.
public struct JSONNumber: Sendable, Equatable {
    /// The value: exact for integers in `Int64.min...UInt64.max`, a double otherwise.
    public enum Value: Sendable, Equatable {
        /// A non-negative integer.
        case unsigned(UInt64)
        /// A negative integer.
        case negative(Int64)
        /// Any other number (fractions, exponents, `-0`, integers beyond 64 bits), correctly rounded.
        case float(Double)
    }

    /// The value.
    public let value: Value
    /// The text as written.
    public let literal: String
    /// No fraction or exponent in the literal (it may still be beyond 64 bits).
    public let isIntegerLiteral: Bool

    init(_ token: JSONNumberToken, in cursor: JSONCursor) {
        value = token.value ?? .float(.nan)
        literal = cursor.literal(token)
        isIntegerLiteral = token.isInteger
    }

    /// The value when it is a non-negative integer below 2^64.
    public var unsigned: UInt64? {
        if case .unsigned(let value) = value { return value }
        return nil
    }

    /// The value when it is an integer within `Int64`.
    public var int64: Int64? {
        switch value {
        case .unsigned(let value): return value <= UInt64(Int64.max) ? Int64(value) : nil
        case .negative(let value): return value
        case .float: return nil
        }
    }

    /// The value as a double (integers beyond 2^53 rounded).
    public var double: Double {
        switch value {
        case .unsigned(let value): return Double(value)
        case .negative(let value): return Double(value)
        case .float(let value): return value
        }
    }

    public static func == (lhs: JSONNumber, rhs: JSONNumber) -> Bool {
        lhs.literal == rhs.literal
    }
}
