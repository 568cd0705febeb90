import ExactText

// Every offset or length read from the file is compared with what remains in subtraction form
// (`count <= available - offset`) before it is used, and 64-bit fields are compared with the file
// size before they become `Int`, so no arithmetic on file values can trap.

/// What indexing an archive produces.
struct ArchiveIndex {
    var entries: [ZipEntry]
    /// Entry index by name; names compare by their bytes (docs/formats.md, "Names and text").
    var indexByName: [ExactString: Int]
    var centralDirectoryOffset: Int
    var hasZip64EndRecord: Bool
    var endRecordOffset: Int
    var zip64EndRecordOffset: Int?
}

/// Where the central directory is, from the end records.
struct CentralDirectoryLocation {
    var entryCount: Int
    var offset: Int
    var byteCount: Int
    var hasZip64EndRecord: Bool
    var zip64EndRecordOffset: Int?
}

/// Builds an ``ArchiveIndex`` from archive bytes: end records, central directory, local headers,
/// layout.
struct ArchiveIndexer {
    let bytes: UnsafeRawBufferPointer
    let limits: ZipReadLimits
    /// Accept bytes before the first local header (a scanner reports them instead).
    var allowsLeadingData = false

    private var fileSize: Int { bytes.count }

    func index() throws(ZipError) -> ArchiveIndex {
        let endRecordOffset = try findEndRecord()
        let directory = try readEndRecords(at: endRecordOffset)
        let (entries, indexByName) = try readCentralDirectory(directory)
        try checkLayout(entries, centralDirectoryOffset: directory.offset)
        return ArchiveIndex(
            entries: entries, indexByName: indexByName, centralDirectoryOffset: directory.offset,
            hasZip64EndRecord: directory.hasZip64EndRecord, endRecordOffset: endRecordOffset,
            zip64EndRecordOffset: directory.zip64EndRecordOffset)
    }

    // MARK: End records

    /// The offset of the one end record whose comment ends exactly at the end of the file.
    ///
    /// Scans back at most 65,535 + 22 bytes. A signature inside the comment whose own comment
    /// length does not reach the end of the file is ignored; two records that both reach it are
    /// ambiguous and refused.
    func findEndRecord() throws(ZipError) -> Int {
        let size = fileSize
        guard size >= ZipRecordSize.endRecord else { throw .endRecordNotFound(fileSize: size) }
        let highest = size - ZipRecordSize.endRecord
        let lowest = highest - min(highest, ZipRecordSize.maxComment)
        var found: Int?
        var candidate = highest
        while candidate >= lowest {
            // SAFETY: candidate <= size - 22, so all 22 bytes of a record fit.
            if bytes[candidate] == 0x50, bytes.le32(at: candidate) == ZipSignature.endRecord,
                Int(bytes.le16(at: candidate + 20)) == highest - candidate
            {
                if let later = found { throw .ambiguousEndRecord(firstOffset: candidate, secondOffset: later) }
                found = candidate
            }
            candidate -= 1
        }
        guard let found else { throw .endRecordNotFound(fileSize: size) }
        return found
    }

