import ExactText
import JSONReader
import TensorData

// The safetensors header: an unsigned 64-bit little-endian length N, then N bytes of UTF-8 JSON,
// then the data buffer. Every rule is in docs/formats.md ("safetensors"); validation follows the
// reference reader in the same order, with one deliberate difference: a key that appears twice
// in any object is refused rather than resolved "last one wins" (docs/security.md).
//
// The header is read straight from the mapped bytes by a JSONCursor (no tree): each entry becomes
// a SafetensorsTensorInfo as it is read. Names and metadata keys are kept byte for byte and
// compared by their bytes, so two keys that differ only by Unicode normalization are two tensors,
// as in the reference.

/// One tensor's entry in a safetensors header.
public struct SafetensorsTensorInfo: Sendable, Equatable {
    /// The tensor's name (the JSON key), byte for byte.
    public let name: String
    /// Element type.
    public let dtype: DType
    /// Dimensions.
    public let shape: Shape
    /// Byte range within the data buffer (relative to the buffer's start).
    public let dataRange: Range<Int>

    public static func == (lhs: SafetensorsTensorInfo, rhs: SafetensorsTensorInfo) -> Bool {
        lhs.name.isByteEqual(to: rhs.name) && lhs.dtype == rhs.dtype && lhs.shape == rhs.shape && lhs.dataRange == rhs.dataRange
    }
}

/// A validated safetensors header.
public struct SafetensorsHeader: Sendable, Equatable {
    /// The reference reader's limit on the header length, in bytes.
    public static let maxHeaderBytes = 100_000_000

    /// `__metadata__`, or `nil` when absent (or JSON null). Keys compare by their bytes.
    public let metadata: [ExactString: String]?
    /// The metadata keys in header order.
    public let metadataKeys: [String]
    /// Tensor entries in header (JSON) order.
    public let tensors: [SafetensorsTensorInfo]
    /// The header length N from the first 8 bytes.
    public let headerByteCount: Int
    /// File offset of the data buffer: 8 + N.
    public var dataStart: Int { 8 + headerByteCount }

    public static func == (lhs: SafetensorsHeader, rhs: SafetensorsHeader) -> Bool {
        lhs.metadata == rhs.metadata && lhs.metadataKeys.map { ExactString($0) } == rhs.metadataKeys.map { ExactString($0) }
            && lhs.tensors == rhs.tensors && lhs.headerByteCount == rhs.headerByteCount
    }

    /// Parses and validates the header of a complete file. Nothing beyond the header is read,
    /// but the file's total length must match what the header describes exactly.
    ///
    /// When the header has several faults, a JSON fault (anywhere) is reported before a fault
    /// in what the JSON says, and those before faults in the data layout.
    ///
    /// - Parameter file: the whole file's bytes (only the first 8 + N are read).
    /// - Throws: `SafetensorsError` naming the first fault found.
    public static func parse(file: UnsafeRawBufferPointer) throws -> SafetensorsHeader {
        try parse(prefix: file, fileByteCount: file.count)
    }

    /// Parses and validates the header from the first bytes of a file of `fileByteCount` bytes
    /// (remote inspect fetches only these): the same checks as ``parse(file:)``.
    ///
    /// - Parameter prefix: the file's first bytes, at least 8 + N of them (or the whole file).
    /// - Throws: `SafetensorsError` naming the first fault found.
    public static func parse(prefix file: UnsafeRawBufferPointer, fileByteCount: Int) throws -> SafetensorsHeader {
        guard fileByteCount >= 8, file.count >= 8 else { throw SafetensorsError.fileTooSmall(size: min(fileByteCount, file.count)) }
        let declared = UInt64(littleEndian: file.loadUnaligned(fromByteOffset: 0, as: UInt64.self))
        guard declared <= UInt64(maxHeaderBytes) else {
            throw SafetensorsError.headerTooLarge(declared: declared, limit: maxHeaderBytes)
        }
        let headerLength = Int(declared)  // ≤ 1e8, so the conversion cannot trap
        guard headerLength <= fileByteCount - 8, headerLength <= file.count - 8 else {
            throw SafetensorsError.headerBeyondFile(declared: declared, available: min(fileByteCount, file.count) - 8)
        }
        let text = UnsafeRawBufferPointer(rebasing: file[8..<(8 + headerLength)])
        // The reference checks UTF-8 over the whole header before it parses any JSON.
        if let bad = UTF8Check.firstInvalidByte(text) { throw SafetensorsError.invalidUTF8(at: 8 + bad) }

        var reader = EntryReader(text: text)
        do {
            try reader.read()
        } catch let fault as SafetensorsError {
            throw preferringJSONFaults(fault, text: text)
        }
        try validateLayout(reader.tensors, dataBytes: fileByteCount - 8 - headerLength, dataStart: 8 + headerLength)
        return SafetensorsHeader(
            metadata: reader.metadata, metadataKeys: reader.metadataKeys, tensors: reader.tensors, headerByteCount: headerLength)
    }

