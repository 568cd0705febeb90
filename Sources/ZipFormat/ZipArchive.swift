// Reads the central directory the way PyTorchStreamReader does (pytorch/pytorch
// caffe2/serialize/inline_container.cc: root folder from the first central directory entry, data
// offset from each local header's own name and extra lengths), with the cross-checks of
// docs/security.md ("Zip") on top. Record layouts: PKWARE APPNOTE.TXT.

import ExactText
import BinaryIO
import Synchronization

/// Budgets for what an archive's contents may cost.
public struct ZipReadLimits: Sendable, Equatable {
    /// The most bytes all deflated entries of one archive may inflate to, together (a zip-bomb
    /// guard). Every inflation counts, also of the same entry twice. Default 2 GiB.
    public var maxInflatedByteCount: Int
    /// The most entries an archive may declare. Default 4,194,304.
    public var maxEntryCount: Int

    /// Limits with the given values.
    public init(maxInflatedByteCount: Int = 1 << 31, maxEntryCount: Int = 1 << 22) {
        self.maxInflatedByteCount = maxInflatedByteCount
        self.maxEntryCount = maxEntryCount
    }
}

/// A zip archive read from bytes in memory (normally a ``MappedFile``), indexed from its central
/// directory and checked against every local header, without touching entry data.
///
/// Opening refuses everything docs/security.md ("Zip") lists: an end record that is missing,
/// ambiguous or inconsistent; multi-disk archives; central directory or entries outside the file;
/// duplicate, absolute, `..`, backslash or NUL names; encryption; methods other than stored and
/// deflate; a local header that disagrees with its central directory header (signature, name,
/// method, and CRC and sizes when there is no data descriptor); data before the first header; and
/// overlapping entries.
///
/// Stored entries are read in place (``storedBytes(of:)``). Deflated entries are inflated into a
/// buffer of exactly the declared size, always CRC-checked, within
/// ``ZipReadLimits/maxInflatedByteCount`` for the whole archive.
///
/// The archive is immutable apart from the inflation counter, which is atomic, so it can be
/// shared across threads.
///
/// ```swift
/// let file = try MappedFile(path: "model.pth")
/// let archive = try ZipArchive(file: file)
/// guard let root = archive.rootFolder,
///       let entry = archive.entry(named: "\(root)/data/0") else { … }
/// let bytes = try archive.storedBytes(of: entry)   // zero-copy; valid while `archive` lives
/// file.adviseSequential(entry.dataRange)
/// ```
public final class ZipArchive: @unchecked Sendable {
    // @unchecked: `bytes` is never written and `owner` keeps it alive; the only mutable state is
    // the atomic inflation counter.

    /// The whole archive. Valid as long as this archive (or ``owner``) is alive.
    public let bytes: UnsafeRawBufferPointer
    /// The object that keeps ``bytes`` alive (a ``MappedFile``, or an in-memory copy).
    public let owner: AnyObject
    /// The budgets this archive was opened with.
    public let limits: ZipReadLimits
    /// The entries, in central directory order.
    public let entries: [ZipEntry]
    /// The offset of the central directory.
    public let centralDirectoryOffset: Int
    /// Whether the archive has zip64 end records (torch always writes them).
    public let hasZip64EndRecord: Bool
    /// The offset of the end of central directory record (its comment runs to the end of the file).
    public let endRecordOffset: Int
    /// The offset of the zip64 end record, when there is one.
    public let zip64EndRecordOffset: Int?

    private let indexByName: [ExactString: Int]
    private let inflatedTotal = Atomic<Int>(0)

    /// Indexes the archive in `bytes`, which `owner` keeps alive.
    ///
    /// Reads only the end records, the central directory and each local header; no entry data.
    ///
    /// - Throws: ``ZipError`` for anything malformed or refused (see the type's documentation).
    /// With `allowingLeadingData`, bytes before the first local header are accepted instead of
    /// refused (a scanner opens archives this way to report those bytes as a finding).
    public init(bytes: UnsafeRawBufferPointer, owner: AnyObject, limits: ZipReadLimits = ZipReadLimits(),
                allowingLeadingData: Bool = false) throws(ZipError) {
        self.bytes = bytes
        self.owner = owner
        self.limits = limits
        var indexer = ArchiveIndexer(bytes: bytes, limits: limits)
        indexer.allowsLeadingData = allowingLeadingData
        let index = try indexer.index()
        self.entries = index.entries
        self.indexByName = index.indexByName
        self.centralDirectoryOffset = index.centralDirectoryOffset
        self.hasZip64EndRecord = index.hasZip64EndRecord
        self.endRecordOffset = index.endRecordOffset
        self.zip64EndRecordOffset = index.zip64EndRecordOffset
    }

