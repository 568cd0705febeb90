import Foundation

// Byte builders for hostile PyTorch files: a tiny pickle assembler, a zip writer that can break
// any field, a raw-deflate encoder for long runs, and the legacy stream. Everything is built from
// bytes here (no PickleVM, no ZipFormat), so each test shows its attack and the code under test
// is never used to make its own input. Layouts: pickletools (opcode bytes), PKWARE APPNOTE.TXT
// (zip records), RFC 1951 §3.2.6 (fixed Huffman codes), docs/formats.md ("Torch zip archives", "Legacy torch files").

// MARK: - Pickle

/// A pickle assembler: each function returns the bytes of one instruction (or a small group), so
/// a test concatenates them and finds an opcode's offset with `prefix.count`.
public enum P {
    /// `PROTO 2`, as `torch.save` writes.
    public static let proto2: [UInt8] = [0x80, 0x02]
    public static let stop: [UInt8] = [0x2E]
    public static let mark: [UInt8] = [0x28]
    public static let none: [UInt8] = [0x4E]
    public static let newTrue: [UInt8] = [0x88]
    public static let newFalse: [UInt8] = [0x89]
    public static let emptyTuple: [UInt8] = [0x29]
    public static let emptyList: [UInt8] = [0x5D]
    public static let emptyDict: [UInt8] = [0x7D]
    public static let tupleMark: [UInt8] = [0x74]
    public static let tuple1: [UInt8] = [0x85]
    public static let tuple2: [UInt8] = [0x86]
    public static let tuple3: [UInt8] = [0x87]
    public static let append: [UInt8] = [0x61]
    public static let appends: [UInt8] = [0x65]
    public static let setItem: [UInt8] = [0x73]
    public static let setItems: [UInt8] = [0x75]
    public static let reduce: [UInt8] = [0x52]
    public static let build: [UInt8] = [0x62]
    public static let newObject: [UInt8] = [0x81]
    public static let newObjectEx: [UInt8] = [0x92]
    public static let binaryPersistentID: [UInt8] = [0x51]
    public static let stackGlobal: [UInt8] = [0x93]
    public static let frame: [UInt8] = [0x95]

    /// `PROTO 2`, `body`, `STOP`.
    public static func pickle(_ body: [UInt8]) -> [UInt8] { proto2 + body + stop }

    /// `GLOBAL module\nname\n`.
    public static func global(_ module: String, _ name: String) -> [UInt8] {
        [0x63] + Array(module.utf8) + [0x0A] + Array(name.utf8) + [0x0A]
    }

    /// `INST module\nname\n` (protocol 0: calls the class with the items since MARK).
    public static func inst(_ module: String, _ name: String) -> [UInt8] {
        [0x69] + Array(module.utf8) + [0x0A] + Array(name.utf8) + [0x0A]
    }

    /// `OBJ` (protocol 1: calls the first item since MARK with the rest).
    public static let object: [UInt8] = [0x6F]
    /// `PERSID id\n` (protocol 0 text persistent id).
    public static func textPersistentID(_ id: String) -> [UInt8] { [0x50] + Array(id.utf8) + [0x0A] }
    public static func ext1(_ code: UInt8) -> [UInt8] { [0x82, code] }
    public static func ext2(_ code: UInt16) -> [UInt8] { [0x83] + le(code) }
    public static func ext4(_ code: UInt32) -> [UInt8] { [0x84] + le(code) }

    /// `BINUNICODE`: u32 length + UTF-8.
    public static func string(_ text: String) -> [UInt8] {
        let utf8 = Array(text.utf8)
        return [0x58] + le(UInt32(utf8.count)) + utf8
    }

    /// `BINUNICODE` declaring `length` bytes, followed by `payload` (which may be shorter).
    public static func string(declaring length: UInt32, _ payload: [UInt8] = []) -> [UInt8] {
        [0x58] + le(length) + payload
    }

