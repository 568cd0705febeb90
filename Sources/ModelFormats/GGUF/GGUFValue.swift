// GGUF metadata values (docs/formats.md, "GGUF"): thirteen value types, little-endian; a string
// is a u64 byte count and the bytes; an array is a u32 item type, a u64 item count and the items,
// which may themselves be arrays. Values keep their exact type and bytes, so a file written back
// holds the same metadata bit for bit.

/// The type of a GGUF metadata value; `rawValue` is the number stored in the file.
public enum GGUFValueType: UInt32, Sendable, CaseIterable, Hashable {
    /// An unsigned 8-bit integer.
    case uint8 = 0
    /// A signed 8-bit integer.
    case int8 = 1
    /// An unsigned 16-bit integer.
    case uint16 = 2
    /// A signed 16-bit integer.
    case int16 = 3
    /// An unsigned 32-bit integer.
    case uint32 = 4
    /// A signed 32-bit integer.
    case int32 = 5
    /// A 32-bit float.
    case float32 = 6
    /// A boolean (one byte, 0 or 1).
    case bool = 7
    /// A length-prefixed UTF-8 string.
    case string = 8
    /// An array of values of one type.
    case array = 9
    /// An unsigned 64-bit integer.
    case uint64 = 10
    /// A signed 64-bit integer.
    case int64 = 11
    /// A 64-bit float.
    case float64 = 12

    /// gguf-py's name (`"UINT32"`, `"STRING"`, `"ARRAY"`).
    public var name: String {
        switch self {
        case .uint8: return "UINT8"
        case .int8: return "INT8"
        case .uint16: return "UINT16"
        case .int16: return "INT16"
        case .uint32: return "UINT32"
        case .int32: return "INT32"
        case .float32: return "FLOAT32"
        case .bool: return "BOOL"
        case .string: return "STRING"
        case .array: return "ARRAY"
        case .uint64: return "UINT64"
        case .int64: return "INT64"
        case .float64: return "FLOAT64"
        }
    }

    /// Bytes of one value of a fixed-size type; `nil` for strings and arrays.
    public var fixedByteCount: Int? {
        switch self {
        case .uint8, .int8, .bool: return 1
        case .uint16, .int16: return 2
        case .uint32, .int32, .float32: return 4
        case .uint64, .int64, .float64: return 8
        case .string, .array: return nil
        }
    }

    /// The fewest bytes one value of this type can take: its size, or the length fields of a
    /// string (8) or an array (4 + 8). Counts are checked against this before anything is read.
    var minimumByteCount: Int { fixedByteCount ?? (self == .string ? 8 : 12) }
}

/// A GGUF string: bytes that are UTF-8 in every file written by gguf-py and llama.cpp, kept as
/// bytes so a value that is not still round-trips exactly.
public struct GGUFString: Sendable, Hashable, CustomStringConvertible {
    /// The stored bytes.
    public let bytes: [UInt8]

    /// The bytes of `bytes`.
    public init(bytes: [UInt8]) { self.bytes = bytes }

    /// The UTF-8 bytes of `text`.
    public init(_ text: String) { bytes = Array(text.utf8) }

    /// The text, with U+FFFD in place of any byte sequence that is not UTF-8.
    public var text: String { String(decoding: bytes, as: UTF8.self) }

    /// Whether the bytes are valid UTF-8.
    public var isValidUTF8: Bool { String(validating: bytes, as: UTF8.self) != nil }

    public var description: String { text }
}

/// A GGUF array: the item type, the item count and the items' bytes exactly as stored.
///
/// Items are decoded on request (``items(prefix:)``), so a 150,000-token vocabulary costs one
/// copy of its bytes when a file is opened, not 150,000 values.
public struct GGUFArray: Sendable, Equatable {
    /// The type of every item.
    public let itemType: GGUFValueType
    /// The number of items.
    public let count: Int
    /// The encoded items (no type or count prefix), validated when the array was read or built.
    public let payload: [UInt8]

    init(validatedItemType itemType: GGUFValueType, count: Int, payload: [UInt8]) {
        self.itemType = itemType
        self.count = count
        self.payload = payload
    }

    /// An array of `items`, all of type `itemType`.
    ///
    /// - Throws: `GGUFError.arrayItemTypeMismatch` when an item has another type.
    public init(itemType: GGUFValueType, items: [GGUFValue]) throws {
        var payload: [UInt8] = []
        for (index, item) in items.enumerated() {
            guard item.type == itemType else {
                throw GGUFError.arrayItemTypeMismatch(index: index, expected: itemType, found: item.type)
            }
            item.appendPayload(to: &payload)
        }
        self.init(validatedItemType: itemType, count: items.count, payload: payload)
    }