    /// Indexes the archive in a mapped file.
    ///
    /// - Throws: ``ZipError``.
    public convenience init(file: MappedFile, limits: ZipReadLimits = ZipReadLimits(), allowingLeadingData: Bool = false) throws(ZipError) {
        try self.init(bytes: file.bytes, owner: file, limits: limits, allowingLeadingData: allowingLeadingData)
    }

    /// Copies `bytes` into memory this archive owns (64-byte aligned) and indexes them; for tests,
    /// fuzzing and small in-memory archives.
    ///
    /// - Throws: ``ZipError``.
    public convenience init(copying bytes: [UInt8], limits: ZipReadLimits = ZipReadLimits()) throws(ZipError) {
        let storage = AlignedStorage(count: bytes.count)
        bytes.withUnsafeBytes { source in
            // SAFETY: the storage was allocated with exactly `source.count` bytes.
            if let base = source.baseAddress, source.count > 0 {
                storage.mutableBytes.baseAddress?.copyMemory(from: base, byteCount: source.count)
            }
        }
        try self.init(bytes: UnsafeRawBufferPointer(storage.mutableBytes), owner: storage, limits: limits)
    }

    /// The entry named exactly `name`, if any.
    public func entry(named name: String) -> ZipEntry? {
        indexByName[ExactString(name)].map { entries[$0] }
    }

    /// The archive's root folder as torch reads it: the text before the first `/` of the first
    /// central directory entry's name. `nil` when there are no entries or the first name has no
    /// `/`.
    public var rootFolder: String? {
        guard let first = entries.first, let slash = first.name.utf8.firstIndex(of: UInt8(ascii: "/")) else {
            return nil
        }
        return String(first.name[..<slash])
    }

    /// Checks that every entry lies under ``rootFolder`` (`<root>/…`), as torch's loader assumes.
    ///
    /// - Throws: ``ZipError/noRootFolder(entry:)`` or ``ZipError/entryOutsideRootFolder(entry:offset:rootFolder:)``.
    public func checkSingleRootFolder() throws(ZipError) {
        guard let root = rootFolder else { throw .noRootFolder(entry: entries.first?.name) }
        let prefix = Array((root + "/").utf8)
        for entry in entries where !entry.name.utf8.starts(with: prefix) {
            throw .entryOutsideRootFolder(entry: entry.name, offset: entry.centralHeaderOffset, rootFolder: root)
        }
    }

    /// The total number of bytes inflated so far (counted against
    /// ``ZipReadLimits/maxInflatedByteCount``).
    public var inflatedByteCount: Int { inflatedTotal.load(ordering: .relaxed) }

    /// Traps unless `entry` came from this archive; a foreign entry's offsets could point
    /// anywhere.
    func checkOwnership(_ entry: ZipEntry) {
        precondition(
            entry.index >= 0 && entry.index < entries.count && entries[entry.index] == entry,
            "entry \(quoted(entry.name)) does not belong to this archive")
    }

    /// Counts `byteCount` against the inflation budget, or throws if it would go over.
    func reserveInflation(_ byteCount: Int, for entry: ZipEntry) throws(ZipError) {
        let budget = limits.maxInflatedByteCount
        var current = inflatedTotal.load(ordering: .relaxed)
        while true {
            guard current <= budget, byteCount <= budget - current else {
                throw .inflationBudgetExceeded(
                    entry: entry.name, byteCount: byteCount, alreadyInflated: current, budget: budget)
            }
            let (exchanged, original) = inflatedTotal.compareExchange(
                expected: current, desired: current + byteCount, ordering: .relaxed)
            if exchanged { return }
            current = original
        }
    }
}

/// Heap bytes, 64-byte aligned, owned by a class so slices can keep them alive.
final class AlignedStorage: @unchecked Sendable {
    // @unchecked: written only while being filled, before it is shared.
    let mutableBytes: UnsafeMutableRawBufferPointer

    init(count: Int) {
        mutableBytes = UnsafeMutableRawBufferPointer.allocate(byteCount: count, alignment: 64)
    }

    deinit { mutableBytes.deallocate() }
}
