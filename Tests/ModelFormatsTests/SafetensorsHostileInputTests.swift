import ModelFormats
import Testing
import TestSupport

/// Crafted safetensors headers, one per attack shape (docs/security.md, docs/formats.md). The fixture
/// suite covers the cases the reference also refuses; these cover resource and parser attacks.
@Suite("safetensors hostile input")
struct SafetensorsHostileInputTests {
    /// A file of the 8-byte length, `header`, then `data`.
    func file(_ header: String, data: [UInt8] = []) -> [UInt8] {
        let h = Array(header.utf8)
        return withUnsafeBytes(of: UInt64(h.count).littleEndian) { Array($0) } + h + data
    }

    func parse(_ bytes: [UInt8]) throws -> SafetensorsHeader {
        try bytes.withUnsafeBytes { try SafetensorsHeader.parse(file: $0) }
    }

    @Test("deep JSON nesting is refused by the parser's depth limit, not the stack")
    func deepNesting() {
        let deep = "{\"__metadata__\":" + String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000) + "}"
        #expect(throws: SafetensorsError.self) { _ = try parse(file(deep)) }
    }

    @Test("many tensors aliasing one range (the reference's json attack) are refused")
    func aliasingAttack() {
        let entries = (0..<1000).map { "\"t\($0)\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}" }.joined(separator: ",")
        #expect(throws: SafetensorsError.offsetsNotContiguous(tensor: "t1", expectedBegin: 4, found: 0)) {
            _ = try parse(file("{" + entries + "}", data: [0, 0, 0, 0]))
        }
    }

    @Test("a header length near 2^64 is refused before any conversion")
    func hugeLength() {
        let bytes: [UInt8] = [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF] + Array("{}".utf8)
        #expect(throws: SafetensorsError.headerTooLarge(declared: UInt64.max, limit: 100_000_000)) { _ = try parse(bytes) }
    }

    @Test("shape products that wrap to a small number are caught")
    func wrappingShape() {
        // 2^32 * 2^32 wraps to 0 in 64 bits; with a zero-byte range this would pass unchecked.
        let header = #"{"t":{"dtype":"U8","shape":[4294967296,4294967296],"data_offsets":[0,0]}}"#
        #expect(throws: SafetensorsError.sizeOverflow(tensor: "t", shape: [4294967296, 4294967296], dtype: .u8)) { _ = try parse(file(header)) }
        let bits = #"{"t":{"dtype":"F64","shape":[2305843009213693952],"data_offsets":[0,0]}}"#
        #expect(throws: SafetensorsError.self) { _ = try parse(file(bits)) }
    }

    @Test("offsets beyond the file are refused by the coverage check")
    func offsetsBeyondFile() {
        let header = #"{"t":{"dtype":"U8","shape":[1000000],"data_offsets":[0,1000000]}}"#
        #expect(throws: SafetensorsError.dataNotCovered(expectedFileSize: 8 + header.utf8.count + 1_000_000, actualFileSize: 8 + header.utf8.count + 4)) {
            _ = try parse(file(header, data: [1, 2, 3, 4]))
        }
    }

    @Test("json-c's lenient spots are closed")
    func lenientJSON() {
        let t = #""t":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}"#
        for header in [
            "{'t':{}}",  // single quotes
            #"{"__metadata__":{"a":Infinity},"# + t + "}",
            #"{"__metadata__":{"a":"b"}, /* c */ "# + t + "}",  // comment
            "{" + t + ",}",  // trailing comma
            "{" + t + "} x",  // trailing garbage
            #"{"t":{"dtype":"U8","shape":[01],"data_offsets":[0,1]}}"#,  // leading zero
            "{" + t + "}\u{0}",
        ] {
            #expect(throws: SafetensorsError.self, "\(header)") { _ = try parse(file(header, data: [7])) }
        }
    }

    @Test("a key duplicated inside a tensor entry or the metadata is refused")
    func nestedDuplicates() {
        let dupField = #"{"t":{"dtype":"U8","dtype":"U8","shape":[1],"data_offsets":[0,1]}}"#
        #expect(throws: SafetensorsError.duplicateKey("dtype", inObject: "tensor \"t\"", at: 27)) { _ = try parse(file(dupField, data: [7])) }
        let dupMeta = #"{"__metadata__":{"a":"1","a":"2"},"t":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}"#
        #expect(throws: SafetensorsError.self) { _ = try parse(file(dupMeta, data: [7])) }
    }

    @Test("every prefix of a real file is refused without crashing")
    func truncations() throws {
        let whole = try Fixture.bytes("safetensors/dtypes.safetensors")
        for cut in 0..<whole.count {
            #expect(throws: SafetensorsError.self, "cut at \(cut)") { _ = try parse(Array(whole.prefix(cut))) }
        }
        #expect(try parse(whole).tensors.count > 20)
    }

    @Test("a very high tensor rank is bounded by the header size, and handled")
    func highRank() throws {
        let dims = Array(repeating: "1", count: 100_000).joined(separator: ",")
        let header = #"{"t":{"dtype":"U8","shape":["# + dims + #"],"data_offsets":[0,1]}}"#
        let parsed = try parse(file(header, data: [9]))
        #expect(parsed.tensors[0].shape.rank == 100_000)
    }
}