    /// Reads the classic end record at `offset` and, when a locator precedes it, the zip64 end
    /// record; checks that they agree and that the central directory ends where they begin.
    func readEndRecords(at offset: Int) throws(ZipError) -> CentralDirectoryLocation {
        let disk = bytes.le16(at: offset + 4)
        let directoryDisk = bytes.le16(at: offset + 6)
        let entriesOnDisk = bytes.le16(at: offset + 8)
        let totalEntries = bytes.le16(at: offset + 10)
        let directorySize32 = bytes.le32(at: offset + 12)
        let directoryOffset32 = bytes.le32(at: offset + 16)
        guard disk == 0 else { throw .multiDiskArchive(.endRecord, offset: offset, diskNumber: UInt32(disk)) }
        guard directoryDisk == 0 else {
            throw .multiDiskArchive(.endRecord, offset: offset, diskNumber: UInt32(directoryDisk))
        }
        guard entriesOnDisk == totalEntries else {
            throw .inconsistentEndRecord(
                offset: offset, field: .entriesOnThisDisk, expected: UInt64(totalEntries), found: UInt64(entriesOnDisk))
        }

        var entryCount = UInt64(totalEntries)
        var directorySize = UInt64(directorySize32)
        var directoryOffset = UInt64(directoryOffset32)
        var recordsStart = offset
        var hasZip64 = false

        let locator = offset - ZipRecordSize.zip64Locator
        // SAFETY: locator >= 0 is checked first; the locator's 20 bytes end at `offset`.
        if locator >= 0, bytes.le32(at: locator) == ZipSignature.zip64Locator {
            let zip64Disk = bytes.le32(at: locator + 4)
            let zip64Offset = bytes.le64(at: locator + 8)
            let diskCount = bytes.le32(at: locator + 16)
            guard zip64Disk == 0 else { throw .multiDiskArchive(.zip64Locator, offset: locator, diskNumber: zip64Disk) }
            guard diskCount <= 1 else { throw .multiDiskArchive(.zip64Locator, offset: locator, diskNumber: diskCount - 1) }
            guard locator >= ZipRecordSize.zip64EndRecord,
                zip64Offset <= UInt64(locator - ZipRecordSize.zip64EndRecord)
            else { throw .zip64EndRecordMisplaced(offset: zip64Offset, locatorOffset: locator) }
            let record = Int(zip64Offset)
            let signature = bytes.le32(at: record)
            guard signature == ZipSignature.zip64EndRecord else {
                throw .badSignature(.zip64EndRecord, entry: nil, offset: record, found: signature)
            }
            // The record's size field counts the bytes after itself (12); it must reach the locator.
            guard bytes.le64(at: record + 4) == UInt64(locator - record - 12) else {
                throw .zip64EndRecordMisplaced(offset: zip64Offset, locatorOffset: locator)
            }
            let recordDisk = bytes.le32(at: record + 16)
            let recordDirectoryDisk = bytes.le32(at: record + 20)
            guard recordDisk == 0 else { throw .multiDiskArchive(.zip64EndRecord, offset: record, diskNumber: recordDisk) }
            guard recordDirectoryDisk == 0 else {
                throw .multiDiskArchive(.zip64EndRecord, offset: record, diskNumber: recordDirectoryDisk)
            }
            let entriesOnDisk64 = bytes.le64(at: record + 24)
            let totalEntries64 = bytes.le64(at: record + 32)
            let directorySize64 = bytes.le64(at: record + 40)
            let directoryOffset64 = bytes.le64(at: record + 48)
            guard entriesOnDisk64 == totalEntries64 else {
                throw .inconsistentEndRecord(
                    offset: record, field: .entriesOnThisDisk, expected: totalEntries64, found: entriesOnDisk64)
            }
            // Each classic field is either the "see zip64" sentinel or the same value.
            if totalEntries != ZipSentinel.u16, UInt64(totalEntries) != totalEntries64 {
                throw .inconsistentEndRecord(
                    offset: offset, field: .entryCount, expected: totalEntries64, found: UInt64(totalEntries))
            }
            if directorySize32 != ZipSentinel.u32, UInt64(directorySize32) != directorySize64 {
                throw .inconsistentEndRecord(
                    offset: offset, field: .centralDirectoryByteCount, expected: directorySize64,
                    found: UInt64(directorySize32))
            }
            if directoryOffset32 != ZipSentinel.u32, UInt64(directoryOffset32) != directoryOffset64 {
                throw .inconsistentEndRecord(
                    offset: offset, field: .centralDirectoryOffset, expected: directoryOffset64,
                    found: UInt64(directoryOffset32))
            }
            entryCount = totalEntries64
            directorySize = directorySize64
            directoryOffset = directoryOffset64
            recordsStart = record
            hasZip64 = true
        }

        let size = UInt64(fileSize)
        guard directoryOffset <= size, directorySize <= size - directoryOffset else {
            throw .centralDirectoryOutsideFile(offset: directoryOffset, byteCount: directorySize, fileSize: fileSize)
        }
        guard directoryOffset + directorySize == UInt64(recordsStart) else {
            throw .centralDirectoryMisplaced(
                endOffset: directoryOffset + directorySize, expectedEndOffset: recordsStart)
        }
        guard entryCount <= directorySize / UInt64(ZipRecordSize.centralDirectoryHeader) else {
            throw .entryCountExceedsCentralDirectory(count: entryCount, centralDirectoryByteCount: directorySize)
        }
        guard entryCount <= UInt64(max(0, limits.maxEntryCount)) else {
            throw .tooManyEntries(count: entryCount, limit: limits.maxEntryCount)
        }
        // All three are now at most the file size, so they fit in Int.
        return CentralDirectoryLocation(
            entryCount: Int(entryCount), offset: Int(directoryOffset), byteCount: Int(directorySize),
            hasZip64EndRecord: hasZip64, zip64EndRecordOffset: hasZip64 ? recordsStart : nil)
    }

