import BinaryIO
import TensorData

/// Writes safetensors files laid out exactly like the reference writer (docs/formats.md,
/// "Writer layout"):
///
/// - tensors sorted by dtype rank, descending, then by name (byte order), packed back to back;
/// - a compact JSON header, `__metadata__` first (its keys sorted here, so output is reproducible),
///   then the tensors in buffer order, each as `{"dtype":…,"shape":[…],"data_offsets":[b,e]}`;
/// - the header padded with spaces to a multiple of 8 bytes.
///
/// For the same tensors and at most one metadata key the bytes equal
/// `safetensors.torch.save_file`'s. Data is streamed to disk one tensor at a time through an
/// ``OutputFile`` (temporary file, renamed into place when complete).
public enum SafetensorsWriter {
    /// Where each tensor goes and the header bytes that describe it.
    public struct Layout: Sendable {
        /// Input indices in the order their bytes are written.
        public let order: [Int]
        /// The full header: 8-byte length, JSON, space padding.
        public let headerBytes: [UInt8]
        /// Total file size.
        public let fileByteCount: Int
    }

    /// Computes the layout for `entries` without writing anything.
    ///
    /// - Throws: `SafetensorsError` for a reserved or duplicate name, a dtype safetensors cannot
    ///   store, or a header over the 100 MB limit. Names compare by their bytes: two names that
    ///   differ only by Unicode normalization are two tensors.
    public static func layout(entries: [TensorEntry], metadata: [ExactString: String]?) throws -> Layout {
        var seen = Set<ExactString>()
        for entry in entries {
            guard !entry.name.isByteEqual(to: "__metadata__") else { throw SafetensorsError.reservedTensorName }
            guard seen.insert(ExactString(entry.name)).inserted else { throw SafetensorsError.duplicateTensorName(entry.name) }
            guard let _ = entry.dtype.safetensorsRank else {
                throw SafetensorsError.unrepresentableDType(tensor: entry.name, dtype: entry.dtype)
            }
            _ = try RawTensor.byteCount(dtype: entry.dtype, shape: entry.shape)
        }
        let order = entries.indices.sorted { a, b in
            let rankA = entries[a].dtype.safetensorsRank ?? 0, rankB = entries[b].dtype.safetensorsRank ?? 0
            if rankA != rankB { return rankA > rankB }
            return entries[a].name.utf8.lexicographicallyPrecedes(entries[b].name.utf8)
        }
        var json: [UInt8] = [UInt8(ascii: "{")]
        json.reserveCapacity(64 + entries.count * 80)
        var first = true
        if let metadata {
            appendString("__metadata__", to: &json)
            json.append(contentsOf: Array(":{".utf8))
            for (k, key) in metadata.keys.sorted().enumerated() {
                if k > 0 { json.append(UInt8(ascii: ",")) }
                appendString(key.string, to: &json)
                json.append(UInt8(ascii: ":"))
                appendString(metadata[key] ?? "", to: &json)
            }
            json.append(UInt8(ascii: "}"))
            first = false
        }
        var offset = 0
        for index in order {
            let entry = entries[index]
            if !first { json.append(UInt8(ascii: ",")) }
            first = false
            appendString(entry.name, to: &json)
            json.append(contentsOf: Array(":{\"dtype\":".utf8))
            appendString(entry.dtype.rawValue, to: &json)
            json.append(contentsOf: Array(",\"shape\":[".utf8))
            json.append(contentsOf: Array(entry.shape.dimensions.map(String.init).joined(separator: ",").utf8))
            let end = offset + entry.byteCount
            json.append(contentsOf: Array("],\"data_offsets\":[\(offset),\(end)]}".utf8))
            offset = end
        }
        json.append(UInt8(ascii: "}"))
        let padding = (8 - json.count % 8) % 8
        json.append(contentsOf: [UInt8](repeating: 0x20, count: padding))
        guard json.count <= SafetensorsHeader.maxHeaderBytes else { throw SafetensorsError.headerTooLargeToWrite(size: json.count) }
        var header = [UInt8]()
        header.reserveCapacity(8 + json.count)
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { header.append(contentsOf: $0) }
        header.append(contentsOf: json)
        return Layout(order: order, headerBytes: header, fileByteCount: header.count + offset)
    }

    /// Streams a safetensors file to `path`.
    ///
    /// - Parameters:
    ///   - entries: the tensors to write (names, output dtypes, shapes).
    ///   - metadata: `__metadata__`, or `nil` for none.
    ///   - overwrite: replace an existing file (`--force`).
    ///   - tensorBytes: the bytes of entry `i`, in its output dtype; called once per tensor in
    ///     write order, so only one tensor needs to be in memory at a time.
    ///   - didWrite: called after entry `i` has been written (lets the source drop its pages).
    /// - Throws: `SafetensorsError`, `FileError`, or whatever `tensorBytes` throws; nothing is
    ///   left at `path` on failure.
    public static func write(
        to path: String,
        entries: [TensorEntry],
        metadata: [ExactString: String]?,
        overwrite: Bool,
        tensorBytes: (Int) throws -> TensorBytes,
        didWrite: (Int) -> Void = { _ in }
    ) throws {
        let plan = try layout(entries: entries, metadata: metadata)
        let output = try OutputFile(path: path, overwrite: overwrite)
        try output.write(plan.headerBytes)
        for index in plan.order {
            let bytes = try tensorBytes(index)
            guard bytes.count == entries[index].byteCount else {
                throw TensorDataError.byteCountMismatch(
                    dtype: entries[index].dtype, shape: entries[index].shape, expected: entries[index].byteCount, found: bytes.count)
            }
            try bytes.withUnsafeBytes { try output.write($0) }
            didWrite(index)
        }
        try output.commit()
    }

    /// Writes `stateDict` to `path`.
    ///
    /// - Throws: as ``write(to:entries:metadata:overwrite:tensorBytes:didWrite:)``.
    public static func write(_ stateDict: StateDict, to path: String, metadata: [ExactString: String]?, overwrite: Bool) throws {
        let tensors = stateDict.map(\.tensor)
        let entries = stateDict.map { TensorEntry(name: $0.name, dtype: $0.tensor.dtype, shape: $0.tensor.shape) }
        try write(to: path, entries: entries, metadata: metadata, overwrite: overwrite) { tensors[$0].bytes }
    }

    /// Appends `string` as a JSON string the way serde_json writes it: `"` and `\` escaped,
    /// control characters as `\b \t \n \f \r` or `\u00xx` (lowercase hex), everything else raw UTF-8.
    static func appendString(_ string: String, to json: inout [UInt8]) {
        json.append(UInt8(ascii: "\""))
        for byte in string.utf8 {
            switch byte {
            case UInt8(ascii: "\""): json.append(contentsOf: [0x5C, 0x22])
            case UInt8(ascii: "\\"): json.append(contentsOf: [0x5C, 0x5C])
            case 0x08: json.append(contentsOf: [0x5C, UInt8(ascii: "b")])
            case 0x09: json.append(contentsOf: [0x5C, UInt8(ascii: "t")])
            case 0x0A: json.append(contentsOf: [0x5C, UInt8(ascii: "n")])
            case 0x0C: json.append(contentsOf: [0x5C, UInt8(ascii: "f")])
            case 0x0D: json.append(contentsOf: [0x5C, UInt8(ascii: "r")])
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                json.append(contentsOf: Array("\\u00".utf8))
                json.append(hex[Int(byte >> 4)])
                json.append(hex[Int(byte & 0xF)])
            default: json.append(byte)
            }
        }
        json.append(UInt8(ascii: "\""))
    }
}