    /// The first `prefix` items (all of them by default), decoded.
    public func items(prefix: Int = Int.max) -> [GGUFValue] {
        var result: [GGUFValue] = []
        let wanted = min(prefix, count)
        guard wanted > 0 else { return result }
        result.reserveCapacity(wanted)
        payload.withUnsafeBytes { bytes in
            var cursor = GGUFCursor(bytes)
            for _ in 0..<wanted {
                // The payload was validated when the array was made, so decoding cannot fail;
                // stopping early is the safe answer if it ever did.
                guard let item = cursor.decodeValidated(itemType) else { return }
                result.append(item)
            }
        }
        return result
    }
}

/// One GGUF metadata value with its exact type.
public enum GGUFValue: Sendable, Equatable {
    /// An unsigned 8-bit integer.
    case uint8(UInt8)
    /// A signed 8-bit integer.
    case int8(Int8)
    /// An unsigned 16-bit integer.
    case uint16(UInt16)
    /// A signed 16-bit integer.
    case int16(Int16)
    /// An unsigned 32-bit integer.
    case uint32(UInt32)
    /// A signed 32-bit integer.
    case int32(Int32)
    /// A 32-bit float.
    case float32(Float)
    /// A boolean (one byte, 0 or 1).
    case bool(Bool)
    /// A length-prefixed UTF-8 string.
    case string(GGUFString)
    /// An array of values of one type.
    case array(GGUFArray)
    /// An unsigned 64-bit integer.
    case uint64(UInt64)
    /// A signed 64-bit integer.
    case int64(Int64)
    /// A 64-bit float.
    case float64(Double)

    /// A string value holding `text`.
    public static func string(_ text: String) -> GGUFValue { .string(GGUFString(text)) }

    /// The value's type.
    public var type: GGUFValueType {
        switch self {
        case .uint8: return .uint8
        case .int8: return .int8
        case .uint16: return .uint16
        case .int16: return .int16
        case .uint32: return .uint32
        case .int32: return .int32
        case .float32: return .float32
        case .bool: return .bool
        case .string: return .string
        case .array: return .array
        case .uint64: return .uint64
        case .int64: return .int64
        case .float64: return .float64
        }
    }

    /// Floats compare by bit pattern, so a NaN equals itself and 0.0 differs from -0.0: two
    /// values are equal when they would be stored as the same bytes.
    public static func == (lhs: GGUFValue, rhs: GGUFValue) -> Bool {
        switch (lhs, rhs) {
        case (.uint8(let a), .uint8(let b)): return a == b
        case (.int8(let a), .int8(let b)): return a == b
        case (.uint16(let a), .uint16(let b)): return a == b
        case (.int16(let a), .int16(let b)): return a == b
        case (.uint32(let a), .uint32(let b)): return a == b
        case (.int32(let a), .int32(let b)): return a == b
        case (.float32(let a), .float32(let b)): return a.bitPattern == b.bitPattern
        case (.bool(let a), .bool(let b)): return a == b
        case (.string(let a), .string(let b)): return a == b
        case (.array(let a), .array(let b)): return a == b
        case (.uint64(let a), .uint64(let b)): return a == b
        case (.int64(let a), .int64(let b)): return a == b
        case (.float64(let a), .float64(let b)): return a.bitPattern == b.bitPattern
        default: return false
        }
    }

    /// Appends the value's bytes without its type tag (what follows the type in a key/value pair).
    public func appendPayload(to out: inout [UInt8]) {
        func little<T: FixedWidthInteger>(_ value: T) {
            withUnsafeBytes(of: value.littleEndian) { out.append(contentsOf: $0) }
        }
        switch self {
        case .uint8(let v): out.append(v)
        case .int8(let v): out.append(UInt8(bitPattern: v))
        case .uint16(let v): little(v)
        case .int16(let v): little(v)
        case .uint32(let v): little(v)
        case .int32(let v): little(v)
        case .float32(let v): little(v.bitPattern)
        case .bool(let v): out.append(v ? 1 : 0)
        case .string(let s):
            little(UInt64(s.bytes.count))
            out.append(contentsOf: s.bytes)
        case .array(let a):
            little(a.itemType.rawValue)
            little(UInt64(a.count))
            out.append(contentsOf: a.payload)
        case .uint64(let v): little(v)
        case .int64(let v): little(v)
        case .float64(let v): little(v.bitPattern)
        }
    }

