import BinaryIO
import Foundation
import ModelFormats
import TensorData
import Testing
import TestSupport
import ZipFormat

/// Hostile `.npy` and `.npz` files built byte by byte: each is refused with one exact line naming
/// the member and byte offset, before anything the header declares is allocated.
@Suite("NumPy hostile input")
struct NumPyHostileInputTests {
    /// The header numpy writes for `(3,)` float32: `{` at byte 10, `'<f4'` at 20, `(` at 60.
    static let header = NPY.dict(descr: "<f4", shape: "(3,)")
    static let data = float32Bytes([1, 2, 3])

    /// Opens `bytes` as a file named `name` and returns the refusal's text.
    func refusal(_ bytes: [UInt8], name: String = "hostile.npy", sourceLocation: SourceLocation = #_sourceLocation) throws -> String? {
        let path = try writeTemporaryFile(bytes, name: name)
        let error = #expect(throws: NumPyError.self, sourceLocation: sourceLocation) { try NumPyFile(path: path) }
        return error?.description
    }

    /// The refusal of a `.npy` whose header text is `header`.
    func headerRefusal(_ header: String, data: [UInt8] = data, major: UInt8 = 1, sourceLocation: SourceLocation = #_sourceLocation) throws -> String? {
        try refusal(NPY.file(header, data: data, major: major), sourceLocation: sourceLocation)
    }

    @Test("the well-formed baseline reads")
    func baseline() throws {
        let path = try writeTemporaryFile(NPY.file(Self.header, data: Self.data), name: "w.npy")
        let file = try NumPyFile(path: path)
        #expect(file.entries == [TensorEntry(name: "w", dtype: .f32, shape: [3])])
        #expect(try file.tensor(at: 0).bytes.values(as: Float.self) == [1, 2, 3])
    }

    // MARK: Preamble

