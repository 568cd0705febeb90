import BinaryIO
import TensorData

// The GGUF header (docs/formats.md, "GGUF"): magic "GGUF", u32 version, u64 tensor count, u64
// metadata count, the key/value pairs, the tensor infos (name, u32 dimension count, u64
// dimensions innermost first, u32 ggml type, u64 offset into the data section), then padding to
// the alignment (`general.alignment`, default 32) where the data section starts.
//
// Every count and length is compared with the bytes that remain before anything is allocated
// or copied, in subtraction form; every product is overflow-checked. What gguf-py refuses is
// refused here too, and more: duplicate keys and tensor names, unknown types, misaligned,
// out-of-file and overlapping tensors, BOOL bytes other than 0 and 1.

/// One tensor as a GGUF header describes it.
public struct GGUFTensorInfo: Sendable, Equatable {
    /// The tensor's name.
    public let name: String
    /// Its ggml type.
    public let type: GGMLType
    /// The dimensions as stored: innermost (row length) first.
    public let ggufDimensions: [Int]
    /// The offset as stored, relative to the data section.
    public let relativeOffset: Int
    /// The absolute file offset of the first byte.
    public let fileOffset: Int
    /// The number of elements.
    public let elementCount: Int
    /// The bytes the tensor occupies (whole blocks).
    public let byteCount: Int
    /// Where the tensor info starts in the header.
    public let infoOffset: Int

    /// The shape in PyTorch order (GGUF's dimensions reversed).
    public var shape: Shape { Shape(Array(ggufDimensions.reversed())) }

    /// The file range of the tensor's bytes.
    public var fileRange: Range<Int> { fileOffset..<(fileOffset + byteCount) }
}

/// One metadata key and value, with where the entry starts.
public struct GGUFMetadataEntry: Sendable, Equatable {
    /// The key (`general.architecture`, `tokenizer.ggml.tokens`, …).
    public let key: String
    /// The value with its exact type.
    public let value: GGUFValue
    /// The byte offset of the entry (its key length).
    public let fileOffset: Int

    /// An entry.
    public init(key: String, value: GGUFValue, fileOffset: Int = 0) {
        self.key = key
        self.value = value
        self.fileOffset = fileOffset
    }
}

/// A validated GGUF header.
public struct GGUFHeader: Sendable {
    /// The alignment of the data section and of every tensor when `general.alignment` is absent.
    public static let defaultAlignment = 32
    /// How deep arrays may nest (gguf-py reads nested arrays; llama.cpp accepts none).
    public static let maxArrayNesting = 8
    /// The metadata key that sets the alignment.
    public static let alignmentKey = "general.alignment"

    /// 2 or 3.
    public let version: UInt32
    /// Metadata entries in file order.
    public let metadata: [GGUFMetadataEntry]
    /// Tensor infos in file order.
    public let tensors: [GGUFTensorInfo]
    /// The alignment in bytes.
    public let alignment: Int
    /// Where the tensor infos end.
    public let headerEnd: Int
    /// Where the data section starts: `headerEnd` rounded up to the alignment.
    public let dataStart: Int
    /// Tensors whose bytes run past the end of the file (only when parsed with
    /// `allowingTruncation`; otherwise such a file is refused).
    public let truncatedTensors: [Int]
    /// Keys compare by their bytes (docs/formats.md, "Names and text").
    private let keyIndex: [ExactString: Int]

    /// The value stored under `key` (compared by bytes).
    public func value(forKey key: String) -> GGUFValue? {
        keyIndex[ExactString(key)].map { metadata[$0].value }
    }

