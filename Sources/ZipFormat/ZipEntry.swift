/// How an entry's bytes are stored.
public enum ZipCompressionMethod: UInt16, Sendable, Equatable {
    /// Method 0: the bytes as they are (what torch writes; the only method read zero-copy).
    case stored = 0
    /// Method 8: raw DEFLATE (what Python `zipfile` writes with `ZIP_DEFLATED`).
    case deflated = 8
}

/// One entry of a ``ZipArchive``, as described by its central directory header and checked
/// against its local header.
public struct ZipEntry: Sendable, Equatable {
    /// The entry's name (for example `archive/data/0`).
    public let name: String
    /// The entry's position in the central directory.
    public let index: Int
    /// How the data is stored.
    public let method: ZipCompressionMethod
    /// General-purpose flags from the central directory (bit 3: data descriptor; bit 11: UTF-8).
    public let flags: UInt16
    /// The CRC-32 of the uncompressed bytes, from the central directory.
    public let crc32: UInt32
    /// The number of bytes in the file (equal to ``uncompressedByteCount`` when stored).
    public let compressedByteCount: Int
    /// The number of bytes the entry holds.
    public let uncompressedByteCount: Int
    /// The absolute offset of the entry's central directory header.
    public let centralHeaderOffset: Int
    /// The absolute offset of the entry's local header.
    public let localHeaderOffset: Int
    /// The absolute offset of the first data byte: local header offset + 30 + the local header's
    /// own name and extra lengths (torch's alignment padding lives in the local extra field).
    public let dataOffset: Int

    /// The absolute byte range of the data in the file (compressed bytes for a deflated entry),
    /// for example to `madvise` it.
    public var dataRange: Range<Int> { dataOffset..<(dataOffset + compressedByteCount) }

    /// Whether the data can be read in place.
    public var isStored: Bool { method == .stored }

    /// Whether a data descriptor follows the data (flag bit 3).
    public var hasDataDescriptor: Bool { flags & ZipFlag.dataDescriptor != 0 }

    /// Why `name` (its UTF-8 bytes) is unsafe or ambiguous as an entry name, or `nil` when it is
    /// acceptable.
    ///
    /// Refused: empty names, a leading `/`, a `..` path component, `\` anywhere, NUL anywhere,
    /// and (for ``ZipArchive``) bytes that are not UTF-8.
    public static func nameProblem<C: Collection>(_ name: C) -> ZipEntryNameProblem? where C.Element == UInt8 {
        guard let first = name.first else { return .empty }
        if first == UInt8(ascii: "/") { return .absolutePath }
        var componentLength = 0
        var componentIsDots = true
        for byte in name {
            switch byte {
            case 0: return .nulByte
            case UInt8(ascii: "\\"): return .backslash
            case UInt8(ascii: "/"):
                if componentIsDots && componentLength == 2 { return .parentDirectoryComponent }
                componentLength = 0
                componentIsDots = true
            default:
                componentLength += 1
                if byte != UInt8(ascii: ".") { componentIsDots = false }
            }
        }
        if componentIsDots && componentLength == 2 { return .parentDirectoryComponent }
        return nil
    }
}