    /// The offset JSON uses for a header's bytes.
    static let textOffset = 8

    /// The fault to report when reading entries stopped at `fault`: a JSON fault anywhere in
    /// the text comes first (the reference parses the whole text before it looks at entries).
    private static func preferringJSONFaults(_ fault: SafetensorsError, text: UnsafeRawBufferPointer) -> SafetensorsError {
        do {
            _ = try JSONNode.parse(text, offsetBase: textOffset)
            return fault
        } catch {
            switch fault {
            case .invalidJSON(let found) where found == error: return fault
            case .duplicateKey(_, _, let at) where at == error.offset: return fault  // same place, with its context
            default: return SafetensorsError(error)
            }
        }
    }

    /// Sorted by (begin, end), the ranges must start at 0, follow each other with no gap or
    /// overlap, and end exactly at the end of the file.
    private static func validateLayout(_ tensors: [SafetensorsTensorInfo], dataBytes: Int, dataStart: Int) throws {
        var inOrder = true
        for k in tensors.indices.dropFirst() {
            let previous = tensors[k - 1].dataRange, next = tensors[k].dataRange
            if (previous.lowerBound, previous.upperBound) > (next.lowerBound, next.upperBound) {
                inOrder = false
                break
            }
        }
        let ordered = inOrder ? Array(tensors.indices) : tensors.indices.sorted {
            (tensors[$0].dataRange.lowerBound, tensors[$0].dataRange.upperBound, $0)
                < (tensors[$1].dataRange.lowerBound, tensors[$1].dataRange.upperBound, $1)
        }
        var expected = 0
        for index in ordered {
            let info = tensors[index]
            guard info.dataRange.lowerBound == expected else {
                throw SafetensorsError.offsetsNotContiguous(tensor: info.name, expectedBegin: expected, found: UInt64(info.dataRange.lowerBound))
            }
            expected = info.dataRange.upperBound
        }
        guard expected == dataBytes else {
            throw SafetensorsError.dataNotCovered(expectedFileSize: dataStart + expected, actualFileSize: dataStart + dataBytes)
        }
    }

    /// The offset of the first byte that starts an invalid UTF-8 sequence, or `nil`.
    static func firstInvalidUTF8(_ bytes: UnsafeRawBufferPointer) -> Int? { UTF8Check.firstInvalidByte(bytes) }
}

extension SafetensorsError {
    /// The error for a JSON fault in a header.
    init(_ error: JSONError) {
        if case .duplicateKey(let key) = error.fault {
            self = .duplicateKey(key, inObject: "a JSON object", at: error.offset)
        } else {
            self = .invalidJSON(error)
        }
    }
}

/// Reads a header's JSON into tensor entries and metadata, one member at a time.
private struct EntryReader {
    var cursor: JSONCursor
    var tensors: [SafetensorsTensorInfo] = []
    var metadata: [ExactString: String]?
    var metadataKeys: [String] = []
    /// The shape being read (reused, so an entry allocates only its final `Shape`).
    var shapeScratch: [UInt64] = []

    init(text: UnsafeRawBufferPointer) {
        cursor = JSONCursor(text, offsetBase: SafetensorsHeader.textOffset)
    }

