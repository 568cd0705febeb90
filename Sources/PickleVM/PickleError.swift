/// Why a pickle could not be read. Every case carries the byte offset of the opcode at fault
/// (counted from the start of the buffer, so offsets stay right for pickles read at an offset).
///
/// The description is one line, e.g. `at byte 211: unsupported global os.system`.
public enum PickleError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The input ended where the next opcode should be, before any `STOP`.
    case missingStop(at: Int)
    /// A fixed-size argument runs past the end of the input.
    case argumentTruncated(opcode: PickleOpcode, needed: Int, available: Int, at: Int)
    /// A length field declares more bytes than remain after it.
    case declaredLengthPastEnd(opcode: PickleOpcode, declared: UInt64, available: Int, at: Int)
    /// A signed length field is negative (disassembler only: `LONG4`, `BINSTRING`).
    case negativeLength(opcode: PickleOpcode, declared: Int64, at: Int)
    /// A text-line argument has no terminating newline before the end of the input.
    case unterminatedLine(opcode: PickleOpcode, at: Int)
    /// A byte that is no pickle opcode of protocols 0–5.
    case unknownOpcode(byte: UInt8, at: Int)
    /// A real opcode the unpickler does not execute (`INST`, `STACK_GLOBAL`, `FRAME`, …).
    case unsupportedOpcode(PickleOpcode, at: Int)
    /// The global policy refused this global (names after the Python-2 mapping).
    case unsupportedGlobal(module: String, name: String, at: Int)
    /// A `GLOBAL` module or name contains a byte outside printable ASCII (0x21–0x7E). Protocol 2
    /// writers only produce ASCII names, and non-ASCII ones invite look-alike spellings.
    case invalidGlobalName(at: Int)
    /// A string argument is not valid UTF-8.
    case invalidUTF8(opcode: PickleOpcode, at: Int)
    /// A string argument holds an encoded UTF-16 surrogate (U+D800–U+DFFF), which Python reads
    /// as a lone surrogate ("surrogatepass") and no exact text can hold; `at` is the byte where
    /// the surrogate's encoding starts.
    case surrogateInString(opcode: PickleOpcode, codeUnit: UInt16, at: Int)
    /// A budget of ``PickleLimits`` was exceeded; `found` is the count that broke it.
    case limitExceeded(PickleLimit, limit: Int, found: Int, at: Int)
    /// `BINGET`/`LONG_BINGET` of a memo index that was never stored.
    case missingMemoEntry(index: UInt32, opcode: PickleOpcode, at: Int)
    /// An opcode needs more items than the current stack frame (since the last `MARK`) holds.
    case stackUnderflow(opcode: PickleOpcode, needed: Int, available: Int, at: Int)
    /// `TUPLE`, `APPENDS` or `SETITEMS` without an open `MARK`.
    case missingMark(opcode: PickleOpcode, at: Int)
    /// An operand has the wrong kind, e.g. `APPEND` onto a dict.
    case wrongOperand(opcode: PickleOpcode, operand: PickleOperand, found: PickleValueKind, at: Int)
    /// `APPEND`/`SETITEM`/`BUILD` on a container that is already inside another object. Real
    /// pickles never do this; allowing it would allow cycles.
    case frozenTarget(opcode: PickleOpcode, found: PickleValueKind, at: Int)
    /// A second `BUILD` on the same object or dict.
    case alreadyBuilt(found: PickleValueKind, at: Int)
    /// `SETITEMS` with an odd number of items after its `MARK`.
    case unpairedSetItems(count: Int, at: Int)
    /// An `INT` or `LONG` line that is not a decimal integer.
    case invalidDecimal(opcode: PickleOpcode, at: Int)

    /// The byte offset of the opcode at fault.
    public var offset: Int {
        switch self {
        case .missingStop(let at), .argumentTruncated(_, _, _, let at), .declaredLengthPastEnd(_, _, _, let at),
            .negativeLength(_, _, let at), .unterminatedLine(_, let at), .unknownOpcode(_, let at),
            .unsupportedOpcode(_, let at), .unsupportedGlobal(_, _, let at), .invalidGlobalName(let at),
            .invalidUTF8(_, let at), .surrogateInString(_, _, let at), .limitExceeded(_, _, _, let at), .missingMemoEntry(_, _, let at),
            .stackUnderflow(_, _, _, let at), .missingMark(_, let at), .wrongOperand(_, _, _, let at),
            .frozenTarget(_, _, let at), .alreadyBuilt(_, let at), .unpairedSetItems(_, let at),
            .invalidDecimal(_, let at):
            return at
        }
    }

    /// One line: `at byte N: fault; expected vs found`.
    public var description: String {
        "at byte \(offset): " + fault
    }

    private var fault: String {
        switch self {
        case .missingStop:
            return "the pickle ends without STOP"
        case .argumentTruncated(let opcode, let needed, let available, _):
            return "\(opcode.name) needs \(needed) argument bytes but \(available) remain"
        case .declaredLengthPastEnd(let opcode, let declared, let available, _):
            return "\(opcode.name) declares \(declared) bytes but \(available) remain"
        case .negativeLength(let opcode, let declared, _):
            return "\(opcode.name) declares a negative length \(declared)"
        case .unterminatedLine(let opcode, _):
            return "\(opcode.name) text argument has no newline before the end of the input"
        case .unknownOpcode(let byte, _):
            let hex = String(byte, radix: 16, uppercase: true)
            return "unknown opcode 0x\(hex.count == 1 ? "0" + hex : hex)"
        case .unsupportedOpcode(let opcode, _):
            return "unsupported opcode \(opcode)"
        case .unsupportedGlobal(let module, let name, _):
            return "unsupported global \(module).\(name)"
        case .invalidGlobalName:
            return "GLOBAL module or name has a byte outside printable ASCII"
        case .invalidUTF8(let opcode, _):
            return "\(opcode.name) string is not valid UTF-8"
        case .surrogateInString(let opcode, let unit, _):
            let hex = String(unit, radix: 16, uppercase: true)
            return "\(opcode.name) string holds the lone surrogate U+\(String(repeating: "0", count: max(0, 4 - hex.count)) + hex) (Python's surrogatepass), "
                + "which cannot be kept exactly as text"
        case .limitExceeded(let limit, let value, let found, _):
            return "\(limit.measure(found)) exceeds the limit of \(value) (limit \(limit))"
        case .missingMemoEntry(let index, let opcode, _):
            return "\(opcode.name) of memo entry \(index), which was never stored"
        case .stackUnderflow(let opcode, let needed, let available, _):
            return "\(opcode.name) needs \(needed) stack items but \(available) are available"
        case .missingMark(let opcode, _):
            return "\(opcode.name) without a matching MARK"
        case .wrongOperand(let opcode, let operand, let found, _):
            return operand.message(opcode: opcode, found: found)
        case .frozenTarget(let opcode, let found, _):
            return "\(opcode.name) on \(found.withArticle) that is already inside another object; "
                + "expected a container that is still being built"
        case .alreadyBuilt(let found, _):
            return "BUILD on \(found.withArticle) that already has BUILD state"
        case .unpairedSetItems(let count, _):
            return "SETITEMS has \(count) items after MARK; expected key-value pairs"
        case .invalidDecimal(let opcode, _):
            return "\(opcode) line is not a decimal integer; expected an optional sign and digits"
        }
    }
}