    /// Parses and validates the header of a whole file; tensor data is never read, but every
    /// tensor must lie inside the file.
    ///
    /// - Parameters:
    ///   - file: the file's bytes.
    ///   - maxTensorRank: the most dimensions a tensor may declare.
    ///   - allowingTruncation: list tensors whose bytes run past the end of the file in
    ///     ``truncatedTensors`` instead of refusing the file (`verify` names each one).
    /// - Throws: `GGUFError` naming the first fault and its byte offset.
    public static func parse(file: UnsafeRawBufferPointer, maxTensorRank: Int = 64, allowingTruncation: Bool = false) throws -> GGUFHeader {
        var parser = GGUFParser(file)
        let magic = try parser.fixedBytes(4, .header("magic"))
        guard magic == Array("GGUF".utf8) else { throw GGUFError.notGGUF(found: magic) }
        let version = try parser.integer(UInt32.self, .header("version"))
        if version & 0xFFFF == 0 && version != 0 { throw GGUFError.bigEndian(version: version) }
        guard version == 2 || version == 3 else { throw GGUFError.unsupportedVersion(version) }
        let tensorCountOffset = parser.offset
        let declaredTensors = try parser.integer(UInt64.self, .header("tensor count"))
        let metadataCountOffset = parser.offset
        let declaredEntries = try parser.integer(UInt64.self, .header("metadata count"))
        let entryCount = try parser.checkedCount(declaredEntries, bytesPerItem: 13, field: .header("metadata count"), at: metadataCountOffset)
        _ = try parser.checkedCount(declaredTensors, bytesPerItem: 24, field: .header("tensor count"), at: tensorCountOffset)

        var metadata: [GGUFMetadataEntry] = []
        var keyIndex: [ExactString: Int] = [:]
        for index in 0..<entryCount {
            let start = parser.offset
            let key = try parser.text(.key(index: index))
            if let first = keyIndex[ExactString(key)] { throw GGUFError.duplicateKey(key, at: start, firstAt: metadata[first].fileOffset) }
            let value = try parser.value(field: .value(key: key))
            keyIndex[ExactString(key)] = metadata.count
            metadata.append(GGUFMetadataEntry(key: key, value: value, fileOffset: start))
        }

        var alignment = defaultAlignment
        if let index = keyIndex[ExactString(alignmentKey)] {
            guard case .uint32(let value) = metadata[index].value else { throw GGUFError.alignmentType(found: metadata[index].value.type) }
            guard value != 0, value & (value - 1) == 0 else { throw GGUFError.alignmentValue(value) }
            alignment = Int(value)
        }

        // Recheck the tensor count against what is left now that the metadata has been read.
        let tensorCount = try parser.checkedCount(declaredTensors, bytesPerItem: 24, field: .header("tensor count"), at: tensorCountOffset)
        var tensors: [GGUFTensorInfo] = []
        var names = Set<ExactString>()
        for index in 0..<tensorCount {
            let info = try parser.tensorInfo(index: index, maxRank: maxTensorRank)
            guard names.insert(ExactString(info.name)).inserted else { throw GGUFError.duplicateTensorName(info.name, at: info.start) }
            tensors.append(GGUFTensorInfo(
                name: info.name, type: info.type, ggufDimensions: info.dimensions, relativeOffset: 0, fileOffset: 0,
                elementCount: info.elementCount, byteCount: info.byteCount, infoOffset: info.start))
            parser.pendingOffsets.append(info.offset)
        }
        let headerEnd = parser.offset
        // headerEnd ≤ file size and alignment ≤ 2^31, so this cannot overflow.
        let dataStart = (headerEnd + alignment - 1) / alignment * alignment
        let placement = try placed(
            tensors, offsets: parser.pendingOffsets, dataStart: dataStart, alignment: alignment, fileSize: file.count,
            allowingTruncation: allowingTruncation)
        return GGUFHeader(
            version: version, metadata: metadata, tensors: placement.tensors, alignment: alignment, headerEnd: headerEnd,
            dataStart: dataStart, truncatedTensors: placement.truncated, keyIndex: keyIndex)
    }

    /// Gives each tensor its absolute offset after checking alignment, bounds and overlaps.
    private static func placed(
        _ infos: [GGUFTensorInfo], offsets: [UInt64], dataStart: Int, alignment: Int, fileSize: Int, allowingTruncation: Bool
    ) throws -> (tensors: [GGUFTensorInfo], truncated: [Int]) {
        var result: [GGUFTensorInfo] = []
        var truncated: [Int] = []
        result.reserveCapacity(infos.count)
        for (index, (info, offset)) in zip(infos, offsets).enumerated() {
            guard offset % UInt64(alignment) == 0 else {
                throw GGUFError.misalignedOffset(tensor: info.name, offset: offset, alignment: alignment)
            }
            // The end must be representable; within the file unless truncation is allowed.
            let (start, startOverflow) = UInt64(dataStart).addingReportingOverflow(offset)
            let (end, endOverflow) = start.addingReportingOverflow(UInt64(info.byteCount))
            guard !startOverflow, !endOverflow, end <= UInt64(Int.max) else {
                throw GGUFError.tensorPastEnd(tensor: info.name, start: startOverflow ? .max : start, byteCount: info.byteCount, fileSize: fileSize)
            }
            if end > UInt64(fileSize) {
                guard allowingTruncation else {
                    throw GGUFError.tensorPastEnd(tensor: info.name, start: start, byteCount: info.byteCount, fileSize: fileSize)
                }
                truncated.append(index)
            }
            result.append(GGUFTensorInfo(
                name: info.name, type: info.type, ggufDimensions: info.ggufDimensions, relativeOffset: Int(offset),
                fileOffset: dataStart + Int(offset), elementCount: info.elementCount, byteCount: info.byteCount,
                infoOffset: info.infoOffset))
        }
        let order = result.indices.filter { result[$0].byteCount > 0 }.sorted { result[$0].fileOffset < result[$1].fileOffset }
        // Sorted by start, each non-empty tensor must begin at or after the end of the one before
        // (which, with no overlap so far, is the one reaching furthest).
        var previous: Int?
        for index in order {
            if let last = previous, result[index].fileOffset < result[last].fileRange.upperBound {
                throw GGUFError.tensorsOverlap(tensor: result[index].name, other: result[last].name, at: result[index].fileOffset)
            }
            previous = index
        }
        return (result, truncated)
    }

