import JSONReader
import ModelFormats
import TensorData
import Testing
import TestSupport

/// Names and text read exactly: the fixtures of Fixtures/generate_exact_strings.py (made by the
/// real safetensors, torch and huggingface_hub), then hostile headers byte by byte.
@Suite("safetensors: exact names")
struct SafetensorsExactNameTests {
    static func utf8(_ names: [String]) -> [[UInt8]] { names.map { Array($0.utf8) } }

    @Test("keys that differ only by Unicode normalization are two tensors, as the reference reads them")
    func normalizationPair() throws {
        let expected = try ExactExpectation.load("exact_strings/normalization_pair.safetensors.json")
        let file = try SafetensorsFile(path: Fixture.path("exact_strings/normalization_pair.safetensors"))
        #expect(file.entries.count == 4)
        #expect(Self.utf8(file.entries.map(\.name)) == expected.tensors.map(\.nameUTF8))
        #expect(Self.utf8(expected.tensors.map(\.name)) == expected.tensors.map(\.nameUTF8), "the expectation file decodes exactly")
        for (index, want) in expected.tensors.enumerated() {
            let tensor = try file.tensor(at: index)
            #expect(tensor.dtype.rawValue == want.dtype)
            #expect(tensor.shape.dimensions == want.shape)
            #expect(sha256Hex(tensor.bytes.array) == want.sha256)
        }
        // Looked up by bytes, each spelling finds its own tensor.
        let precomposed = try #require(file.index(of: "\u{E9}"))
        let decomposed = try #require(file.index(of: "e\u{301}"))
        #expect(precomposed != decomposed)
        #expect(try file.tensor(at: precomposed).shape == [4])
        #expect(try file.tensor(at: decomposed).shape == [2, 3])
        #expect(file.index(of: "layer.\u{212A}") != file.index(of: "layer.K"))
        // Metadata keys likewise.
        let metadata = try #require(file.metadata)
        #expect(metadata.count == 2)
        #expect(metadata["\u{E9}"] == "precomposed")
        #expect(metadata["e\u{301}"] == "decomposed")
        #expect(expected.metadataItems?.map { Array($0.0.utf8) } == metadata.keys.sorted().map { Array($0.string.utf8) })
    }

    @Test("a NUL inside a key is kept whole")
    func nulInKey() throws {
        let expected = try ExactExpectation.load("exact_strings/nul_in_key.safetensors.json")
        let file = try SafetensorsFile(path: Fixture.path("exact_strings/nul_in_key.safetensors"))
        #expect(Self.utf8(file.entries.map(\.name)) == expected.tensors.map(\.nameUTF8))
        #expect(Set(Self.utf8(file.entries.map(\.name))) == [[0x61, 0x00, 0x62], [0x61]])
        let index = try #require(file.index(of: "a\u{0}b"))
        #expect(try file.tensor(at: index).bytes.array == [0, 1])
    }

    @Test("keys written with JSON escapes are the names they decode to")
    func escapedKeys() throws {
        let expected = try ExactExpectation.load("exact_strings/escaped_keys.safetensors.json")
        let file = try SafetensorsFile(path: Fixture.path("exact_strings/escaped_keys.safetensors"))
        #expect(Self.utf8(file.entries.map(\.name)) == expected.tensors.map(\.nameUTF8))
        #expect(Self.utf8(file.entries.map(\.name)) == [[0xC3, 0xA9], [0x65, 0xCC, 0x81], [0xF0, 0x9F, 0x98, 0x80]])
    }

    @Test("one key written raw and again escaped is a duplicate: refused at the second, by name (the reference keeps the last)")
    func escapedDuplicate() throws {
        let expected = try ExactExpectation.load("exact_strings/escaped_duplicate.safetensors.json")
        let refusal = try #require(expected.refusal)
        #expect(expected.valid, "the reference reads it")
        do {
            _ = try SafetensorsFile(path: Fixture.path("exact_strings/escaped_duplicate.safetensors"))
            Issue.record("accepted")
        } catch let error as SafetensorsError {
            guard case .duplicateKey(let key, let object, let at) = error else {
                Issue.record("\(error)")
                return
            }
            #expect(caseName(error) == refusal.errorCase)
            #expect(Array(key.utf8) == refusal.keyUTF8)
            #expect(object == "the header")
            #expect(at == refusal.offset)
            #expect(error.description == "at byte 62: key \"\u{E9}\" appears twice in the header; the format forbids duplicate keys")
        }
    }

