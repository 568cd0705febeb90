import Foundation
import Testing
import TestSupport
import ZipFormat

// One named test per attack (docs/security.md, "Zip"), each asserting
// the exact error, offsets included.

typealias Entry = ZipBuilder.Entry

/// `payload` as a deflated entry whose stream is one stored block.
func deflatedEntry(_ name: String, payload: [UInt8], declared: Int? = nil, stream: [UInt8]? = nil) -> Entry {
    var entry = Entry(name, stream ?? storedDeflateBlock(payload))
    entry.method = 8
    entry.crc = referenceCRC32(payload)
    entry.uncompressedByteCount = UInt32(declared ?? payload.count)
    return entry
}

/// A classic end-of-central-directory record.
func endRecordBytes(entryCount: UInt16, directoryByteCount: UInt32, directoryOffset: UInt32, commentByteCount: UInt16) -> [UInt8] {
    var bytes = [UInt8](repeating: 0, count: 22)
    bytes.put32(0x0605_4B50, at: 0)
    bytes.put16(entryCount, at: 8)
    bytes.put16(entryCount, at: 10)
    bytes.put32(directoryByteCount, at: 12)
    bytes.put32(directoryOffset, at: 16)
    bytes.put16(commentByteCount, at: 20)
    return bytes
}

@Suite("Hostile zip archives")
struct ZipHostileInputTests {
    // Truncation and end records

    @Test("every prefix of a real archive is refused: no end record", arguments: [
        "zip_shared_views.pt", "zip_deflated_renamed.pt", "python_force_zip64.zip",
    ])
    func truncatedAtEveryCutPoint(name: String) throws {
        let bytes = try Fixture.bytes("zip/\(name)")
        for cut in 0..<bytes.count {
            #expect(throws: ZipError.endRecordNotFound(fileSize: cut)) { try openArchive(Array(bytes.prefix(cut))) }
        }
    }

    @Test("every suffix and every one-byte deletion of a real archive is refused without trapping")
    func cutFromTheFrontOrMiddle() throws {
        let bytes = try Fixture.bytes("zip/zip_shared_views.pt")
        for cut in 1..<bytes.count {
            #expect(throws: ZipError.self) { try openArchive(Array(bytes.dropFirst(cut))) }
            var deleted = bytes
            deleted.remove(at: cut)
            #expect(throws: ZipError.self) { try openArchive(deleted) }
        }
    }

    @Test("random byte corruption never traps: each archive opens and reads or throws a ZipError")
    func randomCorruption() throws {
        let originals = [try Fixture.bytes("zip/zip_shared_views.pt"), try Fixture.bytes("zip/zip_deflated_renamed.pt")]
        var opened = 0
        var refused = 0
        for seed in 0..<3000 {
            var bytes = originals[seed % 2]
            let noise = pseudoRandomBytes(count: 12, seed: UInt64(seed))
            for flip in 0..<(1 + seed % 4) {
                // Bias towards the central directory and end records, where the structure is.
                let span = seed % 3 == 0 ? bytes.count : min(bytes.count, 900)
                let position = bytes.count - 1 - Int(noise[flip * 2]) * Int(noise[flip * 2 + 1]) % span
                bytes[position] = noise[8 + flip]
            }
            do {
                let archive = try openArchive(bytes)
                for entry in archive.entries { _ = try? archive.data(of: entry, verifyingCRC: true) }
                opened += 1
            } catch {
                refused += 1
            }
        }
        #expect(opened > 0 && refused > 0)
    }

    @Test("a file without an end record is refused")
    func noEndRecord() {
        #expect(throws: ZipError.endRecordNotFound(fileSize: 0)) { try openArchive([]) }
        let headerOnly: [UInt8] = [0x50, 0x4B, 0x03, 0x04] + [UInt8](repeating: 0, count: 100)
        #expect(throws: ZipError.endRecordNotFound(fileSize: 104)) { try openArchive(headerOnly) }
    }

