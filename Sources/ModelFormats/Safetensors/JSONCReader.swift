import CJSONC

// A guarded view of json-c for untrusted headers.
//
// json-c alone accepts too much (BUILD-RECIPE.md §4): it clamps integers, keeps the last of two
// duplicate keys, and in strict mode still takes NaN, Infinity and single-quoted strings; its
// array accessors abort on non-arrays. This wrapper parses with STRICT and UTF-8 validation,
// checks what surrounds the value, counts object members with its own scanner to find
// duplicates, and exposes typed accessors that check the JSON type first.

/// A parsed JSON document owned by json-c; freed when this object goes away.
final class JSONCDocument {
    let root: OpaquePointer

    /// Parses `text`, which may be surrounded by JSON whitespace (space, tab, LF, CR) and nothing
    /// else. `maxDepth` bounds nesting.
    ///
    /// - Throws: `JSONCError` with the offset (within `text`) of the problem.
    init(parsing text: UnsafeRawBufferPointer, maxDepth: Int32) throws(JSONCError) {
        guard text.count <= Int(Int32.max) else { throw .tooLarge(text.count) }
        let structure = try JSONStructureScanner.scan(text)
        guard let tokener = json_tokener_new_ex(maxDepth) else { throw .syntax(offset: 0, reason: "out of memory") }
        defer { json_tokener_free(tokener) }
        json_tokener_set_flags(tokener, Int32(JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8))
        let start = structure.valueStart
        let length = structure.valueEnd - start
        guard length > 0, let base = text.baseAddress else { throw .syntax(offset: start, reason: "no JSON value") }
        // SAFETY: start..<valueEnd lies inside `text` (the scanner found it there).
        let parsed = json_tokener_parse_ex(tokener, base.advanced(by: start).assumingMemoryBound(to: CChar.self), Int32(length))
        let status = json_tokener_get_error(tokener)
        guard let parsed, status == json_tokener_success else {
            let end = start + Int(json_tokener_get_parse_end(tokener))
            let reason = status == json_tokener_continue ? "unexpected end of input" : String(cString: json_tokener_error_desc(status))
            throw .syntax(offset: end, reason: reason)
        }
        // Checks happen before `root` is set: once every property is initialised, a throwing
        // init runs deinit, which would release `parsed` a second time.
        let consumed = Int(json_tokener_get_parse_end(tokener))
        guard consumed == length else {
            json_object_put(parsed)
            throw .syntax(offset: start + consumed, reason: "trailing characters after the JSON value")
        }
        // A duplicate key anywhere makes json-c drop members: the totals then differ.
        if JSONCDocument.memberCount(parsed) != structure.memberCount {
            json_object_put(parsed)
            throw .duplicateKey(structure.firstDuplicateTopLevelKey() ?? "(nested)")
        }
        root = parsed
    }

    deinit { json_object_put(root) }

    /// Members of all objects in the tree, counted iteratively.
    private static func memberCount(_ root: OpaquePointer) -> Int {
        var total = 0
        var pending = [root]
        while let object = pending.popLast() {
            switch json_object_get_type(object) {
            case json_type_object:
                var it = json_object_iter_begin(object)
                var end = json_object_iter_end(object)
                while json_object_iter_equal(&it, &end) == 0 {
                    total += 1
                    if let value = json_object_iter_peek_value(&it) { pending.append(value) }
                    json_object_iter_next(&it)
                }
            case json_type_array:
                for index in 0..<json_object_array_length(object) {
                    if let value = json_object_array_get_idx(object, index) { pending.append(value) }
                }
            default:
                break
            }
        }
        return total
    }
}

/// Typed, checked reads of json-c values. Every accessor checks the type before calling json-c.
enum JSONC {
    /// The JSON type name of `value`, for messages ("string", "number", "array", …).
    static func typeName(_ value: OpaquePointer?) -> String {
        guard let value else { return "null" }
        switch json_object_get_type(value) {
        case json_type_null: return "null"
        case json_type_boolean: return "boolean"
        case json_type_double: return "non-integer number"
        case json_type_int: return "integer"
        case json_type_object: return "object"
        case json_type_array: return "array"
        case json_type_string: return "string"
        default: return "value"
        }
    }

    static func isObject(_ value: OpaquePointer?) -> Bool { value.map { json_object_get_type($0) == json_type_object } ?? false }

    /// `(key, value)` pairs of an object in document order.
    static func members(_ object: OpaquePointer) -> [(String, OpaquePointer?)] {
        var result: [(String, OpaquePointer?)] = []
        result.reserveCapacity(Int(json_object_object_length(object)))
        var it = json_object_iter_begin(object)
        var end = json_object_iter_end(object)
        while json_object_iter_equal(&it, &end) == 0 {
            result.append((String(cString: json_object_iter_peek_name(&it)), json_object_iter_peek_value(&it)))
            json_object_iter_next(&it)
        }
        return result
    }

    /// The member `key` of an object, or `nil` when absent. (A member whose value is JSON null is
    /// reported as present with a nil value through `hasMember`.)
    static func member(_ object: OpaquePointer, _ key: String) -> (present: Bool, value: OpaquePointer?) {
        var value: OpaquePointer?
        let found = json_object_object_get_ex(object, key, &value) != 0
        return (found, value)
    }

