import Foundation
import ModelFormats
import PickleVM
import TensorData
import Testing
import TestSupport

/// Fixtures/torch_semantics: files torch wrote, read by us and compared with what
/// torch.load(weights_only=True) returned (neg/conj resolved; quantized tensors as integers plus
/// parameter tensors), and the files torch refuses or we refuse by design, with our exact words.
@Suite("Torch semantics")
struct TorchSemanticsTests {
    static let folder = "torch_semantics/"
    static let refusedByDesign: [String: TorchFormatError] = [
        "unknown_metadata_key.pt": .unsupportedObject(path: "the top-level object", description: "tensor metadata key 'zero' is not known; expected \"neg\" or \"conj\""),
        "nonempty_hooks.pt": .unsupportedObject(path: "the top-level object", description: "backward hooks are OrderedDict of 1; only an empty dict is supported"),
        "quantized_4bit.pt": .unsupportedObject(path: "packed", description: "quantized tensor in a QUInt4x2Storage (torch.quint4x2) is not supported; only QInt8, QUInt8 and QInt32 storages are"),
    ]
    static let refusedLikeTorch: [String: TorchFormatError] = [
        "conj_bit_on_float.pt": .unsupportedObject(path: "the top-level object", description: "the conjugate bit is set on a torch.float32 tensor; torch fails on it for non-complex dtypes"),
        "neg_bit_on_bool.pt": .unsupportedObject(path: "the top-level object", description: "the negative bit on a torch.bool tensor is not supported (torch cannot resolve it either)"),
        "requires_grad_on_int.pt": .unsupportedObject(path: "the top-level object", description: "requires_grad is True on a torch.int64 tensor; torch allows it only for floating-point and complex dtypes"),
        "parameter_setstate_4_requires_grad.pt": .unsupportedObject(path: "the top-level object", description: "Parameter state (storage, offset, size, stride) sets the data of a Parameter that requires grad, which torch refuses"),
        "storage_second_class_too_small.pt": .invalidGeometry(tensor: "b", storage: "data/0 (FloatStorage, 16 bytes)", .outOfStorage(offset: 0, sizes: [16], strides: [1], lastElement: 15, storageElements: 4)),
    ]
    static let names: [String] = ((try? FileManager.default.contentsOfDirectory(atPath: Fixture.path("torch_semantics"))) ?? [])
        .filter { $0.hasSuffix(".pt") }.sorted()
    static let readable = names.filter { refusedByDesign[$0] == nil && refusedLikeTorch[$0] == nil && $0 != "neg_nan_half.pt" }

    @Test("every family has fixtures")
    func present() {
        #expect(Self.names.count == 17)
        #expect(Self.readable.count == 8)
    }

    @Test("each tensor equals torch.load's, bit for bit", arguments: readable)
    func readsLikeTorch(name: String) throws {
        let expected = try ExpectedFile.load(Self.folder + name)
        #expect(expected.valid)
        let file = try TorchFile(path: Fixture.path(Self.folder + name))
        let tensors = try #require(expected.tensors)
        #expect(file.entries.map(\.name) == tensors.map(\.name))
        for (index, want) in tensors.enumerated() where index < file.entries.count {
            #expect(file.entries[index].dtype.rawValue == want.dtype, "\(want.name) dtype")
            #expect(file.entries[index].shape.dimensions == want.shape, "\(want.name) shape")
            let got = try file.tensor(at: index)
            #expect(sha256Hex(got.bytes.array) == want.sha256, "\(want.name) bytes")
        }
    }

    @Test("files torch refuses are refused with one line naming the tensor", arguments: Array(TorchSemanticsTests.refusedLikeTorch.keys).sorted())
    func refusesLikeTorch(name: String) throws {
        #expect(try ExpectedFile.load(Self.folder + name).valid == false)
        let error = try #require(Self.refusedLikeTorch[name])
        #expect(throws: error) { _ = try TorchFile(path: Fixture.path(Self.folder + name)) }
        #expect(!error.description.contains("\n"))
    }

    @Test("files we refuse by design name what is not implemented", arguments: Array(TorchSemanticsTests.refusedByDesign.keys).sorted())
    func refusesByDesign(name: String) throws {
        #expect(try ExpectedFile.load(Self.folder + name).valid == true)
        let error = try #require(Self.refusedByDesign[name])
        #expect(throws: error) { _ = try TorchFile(path: Fixture.path(Self.folder + name)) }
    }

