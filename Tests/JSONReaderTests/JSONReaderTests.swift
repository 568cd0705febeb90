import ExactText
import JSONReader
import Testing

/// Hostile JSON, byte by byte: every refusal names its fault and the byte where it is.
@Suite("JSON reader: refusals")
struct JSONReaderRefusalTests {
    /// `text` as UTF-8 bytes with `raw` spliced in where `¤` stands (for bytes a Swift string
    /// cannot hold: invalid UTF-8, encoded surrogates).
    static func bytes(_ text: String, _ raw: [UInt8] = []) -> [UInt8] {
        var out: [UInt8] = []
        for byte in text.utf8 {
            if byte == 0xA4 && out.last == 0xC2 {  // "¤" is C2 A4
                out.removeLast()
                out += raw
            } else {
                out.append(byte)
            }
        }
        return out
    }

    static func fault(_ bytes: [UInt8], maxDepth: Int = JSONCursor.defaultMaxDepth, offsetBase: Int = 0) -> JSONError? {
        bytes.withUnsafeBytes { buffer in
            do throws(JSONError) {
                _ = try JSONNode.parse(buffer, offsetBase: offsetBase, maxDepth: maxDepth)
                return nil
            } catch {
                return error
            }
        }
    }

    static func fault(_ text: String) -> JSONError? { fault(Array(text.utf8)) }

    // MARK: Strings

    @Test("a lone high surrogate escape is refused at its backslash")
    func loneHighSurrogate() {
        #expect(Self.fault(#"{"a\ud800":1}"#) == JSONError(.loneSurrogate(0xD800), at: 3))
        #expect(Self.fault(#"["\uDBFF"]"#) == JSONError(.loneSurrogate(0xDBFF), at: 2))
        // A high surrogate followed by an escape that is not a low surrogate.
        #expect(Self.fault(#"["x\ud800\u0041"]"#) == JSONError(.loneSurrogate(0xD800), at: 3))
        // ... or by a second high surrogate.
        #expect(Self.fault(#"["\ud800\ud800"]"#) == JSONError(.loneSurrogate(0xD800), at: 2))
    }

    @Test("a lone low surrogate escape is refused at its backslash")
    func loneLowSurrogate() {
        #expect(Self.fault(#"{"k":"ab\udc00"}"#) == JSONError(.loneSurrogate(0xDC00), at: 8))
        #expect(Self.fault(#"["\uDFFF\ud800"]"#) == JSONError(.loneSurrogate(0xDFFF), at: 2))
    }