    @Test("every tensor read charges the read budget: the third read of a 4 KiB array is refused with the limit named")
    func readBudget() throws {
        let values = [Float](repeating: 1, count: 1024)
        let bytes = NPY.file(NPY.dict(descr: "<f4", shape: "(1024,)"), data: float32Bytes(values))
        let path = try writeTemporaryFile(bytes, name: "w.npy")
        var options = ReadOptions()
        options.maxMaterializedBytes = 0
        let file = try NumPyFile(path: path, options: options)
        #expect(file.readBudget.allowance == 2 * bytes.count)
        _ = try file.tensor(at: 0)
        _ = try file.tensor(at: 0)
        let error = #expect(throws: ReadBudgetExceeded.self) { try file.tensor(at: 0) }
        #expect(error?.description == "tensor \"w\" needs 4096 bytes, over the read budget of \(2 * bytes.count) bytes (limit maxMaterializedBytes = 0, "
                + "plus twice the file's \(bytes.count) bytes; 8192 already materialised)")
        #expect(error?.exceededLimit == ExceededLimit(name: "maxMaterializedBytes", value: 0))
    }

    @Test("preamble: too short, wrong magic, unknown versions, lying header lengths")
    func preamble() throws {
        #expect(try refusal(NPY.magic + [1, 0]) == "at byte 0: 8 bytes; a .npy file starts with 10 bytes of magic, version and header length")
        #expect(try refusal(NPY.magic + [2, 0, 0x10, 0, 0]) == "at byte 0: 11 bytes; a .npy file starts with 12 bytes of magic, version and header length")
        var wrong = NPY.file(Self.header, data: Self.data)
        wrong[5] = UInt8(ascii: "z")
        let parsed = #expect(throws: NumPyError.self) { try wrong.withUnsafeBytes { try NumPyHeader.parse($0, maxRank: 64) } }
        #expect(parsed?.description == "at byte 0: starts with 93 4e 55 4d 50 7a; expected the .npy magic 93 4e 55 4d 50 59 (0x93, then NUMPY)")
        var future = NPY.file(Self.header, data: Self.data)
        future[6] = 4
        #expect(try refusal(future) == "at byte 6: format version 4.0; expected 1.0, 2.0 or 3.0")
        future[6] = 1
        future[7] = 1
        #expect(try refusal(future) == "at byte 6: format version 1.1; expected 1.0, 2.0 or 3.0")
        #expect(try refusal(NPY.raw(major: 1, length: 200, header: Array(Self.header.utf8))) ==
            "at byte 8: header length 200 runs past the end (57 bytes follow the length)")
        // A 4 GiB header length is refused from the length field alone, before anything is read.
        #expect(try refusal(NPY.raw(major: 2, length: 0xFFFF_FFFF, header: Array(Self.header.utf8))) ==
            "at byte 8: header length 4294967295 exceeds numpy's limit of 10000 bytes")
        #expect(try refusal(NPY.raw(major: 1, length: 10_001, header: [])) == "at byte 8: header length 10001 exceeds numpy's limit of 10000 bytes")
    }

    @Test("a version 3.0 header must be UTF-8; the L suffix is Python 2's, so not in 3.0")
    func version3() throws {
        var text = Array(NPY.dict(descr: "<f4", shape: "(3,)").utf8)
        text.insert(0xFF, at: 14)
        let padding = 64 - (12 + text.count + 1) % 64
        let body = text + [UInt8](repeating: 0x20, count: padding) + [0x0A]
        #expect(try refusal(NPY.raw(major: 3, length: UInt32(body.count), header: body, data: Self.data)) ==
            "at byte 26: a version 3.0 header that is not valid UTF-8")
        #expect(try headerRefusal(NPY.dict(descr: "<f4", shape: "(3L,)"), major: 3) ==
            "at byte 64: header: expected ',' or ')' after the digits, found 'L'")
        let python2 = try writeTemporaryFile(NPY.file(NPY.dict(descr: "<f4", shape: "(3L,)"), data: Self.data), name: "p.npy")
        #expect(try NumPyFile(path: python2).entries[0].shape == [3])
    }

    // MARK: The header literal

    @Test("syntax: only the Python literal numpy writes")
    func syntax() throws {
        #expect(try headerRefusal("['descr']") == "at byte 10: header: expected '{' (a dict), found '['")
        #expect(try headerRefusal("{\"descr\": \"<f4\", \"fortran_order\": false, \"shape\": [3]}") ==
            "at byte 44: header: expected a value, found 'f'")
        #expect(try headerRefusal("{'descr': '\\x3cf4', 'fortran_order': False, 'shape': (3,), }") ==
            "at byte 21: header: expected the closing quote (escape sequences are not part of the header numpy writes), found '\\'")
        #expect(try headerRefusal("{'descr': '<f\n4', 'fortran_order': False, 'shape': (3,), }") ==
            "at byte 23: header: expected the closing quote, found byte 0x0a")
        #expect(try headerRefusal(Self.header + " x") == "at byte 68: header: expected the end of the header (spaces and a newline after '}'), found 'x'")
        #expect(try headerRefusal(NPY.dict(descr: "<f4", shape: "(3.0,)")) == "at byte 62: header: expected ',' or ')' after the digits, found '.'")
        #expect(try headerRefusal(NPY.dict(descr: "<f4", shape: "(03,)")) ==
            "at byte 62: header: expected ',' or ')' (Python forbids leading zeros), found '3'")
        #expect(try headerRefusal("{'descr': '<f4' 'fortran_order': False, 'shape': (3,), }") == "at byte 26: header: expected ',' or '}', found '''")
        #expect(try headerRefusal("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), ") == "at byte 128: header: expected a value, found the end of the header")
        let nested = "{'descr': " + String(repeating: "[", count: 40) + String(repeating: "]", count: 40) + ", 'fortran_order': False, 'shape': (3,), }"
        #expect(try headerRefusal(nested) == "at byte 51: header: lists and tuples nest deeper than 32 levels")
    }

    @Test("a NUL byte in the padding is refused where it is")
    func nulPadding() throws {
        let text = Array(Self.header.utf8)
        let padding = 64 - (10 + text.count + 1) % 64
        let body = text + [UInt8](repeating: 0, count: padding) + [0x0A]
        #expect(try refusal(NPY.raw(major: 1, length: UInt32(body.count), header: body, data: Self.data)) ==
            "at byte 67: header: expected the end of the header (spaces and a newline after '}'), found byte 0x00")
    }

    @Test("keys: exactly descr, fortran_order and shape, once each")
    func keys() throws {
        #expect(try headerRefusal("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), 'extra': 1, }") ==
            "at byte 66: header key 'extra'; expected exactly 'descr', 'fortran_order' and 'shape'")
        #expect(try headerRefusal("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (3,), }") ==
            "at byte 27: header key 'descr' appears twice")
        #expect(try headerRefusal("{'descr': '<f4', 'fortran_order': False, }") ==
            "at byte 10: header has no 'shape'; expected 'descr', 'fortran_order' and 'shape'")
        #expect(try headerRefusal("{3: '<f4', 'fortran_order': False, 'shape': (3,), }") == "at byte 11: 'key' is an int; expected a string")
    }

    @Test("values: fortran_order a bool, shape a tuple of non-negative ints that fit, rank within the limit")
    func values() throws {
        #expect(try headerRefusal("{'descr': '<f4', 'fortran_order': 0, 'shape': (3,), }") == "at byte 44: 'fortran_order' is an int; expected True or False")
        #expect(try headerRefusal(NPY.dict(descr: "<f4", shape: "[3]")) == "at byte 60: 'shape' is a list; expected a tuple of ints")
        #expect(try headerRefusal(NPY.dict(descr: "<f4", shape: "(3)")) == "at byte 61: 'shape' is an int; expected a tuple of ints")
        #expect(try headerRefusal(NPY.dict(descr: "<f4", shape: "(True,)")) == "at byte 61: 'shape' is a tuple holding True; expected a tuple of ints")
        #expect(try headerRefusal(NPY.dict(descr: "<f4", shape: "(-3,)")) == "at byte 61: shape dimension -3 is negative")
        #expect(try headerRefusal(NPY.dict(descr: "<f4", shape: "(18446744073709551616,)")) ==
            "at byte 61: shape dimension 18446744073709551616 does not fit in 64 bits")
        let rank65 = "(" + String(repeating: "1, ", count: 65) + ")"
        #expect(try headerRefusal(NPY.dict(descr: "<f4", shape: rank65)) == "at byte 60: shape has 65 dimensions, over the limit of 64 (limit maxTensorRank)")
    }

    @Test("descr: unknown codes, missing byte orders, composite dtypes, objects")
    func descr() throws {
        let unknown = "is not a NumPy dtype; expected a byte order (<, >, |, =), a type code and a size, such as '<f4'"
        #expect(try headerRefusal(NPY.dict(descr: "<f3", shape: "(3,)")) == "at byte 20: descr '<f3' \(unknown)")
        #expect(try headerRefusal(NPY.dict(descr: "f4", shape: "(3,)")) == "at byte 20: descr 'f4' \(unknown)")
        #expect(try headerRefusal(NPY.dict(descr: "<f04", shape: "(3,)")) == "at byte 20: descr '<f04' \(unknown)")
        #expect(try headerRefusal("{'descr': 4, 'fortran_order': False, 'shape': (3,), }") == "at byte 20: 'descr' is an int; expected a dtype string such as '<f4'")
        #expect(try headerRefusal("{'descr': ('<f4', (2,)), 'fortran_order': False, 'shape': (3,), }") ==
            "at byte 20: descr is a (dtype, shape) tuple: a subarray dtype, which modelfile does not read")
        #expect(try headerRefusal("{'descr': [('a', '<f4'), ('O', '<i2')], 'fortran_order': False, 'shape': (3,), }") ==
            "at byte 20: descr is a list of fields: a structured dtype, which modelfile does not read")
        #expect(try headerRefusal("{'descr': [('a', '<f4'), ('b', [('c', '|O')])], 'fortran_order': False, 'shape': (3,), }") ==
            "at byte 20: an object array (descr '[…]'): its data is a pickle, which modelfile never loads (modelfile scan lists what it imports)")
        #expect(try headerRefusal(NPY.dict(descr: "<O8", shape: "(3,)")) ==
            "at byte 20: an object array (descr '<O8'): its data is a pickle, which modelfile never loads (modelfile scan lists what it imports)")
    }

    // MARK: Sizes

    @Test("the data must be exactly shape × item size; overflowing shapes are refused before allocating")
    func sizes() throws {
        #expect(try headerRefusal(Self.header, data: float32Bytes([1, 2])) ==
            "at byte 128: shape (3,) of '<f4' needs 12 bytes of data; 8 are present (truncated?)")
        #expect(try headerRefusal(Self.header, data: float32Bytes([1, 2, 3, 4])) ==
            "at byte 128: shape (3,) of '<f4' needs 12 bytes of data; 16 are present (4 extra bytes after the array)")
        #expect(try headerRefusal(NPY.dict(descr: "<f8", shape: "(4294967296, 4294967296, 4)")) ==
            "at byte 128: shape (4294967296, 4294967296, 4) of '<f8' overflows 64 bits")
        #expect(try headerRefusal(NPY.dict(descr: "<c16", shape: "(1152921504606846976,)")) ==
            "at byte 128: shape (1152921504606846976,) of '<c16' overflows 64 bits")
        // Claims 2^40 float64 elements over 12 bytes: refused from the header, nothing allocated.
        #expect(try headerRefusal(NPY.dict(descr: "<f8", shape: "(1099511627776,)")) ==
            "at byte 128: shape (1099511627776,) of '<f8' needs 8796093022208 bytes of data; 12 are present (truncated?)")
    }

    // MARK: Archives

    /// A `.npy` member holding `(3,)` float32.
    static let member = NPY.file(header, data: data)

    @Test("an .npz holds only .npy members, each checked and named in the refusal")
    func members() throws {
        let extra = TorchZip(records: [.init("w.npy", Self.member), .init("notes.txt", Array("hi".utf8))])
        #expect(try refusal(extra.bytes, name: "a.npz") == "member \"notes.txt\": is not a .npy array; an .npz holds only .npy members")
        let bad = TorchZip(records: [.init("w.npy", Self.member), .init("b.npy", NPY.file(NPY.dict(descr: "<f4", shape: "(3)"), data: Self.data))])
        #expect(try refusal(bad.bytes, name: "a.npz") == "member \"b.npy\" at byte 61: 'shape' is an int; expected a tuple of ints")
        let short = TorchZip(records: [.init("w.npy", Array(Self.member.dropLast(4)))])
        #expect(try refusal(short.bytes, name: "a.npz") ==
            "member \"w.npy\" at byte 128: shape (3,) of '<f4' needs 12 bytes of data; 8 are present (truncated?)")
        let notNpy = TorchZip(records: [.init("w.npy", Array("PK not an array".utf8))])
        #expect(try refusal(notNpy.bytes, name: "a.npz") ==
            "member \"w.npy\" at byte 0: starts with 50 4b 20 6e 6f 74; expected the .npy magic 93 4e 55 4d 50 59 (0x93, then NUMPY)")
    }

    @Test("a deflated member that declares more than its header needs is refused before its data is inflated")
    func deflatedSizeMismatch() throws {
        let declared = 1 << 20
        let stream = Deflate.run(prefix: Self.member, of: 0, count: declared - Self.member.count)
        let zip = TorchZip(records: [.init("w.npy", Self.member + [UInt8](repeating: 0, count: declared - Self.member.count), deflated: stream)])
        #expect(try refusal(zip.bytes, name: "a.npz") ==
            "member \"w.npy\" at byte 128: shape (3,) of '<f4' needs 12 bytes of data; 1048448 are present (1048436 extra bytes after the array)")
    }

    @Test("deflated members: headers from a partial inflate, data inflated and CRC-checked when read")
    func deflatedMembers() throws {
        let stream = Deflate.run(prefix: Self.member, of: 0, count: 0)
        let zip = TorchZip(records: [.init("w.npy", Self.member, deflated: stream)])
        let path = try writeTemporaryFile(zip.bytes, name: "d.npz")
        let file = try NumPyFile(path: path)
        #expect(file.entries == [TensorEntry(name: "w", dtype: .f32, shape: [3])])
        #expect(try file.tensor(at: 0).bytes.values(as: Float.self) == [1, 2, 3])

        var corrupt = TorchZip(records: [.init("w.npy", Self.member, deflated: [0xFF, 0xFF, 0xFF, 0xFF])])
        let offset = corrupt.layout().dataOffsets[0]
        #expect(try refusal(corrupt.bytes, name: "c.npz") == "entry \"w.npy\": deflate stream at byte \(offset) is corrupt: invalid block type")
        corrupt.records[0].deflated = Array(stream.prefix(20))
        #expect(try refusal(corrupt.bytes, name: "c.npz") ==
            "\(ZipError.deflateStreamTruncated(entry: "w.npy", dataOffset: offset, compressedByteCount: 20))")
    }

    @Test("a stored member whose bytes do not match its CRC is refused when read")
    func crcMismatch() throws {
        var zip = TorchZip(records: [.init("w.npy", Self.member)])
        zip.records[0].crc = 0x1234_5678
        let path = try writeTemporaryFile(zip.bytes, name: "crc.npz")
        let file = try NumPyFile(path: path)
        let error = #expect(throws: NumPyError.self) { try file.tensor(at: 0) }
        let found = CRC32Table.checksum(Self.member)
        #expect(error?.description == "\(ZipError.crcMismatch(entry: "w.npy", dataOffset: zip.layout().dataOffsets[0], expected: 0x1234_5678, found: found))")
        #expect(error?.member == "w.npy")
    }

    @Test("hostile zips are refused as strictly as torch archives")
    func hostileZips() throws {
        let duplicate = TorchZip(records: [.init("w.npy", Self.member), .init("w.npy", Self.member)])
        let layout = duplicate.layout()
        #expect(try refusal(duplicate.bytes, name: "dup.npz") ==
            "entry \"w.npy\": header at byte \(layout.centralOffsets[1]) repeats the name of the header at byte \(layout.centralOffsets[0]); expected unique names")
        let escape = TorchZip(records: [.init("w.npy", Self.member), .init("../evil.npy", Self.member)])
        #expect(try refusal(escape.bytes, name: "esc.npz") ==
            "\(ZipError.invalidEntryName(name: "../evil.npy", offset: escape.layout().centralOffsets[1], problem: .parentDirectoryComponent))")
        let trailing = TorchZip(records: [.init("w.npy", Self.member)]).bytes + [0]
        #expect(try refusal(trailing, name: "trail.npz") == "\(ZipError.endRecordNotFound(fileSize: trailing.count))")
    }

    @Test("names: a .npy is named after its file's stem, an .npz member after its name without .npy")
    func names() throws {
        let dotted = try writeTemporaryFile(NPY.file(Self.header, data: Self.data), name: "layer.0.weight.npy")
        #expect(try NumPyFile(path: dotted).entries[0].name == "layer.0.weight")
        let bare = try writeTemporaryFile(NPY.file(Self.header, data: Self.data), name: "weights")
        #expect(try NumPyFile(path: bare).entries[0].name == "weights")
        let zip = TorchZip(records: [.init("enc/w.npy", Self.member), .init(".npy", Self.member)])
        let path = try writeTemporaryFile(zip.bytes, name: "n.npz")
        #expect(try NumPyFile(path: path).entries.map(\.name) == ["enc/w", ""])
    }
}
