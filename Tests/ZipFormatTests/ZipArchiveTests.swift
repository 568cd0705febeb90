import BinaryIO
import Foundation
import Testing
import TestSupport
import ZipFormat

/// Every zip fixture (see Fixtures/zip/make_fixtures.py).
let zipFixtureNames = [
    "zip_shared_views.pt", "zip_state_dict_tied.pt", "zip_dtypes.pt", "zip_byteorder_big.pt",
    "zip_deflated_renamed.pt", "zip_cuda_location.pt", "optim_sgd_momentum.pt", "optim_adamw_amsgrad.pt",
    "lightning_adam_steplr.ckpt", "lightning_minimal_resume.ckpt", "python_force_zip64.zip",
    "python_streamed.zip", "python_comment_dir.zip", "bomb.zip",
]

/// The fixtures written by torch's own writer (flags 0x0808, FB padding, zip64 end records).
let torchWrittenFixtureNames = [
    "zip_shared_views.pt", "zip_state_dict_tied.pt", "zip_dtypes.pt", "zip_cuda_location.pt",
    "optim_sgd_momentum.pt", "optim_adamw_amsgrad.pt", "lightning_adam_steplr.ckpt",
    "lightning_minimal_resume.ckpt",
]

/// One entry of `Fixtures/zip/expected.json`, as Python's `zipfile` saw it.
struct ExpectedEntry {
    var name: String
    var method: Int
    var flags: Int
    var crc32: UInt32
    var compressedByteCount: Int
    var uncompressedByteCount: Int
    var localHeaderOffset: Int
    var dataOffset: Int

    static func load(_ fixture: String) throws -> [ExpectedEntry] {
        let all = try #require(try Fixture.json("zip/expected.json") as? [String: Any])
        let archive = try #require(all[fixture] as? [String: Any])
        let entries = try #require(archive["entries"] as? [[String: Any]])
        return try entries.map { entry in
            func int(_ key: String) throws -> Int { try #require(entry[key] as? Int) }
            return ExpectedEntry(
                name: try #require(entry["name"] as? String), method: try int("method"), flags: try int("flags"),
                crc32: UInt32(try int("crc32")), compressedByteCount: try int("compressedByteCount"),
                uncompressedByteCount: try int("uncompressedByteCount"),
                localHeaderOffset: try int("localHeaderOffset"), dataOffset: try int("dataOffset"))
        }
    }
}

@Suite("Reading real archives")
struct ZipArchiveTests {
    @Test("indexes every fixture exactly as Python's zipfile does, with correct CRCs", arguments: zipFixtureNames)
    func readsFixture(name: String) throws {
        let file = try MappedFile(path: Fixture.path("zip/\(name)"))
        let archive = try ZipArchive(file: file)
        let expected = try ExpectedEntry.load(name)
        #expect(archive.entries.map(\.name) == expected.map(\.name))
        for (entry, want) in zip(archive.entries, expected) {
            #expect(Int(entry.method.rawValue) == want.method, "\(entry.name)")
            #expect(Int(entry.flags) == want.flags, "\(entry.name)")
            #expect(entry.crc32 == want.crc32, "\(entry.name)")
            #expect(entry.compressedByteCount == want.compressedByteCount, "\(entry.name)")
            #expect(entry.uncompressedByteCount == want.uncompressedByteCount, "\(entry.name)")
            #expect(entry.localHeaderOffset == want.localHeaderOffset, "\(entry.name)")
            #expect(entry.dataOffset == want.dataOffset, "\(entry.name)")
            #expect(archive.entry(named: entry.name) == entry)
            let data = try archive.data(of: entry, verifyingCRC: true)
            #expect(data.count == want.uncompressedByteCount)
            #expect(referenceCRC32(data.array) == want.crc32, "\(entry.name)")
        }
        try archive.checkSingleRootFolder()
    }

    @Test("torch's archives: every data offset is 64-byte aligned, zip64 end records present", arguments: torchWrittenFixtureNames)
    func torchLayout(name: String) throws {
        let archive = try ZipArchive(file: try MappedFile(path: Fixture.path("zip/\(name)")))
        #expect(archive.hasZip64EndRecord)
        for entry in archive.entries {
            #expect(entry.dataOffset % 64 == 0, "\(entry.name) data at \(entry.dataOffset)")
            #expect(entry.flags == 0x0808)
            #expect(entry.isStored && entry.hasDataDescriptor)
        }
        let stem = name.split(separator: ".").first.map(String.init)
        #expect(archive.rootFolder == (name == "lightning_adam_steplr.ckpt" ? "archive" : stem))
        #expect(archive.entry(named: "\(archive.rootFolder ?? "")/data.pkl") != nil)
    }