    // MARK: Central directory and local headers

    func readCentralDirectory(
        _ directory: CentralDirectoryLocation
    ) throws(ZipError) -> ([ZipEntry], [ExactString: Int]) {
        var entries: [ZipEntry] = []
        var indexByName: [ExactString: Int] = [:]
        // Duplicates are found under canonical equivalence (Swift's String ==), on purpose: two
        // names that normalize alike are ambiguous (a tool that normalizes names would read the
        // other record), so such an archive is refused. Lookups are by bytes (`indexByName`), so
        // a name never finds a record spelled differently.
        var indexByCanonicalName: [String: Int] = [:]
        // The count is at most the directory size / 46, so this reservation is backed by file bytes.
        entries.reserveCapacity(directory.entryCount)
        indexByName.reserveCapacity(directory.entryCount)
        indexByCanonicalName.reserveCapacity(directory.entryCount)
        let directoryEnd = directory.offset + directory.byteCount
        var cursor = directory.offset
        for index in 0..<directory.entryCount {
            let (entry, next) = try readEntry(at: cursor, index: index, directoryEnd: directoryEnd) { name, offset throws(ZipError) in
                if let first = indexByCanonicalName[name] {
                    throw .duplicateEntryName(name: name, offset: offset, firstOffset: entries[first].centralHeaderOffset)
                }
            }
            indexByName[ExactString(entry.name)] = index
            indexByCanonicalName[entry.name] = index
            entries.append(entry)
            cursor = next
        }
        guard cursor == directoryEnd else {
            throw .centralDirectorySizeMismatch(
                declaredByteCount: directory.byteCount, usedByteCount: cursor - directory.offset)
        }
        return (entries, indexByName)
    }

