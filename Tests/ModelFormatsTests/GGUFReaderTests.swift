import Foundation
import ModelFormats
import TensorData
import Testing
import TestSupport

/// The GGUF fixtures made by gguf-py, read by us and compared with what gguf-py read and computed.
@Suite("GGUF reader")
struct GGUFReaderTests {
    static let readable = ["types.gguf", "metadata.gguf", "tiny_llama.gguf", "tiny_llama_v2.gguf", "chat_template_injection.gguf"]

    /// Whether `value` is exactly what the generator recorded.
    static func matches(_ value: GGUFValue, type: String, text: String?, bits: String?, hex: String?, flag: Bool?,
                        itemType: String?, items: [ExpectedGGUF.Value]?) -> Bool {
        guard value.type.name == type else { return false }
        switch value {
        case .uint8(let v): return text == String(v)
        case .int8(let v): return text == String(v)
        case .uint16(let v): return text == String(v)
        case .int16(let v): return text == String(v)
        case .uint32(let v): return text == String(v)
        case .int32(let v): return text == String(v)
        case .uint64(let v): return text == String(v)
        case .int64(let v): return text == String(v)
        case .float32(let v): return bits == String(format: "%08x", v.bitPattern)
        case .float64(let v): return bits == String(format: "%016llx", v.bitPattern)
        case .bool(let v): return flag == v
        case .string(let s): return hex == hexString(s.bytes)
        case .array(let a):
            guard let items, a.itemType.name == itemType, a.count == items.count else { return false }
            return zip(a.items(), items).allSatisfy { got, want in
                matches(got, type: want.type, text: want.text, bits: want.bits, hex: want.hex, flag: want.value,
                        itemType: want.item_type, items: want.items)
            }
        }
    }