    @Test("a torch.save pickle keeps both spellings, byte for byte")
    func pickleNames() throws {
        let expected = try ExactExpectation.load("exact_strings/normalization_pair.pth.json")
        let file = try TorchFile(path: Fixture.path("exact_strings/normalization_pair.pth"))
        #expect(Self.utf8(file.entries.map(\.name)) == expected.tensors.map(\.nameUTF8))
        for (index, want) in expected.tensors.enumerated() {
            #expect(sha256Hex(try file.tensor(at: index).bytes.array) == want.sha256)
        }
        let state = try file.stateDict()
        #expect(state.count == 4)
        #expect(state["\u{E9}"]?.shape == [4])
        #expect(state["e\u{301}"]?.shape == [2, 3])
    }

    @Test("a sharded set maps each spelling to its own shard")
    func shardedPair() throws {
        let expected = try ExactExpectation.load("exact_strings/sharded/expected.json")
        let model = try ShardedModel(indexPath: Fixture.path("exact_strings/sharded/model.safetensors.index.json"))
        #expect(model.disagreements.isEmpty)
        #expect(Self.utf8(model.entries.map(\.name)) == expected.tensors.map(\.nameUTF8))
        for (index, want) in expected.tensors.enumerated() {
            #expect(model.shardName(ofTensorAt: index) == want.shard)
            #expect(sha256Hex(try model.tensor(at: index).bytes.array) == want.sha256)
        }
        #expect(Self.utf8(model.index.weightMap.map(\.tensor)) == [[0xC3, 0xA9], [0x65, 0xCC, 0x81]])
    }

    @Test("the writer keeps both spellings and a NUL, escaped as the reference writes them")
    func writerRoundTrip() throws {
        let names = ["\u{E9}", "e\u{301}", "a\u{0}b", "layer.\u{212A}", "layer.K"]
        var state = StateDict()
        for (k, name) in names.enumerated() {
            try state.append(name, try RawTensor(dtype: .u8, shape: [1], bytes: TensorBytes(copying: [UInt8(k)])))
        }
        #expect(state.count == 5)
        let layout = try SafetensorsWriter.layout(entries: names.map { TensorEntry(name: $0, dtype: .u8, shape: [1]) }, metadata: ["e\u{301}": "1", "\u{E9}": "2"])
        let header = String(decoding: layout.headerBytes.dropFirst(8), as: UTF8.self)
        #expect(header.utf8.starts(with: Array("{\"__metadata__\":{\"e\u{301}\":\"1\",\"\u{E9}\":\"2\"},\"a\\u0000b\":".utf8)))
        let folder = try Fixture.temporaryFolder()
        let path = folder.appendingPathComponent("pair.safetensors").path
        try SafetensorsWriter.write(state, to: path, metadata: nil, overwrite: false)
        let file = try SafetensorsFile(path: path)
        #expect(Set(Self.utf8(file.entries.map(\.name))) == Set(Self.utf8(names)))
        for name in names { #expect(try file.tensor(at: try #require(file.index(of: name))) == state[name]) }
        // The same bytes twice is a duplicate; canonical equivalence is not.
        #expect(throws: SafetensorsError.duplicateTensorName("\u{E9}")) {
            _ = try SafetensorsWriter.layout(entries: [TensorEntry(name: "\u{E9}", dtype: .u8, shape: [1]), TensorEntry(name: "\u{E9}", dtype: .u8, shape: [1])], metadata: nil)
        }
    }
}

/// Hostile headers, byte by byte: each refusal is the exact error case at the exact offset
/// (absolute, in the file).
@Suite("safetensors: hostile header text")
struct SafetensorsHostileTextTests {
    static func parse(_ bytes: [UInt8]) throws -> SafetensorsHeader {
        try bytes.withUnsafeBytes { try SafetensorsHeader.parse(file: $0) }
    }

    static func refusal(_ bytes: [UInt8]) -> SafetensorsError? {
        do {
            _ = try parse(bytes)
            return nil
        } catch let error as SafetensorsError {
            return error
        } catch {
            return nil
        }
    }

    /// The file offset of the `occurrence`-th (0-based) `marker` in a file built by `ST.file`.
    static func offset(of marker: String, in file: [UInt8], occurrence: Int = 0) -> Int {
        let needle = Array(marker.utf8)
        var found = -1
        for start in 0...(file.count - needle.count) where Array(file[start..<(start + needle.count)]) == needle {
            found += 1
            if found == occurrence { return start }
        }
        return -1
    }

    static let entry = #""t":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}"#

