import BinaryIO
import Foundation
import ModelFormats
import PickleVM
import TensorData
import Testing
import TestSupport
import ZipFormat

@Suite("PyTorch writer")
struct TorchWriterTests {
    @Test("a state dict round-trips, laid out like torch.save")
    func layout() throws {
        let source = try TorchFile(path: Fixture.path("torch/dtypes.pth"))
        let folder = try Fixture.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("my.model.pth").path
        let state = try source.stateDict()
        try TorchWriter.write(state, to: path, overwrite: false)

        let archive = try ZipArchive(file: MappedFile(path: path))
        #expect(archive.rootFolder == "my.model", "folder named after the file, as torch does")
        let records = archive.entries.map { String($0.name.dropFirst("my.model/".count)) }
        #expect(records == ["data.pkl", ".format_version", ".storage_alignment", "byteorder"]
                + (0..<state.count).map { "data/\($0)" } + ["version", ".data/serialization_id"])
        for entry in archive.entries {
            #expect(entry.dataOffset % 64 == 0, "\(entry.name) aligned to 64 bytes")
            #expect(entry.isStored && entry.flags & 0x0800 != 0)
        }
        #expect(try archive.data(of: archive.entry(named: "my.model/version")!).array == Array("3\n".utf8))
        #expect(try archive.data(of: archive.entry(named: "my.model/byteorder")!).array == Array("little".utf8))
        #expect(try archive.data(of: archive.entry(named: "my.model/.data/serialization_id")!).array.count == 40)
        let pickle = try archive.data(of: archive.entry(named: "my.model/data.pkl")!).array
        #expect(Array(pickle.prefix(2)) == [0x80, 0x02], "protocol 2")

        let back = try TorchFile(path: path)
        #expect(back.format == .pytorchZip)
        #expect(try back.stateDict() == state)
        if case .dict(let dict) = back.root { #expect(dict.isOrdered) } else { Issue.record("not a dict") }
        #expect(Set(back.globals.map(\.global.qualifiedName)).isSubset(of: Set(TorchGlobals.table.keys)))
    }

    @Test("legacy, views and big-endian inputs are written contiguous and little-endian", arguments: [
        "views_legacy.pt", "big_endian.pth", "deflated_renamed.pth", "dtypes_legacy.pt", "tied.pth",
    ])
    func rewrite(name: String) throws {
        let source = try TorchFile(path: Fixture.path("torch/" + name))
        let folder = try Fixture.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("out.pth").path
        try TorchWriter.write(try source.stateDict(), to: path, overwrite: false)
        let back = try TorchFile(path: path)
        #expect(back.entries == source.entries)
        for index in source.entries.indices { #expect(try back.tensor(at: index) == source.tensor(at: index)) }
        #expect(back.storages.count == source.entries.count, "one storage per tensor, each written in full")
    }

    @Test("nested plain values round-trip")
    func nestedValues() throws {
        let folder = try Fixture.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("tree.ckpt").path
        let weight = try RawTensor(dtype: .f32, shape: [2], bytes: TensorBytes(copyingValuesOf: [Float(1), 2]))
        let object = TorchValue.dict(TorchDict([
            (key: .string("epoch"), value: .int(3)),
            (key: .string("lr"), value: .float(0.001)),
            (key: .string("name"), value: .string("run ü")),
            (key: .string("flags"), value: .list([.bool(true), .none, .tuple([.int(-5), .float(.infinity)])])),
            (key: .string("state"), value: .dict(TorchDict([(key: .int(0), value: .dict(TorchDict([(key: .string("w"), value: .tensor(0))])))]))),
            (key: .string("tied"), value: .tensor(0)),
            (key: .string("dtype"), value: .dtype("bfloat16")),
        ]))
        try TorchWriter.write(to: path, object: object, tensors: [TensorEntry(name: "w", dtype: .f32, shape: [2])], overwrite: false,
                              archiveName: "archive", tensorBytes: { _ in weight.bytes })
        let back = try TorchFile(path: path)
        #expect(back.root["epoch"] == .int(3))
        #expect(back.root["flags"] == .list([.bool(true), .none, .tuple([.int(-5), .float(.infinity)])]))
        #expect(back.root["name"] == .string("run ü"))
        #expect(back.root["dtype"] == .dtype("bfloat16"))
        #expect(back.entries.map(\.name) == ["state.0.w", "tied"])
        #expect(back.storages.count == 1, "the same tensor twice is one storage, as torch writes tied weights")
        #expect(try back.tensor(at: 1) == weight)
    }

    @Test("what torch cannot name is refused before anything is written")
    func unwritable() throws {
        let folder = try Fixture.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("x.pth").path
        let f6 = try RawTensor(dtype: .f6e2m3, shape: [4], bytes: TensorBytes(copying: [1, 2, 3]))
        #expect(throws: TorchFormatError.unwritable(path: "t", reason: "F6_E2M3 has no torch dtype")) {
            try TorchWriter.write(try StateDict([("t", f6)]), to: path, overwrite: false)
        }
        #expect(throws: TorchFormatError.self) {
            try TorchWriter.write(to: path, object: .opaque(TorchOpaqueObject(module: "os", name: "system", arguments: [], state: nil)),
                                  tensors: [], overwrite: false, tensorBytes: { _ in .empty })
        }
        #expect((try FileManager.default.contentsOfDirectory(atPath: folder.path)).isEmpty)
    }

    @Test("archive names follow torch's rule")
    func archiveNames() {
        #expect(TorchWriter.defaultArchiveName(for: "/x/pytorch_model.bin") == "pytorch_model")
        #expect(TorchWriter.defaultArchiveName(for: "my.model.v2.pt") == "my.model.v2")
        #expect(TorchWriter.defaultArchiveName(for: "noext") == "noext")
        #expect(TorchWriter.defaultArchiveName(for: "modèle.pth") == "archive")
    }
}
