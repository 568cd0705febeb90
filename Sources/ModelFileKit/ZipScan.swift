import BinaryIO
import ExactText
import ModelFormats
import PickleVM
import ZipFormat

#if canImport(Glibc)
import Glibc
#endif

/// A torch zip archive: every `.pkl` record, the records no load reads, and the bytes no record
/// accounts for.
enum ZipScan {
    /// Records a torch load reads besides `data.pkl` and the storages.
    /// (Record names compare by their bytes, as the zip reader looks them up: docs/formats.md,
    /// "Names and text".)
    static let knownRecords: Set<ExactString> = [
        "version", ".data/version", "byteorder", ".format_version", ".storage_alignment", ".data/serialization_id",
    ]

    /// Every inflated record counts against `budget` (and the archive's own inflation limit).
    static func scan(_ file: MappedFile, name: String, strict: Bool, options: ReadOptions, budget: ReadBudget,
                     findings: inout [ScanFinding]) throws -> ScannedFile {
        // Bytes before the first entry are reported below as hidden bytes rather than refused;
        // any other fault refuses the archive either way.
        let archive = try (try? ZipArchive(file: file, limits: options.zipLimits))
            ?? ZipArchive(file: file, limits: options.zipLimits, allowingLeadingData: true)
        let names = archive.entries.map(\.name)
        let numpyMembers = !names.isEmpty && names.allSatisfy { $0.hasSuffix(".npy") }
        if numpyMembers {
            return try NumPyScan.scanArchive(archive, name: name, options: options, budget: budget, findings: &findings)
        }
        if let other = FormatDetector.describeZip(entryNames: names) {
            if strict { throw UnrecognizedFormatError(looksLike: other) }
            return ScannedFile(path: name, content: .other(looksLike: other), pickles: [])
        }
        let folder = archive.rootFolder ?? ""
        // The same detection and listing as `inspect` (TorchScriptArchive).
        let script = TorchScriptArchive.detect(in: archive)
        let isTorchScript = script != nil
        if let script { findings.append(.torchScript(file: name, archive: script)) }
        do { try archive.checkSingleRootFolder() } catch { findings.append(.entriesOutsideRootFolder(file: name, error: error)) }

        var pickles: [ScannedPickle] = []
        var strings = Set<ExactString>()
        for entry in archive.entries where entry.name.hasSuffix(".pkl") {
            if !entry.isStored { try budget.reserve(entry.uncompressedByteCount, for: "zip entry \(entry.name)") }
            let data = try archive.data(of: entry, verifyingCRC: true)
            let pickle = data.withUnsafeBytes { FileScan.scanPickle($0, from: 0, place: entry.name) }
            pickles.append(pickle)
            findings += pickle.findings(file: name)
            if entry.name.isByteEqual(to: "\(folder)/data.pkl") { strings = data.withUnsafeBytes(pickleStrings) }
            // Bytes after STOP are never read by torch, but a scanner must not ignore what hides
            // there: report them, and scan them when they are another pickle.
            if let end = pickle.end, end < data.count {
                findings.append(.bytesAfterStop(file: name, pickle: entry.name, count: data.count - end))
                if data.bytes[end] == 0x80 {
                    let hidden = data.withUnsafeBytes { FileScan.scanPickle($0, from: end, place: "\(entry.name) after STOP (byte \(end))") }
                    pickles.append(hidden)
                    findings += hidden.findings(file: name)
                }
            }
        }
        if !isTorchScript {
            for entry in archive.entries where !entry.name.hasSuffix(".pkl") && !isRead(entry.name, folder: folder, strings: strings) {
                findings.append(.entryNotRead(file: name, entry: entry.name))
            }
        }
        findings += hiddenBytes(archive, name: name)
        return ScannedFile(path: name, content: isTorchScript ? .torchScript : .pytorchZip, pickles: pickles)
    }

    /// Whether an end of central directory record signature lies in the last 64 KiB + 22 bytes.
    static func endsLikeZip(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard bytes.count >= 22 else { return false }
        let lowest = max(0, bytes.count - 22 - 65_535)
        var offset = bytes.count - 22
        while offset >= lowest {
            if bytes[offset] == 0x50, bytes[offset + 1] == 0x4B, bytes[offset + 2] == 0x05, bytes[offset + 3] == 0x06 { return true }
            offset -= 1
        }
        return false
    }

    /// Whether a torch load reads the entry: a known record, or `data/<key>` for a storage key
    /// the pickle spells.
    static func isRead(_ entry: String, folder: String, strings: Set<ExactString>) -> Bool {
        guard let record = entry.droppingBytePrefix(folder + "/") else { return false }
        if knownRecords.contains(ExactString(record)) { return true }
        guard let key = record.droppingBytePrefix("data/") else { return false }
        return strings.contains(ExactString(key))
    }