    /// Reads the whole header; JSON faults become `SafetensorsError.invalidJSON`.
    mutating func read() throws {
        do {
            try readHeader()
        } catch let error as JSONError {
            throw SafetensorsError(error)
        }
    }

    private mutating func readHeader() throws {
        let kind = try cursor.peekKind()
        guard kind == .object else {
            let at = cursor.offset
            try cursor.skipValue()
            try cursor.finish()
            throw SafetensorsError.headerNotAnObject(found: kind.name, at: at)
        }
        try cursor.beginObject()
        // A typical entry takes 60–90 bytes of JSON.
        let estimate = min(cursor.remainingByteCount / 64, 1 << 20)
        tensors.reserveCapacity(estimate)
        var names = Set<ExactString>(minimumCapacity: estimate)
        var sawMetadata = false
        while let key = try cursor.nextKey() {
            if cursor.token(key, equals: "__metadata__") {
                guard !sawMetadata else { throw SafetensorsError.duplicateKey("__metadata__", inObject: "the header", at: key.offset) }
                sawMetadata = true
                try readMetadata()
                continue
            }
            let name = cursor.string(key)
            guard names.insert(ExactString(name)).inserted else {
                throw SafetensorsError.duplicateKey(name, inObject: "the header", at: key.offset)
            }
            tensors.append(try readEntry(name: name))
        }
        try cursor.finish()
    }

    /// `__metadata__`: null (absent) or an object of strings.
    private mutating func readMetadata() throws {
        let at = cursor.nextValueOffset()
        switch try cursor.peekKind() {
        case .null:
            _ = try cursor.readNullIfPresent()
        case .object:
            try cursor.beginObject()
            var entries: [ExactString: String] = [:]
            while let key = try cursor.nextKey() {
                let name = cursor.string(key)
                guard entries[ExactString(name)] == nil else {
                    throw SafetensorsError.duplicateKey(name, inObject: "__metadata__", at: key.offset)
                }
                let valueAt = cursor.nextValueOffset()
                let kind = try cursor.peekKind()
                guard kind == .string else {
                    try cursor.skipValue()
                    throw SafetensorsError.metadataValueNotString(key: name, found: kind.name, at: valueAt)
                }
                entries[ExactString(name)] = cursor.string(try cursor.readString())
                metadataKeys.append(name)
            }
            metadata = entries
        case let kind:
            try cursor.skipValue()
            throw SafetensorsError.metadataNotAnObject(found: kind.name, at: at)
        }
    }

    /// One tensor entry: `{"dtype": …, "shape": […], "data_offsets": [b, e]}` plus any other
    /// members, which are checked as JSON and otherwise ignored (as the reference does).
    private mutating func readEntry(name: String) throws -> SafetensorsTensorInfo {
        let entryAt = cursor.nextValueOffset()
        let kind = try cursor.peekKind()
        guard kind == .object else {
            try cursor.skipValue()
            throw SafetensorsError.entryNotAnObject(tensor: name, found: kind.name, at: entryAt)
        }
        try cursor.beginObject()
        var dtype: DType?
        var sawShape = false
        var offsets: (UInt64, UInt64)?
        var offsetsAt = entryAt
        var otherKeys: [String] = []
        while let key = try cursor.nextKey() {
            if cursor.token(key, equals: "dtype") {
                guard dtype == nil else { throw SafetensorsError.duplicateKey("dtype", inObject: "tensor \(name.quotedForMessage)", at: key.offset) }
                dtype = try readDType(tensor: name)
            } else if cursor.token(key, equals: "shape") {
                guard !sawShape else { throw SafetensorsError.duplicateKey("shape", inObject: "tensor \(name.quotedForMessage)", at: key.offset) }
                sawShape = true
                try readShape(tensor: name)
            } else if cursor.token(key, equals: "data_offsets") {
                guard offsets == nil else {
                    throw SafetensorsError.duplicateKey("data_offsets", inObject: "tensor \(name.quotedForMessage)", at: key.offset)
                }
                offsetsAt = cursor.nextValueOffset()
                offsets = try readOffsets(tensor: name)
            } else {
                let other = cursor.string(key)
                guard !otherKeys.contains(where: { $0.isByteEqual(to: other) }) else {
                    throw SafetensorsError.duplicateKey(other, inObject: "tensor \(name.quotedForMessage)", at: key.offset)
                }
                otherKeys.append(other)
                try cursor.skipValue()
            }
        }
        guard let dtype else { throw SafetensorsError.missingField(tensor: name, field: "dtype", at: entryAt) }
        guard sawShape else { throw SafetensorsError.missingField(tensor: name, field: "shape", at: entryAt) }
        guard let (begin, end) = offsets else { throw SafetensorsError.missingField(tensor: name, field: "data_offsets", at: entryAt) }
        return try SafetensorsHeader.entry(name: name, dtype: dtype, rawShape: shapeScratch, begin: begin, end: end, offsetsAt: offsetsAt)
    }

