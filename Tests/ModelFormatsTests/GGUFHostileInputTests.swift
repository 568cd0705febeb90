import Foundation
import ModelFormats
import TensorData
import Testing
import TestSupport

/// GGUF files built byte by byte, one per refusal: each must be a typed, one-line error naming
/// the place, thrown before anything is allocated from the bad count or length.
@Suite("GGUF hostile input")
struct GGUFHostileInputTests {
    func parse(_ b: GGUFBytes, maxTensorRank: Int = 64) throws -> GGUFHeader {
        try b.bytes.withUnsafeBytes { try GGUFHeader.parse(file: $0, maxTensorRank: maxTensorRank) }
    }

    func refusal(_ b: GGUFBytes, maxTensorRank: Int = 64) -> GGUFError? {
        do {
            _ = try parse(b, maxTensorRank: maxTensorRank)
            return nil
        } catch let error as GGUFError {
            #expect(!error.description.contains("\n"), "one line: \(error)")
            return error
        } catch {
            Issue.record("not a GGUFError: \(error)")
            return nil
        }
    }

    /// A valid start: header for `tensors` tensors and `entries` entries.
    func start(tensors: UInt64 = 0, entries: UInt64 = 0) -> GGUFBytes { .header(tensors: tensors, entries: entries) }

    // MARK: - Fixed header

    @Test("a file shorter than the magic, a wrong magic, and every fixed field cut short")
    func fixedHeader() {
        var tiny = GGUFBytes()
        tiny.bytes = Array("GG".utf8)
        #expect(refusal(tiny) == .truncated(field: .header("magic"), at: 0, needed: 4, available: 2))
        #expect(refusal(.header(tensors: 0, entries: 0, magic: Array("GGUG".utf8))) == .notGGUF(found: Array("GGUG".utf8)))
        let full = start().bytes
        #expect(refusal(GGUFBytes(bytes: Array(full.prefix(6)))) == .truncated(field: .header("version"), at: 4, needed: 4, available: 2))
        #expect(refusal(GGUFBytes(bytes: Array(full.prefix(12)))) == .truncated(field: .header("tensor count"), at: 8, needed: 8, available: 4))
        #expect(refusal(GGUFBytes(bytes: Array(full.prefix(23)))) == .truncated(field: .header("metadata count"), at: 16, needed: 8, available: 7))
        #expect((try? parse(start())) != nil, "the empty file itself is valid")
    }

    @Test("versions 0, 1 and 4 are refused; a byte-swapped version says big-endian", arguments: [UInt32(0), 1, 4, 0xFFFF_FFFF])
    func versions(version: UInt32) {
        #expect(refusal(.header(version: version, tensors: 0, entries: 0)) == .unsupportedVersion(version))
    }

    @Test("a big-endian version is named as such")
    func bigEndian() {
        #expect(refusal(.header(version: 0x0300_0000, tensors: 0, entries: 0)) == .bigEndian(version: 0x0300_0000))
        #expect(refusal(.header(version: 0x0200_0000, tensors: 0, entries: 0)) == .bigEndian(version: 0x0200_0000))
    }

    @Test("counts near 2^64 are refused against the bytes that remain, before any allocation")
    func hugeCounts() {
        #expect(refusal(start(tensors: .max, entries: 0)) == .countTooLarge(field: .header("tensor count"), at: 8, declared: .max, bytesPerItem: 24, available: 0))
        #expect(refusal(start(tensors: 0, entries: .max)) == .countTooLarge(field: .header("metadata count"), at: 16, declared: .max, bytesPerItem: 13, available: 0))
        var b = start(tensors: 0, entries: 2)
        b.entry("a", uint32: 1)  // 17 bytes: room for one entry of 13 at least, not two
        #expect(refusal(b) == .countTooLarge(field: .header("metadata count"), at: 16, declared: 2, bytesPerItem: 13, available: 17))
        var c = start(tensors: 1, entries: 1)
        c.entry("a", uint32: 1)
        c.data(10)  // the 27 bytes after the counts allow one tensor info of 24 before the entry is read, not after
        #expect(refusal(c) == .countTooLarge(field: .header("tensor count"), at: 8, declared: 1, bytesPerItem: 24, available: 10))
    }