    /// `SHORT_BINUNICODE`, protocol 4 (used by STACK_GLOBAL pickles).
    public static func shortString(_ text: String) -> [UInt8] {
        let utf8 = Array(text.utf8)
        return [0x8C, UInt8(utf8.count)] + utf8
    }

    /// An int the way Python's pickler writes it: BININT1, BININT2, BININT, else LONG1.
    public static func int(_ value: Int64) -> [UInt8] {
        switch value {
        case 0...0xFF: return [0x4B, UInt8(value)]
        case 0x100...0xFFFF: return [0x4D] + le(UInt16(value))
        case Int64(Int32.min)...Int64(Int32.max): return [0x4A] + le(Int32(value))
        default: return long1(value)
        }
    }

    /// `LONG1`: the shortest two's-complement little-endian encoding of `value`.
    public static func long1(_ value: Int64) -> [UInt8] {
        var bytes = le(value)
        while bytes.count > 1 {
            let last = bytes[bytes.count - 1], previous = bytes[bytes.count - 2]
            if (last == 0 && previous & 0x80 == 0) || (last == 0xFF && previous & 0x80 != 0) { bytes.removeLast() } else { break }
        }
        return [0x8A, UInt8(bytes.count)] + bytes
    }

    public static func put(_ index: UInt8) -> [UInt8] { [0x71, index] }
    public static func get(_ index: UInt8) -> [UInt8] { [0x68, index] }
    public static func longPut(_ index: UInt32) -> [UInt8] { [0x72] + le(index) }
    public static func longGet(_ index: UInt32) -> [UInt8] { [0x6A] + le(index) }

    /// A tuple of the given items (`EMPTY_TUPLE`, `TUPLE1…3`, or `MARK … TUPLE`).
    public static func tuple(_ items: [[UInt8]]) -> [UInt8] {
        switch items.count {
        case 0: return emptyTuple
        case 1: return items[0] + tuple1
        case 2: return items[0] + items[1] + tuple2
        case 3: return items[0] + items[1] + items[2] + tuple3
        default: return mark + items.joined() + tupleMark
        }
    }

    /// `BINFLOAT`: a float64, big-endian (NaN, infinities and 1e300 included).
    public static func float(_ value: Double) -> [UInt8] { [0x47] + withUnsafeBytes(of: value.bitPattern.bigEndian) { Array($0) } }

    /// `LONG1` of the little-endian two's-complement `bytes` (for integers beyond 64 bits).
    public static func long1(bytes: [UInt8]) -> [UInt8] { [0x8A, UInt8(bytes.count)] + bytes }

    /// `{key: value, …}` with int keys (`EMPTY_DICT`, `MARK`, pairs, `SETITEMS`).
    public static func intKeyedDict(_ pairs: [(Int64, [UInt8])]) -> [UInt8] {
        emptyDict + (pairs.isEmpty ? [] : mark + pairs.flatMap { int($0.0) + $0.1 } + setItems)
    }

    /// A list of the given items (`EMPTY_LIST`, `MARK`, items, `APPENDS`).
    public static func list(_ items: [[UInt8]]) -> [UInt8] {
        emptyList + (items.isEmpty ? [] : mark + items.joined() + appends)
    }

    /// A tuple of ints (a torch size or stride).
    public static func ints(_ values: [Int64]) -> [UInt8] { tuple(values.map(int)) }

    /// `{key: value, …}` with `EMPTY_DICT`, `MARK`, pairs, `SETITEMS`.
    public static func dict(_ pairs: [(String, [UInt8])]) -> [UInt8] {
        emptyDict + fill(pairs)
    }

    /// `MARK`, the pairs, `SETITEMS` (onto the dict on top of the stack).
    public static func fill(_ pairs: [(String, [UInt8])]) -> [UInt8] {
        pairs.isEmpty ? [] : mark + pairs.flatMap { string($0.0) + $0.1 } + setItems
    }

    /// `collections.OrderedDict()`: GLOBAL, EMPTY_TUPLE, REDUCE.
    public static let orderedDict: [UInt8] = global("collections", "OrderedDict") + emptyTuple + reduce

