import TensorData

// The safetensors header: an unsigned 64-bit little-endian length N, then N bytes of UTF-8 JSON,
// then the data buffer. Validation follows the reference reader (safetensors/src/tensor.rs
// `read_metadata` and `Metadata::validate`) in the same order, with one deliberate difference:
// duplicate keys are refused rather than resolved "last one wins" (SECURITY.md rule 8).

/// One tensor's entry in a safetensors header.
public struct SafetensorsTensorInfo: Sendable, Equatable {
    /// The tensor's name (the JSON key).
    public let name: String
    /// Element type.
    public let dtype: DType
    /// Dimensions.
    public let shape: Shape
    /// Byte range within the data buffer (relative to the buffer's start).
    public let dataRange: Range<Int>
}

/// A validated safetensors header.
public struct SafetensorsHeader: Sendable, Equatable {
    /// The reference reader's limit on the header length, in bytes.
    public static let maxHeaderBytes = 100_000_000

    /// `__metadata__`, or `nil` when absent (or JSON null).
    public let metadata: [String: String]?
    /// The metadata keys in header order.
    public let metadataKeys: [String]
    /// Tensor entries in header (JSON) order.
    public let tensors: [SafetensorsTensorInfo]
    /// The header length N from the first 8 bytes.
    public let headerByteCount: Int
    /// File offset of the data buffer: 8 + N.
    public var dataStart: Int { 8 + headerByteCount }

    /// Parses and validates the header of a complete file. Nothing beyond the header is read,
    /// but the file's total length must match what the header describes exactly.
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
        if let bad = firstInvalidUTF8(text) { throw SafetensorsError.invalidUTF8(at: 8 + bad) }

        let document: JSONCDocument
        do {
            document = try JSONCDocument(parsing: text, maxDepth: 16)
        } catch {
            switch error {
            case .tooLarge(let size): throw SafetensorsError.headerTooLarge(declared: UInt64(size), limit: maxHeaderBytes)
            case .syntax(let offset, let reason): throw SafetensorsError.invalidJSON(at: 8 + offset, reason: reason)
            case .duplicateKey(let key): throw SafetensorsError.duplicateKey(key, inObject: "the header")
            }
        }
        guard JSONC.isObject(document.root) else { throw SafetensorsError.headerNotAnObject(found: JSONC.typeName(document.root)) }