    /// Ways the file departs from what llama.cpp accepts, though gguf-py and modelfile read it
    /// (warnings, not faults): tensors not laid out one after another in info order, more than
    /// four dimensions, names of 64 bytes or more, nested arrays.
    public var llamaCppIncompatibilities: [ModelFileWarning] {
        var warnings: [ModelFileWarning] = []
        var expected = 0
        for info in tensors {
            if info.relativeOffset != expected {
                warnings.append(.ggufLayoutNotLlamaCpp(tensor: info.name, offset: info.relativeOffset, expected: expected, alignment: alignment))
                break
            }
            expected = expected.saturatingAdded((info.byteCount + alignment - 1) / alignment * alignment)
        }
        let deep = tensors.filter { $0.ggufDimensions.count > 4 }.map(\.name)
        if !deep.isEmpty { warnings.append(.ggufTooManyDimensionsForLlamaCpp(names: deep)) }
        let long = tensors.filter { $0.name.utf8.count >= 64 }.map(\.name)
        if !long.isEmpty { warnings.append(.ggufNamesTooLongForLlamaCpp(names: long)) }
        for entry in metadata {
            if case .array(let array) = entry.value, array.itemType == .array { warnings.append(.ggufNestedArrayForLlamaCpp(key: entry.key)) }
        }
        return warnings
    }
}

/// The cursor the header parser uses: every read checked, every error naming its field.
struct GGUFParser {
    let file: UnsafeRawBufferPointer
    var offset = 0
    var pendingOffsets: [UInt64] = []

    init(_ file: UnsafeRawBufferPointer) { self.file = file }

    var remaining: Int { file.count - offset }

    mutating func fixedBytes(_ count: Int, _ field: GGUFField) throws -> [UInt8] {
        guard count <= remaining else { throw GGUFError.truncated(field: field, at: offset, needed: count, available: remaining) }
        defer { offset += count }
        return Array(file[offset..<(offset + count)])
    }

    mutating func integer<T: FixedWidthInteger>(_: T.Type, _ field: GGUFField) throws -> T {
        let size = MemoryLayout<T>.size
        guard size <= remaining else { throw GGUFError.truncated(field: field, at: offset, needed: size, available: remaining) }
        defer { offset += size }
        return T(littleEndian: file.loadUnaligned(fromByteOffset: offset, as: T.self))
    }

    /// `declared` as an `Int`, when that many items of at least `bytesPerItem` bytes fit in what remains.
    func checkedCount(_ declared: UInt64, bytesPerItem: Int, field: GGUFField, at: Int) throws -> Int {
        guard declared <= UInt64(remaining / bytesPerItem) else {
            throw GGUFError.countTooLarge(field: field, at: at, declared: declared, bytesPerItem: bytesPerItem, available: remaining)
        }
        return Int(declared)
    }

    /// A string's byte count and start, after checking it lies within the file; moves past it.
    mutating func stringRange(_ field: GGUFField) throws -> Range<Int> {
        let at = offset
        let length = try integer(UInt64.self, field)
        guard length <= UInt64(remaining) else {
            throw GGUFError.lengthPastEnd(field: field, at: at, declared: length, available: remaining)
        }
        let start = offset
        offset += Int(length)
        return start..<offset
    }

    /// A string that must be UTF-8 (a key or a tensor name).
    mutating func text(_ field: GGUFField) throws -> String {
        let range = try stringRange(field)
        let bytes = UnsafeRawBufferPointer(rebasing: file[range])
        if let bad = SafetensorsHeader.firstInvalidUTF8(bytes) { throw GGUFError.invalidUTF8(field: field, at: range.lowerBound + bad) }
        return String(decoding: bytes, as: UTF8.self)
    }

    mutating func valueType(_ field: GGUFField) throws -> GGUFValueType {
        let at = offset
        let raw = try integer(UInt32.self, field)
        guard let type = GGUFValueType(rawValue: raw) else { throw GGUFError.unknownValueType(field: field, at: at, raw: raw) }
        return type
    }