    /// Every string constant a pickle pushes (storage keys among them), without executing it.
    static func pickleStrings(_ bytes: UnsafeRawBufferPointer) -> Set<ExactString> {
        var walk = PickleDisassembler(bytes)
        var strings = Set<ExactString>()
        while let instruction = try? walk.next() {
            switch instruction.argument {
            // Storage keys are short; longer strings are not kept (a pickle may hold huge ones).
            case .bytes(let range) where range.count <= 256, .line(let range) where range.count <= 256:
                strings.insert(ExactString(walk.text(range)))
            default: break
            }
        }
        return strings
    }

    /// Bytes before the first entry, between entries (beyond a data descriptor), before the
    /// central directory, in the zip64 end record's extensible data, and in the archive comment.
    static func hiddenBytes(_ archive: ZipArchive, name: String) -> [ScanFinding] {
        let bytes = archive.bytes
        var findings: [ScanFinding] = []
        let order = archive.entries.sorted { $0.localHeaderOffset < $1.localHeaderOffset }
        var position = 0
        var previous: ZipEntry?
        for entry in order {
            if entry.localHeaderOffset > position {
                let place: HiddenBytesPlace = previous.map { .afterEntry($0.name) } ?? .beforeFirstEntry
                findings += describeGap(bytes, from: position, to: entry.localHeaderOffset, place: place, name: name)
            }
            position = max(position, entry.dataOffset + entry.compressedByteCount)
            if entry.hasDataDescriptor { position += descriptorLength(bytes, at: position, limit: archive.centralDirectoryOffset) }
            previous = entry
        }
        if archive.centralDirectoryOffset > position {
            findings += describeGap(bytes, from: position, to: archive.centralDirectoryOffset,
                                    place: previous == nil ? .beforeFirstEntry : .beforeCentralDirectory, name: name)
        }
        if let record = archive.zip64EndRecordOffset, record + 12 <= bytes.count {
            // The size field counts the bytes after itself; the fixed part is 44 of them.
            let size = Int(clamping: bytes.loadUnaligned(fromByteOffset: record + 4, as: UInt64.self).littleEndian)
            if size > 44 { findings.append(.hiddenBytes(file: name, offset: record + 56, count: size - 44, place: .zip64EndRecord)) }
        }
        let commentStart = archive.endRecordOffset + 22
        if commentStart < bytes.count {
            findings.append(.hiddenBytes(file: name, offset: commentStart, count: bytes.count - commentStart, place: .archiveComment))
        }
        return findings
    }

    /// A gap: any local headers hiding in it, and the other bytes.
    static func describeGap(_ bytes: UnsafeRawBufferPointer, from start: Int, to end: Int, place: HiddenBytesPlace, name: String) -> [ScanFinding] {
        var findings: [ScanFinding] = [.hiddenBytes(file: name, offset: start, count: end - start, place: place)]
        var offset = start
        while offset + 30 <= end {
            if bytes[offset] == 0x50, bytes[offset + 1] == 0x4B, bytes[offset + 2] == 0x03, bytes[offset + 3] == 0x04 {
                let nameLength = Int(bytes[offset + 26]) | Int(bytes[offset + 27]) << 8
                let nameEnd = min(offset + 30 + nameLength, end)
                let entry = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[(offset + 30)..<nameEnd]), as: UTF8.self)
                findings.append(.hiddenLocalEntry(file: name, offset: offset, name: entry))
                offset = nameEnd
            } else {
                offset += 1
            }
        }
        return findings
    }

    /// The length of the data descriptor at `offset`: an optional signature, the CRC, and 32- or
    /// 64-bit sizes (12, 16, 20 or 24 bytes), as far as the bytes before `limit` allow.
    static func descriptorLength(_ bytes: UnsafeRawBufferPointer, at offset: Int, limit: Int) -> Int {
        let available = max(0, min(limit, bytes.count) - offset)
        let signed = available >= 4 && bytes[offset] == 0x50 && bytes[offset + 1] == 0x4B && bytes[offset + 2] == 0x07 && bytes[offset + 3] == 0x08
        let base = signed ? 16 : 12
        // A zip64 descriptor is 8 bytes longer; take it when the next header starts right there.
        let long = base + 8
        if available >= long, available == long || isHeader(bytes, at: offset + long) { return long }
        return min(base, available)
    }

    private static func isHeader(_ bytes: UnsafeRawBufferPointer, at offset: Int) -> Bool {
        offset + 4 <= bytes.count && bytes[offset] == 0x50 && bytes[offset + 1] == 0x4B
            && ((bytes[offset + 2] == 0x03 && bytes[offset + 3] == 0x04) || (bytes[offset + 2] == 0x01 && bytes[offset + 3] == 0x02))
    }
}