    // MARK: - Metadata

    @Test("key lengths past the end, near 2^64, and keys that are not UTF-8")
    func keys() {
        var b = start(entries: 1)
        b.string(declaring: 1000, Array("abc".utf8))
        b.data(10)
        #expect(refusal(b) == .lengthPastEnd(field: .key(index: 0), at: 24, declared: 1000, available: 13))
        var c = start(entries: 1)
        c.string(declaring: .max)
        c.data(5)
        #expect(refusal(c) == .lengthPastEnd(field: .key(index: 0), at: 24, declared: .max, available: 5))
        var d = start(entries: 1)
        d.string(declaring: 2, [0x61, 0xFF])
        d.u32(4); d.u32(1)
        #expect(refusal(d) == .invalidUTF8(field: .key(index: 0), at: 33))
    }

    @Test("an unknown value type, a string value past the end, and a BOOL byte of 2")
    func values() {
        var b = start(entries: 1)
        b.string("k"); let typeAt = b.bytes.count; b.u32(13); b.data(8)
        #expect(refusal(b) == .unknownValueType(field: .value(key: "k"), at: typeAt, raw: 13))
        var c = start(entries: 1)
        c.string("k"); c.u32(8); let lengthAt = c.bytes.count; c.string(declaring: 100, [1, 2])
        #expect(refusal(c) == .lengthPastEnd(field: .value(key: "k"), at: lengthAt, declared: 100, available: 2))
        var d = start(entries: 1)
        d.string("flag"); d.u32(7); let boolAt = d.bytes.count; d.u8(2)
        #expect(refusal(d) == .invalidBool(field: .value(key: "flag"), at: boolAt, byte: 2))
        var e = start(entries: 1)
        e.string("n"); e.u32(10); e.data(7)
        #expect(refusal(e) == .truncated(field: .value(key: "n"), at: 37, needed: 8, available: 7))
    }

    @Test("array counts near 2^64, unknown item types, items past the end, BOOL items, nesting")
    func arrays() {
        var b = start(entries: 1)
        b.string("a"); b.u32(9); b.u32(8); let countAt = b.bytes.count; b.u64(.max); b.data(16)
        #expect(refusal(b) == .countTooLarge(field: .value(key: "a"), at: countAt, declared: .max, bytesPerItem: 8, available: 16))
        var c = start(entries: 1)
        c.string("a"); c.u32(9); let itemTypeAt = c.bytes.count; c.u32(99); c.u64(1); c.data(8)
        #expect(refusal(c) == .unknownValueType(field: .value(key: "a"), at: itemTypeAt, raw: 99))
        var d = start(entries: 1)
        d.string("tokens"); d.u32(9); d.u32(8); d.u64(3); d.string("x"); d.string("y"); let thirdAt = d.bytes.count
        d.string(declaring: 50, [1]); d.data(30)
        #expect(refusal(d) == .lengthPastEnd(field: .item(key: "tokens", index: 2), at: thirdAt, declared: 50, available: 31))
        var e = start(entries: 1)
        e.string("flags"); e.u32(9); e.u32(7); e.u64(3); let itemsAt = e.bytes.count; e.bytes += [1, 0, 5]
        #expect(refusal(e) == .invalidBool(field: .item(key: "flags", index: 2), at: itemsAt + 2, byte: 5))
        var f = start(entries: 1)
        f.string("deep"); f.u32(9)
        for _ in 0..<9 { f.u32(9); f.u64(1) }  // arrays of arrays, nine deep
        f.u32(4); f.u64(0)
        if case .nestingTooDeep(field: .item(key: "deep", index: 0), _, limit: 8)? = refusal(f) {} else {
            Issue.record("expected nestingTooDeep, got \(String(describing: refusal(f)))")
        }
        var g = start(entries: 1)
        g.string("deep"); g.u32(9)
        for _ in 0..<7 { g.u32(9); g.u64(1) }
        g.u32(4); g.u64(1); g.u32(7)
        #expect((try? parse(g))?.metadata.count == 1, "eight levels are allowed")
    }