    /// A state dict: `OrderedDict()` filled with the pairs.
    public static func stateDict(_ pairs: [(String, [UInt8])]) -> [UInt8] { orderedDict + fill(pairs) }

    /// `BINPERSID` of a tuple of `items`.
    public static func persistentID(_ items: [[UInt8]]) -> [UInt8] { tuple(items) + binaryPersistentID }

    /// The zip format's `('storage', torch.<className>, key, location, numel)` persistent id.
    public static func storage(_ className: String = "FloatStorage", key: String = "0", numel: Int64, location: String = "cpu",
                               module: String = "torch") -> [UInt8] {
        persistentID([string("storage"), global(module, className), string(key), string(location), int(numel)])
    }

    /// The legacy format's `('storage', torch.<className>, key, location, numel, view)` persistent id.
    public static func legacyStorage(_ className: String = "FloatStorage", key: String, numel: Int64, view: [UInt8] = none) -> [UInt8] {
        persistentID([string("storage"), global("torch", className), string(key), string("cpu"), int(numel), view])
    }

    /// `torch._utils._rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict())`.
    public static func rebuildV2(_ storage: [UInt8], offset: Int64 = 0, size: [Int64], stride: [Int64]) -> [UInt8] {
        rebuild("_rebuild_tensor_v2", [storage, int(offset), ints(size), ints(stride), newFalse, orderedDict])
    }

    /// `torch._utils.<function>(*arguments)` as `torch.save` writes it (MARK … TUPLE, REDUCE).
    public static func rebuild(_ function: String, _ arguments: [[UInt8]]) -> [UInt8] {
        global("torch._utils", function) + mark + arguments.joined() + tupleMark + reduce
    }

    /// A contiguous float32 tensor over storage `key` with `numel` elements.
    public static func floatTensor(key: String = "0", numel: Int64, size: [Int64]? = nil) -> [UInt8] {
        let shape = size ?? [numel]
        var strides: [Int64] = []
        var running: Int64 = 1
        for dimension in shape.reversed() { strides.insert(running, at: 0); running *= max(dimension, 1) }
        return rebuildV2(storage(key: key, numel: numel), size: shape, stride: strides)
    }

    /// Python's `str` of code points U+0000–U+00FF, pickled as `_codecs.encode(text, 'latin1')`:
    /// protocol 2's spelling of `bytes`.
    public static func bytesValue(_ bytes: [UInt8]) -> [UInt8] {
        let text = String(String.UnicodeScalarView(bytes.map { Unicode.Scalar($0) }))
        return global("_codecs", "encode") + string(text) + string("latin1") + tuple2 + reduce
    }

    public static func le<T: FixedWidthInteger>(_ value: T) -> [UInt8] { withUnsafeBytes(of: value.littleEndian) { Array($0) } }
}

// MARK: - Zip

/// A `torch.save`-style zip archive built field by field. Records are stored (method 0) unless
/// given compressed bytes, each local header carries torch's `FB` padding so data starts on a
/// 64-byte boundary, and any field can be overridden to build one hostile shape.
public struct TorchZip {
    public struct Record {
        /// The full name in the central directory (`archive/data.pkl`).
        public var name: String
        /// The uncompressed bytes (what the CRC covers).
        public var data: [UInt8]
        /// Compressed bytes for method 8; `nil` stores `data`.
        public var deflated: [UInt8]?
        /// Overrides the CRC-32 in both headers.
        public var crc: UInt32?
        /// Overrides the uncompressed size in both headers (for bombs whose data is not built).
        public var uncompressedByteCount: UInt32?
        /// Overrides the name in the local header only.
        public var localName: String?

        public init(_ name: String, _ data: [UInt8], deflated: [UInt8]? = nil) {
            self.name = name
            self.data = data
            self.deflated = deflated
        }
    }

    /// Where each record landed (same order as ``records``).
    public struct Layout {
        public var bytes: [UInt8]
        public var localOffsets: [Int]
        public var centralOffsets: [Int]
        public var dataOffsets: [Int]
    }

