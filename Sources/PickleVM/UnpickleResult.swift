/// What ``Unpickler/unpickle(_:from:)`` returns: the value, where the pickle ended, and what the
/// caller should know about.
public struct UnpickleResult: Sendable {
    /// The value on top of the stack at `STOP`.
    public let value: PickleValue
    /// The byte offset where the pickle started.
    public let startOffset: Int
    /// The byte offset of the `STOP` opcode.
    public let stopOffset: Int
    /// The number of input bytes after `STOP` (the caller decides whether that is allowed; the
    /// legacy PyTorch format puts four more pickles and raw data there).
    public let trailingByteCount: Int
    /// The argument of the first `PROTO`, if any.
    public let protocolVersion: Int?
    /// Oddities that did not stop the unpickler, in the order met.
    public let warnings: [PickleWarning]
    /// Every `GLOBAL` executed, in order, with the policy's verdict.
    public let globals: [PickleGlobalUse]
    /// The number of opcodes executed, `STOP` included.
    public let opcodeCount: Int

    /// The first byte after `STOP`: where a following pickle would start.
    public var endOffset: Int { stopOffset + 1 }

    /// The globals kept inert because the policy did not know them, in order.
    public var unknownGlobals: [PickleGlobalUse] { globals.filter { $0.verdict == .keepInert } }
}

/// An oddity the unpickler noted without failing.
public enum PickleWarning: Hashable, Sendable, CustomStringConvertible {
    /// `PROTO` declared a protocol other than 2 (the one `torch.save` writes).
    case unexpectedProtocol(Int, at: Int)
    /// `STOP` left items on the stack under the result.
    case unusedStackItems(count: Int, at: Int)
    /// `STOP` came while `MARK`s were still open.
    case unclosedMarks(count: Int, at: Int)

    /// One line, e.g. `at byte 0: pickle protocol 4; expected protocol 2`.
    public var description: String {
        switch self {
        case .unexpectedProtocol(let version, let at):
            return "at byte \(at): pickle protocol \(version); expected protocol 2"
        case .unusedStackItems(let count, let at):
            return "at byte \(at): STOP leaves \(count) unused stack items"
        case .unclosedMarks(let count, let at):
            return "at byte \(at): STOP with \(count) MARKs still open"
        }
    }
}
