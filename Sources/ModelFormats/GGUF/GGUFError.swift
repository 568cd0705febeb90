import BinaryIO
import TensorData

/// A part of a GGUF header, for messages: which length, count or field an error is about.
public enum GGUFField: Sendable, Equatable, CustomStringConvertible {
    /// A field of the fixed header: `"magic"`, `"version"`, `"tensor count"`, `"metadata count"`.
    case header(String)
    /// The key of metadata entry `index` (counting from 0).
    case key(index: Int)
    /// The type or value of the metadata entry `key`.
    case value(key: String)
    /// Item `index` of the array under `key` (nested arrays add further items).
    case item(key: String, index: Int)
    /// The name of tensor info `index` (counting from 0).
    case tensorName(index: Int)
    /// A field of tensor `tensor`'s info: `"dimension count"`, `"dimension 1"`, `"type"`, `"offset"`.
    case tensorInfo(tensor: String, field: String)

    public var description: String {
        switch self {
        case .header(let name): return name
        case .key(let index): return "key of metadata entry \(index)"
        case .value(let key): return "value of \"\(key)\""
        case .item(let key, let index): return "item \(index) of \"\(key)\""
        case .tensorName(let index): return "name of tensor \(index)"
        case .tensorInfo(let tensor, let field): return "\(field) of tensor \"\(tensor)\""
        }
    }
}

/// A GGUF file that does not follow the format (docs/formats.md, "GGUF"), or a request the format
/// cannot represent.
///
/// Byte offsets are absolute positions in the file. Each message is one line naming the place:
/// `at byte 24: value of "general.name": string length 4096 runs past the end of the file (12 bytes remain)`.
public enum GGUFError: Error, Equatable, CustomStringConvertible {
    /// The first four bytes are not `GGUF`.
    case notGGUF(found: [UInt8])
    /// The file ends inside a fixed-size field.
    case truncated(field: GGUFField, at: Int, needed: Int, available: Int)
    /// The version reads as a byte-swapped number: a big-endian file.
    case bigEndian(version: UInt32)
    /// A version other than 2 or 3.
    case unsupportedVersion(UInt32)
    /// A count that cannot fit in the bytes that follow, even if every item took its smallest size.
    case countTooLarge(field: GGUFField, at: Int, declared: UInt64, bytesPerItem: Int, available: Int)
    /// A string whose length runs past the end of the file.
    case lengthPastEnd(field: GGUFField, at: Int, declared: UInt64, available: Int)
    /// A key or tensor name that is not UTF-8 (gguf-py decodes both as UTF-8).
    case invalidUTF8(field: GGUFField, at: Int)
    /// A value type number outside the thirteen GGUF defines.
    case unknownValueType(field: GGUFField, at: Int, raw: UInt32)
    /// Arrays nested deeper than the limit.
    case nestingTooDeep(field: GGUFField, at: Int, limit: Int)
    /// A BOOL stored as a byte other than 0 or 1.
    case invalidBool(field: GGUFField, at: Int, byte: UInt8)
    /// A metadata key that appears twice.
    case duplicateKey(String, at: Int, firstAt: Int)
    /// `general.alignment` is not a UINT32.
    case alignmentType(found: GGUFValueType)
    /// `general.alignment` is not a non-zero power of two.
    case alignmentValue(UInt32)
    /// Two tensor infos with the same name.
    case duplicateTensorName(String, at: Int)
    /// More dimensions than the reading limit (`maxTensorRank`).
    case tooManyDimensions(tensor: String, at: Int, declared: UInt32, limit: Int)
    /// A ggml type number gguf-py does not define.
    case unknownGGMLType(tensor: String, at: Int, raw: UInt32)
    /// The product of the dimensions (or the byte size) overflows.
    case sizeOverflow(tensor: String, dimensions: [UInt64], type: GGMLType)
    /// A block type whose rows (the first GGUF dimension) are not a whole number of blocks.
    case rowNotWholeBlocks(tensor: String, type: GGMLType, rowLength: UInt64)
    /// A tensor offset that is not a multiple of the alignment.
    case misalignedOffset(tensor: String, offset: UInt64, alignment: Int)
    /// A tensor whose bytes run past the end of the file.
    case tensorPastEnd(tensor: String, start: UInt64, byteCount: Int, fileSize: Int)
    /// Two tensors whose byte ranges overlap.
    case tensorsOverlap(tensor: String, other: String, at: Int)
    /// A block type modelfile lists and copies but does not turn into values.
    case cannotDequantize(tensor: String, type: GGMLType)
    /// An array item of another type than the array's.
    case arrayItemTypeMismatch(index: Int, expected: GGUFValueType, found: GGUFValueType)
    /// A dtype with no GGUF tensor type (the writer was asked to store it).
    case noGGUFType(tensor: String, dtype: DType)
    /// The writer was given two tensors with one name.
    case tensorNameGivenTwice(String)
    /// The writer was given one metadata key twice.
    case keyGivenTwice(String)
    /// The writer was given bytes of the wrong size for a tensor.
    case tensorByteCount(tensor: String, expected: Int, found: Int)
    /// A tensor cannot be quantized to `type` (its rows are not whole blocks).
    case cannotQuantize(tensor: String, type: GGMLType, shape: [Int])