extension PickleError {
    /// The offset and value of the first UTF-16 surrogate encoded in `bytes` (the three-byte
    /// form `ED A0..BF 80..BF` that Python's "surrogatepass" reads), when that is the only thing
    /// keeping `bytes` from being UTF-8; `nil` when there is none or another sequence is invalid
    /// too (Python refuses those as well).
    static func firstEncodedSurrogate(_ bytes: UnsafeRawBufferPointer) -> (Int, UInt16)? {
        var first: (Int, UInt16)?
        var index = 0
        let count = bytes.count
        func continuation(_ k: Int, _ range: ClosedRange<UInt8> = 0x80...0xBF) -> Bool {
            index + k < count && range.contains(bytes[index + k])
        }
        while index < count {
            let lead = bytes[index]
            let length: Int
            switch lead {
            case 0..<0x80: length = 1
            case 0xC2...0xDF where continuation(1): length = 2
            case 0xE0 where continuation(1, 0xA0...0xBF) && continuation(2): length = 3
            case 0xE1...0xEF where continuation(1) && continuation(2):
                if lead == 0xED, bytes[index + 1] >= 0xA0, first == nil {
                    first = (index, 0xD000 | UInt16(bytes[index + 1] & 0x3F) << 6 | UInt16(bytes[index + 2] & 0x3F))
                }
                length = 3
            case 0xF0 where continuation(1, 0x90...0xBF) && continuation(2) && continuation(3): length = 4
            case 0xF1...0xF3 where continuation(1) && continuation(2) && continuation(3): length = 4
            case 0xF4 where continuation(1, 0x80...0x8F) && continuation(2) && continuation(3): length = 4
            default: return nil
            }
            index += length
        }
        return first
    }
}

/// Which operand of an opcode had the wrong kind (see ``PickleError/wrongOperand(opcode:operand:found:at:)``).
public enum PickleOperand: String, Sendable, Hashable, CaseIterable {
    /// The list under `APPEND`/`APPENDS`.
    case appendTarget
    /// The dict under `SETITEM`/`SETITEMS`.
    case setItemTarget
    /// The object or dict under `BUILD`.
    case buildTarget
    /// The callable of `REDUCE` or class of `NEWOBJ`.
    case callable
    /// The argument tuple of `REDUCE`/`NEWOBJ`.
    case arguments
    /// A dict key.
    case dictKey
    /// A set element.
    case setElement

    func message(opcode: PickleOpcode, found: PickleValueKind) -> String {
        let hashable = "expected a string, int, float, bool, None, bytes or a tuple of those"
        let foundKey = found == .float ? "a NaN float" : found.withArticle
        switch self {
        case .appendTarget: return "\(opcode.name) onto \(found.withArticle); expected a list"
        case .setItemTarget: return "\(opcode.name) onto \(found.withArticle); expected a dict"
        case .buildTarget: return "BUILD on \(found.withArticle); expected an object or a dict"
        case .callable: return "\(opcode.name) callable is \(found.withArticle); expected a global"
        case .arguments: return "\(opcode.name) arguments are \(found.withArticle); expected a tuple"
        case .dictKey: return "\(opcode.name) key is \(foundKey); \(hashable)"
        case .setElement: return "set element is \(foundKey); \(hashable)"
        }
    }
}
