// Lays archives out like torch 2.x's PyTorchStreamWriter (pytorch/pytorch
// caffe2/serialize/inline_container.cc with miniz `mz_zip_writer_add_mem_ex_v2`), as
// docs/formats.md "Torch zip archives" records: stored entries, flags 0x0808 with data descriptors, an "FB" extra field of
// 'Z' bytes aligning every entry's data to 64 bytes, and zip64 end records always.

import ExactText
import BinaryIO

/// Writes a zip archive to an ``OutputFile`` entry by entry, streaming each entry's bytes, with
/// the layout `torch.save` produces.
///
/// Every entry is stored (method 0); its data starts at a multiple of 64 bytes. Each entry's size
/// is declared up front, so the layout (alignment, zip64 fields) is known before its bytes arrive;
/// its CRC-32 is computed as the bytes stream through.
///
/// ```swift
/// let output = try OutputFile(path: "model.pth", overwrite: false)
/// let zip = ZipWriter(output: output)
/// try zip.addEntry(name: "model/data.pkl", bytes: pickle)
/// try zip.beginEntry(name: "model/data/0", byteCount: tensor.count)
/// try zip.write(tensor)                        // any number of calls
/// try zip.endEntry()
/// try zip.finish()                             // central directory and end records
/// try output.commit()                          // rename into place
/// ```
///
/// After any thrown error the archive is incomplete: drop the writer and the output file without
/// committing. Calling methods out of order (writing with no open entry, finishing with one open)
/// traps.
public final class ZipWriter {
    /// The file being written.
    public let output: OutputFile

    /// Entries of this many bytes or more, and headers or central directories at this offset or
    /// beyond, use zip64 fields. 0xFFFFFFFF in real archives; lowered in tests.
    let zip64Threshold: UInt64
    /// Entry counts of this many or more are written as 0xFFFF in the classic end record. 0xFFFF
    /// in real archives; lowered in tests.
    let entryCountThreshold: Int

    private struct CentralRecord {
        var nameBytes: [UInt8]
        var flags: UInt16
        var crc: UInt32
        var byteCount: UInt64
        var headerOffset: UInt64
    }

    private struct OpenEntry {
        var name: String
        var nameBytes: [UInt8]
        var flags: UInt16
        var headerOffset: UInt64
        var declaredByteCount: Int
        var writtenByteCount = 0
        var crc: UInt32 = 0
        var usesZip64Descriptor: Bool
    }

    private var records: [CentralRecord] = []
    private var headerOffsetByName: [ExactString: Int] = [:]
    private var current: OpenEntry?
    private var isFinished = false

    /// A writer appending to `output`, which must be empty.
    ///
    /// Traps if `output` already holds bytes (they would sit before the first header).
    public convenience init(output: OutputFile) {
        self.init(output: output, zip64Threshold: UInt64(UInt32.max), entryCountThreshold: Int(UInt16.max))
    }

    /// A writer with lowered zip64 thresholds, so tests can exercise the zip64 paths with small
    /// archives.
    init(output: OutputFile, zip64Threshold: UInt64, entryCountThreshold: Int) {
        precondition(output.position == 0, "ZipWriter needs an empty OutputFile; \(output.position) bytes already written")
        precondition(zip64Threshold > 0 && zip64Threshold <= UInt64(UInt32.max), "zip64 threshold out of range")
        precondition(entryCountThreshold > 0 && entryCountThreshold <= Int(UInt16.max), "entry count threshold out of range")
        self.output = output
        self.zip64Threshold = zip64Threshold
        self.entryCountThreshold = entryCountThreshold
    }

    /// The number of entries finished so far.
    public var entryCount: Int { records.count }

    // MARK: Entries