    public var records: [Record]
    /// Pad each local header so its data starts on a 64-byte boundary, as torch does.
    public var alignsData = true
    /// Bytes before the first local header (offsets stay absolute, so the archive still indexes).
    public var leadingBytes: [UInt8] = []
    /// Bytes inserted after a record's data, before the next header, by record index.
    public var bytesAfter: [Int: [UInt8]] = [:]
    /// The end record's comment (bytes after the central directory).
    public var comment: [UInt8] = []

    public init(records: [Record]) { self.records = records }

    /// The records torch writes: `data.pkl`, `byteorder`, `data/<i>` for each storage, `version`.
    public init(folder: String = "archive", pickle: [UInt8], storages: [[UInt8]] = [], version: String = "3\n",
                byteorder: String? = "little") {
        var records = [Record("\(folder)/data.pkl", pickle)]
        if let byteorder { records.append(Record("\(folder)/byteorder", Array(byteorder.utf8))) }
        for (key, bytes) in storages.enumerated() { records.append(Record("\(folder)/data/\(key)", bytes)) }
        records.append(Record("\(folder)/version", Array(version.utf8)))
        self.records = records
    }

    /// The index of the record named `name`.
    public func index(of name: String) -> Int? { records.firstIndex { $0.name == name } }

    public var bytes: [UInt8] { layout().bytes }

    public func layout() -> Layout {
        var out: [UInt8] = leadingBytes
        var localOffsets: [Int] = [], dataOffsets: [Int] = []
        for (recordIndex, record) in records.enumerated() {
            localOffsets.append(out.count)
            let localName = Array((record.localName ?? record.name).utf8)
            let payload = record.deflated ?? record.data
            let crc = record.crc ?? CRC32Table.checksum(record.data)
            let usize = record.uncompressedByteCount ?? UInt32(record.data.count)
            // torch's alignment extra: id 0x4246 ("FB"), padding so the data starts at a multiple of 64.
            let headerEnd = out.count + 30 + localName.count + 4
            let pad = alignsData ? (64 - headerEnd % 64) % 64 : 0
            let extra = P.le(UInt16(0x4246)) + P.le(UInt16(pad)) + [UInt8](repeating: 0x5A, count: pad)
            out += P.le(UInt32(0x0403_4B50)) + P.le(UInt16(20)) + P.le(UInt16(0)) + P.le(UInt16(record.deflated == nil ? 0 : 8))
            out += P.le(UInt16(0)) + P.le(UInt16(0)) + P.le(crc) + P.le(UInt32(payload.count)) + P.le(usize)
            out += P.le(UInt16(localName.count)) + P.le(UInt16(extra.count)) + localName + extra
            dataOffsets.append(out.count)
            out += payload
            out += bytesAfter[recordIndex] ?? []
        }
        let directoryOffset = out.count
        var centralOffsets: [Int] = []
        for (index, record) in records.enumerated() {
            centralOffsets.append(out.count)
            let name = Array(record.name.utf8)
            let payload = record.deflated ?? record.data
            let crc = record.crc ?? CRC32Table.checksum(record.data)
            let usize = record.uncompressedByteCount ?? UInt32(record.data.count)
            out += P.le(UInt32(0x0201_4B50)) + P.le(UInt16(20)) + P.le(UInt16(20)) + P.le(UInt16(0))
            out += P.le(UInt16(record.deflated == nil ? 0 : 8)) + P.le(UInt16(0)) + P.le(UInt16(0)) + P.le(crc)
            out += P.le(UInt32(payload.count)) + P.le(usize) + P.le(UInt16(name.count)) + P.le(UInt16(0)) + P.le(UInt16(0))
            out += P.le(UInt16(0)) + P.le(UInt16(0)) + P.le(UInt32(0)) + P.le(UInt32(localOffsets[index])) + name
        }
        let directorySize = out.count - directoryOffset
        out += P.le(UInt32(0x0605_4B50)) + P.le(UInt16(0)) + P.le(UInt16(0)) + P.le(UInt16(records.count)) + P.le(UInt16(records.count))
        out += P.le(UInt32(directorySize)) + P.le(UInt32(directoryOffset)) + P.le(UInt16(comment.count)) + comment
        return Layout(bytes: out, localOffsets: localOffsets, centralOffsets: centralOffsets, dataOffsets: dataOffsets)
    }
}