    @Test("inflates the deflated sample to the bytes of its stored twin")
    func deflatedMatchesStored() throws {
        let deflated = try ZipArchive(file: try MappedFile(path: Fixture.path("zip/zip_deflated_renamed.pt")))
        let stored = try ZipArchive(file: try MappedFile(path: Fixture.path("zip/zip_shared_views.pt")))
        #expect(deflated.rootFolder == "renamed_folder")
        #expect(deflated.entries.allSatisfy { $0.method == .deflated })
        #expect(deflated.entries.count == stored.entries.count)
        var inflated = 0
        for entry in deflated.entries {
            let record = String(entry.name.dropFirst("renamed_folder/".count))
            let twin = try #require(stored.entry(named: "zip_shared_views/\(record)"))
            let data = try deflated.data(of: entry)
            #expect(!data.isBorrowedFromArchive)
            #expect(data.array == Array(try stored.storedBytes(of: twin)), "\(record)")
            inflated += entry.uncompressedByteCount
        }
        #expect(deflated.inflatedByteCount == inflated)
    }

    @Test("stored entries are zero-copy slices of the mapped file")
    func zeroCopy() throws {
        let file = try MappedFile(path: Fixture.path("zip/zip_shared_views.pt"))
        let archive = try ZipArchive(file: file)
        let entry = try #require(archive.entry(named: "zip_shared_views/data/0"))
        let bytes = try archive.storedBytes(of: entry)
        #expect(bytes.baseAddress == file.bytes.baseAddress.map { $0 + entry.dataOffset })
        #expect(bytes.count == 48)
        #expect(entry.dataRange == 1088..<1136)
        let data = try archive.data(of: entry)
        #expect(data.isBorrowedFromArchive && data.bytes.baseAddress == bytes.baseAddress)
        #expect(ObjectIdentifier(data.owner) == ObjectIdentifier(file))
        // arange(12) as float32: 0, 1, 2, …
        #expect(Array(bytes.prefix(8)) == [0, 0, 0, 0, 0, 0, 0x80, 0x3F])
        #expect(archive.inflatedByteCount == 0)
    }

    @Test("zero-copy access refuses a deflated entry")
    func zeroCopyRefusesDeflated() throws {
        let archive = try ZipArchive(file: try MappedFile(path: Fixture.path("zip/zip_deflated_renamed.pt")))
        let entry = try #require(archive.entry(named: "renamed_folder/data/0"))
        #expect(throws: ZipError.notStored(entry: "renamed_folder/data/0", method: 8)) {
            try archive.storedBytes(of: entry)
        }
    }

    @Test("a small zip bomb inflates within the default budget")
    func bombWithinBudget() throws {
        let archive = try ZipArchive(file: try MappedFile(path: Fixture.path("zip/bomb.zip")))
        let entry = try #require(archive.entry(named: "bomb/zeros"))
        let data = try archive.data(of: entry)
        #expect(data.count == 8 << 20)
        #expect(data.withUnsafeBytes { $0.allSatisfy { $0 == 0 } })
        #expect(archive.inflatedByteCount == 8 << 20)
    }

    @Test("inflates an empty deflated entry, and inflated bytes outlive the archive")
    func emptyDeflated() throws {
        var empty = ZipBuilder.Entry("dir/empty", storedDeflateBlock([]))
        empty.method = 8
        empty.crc = 0
        empty.uncompressedByteCount = 0
        let archive = try openArchive(ZipBuilder([empty]).build().bytes)
        let data = try archive.data(of: archive.entries[0])
        #expect(data.count == 0 && !data.isBorrowedFromArchive)
        var text: ZipArchive? = try openArchive(try Fixture.bytes("zip/python_comment_dir.zip"))
        let inflated = try #require(text).data(of: try #require(text?.entry(named: "folder/file.txt")))
        text = nil
        #expect(text == nil)
        #expect(String(decoding: inflated.bytes.prefix(10), as: UTF8.self) == "the quick ")
    }

    @Test("root folder: text before the first slash of the first central directory entry")
    func rootFolder() throws {
        let lightning = try ZipArchive(file: try MappedFile(path: Fixture.path("zip/lightning_adam_steplr.ckpt")))
        #expect(lightning.rootFolder == "archive")
        #expect(lightning.entry(named: "archive/version") != nil)
        #expect(lightning.entry(named: "version") == nil)
        let withDirectory = try ZipArchive(file: try MappedFile(path: Fixture.path("zip/python_comment_dir.zip")))
        #expect(withDirectory.rootFolder == "folder")
        try withDirectory.checkSingleRootFolder()
    }

    @Test("an archive with no entries is valid and has no root folder")
    func emptyArchive() throws {
        let archive = try openArchive(ZipBuilder().build().bytes)
        #expect(archive.entries.isEmpty)
        #expect(archive.rootFolder == nil)
        #expect(throws: ZipError.noRootFolder(entry: nil)) { try archive.checkSingleRootFolder() }
    }

    @Test("looks entries up by their exact name")
    func lookupIsExact() throws {
        let archive = try openArchive(ZipBuilder.twoEntries.build().bytes)
        #expect(archive.entry(named: "dir/a")?.index == 0)
        #expect(archive.entry(named: "dir/b")?.index == 1)
        #expect(archive.entry(named: "dir/A") == nil)
        #expect(archive.entry(named: "dir/a/") == nil)
    }
}