    /// A type tag and the value that follows it.
    mutating func value(field: GGUFField) throws -> GGUFValue {
        let type = try valueType(field)
        let start = offset
        try skipValue(type, field: field, depth: 0)
        var cursor = GGUFCursor(UnsafeRawBufferPointer(rebasing: file[start..<offset]))
        guard let value = cursor.decodeValidated(type) else {
            // Unreachable: skipValue has just checked these bytes.
            throw GGUFError.truncated(field: field, at: start, needed: offset - start, available: remaining)
        }
        return value
    }

    /// Moves past one value of `type`, checking every length, count, type and BOOL byte in it.
    mutating func skipValue(_ type: GGUFValueType, field: GGUFField, depth: Int) throws {
        switch type {
        case .string:
            _ = try stringRange(field)
        case .bool:
            let at = offset
            let byte = try integer(UInt8.self, field)
            guard byte <= 1 else { throw GGUFError.invalidBool(field: field, at: at, byte: byte) }
        case .array:
            guard depth < GGUFHeader.maxArrayNesting else {
                throw GGUFError.nestingTooDeep(field: field, at: offset, limit: GGUFHeader.maxArrayNesting)
            }
            let itemType = try valueType(field)
            let countOffset = offset
            let declared = try integer(UInt64.self, field)
            let count = try checkedCount(declared, bytesPerItem: itemType.minimumByteCount, field: field, at: countOffset)
            let key: String
            switch field {
            case .value(let name), .item(let name, _): key = name
            default: key = "\(field)"
            }
            if itemType == .bool {
                for index in 0..<count where file[offset + index] > 1 {
                    throw GGUFError.invalidBool(field: .item(key: key, index: index), at: offset + index, byte: file[offset + index])
                }
            }
            if let size = itemType.fixedByteCount {
                offset += count * size  // count ≤ remaining / size
            } else {
                for index in 0..<count { try skipValue(itemType, field: .item(key: key, index: index), depth: depth + 1) }
            }
        default:
            let size = type.fixedByteCount ?? 0
            guard size <= remaining else { throw GGUFError.truncated(field: field, at: offset, needed: size, available: remaining) }
            offset += size
        }
    }

    struct RawTensorInfo {
        let name: String
        let start: Int
        let dimensions: [Int]
        let type: GGMLType
        let elementCount: Int
        let byteCount: Int
        let offset: UInt64
    }

    mutating func tensorInfo(index: Int, maxRank: Int) throws -> RawTensorInfo {
        let start = offset
        let name = try text(.tensorName(index: index))
        let rankOffset = offset
        let rank = try integer(UInt32.self, .tensorInfo(tensor: name, field: "dimension count"))
        guard rank <= UInt32(max(0, maxRank)) else {
            throw GGUFError.tooManyDimensions(tensor: name, at: rankOffset, declared: rank, limit: maxRank)
        }
        var dimensions: [UInt64] = []
        dimensions.reserveCapacity(Int(rank))
        for axis in 0..<Int(rank) {
            dimensions.append(try integer(UInt64.self, .tensorInfo(tensor: name, field: "dimension \(axis)")))
        }
        let typeOffset = offset
        let rawType = try integer(UInt32.self, .tensorInfo(tensor: name, field: "type"))
        guard let type = GGMLType(rawValue: rawType) else { throw GGUFError.unknownGGMLType(tensor: name, at: typeOffset, raw: rawType) }
        let dataOffset = try integer(UInt64.self, .tensorInfo(tensor: name, field: "offset"))

        // The product of the non-zero dimensions must fit Int, so that every partial product in
        // any order does too (a zero dimension would otherwise hide two huge ones).
        var nonZeroProduct: UInt64 = 1
        for dimension in dimensions where dimension != 0 {
            let (product, overflow) = nonZeroProduct.multipliedReportingOverflow(by: dimension)
            guard !overflow, product <= UInt64(Int.max) else { throw GGUFError.sizeOverflow(tensor: name, dimensions: dimensions, type: type) }
            nonZeroProduct = product
        }
        let elements = dimensions.contains(0) ? 0 : nonZeroProduct
        let rowLength = dimensions.first ?? 1
        guard rowLength % UInt64(type.blockElementCount) == 0 else {
            throw GGUFError.rowNotWholeBlocks(tensor: name, type: type, rowLength: rowLength)
        }
        guard let byteCount = type.byteCount(elementCount: Int(elements)) else {
            throw GGUFError.sizeOverflow(tensor: name, dimensions: dimensions, type: type)
        }
        return RawTensorInfo(
            name: name, start: start, dimensions: dimensions.map { Int($0) }, type: type, elementCount: Int(elements),
            byteCount: byteCount, offset: dataOffset)
    }
}
