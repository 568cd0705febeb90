import Foundation
import ModelFormats
import TensorData
import Testing
import TestSupport

@Suite("GGUF writer")
struct GGUFWriterTests {
    /// Rewrites `file`'s metadata and stored tensors with our writer.
    func rewrite(_ file: GGUFFile, to path: String) throws {
        let plans = file.header.tensors.map { GGUFTensorPlan(name: $0.name, type: $0.type, shape: $0.shape) }
        try GGUFWriter.write(to: path, metadata: file.header.metadata, tensors: plans, overwrite: false) { try file.storedBytes(ofTensorAt: $0) }
    }

    @Test("rewriting a file gguf-py wrote gives the same bytes", arguments: ["types.gguf", "metadata.gguf", "tiny_llama.gguf"])
    func byteIdentical(name: String) throws {
        let folder = try Fixture.temporaryFolder()
        let output = folder.appendingPathComponent(name).path
        try rewrite(try GGUFFile(path: Fixture.path("gguf/" + name)), to: output)
        #expect(try Data(contentsOf: URL(fileURLWithPath: output)) == Data(contentsOf: Fixture.url("gguf/" + name)))
    }

    @Test("every value type round-trips, exact to the bit")
    func valueRoundTrip() throws {
        let values: [GGUFValue] = [
            .uint8(255), .int8(-128), .uint16(65535), .int16(-32768), .uint32(.max), .int32(.min), .uint64(.max), .int64(.min),
            .float32(Float(bitPattern: 0x7FC0_1234)), .float32(-0.0), .float64(.infinity), .float64(Double(bitPattern: 1)),
            .bool(true), .bool(false), .string(""), .string("żółw\n\u{1b}"), .string(GGUFString(bytes: [0xFF, 0xFE])),
            .array(try GGUFArray(itemType: .string, items: [.string("a"), .string("")])),
            .array(try GGUFArray(itemType: .array, items: [.array(try GGUFArray(itemType: .int32, items: [.int32(1)])),
                                                           .array(try GGUFArray(itemType: .bool, items: []))])),
            .array(try GGUFArray(itemType: .float64, items: [])),
        ]
        let metadata = values.enumerated().map { GGUFMetadataEntry(key: "k\($0.offset)", value: $0.element) }
        let folder = try Fixture.temporaryFolder()
        let path = folder.appendingPathComponent("values.gguf").path
        try GGUFWriter.write(to: path, metadata: metadata, tensors: [], overwrite: false) { _ in .empty }
        let read = try GGUFFile(path: path)
        #expect(read.header.metadata.map(\.value) == values)
        #expect(read.header.metadata.map(\.key) == metadata.map(\.key))
        #expect(read.header.version == 3)
    }

    @Test("tensors are padded to the alignment, one after another, in the order given")
    func layout() throws {
        let metadata = [GGUFMetadataEntry(key: "general.alignment", value: .uint32(128))]
        let plans = [GGUFTensorPlan(name: "a", type: .f32, shape: [3]), GGUFTensorPlan(name: "q", type: .q8_0, shape: [2, 64]),
                     GGUFTensorPlan(name: "s", type: .i64, shape: [])]
        let layout = try GGUFWriter.layout(metadata: metadata, tensors: plans)
        #expect(layout.alignment == 128)
        #expect(layout.offsets == [0, 128, 384])
        #expect(layout.byteCounts == [12, 136, 8])
        #expect(layout.headerBytes.count % 128 == 0)
        #expect(layout.fileByteCount == layout.headerBytes.count + 512)
    }

    @Test("the writer refuses what the format cannot hold and leaves no file")
    func refusals() throws {
        let folder = try Fixture.temporaryFolder()
        let path = folder.appendingPathComponent("bad.gguf").path
        let twice = [GGUFMetadataEntry(key: "a", value: .bool(true)), GGUFMetadataEntry(key: "a", value: .bool(false))]
        #expect(throws: GGUFError.keyGivenTwice("a")) { try GGUFWriter.layout(metadata: twice, tensors: []) }
        let names = [GGUFTensorPlan(name: "t", type: .f32, shape: [1]), GGUFTensorPlan(name: "t", type: .f32, shape: [1])]
        #expect(throws: GGUFError.tensorNameGivenTwice("t")) { try GGUFWriter.layout(metadata: [], tensors: names) }
        #expect(throws: GGUFError.alignmentValue(24)) {
            try GGUFWriter.layout(metadata: [GGUFMetadataEntry(key: "general.alignment", value: .uint32(24))], tensors: [])
        }
        #expect(throws: GGUFError.alignmentType(found: .uint64)) {
            try GGUFWriter.layout(metadata: [GGUFMetadataEntry(key: "general.alignment", value: .uint64(32))], tensors: [])
        }
        #expect(throws: GGUFError.cannotQuantize(tensor: "q", type: .q8_0, shape: [4, 33])) {
            try GGUFWriter.layout(metadata: [], tensors: [GGUFTensorPlan(name: "q", type: .q8_0, shape: [4, 33])])
        }
        #expect(throws: GGUFError.tensorByteCount(tensor: "t", expected: 8, found: 4)) {
            try GGUFWriter.write(to: path, metadata: [], tensors: [GGUFTensorPlan(name: "t", type: .f32, shape: [2])], overwrite: false) { _ in
                TensorBytes(copying: [UInt8](repeating: 0, count: 4))
            }
        }
        #expect(!FileManager.default.fileExists(atPath: path))
        #expect(throws: GGUFError.arrayItemTypeMismatch(index: 1, expected: .int32, found: .uint32)) {
            try GGUFArray(itemType: .int32, items: [.int32(1), .uint32(2)])
        }
    }

    @Test("a large array is stored once and decoded on request")
    func lazyArrays() throws {
        let file = try GGUFFile(path: Fixture.path("gguf/metadata.gguf"))
        guard case .array(let array)? = file.header.value(forKey: "array.long") else { Issue.record("no array.long"); return }
        #expect(array.count == 100 && array.itemType == .string)
        #expect(array.items(prefix: 2) == [.string("token0"), .string("token1")])
        #expect(array.items().last == .string("token99"))
    }
}
