import ExactText
import JSONReader
import TensorData

/// A safetensors file that does not follow the format (docs/formats.md, "safetensors"), or a
/// request the format cannot represent.
///
/// Byte offsets are absolute positions in the file. Names and keys from the file are quoted as
/// they are read (``Swift/String/quotedForMessage``); the command escapes them when it shows them.
/// Messages are one sentence:
/// `at byte 8: header is not valid JSON: …`, `tensor "fc.weight" at byte 120: …`.
public enum SafetensorsError: Error, Equatable, CustomStringConvertible {
    /// Fewer than 8 bytes: no room for the header length.
    case fileTooSmall(size: Int)
    /// The declared header length exceeds the 100,000,000-byte limit.
    case headerTooLarge(declared: UInt64, limit: Int)
    /// The declared header length runs past the end of the file.
    case headerBeyondFile(declared: UInt64, available: Int)
    /// The header bytes are not valid UTF-8.
    case invalidUTF8(at: Int)
    /// The header is not strict JSON, or holds what cannot be read exactly (a lone surrogate,
    /// a number beyond a 64-bit float, nesting deeper than the reference allows).
    case invalidJSON(JSONError)
    /// The header's top-level JSON value is not an object.
    case headerNotAnObject(found: String, at: Int)
    /// A key appears twice in one JSON object (the format forbids duplicates); `at` is the
    /// second occurrence.
    case duplicateKey(String, inObject: String, at: Int)
    /// `__metadata__` is not an object (or null).
    case metadataNotAnObject(found: String, at: Int)
    /// A `__metadata__` value is not a string.
    case metadataValueNotString(key: String, found: String, at: Int)
    /// A tensor entry is not an object.
    case entryNotAnObject(tensor: String, found: String, at: Int)
    /// A tensor entry lacks `dtype`, `shape` or `data_offsets`; `at` is the entry's `{`.
    case missingField(tensor: String, field: String, at: Int)
    /// A tensor entry's field has the wrong JSON type or form; `at` is the offending value.
    case invalidField(tensor: String, field: String, expected: String, found: String, at: Int)
    /// A dtype string outside the closed list.
    case unknownDType(tensor: String, found: String, at: Int)
    /// The shape's element count, or its bit count, overflows 64 bits.
    case sizeOverflow(tensor: String, shape: [UInt64], dtype: DType)
    /// Sub-byte elements that do not fill a whole number of bytes (the reference's MisalignedSlice).
    case partialByte(tensor: String, elements: Int, dtype: DType)
    /// `data_offsets` end before they begin.
    case reversedOffsets(tensor: String, begin: UInt64, end: UInt64)
    /// The byte range length differs from what the dtype and shape need.
    case byteCountMismatch(tensor: String, dtype: DType, shape: [Int], expected: Int, found: UInt64)
    /// Sorted by offset, a tensor does not start where the previous one ended (a gap, an overlap,
    /// or two names for one range).
    case offsetsNotContiguous(tensor: String, expectedBegin: Int, found: UInt64)
    /// The tensors do not cover the data section exactly to the end of the file.
    case dataNotCovered(expectedFileSize: Int, actualFileSize: Int)
    /// A tensor named `__metadata__` cannot be written (readers would take it for the metadata).
    case reservedTensorName
    /// A dtype with no safetensors spelling (complex128, complex32).
    case unrepresentableDType(tensor: String, dtype: DType)
    /// The header the writer would produce exceeds the 100,000,000-byte limit.
    case headerTooLargeToWrite(size: Int)
    /// Two tensors with the same name given to the writer.
    case duplicateTensorName(String)

    public var description: String {
        switch self {
        case .fileTooSmall(let size):
            return "at byte 0: file has \(size) bytes; expected at least 8 (the header length)"
        case .headerTooLarge(let declared, let limit):
            return "at byte 0: header length \(declared) exceeds the limit of \(limit) bytes"
        case .headerBeyondFile(let declared, let available):
            return "at byte 0: header length \(declared) runs past the end of the file (\(available) bytes follow the length)"
        case .invalidUTF8(let at):
            return "at byte \(at): header is not valid UTF-8"
        case .invalidJSON(let error):
            return "at byte \(error.offset): header is not valid JSON: \(error.fault)"
        case .headerNotAnObject(let found, let at):
            return "at byte \(at): header is a JSON \(found); expected an object"
        case .duplicateKey(let key, let object, let at):
            return "at byte \(at): key \(key.quotedForMessage) appears twice in \(object); the format forbids duplicate keys"
        case .metadataNotAnObject(let found, let at):
            return "at byte \(at): __metadata__ is a JSON \(found); expected an object of strings"
        case .metadataValueNotString(let key, let found, let at):
            return "at byte \(at): __metadata__ value \(key.quotedForMessage) is a JSON \(found); expected a string"
        case .entryNotAnObject(let tensor, let found, let at):
            return "tensor \(tensor.quotedForMessage) at byte \(at): entry is a JSON \(found); expected an object with dtype, shape and data_offsets"
        case .missingField(let tensor, let field, let at):
            return "tensor \(tensor.quotedForMessage) at byte \(at): missing \"\(field)\""
        case .invalidField(let tensor, let field, let expected, let found, let at):
            return "tensor \(tensor.quotedForMessage) at byte \(at): \"\(field)\" is \(found); expected \(expected)"
        case .unknownDType(let tensor, let found, let at):
            return "tensor \(tensor.quotedForMessage) at byte \(at): unknown dtype \(found.quotedForMessage); expected one of \(DType.safetensorsCases.map(\.rawValue).joined(separator: " "))"
        case .sizeOverflow(let tensor, let shape, let dtype):
            return "tensor \(tensor.quotedForMessage): size of \(dtype) \(shape) overflows 64 bits"
        case .partialByte(let tensor, let elements, let dtype):
            return "tensor \(tensor.quotedForMessage): \(elements) elements of \(dtype) (\(dtype.bitWidth) bits) do not fill whole bytes"
        case .reversedOffsets(let tensor, let begin, let end):
            return "tensor \(tensor.quotedForMessage): data_offsets [\(begin), \(end)] end before they begin"
        case .byteCountMismatch(let tensor, let dtype, let shape, let expected, let found):
            return "tensor \(tensor.quotedForMessage): \(dtype) \(shape) needs \(expected) bytes; data_offsets give \(found)"
        case .offsetsNotContiguous(let tensor, let expectedBegin, let found):
            return "tensor \(tensor.quotedForMessage): data begins at buffer offset \(found); expected \(expectedBegin) (tensors must tile the buffer with no gap or overlap)"
        case .dataNotCovered(let expected, let actual):
            return actual > expected
                ? "at byte \(expected): \(actual - expected) bytes follow the last tensor; expected the file to end there"
                : "at byte \(actual): file is truncated; the header describes \(expected) bytes, \(expected - actual) are missing"
        case .reservedTensorName:
            return "tensor name \"__metadata__\" is reserved for the metadata"
        case .unrepresentableDType(let tensor, let dtype):
            return "tensor \(tensor.quotedForMessage): \(dtype.torchName ?? dtype.rawValue) has no safetensors dtype"
        case .headerTooLargeToWrite(let size):
            return "header would be \(size) bytes; the format allows at most 100000000"
        case .duplicateTensorName(let name):
            return "tensor \(name.quotedForMessage) given twice"
        }
    }
}
