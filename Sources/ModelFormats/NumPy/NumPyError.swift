import ZipFormat

/// A `.npy` file or `.npz` member that does not follow the format (docs/formats.md, "NumPy"), or
/// that holds something modelfile does not read.
///
/// ``description`` is one line that names the place: the `.npz` member (its name in the archive)
/// and the byte offset inside the `.npy` bytes (the file, or the member's uncompressed bytes), then
/// the fault and what was expected:
/// `member "w.npy" at byte 62: 'shape' is a list; expected a tuple of ints`.
public struct NumPyError: Error, Equatable, CustomStringConvertible {
    /// The `.npz` member at fault, or `nil` for a `.npy` file (or the archive as a whole).
    public let member: String?
    /// The byte offset inside the `.npy` bytes, when the fault has one.
    public let offset: Int?
    /// What is wrong.
    public let problem: NumPyProblem

    /// An error about `problem` at `offset` of `member`.
    public init(member: String? = nil, offset: Int? = nil, _ problem: NumPyProblem) {
        self.member = member
        self.offset = offset
        self.problem = problem
    }

    /// The same error, attributed to `member`.
    func inMember(_ name: String) -> NumPyError { NumPyError(member: name, offset: offset, problem) }

    /// Text from the file (member names, header text) appears as it is; the command escapes it
    /// once when it shows it (docs/security.md, "Showing text from files").
    public var description: String {
        // Zip errors name the entry and offset themselves.
        if case .zip(let error) = problem { return "\(error)" }
        var place: [String] = []
        if let member { place.append("member \(member.quotedForMessage)") }
        if let offset { place.append("at byte \(offset)") }
        return place.isEmpty ? problem.description : place.joined(separator: " ") + ": " + problem.description
    }
}

/// The faults ``NumPyError`` reports.
public enum NumPyProblem: Error, Equatable, Sendable, CustomStringConvertible {
    // The preamble

    /// Fewer bytes than the magic, version and header length need.
    case preambleTruncated(size: Int, needed: Int)
    /// The first six bytes are not `\x93NUMPY`.
    case badMagic(found: [UInt8])
    /// A format version other than 1.0, 2.0 and 3.0.
    case unsupportedVersion(major: UInt8, minor: UInt8)
    /// The header length runs past the end of the bytes.
    case headerBeyondEnd(declared: Int, available: Int)
    /// The header length exceeds numpy's own default limit.
    case headerTooLarge(declared: Int, limit: Int)
    /// A version 3.0 header that is not UTF-8.
    case headerNotUTF8

    // The header dictionary

    /// The header is not the Python literal numpy writes.
    case syntax(expected: String, found: String)
    /// Lists and tuples nested deeper than the limit.
    case nestedTooDeeply(limit: Int)
    /// A key other than `descr`, `fortran_order` and `shape`.
    case unexpectedKey(String)
    /// A key given twice.
    case duplicateKey(String)
    /// A required key is absent.
    case missingKey(String)
    /// A value of the wrong type (`'shape' is a list; expected a tuple of ints`).
    case wrongType(key: String, found: String, expected: String)
    /// A dimension below zero.
    case negativeDimension(String)
    /// A dimension too large for a 64-bit integer.
    case dimensionTooLarge(String)
    /// More dimensions than the limit (`maxTensorRank`).
    case rankTooHigh(rank: Int, limit: Int)

    // The dtype

    /// A numeric descr outside the supported list, or a dtype modelfile does not read
    /// (`float128`, `datetime64[ns]`, `str`, `void`, …), named as numpy names it.
    case unsupportedDType(descr: String, name: String)
    /// A descr string numpy's format does not produce.
    case unknownDescr(String)
    /// A list of fields: a structured dtype.
    case structuredDType
    /// A `(base, shape)` tuple: a subarray dtype.
    case subarrayDType
    /// An object array (or a structured dtype holding objects): its data is a pickle.
    case objectArray(descr: String)

    // The data

