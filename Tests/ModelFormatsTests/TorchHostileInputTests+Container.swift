@testable import ModelFormats
import TensorData
import Testing
import TestSupport
import ZipFormat

// Container ambiguity (docs/security.md, "Zip"): one archive, one reading.
extension TorchHostileInputTests {
    /// The benign archive (`{"w": [1, 2, 3, 4]}`) to break one field of.
    static var benign: TorchZip { TorchZip(pickle: P.pickle(stateDict), storages: [weightBytes]) }
    static let evilPickle = P.pickle(call("os", "system"))

    @Test("two data.pkl entries are refused (torch reads the first; a scanner may read the other)")
    func duplicateDataPkl() {
        var zip = Self.benign
        zip.records.insert(TorchZip.Record(Self.dataPkl, Self.evilPickle), at: 1)
        let layout = zip.layout()
        let expected = ZipError.duplicateEntryName(name: Self.dataPkl, offset: layout.centralOffsets[1], firstOffset: layout.centralOffsets[0])
        #expect(throws: TorchFormatError.zip(expected)) {
            _ = try Self.open(layout.bytes)
        }
    }

    @Test("a local header naming a different file than the central directory is refused (CVE-2025-1944's shape)")
    func localNameMismatch() {
        var zip = Self.benign
        zip.records[0].localName = "archive/data.pkx"
        let layout = zip.layout()
        #expect(throws: TorchFormatError.zip(.localNameMismatch(entry: Self.dataPkl, offset: layout.localOffsets[0], found: "archive/data.pkx"))) {
            _ = try Self.open(layout.bytes)
        }
    }

    @Test("a record outside the root folder is refused")
    func recordOutsideRoot() {
        var zip = Self.benign
        zip.records.append(TorchZip.Record("other/data.pkl", Self.evilPickle))
        let layout = zip.layout()
        let expected = ZipError.entryOutsideRootFolder(entry: "other/data.pkl", offset: layout.centralOffsets[4], rootFolder: "archive")
        #expect(throws: TorchFormatError.zip(expected)) {
            _ = try Self.open(layout.bytes)
        }
    }

    @Test("a root-level data.pkl with no folder is refused, as torch does; a two-level folder has no data.pkl")
    func rootLevelDataPkl() {
        let flat = TorchZip(records: [TorchZip.Record("data.pkl", P.pickle(Self.stateDict)), TorchZip.Record("data/0", Self.weightBytes),
                                      TorchZip.Record("version", Array("3\n".utf8))])
        // torch: "file in archive is not in a subdirectory: data.pkl".
        #expect(throws: TorchFormatError.zip(.noRootFolder(entry: "data.pkl"))) { _ = try Self.open(flat.bytes) }
        let nested = TorchZip(folder: "a/b", pickle: P.pickle(Self.stateDict), storages: [Self.weightBytes])
        #expect(throws: TorchFormatError.missingRecord("data.pkl")) { _ = try Self.open(nested.bytes) }
    }

    @Test("a bad CRC on data.pkl is refused (torch ignores CRCs; CVE-2025-10156 made a scanner stop on one)")
    func badPickleCRC() {
        var zip = Self.benign
        zip.records[0].crc = 0xDEAD_BEEF
        let layout = zip.layout()
        let real = CRC32Table.checksum(zip.records[0].data)
        let expected = ZipError.crcMismatch(entry: Self.dataPkl, dataOffset: layout.dataOffsets[0], expected: 0xDEAD_BEEF, found: real)
        #expect(throws: TorchFormatError.zip(expected)) {
            _ = try Self.open(layout.bytes)
        }
    }

    @Test("a bad CRC on a storage record is detected when the tensor is read")
    func badStorageCRC() throws {
        var zip = Self.benign
        zip.records[2].crc = 0x0BAD_C0DE
        let layout = zip.layout()
        let file = try Self.open(layout.bytes)
        let real = CRC32Table.checksum(Self.weightBytes)
        let expected = ZipError.crcMismatch(entry: "archive/data/0", dataOffset: layout.dataOffsets[2], expected: 0x0BAD_C0DE, found: real)
        #expect(throws: TorchFormatError.zip(expected)) {
            _ = try file.tensor(at: 0)
        }
    }

    @Test("an archive without data.pkl is refused as not a torch archive, naming what it holds")
    func missingDataPkl() {
        var zip = Self.benign
        zip.records.remove(at: 0)
        #expect(throws: UnrecognizedFormatError(looksLike: "a zip archive without data.pkl, not a torch.save archive (3 entries: archive/byteorder, archive/data/0, archive/version)")) {
            _ = try Self.open(zip.bytes)
        }
    }

    @Test("an archive without a version record is refused, as torch does")
    func missingVersion() {
        var zip = Self.benign
        zip.records.removeLast()
        #expect(throws: TorchFormatError.missingRecord("version")) { _ = try Self.open(zip.bytes) }
    }

    @Test("version 11 is refused, also when .data/version overrides a valid version")
    func version11() {
        // torch: "maximum supported version for reading is 10".
        let zip = TorchZip(pickle: P.pickle(Self.stateDict), storages: [Self.weightBytes], version: "11\n")
        #expect(throws: TorchFormatError.unsupportedVersion(record: "archive/version", found: "11\n")) { _ = try Self.open(zip.bytes) }
        var shadowed = Self.benign
        shadowed.records.append(TorchZip.Record("archive/.data/version", Array("11".utf8)))
        #expect(throws: TorchFormatError.unsupportedVersion(record: "archive/.data/version", found: "11")) { _ = try Self.open(shadowed.bytes) }
    }

    @Test("byteorder middle is refused")
    func byteorderMiddle() {
        let zip = TorchZip(pickle: P.pickle(Self.stateDict), storages: [Self.weightBytes], byteorder: "middle")
        #expect(throws: TorchFormatError.invalidByteOrder("middle")) { _ = try Self.open(zip.bytes) }
    }

    @Test("a storage whose data/<key> record is missing is refused")
    func missingStorageRecord() {
        var zip = Self.benign
        zip.records.remove(at: 2)
        #expect(throws: TorchFormatError.missingRecord("data/0")) { _ = try Self.open(zip.bytes) }
    }

    @Test("a storage key that is a path (../../etc/passwd) is only a name: looked up in the archive, never on disk")
    func storageKeyPath() {
        let key = "../../../../etc/passwd"
        let bytes = Self.archive(P.stateDict([("w", P.rebuildV2(P.storage(key: key, numel: 4), size: [4], stride: [1]))]))
        #expect(throws: TorchFormatError.missingRecord("data/\(key)")) { _ = try Self.open(bytes) }
    }

    @Test("unaligned storage records and bool bytes other than 0 and 1 are read safely")
    func unalignedAndBoolBytes() throws {
        // Without torch's padding the records start at odd offsets; bool bytes 2 and 255 decode
        // as true, as torch reads them.
        let doubles = [1.5, -2.0].flatMap { P.le($0.bitPattern) }
        let body = P.stateDict([("d", P.rebuildV2(P.storage("DoubleStorage", key: "0", numel: 2), size: [2], stride: [1])),
                                ("b", P.rebuildV2(P.storage("BoolStorage", key: "1", numel: 4), size: [4], stride: [1]))])
        var zip = TorchZip(pickle: P.pickle(body), storages: [doubles, [0, 1, 2, 255]])
        zip.alignsData = false
        let layout = zip.layout()
        #expect(layout.dataOffsets[2] % 8 != 0)
        let file = try Self.open(layout.bytes)
        let d = try file.tensor(at: 0)
        #expect(d.bytes.withUnsafeBytes { ElementCodec.decodeDoubles($0, dtype: .f64) } == [1.5, -2.0])
        let b = try file.tensor(at: 1)
        #expect(b.dtype == .bool)
        #expect(b.bytes.withUnsafeBytes { ElementCodec.decode($0, dtype: .bool) } == [0, 1, 1, 1])
    }

    @Test("error messages keep file-controlled text exactly (the command escapes it once)")
    func messagesKeepFileText() throws {
        // A version record, a tensor name and a storage key carrying newlines: the library's
        // messages carry them as the file has them, so `--json` and programs see the exact text.
        let version = TorchZip(pickle: P.pickle(Self.stateDict), storages: [Self.weightBytes], version: "11\nmodelfile: OK")
        let name = Self.archive(P.stateDict([("w\nmodelfile: OK", P.rebuildV2(P.storage(numel: 4), size: [-1], stride: [1]))]))
        let key = Self.archive(P.stateDict([("w", P.rebuildV2(P.storage(key: "0\r\nmodelfile: OK", numel: 4), size: [4], stride: [1]))]))
        for (bytes, text) in [(version.bytes, "\"11\nmodelfile: OK\""), (name, "\"w\nmodelfile: OK\""), (key, "0\r\nmodelfile: OK")] {
            do {
                _ = try Self.open(bytes)
                Issue.record("opened")
            } catch {
                #expect("\(error)".contains(text), "\(error)")
            }
        }
        // Warnings too: a tensor of a dtype modelfile skips, under a name with a newline.
        let quantized = P.rebuild("_rebuild_tensor_v3", [P.storage("UntypedStorage", numel: 4, module: "torch.storage"), P.int(0), P.ints([4]),
                                                         P.ints([1]), P.newFalse, P.orderedDict, P.global("torch", "qint8")])
        let file = try Self.open(Self.archive(P.stateDict([("q\nmodelfile: OK", quantized)]), storages: [[1, 2, 3, 4]]))
        #expect(file.warnings.count == 1)
        #expect(file.warnings.allSatisfy { $0.code == .unreadableDType }, "\(file.warnings)")
    }
}