    /// Reads the central directory header at `header` and checks it against its local header.
    /// Returns the entry and the offset of the next header.
    private func readEntry(
        at header: Int, index: Int, directoryEnd: Int,
        checkDuplicate: (String, Int) throws(ZipError) -> Void
    ) throws(ZipError) -> (ZipEntry, Int) {
        let available = directoryEnd - header
        guard available >= ZipRecordSize.centralDirectoryHeader else {
            throw .truncated(
                .centralDirectoryHeader, entry: nil, offset: header, needed: ZipRecordSize.centralDirectoryHeader,
                available: available)
        }
        let signature = bytes.le32(at: header)
        guard signature == ZipSignature.centralDirectoryHeader else {
            throw .badSignature(.centralDirectoryHeader, entry: nil, offset: header, found: signature)
        }
        let flags = bytes.le16(at: header + 8)
        let methodCode = bytes.le16(at: header + 10)
        let crc = bytes.le32(at: header + 16)
        let compressed32 = bytes.le32(at: header + 20)
        let uncompressed32 = bytes.le32(at: header + 24)
        let nameLength = Int(bytes.le16(at: header + 28))
        let extraLength = Int(bytes.le16(at: header + 30))
        let commentLength = Int(bytes.le16(at: header + 32))
        let diskStart = bytes.le16(at: header + 34)
        let localOffset32 = bytes.le32(at: header + 42)
        let variableLength = nameLength + extraLength + commentLength
        guard variableLength <= available - ZipRecordSize.centralDirectoryHeader else {
            throw .truncated(
                .centralDirectoryHeader, entry: nil, offset: header,
                needed: ZipRecordSize.centralDirectoryHeader + variableLength, available: available)
        }

        // Name: safe, UTF-8, unique.
        let nameBytes = bytes.slice(header + ZipRecordSize.centralDirectoryHeader, nameLength)
        let validName = String(validating: nameBytes, as: UTF8.self)
        let name = validName ?? String(decoding: nameBytes, as: UTF8.self)
        if let problem = ZipEntry.nameProblem(nameBytes) {
            throw .invalidEntryName(name: name, offset: header, problem: problem)
        }
        guard validName != nil else { throw .invalidEntryName(name: name, offset: header, problem: .notUTF8) }
        try checkDuplicate(name, header)

        guard flags & (ZipFlag.encrypted | ZipFlag.strongEncryption) == 0 else {
            throw .encryptedEntry(entry: name, offset: header, flags: flags)
        }
        guard let method = ZipCompressionMethod(rawValue: methodCode) else {
            throw .unsupportedCompressionMethod(entry: name, offset: header, method: methodCode)
        }

        // Sizes and offset, from the zip64 extra field where the classic field is the sentinel.
        var uncompressed = UInt64(uncompressed32)
        var compressed = UInt64(compressed32)
        var localOffset = UInt64(localOffset32)
        var disk = UInt32(diskStart)
        let extras = ExtraFieldBlock(
            bytes: bytes, start: header + ZipRecordSize.centralDirectoryHeader + nameLength, count: extraLength,
            entry: name)
        let zip64 = try extras.field(ZipExtraID.zip64)
        if uncompressed32 == ZipSentinel.u32 || compressed32 == ZipSentinel.u32 || localOffset32 == ZipSentinel.u32
            || diskStart == ZipSentinel.u16
        {
            guard var values = zip64 else { throw .zip64ExtraMissing(entry: name, offset: header) }
            if uncompressed32 == ZipSentinel.u32 { uncompressed = try values.next(byteCount: 8) }
            if compressed32 == ZipSentinel.u32 { compressed = try values.next(byteCount: 8) }
            if localOffset32 == ZipSentinel.u32 { localOffset = try values.next(byteCount: 8) }
            if diskStart == ZipSentinel.u16 { disk = UInt32(truncatingIfNeeded: try values.next(byteCount: 4)) }
        }
        guard disk == 0 else { throw .multiDiskArchive(.centralDirectoryHeader, offset: header, diskNumber: disk) }
        switch method {
        case .stored:
            guard compressed == uncompressed else {
                throw .storedSizeMismatch(
                    entry: name, offset: header, compressedByteCount: compressed, uncompressedByteCount: uncompressed)
            }
        case .deflated:
            // Deflate emits at most 258 bytes per 2 bits, so at most 1032 bytes per compressed byte.
            let minimumCompressed = uncompressed / 1032 + (uncompressed % 1032 == 0 ? 0 : 1)
            guard minimumCompressed <= compressed else {
                throw .impossibleCompressionRatio(
                    entry: name, offset: header, compressedByteCount: compressed, uncompressedByteCount: uncompressed)
            }
        }

        let dataOffset = try checkLocalHeader(
            entry: name, nameBytes: nameBytes, localOffset: localOffset, methodCode: methodCode, crc: crc,
            compressed: compressed, uncompressed: uncompressed)
        // The compressed size is now within the file; an uncompressed size beyond Int is impossible
        // for any real deflate stream of that size.
        guard let uncompressedCount = Int(exactly: uncompressed) else {
            throw .impossibleCompressionRatio(
                entry: name, offset: header, compressedByteCount: compressed, uncompressedByteCount: uncompressed)
        }
        let entry = ZipEntry(
            name: name, index: index, method: method, flags: flags, crc32: crc, compressedByteCount: Int(compressed),
            uncompressedByteCount: uncompressedCount, centralHeaderOffset: header, localHeaderOffset: Int(localOffset),
            dataOffset: dataOffset)
        return (entry, header + ZipRecordSize.centralDirectoryHeader + variableLength)
    }

