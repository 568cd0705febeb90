// A linear, non-executing walk over pickle instructions, like CPython's `pickletools.genops`.

/// One instruction found by ``PickleDisassembler``.
public struct PickleInstruction: Hashable, Sendable {
    /// The byte offset of the opcode.
    public let offset: Int
    /// The opcode.
    public let opcode: PickleOpcode
    /// The inline argument, decoded as far as is safe without executing anything.
    public let argument: PickleArgument
    /// The offset of the next instruction.
    public let endOffset: Int

    /// An instruction record.
    public init(offset: Int, opcode: PickleOpcode, argument: PickleArgument, endOffset: Int) {
        self.offset = offset
        self.opcode = opcode
        self.argument = argument
        self.endOffset = endOffset
    }
}

/// The inline argument of a ``PickleInstruction``. Byte ranges index the buffer given to the
/// disassembler; use ``PickleDisassembler/text(_:)`` or ``PickleDisassembler/bytes(_:)`` to read
/// them while the buffer is alive.
public enum PickleArgument: Hashable, Sendable {
    /// No argument.
    case none
    /// `uint1`, `uint2`, `int4` or `uint4`.
    case integer(Int64)
    /// `uint8` (the `FRAME` length).
    case unsignedInteger(UInt64)
    /// `float8`.
    case float(Double)
    /// The two's-complement payload of `LONG1`/`LONG4`.
    case long(Range<Int>)
    /// The payload of a counted string, bytes or bytearray argument.
    case bytes(Range<Int>)
    /// A text-line argument, without its newline (protocol-0 `INT`, `STRING`, `GET`, `PERSID`, …).
    case line(Range<Int>)
    /// The module and name lines of `GLOBAL` or `INST`.
    case linePair(Range<Int>, Range<Int>)
}

/// Walks the instructions of one pickle without executing them: every opcode of protocols 0–5 is
/// listed with its bounds-checked argument, up to and including `STOP`.
///
/// Lengths are checked against the remaining input before any slice, text lines are bounded
/// (``PickleLimits/maxGlobalLineByteCount`` for `GLOBAL`/`INST` names,
/// ``PickleLimits/maxStringByteCount`` for other lines), and the walk ends with an error at an
/// unknown opcode byte or after ``PickleLimits/maxOpcodeCount`` instructions.
public struct PickleDisassembler {
    /// The input.
    public let bytes: UnsafeRawBufferPointer
    /// The budgets used for line lengths and the instruction count.
    public let limits: PickleLimits
    /// Where the next instruction starts.
    public private(set) var offset: Int
    /// Whether `STOP` has been returned.
    public private(set) var isFinished = false
    private var instructionCount = 0

    /// A walk over `bytes` starting at `startOffset`. Traps if `startOffset` lies outside `bytes`.
    public init(_ bytes: UnsafeRawBufferPointer, from startOffset: Int = 0, limits: PickleLimits = PickleLimits()) {
        precondition(
            startOffset >= 0 && startOffset <= bytes.count, "start offset \(startOffset) outside \(bytes.count) bytes")
        self.bytes = bytes
        self.limits = limits
        offset = startOffset
    }

    /// The next instruction, or `nil` once `STOP` has been returned.
    /// - Throws: ``PickleError`` for an unknown opcode, a truncated or oversized argument, a missing
    ///   `STOP`, or too many instructions.
    public mutating func next() throws(PickleError) -> PickleInstruction? {
        guard !isFinished else { return nil }
        let at = offset
        guard at < bytes.count else { throw .missingStop(at: at) }
        instructionCount += 1
        guard instructionCount <= limits.maxOpcodeCount else {
            throw .limitExceeded(.opcodeCount, limit: limits.maxOpcodeCount, found: instructionCount, at: at)
        }
        guard let opcode = PickleOpcode(rawValue: bytes[at]) else { throw .unknownOpcode(byte: bytes[at], at: at) }
        var cursor = at + 1
        let argument = try readArgument(opcode, at: at, cursor: &cursor)
        offset = cursor
        if opcode == .stop { isFinished = true }
        return PickleInstruction(offset: at, opcode: opcode, argument: argument, endOffset: cursor)
    }

    /// Every instruction up to and including `STOP`.
    /// - Throws: ``PickleError``.
    public mutating func instructions() throws(PickleError) -> [PickleInstruction] {
        var all: [PickleInstruction] = []
        while let instruction = try next() { all.append(instruction) }
        return all
    }

    /// The bytes of `range` (from an argument of this walk).
    public func bytes(_ range: Range<Int>) -> [UInt8] {
        Array(UnsafeRawBufferPointer(rebasing: bytes[range]))
    }

    /// The bytes of `range` as text, with invalid UTF-8 replaced by U+FFFD (for reports).
    public func text(_ range: Range<Int>) -> String {
        String(decoding: UnsafeRawBufferPointer(rebasing: bytes[range]), as: UTF8.self)
    }

    // MARK: Arguments