    @Test("reads the header of every fixture as gguf-py does", arguments: readable)
    func header(name: String) throws {
        let expected = try ExpectedGGUF.load(name)
        let file = try GGUFFile(path: Fixture.path("gguf/" + name))
        let header = file.header
        #expect(Int(header.version) == expected.version)
        #expect(header.alignment == expected.alignment)
        #expect(header.dataStart == expected.data_offset)
        #expect(file.fileByteCount == expected.file_bytes)
        #expect(header.metadata.map(\.key) == expected.metadata.map(\.key), "keys in file order")
        for (entry, want) in zip(header.metadata, expected.metadata) {
            #expect(Self.matches(entry.value, type: want.type, text: want.text, bits: want.bits, hex: want.hex, flag: want.value,
                                 itemType: want.item_type, items: want.items), "\(entry.key): \(entry.value)")
            #expect(header.value(forKey: entry.key) == entry.value)
        }
        #expect(header.tensors.count == expected.tensors.count)
        for (info, want) in zip(header.tensors, expected.tensors) {
            #expect(info.name == want.name)
            #expect(info.type.name == want.ggml_type, "\(want.name)")
            #expect(info.shape.dimensions == want.shape, "\(want.name): PyTorch order")
            #expect(info.ggufDimensions == want.gguf_dimensions, "\(want.name): stored order")
            #expect(info.fileOffset == want.offset, "\(want.name): absolute offset")
            #expect(info.byteCount == want.nbytes, "\(want.name)")
            #expect(info.elementCount == want.numel, "\(want.name)")
            #expect(sha256Hex(try file.storedBytes(ofTensorAt: header.tensors.firstIndex(of: info) ?? 0).array) == want.stored_sha256)
        }
    }

    @Test("dequantizes every type exactly as gguf.quants.dequantize, bit for bit", arguments: readable)
    func dequantizes(name: String) throws {
        let expected = try ExpectedGGUF.load(name)
        let file = try GGUFFile(path: Fixture.path("gguf/" + name))
        for (index, want) in expected.tensors.enumerated() {
            if let dequantized = want.dequantized {
                let tensor = try file.tensor(at: index)
                let values = tensor.dtype == .f32 ? tensor.bytes.array : try #require(file.tensor(at: index).bytes.withUnsafeBytes { raw in
                    ElementCodec.decode(raw, dtype: tensor.dtype).withUnsafeBytes { Array($0) }
                })
                #expect(sha256Hex(values) == dequantized.sha256, "\(want.name) (\(want.ggml_type)) against \(dequantized.reference)")
                let first = values.prefix(32).withUnsafeBytes { raw in (0..<(raw.count / 4)).map { String(format: "%08x", raw.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self)) } }
                #expect(first == dequantized.first_bits, "\(want.name)")
                #expect(tensor.shape.dimensions == want.shape)
            } else if let plain = want.values {
                let tensor = try file.tensor(at: index)
                #expect(tensor.dtype.rawValue == plain.read_as)
                #expect(sha256Hex(tensor.bytes.array) == plain.sha256, "\(want.name)")
            }
        }
    }

    @Test("every ggml type and value type has gguf-py's number and block layout")
    func typeTables() throws {
        let expected = try ExpectedGGUF.load("types.gguf")
        let ggml = try #require(expected.ggml_types)
        #expect(ggml.count == GGMLType.allCases.count)
        for (name, facts) in ggml {
            let type = try #require(GGMLType(name: name), "\(name)")
            #expect(Int(type.rawValue) == facts[0] && type.blockElementCount == facts[1] && type.blockByteCount == facts[2], "\(name)")
        }
        let values = try #require(expected.value_types)
        #expect(values.count == GGUFValueType.allCases.count)
        for type in GGUFValueType.allCases { #expect(values[type.name] == Int(type.rawValue), "\(type.name)") }
    }

    @Test("plain types read as their dtype, block types as float32, entries in PyTorch order")
    func entries() throws {
        let file = try GGUFFile(path: Fixture.path("gguf/tiny_llama.gguf"))
        #expect(file.format == .gguf)
        #expect(file.entries.map(\.dtype) == [.f16, .f32, .f32, .f32, .f32])
        #expect(file.entries.map(\.shape) == [[100, 32], [32], [32, 32], [4, 256], [32]])
        #expect(file.entries.first?.name == "token_embd.weight")
    }

    @Test("Q8_1 and Q1_0 are listed and copied but not turned into values")
    func undequantizable() throws {
        let file = try GGUFFile(path: Fixture.path("gguf/types.gguf"))
        let index = try #require(file.index(of: "type.Q8_1"))
        #expect(throws: GGUFError.cannotDequantize(tensor: "type.Q8_1", type: .q8_1)) { try file.tensor(at: index) }
        let q1 = try #require(file.index(of: "type.Q1_0"))
        #expect(throws: GGUFError.cannotDequantize(tensor: "type.Q1_0", type: .q1_0)) { try file.tensor(at: q1) }
        #expect(try file.storedBytes(ofTensorAt: q1).count == 36)
    }

    @Test("F16, BF16 and Q8_0 encodings are bit-identical to gguf.quants.quantize, NaN payloads included", arguments: ["special", "normal"])
    func encoders(label: String) throws {
        let file = try GGUFFile(path: Fixture.path("gguf/types.gguf"))
        let source = try file.tensor(at: try #require(file.index(of: "source.\(label).F32")))
        let values = source.bytes.values(as: Float.self)
        for type in [GGMLType.f16, .bf16, .q8_0] {
            let index = try #require(file.index(of: "encoded.\(label).\(type.name)"))
            let stored = try file.storedBytes(ofTensorAt: index).array
            var ours = [UInt8](repeating: 0, count: stored.count)
            values.withUnsafeBufferPointer { input in ours.withUnsafeMutableBytes { GGUFQuantizer.encode(input, as: type, into: $0) } }
            #expect(ours == stored, "\(label) as \(type.name)")
        }
    }

    @Test("a version 2 file reads like its version 3 twin")
    func version2() throws {
        let v2 = try GGUFFile(path: Fixture.path("gguf/tiny_llama_v2.gguf"))
        let v3 = try GGUFFile(path: Fixture.path("gguf/tiny_llama.gguf"))
        #expect(v2.header.version == 2 && v3.header.version == 3)
        #expect(v2.header.metadata == v3.header.metadata)
        #expect(try v2.stateDict() == v3.stateDict())
    }

    @Test("general.alignment 64 places the data section and every tensor on 64 bytes")
    func alignment() throws {
        let file = try GGUFFile(path: Fixture.path("gguf/metadata.gguf"))
        #expect(file.header.alignment == 64)
        #expect(file.header.dataStart % 64 == 0)
        #expect(file.header.tensors.allSatisfy { $0.relativeOffset % 64 == 0 })
        #expect(file.header.tensors.map(\.relativeOffset) == [0, 64])
    }

    @Test("metadata goes to __metadata__ as JSON text, integers exact, NaN and infinities as strings")
    func metadataAsJSON() throws {
        let file = try GGUFFile(path: Fixture.path("gguf/metadata.gguf"))
        let metadata = try #require(file.metadata)
        #expect(metadata["u64.max"] == "18446744073709551615")
        #expect(metadata["i64.min"] == "-9223372036854775808")
        #expect(metadata["f32.tenth"] == "0.10000000149011612")
        #expect(metadata["f32.nan"] == "\"nan\"")
        #expect(metadata["f64.minus_inf"] == "\"-inf\"")
        #expect(metadata["bool.false"] == "false")
        #expect(metadata["string.controls"] == "\"line1\\nline2\\t\\u001b[31mred\\u001b[0m \u{202E}gnp.exe\\r\"")
        #expect(metadata["array.nested"] == "[[1,2],[3]]")
        #expect(metadata["array.f32"] == "[0.5,\"nan\",\"-inf\"]")
        #expect(metadata["general.alignment"] == "64")
        #expect(metadata.count == file.header.metadata.count)
    }

    @Test("ModelFile.open reads GGUF by its magic, whatever the extension")
    func detection() throws {
        let folder = try Fixture.temporaryFolder()
        let renamed = folder.appendingPathComponent("weights.bin").path
        try FileManager.default.copyItem(atPath: Fixture.path("gguf/tiny_llama.gguf"), toPath: renamed)
        let source = try ModelFile.open(renamed)
        #expect(source.format == .gguf)
        #expect(source.entries.count == 5)
    }

    @Test("a big-endian file (which gguf-py reads) is refused by name")
    func bigEndian() throws {
        #expect(throws: GGUFError.bigEndian(version: 0x0300_0000)) { try GGUFFile(path: Fixture.path("gguf/bad_big_endian.gguf")) }
    }

    @Test("the layout check reports nothing for files written by gguf-py but nested arrays, as warnings")
    func llamaCppLayout() throws {
        #expect(try GGUFFile(path: Fixture.path("gguf/tiny_llama.gguf")).header.llamaCppIncompatibilities.isEmpty)
        let notes = try GGUFFile(path: Fixture.path("gguf/metadata.gguf")).header.llamaCppIncompatibilities
        #expect(notes == [.ggufNestedArrayForLlamaCpp(key: "array.nested"), .ggufNestedArrayForLlamaCpp(key: "array.nested_strings")])
        #expect(notes.map(\.message) == ["\"array.nested\" is an array of arrays, which llama.cpp does not read (gguf-py reads it)",
                                         "\"array.nested_strings\" is an array of arrays, which llama.cpp does not read (gguf-py reads it)"])
        #expect(notes.map(\.code) == [.ggufNestedArrayForLlamaCpp, .ggufNestedArrayForLlamaCpp])
    }
}