    /// Checks the local header at `localOffset` against the central directory's values and returns
    /// the data offset, after checking the data lies inside the file.
    private func checkLocalHeader(
        entry name: String, nameBytes: UnsafeRawBufferPointer, localOffset: UInt64, methodCode: UInt16, crc: UInt32,
        compressed: UInt64, uncompressed: UInt64
    ) throws(ZipError) -> Int {
        guard fileSize >= ZipRecordSize.localHeader, localOffset <= UInt64(fileSize - ZipRecordSize.localHeader) else {
            throw .localHeaderOutsideFile(entry: name, offset: localOffset, fileSize: fileSize)
        }
        let local = Int(localOffset)
        let signature = bytes.le32(at: local)
        guard signature == ZipSignature.localHeader else {
            throw .badSignature(.localHeader, entry: name, offset: local, found: signature)
        }
        let flags = bytes.le16(at: local + 6)
        let localMethod = bytes.le16(at: local + 8)
        let localCRC = bytes.le32(at: local + 14)
        let localCompressed32 = bytes.le32(at: local + 18)
        let localUncompressed32 = bytes.le32(at: local + 22)
        let localNameLength = Int(bytes.le16(at: local + 26))
        let localExtraLength = Int(bytes.le16(at: local + 28))
        let available = fileSize - local - ZipRecordSize.localHeader
        guard localNameLength + localExtraLength <= available else {
            throw .truncated(
                .localHeader, entry: name, offset: local,
                needed: ZipRecordSize.localHeader + localNameLength + localExtraLength,
                available: fileSize - local)
        }
        let localName = bytes.slice(local + ZipRecordSize.localHeader, localNameLength)
        guard localName.elementsEqual(nameBytes) else {
            throw .localNameMismatch(entry: name, offset: local, found: String(decoding: localName, as: UTF8.self))
        }
        guard flags & (ZipFlag.encrypted | ZipFlag.strongEncryption) == 0 else {
            throw .encryptedEntry(entry: name, offset: local, flags: flags)
        }
        guard localMethod == methodCode else {
            throw .localFieldMismatch(
                entry: name, offset: local, field: .method, expected: UInt64(methodCode), found: UInt64(localMethod))
        }
        if flags & ZipFlag.dataDescriptor == 0 {
            // Without a data descriptor the local header carries the real CRC and sizes.
            guard localCRC == crc else {
                throw .localFieldMismatch(
                    entry: name, offset: local, field: .crc32, expected: UInt64(crc), found: UInt64(localCRC))
            }
            var localCompressed = UInt64(localCompressed32)
            var localUncompressed = UInt64(localUncompressed32)
            if localUncompressed32 == ZipSentinel.u32 || localCompressed32 == ZipSentinel.u32 {
                let extras = ExtraFieldBlock(
                    bytes: bytes, start: local + ZipRecordSize.localHeader + localNameLength, count: localExtraLength,
                    entry: name)
                guard var values = try extras.field(ZipExtraID.zip64) else {
                    throw .zip64ExtraMissing(entry: name, offset: local)
                }
                if localUncompressed32 == ZipSentinel.u32 { localUncompressed = try values.next(byteCount: 8) }
                if localCompressed32 == ZipSentinel.u32 { localCompressed = try values.next(byteCount: 8) }
            }
            guard localCompressed == compressed else {
                throw .localFieldMismatch(
                    entry: name, offset: local, field: .compressedByteCount, expected: compressed, found: localCompressed)
            }
            guard localUncompressed == uncompressed else {
                throw .localFieldMismatch(
                    entry: name, offset: local, field: .uncompressedByteCount, expected: uncompressed,
                    found: localUncompressed)
            }
        }
        let dataOffset = local + ZipRecordSize.localHeader + localNameLength + localExtraLength
        guard compressed <= UInt64(fileSize - dataOffset) else {
            throw .entryDataOutsideFile(entry: name, dataOffset: dataOffset, byteCount: compressed, fileSize: fileSize)
        }
        return dataOffset
    }