    private func readArgument(_ opcode: PickleOpcode, at: Int, cursor: inout Int) throws(PickleError) -> PickleArgument
    {
        switch opcode.argument {
        case .none:
            return .none
        case .uint1:
            return .integer(Int64(try fixed(1, opcode, at, &cursor).load(as: UInt8.self)))
        case .uint2:
            return .integer(
                Int64(UInt16(littleEndian: try fixed(2, opcode, at, &cursor).loadUnaligned(as: UInt16.self))))
        case .int4:
            return .integer(Int64(Int32(littleEndian: try fixed(4, opcode, at, &cursor).loadUnaligned(as: Int32.self))))
        case .uint4:
            return .integer(
                Int64(UInt32(littleEndian: try fixed(4, opcode, at, &cursor).loadUnaligned(as: UInt32.self))))
        case .uint8:
            return .unsignedInteger(
                UInt64(littleEndian: try fixed(8, opcode, at, &cursor).loadUnaligned(as: UInt64.self)))
        case .float8:
            let bits = UInt64(bigEndian: try fixed(8, opcode, at, &cursor).loadUnaligned(as: UInt64.self))
            return .float(Double(bitPattern: bits))
        case .long1:
            let length = try fixed(1, opcode, at, &cursor).load(as: UInt8.self)
            return .long(try payload(UInt64(length), opcode, at, &cursor))
        case .long4:
            let length = Int32(littleEndian: try fixed(4, opcode, at, &cursor).loadUnaligned(as: Int32.self))
            guard length >= 0 else { throw .negativeLength(opcode: opcode, declared: Int64(length), at: at) }
            return .long(try payload(UInt64(length), opcode, at, &cursor))
        case .string1, .bytes1, .unicodeString1:
            let length = try fixed(1, opcode, at, &cursor).load(as: UInt8.self)
            return .bytes(try payload(UInt64(length), opcode, at, &cursor))
        case .string4:
            let length = Int32(littleEndian: try fixed(4, opcode, at, &cursor).loadUnaligned(as: Int32.self))
            guard length >= 0 else { throw .negativeLength(opcode: opcode, declared: Int64(length), at: at) }
            return .bytes(try payload(UInt64(length), opcode, at, &cursor))
        case .bytes4, .unicodeString4:
            let length = UInt32(littleEndian: try fixed(4, opcode, at, &cursor).loadUnaligned(as: UInt32.self))
            return .bytes(try payload(UInt64(length), opcode, at, &cursor))
        case .bytes8, .unicodeString8, .byteArray8:
            let length = UInt64(littleEndian: try fixed(8, opcode, at, &cursor).loadUnaligned(as: UInt64.self))
            return .bytes(try payload(length, opcode, at, &cursor))
        case .decimalLineShort, .decimalLineLong, .stringLine, .stringLineNoEscape, .unicodeStringLine, .floatLine:
            return .line(try line(opcode, at, &cursor, limit: limits.maxStringByteCount, limitName: .stringByteCount))
        case .stringLineNoEscapePair:
            let module = try line(
                opcode, at, &cursor, limit: limits.maxGlobalLineByteCount, limitName: .globalLineByteCount)
            let name = try line(
                opcode, at, &cursor, limit: limits.maxGlobalLineByteCount, limitName: .globalLineByteCount)
            return .linePair(module, name)
        }
    }

    private func fixed(_ count: Int, _ opcode: PickleOpcode, _ at: Int, _ cursor: inout Int) throws(PickleError)
        -> UnsafeRawBufferPointer
    {
        let available = bytes.count - cursor
        guard count <= available else {
            throw .argumentTruncated(opcode: opcode, needed: count, available: available, at: at)
        }
        defer { cursor += count }
        return UnsafeRawBufferPointer(rebasing: bytes[cursor..<(cursor + count)])
    }

    private func payload(_ declared: UInt64, _ opcode: PickleOpcode, _ at: Int, _ cursor: inout Int) throws(PickleError)
        -> Range<Int>
    {
        let available = bytes.count - cursor
        guard declared <= UInt64(available) else {
            throw .declaredLengthPastEnd(opcode: opcode, declared: declared, available: available, at: at)
        }
        let range = cursor..<(cursor + Int(declared))
        cursor = range.upperBound
        return range
    }

    private func line(_ opcode: PickleOpcode, _ at: Int, _ cursor: inout Int, limit: Int, limitName: PickleLimit)
        throws(PickleError) -> Range<Int>
    {
        let available = bytes.count - cursor
        let searched = limit >= available ? available : limit + 1
        var index = cursor
        let end = cursor + searched
        while index < end, bytes[index] != 0x0A { index += 1 }
        guard index < end else {
            if searched == available { throw .unterminatedLine(opcode: opcode, at: at) }
            throw .limitExceeded(limitName, limit: limit, found: limit + 1, at: at)
        }
        defer { cursor = index + 1 }
        return cursor..<index
    }
}
