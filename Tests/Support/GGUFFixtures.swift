import Foundation

/// What gguf-py read back from a GGUF fixture (`Fixtures/gguf/<name>.json`, written by
/// `Fixtures/generate_gguf.py`).
public struct ExpectedGGUF: Decodable {
    /// One metadata value, exactly: integers as decimal text, floats as bit patterns, strings as
    /// UTF-8 hex, arrays item by item.
    public final class Value: Decodable {
        public let type: String
        public let text: String?
        public let bits: String?
        public let hex: String?
        public let value: Bool?
        public let item_type: String?
        public let items: [Value]?
    }

    /// One metadata entry.
    public struct Entry: Decodable {
        public let key: String
        public let type: String
        public let text: String?
        public let bits: String?
        public let hex: String?
        public let value: Bool?
        public let item_type: String?
        public let items: [Value]?
    }

    /// Dequantized values as gguf-py computes them.
    public struct Dequantized: Decodable {
        public let reference: String
        public let sha256: String
        public let first_bits: [String]
    }

    /// Plain integer or F64 values, as stored.
    public struct Plain: Decodable {
        public let read_as: String
        public let sha256: String
    }

    /// One tensor.
    public struct Tensor: Decodable {
        public let name: String
        public let ggml_type: String
        public let shape: [Int]
        public let gguf_dimensions: [Int]
        public let offset: Int
        public let nbytes: Int
        public let numel: Int
        public let stored_sha256: String
        public let dequantized: Dequantized?
        public let values: Plain?
    }

    public let file: String
    public let version: Int
    public let alignment: Int
    public let data_offset: Int
    public let file_bytes: Int
    public let metadata: [Entry]
    public let tensors: [Tensor]
    /// types.gguf only: gguf-py's ggml types as name → [value, block elements, block bytes].
    public let ggml_types: [String: [Int]]?
    /// types.gguf only: gguf-py's value types as name → value.
    public let value_types: [String: Int]?

    /// Loads `Fixtures/gguf/<name>.json`.
    public static func load(_ name: String) throws -> ExpectedGGUF {
        try JSONDecoder().decode(ExpectedGGUF.self, from: Data(contentsOf: Fixture.url("gguf/" + name + ".json")))
    }
}

/// A GGUF file built byte by byte, for hostile-input tests: every field can be given any value,
/// and `offset(of:)`-style bookkeeping is left to the test (`bytes.count` before a field is its
/// offset). Layout: docs/formats.md, "GGUF".
public struct GGUFBytes {
    public var bytes: [UInt8] = []

    public init() {}

    /// Magic, version, tensor count, metadata count.
    public static func header(version: UInt32 = 3, tensors: UInt64, entries: UInt64, magic: [UInt8] = Array("GGUF".utf8)) -> GGUFBytes {
        var b = GGUFBytes()
        b.bytes += magic
        b.u32(version)
        b.u64(tensors)
        b.u64(entries)
        return b
    }

    public mutating func u8(_ v: UInt8) { bytes.append(v) }
    public mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
    public mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }

    /// A string: u64 length, then the bytes.
    public mutating func string(_ text: String) { u64(UInt64(text.utf8.count)); bytes += Array(text.utf8) }

    /// A string whose declared length is `length`, followed by `payload` (which may be shorter).
    public mutating func string(declaring length: UInt64, _ payload: [UInt8] = []) { u64(length); bytes += payload }

    /// A key and a UINT32 value.
    public mutating func entry(_ key: String, uint32 value: UInt32) { string(key); u32(4); u32(value) }

    /// A key and a STRING value.
    public mutating func entry(_ key: String, string value: String) { string(key); u32(8); string(value) }

    /// A tensor info: name, dimensions (GGUF order, innermost first), ggml type, offset.
    public mutating func tensor(_ name: String, dimensions: [UInt64], type: UInt32, offset: UInt64) {
        string(name)
        u32(UInt32(dimensions.count))
        for d in dimensions { u64(d) }
        u32(type)
        u64(offset)
    }

    /// Zero bytes up to a multiple of `alignment`.
    public mutating func pad(to alignment: Int = 32) {
        while bytes.count % alignment != 0 { bytes.append(0) }
    }

    /// `count` bytes of `value`.
    public mutating func data(_ count: Int, value: UInt8 = 0) { bytes += [UInt8](repeating: value, count: count) }
}