    @Test("a key given twice names both places")
    func duplicateKey() {
        var b = start(entries: 2)
        b.entry("general.name", string: "a")
        let second = b.bytes.count
        b.entry("general.name", string: "b")
        #expect(refusal(b) == .duplicateKey("general.name", at: second, firstAt: 24))
    }

    @Test("general.alignment must be a UINT32 power of two", arguments: [UInt32(0), 3, 48, 0x8000_0001])
    func badAlignment(value: UInt32) {
        var b = start(entries: 1)
        b.entry("general.alignment", uint32: value)
        #expect(refusal(b) == .alignmentValue(value))
    }

    @Test("general.alignment of another type is refused")
    func alignmentType() {
        var b = start(entries: 1)
        b.entry("general.alignment", string: "32")
        #expect(refusal(b) == .alignmentType(found: .string))
    }

    // MARK: - Tensor infos

    @Test("tensor names not UTF-8, or given twice")
    func tensorNames() {
        var b = start(tensors: 1)
        b.string(declaring: 1, [0xC0]); b.u32(1); b.u64(4); b.u32(0); b.u64(0)
        #expect(refusal(b) == .invalidUTF8(field: .tensorName(index: 0), at: 32))
        var c = start(tensors: 2)
        c.tensor("w", dimensions: [4], type: 0, offset: 0)
        let second = c.bytes.count
        c.tensor("w", dimensions: [4], type: 0, offset: 32)
        c.pad(); c.data(64)
        #expect(refusal(c) == .duplicateTensorName("w", at: second))
    }

    @Test("a dimension count over the limit is refused before the dimensions are read", arguments: [UInt32(65), .max])
    func rank(count: UInt32) {
        var b = start(tensors: 1)
        b.string("t"); let rankAt = b.bytes.count; b.u32(count); b.data(20)
        #expect(refusal(b) == .tooManyDimensions(tensor: "t", at: rankAt, declared: count, limit: 64))
    }

    @Test("unknown ggml types", arguments: [UInt32(4), 5, 31, 36, 42, 1000])
    func unknownType(raw: UInt32) {
        var b = start(tensors: 1)
        b.string("t"); b.u32(1); b.u64(32); let typeAt = b.bytes.count; b.u32(raw); b.u64(0)
        #expect(refusal(b) == .unknownGGMLType(tensor: "t", at: typeAt, raw: raw))
    }

    @Test("dimension products that overflow, also behind a zero dimension")
    func overflow() {
        var b = start(tensors: 1)
        b.tensor("t", dimensions: [1 << 32, 1 << 32], type: 0, offset: 0)
        #expect(refusal(b) == .sizeOverflow(tensor: "t", dimensions: [1 << 32, 1 << 32], type: .f32))
        var c = start(tensors: 1)
        c.tensor("t", dimensions: [0, 1 << 62, 1 << 62], type: 0, offset: 0)
        #expect(refusal(c) == .sizeOverflow(tensor: "t", dimensions: [0, 1 << 62, 1 << 62], type: .f32))
        var d = start(tensors: 1)
        d.tensor("t", dimensions: [1 << 62, 4], type: 0, offset: 0)  // elements fit, bytes do not
        #expect(refusal(d) == .sizeOverflow(tensor: "t", dimensions: [1 << 62, 4], type: .f32))
    }

