import Foundation
import ModelFormats
import PickleVM
import TensorData
import Testing
import TestSupport

/// Every file torch wrote for the fixtures, read by us and compared with what torch.load read.
@Suite("PyTorch reader")
struct TorchReaderTests {
    static let fixtureNames: [String] = {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: Fixture.path("torch"))) ?? []
        return names.filter { $0.hasSuffix(".pth") || $0.hasSuffix(".pt") }.sorted()
    }()
    static let validNames = fixtureNames.filter { (try? ExpectedFile.load("torch/" + $0))?.valid == true }

    @Test("fixtures cover both containers")
    func fixturesPresent() {
        #expect(Self.validNames.count >= 18)
        #expect(Self.validNames.filter { $0.hasSuffix(".pt") }.count >= 5)
    }

    @Test("reads every torch fixture as torch.load(weights_only=True) does", arguments: validNames)
    func readsLikeTorch(name: String) throws {
        let expected = try ExpectedFile.load("torch/" + name)
        let file = try TorchFile(path: Fixture.path("torch/" + name))
        #expect(file.format.rawValue == expected.format || file.format == .lightningCheckpoint)
        let tensors = try #require(expected.tensors)
        #expect(file.entries.map(\.name) == tensors.map(\.name), "names and order")
        for (index, want) in tensors.enumerated() where index < file.entries.count {
            let entry = file.entries[index]
            #expect(entry.dtype.rawValue == want.dtype, "\(want.name) dtype")
            #expect(entry.shape.dimensions == want.shape, "\(want.name) shape")
            if let layout = want.layout {
                // Sparse and meta tensors are listed but have no dense bytes.
                #expect(throws: TorchFormatError.self, "\(want.name) is \(layout) on \(want.device ?? "")") { try file.tensor(at: index) }
                continue
            }
            let got = try file.tensor(at: index)
            #expect(got.bytes.count == want.nbytes, "\(want.name) size")
            #expect(sha256Hex(got.bytes.array) == want.sha256, "\(want.name) bytes")
        }
        var seen = Set<String>()
        let globals = file.globals.map(\.global.qualifiedName).filter { seen.insert($0).inserted }
        // The fixture lists names as spelled in the file; ours are after the Python-2 mapping.
        #expect(globals == expected.globals?.map { $0.replacingOccurrences(of: "__builtin__.", with: "builtins.") })
    }

    @Test("views share one storage zero-copy, strided ones are gathered")
    func viewsAndSharing() throws {
        let file = try TorchFile(path: Fixture.path("torch/views.pth"))
        let base = try file.tensor(at: try #require(file.index(of: "base")))
        let slice = try file.tensor(at: try #require(file.index(of: "slice")))
        #expect(slice.bytes.values(as: Float.self) == [5, 6, 7, 8])
        let transposed = try file.tensor(at: try #require(file.index(of: "transposed")))
        #expect(transposed.shape == [6, 4])
        #expect(Array(transposed.bytes.values(as: Float.self).prefix(4)) == [0, 6, 12, 18])
        let expanded = try file.tensor(at: try #require(file.index(of: "expanded")))
        #expect(expanded.bytes.values(as: Float.self) == [0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3])
        #expect(base.bytes.values(as: Float.self) == (0..<24).map(Float.init))
        // base and transposed share data/0; the view of 4 of 1000 floats leaves 3984 bytes unused, and the
        // int64 view touches elements 5...10 of 12, leaving 48.
        #expect(file.unreferencedStorageBytes == 3984 + 48)
    }

    @Test("tied weights are two names on one storage")
    func tied() throws {
        let file = try TorchFile(path: Fixture.path("torch/tied.pth"))
        #expect(file.entries.map(\.name) == ["count", "emb.weight", "lin.weight", "lin.bias"])
        let emb = try file.tensor(at: 1), lin = try file.tensor(at: 2)
        #expect(emb == lin)
        #expect(file.tensors[file.entryTensors[1]].storage == file.tensors[file.entryTensors[2]].storage)
    }

    @Test("parameters, nested containers and plain values come out as data")
    func nested() throws {
        let file = try TorchFile(path: Fixture.path("torch/nested.pth"))
        #expect(file.entries.map(\.name) == ["model.layers.0", "model.layers.1.0", "model.head.w", "param"])
        #expect(file.root["step"] == .int(12))
        #expect(file.root["lr"] == .float(0.125))
        #expect(file.root["name"] == .string("experiment é"))
        #expect(file.root["done"] == .bool(false))
        #expect(file.root["nothing"] == TorchValue.none)
        #expect(file.root["sizes"] == .tuple([.int(1), .int(2), .int(3)]))
        #expect(file.root["big"]?.summary == "1180591620717411303424")
        #expect(file.root["neg"] == .int(-(1 << 40)))
        let param = file.tensors[file.entryTensors[3]]
        #expect(param.isParameter && param.requiresGrad)
        #expect(file.root["model"]?["layers"]?.sequenceItems?[1].sequenceItems?[2] == .string("three"))
    }

    @Test("big-endian archives are byte-swapped; cuda locations load to the CPU")
    func byteOrderAndLocation() throws {
        let big = try TorchFile(path: Fixture.path("torch/big_endian.pth"))
        let little = try TorchFile(path: Fixture.path("torch/little.pth"))
        #expect(big.isBigEndian && !little.isBigEndian)
        for index in big.entries.indices { #expect(try big.tensor(at: index) == little.tensor(at: index)) }
        let cuda = try TorchFile(path: Fixture.path("torch/cuda_location.pth"))
        #expect(cuda.storages.first?.location == "cuda:0")
        #expect(try cuda.tensor(at: 0).bytes.values(as: Float.self) == [0, 1, 2, 3])
        #expect(cuda.warnings.contains { $0 == .storagesOnDevices(["cuda:0"]) })
    }

    @Test("a whole pickled module is refused at the global that names it")
    func wholeModule() throws {
        #expect(throws: TorchFormatError.pickle(record: "whole_module/data.pkl", .unsupportedGlobal(module: "__main__", name: "FNNModel", at: 2))) {
            try TorchFile(path: Fixture.path("torch/whole_module.pth"))
        }
        // Kept inert on request: the tensors are named as the module's state_dict would name them.
        let inert = try TorchFile(path: Fixture.path("torch/whole_module.pth"), options: ReadOptions(allowUnknownObjects: true))
        #expect(inert.entries.map(\.name) == ["linear1.weight", "linear1.bias", "linear2.weight", "linear2.bias",
                                              "linear3.weight", "linear3.bias", "linear4.weight", "linear4.bias"])
        #expect(inert.unknownGlobals.map(\.global.qualifiedName).contains("__main__.FNNModel"))
        let stateDict = try TorchFile(path: Fixture.path("torch/state_dict.pth"))
        for index in inert.entries.indices { #expect(try inert.tensor(at: index) == stateDict.tensor(at: index)) }
    }

    @Test("the allowlist is exactly torch's 144 names")
    func allowlist() {
        #expect(TorchGlobals.table.count == 144)
        #expect(TorchGlobals.meaning(module: "torch._utils", name: "_rebuild_tensor_v2") == .rebuild(.tensorV2))
        #expect(TorchGlobals.meaning(module: "torch", name: "float8_e4m3fn") == .dtype(name: "float8_e4m3fn", dtype: .f8e4m3))
        #expect(TorchGlobals.meaning(module: "torch._utils", name: "system") == nil)
        #expect(TorchGlobals.meaning(module: "torch.nn.modules.linear", name: "_rebuild_tensor_v2") == nil)
        #expect(TorchGlobals.meaning(module: "torch", name: "load") == nil)
        #expect(TorchGlobals.meaning(module: "torch.cuda", name: "QInt8Storage") == nil, "no quantized storages under torch.cuda")
        #expect(TorchGlobals.meaning(module: "torch.sparse", name: "BoolTensor") == nil, "no sparse bool class")
    }
}
