/// Why a zip archive could not be read, or an entry could not be written.
///
/// Offsets are absolute byte offsets in the archive file. `entry` is the entry's name as stored
/// in the central directory (decoded leniently for the message if it is not valid UTF-8).
/// ``description`` renders one line: location, fault, then expected vs found.
public enum ZipError: Error, Equatable, CustomStringConvertible {
    // End records and central directory

    /// No end-of-central-directory record ends exactly at the end of the file.
    case endRecordNotFound(fileSize: Int)
    /// Two end-of-central-directory records both end exactly at the end of the file (one of them
    /// hides in the other's comment), so readers could disagree about the archive's contents.
    case ambiguousEndRecord(firstOffset: Int, secondOffset: Int)
    /// A record of `structure` at `offset` is cut short.
    case truncated(ZipStructure, entry: String?, offset: Int, needed: Int, available: Int)
    /// A record of `structure` at `offset` does not start with its signature.
    case badSignature(ZipStructure, entry: String?, offset: Int, found: UInt32)
    /// A record refers to a disk other than the first; split archives are not supported.
    case multiDiskArchive(ZipStructure, offset: Int, diskNumber: UInt32)
    /// A field of the end records contradicts another (entries on this disk vs total, classic vs
    /// zip64 values).
    case inconsistentEndRecord(offset: Int, field: ZipEndRecordField, expected: UInt64, found: UInt64)
    /// The zip64 end-of-central-directory record named by the locator does not end where the
    /// locator begins.
    case zip64EndRecordMisplaced(offset: UInt64, locatorOffset: Int)
    /// The central directory's declared range is not inside the file.
    case centralDirectoryOutsideFile(offset: UInt64, byteCount: UInt64, fileSize: Int)
    /// The central directory does not end where the end records begin (bytes hidden between them,
    /// or a directory overlapping them).
    case centralDirectoryMisplaced(endOffset: UInt64, expectedEndOffset: Int)
    /// The end record declares more entries than the central directory can hold (46 bytes each).
    case entryCountExceedsCentralDirectory(count: UInt64, centralDirectoryByteCount: UInt64)
    /// The archive has more entries than ``ZipReadLimits/maxEntryCount`` allows.
    case tooManyEntries(count: UInt64, limit: Int)
    /// The declared entries do not use the whole central directory.
    case centralDirectorySizeMismatch(declaredByteCount: Int, usedByteCount: Int)

    // Entries

    /// An entry name that could escape a destination folder or confuse readers.
    case invalidEntryName(name: String, offset: Int, problem: ZipEntryNameProblem)
    /// Two entries share a name; `firstOffset` is the header of the first one.
    case duplicateEntryName(name: String, offset: Int, firstOffset: Int)
    /// An entry's general-purpose flags mark it encrypted.
    case encryptedEntry(entry: String, offset: Int, flags: UInt16)
    /// An entry uses a compression method other than 0 (stored) or 8 (deflate).
    case unsupportedCompressionMethod(entry: String, offset: Int, method: UInt16)
    /// A size or offset is 0xFFFFFFFF (or the disk 0xFFFF) but there is no zip64 extra field.
    case zip64ExtraMissing(entry: String, offset: Int)
    /// The zip64 extra field is shorter than the fields it must carry.
    case zip64ExtraTooShort(entry: String, offset: Int, needed: Int, found: Int)
    /// An extra field's declared length runs past the end of the extra block.
    case malformedExtraField(entry: String, offset: Int, declaredByteCount: Int, available: Int)
    /// A stored entry whose compressed and uncompressed sizes differ.
    case storedSizeMismatch(entry: String, offset: Int, compressedByteCount: UInt64, uncompressedByteCount: UInt64)
    /// A deflated entry declares more output than deflate can produce from its compressed size.
    case impossibleCompressionRatio(entry: String, offset: Int, compressedByteCount: UInt64, uncompressedByteCount: UInt64)

    // Local headers and layout

    /// The central directory points to a local header outside the file.
    case localHeaderOutsideFile(entry: String, offset: UInt64, fileSize: Int)
    /// The local header names a different entry than the central directory does.
    case localNameMismatch(entry: String, offset: Int, found: String)
    /// A local header field contradicts the central directory.
    case localFieldMismatch(entry: String, offset: Int, field: ZipLocalHeaderField, expected: UInt64, found: UInt64)
    /// An entry's data runs past the end of the file.
    case entryDataOutsideFile(entry: String, dataOffset: Int, byteCount: UInt64, fileSize: Int)
    /// Bytes precede the first local header (a prepended file, or a polyglot).
    case dataBeforeFirstEntry(firstOffset: Int)
    /// An entry's data runs into the next entry (`next`), or into the central directory when
    /// `next` is `nil`.
    case overlappingEntries(entry: String, endOffset: Int, next: String?, nextOffset: Int)