    /// The value as JSON text: integers exact over their whole range, floats as the shortest
    /// text that reads back to the same value (a float32 widened to float64 first, as gguf-py
    /// returns it), NaN and infinities as the strings `"nan"`, `"inf"`, `"-inf"`, strings escaped
    /// by JSON's rules, arrays in full.
    public var jsonText: String {
        var out: [UInt8] = []
        appendJSON(to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    func appendJSON(to out: inout [UInt8]) {
        switch self {
        case .uint8(let v): out.append(contentsOf: String(v).utf8)
        case .int8(let v): out.append(contentsOf: String(v).utf8)
        case .uint16(let v): out.append(contentsOf: String(v).utf8)
        case .int16(let v): out.append(contentsOf: String(v).utf8)
        case .uint32(let v): out.append(contentsOf: String(v).utf8)
        case .int32(let v): out.append(contentsOf: String(v).utf8)
        case .uint64(let v): out.append(contentsOf: String(v).utf8)
        case .int64(let v): out.append(contentsOf: String(v).utf8)
        case .float32(let v): out.append(contentsOf: GGUFValue.jsonNumber(Double(v)).utf8)
        case .float64(let v): out.append(contentsOf: GGUFValue.jsonNumber(v).utf8)
        case .bool(let v): out.append(contentsOf: (v ? "true" : "false").utf8)
        case .string(let s): GGUFValue.appendJSONString(s.text, to: &out)
        case .array(let a):
            out.append(UInt8(ascii: "["))
            for (index, item) in a.items().enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                item.appendJSON(to: &out)
            }
            out.append(UInt8(ascii: "]"))
        }
    }

    /// JSON text of a double: `"nan"`, `"inf"`, `"-inf"` for non-finite values, else Swift's
    /// shortest round-tripping form (`0.10000000149011612`, `1e-10`, `3.0`).
    static func jsonNumber(_ value: Double) -> String {
        if value.isNaN { return "\"nan\"" }
        if value.isInfinite { return value < 0 ? "\"-inf\"" : "\"inf\"" }
        return "\(value)"
    }

    /// A JSON string as serde_json and Python's `json.dumps(ensure_ascii=False)` write it (the
    /// safetensors writer's one routine).
    static func appendJSONString(_ string: String, to out: inout [UInt8]) {
        SafetensorsWriter.appendString(string, to: &out)
    }
}

/// A cursor over bytes already validated by ``GGUFHeader``: decoding returns `nil` instead of
/// trapping if they ever were not.
struct GGUFCursor {
    let bytes: UnsafeRawBufferPointer
    var offset = 0

    init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    mutating func fixed<T: FixedWidthInteger>(_: T.Type) -> T? {
        let size = MemoryLayout<T>.size
        guard size <= bytes.count - offset else { return nil }
        defer { offset += size }
        return T(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: T.self))
    }

    mutating func decodeValidated(_ type: GGUFValueType) -> GGUFValue? {
        switch type {
        case .uint8: return fixed(UInt8.self).map { .uint8($0) }
        case .int8: return fixed(Int8.self).map { .int8($0) }
        case .uint16: return fixed(UInt16.self).map { .uint16($0) }
        case .int16: return fixed(Int16.self).map { .int16($0) }
        case .uint32: return fixed(UInt32.self).map { .uint32($0) }
        case .int32: return fixed(Int32.self).map { .int32($0) }
        case .float32: return fixed(UInt32.self).map { .float32(Float(bitPattern: $0)) }
        case .bool: return fixed(UInt8.self).map { .bool($0 != 0) }
        case .uint64: return fixed(UInt64.self).map { .uint64($0) }
        case .int64: return fixed(Int64.self).map { .int64($0) }
        case .float64: return fixed(UInt64.self).map { .float64(Double(bitPattern: $0)) }
        case .string:
            guard let length = fixed(UInt64.self), length <= UInt64(bytes.count - offset) else { return nil }
            let count = Int(length)
            defer { offset += count }
            return .string(GGUFString(bytes: Array(bytes[offset..<(offset + count)])))
        case .array:
            guard let raw = fixed(UInt32.self), let itemType = GGUFValueType(rawValue: raw),
                  let length = fixed(UInt64.self), length <= UInt64(Int.max) else { return nil }
            let start = offset
            for _ in 0..<Int(length) {
                guard skipValidated(itemType) else { return nil }
            }
            return .array(GGUFArray(validatedItemType: itemType, count: Int(length), payload: Array(bytes[start..<offset])))
        }
    }

    mutating func skipValidated(_ type: GGUFValueType) -> Bool {
        if let size = type.fixedByteCount {
            guard size <= bytes.count - offset else { return false }
            offset += size
            return true
        }
        if type == .string {
            guard let length = fixed(UInt64.self), length <= UInt64(bytes.count - offset) else { return false }
            offset += Int(length)
            return true
        }
        return decodeValidated(type) != nil
    }
}