    private mutating func readDType(tensor name: String) throws -> DType {
        let at = cursor.nextValueOffset()
        guard try cursor.peekKind() == .string else {
            let found = try cursor.readValue()
            throw SafetensorsError.invalidField(tensor: name, field: "dtype", expected: "a string", found: found.summary, at: at)
        }
        let token = try cursor.readString()
        if !token.hasEscapes {
            let packed = cursor.packedRawBytes(token)
            for (count, low, high, dtype) in SafetensorsHeader.dtypeSpellings where count == packed.count && low == packed.low && high == packed.high {
                return dtype
            }
        } else {
            for dtype in DType.safetensorsCases where cursor.token(token, equals: dtype.staticName) { return dtype }
        }
        throw SafetensorsError.unknownDType(tensor: name, found: cursor.string(token), at: at)
    }

    /// An array of non-negative integers below 2^64.
    /// The dimensions go into `shapeScratch`, reused from entry to entry.
    private mutating func readShape(tensor name: String) throws {
        let at = cursor.nextValueOffset()
        let start = cursor.mark()
        let depth = cursor.depth
        shapeScratch.removeAll(keepingCapacity: true)
        if try cursor.peekKind() == .array {
            try cursor.beginArray()
            while try cursor.nextElement() {
                guard let dimension = try cursor.readUnsignedIfPresent() else { break }
                shapeScratch.append(dimension)
            }
            if cursor.depth == depth { return }
        }
        // Not an array of such integers: read it again as JSON to say what it is.
        cursor.rewind(to: start)
        let value = try cursor.readValue()
        guard let items = value.arrayValue else {
            throw SafetensorsError.invalidField(
                tensor: name, field: "shape", expected: "an array of non-negative integers", found: value.summary, at: at)
        }
        let bad = items.first { $0.numberValue?.unsigned == nil } ?? value
        throw SafetensorsError.invalidField(
            tensor: name, field: "shape", expected: "non-negative integers below 2^64", found: bad.summary, at: at)
    }

    /// `[begin, end]`, non-negative integers below 2^64.
    private mutating func readOffsets(tensor name: String) throws -> (UInt64, UInt64) {
        let at = cursor.nextValueOffset()
        let start = cursor.mark()
        if try cursor.peekKind() == .array {
            try cursor.beginArray()
            if try cursor.nextElement(), let begin = try cursor.readUnsignedIfPresent(),
                try cursor.nextElement(), let end = try cursor.readUnsignedIfPresent(),
                !(try cursor.nextElement())
            {
                return (begin, end)
            }
        }
        cursor.rewind(to: start)
        let value = try cursor.readValue()
        guard let items = value.arrayValue, items.count == 2 else {
            throw SafetensorsError.invalidField(tensor: name, field: "data_offsets", expected: "[begin, end]", found: value.summary, at: at)
        }
        throw SafetensorsError.invalidField(
            tensor: name, field: "data_offsets", expected: "non-negative integers below 2^64",
            found: "[\(items[0].summary), \(items[1].summary)]", at: at)
    }
}