    @Test("a fake end record inside the comment is ignored when its comment does not reach the end")
    func fakeEndRecordInCommentIgnored() throws {
        var builder = ZipBuilder.twoEntries
        // A record claiming one entry and a central directory at byte 0, with no comment of its
        // own: a scanner that takes the last "PK\5\6" would use it.
        builder.comment = endRecordBytes(entryCount: 1, directoryByteCount: 46, directoryOffset: 0, commentByteCount: 0)
            + Array("trailing comment text".utf8)
        let archive = try openArchive(builder.build().bytes)
        #expect(archive.entries.map(\.name) == ["dir/a", "dir/b"])
    }

    @Test("two end records that both reach the end of the file are refused as ambiguous")
    func fakeEndRecordInCommentAmbiguous() throws {
        var builder = ZipBuilder.twoEntries
        builder.comment = endRecordBytes(entryCount: 0, directoryByteCount: 0, directoryOffset: 0, commentByteCount: 0)
        let built = builder.build()
        #expect(throws: ZipError.ambiguousEndRecord(firstOffset: built.endRecordOffset, secondOffset: built.endRecordOffset + 22)) {
            try openArchive(built.bytes)
        }
    }

    @Test("a multi-disk end record is refused")
    func multiDisk() throws {
        let built = ZipBuilder.twoEntries.build()
        var bytes = built.bytes
        bytes.put16(1, at: built.endRecordOffset + 4)
        #expect(throws: ZipError.multiDiskArchive(.endRecord, offset: built.endRecordOffset, diskNumber: 1)) {
            try openArchive(bytes)
        }
    }

    @Test("an end record whose per-disk count differs from its total is refused")
    func inconsistentEntryCounts() throws {
        let built = ZipBuilder.twoEntries.build()
        var bytes = built.bytes
        bytes.put16(1, at: built.endRecordOffset + 8)
        #expect(throws: ZipError.inconsistentEndRecord(offset: built.endRecordOffset, field: .entriesOnThisDisk, expected: 2, found: 1)) {
            try openArchive(bytes)
        }
    }

    @Test("a classic end record that contradicts the zip64 end record is refused")
    func zip64ContradictsClassic() throws {
        var builder = ZipBuilder.twoEntries
        builder.zip64 = true
        #expect(try openArchive(builder.build().bytes).hasZip64EndRecord)
        builder.endRecordEntryCount = 3
        let built = builder.build()
        #expect(throws: ZipError.inconsistentEndRecord(offset: built.endRecordOffset, field: .entryCount, expected: 2, found: 3)) {
            try openArchive(built.bytes)
        }
    }

    @Test("a zip64 locator that points anywhere but a zip64 record ending at the locator is refused")
    func zip64LocatorMisplaced() throws {
        var builder = ZipBuilder.twoEntries
        builder.zip64 = true
        let built = builder.build()
        let locator = built.endRecordOffset - 20
        let record = locator - 56
        var shifted = built.bytes
        shifted.put64(UInt64(record - 1), at: locator + 8)
        #expect(throws: ZipError.badSignature(.zip64EndRecord, entry: nil, offset: record - 1, found: 0x064B_5062)) {
            try openArchive(shifted)
        }
        var outside = built.bytes
        outside.put64(0xFFFF_FFFF_FFFF_FF00, at: locator + 8)
        #expect(throws: ZipError.zip64EndRecordMisplaced(offset: 0xFFFF_FFFF_FFFF_FF00, locatorOffset: locator)) {
            try openArchive(outside)
        }
        var wrongSize = built.bytes
        wrongSize.put64(45, at: record + 4)
        #expect(throws: ZipError.zip64EndRecordMisplaced(offset: UInt64(record), locatorOffset: locator)) {
            try openArchive(wrongSize)
        }
    }

    // Central directory location and size

    @Test("a central directory offset outside the file is refused")
    func centralDirectoryOffsetOutsideFile() throws {
        var builder = ZipBuilder.twoEntries
        builder.endRecordDirectoryOffset = 0x7FFF_0000
        let built = builder.build()
        let size = UInt64(built.endRecordOffset - built.centralDirectoryOffset)
        #expect(throws: ZipError.centralDirectoryOutsideFile(offset: 0x7FFF_0000, byteCount: size, fileSize: built.bytes.count)) {
            try openArchive(built.bytes)
        }
    }

    @Test("a central directory size running past the end of the file is refused")
    func centralDirectorySizeOutsideFile() throws {
        var builder = ZipBuilder.twoEntries
        builder.endRecordDirectoryByteCount = 0xFFFF_FFF0
        let built = builder.build()
        #expect(throws: ZipError.centralDirectoryOutsideFile(
            offset: UInt64(built.centralDirectoryOffset), byteCount: 0xFFFF_FFF0, fileSize: built.bytes.count)) {
            try openArchive(built.bytes)
        }
    }

    @Test("bytes hidden between the central directory and the end record are refused")
    func centralDirectoryMisplaced() throws {
        var builder = ZipBuilder.twoEntries
        builder.gapBeforeEndRecords = [0, 0, 0, 0]
        let built = builder.build()
        #expect(throws: ZipError.centralDirectoryMisplaced(
            endOffset: UInt64(built.endRecordOffset - 4), expectedEndOffset: built.endRecordOffset)) {
            try openArchive(built.bytes)
        }
    }

    @Test("an entry count larger than the central directory can hold is refused before allocating")
    func entryCountLargerThanCentralDirectory() throws {
        var builder = ZipBuilder.twoEntries
        builder.endRecordEntryCount = 0xFFFE
        let built = builder.build()
        let size = UInt64(built.endRecordOffset - built.centralDirectoryOffset)
        #expect(throws: ZipError.entryCountExceedsCentralDirectory(count: 0xFFFE, centralDirectoryByteCount: size)) {
            try openArchive(built.bytes)
        }
    }

    @Test("an entry count smaller than the central directory leaves bytes over and is refused")
    func entryCountSmallerThanCentralDirectory() throws {
        var builder = ZipBuilder.twoEntries
        builder.endRecordEntryCount = 1
        let built = builder.build()
        #expect(throws: ZipError.centralDirectorySizeMismatch(
            declaredByteCount: built.endRecordOffset - built.centralDirectoryOffset, usedByteCount: 46 + 5)) {
            try openArchive(built.bytes)
        }
    }

    @Test("an entry count within the central directory's room but past its headers is refused as truncated")
    func entryCountPastHeaders() throws {
        var builder = ZipBuilder([Entry("dir/a", [1]), Entry(String(repeating: "n", count: 60), [2])])
        builder.endRecordEntryCount = 3
        let built = builder.build()
        let end = built.endRecordOffset
        #expect(throws: ZipError.truncated(.centralDirectoryHeader, entry: nil, offset: end, needed: 46, available: 0)) {
            try openArchive(built.bytes)
        }
    }

    @Test("more entries than the limit are refused")
    func tooManyEntries() throws {
        #expect(throws: ZipError.tooManyEntries(count: 2, limit: 1)) {
            try openArchive(ZipBuilder.twoEntries.build().bytes, limits: ZipReadLimits(maxEntryCount: 1))
        }
    }

    @Test("a central directory header without its signature is refused")
    func centralHeaderSignature() throws {
        let built = ZipBuilder.twoEntries.build()
        var bytes = built.bytes
        bytes.put32(0x0403_4B50, at: built.centralOffsets[1])
        #expect(throws: ZipError.badSignature(.centralDirectoryHeader, entry: nil, offset: built.centralOffsets[1], found: 0x0403_4B50)) {
            try openArchive(bytes)
        }
    }

    @Test("a central directory header whose name runs past the directory is refused")
    func centralHeaderNameTooLong() throws {
        let built = ZipBuilder.twoEntries.build()
        var bytes = built.bytes
        bytes.put16(0xFFFF, at: built.centralOffsets[1] + 28)
        let available = built.endRecordOffset - built.centralOffsets[1]
        #expect(throws: ZipError.truncated(.centralDirectoryHeader, entry: nil, offset: built.centralOffsets[1], needed: 46 + 0xFFFF, available: available)) {
            try openArchive(bytes)
        }
    }

    // Local headers

    @Test("a local header naming another entry is refused")
    func localNameDiffers() throws {
        var builder = ZipBuilder.twoEntries
        builder.entries[0].localName = Array("dir/x".utf8)
        let error = ZipError.localNameMismatch(entry: "dir/a", offset: 0, found: "dir/x")
        #expect(throws: error) { try openArchive(builder.build().bytes) }
        #expect(error.description == #"entry "dir/a": local header at byte 0 names "dir/x"; expected the central directory's name"#)
    }

    @Test("a local header with another compression method is refused")
    func methodMismatch() throws {
        var builder = ZipBuilder.twoEntries
        builder.entries[1].localMethod = 8
        let built = builder.build()
        #expect(throws: ZipError.localFieldMismatch(entry: "dir/b", offset: built.localOffsets[1], field: .method, expected: 0, found: 8)) {
            try openArchive(built.bytes)
        }
    }

    @Test("a local header with another CRC is refused when there is no data descriptor")
    func localCRCMismatch() throws {
        var builder = ZipBuilder.twoEntries
        builder.entries[1].localCRC = 1
        let built = builder.build()
        let crc = UInt64(referenceCRC32(Array("bravo!".utf8)))
        #expect(throws: ZipError.localFieldMismatch(entry: "dir/b", offset: built.localOffsets[1], field: .crc32, expected: crc, found: 1)) {
            try openArchive(built.bytes)
        }
        // With a data descriptor the local CRC and sizes are placeholders and are not compared.
        builder.entries[1].flags = 0x0008
        #expect(try openArchive(builder.build().bytes).entries.count == 2)
    }

    @Test("a local header with other sizes is refused when there is no data descriptor")
    func localSizeMismatch() throws {
        var builder = ZipBuilder.twoEntries
        builder.entries[0].centralCompressedByteCount = 6
        builder.entries[0].uncompressedByteCount = 6
        #expect(throws: ZipError.localFieldMismatch(entry: "dir/a", offset: 0, field: .compressedByteCount, expected: 6, found: 5)) {
            try openArchive(builder.build().bytes)
        }
    }

    @Test("a local header outside the file is refused")
    func localHeaderOutsideFile() throws {
        var builder = ZipBuilder.twoEntries
        builder.entries[1].centralLocalOffset = 0x00FF_FFFF
        let built = builder.build()
        #expect(throws: ZipError.localHeaderOutsideFile(entry: "dir/b", offset: 0x00FF_FFFF, fileSize: built.bytes.count)) {
            try openArchive(built.bytes)
        }
    }

    @Test("a central directory entry pointing at something other than a local header is refused")
    func localHeaderSignature() throws {
        var builder = ZipBuilder.twoEntries
        builder.entries[1].centralLocalOffset = 2
        #expect(throws: ZipError.badSignature(.localHeader, entry: "dir/b", offset: 2, found: 0x0014_0403)) {
            try openArchive(builder.build().bytes)
        }
    }

    @Test("entry data running past the end of the file is refused")
    func entryDataOutsideFile() throws {
        var builder = ZipBuilder.twoEntries
        builder.entries[1].flags = 0x0008
        builder.entries[1].centralCompressedByteCount = 100_000
        builder.entries[1].uncompressedByteCount = 100_000
        let built = builder.build()
        #expect(throws: ZipError.entryDataOutsideFile(
            entry: "dir/b", dataOffset: built.localOffsets[1] + 35, byteCount: 100_000, fileSize: built.bytes.count)) {
            try openArchive(built.bytes)
        }
    }

    // Entry flags, methods and names

    @Test("an unknown compression method is refused")
    func unknownMethod() throws {
        var builder = ZipBuilder.twoEntries
        builder.entries[0].method = 12
        let built = builder.build()
        #expect(throws: ZipError.unsupportedCompressionMethod(entry: "dir/a", offset: built.centralOffsets[0], method: 12)) {
            try openArchive(built.bytes)
        }
    }

    @Test("the encryption flag is refused, in the central directory or the local header")
    func encryptionFlag() throws {
        var central = ZipBuilder.twoEntries
        central.entries[0].flags = 0x0001
        let builtCentral = central.build()
        #expect(throws: ZipError.encryptedEntry(entry: "dir/a", offset: builtCentral.centralOffsets[0], flags: 1)) {
            try openArchive(builtCentral.bytes)
        }
        var local = ZipBuilder.twoEntries
        local.entries[1].localFlags = 0x0041
        let builtLocal = local.build()
        #expect(throws: ZipError.encryptedEntry(entry: "dir/b", offset: builtLocal.localOffsets[1], flags: 0x41)) {
            try openArchive(builtLocal.bytes)
        }
    }

    @Test("duplicate names are refused")
    func duplicateNames() throws {
        let built = ZipBuilder([Entry("dir/a", [1]), Entry("dir/a", [2])]).build()
        #expect(throws: ZipError.duplicateEntryName(name: "dir/a", offset: built.centralOffsets[1], firstOffset: built.centralOffsets[0])) {
            try openArchive(built.bytes)
        }
    }

    @Test("names equal under Unicode canonical equivalence count as duplicates")
    func duplicateNamesUnicode() throws {
        let composed = "dir/caf\u{E9}"
        let decomposed = "dir/cafe\u{301}"
        #expect(Array(composed.utf8) != Array(decomposed.utf8))
        let built = ZipBuilder([Entry(composed, [1]), Entry(decomposed, [2])]).build()
        #expect(throws: ZipError.duplicateEntryName(name: decomposed, offset: built.centralOffsets[1], firstOffset: built.centralOffsets[0])) {
            try openArchive(built.bytes)
        }
    }

    @Test("unsafe names are refused", arguments: [
        ("../evil", ZipEntryNameProblem.parentDirectoryComponent),
        ("dir/../../evil", .parentDirectoryComponent),
        ("dir/..", .parentDirectoryComponent),
        ("/etc/passwd", .absolutePath),
        ("dir\\..\\evil", .backslash),
        ("dir/a\0.txt", .nulByte),
        ("", .empty),
    ])
    func unsafeName(name: String, problem: ZipEntryNameProblem) throws {
        let built = ZipBuilder([Entry(name, [1])]).build()
        #expect(throws: ZipError.invalidEntryName(name: name, offset: built.centralOffsets[0], problem: problem)) {
            try openArchive(built.bytes)
        }
    }

    @Test("names that only look like traversal are accepted")
    func harmlessDots() throws {
        let names = ["dir/..x", "dir/x..", "dir/.../y", "dir/.hidden", "dir/./z"]
        let archive = try openArchive(ZipBuilder(names.map { Entry($0, [1]) }).build().bytes)
        #expect(archive.entries.map(\.name) == names)
    }

    @Test("a name that is not UTF-8 is refused")
    func nameNotUTF8() throws {
        var entry = Entry("x", [1])
        entry.name = [0x64, 0x69, 0x72, 0x2F, 0xFF, 0xFE]
        let built = ZipBuilder([entry]).build()
        let lossy = String(decoding: entry.name, as: UTF8.self)
        #expect(throws: ZipError.invalidEntryName(name: lossy, offset: built.centralOffsets[0], problem: .notUTF8)) {
            try openArchive(built.bytes)
        }
    }

    @Test("a message keeps the entry name exactly; the command escapes it once when it shows it")
    func messageKeepsName() {
        let error = ZipError.invalidEntryName(name: "a\nb\0c\"d", offset: 7, problem: .nulByte)
        #expect(error.description == "entry \"a\nb\0c\"d\": header at byte 7: name contains a NUL byte")
    }

    // Layout

    @Test("data before the first local header is refused")
    func junkBeforeFirstHeader() throws {
        var builder = ZipBuilder.twoEntries
        builder.prefix = Array("#!/bin/sh\necho polyglot\nexit 0\n".utf8)
        #expect(throws: ZipError.dataBeforeFirstEntry(firstOffset: builder.prefix.count)) {
            try openArchive(builder.build().bytes)
        }
        var empty = ZipBuilder()
        empty.prefix = [1, 2, 3]
        #expect(throws: ZipError.dataBeforeFirstEntry(firstOffset: 3)) { try openArchive(empty.build().bytes) }
    }

    @Test("an entry whose data runs into the next entry's header is refused")
    func overlappingEntries() throws {
        var builder = ZipBuilder.twoEntries
        builder.entries[0].flags = 0x0008
        builder.entries[0].centralCompressedByteCount = 5 + 40
        builder.entries[0].uncompressedByteCount = 5 + 40
        let built = builder.build()
        #expect(throws: ZipError.overlappingEntries(entry: "dir/a", endOffset: 35 + 45, next: "dir/b", nextOffset: built.localOffsets[1])) {
            try openArchive(built.bytes)
        }
    }

    @Test("an entry whose data runs into the central directory is refused")
    func overlappingCentralDirectory() throws {
        var builder = ZipBuilder.twoEntries
        builder.entries[1].flags = 0x0008
        builder.entries[1].centralCompressedByteCount = 6 + 10
        builder.entries[1].uncompressedByteCount = 6 + 10
        let built = builder.build()
        let end = built.localOffsets[1] + 35 + 16
        #expect(throws: ZipError.overlappingEntries(entry: "dir/b", endOffset: end, next: nil, nextOffset: built.centralDirectoryOffset)) {
            try openArchive(built.bytes)
        }
    }

    @Test("two central directory entries sharing one local header are refused")
    func sharedLocalHeader() throws {
        var builder = ZipBuilder.twoEntries
        builder.entries[1].centralLocalOffset = 0
        #expect(throws: ZipError.localNameMismatch(entry: "dir/b", offset: 0, found: "dir/a")) {
            try openArchive(builder.build().bytes)
        }
    }

    // Extra fields and zip64

    @Test("a 0xFFFFFFFF size without a zip64 extra field is refused")
    func zip64ExtraMissing() throws {
        var builder = ZipBuilder.twoEntries
        builder.entries[0].centralCompressedByteCount = 0xFFFF_FFFF
        let built = builder.build()
        #expect(throws: ZipError.zip64ExtraMissing(entry: "dir/a", offset: built.centralOffsets[0])) {
            try openArchive(built.bytes)
        }
    }

    @Test("a zip64 extra field too short for the values it must carry is refused")
    func zip64ExtraTooShort() throws {
        var builder = ZipBuilder.twoEntries
        builder.entries[0].flags = 0x0008
        builder.entries[0].centralCompressedByteCount = 0xFFFF_FFFF
        builder.entries[0].uncompressedByteCount = 0xFFFF_FFFF
        builder.entries[0].centralExtra = .le16(1) + .le16(8) + .le64(5)
        let built = builder.build()
        #expect(throws: ZipError.zip64ExtraTooShort(entry: "dir/a", offset: built.centralOffsets[0] + 46 + 5, needed: 16, found: 8)) {
            try openArchive(built.bytes)
        }
        // With both values present it reads.
        builder.entries[0].centralExtra = .le16(1) + .le16(16) + .le64(5) + .le64(5)
        let archive = try openArchive(builder.build().bytes)
        #expect(archive.entries[0].compressedByteCount == 5)
        #expect(Array(try archive.storedBytes(of: archive.entries[0])) == Array("alpha".utf8))
    }

    @Test("an extra field whose length runs past the extra block is refused")
    func malformedExtraField() throws {
        var builder = ZipBuilder.twoEntries
        builder.entries[1].centralExtra = [0x99, 0x99, 0x10, 0x00, 1, 2]
        let built = builder.build()
        #expect(throws: ZipError.malformedExtraField(entry: "dir/b", offset: built.centralOffsets[1] + 46 + 5, declaredByteCount: 16, available: 2)) {
            try openArchive(built.bytes)
        }
    }

    @Test("a stored entry with different compressed and uncompressed sizes is refused")
    func storedSizesDiffer() throws {
        var builder = ZipBuilder.twoEntries
        builder.entries[0].uncompressedByteCount = 6
        let built = builder.build()
        #expect(throws: ZipError.storedSizeMismatch(entry: "dir/a", offset: built.centralOffsets[0], compressedByteCount: 5, uncompressedByteCount: 6)) {
            try openArchive(built.bytes)
        }
    }

    // Deflate streams and zip bombs

    @Test("a deflate stream longer than the declared size is refused")
    func deflateLongerThanDeclared() throws {
        let built = ZipBuilder([deflatedEntry("dir/d", payload: Array("0123456789".utf8), declared: 5)]).build()
        let archive = try openArchive(built.bytes)
        #expect(throws: ZipError.deflateStreamTooLong(entry: "dir/d", dataOffset: 35, declaredByteCount: 5)) {
            try archive.data(of: archive.entries[0])
        }
    }

    @Test("a deflate stream shorter than the declared size is refused")
    func deflateShorterThanDeclared() throws {
        let built = ZipBuilder([deflatedEntry("dir/d", payload: Array("0123456789".utf8), declared: 20)]).build()
        let archive = try openArchive(built.bytes)
        #expect(throws: ZipError.deflateStreamTooShort(entry: "dir/d", dataOffset: 35, declaredByteCount: 20, producedByteCount: 10)) {
            try archive.data(of: archive.entries[0])
        }
    }

    @Test("a deflate stream cut before its end is refused")
    func deflateTruncated() throws {
        let payload = Array("0123456789".utf8)
        let stream = Array(storedDeflateBlock(payload).dropLast(3))
        let archive = try openArchive(ZipBuilder([deflatedEntry("dir/d", payload: payload, stream: stream)]).build().bytes)
        #expect(throws: ZipError.deflateStreamTruncated(entry: "dir/d", dataOffset: 35, compressedByteCount: 12)) {
            try archive.data(of: archive.entries[0])
        }
    }

    @Test("bytes after the end of a deflate stream are refused")
    func deflateTrailingBytes() throws {
        let payload = Array("0123456789".utf8)
        let stream = storedDeflateBlock(payload) + [1, 2, 3]
        let archive = try openArchive(ZipBuilder([deflatedEntry("dir/d", payload: payload, stream: stream)]).build().bytes)
        #expect(throws: ZipError.deflateStreamTrailingBytes(entry: "dir/d", dataOffset: 35, compressedByteCount: 18, consumedByteCount: 15)) {
            try archive.data(of: archive.entries[0])
        }
    }

    @Test("a corrupt deflate stream is refused with zlib's reason")
    func deflateCorrupt() throws {
        let archive = try openArchive(ZipBuilder([deflatedEntry("dir/d", payload: [1, 2], stream: [0x07, 0, 0])]).build().bytes)
        #expect(throws: ZipError.deflateStreamCorrupt(entry: "dir/d", dataOffset: 35, zlibMessage: "invalid block type")) {
            try archive.data(of: archive.entries[0])
        }
    }

    @Test("a declared size deflate could never produce from the compressed size is refused at open")
    func impossibleRatio() throws {
        let built = ZipBuilder([deflatedEntry("dir/d", payload: Array("0123456789".utf8), declared: 1_000_000)]).build()
        #expect(throws: ZipError.impossibleCompressionRatio(entry: "dir/d", offset: built.centralOffsets[0], compressedByteCount: 15, uncompressedByteCount: 1_000_000)) {
            try openArchive(built.bytes)
        }
    }

    @Test("a zip bomb over the inflation budget is refused before inflating")
    func inflationOverBudget() throws {
        let bomb = try Fixture.bytes("zip/bomb.zip")
        let small = try openArchive(bomb, limits: ZipReadLimits(maxInflatedByteCount: 1 << 20))
        #expect(throws: ZipError.inflationBudgetExceeded(entry: "bomb/zeros", byteCount: 8 << 20, alreadyInflated: 0, budget: 1 << 20)) {
            try small.data(of: small.entries[0])
        }
        #expect(small.inflatedByteCount == 0)
        // The budget covers the archive: the second inflation of the same entry goes over.
        let twelve = try openArchive(bomb, limits: ZipReadLimits(maxInflatedByteCount: 12 << 20))
        _ = try twelve.data(of: twelve.entries[0])
        #expect(throws: ZipError.inflationBudgetExceeded(entry: "bomb/zeros", byteCount: 8 << 20, alreadyInflated: 8 << 20, budget: 12 << 20)) {
            try twelve.data(of: twelve.entries[0])
        }
    }

    // CRC

    @Test("a bad CRC is reported when checked")
    func badCRC() throws {
        var builder = ZipBuilder.twoEntries
        builder.entries[1].crc = 0xDEAD_BEEF
        let built = builder.build()
        let archive = try openArchive(built.bytes)
        let entry = archive.entries[1]
        // Zero-copy access does not read the bytes, so it does not check.
        #expect(Array(try archive.storedBytes(of: entry)) == Array("bravo!".utf8))
        let error = ZipError.crcMismatch(
            entry: "dir/b", dataOffset: built.localOffsets[1] + 35, expected: 0xDEAD_BEEF,
            found: referenceCRC32(Array("bravo!".utf8)))
        #expect(throws: error) { try archive.verifyCRC(of: entry) }
        #expect(throws: error) { try archive.data(of: entry, verifyingCRC: true) }
    }

    @Test("a bad CRC on a deflated entry is always reported")
    func badCRCDeflated() throws {
        var entry = deflatedEntry("dir/d", payload: Array("0123456789".utf8))
        entry.crc = 1
        let archive = try openArchive(ZipBuilder([entry]).build().bytes)
        let found = referenceCRC32(Array("0123456789".utf8))
        #expect(throws: ZipError.crcMismatch(entry: "dir/d", dataOffset: 35, expected: 1, found: found)) {
            try archive.data(of: archive.entries[0])
        }
    }

    // Root folder

    @Test("entries outside the single root folder are reported")
    func outsideRootFolder() throws {
        let built = ZipBuilder([Entry("dir/a", [1]), Entry("dirx/b", [2])]).build()
        let archive = try openArchive(built.bytes)
        #expect(archive.rootFolder == "dir")
        #expect(throws: ZipError.entryOutsideRootFolder(entry: "dirx/b", offset: built.centralOffsets[1], rootFolder: "dir")) {
            try archive.checkSingleRootFolder()
        }
    }

    @Test("a first entry at the top level leaves no root folder")
    func noRootFolder() throws {
        let archive = try openArchive(ZipBuilder([Entry("data.pkl", [1]), Entry("dir/b", [2])]).build().bytes)
        #expect(archive.rootFolder == nil)
        #expect(throws: ZipError.noRootFolder(entry: "data.pkl")) { try archive.checkSingleRootFolder() }
    }
}
