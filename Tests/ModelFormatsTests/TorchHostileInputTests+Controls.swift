import Foundation
@testable import ModelFormats
import TensorData
import Testing
import TestSupport

// Controls (docs/security.md, "Fuzzing"): the clean fixtures made by torch load, match what torch read,
// and convert to safetensors, so a reader that refuses everything cannot pass this suite.
extension TorchHostileInputTests {
    /// A torch fixture's JSON. Storage-less tensors (meta, sparse) have no bytes, so no `sha256`;
    /// `ExpectedFile` requires one, hence this lighter reading.
    struct TorchFixture: Decodable {
        struct Tensor: Decodable {
            let name: String
            let dtype: String
            let shape: [Int]
            let sha256: String?
        }

        let valid: Bool
        let tensors: [Tensor]?

        static func load(_ name: String) throws -> TorchFixture {
            try JSONDecoder().decode(TorchFixture.self, from: Data(contentsOf: Fixture.url("torch/\(name).json")))
        }
    }

    static let cleanFixtures = [
        "bare_tensor.pth", "big_endian.pth", "checkpoint.pth", "cuda_location.pth", "cuda_location_legacy.pt", "deflated_renamed.pth",
        "dtypes.pth", "dtypes_legacy.pt", "little.pth", "meta.pth", "nested.pth", "nested_legacy.pt", "parameter_with_state.pth",
        "sparse.pth", "state_dict.pth", "state_dict_legacy.pt", "tensor_list.pt", "tensor_with_attribute.pth", "tied.pth", "views.pth",
        "views_legacy.pt",
    ]

    @Test("the fixture list covers every valid torch fixture")
    func cleanFixtureList() throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: Fixture.path("torch")).filter { $0.hasSuffix(".json") }
        let valid = try names.filter { try TorchFixture.load(String($0.dropLast(5))).valid }.map { String($0.dropLast(5)) }
        #expect(valid.sorted() == Self.cleanFixtures)
    }

    @Test("a clean fixture loads, matches torch's values and converts to safetensors", arguments: cleanFixtures)
    func cleanFixture(_ name: String) throws {
        let expected = try TorchFixture.load(name)
        let source = try ModelFile.open(Fixture.path("torch/\(name)"))
        let tensors = try #require(expected.tensors)
        #expect(source.entries.count == tensors.count)
        var dense = StateDict()
        for tensor in tensors {
            // torch.load of a bare tensor has no key; this reader names it "tensor".
            let name = tensor.name.isEmpty ? "tensor" : tensor.name
            let index = try #require(source.index(of: name), "\(name) missing")
            let entry = source.entries[index]
            #expect(entry.dtype.rawValue == tensor.dtype, "\(name)")
            #expect(entry.shape.dimensions == tensor.shape, "\(name)")
            guard let sha256 = tensor.sha256 else {
                // Storage-less tensors (meta, sparse) are reported, not converted.
                #expect(throws: TorchFormatError.self) { _ = try source.tensor(at: index) }
                continue
            }
            let raw = try source.tensor(at: index)
            #expect(sha256Hex(raw.bytes.array) == sha256, "\(name)")
            // complex64/128 and other dtypes safetensors has no name for are not converted.
            if raw.dtype.isSafetensorsDType { try dense.append(name, raw) }
        }
        let output = try Fixture.temporaryFolder().appendingPathComponent("converted.safetensors").path
        try SafetensorsWriter.write(dense, to: output, metadata: nil, overwrite: false)
        let converted = try SafetensorsFile(path: output)
        #expect(converted.entries.count == dense.count)
        for (name, tensor) in dense {
            let index = try #require(converted.index(of: name))
            #expect(try converted.tensor(at: index) == tensor, "\(name)")
        }
    }
}