        var metadata: [String: String]?
        var metadataKeys: [String] = []
        var tensors: [SafetensorsTensorInfo] = []
        for (key, value) in JSONC.members(document.root) {  // document order
            if key == "__metadata__" {
                guard let value else { continue }  // null means absent
                guard JSONC.isObject(value) else { throw SafetensorsError.metadataNotAnObject(found: JSONC.typeName(value)) }
                var entries: [String: String] = [:]
                for (metadataKey, metadataValue) in JSONC.members(value) {
                    guard let string = JSONC.string(metadataValue) else {
                        throw SafetensorsError.metadataValueNotString(key: metadataKey, found: JSONC.typeName(metadataValue))
                    }
                    entries[metadataKey] = string
                    metadataKeys.append(metadataKey)
                }
                metadata = entries
                continue
            }
            tensors.append(try parseEntry(name: key, value))
        }
        try validateLayout(tensors, dataBytes: fileByteCount - 8 - headerLength, dataStart: 8 + headerLength)
        return SafetensorsHeader(metadata: metadata, metadataKeys: metadataKeys, tensors: tensors, headerByteCount: headerLength)
    }

    private static func parseEntry(name: String, _ value: OpaquePointer?) throws -> SafetensorsTensorInfo {
        guard let entry = value, JSONC.isObject(entry) else {
            throw SafetensorsError.entryNotAnObject(tensor: name, found: JSONC.typeName(value))
        }
        let dtypeField = JSONC.member(entry, "dtype")
        guard dtypeField.present else { throw SafetensorsError.missingField(tensor: name, field: "dtype") }
        guard let dtypeName = JSONC.string(dtypeField.value) else {
            throw SafetensorsError.invalidField(tensor: name, field: "dtype", expected: "a string", found: JSONC.describe(dtypeField.value))
        }
        guard let dtype = DType(safetensorsName: dtypeName) else { throw SafetensorsError.unknownDType(tensor: name, found: dtypeName) }

        let shapeField = JSONC.member(entry, "shape")
        guard shapeField.present else { throw SafetensorsError.missingField(tensor: name, field: "shape") }
        guard let shapeArray = shapeField.value, JSONC.isArray(shapeArray) else {
            throw SafetensorsError.invalidField(tensor: name, field: "shape", expected: "an array of non-negative integers", found: JSONC.describe(shapeField.value))
        }
        let rank = JSONC.arrayCount(shapeArray)
        var rawShape: [UInt64] = []
        rawShape.reserveCapacity(rank)
        for position in 0..<rank {
            let dimension = JSONC.element(shapeArray, position)
            guard let value = JSONC.unsignedInteger(dimension) else {
                throw SafetensorsError.invalidField(tensor: name, field: "shape", expected: "non-negative integers", found: JSONC.describe(dimension))
            }
            rawShape.append(value)
        }

        let offsetsField = JSONC.member(entry, "data_offsets")
        guard offsetsField.present else { throw SafetensorsError.missingField(tensor: name, field: "data_offsets") }
        guard let offsetArray = offsetsField.value, JSONC.isArray(offsetArray), JSONC.arrayCount(offsetArray) == 2 else {
            throw SafetensorsError.invalidField(tensor: name, field: "data_offsets", expected: "[begin, end]", found: JSONC.describe(offsetsField.value))
        }
        let first = JSONC.element(offsetArray, 0), second = JSONC.element(offsetArray, 1)
        guard let begin = JSONC.unsignedInteger(first), let end = JSONC.unsignedInteger(second) else {
            throw SafetensorsError.invalidField(
                tensor: name, field: "data_offsets", expected: "non-negative integers",
                found: "[\(JSONC.describe(first)), \(JSONC.describe(second))]")
        }
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
        guard rawShape.allSatisfy({ $0 <= UInt64(Int.max) }) else {
            throw SafetensorsError.sizeOverflow(tensor: name, shape: rawShape, dtype: dtype)
        }
        let shape = Shape(rawShape.map { Int($0) })
        guard end - begin == byteCount else {
            throw SafetensorsError.byteCountMismatch(tensor: name, dtype: dtype, shape: shape.dimensions, expected: Int(byteCount), found: end - begin)
        }
        // Offsets are checked against the buffer in validateLayout; here they only need to fit Int.
        guard end <= UInt64(Int.max) else {
            throw SafetensorsError.invalidField(tensor: name, field: "data_offsets", expected: "offsets within the file", found: "[\(begin), \(end)]")
        }
        return SafetensorsTensorInfo(name: name, dtype: dtype, shape: shape, dataRange: Int(begin)..<Int(end))
    }

    /// Sorted by (begin, end), the ranges must start at 0, follow each other with no gap or
    /// overlap, and end exactly at the end of the file.
    private static func validateLayout(_ tensors: [SafetensorsTensorInfo], dataBytes: Int, dataStart: Int) throws {
        let ordered = tensors.sorted {
            ($0.dataRange.lowerBound, $0.dataRange.upperBound) < ($1.dataRange.lowerBound, $1.dataRange.upperBound)
        }
        var expected = 0
        for info in ordered {
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
    static func firstInvalidUTF8(_ bytes: UnsafeRawBufferPointer) -> Int? {
        var index = 0
        let count = bytes.count
        while index < count {
            let lead = bytes[index]
            if lead < 0x80 { index += 1; continue }
            let length: Int
            let minimum: UInt32
            switch lead {
            case 0xC2...0xDF: length = 2; minimum = 0x80
            case 0xE0...0xEF: length = 3; minimum = 0x800
            case 0xF0...0xF4: length = 4; minimum = 0x10000
            default: return index
            }
            guard length <= count - index else { return index }
            var scalar = UInt32(lead) & (0xFF >> (length + 1))
            for k in 1..<length {
                let next = bytes[index + k]
                guard next & 0xC0 == 0x80 else { return index }
                scalar = (scalar << 6) | UInt32(next & 0x3F)
            }
            guard scalar >= minimum, scalar <= 0x10FFFF, !(0xD800...0xDFFF).contains(scalar) else { return index }
            index += length
        }
        return nil
    }
}