    @Test("a lone surrogate in a key or a metadata value")
    func loneSurrogates() {
        let key = ST.file(#"{"a\ud800":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}"#, data: [1])
        #expect(Self.refusal(key) == .invalidJSON(JSONError(.loneSurrogate(0xD800), at: 11)))
        let value = ST.file(#"{"__metadata__":{"k":"x\udc00"},"# + Self.entry + "}", data: [1])
        #expect(Self.refusal(value) == .invalidJSON(JSONError(.loneSurrogate(0xDC00), at: Self.offset(of: #"\udc00"#, in: value))))
        #expect(Self.refusal(value)?.description == "at byte 31: header is not valid JSON: lone surrogate U+DC00 (half of a UTF-16 pair) cannot be text")
    }

    @Test("invalid UTF-8 anywhere in the header is refused at its first byte, before any JSON", arguments: [
        [UInt8(0xC3), 0x28], [0xED, 0xA0, 0x80], [0xC0, 0xAF], [0xF8, 0x88, 0x80, 0x80, 0x80],
    ])
    func invalidUTF8(raw: [UInt8]) {
        let header = Array(#"{"a"#.utf8) + raw + Array(#"":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}"#.utf8)
        #expect(Self.refusal(ST.file(header, data: [1])) == .invalidUTF8(at: 8 + 3))
        // Even after a JSON fault: the reference checks UTF-8 first.
        let late = Array("{] ".utf8) + raw
        #expect(Self.refusal(ST.file(late)) == .invalidUTF8(at: 8 + 3))
    }

    @Test("raw control characters inside a key", arguments: [UInt8(0x00), 0x0A, 0x1B])
    func controlCharacters(byte: UInt8) {
        let header = Array(#"{"a"#.utf8) + [byte] + Array(#"b":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}"#.utf8)
        #expect(Self.refusal(ST.file(header, data: [1])) == .invalidJSON(JSONError(.controlCharacter(byte), at: 8 + 3)))
    }

    @Test("NaN and Infinity, even in a member the reference ignores")
    func nonFinite() {
        let file = ST.file(#"{"t":{"dtype":"U8","shape":[1],"data_offsets":[0,1],"scale":NaN}}"#, data: [1])
        #expect(Self.refusal(file) == .invalidJSON(JSONError(.nonFiniteLiteral("NaN"), at: Self.offset(of: "NaN", in: file))))
        let metadata = ST.file(#"{"__metadata__":{"a":-Infinity}}"#)
        #expect(Self.refusal(metadata) == .invalidJSON(JSONError(.nonFiniteLiteral("-Infinity"), at: 29)))
    }

    @Test("trailing garbage after the object, including NUL padding")
    func trailing() {
        #expect(Self.refusal(ST.file("{} x")) == .invalidJSON(JSONError(.trailingCharacters, at: 11)))
        #expect(Self.refusal(ST.file(Array("{}".utf8) + [0, 0])) == .invalidJSON(JSONError(.trailingCharacters, at: 10)))
        #expect(Self.refusal(ST.file("{}  ")) == nil, "space padding is the format's")
        #expect(Self.refusal(ST.file(" \t\n{}\r\n ")) == nil, "as is any JSON whitespace")
    }

    @Test("a duplicate key names the key as read and the object, at the second occurrence")
    func duplicates() {
        // "t\n" written as \n and again as \u000a: one key, reported as read (the command escapes it).
        let top = ST.file(ST.object([ST.u8Entry(key: Array(#"t\n"#.utf8), begin: 0, count: 1),
                                     ST.u8Entry(key: Array(#"t\u000a"#.utf8), begin: 1, count: 1)]), data: [1, 2])
        #expect(Self.offset(of: #""t\u000a""#, in: top) == 63)
        #expect(Self.refusal(top) == .duplicateKey("t\n", inObject: "the header", at: 63))
        #expect(Self.refusal(top)?.description == "at byte 63: key \"t\n\" appears twice in the header; the format forbids duplicate keys")
        let metadata = ST.file(#"{"__metadata__":{"a":"1","\u0061":"2"}}"#)
        #expect(Self.refusal(metadata) == .duplicateKey("a", inObject: "__metadata__", at: 33))
        let field = ST.file(#"{"t":{"dtype":"U8","shape":[1],"shape":[1],"data_offsets":[0,1]}}"#, data: [1])
        #expect(Self.refusal(field) == .duplicateKey("shape", inObject: "tensor \"t\"", at: Self.offset(of: "\"shape\"", in: field, occurrence: 1)))
        let nested = ST.file(#"{"t":{"dtype":"U8","shape":[1],"data_offsets":[0,1],"x":{"y":1,"y":2}}}"#, data: [1])
        #expect(Self.refusal(nested) == .duplicateKey("y", inObject: "a JSON object", at: Self.offset(of: "\"y\"", in: nested, occurrence: 1)))
        let nul = ST.file(ST.object([ST.u8Entry(key: Array(#"a\u0000b"#.utf8), begin: 0, count: 1),
                                     ST.u8Entry(key: Array(#"a\u0000b"#.utf8), begin: 1, count: 1)]), data: [1, 2])
        #expect(Self.offset(of: #""a\u0000b""#, in: nul, occurrence: 1) == 68)
        #expect(Self.refusal(nul)?.description == "at byte 68: key \"a\u{0}b\" appears twice in the header; the format forbids duplicate keys")
    }

    @Test("numbers out of range: beyond a double anywhere, beyond 2^64 where an integer belongs")
    func numbers() {
        let double = ST.file(#"{"t":{"dtype":"U8","shape":[1],"data_offsets":[0,1],"x":1e400}}"#, data: [1])
        #expect(Self.refusal(double) == .invalidJSON(JSONError(.numberOutOfRange, at: Self.offset(of: "1e400", in: double))))
        let offsets = ST.file(#"{"t":{"dtype":"U8","shape":[0],"data_offsets":[0,18446744073709551616]}}"#)
        #expect(Self.refusal(offsets) == .invalidField(
            tensor: "t", field: "data_offsets", expected: "non-negative integers below 2^64", found: "[0, 18446744073709551616]",
            at: Self.offset(of: "[0,1844", in: offsets)))
        let shape = ST.file(#"{"t":{"dtype":"U8","shape":[1,-0],"data_offsets":[0,0]}}"#)
        #expect(Self.refusal(shape) == .invalidField(
            tensor: "t", field: "shape", expected: "non-negative integers below 2^64", found: "-0", at: Self.offset(of: "[1,-0]", in: shape)))
        let fraction = ST.file(#"{"t":{"dtype":"U8","shape":[1.0],"data_offsets":[0,1]}}"#, data: [1])
        #expect(Self.refusal(fraction) == .invalidField(
            tensor: "t", field: "shape", expected: "non-negative integers below 2^64", found: "1.0", at: Self.offset(of: "[1.0]", in: fraction)))
        let maximum = ST.file(#"{"t":{"dtype":"U8","shape":[0],"data_offsets":[18446744073709551615,18446744073709551615]}}"#)
        #expect(Self.refusal(maximum) == .invalidField(
            tensor: "t", field: "data_offsets", expected: "offsets within the file", found: "[18446744073709551615, 18446744073709551615]",
            at: Self.offset(of: "[1844", in: maximum)))
    }

    @Test("nesting: 127 levels as the reference allows, the 128th refused at its bracket")
    func nesting() {
        func file(extraDepth: Int) -> [UInt8] {
            ST.file(#"{"t":{"dtype":"U8","shape":[1],"data_offsets":[0,1],"x":"# + String(repeating: "[", count: extraDepth)
                    + String(repeating: "]", count: extraDepth) + "}}", data: [1])
        }
        #expect(Self.refusal(file(extraDepth: 125)) == nil)
        let deep = file(extraDepth: 126)
        #expect(Self.refusal(deep) == .invalidJSON(JSONError(.tooDeep(limit: 127), at: Self.offset(of: "[[", in: deep) + 125)))
        let attack = ST.file("{\"__metadata__\":" + String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000) + "}")
        #expect(Self.refusal(attack) == .invalidJSON(JSONError(.tooDeep(limit: 127), at: 8 + 16 + 126)))
    }

    @Test("a JSON fault anywhere comes before a fault in what the JSON says")
    func precedence() {
        let file = ST.file(#"{"a":{"dtype":"U8","shape":[1]},"b":NaN}"#)
        #expect(Self.refusal(file) == .invalidJSON(JSONError(.nonFiniteLiteral("NaN"), at: Self.offset(of: "NaN", in: file))))
        let semantic = ST.file(#"{"a":{"dtype":"U8","shape":[1]},"b":1}"#)
        #expect(Self.refusal(semantic) == .missingField(tensor: "a", field: "data_offsets", at: 13))
    }

    @Test("header text the reference reads: canonical pairs, NUL, escapes, DEL, C1 controls")
    func acceptedText() throws {
        let names: [[UInt8]] = [[0xC3, 0xA9], [0x65, 0xCC, 0x81], Array(#"a\u0000b"#.utf8), [0x7F, 0xC2, 0x85], Array(#"\ud83d\ude00"#.utf8)]
        let file = ST.file(ST.object(names.enumerated().map { ST.u8Entry(key: $1, begin: $0, count: 1) }), data: [0, 1, 2, 3, 4])
        let header = try Self.parse(file)
        #expect(header.tensors.map { Array($0.name.utf8) } == [[0xC3, 0xA9], [0x65, 0xCC, 0x81], [0x61, 0x00, 0x62], [0x7F, 0xC2, 0x85], [0xF0, 0x9F, 0x98, 0x80]])
        #expect(header.tensors.map(\.dataRange) == [0..<1, 1..<2, 2..<3, 3..<4, 4..<5])
    }
}