    // Contents

    /// Zero-copy access was asked for an entry that is compressed.
    case notStored(entry: String, method: UInt16)
    /// Inflating the entry would take the archive's inflated total over the budget.
    case inflationBudgetExceeded(entry: String, byteCount: Int, alreadyInflated: Int, budget: Int)
    /// The deflate stream produces more bytes than the entry declares.
    case deflateStreamTooLong(entry: String, dataOffset: Int, declaredByteCount: Int)
    /// The deflate stream ends before producing the declared number of bytes.
    case deflateStreamTooShort(entry: String, dataOffset: Int, declaredByteCount: Int, producedByteCount: Int)
    /// The compressed bytes end before the deflate stream does.
    case deflateStreamTruncated(entry: String, dataOffset: Int, compressedByteCount: Int)
    /// zlib rejected the deflate stream.
    case deflateStreamCorrupt(entry: String, dataOffset: Int, zlibMessage: String)
    /// The deflate stream ends before the entry's compressed bytes do.
    case deflateStreamTrailingBytes(entry: String, dataOffset: Int, compressedByteCount: Int, consumedByteCount: Int)
    /// The entry's bytes do not match its CRC-32.
    case crcMismatch(entry: String, dataOffset: Int, expected: UInt32, found: UInt32)

    // Root folder

    /// The first entry is not inside a folder (or there are no entries), so the archive has no
    /// root folder in torch's sense.
    case noRootFolder(entry: String?)
    /// An entry lies outside the archive's root folder.
    case entryOutsideRootFolder(entry: String, offset: Int, rootFolder: String)

    // Writing

    /// An entry received a different number of bytes than ``ZipWriter/beginEntry(name:byteCount:)``
    /// declared.
    case entrySizeMismatch(entry: String, declaredByteCount: Int, writtenByteCount: Int)
    /// An entry name longer than the 65,535 bytes a zip header can hold.
    case entryNameTooLong(entry: String, byteCount: Int)