    // MARK: Layout

    /// Refuses bytes before the first local header and entries that run into the next entry or
    /// into the central directory.
    func checkLayout(_ entries: [ZipEntry], centralDirectoryOffset: Int) throws(ZipError) {
        let order = entries.indices.sorted { entries[$0].localHeaderOffset < entries[$1].localHeaderOffset }
        guard let first = order.first else {
            guard centralDirectoryOffset == 0 || allowsLeadingData else { throw .dataBeforeFirstEntry(firstOffset: centralDirectoryOffset) }
            return
        }
        guard entries[first].localHeaderOffset == 0 || allowsLeadingData else {
            throw .dataBeforeFirstEntry(firstOffset: entries[first].localHeaderOffset)
        }
        for position in order.indices {
            let entry = entries[order[position]]
            let end = entry.dataOffset + entry.compressedByteCount
            let next = position + 1 < order.count ? entries[order[position + 1]] : nil
            let nextOffset = next?.localHeaderOffset ?? centralDirectoryOffset
            guard end <= nextOffset else {
                throw .overlappingEntries(entry: entry.name, endOffset: end, next: next?.name, nextOffset: nextOffset)
            }
        }
    }
}

/// The extra-field block of one header: a sequence of (id: u16, length: u16, data) fields.
struct ExtraFieldBlock {
    let bytes: UnsafeRawBufferPointer
    let start: Int
    let count: Int
    let entry: String

    /// The first field with `id`, after checking that every field's length fits the block.
    /// Fewer than 4 trailing bytes are tolerated (some aligners pad with zeros).
    func field(_ id: UInt16) throws(ZipError) -> Zip64Values? {
        let end = start + count
        var cursor = start
        var found: Zip64Values?
        while end - cursor >= 4 {
            let fieldID = bytes.le16(at: cursor)
            let length = Int(bytes.le16(at: cursor + 2))
            guard length <= end - cursor - 4 else {
                throw .malformedExtraField(
                    entry: entry, offset: cursor, declaredByteCount: length, available: end - cursor - 4)
            }
            if fieldID == id, found == nil {
                found = Zip64Values(bytes: bytes, headerOffset: cursor, start: cursor + 4, count: length, entry: entry)
            }
            cursor += 4 + length
        }
        return found
    }
}

/// Reads the zip64 extra field's values in order, each one checked against the field's length.
struct Zip64Values {
    let bytes: UnsafeRawBufferPointer
    let headerOffset: Int
    let start: Int
    let count: Int
    let entry: String
    var position = 0

    mutating func next(byteCount: Int) throws(ZipError) -> UInt64 {
        guard byteCount <= count - position else {
            throw .zip64ExtraTooShort(entry: entry, offset: headerOffset, needed: position + byteCount, found: count)
        }
        defer { position += byteCount }
        // SAFETY: start + position + byteCount <= start + count, which lies inside the extra block.
        return byteCount == 8 ? bytes.le64(at: start + position) : UInt64(bytes.le32(at: start + position))
    }
}
