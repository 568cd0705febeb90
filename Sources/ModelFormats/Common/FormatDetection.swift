import BinaryIO

// The content decides the format (docs/security.md, "What a file is"): magic bytes select the
// reader, never the extension. Anything else is refused with a description of what it looks like.

/// What a path holds, judged from its first bytes.
public enum DetectedKind: Equatable, Sendable {
    /// An 8-byte length followed by a JSON object.
    case safetensors
    /// A JSON document with a `weight_map`: the index of a sharded set.
    case shardIndex
    /// A zip archive (first bytes `PK\x03\x04`); further checks happen when it is read.
    case zipArchive
    /// A NumPy `.npy` array (first bytes `\x93NUMPY`).
    case numpyArray
    /// A NumPy `.npz` archive: a zip whose first member's name ends in `.npy`.
    case numpyArchive
    /// The legacy torch stream: its first pickle is the magic number.
    case legacyTorch
    /// A Hugging Face model folder; `weights` is the file inside it that holds the weights.
    case directory(weights: String)
    /// A PEFT adapter folder: its `adapter_config.json` and its weights file.
    case adapterFolder(config: String, weights: String)
    /// A GGUF file (first bytes `GGUF`).
    case gguf
}

/// The path is not a model file modelfile reads; `looksLike` says what it seems to be.
public struct UnrecognizedFormatError: Error, Equatable, CustomStringConvertible {
    /// What the content looks like ("a Git LFS pointer", "an HTML page", …).
    public let looksLike: String

    /// A refusal of content that looks like `looksLike`.
    public init(looksLike: String) {
        self.looksLike = looksLike
    }

    public var description: String { "not a model file: \(looksLike)" }
}

/// Detects formats from content.
public enum FormatDetector {
    /// The legacy format's first pickle: protocol 2, LONG1 of the magic number 0x1950A86A20F9469CFC6C, STOP.
    static let legacyMagic: [UInt8] = [0x80, 0x02, 0x8A, 0x0A, 0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19, 0x2E]

    /// File names a Hugging Face folder is searched for, in transformers' order (docs/formats.md, "Sharded sets").
    public static let folderWeightNames = [
        "model.safetensors", "model.safetensors.index.json", "pytorch_model.bin", "pytorch_model.bin.index.json",
    ]

    /// Detects what `path` holds.
    ///
    /// - Throws: `FileError` if it cannot be read, `UnrecognizedFormatError` if it is not a model file.
    public static func detect(path: String) throws -> DetectedKind {
        let info = try RegularFile.status(path)
        if (info.st_mode & S_IFMT) == S_IFDIR {
            // A PEFT adapter folder (docs/formats.md, "LoRA adapters"): its config and weights.
            var entry = stat()
            let config = path + "/" + LoRAAdapterSource.configName
            if stat(config, &entry) == 0 {
                for name in LoRAAdapterSource.peftWeightNames where stat(path + "/" + name, &entry) == 0 {
                    return .adapterFolder(config: config, weights: path + "/" + name)
                }
            }
            for name in folderWeightNames {
                var entry = stat()
                if stat(path + "/" + name, &entry) == 0 { return .directory(weights: path + "/" + name) }
            }
            throw UnrecognizedFormatError(
                looksLike: "a folder without model weights (looked for \(folderWeightNames.joined(separator: ", ")))")
        }
        let file = try MappedFile(path: path)
        return try detect(bytes: file.bytes)
    }