    /// One line: where, what, expected vs found.
    public var description: String {
        switch self {
        case .endRecordNotFound(let fileSize):
            return "no end-of-central-directory record ends at the end of the \(fileSize)-byte file "
                + "(searched the last \(min(fileSize, 65_535 + 22)) bytes); expected a zip archive"
        case .ambiguousEndRecord(let first, let second):
            return "end-of-central-directory records at bytes \(first) and \(second) both end at the end of the file; "
                + "expected exactly one (a fake record hidden in the archive comment?)"
        case .truncated(let structure, let entry, let offset, let needed, let available):
            return "\(prefix(entry))\(structure) at byte \(offset) is truncated; needed \(needed) bytes, \(available) remain"
        case .badSignature(let structure, let entry, let offset, let found):
            return "\(prefix(entry))\(structure) at byte \(offset) has signature \(hex(found)); "
                + "expected \(hex(structure.signature))"
        case .multiDiskArchive(let structure, let offset, let disk):
            return "\(structure) at byte \(offset) refers to disk \(disk); expected a single-disk archive "
                + "(split archives are not supported)"
        case .inconsistentEndRecord(let offset, let field, let expected, let found):
            return "end records at byte \(offset): \(field) is \(found); expected \(expected)"
        case .zip64EndRecordMisplaced(let offset, let locatorOffset):
            return "zip64 end-of-central-directory record at byte \(offset) does not end at its locator "
                + "at byte \(locatorOffset)"
        case .centralDirectoryOutsideFile(let offset, let count, let fileSize):
            return "central directory at byte \(offset) (\(count) bytes) lies outside the \(fileSize)-byte file"
        case .centralDirectoryMisplaced(let end, let expectedEnd):
            return "central directory ends at byte \(end); expected it to end at byte \(expectedEnd), "
                + "where the end records begin"
        case .entryCountExceedsCentralDirectory(let count, let size):
            return "end record declares \(count) entries; a \(size)-byte central directory holds at most \(size / 46)"
        case .tooManyEntries(let count, let limit):
            return "archive declares \(count) entries; the limit is \(limit) (limit maxEntryCount)"
        case .centralDirectorySizeMismatch(let declared, let used):
            return "central directory is \(declared) bytes but its entries use \(used); expected them to fill it exactly"
        case .invalidEntryName(let name, let offset, let problem):
            return "entry \(quoted(name)): header at byte \(offset): name \(problem)"
        case .duplicateEntryName(let name, let offset, let firstOffset):
            return "entry \(quoted(name)): header at byte \(offset) repeats the name of the header at byte "
                + "\(firstOffset); expected unique names"
        case .encryptedEntry(let entry, let offset, let flags):
            return "entry \(quoted(entry)): header at byte \(offset) has flags \(hex(flags)) marking it encrypted; "
                + "encrypted entries are not supported"
        case .unsupportedCompressionMethod(let entry, let offset, let method):
            return "entry \(quoted(entry)): central directory header at byte \(offset) uses compression method "
                + "\(method); expected 0 (stored) or 8 (deflate)"
        case .zip64ExtraMissing(let entry, let offset):
            return "entry \(quoted(entry)): header at byte \(offset) has a 0xFFFFFFFF size or offset; "
                + "expected a zip64 extra field carrying it"
        case .zip64ExtraTooShort(let entry, let offset, let needed, let found):
            return "entry \(quoted(entry)): zip64 extra field at byte \(offset) has \(found) bytes; expected at least \(needed)"
        case .malformedExtraField(let entry, let offset, let declared, let available):
            return "entry \(quoted(entry)): extra field at byte \(offset) declares \(declared) bytes but "
                + "\(available) remain in the extra block"
        case .storedSizeMismatch(let entry, let offset, let compressed, let uncompressed):
            return "entry \(quoted(entry)): stored entry at byte \(offset) has compressed size \(compressed) and "
                + "uncompressed size \(uncompressed); expected them equal"
        case .impossibleCompressionRatio(let entry, let offset, let compressed, let uncompressed):
            return "entry \(quoted(entry)): header at byte \(offset) declares \(uncompressed) bytes inflated from "
                + "\(compressed); deflate expands at most 1032 times (zip bomb?)"
        case .localHeaderOutsideFile(let entry, let offset, let fileSize):
            return "entry \(quoted(entry)): local header at byte \(offset) lies outside the \(fileSize)-byte file"
        case .localNameMismatch(let entry, let offset, let found):
            return "entry \(quoted(entry)): local header at byte \(offset) names \(quoted(found)); "
                + "expected the central directory's name"
        case .localFieldMismatch(let entry, let offset, let field, let expected, let found):
            return "entry \(quoted(entry)): local header at byte \(offset) has \(field) \(found); "
                + "expected \(expected) from the central directory"
        case .entryDataOutsideFile(let entry, let dataOffset, let count, let fileSize):
            return "entry \(quoted(entry)): \(count) bytes of data at byte \(dataOffset) run past the end of the "
                + "\(fileSize)-byte file"
        case .dataBeforeFirstEntry(let firstOffset):
            return "\(firstOffset) bytes of unknown data precede the first local header; expected the archive "
                + "to start at byte 0"
        case .overlappingEntries(let entry, let end, let next, let nextOffset):
            let target = next.map { "entry \(quoted($0))" } ?? "the central directory"
            return "entry \(quoted(entry)): data ends at byte \(end), past the start of \(target) at byte "
                + "\(nextOffset); expected entries not to overlap"
        case .notStored(let entry, let method):
            return "entry \(quoted(entry)) is compressed with method \(method); zero-copy access needs a stored "
                + "entry (method 0)"
        case .inflationBudgetExceeded(let entry, let count, let already, let budget):
            return "entry \(quoted(entry)): inflating \(count) bytes after \(already) already inflated exceeds the "
                + "\(budget)-byte budget (a zip bomb?) (limit maxInflatedByteCount)"
        case .deflateStreamTooLong(let entry, let dataOffset, let declared):
            return "entry \(quoted(entry)): deflate stream at byte \(dataOffset) inflates to more than the declared "
                + "\(declared) bytes"
        case .deflateStreamTooShort(let entry, let dataOffset, let declared, let produced):
            return "entry \(quoted(entry)): deflate stream at byte \(dataOffset) inflates to \(produced) bytes; "
                + "expected \(declared)"
        case .deflateStreamTruncated(let entry, let dataOffset, let count):
            return "entry \(quoted(entry)): deflate stream at byte \(dataOffset) does not end within its \(count) "
                + "compressed bytes"
        case .deflateStreamCorrupt(let entry, let dataOffset, let message):
            return "entry \(quoted(entry)): deflate stream at byte \(dataOffset) is corrupt: \(message)"
        case .deflateStreamTrailingBytes(let entry, let dataOffset, let count, let consumed):
            return "entry \(quoted(entry)): deflate stream at byte \(dataOffset) ends after \(consumed) of its "
                + "\(count) compressed bytes"
        case .crcMismatch(let entry, let dataOffset, let expected, let found):
            return "entry \(quoted(entry)): data at byte \(dataOffset) has CRC-32 \(hex(found)); expected \(hex(expected))"
        case .noRootFolder(let entry):
            guard let entry else { return "archive has no entries; expected records under one root folder" }
            return "entry \(quoted(entry)) is not inside a folder; expected every record under one root folder"
        case .entryOutsideRootFolder(let entry, let offset, let root):
            return "entry \(quoted(entry)): header at byte \(offset) lies outside the root folder \(quoted(root + "/"))"
        case .entrySizeMismatch(let entry, let declared, let written):
            return "entry \(quoted(entry)): \(written) bytes written; expected the declared \(declared)"
        case .entryNameTooLong(let entry, let count):
            return "entry \(quoted(entry)): name is \(count) bytes; expected at most 65535"
        }
    }