/// CRC-32 (IEEE, reflected 0xEDB88320) with a 256-entry table, independent of zlib.
public enum CRC32Table {
    static let table: [UInt32] = (0..<256).map { index in
        var crc = UInt32(index)
        for _ in 0..<8 { crc = (crc >> 1) ^ (crc & 1 == 0 ? 0 : 0xEDB8_8320) }
        return crc
    }

    public static func checksum(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes { crc = table[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8) }
        return ~crc
    }
}

// MARK: - Deflate

/// Raw deflate streams (RFC 1951) for bombs: one final fixed-Huffman block with `prefix` as
/// literals, then `count` copies of `byte` as one literal and back-references of distance 1
/// (13 bits per 258 bytes, a ratio of about 160).
public enum Deflate {
    public static func run(prefix: [UInt8] = [], of byte: UInt8, count: Int) -> [UInt8] {
        var writer = BitWriter()
        writer.write(1, bits: 1)  // BFINAL
        writer.write(1, bits: 2)  // BTYPE = 01, fixed Huffman
        for literal in prefix { writer.literal(Int(literal)) }
        var remaining = count
        if remaining > 0 { writer.literal(Int(byte)); remaining -= 1 }
        while remaining > 0 {
            if remaining < 3 {
                writer.literal(Int(byte))
                remaining -= 1
                continue
            }
            // Leave at least 3 bytes for the last match.
            let length = remaining > 258 && remaining - 258 < 3 ? remaining - 3 : min(remaining, 258)
            writer.length(length)
            writer.writeCode(0, bits: 5)  // distance code 0 = distance 1
            remaining -= length
        }
        writer.writeCode(0, bits: 7)  // end of block (256)
        return writer.bytes
    }

    struct BitWriter {
        var bytes: [UInt8] = []
        var bitCount = 0

        /// Writes `value`'s low `bits` bits, least significant first (header fields, extra bits).
        mutating func write(_ value: Int, bits: Int) {
            for bit in 0..<bits {
                if bitCount % 8 == 0 { bytes.append(0) }
                if (value >> bit) & 1 == 1 { bytes[bytes.count - 1] |= UInt8(1 << (bitCount % 8)) }
                bitCount += 1
            }
        }

        /// Writes a Huffman code, most significant bit first.
        mutating func writeCode(_ code: Int, bits: Int) {
            for bit in stride(from: bits - 1, through: 0, by: -1) { write((code >> bit) & 1, bits: 1) }
        }

        /// A literal/length symbol with the fixed code.
        mutating func symbol(_ value: Int) {
            switch value {
            case 0...143: writeCode(0x30 + value, bits: 8)
            case 144...255: writeCode(0x190 + value - 144, bits: 9)
            case 256...279: writeCode(value - 256, bits: 7)
            default: writeCode(0xC0 + value - 280, bits: 8)
            }
        }

        mutating func literal(_ value: Int) { symbol(value) }

        /// A match length 3…258: its symbol and extra bits.
        mutating func length(_ length: Int) {
            if length == 258 { symbol(285); return }
            // (first symbol, extra bits, base length) for each group of four symbols.
            var symbolValue = 257, base = 3, extra = 0
            while true {
                let span = 1 << extra
                if length < base + span { break }
                base += span
                symbolValue += 1
                if symbolValue >= 265 && (symbolValue - 261) % 4 == 0 { extra += 1 }
            }
            symbol(symbolValue)
            write(length - base, bits: extra)
        }
    }
}

// MARK: - Legacy stream