    /// Detects the format of a file's contents.
    ///
    /// - Throws: `UnrecognizedFormatError` if they are not a model file.
    public static func detect(bytes: UnsafeRawBufferPointer) throws -> DetectedKind {
        let head = Array(bytes.prefix(512))
        func starts(with magic: [UInt8], at offset: Int = 0) -> Bool {
            head.count >= offset + magic.count && Array(head[offset..<(offset + magic.count)]) == magic
        }
        if head.isEmpty { throw UnrecognizedFormatError(looksLike: "an empty file") }
        if starts(with: [0x50, 0x4B, 0x03, 0x04]) { return isNumPyArchive(bytes) ? .numpyArchive : .zipArchive }
        if starts(with: NumPyHeader.magic) { return .numpyArray }
        if starts(with: legacyMagic) { return .legacyTorch }
        if starts(with: Array("GGUF".utf8)) { return .gguf }
        if head.count >= 9 {
            let declared = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: 0, as: UInt64.self))
            if declared > 0 && declared <= UInt64(SafetensorsHeader.maxHeaderBytes),
               let first = head[8...].first(where: { !isJSONSpace($0) }), first == UInt8(ascii: "{") {
                return .safetensors
            }
        }
        let text = String(decoding: head.prefix(256), as: UTF8.self)
        let trimmed = text.drop(while: { $0 == "\u{FEFF}" || $0.isWhitespace })
        if trimmed.hasPrefix("{") || trimmed.hasPrefix("[") {
            // A JSON document: the index of a sharded set, or something else (config.json…).
            // The whole file is needed to be sure; indexes are small.
            if trimmed.hasPrefix("{"), bytes.count <= 64 << 20, (try? SafetensorsIndex.parse(bytes)) != nil { return .shardIndex }
            throw UnrecognizedFormatError(looksLike: "a JSON file without a weight_map (a config or tokenizer file, not weights)")
        }
        if isONNXModel(bytes) {
            throw UnrecognizedFormatError(looksLike: "an ONNX model (a protobuf ModelProto with ir_version and graph), which modelfile does not read")
        }
        throw UnrecognizedFormatError(looksLike: describeUnknown(head: head, totalSize: bytes.count))
    }

    /// What a zip archive is when it is not a `torch.save` archive, or `nil` when it holds a
    /// `data.pkl` (a torch archive, checked further when it is read).
    public static func describeZip(entryNames names: [String]) -> String? {
        if names.contains(where: { $0 == "data.pkl" || $0.hasSuffix("/data.pkl") }) { return nil }
        if let record = names.first(where: { $0.split(separator: "/").first?.hasSuffix(".dist-info") == true }) {
            let folder = record.split(separator: "/").first.map(String.init) ?? record
            return "a Python wheel (a zip holding \(folder)/), not a model file"
        }
        if !names.isEmpty, names.allSatisfy({ $0.hasSuffix(".npy") }) {
            // Detection reads an .npz by its first local header; one whose layout hides that is
            // still named for what it is.
            return "a NumPy .npz archive whose first record is not a .npy member"
        }
        let listed = names.prefix(3).joined(separator: ", ") + (names.count > 3 ? ", …" : "")
        return "a zip archive without data.pkl, not a torch.save archive (\(names.count) entries: \(listed))"
    }

    /// Whether `bytes` are an ONNX `ModelProto`: a protobuf message whose first field is
    /// `ir_version` (field 1, a varint) and whose top-level fields are `ModelProto`'s, including
    /// `graph` (field 7). Only field keys and lengths are read; nothing is decoded.
    static func isONNXModel(_ bytes: UnsafeRawBufferPointer) -> Bool {
        // ModelProto fields: ir_version 1, producer_name 2, producer_version 3, domain 4,
        // model_version 5, doc_string 6, graph 7, opset_import 8, metadata_props 14,
        // training_info 20, functions 25; all but 1 and 5 are length-delimited.
        let varintFields: Set<UInt64> = [1, 5]
        let lengthFields: Set<UInt64> = [2, 3, 4, 6, 7, 8, 14, 20, 25]
        var offset = 0
        var sawGraph = false
        for fieldIndex in 0..<256 {
            guard offset < bytes.count else { break }
            guard let (key, afterKey) = readVarint(bytes, at: offset) else { return false }
            let field = key >> 3, wire = key & 7
            if fieldIndex == 0 && (field != 1 || wire != 0) { return false }
            switch wire {
            case 0 where varintFields.contains(field):
                guard let (value, next) = readVarint(bytes, at: afterKey) else { return false }
                if field == 1 && !(1...100).contains(value) { return false }
                offset = next
            case 2 where lengthFields.contains(field):
                guard let (length, start) = readVarint(bytes, at: afterKey), length <= UInt64(bytes.count - start) else { return false }
                offset = start + Int(length)
                if field == 7 { sawGraph = true }
            default:
                return false
            }
            if sawGraph { return true }
        }
        return false
    }

    /// A protobuf varint at `offset`: its value and the offset after it.
    private static func readVarint(_ bytes: UnsafeRawBufferPointer, at offset: Int) -> (UInt64, Int)? {
        var value: UInt64 = 0
        var position = offset
        for shift in stride(from: 0, to: 64, by: 7) {
            guard position < bytes.count else { return nil }
            let byte = bytes[position]
            position += 1
            value |= UInt64(byte & 0x7F) << UInt64(shift)
            if byte & 0x80 == 0 { return (value, position) }
        }
        return nil
    }

    /// A human description of unrecognised content.
    static func describeUnknown(head: [UInt8], totalSize: Int) -> String {
        func starts(with magic: [UInt8], at offset: Int = 0) -> Bool {
            head.count >= offset + magic.count && Array(head[offset..<(offset + magic.count)]) == magic
        }
        let text = String(decoding: head, as: UTF8.self)
        let lowered = text.lowercased().drop(while: { $0 == "\u{FEFF}" || $0.isWhitespace })
        if text.hasPrefix("version https://git-lfs.github.com/spec/") {
            let size = text.split(separator: "\n").first { $0.hasPrefix("size ") }.map { " of \($0.dropFirst(5)) bytes" } ?? ""
            return "a Git LFS pointer file; the real file\(size) was never downloaded (run `git lfs pull`)"
        }
        if ["<!doctype html", "<html", "<?xml", "<head", "<body", "<!--"].contains(where: { lowered.hasPrefix($0) }) {
            return "an HTML page, probably an error or login page saved instead of the file"
        }
        if starts(with: Array("PYTORCH1".utf8)) { return "a preview-era PyTorch archive (magic PYTORCH1), which torch itself no longer reads" }
        if starts(with: [0x50, 0x4B, 0x05, 0x06]) { return "an empty zip archive" }
        if starts(with: [0x37, 0x7A, 0xBC, 0xAF, 0x27, 0x1C]) { return "a 7-Zip archive, not a torch file (7z-wrapped models have carried malware)" }
        if starts(with: Array("ustar".utf8), at: 257) { return "a tar archive; the pre-1.0 torch tar container is refused (it bypassed weights_only, CVE-2025-32434)" }
        if starts(with: [0x1F, 0x8B]) { return "a gzip-compressed file; decompress it first" }
        if starts(with: Array("BZh".utf8)) { return "a bzip2-compressed file; decompress it first" }
        if starts(with: [0xFD, 0x37, 0x7A, 0x58, 0x5A, 0x00]) { return "an xz-compressed file; decompress it first" }
        if starts(with: [0x89, 0x48, 0x44, 0x46, 0x0D, 0x0A, 0x1A, 0x0A]) { return "an HDF5 file (Keras .h5), which modelfile does not read" }
        if head.count >= 2, head[0] == 0x80, (2...5).contains(head[1]) {
            return "a bare pickle stream (protocol \(head[1])), not a torch archive; refused, since a renamed pickle is a known way to run code"
        }
        if head.count >= 8 {
            let declared = head.prefix(8).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
            if declared > UInt64(SafetensorsHeader.maxHeaderBytes) && head.count > 8 && head[8] == UInt8(ascii: "{") {
                return "a safetensors file whose header length \(declared) exceeds the 100000000-byte limit"
            }
        }
        if totalSize < 8 { return "a file of \(totalSize) bytes, too short to be a model file (truncated?)" }
        let hex = head.prefix(8).map { byte in String(byte, radix: 16).count == 1 ? "0" + String(byte, radix: 16) : String(byte, radix: 16) }
        return "unknown content (first bytes \(hex.joined(separator: " ")))"
    }

    /// Whether the zip in `bytes` is an `.npz`: its first local header names a `.npy` member, as
    /// `numpy.savez` writes it (a torch archive starts with `<folder>/data.pkl`). Every member is
    /// checked when the archive is read.
    static func isNumPyArchive(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard bytes.count >= 30 else { return false }
        let nameLength = Int(bytes[26]) | Int(bytes[27]) << 8
        guard nameLength >= 4, nameLength <= bytes.count - 30 else { return false }
        return bytes[(30 + nameLength - 4)..<(30 + nameLength)].elementsEqual(".npy".utf8)
    }

    private static func isJSONSpace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D }
}

#if canImport(Glibc)
import Glibc
#endif