    /// The element count or byte count of the shape overflows 64 bits.
    case sizeOverflow(shape: [Int], descr: String)
    /// The data after the header is not exactly the size the shape and dtype need.
    case dataSizeMismatch(shape: [Int], descr: String, needed: Int, present: Int)

    // The archive

    /// An `.npz` member whose name does not end in `.npy`.
    case notAnArrayMember
    /// The zip container is malformed or refused.
    case zip(ZipError)

    public var description: String {
        switch self {
        case .preambleTruncated(let size, let needed):
            return "\(size) bytes; a .npy file starts with \(needed) bytes of magic, version and header length"
        case .badMagic(let found):
            return "starts with \(NumPyProblem.hex(found)); expected the .npy magic 93 4e 55 4d 50 59 (0x93, then NUMPY)"
        case .unsupportedVersion(let major, let minor):
            return "format version \(major).\(minor); expected 1.0, 2.0 or 3.0"
        case .headerBeyondEnd(let declared, let available):
            return "header length \(declared) runs past the end (\(available) bytes follow the length)"
        case .headerTooLarge(let declared, let limit):
            return "header length \(declared) exceeds numpy's limit of \(limit) bytes"
        case .headerNotUTF8:
            return "a version 3.0 header that is not valid UTF-8"
        case .syntax(let expected, let found):
            return "header: expected \(expected), found \(found)"
        case .nestedTooDeeply(let limit):
            return "header: lists and tuples nest deeper than \(limit) levels"
        case .unexpectedKey(let key):
            return "header key '\(key)'; expected exactly 'descr', 'fortran_order' and 'shape'"
        case .duplicateKey(let key):
            return "header key '\(key)' appears twice"
        case .missingKey(let key):
            return "header has no '\(key)'; expected 'descr', 'fortran_order' and 'shape'"
        case .wrongType(let key, let found, let expected):
            return "'\(key)' is \(found); expected \(expected)"
        case .negativeDimension(let text):
            return "shape dimension \(text) is negative"
        case .dimensionTooLarge(let text):
            return "shape dimension \(text) does not fit in 64 bits"
        case .rankTooHigh(let rank, let limit):
            return "shape has \(rank) dimensions, over the limit of \(limit) (limit maxTensorRank)"
        case .unsupportedDType(let descr, let name):
            return "descr '\(descr)' is \(name), which modelfile does not read; expected bool, int8-64, uint8-64, float16/32/64 or complex64/128"
        case .unknownDescr(let descr):
            return "descr '\(descr)' is not a NumPy dtype; expected a byte order (<, >, |, =), a type code and a size, such as '<f4'"
        case .structuredDType:
            return "descr is a list of fields: a structured dtype, which modelfile does not read"
        case .subarrayDType:
            return "descr is a (dtype, shape) tuple: a subarray dtype, which modelfile does not read"
        case .objectArray(let descr):
            return "an object array (descr '\(descr)'): its data is a pickle, which modelfile never loads (modelfile scan lists what it imports)"
        case .sizeOverflow(let shape, let descr):
            return "shape \(NumPyProblem.tuple(shape)) of '\(descr)' overflows 64 bits"
        case .dataSizeMismatch(let shape, let descr, let needed, let present):
            let what = "shape \(NumPyProblem.tuple(shape)) of '\(descr)' needs \(needed) bytes of data"
            return present < needed
                ? "\(what); \(present) are present (truncated?)"
                : "\(what); \(present) are present (\(present - needed) extra bytes after the array)"
        case .notAnArrayMember:
            return "is not a .npy array; an .npz holds only .npy members"
        case .zip(let error):
            return "\(error)"
        }
    }

    /// `(2, 3)`, `(5,)`, `()`: a shape as Python prints it.
    static func tuple(_ shape: [Int]) -> String {
        shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
    }

    static func hex(_ bytes: [UInt8]) -> String {
        bytes.map { byte in
            let text = String(byte, radix: 16)
            return text.count == 1 ? "0" + text : text
        }.joined(separator: " ")
    }
}