    private func prefix(_ entry: String?) -> String {
        entry.map { "entry \(quoted($0)): " } ?? ""
    }
}

/// A fixed-layout zip record, for messages.
public enum ZipStructure: Sendable, Equatable, CustomStringConvertible {
    /// The classic end-of-central-directory record (`PK\5\6`, 22 bytes + comment).
    case endRecord
    /// The zip64 end-of-central-directory locator (`PK\6\7`, 20 bytes).
    case zip64Locator
    /// The zip64 end-of-central-directory record (`PK\6\6`, 56 bytes or more).
    case zip64EndRecord
    /// A central directory file header (`PK\1\2`, 46 bytes + name, extra, comment).
    case centralDirectoryHeader
    /// A local file header (`PK\3\4`, 30 bytes + name, extra).
    case localHeader

    /// The record's signature, as read little-endian.
    public var signature: UInt32 {
        switch self {
        case .endRecord: return ZipSignature.endRecord
        case .zip64Locator: return ZipSignature.zip64Locator
        case .zip64EndRecord: return ZipSignature.zip64EndRecord
        case .centralDirectoryHeader: return ZipSignature.centralDirectoryHeader
        case .localHeader: return ZipSignature.localHeader
        }
    }

    /// The record's name in messages.
    public var description: String {
        switch self {
        case .endRecord: return "end-of-central-directory record"
        case .zip64Locator: return "zip64 end-of-central-directory locator"
        case .zip64EndRecord: return "zip64 end-of-central-directory record"
        case .centralDirectoryHeader: return "central directory header"
        case .localHeader: return "local header"
        }
    }
}

/// A field of the end records that can contradict another.
public enum ZipEndRecordField: Sendable, Equatable, CustomStringConvertible {
    /// Entries on this disk (must equal the total on a single-disk archive).
    case entriesOnThisDisk
    /// Total entry count (classic record vs zip64 record).
    case entryCount
    /// Central directory size (classic record vs zip64 record).
    case centralDirectoryByteCount
    /// Central directory offset (classic record vs zip64 record).
    case centralDirectoryOffset

    /// The field's name in messages.
    public var description: String {
        switch self {
        case .entriesOnThisDisk: return "the entry count on this disk"
        case .entryCount: return "the entry count"
        case .centralDirectoryByteCount: return "the central directory size"
        case .centralDirectoryOffset: return "the central directory offset"
        }
    }
}

/// A local header field cross-checked against the central directory.
public enum ZipLocalHeaderField: Sendable, Equatable, CustomStringConvertible {
    /// Compression method.
    case method
    /// CRC-32 (checked only without a data descriptor).
    case crc32
    /// Compressed size (checked only without a data descriptor).
    case compressedByteCount
    /// Uncompressed size (checked only without a data descriptor).
    case uncompressedByteCount

    /// The field's name in messages.
    public var description: String {
        switch self {
        case .method: return "compression method"
        case .crc32: return "CRC-32"
        case .compressedByteCount: return "compressed size"
        case .uncompressedByteCount: return "uncompressed size"
        }
    }
}

/// Why an entry name is refused.
public enum ZipEntryNameProblem: Sendable, Equatable, CustomStringConvertible {
    /// The name is empty.
    case empty
    /// The name is not valid UTF-8.
    case notUTF8
    /// The name starts with `/`.
    case absolutePath
    /// A `/`-separated component is `..`.
    case parentDirectoryComponent
    /// The name contains `\`.
    case backslash
    /// The name contains a NUL byte.
    case nulByte

    /// The problem, completing "name …".
    public var description: String {
        switch self {
        case .empty: return "is empty"
        case .notUTF8: return "is not valid UTF-8"
        case .absolutePath: return "is an absolute path (starts with \"/\")"
        case .parentDirectoryComponent: return "contains a \"..\" component"
        case .backslash: return "contains a backslash"
        case .nulByte: return "contains a NUL byte"
        }
    }
}

/// `0x` and 8 (or 4) hexadecimal digits.
func hex<T: FixedWidthInteger & UnsignedInteger>(_ value: T) -> String {
    let digits = String(value, radix: 16, uppercase: true)
    let width = MemoryLayout<T>.size * 2
    return "0x" + String(repeating: "0", count: max(0, width - digits.count)) + digits
}

/// `name` in double quotes, exactly as the archive spells it. Text from the file is never
/// escaped here: whoever shows a message on a terminal escapes it once (docs/security.md).
func quoted(_ name: String) -> String {
    "\"" + name + "\""
}