extension SafetensorsHeader {
    /// An entry from its parsed fields, with the size checks the reference makes.
    ///
    /// - Parameter offsetsAt: where `data_offsets` is in the file, for messages.
    static func entry(name: String, dtype: DType, rawShape: [UInt64], begin: UInt64, end: UInt64, offsetsAt: Int) throws -> SafetensorsTensorInfo {
        guard begin <= end else { throw SafetensorsError.reversedOffsets(tensor: name, begin: begin, end: end) }
        // Element count and bit count, overflow-checked in 64 bits, as the reference does.
        var elements: UInt64 = 1
        for dimension in rawShape {
            let (product, overflow) = elements.multipliedReportingOverflow(by: dimension)
            guard !overflow else { throw SafetensorsError.sizeOverflow(tensor: name, shape: rawShape, dtype: dtype) }
            elements = product
        }
        let (bits, overflow) = elements.multipliedReportingOverflow(by: UInt64(dtype.bitWidth))
        guard !overflow, elements <= UInt64(Int.max) else { throw SafetensorsError.sizeOverflow(tensor: name, shape: rawShape, dtype: dtype) }
        guard bits % 8 == 0 else { throw SafetensorsError.partialByte(tensor: name, elements: Int(elements), dtype: dtype) }
        let byteCount = bits / 8
        // Every dimension is ≤ the element count (or the count is 0), so each fits in Int
        // once the count does; with a zero dimension, others could still be huge.
        var dimensions: [Int] = []
        dimensions.reserveCapacity(rawShape.count)
        for dimension in rawShape {
            guard dimension <= UInt64(Int.max) else { throw SafetensorsError.sizeOverflow(tensor: name, shape: rawShape, dtype: dtype) }
            dimensions.append(Int(dimension))
        }
        guard end - begin == byteCount else {
            throw SafetensorsError.byteCountMismatch(tensor: name, dtype: dtype, shape: dimensions, expected: Int(byteCount), found: end - begin)
        }
        // Offsets are checked against the buffer in validateLayout; here they only need to fit Int.
        guard end <= UInt64(Int.max) else {
            throw SafetensorsError.invalidField(
                tensor: name, field: "data_offsets", expected: "offsets within the file", found: "[\(begin), \(end)]", at: offsetsAt)
        }
        return SafetensorsTensorInfo(name: name, dtype: dtype, shape: Shape(dimensions), dataRange: Int(begin)..<Int(end))
    }
}

extension SafetensorsHeader {
    /// Each dtype's spelling packed as ``JSONCursor/packedRawBytes(_:)`` packs a token (every
    /// spelling is shorter than 16 bytes).
    static let dtypeSpellings: [(Int, UInt64, UInt64, DType)] = DType.safetensorsCases.map { dtype in
        let bytes = Array(dtype.rawValue.utf8)
        var low: UInt64 = 0, high: UInt64 = 0
        for (k, byte) in bytes.enumerated() {
            if k < 8 { low |= UInt64(byte) << (8 * UInt64(k)) } else { high |= UInt64(byte) << (8 * UInt64(k - 8)) }
        }
        return (bytes.count, low, high, dtype)
    }
}

extension DType {
    /// The safetensors spelling as a static string, for byte comparisons without building a `String`.
    var staticName: StaticString {
        switch self {
        case .bool: return "BOOL"
        case .f4: return "F4"
        case .f6e2m3: return "F6_E2M3"
        case .f6e3m2: return "F6_E3M2"
        case .u8: return "U8"
        case .i8: return "I8"
        case .f8e5m2: return "F8_E5M2"
        case .f8e4m3: return "F8_E4M3"
        case .f8e8m0: return "F8_E8M0"
        case .f8e4m3fnuz: return "F8_E4M3FNUZ"
        case .f8e5m2fnuz: return "F8_E5M2FNUZ"
        case .i16: return "I16"
        case .u16: return "U16"
        case .f16: return "F16"
        case .bf16: return "BF16"
        case .i32: return "I32"
        case .u32: return "U32"
        case .f32: return "F32"
        case .c64: return "C64"
        case .f64: return "F64"
        case .i64: return "I64"
        case .u64: return "U64"
        case .c128: return "C128"
        case .c32: return "C32"
        }
    }
}