    /// The tensor the error names, if any (its description then starts with it or its byte).
    public var tensor: String? {
        switch self {
        case .tooManyDimensions(let tensor, _, _, _), .unknownGGMLType(let tensor, _, _), .sizeOverflow(let tensor, _, _),
             .rowNotWholeBlocks(let tensor, _, _), .misalignedOffset(let tensor, _, _), .tensorPastEnd(let tensor, _, _, _),
             .tensorsOverlap(let tensor, _, _), .cannotDequantize(let tensor, _), .noGGUFType(let tensor, _),
             .tensorByteCount(let tensor, _, _), .cannotQuantize(let tensor, _, _):
            return tensor
        case .duplicateTensorName(let name, _), .tensorNameGivenTwice(let name):
            return name
        default:
            return nil
        }
    }

    public var description: String {
        switch self {
        case .notGGUF(let found):
            return "at byte 0: magic is \(found.map { String(format2: $0) }.joined(separator: " ")); expected 47 47 55 46 (\"GGUF\")"
        case .truncated(let field, let at, let needed, let available):
            return "at byte \(at): file ends inside the \(field); needed \(needed) bytes, \(available) remain"
        case .bigEndian(let version):
            return "at byte 4: version reads as \(version), a byte-swapped number: this is a big-endian GGUF file, which modelfile does not read"
        case .unsupportedVersion(let version):
            return "at byte 4: GGUF version \(version); modelfile reads versions 2 and 3"
        case .countTooLarge(let field, let at, let declared, let perItem, let available):
            return "at byte \(at): \(field) \(declared) cannot fit in the \(available) bytes that follow (each takes at least \(perItem))"
        case .lengthPastEnd(let field, let at, let declared, let available):
            return "at byte \(at): \(field): string length \(declared) runs past the end of the file (\(available) bytes remain)"
        case .invalidUTF8(let field, let at):
            return "at byte \(at): \(field) is not valid UTF-8"
        case .unknownValueType(let field, let at, let raw):
            return "at byte \(at): \(field): unknown value type \(raw); expected 0…12"
        case .nestingTooDeep(let field, let at, let limit):
            return "at byte \(at): \(field): arrays nested more than \(limit) deep"
        case .invalidBool(let field, let at, let byte):
            return "at byte \(at): \(field): BOOL byte is \(byte); expected 0 or 1"
        case .duplicateKey(let key, let at, let firstAt):
            return "at byte \(at): key \"\(key)\" appears twice (first at byte \(firstAt)); the format forbids duplicate keys"
        case .alignmentType(let found):
            return "general.alignment is \(found.name); expected UINT32"
        case .alignmentValue(let value):
            return "general.alignment is \(value); expected a non-zero power of two"
        case .duplicateTensorName(let name, let at):
            return "at byte \(at): tensor \"\(name)\" is listed twice"
        case .tooManyDimensions(let tensor, let at, let declared, let limit):
            return "at byte \(at): tensor \"\(tensor)\" declares \(declared) dimensions; the limit is \(limit)"
        case .unknownGGMLType(let tensor, let at, let raw):
            return "at byte \(at): tensor \"\(tensor)\" has unknown ggml type \(raw)"
        case .sizeOverflow(let tensor, let dimensions, let type):
            return "tensor \"\(tensor)\": size of \(type.name) \(dimensions) (GGUF order) overflows 64 bits"
        case .rowNotWholeBlocks(let tensor, let type, let rowLength):
            return "tensor \"\(tensor)\": rows of \(rowLength) elements are not whole \(type.name) blocks of \(type.blockElementCount)"
        case .misalignedOffset(let tensor, let offset, let alignment):
            return "tensor \"\(tensor)\": data offset \(offset) is not a multiple of the alignment \(alignment)"
        case .tensorPastEnd(let tensor, let start, let byteCount, let fileSize):
            return "tensor \"\(tensor)\": \(byteCount) bytes at byte \(start) run past the end of the \(fileSize)-byte file (truncated, as by an interrupted download?)"
        case .tensorsOverlap(let tensor, let other, let at):
            return "tensor \"\(tensor)\": data at byte \(at) overlaps tensor \"\(other)\""
        case .cannotDequantize(let tensor, let type):
            return "tensor \"\(tensor)\": \(type.name) blocks are listed and copied, but modelfile does not turn them into values"
        case .arrayItemTypeMismatch(let index, let expected, let found):
            return "array item \(index) is \(found.name); the array holds \(expected.name)"
        case .noGGUFType(let tensor, let dtype):
            return "tensor \"\(tensor)\": \(dtype) has no GGUF tensor type (GGUF stores F32, F16, BF16, F64, I8, I16, I32, I64 and block types)"
        case .tensorNameGivenTwice(let name):
            return "tensor \"\(name)\" given twice"
        case .keyGivenTwice(let key):
            return "metadata key \"\(key)\" given twice"
        case .tensorByteCount(let tensor, let expected, let found):
            return "tensor \"\(tensor)\": \(found) bytes given; its type and shape need \(expected)"
        case .cannotQuantize(let tensor, let type, let shape):
            return "tensor \"\(tensor)\": shape \(shape) has rows that are not whole \(type.name) blocks of \(type.blockElementCount)"
        }
    }
}

extension String {
    /// Two lower-case hex digits.
    init(format2 byte: UInt8) {
        let digits = Array("0123456789abcdef")
        self = String([digits[Int(byte >> 4)], digits[Int(byte & 0xF)]])
    }
}

extension GGUFError: LimitReporting {
    /// `maxTensorRank` for a tensor that declares more dimensions than the limit.
    public var exceededLimit: ExceededLimit? {
        guard case .tooManyDimensions(_, _, _, let limit) = self else { return nil }
        return ExceededLimit(name: "maxTensorRank", value: limit)
    }
}