    /// The string's exact bytes (embedded NULs kept), or `nil` if `value` is not a string.
    static func string(_ value: OpaquePointer?) -> String? {
        guard let value, json_object_get_type(value) == json_type_string else { return nil }
        let length = Int(json_object_get_string_len(value))
        guard let pointer = json_object_get_string(value) else { return "" }
        return String(decoding: UnsafeRawBufferPointer(start: pointer, count: length), as: UTF8.self)
    }

    /// A non-negative integer below 2^64 - 1, or `nil` for anything else (negative values,
    /// non-integers, and json-c's clamped 2^64-and-above).
    static func unsignedInteger(_ value: OpaquePointer?) -> UInt64? {
        guard let value, json_object_get_type(value) == json_type_int else { return nil }
        if json_object_get_int64(value) < 0 { return nil }
        let unsigned = json_object_get_uint64(value)
        return unsigned == UInt64.max ? nil : unsigned
    }

    static func isArray(_ value: OpaquePointer) -> Bool { json_object_get_type(value) == json_type_array }

    /// The length of an array already checked with ``isArray(_:)``.
    static func arrayCount(_ array: OpaquePointer) -> Int { Int(json_object_array_length(array)) }

    /// Element `index` of an array already checked with ``isArray(_:)``; `index` < ``arrayCount(_:)``.
    static func element(_ array: OpaquePointer, _ index: Int) -> OpaquePointer? { json_object_array_get_idx(array, index) }

    /// The elements of an array, or `nil` if `value` is not an array.
    static func array(_ value: OpaquePointer?) -> [OpaquePointer?]? {
        guard let value, json_object_get_type(value) == json_type_array else { return nil }
        return (0..<json_object_array_length(value)).map { json_object_array_get_idx(value, $0) }
    }

    /// A short rendering of a scalar for messages (`"abc"`, `-2`, `1.5`, `an array`).
    static func describe(_ value: OpaquePointer?) -> String {
        guard let value else { return "null" }
        switch json_object_get_type(value) {
        case json_type_string: return "\"\(string(value) ?? "")\""
        case json_type_int, json_type_double, json_type_boolean: return String(cString: json_object_to_json_string(value))
        default: return "a JSON \(typeName(value))"
        }
    }
}

/// Why a JSON document was refused.
enum JSONCError: Error, Equatable {
    case tooLarge(Int)
    case syntax(offset: Int, reason: String)
    case duplicateKey(String)
}

/// A single pass over JSON text that json-c will parse: finds the value between the allowed
/// surrounding whitespace, counts object members, and refuses what strict JSON forbids but
/// json-c's strict mode still takes (single quotes, NaN, Infinity).
struct JSONStructureScanner {
    var valueStart = 0
    var valueEnd = 0
    var memberCount = 0
    /// Byte ranges (inside the quotes) of the top-level keys; decoded only to name a duplicate.
    private var topLevelKeys: [Range<Int>] = []
    private var text: UnsafeRawBufferPointer = UnsafeRawBufferPointer(start: nil, count: 0)

    static func scan(_ text: UnsafeRawBufferPointer) throws(JSONCError) -> JSONStructureScanner {
        var result = JSONStructureScanner()
        result.text = text
        let count = text.count
        var index = 0
        func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D }
        while index < count, isSpace(text[index]) { index += 1 }
        result.valueStart = index
        var end = count
        while end > index, isSpace(text[end - 1]) { end -= 1 }
        result.valueEnd = end
        // Walk the value. `expectingKey[depth]` tells whether the next string in an object is a key.
        var objectStack: [Bool] = []  // true = object, false = array
        var expectingKey = false
        while index < end {
            let byte = text[index]
            switch byte {
            case UInt8(ascii: "\""):
                let stringStart = index
                index += 1
                var escaped = false
                while index < end {
                    let c = text[index]
                    if c == 0 { throw .syntax(offset: index, reason: "NUL byte in a string") }
                    if escaped { escaped = false } else if c == UInt8(ascii: "\\") { escaped = true } else if c == UInt8(ascii: "\"") { break }
                    index += 1
                }
                if expectingKey {
                    result.memberCount += 1
                    expectingKey = false
                    if objectStack.count == 1 { result.topLevelKeys.append((stringStart + 1)..<min(index, end)) }
                }
            case UInt8(ascii: "{"):
                objectStack.append(true)
                expectingKey = true
            case UInt8(ascii: "["):
                objectStack.append(false)
                expectingKey = false
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                _ = objectStack.popLast()
                expectingKey = false
            case UInt8(ascii: ","):
                expectingKey = objectStack.last ?? false
            case UInt8(ascii: "'"):
                throw .syntax(offset: index, reason: "single-quoted string")
            case UInt8(ascii: "N"), UInt8(ascii: "I"):
                throw .syntax(offset: index, reason: "NaN and Infinity are not JSON")
            case 0:
                throw .syntax(offset: index, reason: "NUL byte")
            default:
                break
            }
            index += 1
        }
        return result
    }

    /// The first top-level key that appears twice, compared as written (escapes not decoded).
    func firstDuplicateTopLevelKey() -> String? {
        var seen = Set<String>()
        for range in topLevelKeys {
            let key = String(decoding: UnsafeRawBufferPointer(rebasing: text[range]), as: UTF8.self)
            if !seen.insert(key).inserted { return key }
        }
        return nil
    }
}