    /// Starts an entry of exactly `byteCount` bytes: writes its local header and alignment padding.
    ///
    /// Traps if an entry is already open, the archive is finished, or `byteCount` is negative.
    ///
    /// - Throws: ``ZipError/invalidEntryName(name:offset:problem:)`` for names a reader would
    ///   refuse (empty, absolute, `..`, `\`, NUL), ``ZipError/entryNameTooLong(entry:byteCount:)``,
    ///   ``ZipError/duplicateEntryName(name:offset:firstOffset:)``, or a `FileError` from the output.
    public func beginEntry(name: String, byteCount: Int) throws {
        precondition(!isFinished, "ZipWriter.beginEntry after finish()")
        precondition(current == nil, "ZipWriter.beginEntry(\(quoted(name))) while \(quoted(current?.name ?? "")) is open")
        precondition(byteCount >= 0, "negative byte count \(byteCount) for entry \(quoted(name))")
        let headerOffset = output.position
        let nameBytes = Array(name.utf8)
        if let problem = ZipEntry.nameProblem(nameBytes) {
            throw ZipError.invalidEntryName(name: name, offset: headerOffset, problem: problem)
        }
        guard nameBytes.count <= Int(UInt16.max) else {
            throw ZipError.entryNameTooLong(entry: name, byteCount: nameBytes.count)
        }
        if let first = headerOffsetByName[ExactString(name)] {
            throw ZipError.duplicateEntryName(name: name, offset: headerOffset, firstOffset: first)
        }

        let bigSize = UInt64(byteCount) >= zip64Threshold
        let bigOffset = UInt64(headerOffset) >= zip64Threshold
        // torch: an empty record has no data descriptor, hence no bit 3.
        let flags: UInt16 = byteCount == 0 ? ZipFlag.utf8 : ZipFlag.utf8 | ZipFlag.dataDescriptor

        // The zip64 local extra (before the padding field, as miniz writes it): the size, then a
        // compressed size of 0, for big entries; the header's own offset for headers beyond 4 GiB.
        var zip64Extra = ZipFieldWriter()
        if bigSize || bigOffset {
            zip64Extra.u16(ZipExtraID.zip64)
            zip64Extra.u16(UInt16((bigSize ? 16 : 0) + (bigOffset ? 8 : 0)))
            if bigSize {
                zip64Extra.u64(UInt64(byteCount))
                zip64Extra.u64(0)
            }
            if bigOffset { zip64Extra.u64(UInt64(headerOffset)) }
        }
        let unpaddedDataOffset = headerOffset + ZipRecordSize.localHeader + nameBytes.count + zip64Extra.bytes.count + 4
        let padding = (64 - unpaddedDataOffset % 64) % 64

        var header = ZipFieldWriter(reservingCapacity: ZipRecordSize.localHeader + nameBytes.count + 96)
        header.u32(ZipSignature.localHeader)
        header.u16(0)  // version needed
        header.u16(flags)
        header.u16(ZipCompressionMethod.stored.rawValue)
        header.u16(0)  // time
        header.u16(0)  // date
        header.u32(0)  // CRC-32: in the data descriptor
        header.u32(0)  // compressed size
        header.u32(0)  // uncompressed size
        header.u16(UInt16(nameBytes.count))
        header.u16(UInt16(zip64Extra.bytes.count + 4 + padding))
        header.append(nameBytes)
        header.append(zip64Extra.bytes)
        header.u16(ZipExtraID.torchPadding)
        header.u16(UInt16(padding))
        header.append(repeating: UInt8(ascii: "Z"), count: padding)
        try output.write(header.bytes)

        headerOffsetByName[ExactString(name)] = headerOffset
        current = OpenEntry(
            name: name, nameBytes: nameBytes, flags: flags, headerOffset: UInt64(headerOffset),
            declaredByteCount: byteCount, usesZip64Descriptor: bigSize || bigOffset)
    }