    @Test("neg/conj values: sign bits flipped, integers wrapped")
    func negConjValues() throws {
        let file = try TorchFile(path: Fixture.path(Self.folder + "neg_conj.pt"))
        func tensor(_ name: String) throws -> RawTensor { try file.tensor(at: try #require(file.index(of: name))) }
        let conj = try tensor("conj").bytes.values(as: Float.self)
        #expect(Array(conj.prefix(4)) == [1, -2, 3, 4])
        #expect(conj[5].sign == .minus && conj[5] == 0)  // conj of +0 imaginary is -0
        #expect(try tensor("neg_i8").bytes.values(as: Int8.self) == [-1, -128, -127, 0])
        #expect(try tensor("neg_u8").bytes.values(as: UInt8.self) == [255, 128, 1, 0])
        #expect(try tensor("neg_i64").bytes.values(as: Int64.self) == [Int64.min, -5])
        #expect(try tensor("neg_conj").bytes.values(as: Float.self) == [-1, 1, 2, -0.5])
        let imaginary = try tensor("imag_of_conj").bytes.values(as: Float.self)
        #expect(imaginary == [-2, 4, 0] && imaginary[2].sign == .minus)
    }

    @Test("a float16/bfloat16 NaN under the negative bit is refused when read, naming the tensor")
    func negativeHalfNaN() throws {
        let file = try TorchFile(path: Fixture.path(Self.folder + "neg_nan_half.pt"))
        #expect(throws: TorchFormatError.unsupportedObject(path: "neg_f16", description: "the negative bit on a float16 tensor holding NaN is not supported: torch's result depends on its CPU kernel")) {
            _ = try file.tensor(at: 0)
        }
    }

    @Test("quantized tensors: integers, parameter tensors, inspect facts and a warning")
    func quantized() throws {
        let file = try TorchFile(path: Fixture.path(Self.folder + "quantized.pt"))
        let entry = try #require(file.entries.first { $0.name == "qint8" })
        #expect(entry.dtype == .i8)
        #expect(entry.quantization == TensorQuantizationInfo(torchDType: "qint8", scheme: "per_tensor_affine", scale: 0.05, zeroPoint: 3,
                                                             axis: nil, parameterTensors: ["qint8.q_scale", "qint8.q_zero_point"]))
        let scale = try file.tensor(at: try #require(file.index(of: "qint8.q_scale")))
        #expect(scale.dtype == .f64 && scale.shape == [] && scale.bytes.values(as: Double.self) == [0.05])
        #expect(try file.tensor(at: try #require(file.index(of: "qint32.q_zero_point"))).bytes.values(as: Int64.self) == [-7])
        let perChannel = try #require(file.entries.first { $0.name == "per_channel" }?.quantization)
        #expect(perChannel.axis == 1 && perChannel.scale == nil)
        #expect(try file.tensor(at: try #require(file.index(of: "per_channel.q_per_channel_zero_points"))).bytes.values(as: Int64.self) == [0, 5, -3])
        #expect(try file.tensor(at: try #require(file.index(of: "per_channel.q_per_channel_axis"))).bytes.values(as: Int64.self) == [1])
        #expect(file.warnings.filter { $0.code == .quantizedAsIntegers }.count == 7)
        #expect(file.warnings.contains(.quantizedAsIntegers(tensor: "qint8", torchDType: "qint8", scheme: "per_tensor_affine",
                                                            parameterTensors: ["qint8.q_scale", "qint8.q_zero_point"])))
    }

    @Test("a Python-2 legacy file reads without any flag, its str and INT values as torch reads them")
    func pythonTwo() throws {
        let file = try TorchFile(path: Fixture.path(Self.folder + "python2_legacy.pt"))
        #expect(file.entries.map(\.name) == ["weight", "strided"])
        #expect(try file.tensor(at: 0).bytes.values(as: Float.self) == [0, 1, 2, 3, 4, 5])
        #expect(try file.tensor(at: 1).bytes.values(as: Float.self) == [1, 3])
        guard case .dict(let root) = file.root else { Issue.record("root is \(file.root.summary)"); return }
        #expect(root["step"] == .int(8_589_934_592))
        #expect(root["negative_step"] == .int(-8_589_934_593))
        #expect(root["long_count"]?.summary == "1180591620717411303424")
        #expect(root["flag"] == .bool(true))
        #expect(root["name"] == .string(String(repeating: "x", count: 300)))
        #expect(root["unicode"] == .string("café"))
        #expect(root["lr"] == .float(0.125))
        let expected = try #require(try Fixture.json(Self.folder + "python2_legacy.pt.json") as? [String: Any])
        let values = try #require(expected["values"] as? [String: Any])
        #expect(values["step"] as? Int == 8_589_934_592)
        // torch 2.13's weights-only unpickler refuses INT (0x49); the values come from weights_only=False.
        #expect((expected["weights_only_error"] as? String)?.contains("Unsupported operand 73") == true)
    }
}