    @Test("a surrogate pair decodes to one scalar, byte for byte")
    func surrogatePair() throws {
        let value = try JSONNode.parse(Array(#"["\ud83d\ude00", "\u00e9", "e\u0301"]"#.utf8))
        let strings = value.arrayValue?.compactMap(\.stringValue).map { Array($0.utf8) }
        #expect(strings == [[0xF0, 0x9F, 0x98, 0x80], [0xC3, 0xA9], [0x65, 0xCC, 0x81]])
    }

    @Test("\\u0000 inside a key is kept, never cut")
    func nulInKey() throws {
        let value = try JSONNode.parse(Array(#"{"a\u0000b":1,"a":2}"#.utf8))
        let keys = value.objectValue?.keys.map { Array($0.utf8) }
        #expect(keys == [[0x61, 0x00, 0x62], [0x61]])
        #expect(value["a\u{0}b"]?.numberValue?.unsigned == 1)
        #expect(value["a"]?.numberValue?.unsigned == 2)
    }

    @Test("invalid UTF-8 in a string is refused at the first bad byte", arguments: [
        ([UInt8(0xC3), 0x28], 3),           // a lead byte without its continuation
        ([0xC0, 0x80], 3),                  // overlong NUL
        ([0xE0, 0x80, 0x80], 3),            // overlong three-byte form
        ([0xED, 0xA0, 0x80], 3),            // an encoded surrogate (CESU / WTF-8), not UTF-8
        ([0xF4, 0x90, 0x80, 0x80], 3),      // above U+10FFFF
        ([0xFF], 3),
        ([0x61, 0x80], 4),                  // a stray continuation byte
        ([0xE2, 0x82], 3),                  // cut short by the closing quote
    ])
    func invalidUTF8(raw: [UInt8], offset: Int) {
        #expect(Self.fault(Self.bytes(#"{"k¤":1}"#, raw)) == JSONError(.invalidUTF8, at: offset))
    }

    @Test("raw control characters inside a string are refused", arguments: [UInt8(0x00), 0x09, 0x0A, 0x0D, 0x1F])
    func controlCharacter(byte: UInt8) {
        #expect(Self.fault(Self.bytes(#"["ab¤"]"#, [byte])) == JSONError(.controlCharacter(byte), at: 4))
    }

    @Test("DEL and C1 controls are text in JSON and are kept")
    func delIsText() throws {
        let value = try JSONNode.parse(Self.bytes(#"["¤"]"#, [0x7F, 0xC2, 0x85]))
        #expect(value.arrayValue?.first?.stringValue.map { Array($0.utf8) } == [0x7F, 0xC2, 0x85])
    }

    @Test("bad escapes are refused at their backslash")
    func badEscapes() {
        #expect(Self.fault(#"["a\x"]"#) == JSONError(.invalidEscape(UInt8(ascii: "x")), at: 3))
        #expect(Self.fault(#"["\U0041"]"#) == JSONError(.invalidEscape(UInt8(ascii: "U")), at: 2))
        #expect(Self.fault(#"["\u00G1"]"#) == JSONError(.invalidUnicodeEscape, at: 2))
        #expect(Self.fault(#"["\u00"#) == JSONError(.unexpectedEnd(expected: .escape), at: 6))
        #expect(Self.fault(#"["\"#) == JSONError(.unexpectedEnd(expected: .escape), at: 3))
        #expect(Self.fault(#"["abc"#) == JSONError(.unexpectedEnd(expected: .closingQuote), at: 5))
    }

    // MARK: Numbers

    @Test("NaN and Infinity are refused by name where they start")
    func nonFinite() {
        #expect(Self.fault(#"{"a":NaN}"#) == JSONError(.nonFiniteLiteral("NaN"), at: 5))
        #expect(Self.fault(#"[1,Infinity]"#) == JSONError(.nonFiniteLiteral("Infinity"), at: 3))
        #expect(Self.fault(#"[-Infinity]"#) == JSONError(.nonFiniteLiteral("-Infinity"), at: 1))
        #expect(Self.fault("nan") == JSONError(.unexpectedByte(UInt8(ascii: "a"), expected: .literalNull), at: 1))
    }

    @Test("numbers beyond the largest double are refused at their first byte")
    func outOfRange() {
        #expect(Self.fault(#"{"x":1e400}"#) == JSONError(.numberOutOfRange, at: 5))
        #expect(Self.fault(#"[0,-1.5e309]"#) == JSONError(.numberOutOfRange, at: 3))
        #expect(Self.fault("[" + String(repeating: "9", count: 400) + "]") == JSONError(.numberOutOfRange, at: 1))
    }

    @Test("integers are exact over UInt64 and Int64; larger ones and -0 are floats")
    func integers() throws {
        let value = try JSONNode.parse(Array("[18446744073709551615,-9223372036854775808,18446744073709551616,-0,1e2,1e-400]".utf8))
        let numbers = (value.arrayValue ?? []).compactMap { $0.numberValue }
        try #require(numbers.count == 6)
        #expect(numbers[0].value == .unsigned(UInt64.max))
        #expect(numbers[1].value == .negative(Int64.min))
        #expect(numbers[2].value == .float(18446744073709551616.0))
        #expect(numbers[2].isIntegerLiteral && numbers[2].unsigned == nil)
        guard case .float(let negativeZero) = numbers[3].value else { Issue.record("-0 is not a float"); return }
        #expect(negativeZero == 0 && negativeZero.sign == .minus)
        #expect(numbers[4].value == .float(100) && !numbers[4].isIntegerLiteral)
        #expect(numbers[5].value == .float(0))
        #expect(numbers.map(\.literal) == ["18446744073709551615", "-9223372036854775808", "18446744073709551616", "-0", "1e2", "1e-400"])
    }

    @Test("malformed numbers are refused", arguments: [
        ("[01]", JSONError(.invalidNumber, at: 1)),
        ("[-01]", JSONError(.invalidNumber, at: 1)),
        ("[1.]", JSONError(.invalidNumber, at: 1)),
        ("[1.e5]", JSONError(.invalidNumber, at: 1)),
        ("[1e]", JSONError(.invalidNumber, at: 1)),
        ("[1e+]", JSONError(.invalidNumber, at: 1)),
        ("[-]", JSONError(.invalidNumber, at: 1)),
        ("[-a]", JSONError(.invalidNumber, at: 1)),
        ("[.5]", JSONError(.unexpectedByte(UInt8(ascii: "."), expected: .value), at: 1)),
        ("[+1]", JSONError(.unexpectedByte(UInt8(ascii: "+"), expected: .value), at: 1)),
        ("[0x10]", JSONError(.unexpectedByte(UInt8(ascii: "x"), expected: .commaOrArrayEnd), at: 2)),
    ])
    func malformedNumbers(text: String, error: JSONError) {
        #expect(Self.fault(text) == error)
    }

    // MARK: Structure

    @Test("anything after the value other than whitespace is refused where it starts")
    func trailing() {
        #expect(Self.fault("{} x") == JSONError(.trailingCharacters, at: 3))
        #expect(Self.bytes("{}¤", [0]).withUnsafeBytes { _ in Self.fault(Self.bytes("{}¤", [0])) } == JSONError(.trailingCharacters, at: 2))
        #expect(Self.fault("{}{}") == JSONError(.trailingCharacters, at: 2))
        #expect(Self.fault("{}\u{0C}") == JSONError(.trailingCharacters, at: 2))  // form feed is not JSON whitespace
        #expect(Self.fault(" \t\r\n{} \t\r\n") == nil)
    }

    @Test("a duplicate key is refused at its second occurrence, naming the key")
    func duplicateKeys() {
        #expect(Self.fault(#"{"a":1,"a":2}"#) == JSONError(.duplicateKey("a"), at: 7))
        // Spelled differently, decoded the same: still one key.
        #expect(Self.fault(#"{"a":1,"\u0061":2}"#) == JSONError(.duplicateKey("a"), at: 7))
        // Nested objects are checked too.
        #expect(Self.fault(#"[{"x":{"y":1,"y":2}}]"#) == JSONError(.duplicateKey("y"), at: 13))
        // Past sixteen members the check switches to hashing; same result.
        let many = (0..<40).map { "\"k\($0)\":\($0)" }.joined(separator: ",")
        let text = "{" + many + ",\"k33\":0}"
        #expect(Self.fault(text) == JSONError(.duplicateKey("k33"), at: text.utf8.count - 8))
    }

    @Test("keys that differ only by Unicode normalization are two keys")
    func normalizationIsNotEquality() throws {
        let value = try JSONNode.parse(Array("{\"\u{E9}\":1,\"e\u{301}\":2,\"\u{212A}\":3,\"K\":4}".utf8))
        let object = try #require(value.objectValue)
        #expect(object.count == 4)
        #expect(object["\u{E9}"]?.numberValue?.unsigned == 1)
        #expect(object["e\u{301}"]?.numberValue?.unsigned == 2)
        #expect(object["\u{212A}"]?.numberValue?.unsigned == 3)
        #expect(object["K"]?.numberValue?.unsigned == 4)
    }

    @Test("the duplicate-key message names the key as read, in plain quotes")
    func duplicateKeyMessage() {
        let error = Self.fault(#"{"a\nb\u202e":1,"a\nb\u202e":2}"#)
        #expect(error == JSONError(.duplicateKey("a\nb\u{202E}"), at: 16))
        #expect(error?.description == "at byte 16: key \"a\nb\u{202E}\" appears twice in one object")
    }

    @Test("nesting is bounded: 127 levels read, the 128th is refused at its bracket")
    func depth() {
        let ok = String(repeating: "[", count: 127) + String(repeating: "]", count: 127)
        #expect(Self.fault(ok) == nil)
        let deep = String(repeating: "[", count: 128) + String(repeating: "]", count: 128)
        #expect(Self.fault(deep) == JSONError(.tooDeep(limit: 127), at: 127))
        let huge = String(repeating: "{\"a\":", count: 100_000)
        #expect(Self.fault(huge) == JSONError(.tooDeep(limit: 127), at: 127 * 5))
        #expect(Self.fault(Array("[[[1]]]".utf8), maxDepth: 2) == JSONError(.tooDeep(limit: 2), at: 2))
    }

    @Test("what JSON forbids and lenient parsers take is refused", arguments: [
        ("[1,]", JSONError(.unexpectedByte(UInt8(ascii: "]"), expected: .value), at: 3)),
        (#"{"a":1,}"#, JSONError(.unexpectedByte(UInt8(ascii: "}"), expected: .key), at: 7)),
        ("{'a':1}", JSONError(.unexpectedByte(UInt8(ascii: "'"), expected: .keyOrObjectEnd), at: 1)),
        ("[1 /* c */]", JSONError(.unexpectedByte(UInt8(ascii: "/"), expected: .commaOrArrayEnd), at: 3)),
        (#"{"a" 1}"#, JSONError(.unexpectedByte(UInt8(ascii: "1"), expected: .colon), at: 5)),
        (#"{"a":1 "b":2}"#, JSONError(.unexpectedByte(UInt8(ascii: "\""), expected: .commaOrObjectEnd), at: 7)),
        ("[true,tru]", JSONError(.unexpectedByte(UInt8(ascii: "]"), expected: .literalTrue), at: 9)),
        ("", JSONError(.unexpectedEnd(expected: .value), at: 0)),
        ("   ", JSONError(.unexpectedEnd(expected: .value), at: 3)),
        ("[1", JSONError(.unexpectedEnd(expected: .commaOrArrayEnd), at: 2)),
        ("{", JSONError(.unexpectedEnd(expected: .keyOrObjectEnd), at: 1)),
        ("\u{FEFF}{}", JSONError(.unexpectedByte(0xEF, expected: .value), at: 0)),
    ])
    func lenientSpots(text: String, error: JSONError) {
        #expect(Self.fault(text) == error)
    }

    @Test("offsets carry the caller's base (a safetensors header starts at byte 8)")
    func offsetBase() {
        #expect(Self.fault(Array(#"{"a":NaN}"#.utf8), offsetBase: 8) == JSONError(.nonFiniteLiteral("NaN"), at: 13))
    }

    @Test("every description is one line of the reader's words; a key is carried as read")
    func oneLine() {
        for text in [#"{"a\ud800":1}"#, "[1e400]", "{} x", #"{"ab":1,"ab":1}"#, "[NaN]", "[\"\u{1}\"]"] {
            let description = Self.fault(text)?.description ?? ""
            #expect(!description.isEmpty && !description.contains("\n"), "\(text)")
        }
        // The command escapes the file's text when it shows it; the description keeps it exact.
        #expect(Self.fault(#"{"a\n":1,"a\n":1}"#)?.description == "at byte 9: key \"a\n\" appears twice in one object")
    }
}

@Suite("JSON reader: cursor")
struct JSONCursorTests {
    @Test("readUnsignedIfPresent takes exactly the integers in 0...UInt64.max")
    func unsigned() throws {
        let text = Array("[0, 18446744073709551615, 18446744073709551616, -1, 1.0, 7]".utf8)
        try text.withUnsafeBytes { buffer in
            var cursor = JSONCursor(buffer)
            try cursor.beginArray()
            var read: [UInt64?] = []
            while try cursor.nextElement() {
                if let value = try cursor.readUnsignedIfPresent() { read.append(value) } else { read.append(nil); try cursor.skipValue() }
            }
            try cursor.finish()
            #expect(read == [0, UInt64.max, nil, nil, nil, 7])
        }
    }

    @Test("rewinding to a mark reads the same value again")
    func rewind() throws {
        let text = Array(#"{"a":[1,2,"x"],"b":3}"#.utf8)
        try text.withUnsafeBytes { buffer in
            var cursor = JSONCursor(buffer)
            try cursor.beginObject()
            _ = try cursor.nextKey()
            let mark = cursor.mark()
            try cursor.beginArray()
            _ = try cursor.nextElement()
            #expect(try cursor.readUnsignedIfPresent() == 1)
            cursor.rewind(to: mark)
            #expect(try cursor.readValue() == JSONNode.parse(Array(#"[1,2,"x"]"#.utf8)))
            let key = try cursor.nextKey()
            #expect(key.map { cursor.string($0) } == "b")
            #expect(try cursor.readUnsignedIfPresent() == 3)
            #expect(try cursor.nextKey() == nil)
            try cursor.finish()
        }
    }

    @Test("token comparison decodes escapes and compares bytes")
    func tokenEquality() throws {
        let text = Array(#"["dtype", "dty\u0070e", "DTYPE", "\u00e9"]"#.utf8)
        try text.withUnsafeBytes { buffer in
            var cursor = JSONCursor(buffer)
            try cursor.beginArray()
            var matches: [Bool] = []
            while try cursor.nextElement() { matches.append(cursor.token(try cursor.readString(), equals: "dtype")) }
            #expect(matches == [true, true, false, false])
        }
    }
}