    /// Appends `bytes` to the open entry.
    ///
    /// Traps if no entry is open.
    ///
    /// - Throws: ``ZipError/entrySizeMismatch(entry:declaredByteCount:writtenByteCount:)`` (before
    ///   writing anything) if the entry would exceed its declared size, or a `FileError`.
    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard var entry = current else { preconditionFailure("ZipWriter.write with no open entry") }
        guard bytes.count <= entry.declaredByteCount - entry.writtenByteCount else {
            throw ZipError.entrySizeMismatch(
                entry: entry.name, declaredByteCount: entry.declaredByteCount,
                writtenByteCount: entry.writtenByteCount + bytes.count)
        }
        entry.crc = CRC32.checksum(bytes, continuing: entry.crc)
        try output.write(bytes)
        entry.writtenByteCount += bytes.count
        current = entry
    }

    /// Appends `bytes` to the open entry.
    ///
    /// - Throws: see ``write(_:)``.
    public func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try write($0) }
    }

    /// Finishes the open entry: checks its size and writes its data descriptor.
    ///
    /// Traps if no entry is open.
    ///
    /// - Throws: ``ZipError/entrySizeMismatch(entry:declaredByteCount:writtenByteCount:)`` if fewer
    ///   bytes were written than declared, or a `FileError`.
    public func endEntry() throws {
        guard let entry = current else { preconditionFailure("ZipWriter.endEntry with no open entry") }
        guard entry.writtenByteCount == entry.declaredByteCount else {
            throw ZipError.entrySizeMismatch(
                entry: entry.name, declaredByteCount: entry.declaredByteCount, writtenByteCount: entry.writtenByteCount)
        }
        if entry.declaredByteCount > 0 {
            var descriptor = ZipFieldWriter(reservingCapacity: 24)
            descriptor.u32(ZipSignature.dataDescriptor)
            descriptor.u32(entry.crc)
            if entry.usesZip64Descriptor {
                descriptor.u64(UInt64(entry.declaredByteCount))
                descriptor.u64(UInt64(entry.declaredByteCount))
            } else {
                descriptor.u32(UInt32(entry.declaredByteCount))
                descriptor.u32(UInt32(entry.declaredByteCount))
            }
            try output.write(descriptor.bytes)
        }
        records.append(
            CentralRecord(
                nameBytes: entry.nameBytes, flags: entry.flags, crc: entry.crc,
                byteCount: UInt64(entry.declaredByteCount), headerOffset: entry.headerOffset))
        current = nil
    }

    /// Writes a whole entry at once.
    ///
    /// - Throws: see ``beginEntry(name:byteCount:)``.
    public func addEntry(name: String, bytes: UnsafeRawBufferPointer) throws {
        try beginEntry(name: name, byteCount: bytes.count)
        try write(bytes)
        try endEntry()
    }

    /// Writes a whole entry at once.
    ///
    /// - Throws: see ``beginEntry(name:byteCount:)``.
    public func addEntry(name: String, bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try addEntry(name: name, bytes: $0) }
    }

    // MARK: Central directory

    /// Writes the central directory, the zip64 end record and locator, and the end record. Call
    /// ``OutputFile/commit()`` afterwards to put the file in place.
    ///
    /// Traps if an entry is open or the archive is already finished.
    ///
    /// - Throws: a `FileError` from the output.
    public func finish() throws {
        precondition(!isFinished, "ZipWriter.finish called twice")
        precondition(current == nil, "ZipWriter.finish while \(quoted(current?.name ?? "")) is open")
        isFinished = true

        let directoryOffset = UInt64(output.position)
        var batch = ZipFieldWriter(reservingCapacity: 1 << 16)
        for record in records {
            let bigSize = record.byteCount >= zip64Threshold
            let bigOffset = record.headerOffset >= zip64Threshold
            let extraLength = (bigSize ? 16 : 0) + (bigOffset ? 8 : 0)
            batch.u32(ZipSignature.centralDirectoryHeader)
            batch.u16(0)  // version made by
            batch.u16(0)  // version needed
            batch.u16(record.flags)
            batch.u16(ZipCompressionMethod.stored.rawValue)
            batch.u16(0)  // time
            batch.u16(0)  // date
            batch.u32(record.crc)
            batch.u32(bigSize ? ZipSentinel.u32 : UInt32(record.byteCount))  // compressed
            batch.u32(bigSize ? ZipSentinel.u32 : UInt32(record.byteCount))  // uncompressed
            batch.u16(UInt16(record.nameBytes.count))
            batch.u16(UInt16(extraLength == 0 ? 0 : 4 + extraLength))
            batch.u16(0)  // comment length
            batch.u16(0)  // disk number start
            batch.u16(0)  // internal attributes
            batch.u32(0)  // external attributes
            batch.u32(bigOffset ? ZipSentinel.u32 : UInt32(record.headerOffset))
            batch.append(record.nameBytes)
            if extraLength > 0 {
                batch.u16(ZipExtraID.zip64)
                batch.u16(UInt16(extraLength))
                if bigSize {
                    batch.u64(record.byteCount)  // uncompressed
                    batch.u64(record.byteCount)  // compressed
                }
                if bigOffset { batch.u64(record.headerOffset) }
            }
            if batch.bytes.count >= 1 << 16 {
                try output.write(batch.bytes)
                batch.bytes.removeAll(keepingCapacity: true)
            }
        }
        try output.write(batch.bytes)
        batch.bytes.removeAll(keepingCapacity: true)

        let zip64RecordOffset = UInt64(output.position)
        let directorySize = zip64RecordOffset - directoryOffset
        let count = UInt64(records.count)

        batch.u32(ZipSignature.zip64EndRecord)
        batch.u64(UInt64(ZipRecordSize.zip64EndRecord - 12))
        batch.u16(0x031E)  // version made by: Unix, 3.0
        batch.u16(45)  // version needed: zip64
        batch.u32(0)  // this disk
        batch.u32(0)  // disk with the central directory
        batch.u64(count)
        batch.u64(count)
        batch.u64(directorySize)
        batch.u64(directoryOffset)

        batch.u32(ZipSignature.zip64Locator)
        batch.u32(0)  // disk with the zip64 end record
        batch.u64(zip64RecordOffset)
        batch.u32(1)  // total disks

        let classicCount = records.count >= entryCountThreshold ? ZipSentinel.u16 : UInt16(records.count)
        batch.u32(ZipSignature.endRecord)
        batch.u16(0)  // this disk
        batch.u16(0)  // disk with the central directory
        batch.u16(classicCount)
        batch.u16(classicCount)
        batch.u32(directorySize >= zip64Threshold ? ZipSentinel.u32 : UInt32(directorySize))
        batch.u32(directoryOffset >= zip64Threshold ? ZipSentinel.u32 : UInt32(directoryOffset))
        batch.u16(0)  // comment length
        try output.write(batch.bytes)
    }
}
