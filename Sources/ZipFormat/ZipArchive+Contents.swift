/// An entry's bytes: a zero-copy slice of the archive for a stored entry, or a buffer this value
/// owns for an inflated one. Either way ``owner`` keeps ``bytes`` alive, so the pair can back a
/// longer-lived view (for example `TensorBytes(borrowing: data.bytes, owner: data.owner)`).
public struct ZipEntryData: @unchecked Sendable {
    // @unchecked: the bytes are never written after creation and `owner` keeps them alive.

    /// The entry's bytes; valid as long as ``owner`` is alive.
    public let bytes: UnsafeRawBufferPointer
    /// Keeps ``bytes`` alive: the archive's owner for a stored entry, a private buffer otherwise.
    public let owner: AnyObject
    /// Whether ``bytes`` point into the archive itself (a stored entry, no copy made).
    public let isBorrowedFromArchive: Bool

    /// The number of bytes.
    public var count: Int { bytes.count }

    /// Calls `body` with the bytes. The pointer must not escape `body`.
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try withExtendedLifetime(owner) { try body(bytes) }
    }

    /// A copy of the bytes as an array.
    public var array: [UInt8] { withUnsafeBytes { Array($0) } }
}

extension ZipArchive {
    /// The stored entry's bytes, in place (no copy); valid as long as this archive (or ``owner``)
    /// is alive. Use ``ZipEntry/dataRange`` for the absolute range, for example to `madvise` it.
    ///
    /// Does not check the CRC (see ``verifyCRC(of:)``). Traps if `entry` is not from this archive.
    ///
    /// - Throws: ``ZipError/notStored(entry:method:)`` for a deflated entry.
    public func storedBytes(of entry: ZipEntry) throws(ZipError) -> UnsafeRawBufferPointer {
        checkOwnership(entry)
        guard entry.method == .stored else { throw .notStored(entry: entry.name, method: entry.method.rawValue) }
        // SAFETY: indexing checked dataOffset + compressedByteCount <= bytes.count.
        return bytes.slice(entry.dataOffset, entry.compressedByteCount)
    }

    /// The entry's bytes: stored entries in place, deflated entries inflated into a new buffer of
    /// exactly the declared size and CRC-checked.
    ///
    /// - Parameter verifyingCRC: also check a stored entry's CRC-32 (reads every byte).
    /// - Throws: ``ZipError`` if the CRC does not match, the deflate stream is corrupt or its
    ///   length differs from the declared size, or the inflation budget would be exceeded.
    public func data(of entry: ZipEntry, verifyingCRC: Bool = false) throws(ZipError) -> ZipEntryData {
        checkOwnership(entry)
        switch entry.method {
        case .stored:
            let slice = bytes.slice(entry.dataOffset, entry.compressedByteCount)
            if verifyingCRC { try checkCRC(of: slice, entry: entry) }
            return ZipEntryData(bytes: slice, owner: owner, isBorrowedFromArchive: true)
        case .deflated:
            let storage = try inflate(entry)
            return ZipEntryData(bytes: UnsafeRawBufferPointer(storage.mutableBytes), owner: storage, isBorrowedFromArchive: false)
        }
    }

    /// Checks the entry's CRC-32 against its bytes (inflating a deflated entry, which counts
    /// against the inflation budget).
    ///
    /// - Throws: ``ZipError/crcMismatch(entry:dataOffset:expected:found:)`` and, for deflated
    ///   entries, the errors of ``data(of:verifyingCRC:)``.
    public func verifyCRC(of entry: ZipEntry) throws(ZipError) {
        _ = try data(of: entry, verifyingCRC: true)
    }

    private func checkCRC(of contents: UnsafeRawBufferPointer, entry: ZipEntry) throws(ZipError) {
        let found = CRC32.checksum(contents)
        guard found == entry.crc32 else {
            throw .crcMismatch(entry: entry.name, dataOffset: entry.dataOffset, expected: entry.crc32, found: found)
        }
    }

    private func inflate(_ entry: ZipEntry) throws(ZipError) -> AlignedStorage {
        let declared = entry.uncompressedByteCount
        try reserveInflation(declared, for: entry)
        let storage = AlignedStorage(count: declared)
        let input = bytes.slice(entry.dataOffset, entry.compressedByteCount)
        switch RawInflater.inflate(input, into: storage.mutableBytes) {
        case .complete:
            break
        case .tooLong:
            throw .deflateStreamTooLong(entry: entry.name, dataOffset: entry.dataOffset, declaredByteCount: declared)
        case .tooShort(let produced):
            throw .deflateStreamTooShort(
                entry: entry.name, dataOffset: entry.dataOffset, declaredByteCount: declared, producedByteCount: produced)
        case .inputExhausted:
            throw .deflateStreamTruncated(
                entry: entry.name, dataOffset: entry.dataOffset, compressedByteCount: entry.compressedByteCount)
        case .trailingInput(let consumed):
            throw .deflateStreamTrailingBytes(
                entry: entry.name, dataOffset: entry.dataOffset, compressedByteCount: entry.compressedByteCount,
                consumedByteCount: consumed)
        case .corrupt(let message):
            throw .deflateStreamCorrupt(entry: entry.name, dataOffset: entry.dataOffset, zlibMessage: message)
        }
        try checkCRC(of: UnsafeRawBufferPointer(storage.mutableBytes), entry: entry)
        return storage
    }
}