/// The legacy (pre-1.6) `torch.save` stream: five pickles, then each storage as an int64
/// element count and its bytes (docs/formats.md, "Legacy torch files").
public enum Legacy {
    /// The magic-number pickle: LONG1 0x1950A86A20F9469CFC6C.
    public static let magic: [UInt8] = [0x80, 0x02, 0x8A, 0x0A, 0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19, 0x2E]

    /// The protocol-version pickle (1001 in every real file).
    public static func protocolVersion(_ version: Int64 = 1001) -> [UInt8] { P.pickle(P.int(version)) }

    /// The sys_info pickle torch writes.
    public static let sysInfo: [UInt8] = P.pickle(P.dict([
        ("protocol_version", P.int(1001)), ("little_endian", P.newTrue),
        ("type_sizes", P.dict([("short", P.int(2)), ("int", P.int(4)), ("long", P.int(4))])),
    ]))

    /// The storage-key list pickle.
    public static func keys(_ keys: [String]) -> [UInt8] {
        P.pickle(P.emptyList + (keys.isEmpty ? [] : P.mark + keys.flatMap(P.string) + P.appends))
    }

    /// One storage section: the element count (int64 LE) and the raw bytes.
    public static func storage(count: Int64, _ bytes: [UInt8]) -> [UInt8] { P.le(count) + bytes }

    /// A whole file: header pickles, `object` (a full pickle), the key list, then `storages`.
    public static func file(object: [UInt8], keys: [String], storages: [[UInt8]], version: Int64 = 1001) -> [UInt8] {
        magic + protocolVersion(version) + sysInfo + object + Self.keys(keys) + storages.joined()
    }
}

// MARK: - Values and files

/// Little-endian float32 bytes of `values`.
public func float32Bytes(_ values: [Float]) -> [UInt8] { values.flatMap { P.le($0.bitPattern) } }

/// Writes hostile bytes to a fresh temporary file and returns its path.
public func writeTemporaryFile(_ bytes: [UInt8], name: String = "hostile.pth") throws -> String {
    let url = try Fixture.temporaryFolder().appendingPathComponent(name)
    try Data(bytes).write(to: url)
    return url.path
}

// MARK: - Safetensors

/// A safetensors file built from its parts, names and metadata written with JSON escapes so any
/// text (control characters, bidirectional overrides) can be put in a header.
public enum SafetensorsBytes {
    /// One tensor: name, dtype spelling, shape, raw little-endian bytes.
    public typealias Tensor = (name: String, dtype: String, shape: [Int], bytes: [UInt8])

    /// The file: 8-byte header length, the JSON header (padded with spaces to 8 bytes), the data.
    public static func file(_ tensors: [Tensor], metadata: [(String, String)]? = nil) -> [UInt8] {
        var members: [String] = []
        if let metadata {
            members.append(json("__metadata__") + ":{" + metadata.map { json($0.0) + ":" + json($0.1) }.joined(separator: ",") + "}")
        }
        var offset = 0
        var data: [UInt8] = []
        for tensor in tensors {
            let shape = tensor.shape.map(String.init).joined(separator: ",")
            members.append(json(tensor.name) + ":{\"dtype\":\"\(tensor.dtype)\",\"shape\":[\(shape)],\"data_offsets\":[\(offset),\(offset + tensor.bytes.count)]}")
            offset += tensor.bytes.count
            data += tensor.bytes
        }
        var header = Array(("{" + members.joined(separator: ",") + "}").utf8)
        while header.count % 8 != 0 { header.append(0x20) }
        return P.le(UInt64(header.count)) + header + data
    }

    /// `text` as a JSON string: quote, backslash and control characters escaped, the rest as UTF-8.
    public static func json(_ text: String) -> String {
        var result = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    result += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    result.unicodeScalars.append(scalar)
                }
            }
        }
        return result + "\""
    }

    /// Float32 values as little-endian bytes.
    public static func floats(_ values: [Float]) -> [UInt8] { values.flatMap { P.le($0.bitPattern) } }
}
