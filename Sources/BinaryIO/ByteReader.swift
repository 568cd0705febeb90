/// A bounds-checked cursor over bytes, for parsing untrusted input.
///
/// `read…` methods advance the cursor, `peek…` methods do not. Every read checks the remaining
/// length first (in subtraction form, so the check cannot overflow) and throws
/// ``ByteReaderError/truncated(offset:needed:available:)`` instead of trapping. Multi-byte
/// integers are loaded unaligned, so any offset is safe.
public struct ByteReader {
    /// The whole input.
    public let bytes: UnsafeRawBufferPointer
    /// The position of the next read, from the start of `bytes`.
    public private(set) var offset: Int

    /// A cursor at `offset` (default 0) in `bytes`.
    public init(_ bytes: UnsafeRawBufferPointer, offset: Int = 0) {
        precondition(offset >= 0 && offset <= bytes.count, "reader offset \(offset) outside \(bytes.count) bytes")
        self.bytes = bytes
        self.offset = offset
    }

    /// Bytes left after the cursor.
    public var remaining: Int { bytes.count - offset }

    /// Whether the cursor is at the end.
    public var isAtEnd: Bool { offset == bytes.count }

    /// Throws unless `count` more bytes are available.
    @inline(__always)
    public func require(_ count: Int) throws(ByteReaderError) {
        guard count >= 0, count <= remaining else {
            throw .truncated(offset: offset, needed: count, available: remaining)
        }
    }

    /// Moves the cursor to `newOffset`, which must lie within the input.
    public mutating func seek(to newOffset: Int) throws(ByteReaderError) {
        guard newOffset >= 0, newOffset <= bytes.count else {
            throw .truncated(offset: offset, needed: newOffset - offset, available: remaining)
        }
        offset = newOffset
    }

    /// Skips `count` bytes.
    public mutating func skip(_ count: Int) throws(ByteReaderError) {
        try require(count)
        offset += count
    }

    /// Reads one byte.
    @inline(__always)
    public mutating func readUInt8() throws(ByteReaderError) -> UInt8 {
        try require(1)
        defer { offset += 1 }
        return bytes[offset]
    }

    /// Reads a little-endian integer of type `T`.
    @inline(__always)
    public mutating func readLittleEndian<T: FixedWidthInteger>(_: T.Type = T.self) throws(ByteReaderError) -> T {
        let size = MemoryLayout<T>.size
        try require(size)
        defer { offset += size }
        return T(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: T.self))
    }

    /// Reads a big-endian integer of type `T`.
    @inline(__always)
    public mutating func readBigEndian<T: FixedWidthInteger>(_: T.Type = T.self) throws(ByteReaderError) -> T {
        let size = MemoryLayout<T>.size
        try require(size)
        defer { offset += size }
        return T(bigEndian: bytes.loadUnaligned(fromByteOffset: offset, as: T.self))
    }

    /// The next `count` bytes, without copying; they stay valid as long as `bytes` does.
    public mutating func readBytes(_ count: Int) throws(ByteReaderError) -> UnsafeRawBufferPointer {
        try require(count)
        defer { offset += count }
        return UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + count)])
    }

    /// The next byte without moving the cursor, or `nil` at the end.
    public func peekUInt8() -> UInt8? {
        offset < bytes.count ? bytes[offset] : nil
    }

    /// Reads bytes up to (not including) the next `terminator`, consuming the terminator too.
    /// Looks at most `limit` bytes ahead.
    public mutating func readUntil(_ terminator: UInt8, limit: Int) throws(ByteReaderError) -> UnsafeRawBufferPointer {
        let end = min(bytes.count, offset + min(limit, remaining) + 1)
        var index = offset
        while index < end {
            if bytes[index] == terminator {
                let line = UnsafeRawBufferPointer(rebasing: bytes[offset..<index])
                offset = index + 1
                return line
            }
            index += 1
        }
        if end == bytes.count { throw .truncated(offset: offset, needed: remaining + 1, available: remaining) }
        throw .terminatorNotFound(offset: offset, terminator: terminator, limit: limit)
    }
}

/// Why a read from a ``ByteReader`` failed.
public enum ByteReaderError: Error, Equatable, CustomStringConvertible {
    /// Fewer bytes remain than a field needs.
    case truncated(offset: Int, needed: Int, available: Int)
    /// A line-terminated field is longer than allowed.
    case terminatorNotFound(offset: Int, terminator: UInt8, limit: Int)

    public var description: String {
        switch self {
        case .truncated(let offset, let needed, let available):
            return "at byte \(offset): truncated; needed \(needed) bytes, \(available) remain"
        case .terminatorNotFound(let offset, let terminator, let limit):
            return "at byte \(offset): no byte 0x\(String(terminator, radix: 16)) within \(limit) bytes"
        }
    }
}