    @Test("rows that are not whole blocks")
    func partialBlocks() {
        var b = start(tensors: 1)
        b.tensor("q", dimensions: [33, 2], type: 2, offset: 0)
        #expect(refusal(b) == .rowNotWholeBlocks(tensor: "q", type: .q4_0, rowLength: 33))
        var c = start(tensors: 1)
        c.tensor("scalar", dimensions: [], type: 12, offset: 0)
        #expect(refusal(c) == .rowNotWholeBlocks(tensor: "scalar", type: .q4_K, rowLength: 1))
    }

    @Test("misaligned, out-of-file and overlapping tensor data")
    func placement() {
        var b = start(tensors: 1)
        b.tensor("t", dimensions: [4], type: 0, offset: 4)
        b.pad(); b.data(64)
        #expect(refusal(b) == .misalignedOffset(tensor: "t", offset: 4, alignment: 32))
        var c = start(tensors: 1)
        c.tensor("t", dimensions: [16], type: 0, offset: 0)
        c.pad(); let dataStart = c.bytes.count; c.data(60)
        #expect(refusal(c) == .tensorPastEnd(tensor: "t", start: UInt64(dataStart), byteCount: 64, fileSize: dataStart + 60))
        var d = start(tensors: 1)
        d.tensor("t", dimensions: [1], type: 0, offset: UInt64.max - 31)
        d.pad(); d.data(32)
        #expect(refusal(d) == .tensorPastEnd(tensor: "t", start: .max, byteCount: 4, fileSize: d.bytes.count))
        var e = start(tensors: 2)
        e.tensor("a", dimensions: [16], type: 0, offset: 0)
        e.tensor("b", dimensions: [8], type: 0, offset: 32)
        e.pad(); let overlapStart = e.bytes.count; e.data(128)
        #expect(refusal(e) == .tensorsOverlap(tensor: "b", other: "a", at: overlapStart + 32))
        var f = start(tensors: 2)
        f.tensor("a", dimensions: [8], type: 0, offset: 32)
        f.tensor("alias", dimensions: [8], type: 0, offset: 32)
        f.pad(); f.data(128)
        #expect(refusal(f) == .tensorsOverlap(tensor: "alias", other: "a", at: f.bytes.count - 128 + 32))
    }

    @Test("tensors past the end are listed, not refused, when truncation is allowed")
    func truncation() throws {
        var b = start(tensors: 2)
        b.tensor("kept", dimensions: [8], type: 0, offset: 0)
        b.tensor("lost", dimensions: [8], type: 0, offset: 32)
        b.pad(); b.data(40)
        let header = try b.bytes.withUnsafeBytes { try GGUFHeader.parse(file: $0, allowingTruncation: true) }
        #expect(header.truncatedTensors == [1])
        #expect(refusal(b) == .tensorPastEnd(tensor: "lost", start: UInt64(b.bytes.count - 8), byteCount: 32, fileSize: b.bytes.count))
    }

    @Test("the rank limit can be lowered and raised")
    func rankLimit() {
        var b = start(tensors: 1)
        b.tensor("t", dimensions: [1, 1, 1], type: 0, offset: 0)
        b.pad(); b.data(32)
        #expect(refusal(b, maxTensorRank: 2) == .tooManyDimensions(tensor: "t", at: 33, declared: 3, limit: 2))
        #expect(refusal(b, maxTensorRank: 3) == nil)
    }

    @Test("every prefix of a real file is refused cleanly, never trapped")
    func prefixes() throws {
        let bytes = try Fixture.bytes("gguf/tiny_llama.gguf")
        let header = try bytes.withUnsafeBytes { try GGUFHeader.parse(file: $0) }
        for length in stride(from: 0, to: header.dataStart, by: 7) {
            #expect(refusal(GGUFBytes(bytes: Array(bytes.prefix(length)))) != nil, "prefix of \(length) bytes")
        }
    }
}

extension GGUFBytes {
    init(bytes: [UInt8]) {
        self.init()
        self.bytes = bytes
    }
}
