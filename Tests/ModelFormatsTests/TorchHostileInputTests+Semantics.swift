import ModelFormats
import PickleVM
import TensorData
import Testing
import TestSupport

/// Hostile variants of the torch-semantics families, built byte by byte: bad state shapes,
/// lying metadata, mismatched storage classes, bad quantizer parameters, Python 2 opcodes.
extension TorchHostileInputTests {
    static func v2(_ storage: [UInt8] = P.storage(numel: 4), size: [Int64] = [4], requiresGrad: [UInt8] = P.newFalse,
                   hooks: [UInt8] = P.orderedDict, metadata: [UInt8]? = nil) -> [UInt8] {
        P.rebuild("_rebuild_tensor_v2", [storage, P.int(0), P.ints(size), P.ints([1]), requiresGrad, hooks] + (metadata.map { [$0] } ?? []))
    }

    static func refusal(_ body: [UInt8], storages: [[UInt8]] = [weightBytes]) -> String? {
        do {
            _ = try open(archive(P.stateDict([("w", body)]), storages: storages))
            return nil
        } catch {
            return "\(error)"
        }
    }

    @Test("lying metadata: unknown keys, a non-dict, conj on a real dtype, neg on bool are refused naming the tensor")
    func lyingMetadata() {
        #expect(Self.refusal(Self.v2(metadata: P.dict([("negative", P.newTrue)])))
                == "w: tensor metadata key 'negative' is not known; expected \"neg\" or \"conj\"")
        #expect(Self.refusal(Self.v2(metadata: P.ints([1]))) == "w: tensor metadata is (1,); torch expects a dict")
        #expect(Self.refusal(Self.v2(metadata: P.dict([("conj", P.newTrue)])))
                == "w: the conjugate bit is set on a torch.float32 tensor; torch fails on it for non-complex dtypes")
        #expect(Self.refusal(Self.v2(P.storage("BoolStorage", numel: 4), metadata: P.dict([("neg", P.newFalse)])), storages: [[1, 0, 1, 0]])
                == "w: the negative bit on a torch.bool tensor is not supported (torch cannot resolve it either)")
    }

    @Test("the negative bit set by key alone negates; an empty metadata dict changes nothing")
    func negativeByKey() throws {
        let file = try Self.open(Self.archive(P.stateDict([("n", Self.v2(metadata: P.dict([("neg", P.int(0))]))),
                                                           ("e", Self.v2(metadata: P.dict([])))])))
        #expect(Self.floats(try file.tensor(at: 0)) == [-1, -2, -3, -4])
        #expect(Self.floats(try file.tensor(at: 1)) == [1, 2, 3, 4])
    }

    @Test("requires_grad and hooks are checked as torch checks them")
    func flagsAndHooks() {
        #expect(Self.refusal(Self.v2(requiresGrad: P.int(1))) == "w: requires_grad is 1; torch accepts only True or False")
        #expect(Self.refusal(Self.v2(P.storage("IntStorage", numel: 4), requiresGrad: P.newTrue))
                == "w: requires_grad is True on a torch.int32 tensor; torch allows it only for floating-point and complex dtypes")
        #expect(Self.refusal(Self.v2(hooks: P.dict([("h", P.int(1))]))) == "w: backward hooks are dict of 1; only an empty dict is supported")
        #expect(Self.refusal(Self.v2(hooks: P.none)) == nil)
    }

    @Test("bad BUILD state shapes on tensors and Parameters are refused")
    func badStateShapes() {
        let tensor = P.global("torch", "Tensor") + P.emptyTuple + P.reduce
        #expect(Self.refusal(tensor + P.tuple([P.storage(numel: 4), P.int(0)]) + P.build) == "w: set_ with 2 arguments; torch accepts 0, 1, 3 or 4")
        #expect(Self.refusal(tensor + P.tuple([P.storage("LongStorage", numel: 2), P.int(0), P.ints([2]), P.ints([1])]) + P.build)
                == "w: set_ with a LongStorage (torch.int64) on a torch.float32 tensor, which torch refuses")
        var parameter: [UInt8] = P.global("torch.nn.parameter", "Parameter")
        parameter += Self.v2() + P.tuple1 + P.newObject
        let sixItems: [UInt8] = P.tuple([P.newFalse, P.none, P.orderedDict, P.none, P.none, P.none])
        #expect(Self.refusal(parameter + sixItems + P.build) == "w: Parameter state has 6 items; torch accepts 3, 4 or 5")
        let notTensor: [UInt8] = P.tuple([P.int(3), P.none, P.newFalse, P.newFalse, P.none])
        #expect(Self.refusal(parameter + notTensor + P.build) == "w: Parameter state's data is 3; expected a tensor")
        func withState(_ state: [UInt8]) -> [UInt8] { P.rebuild("_rebuild_parameter_with_state", [Self.v2(), P.newTrue, P.orderedDict, state]) }
        #expect(Self.refusal(withState(P.dict([("shape", P.ints([2]))]))) == "w: tensor state sets the tensor attribute \"shape\", which is not supported")
        #expect(Self.refusal(withState(P.dict([("data", P.int(1))]))) == "w: tensor state sets data to 1; expected a tensor")
        #expect(Self.refusal(withState(P.dict([("grad", Self.v2())]))) == "w: tensor state sets grad to tensor; only None is supported")
        #expect(Self.refusal(withState(P.tuple([P.none, P.none, P.none]))) == "w: tensor state is a 3-tuple; torch accepts (dict, slots) only")
        #expect(Self.refusal(withState(P.dict([("note", P.string("kept as an attribute"))]))) == nil)
    }

    @Test("a plain tensor given set_ state takes the new view; a Parameter's 3-item state sets requires_grad")
    func stateApplied() throws {
        var set: [UInt8] = Self.v2()
        set += P.tuple([P.storage(numel: 4), P.int(1), P.ints([2])])
        set += P.build
        var parameter: [UInt8] = P.global("torch.nn.parameter", "Parameter")
        parameter += Self.v2() + P.tuple1 + P.newObject
        parameter += P.tuple([P.newFalse, P.none, P.orderedDict]) + P.build
        let file = try Self.open(Self.archive(P.stateDict([("s", set), ("p", parameter)])))
        #expect(Self.floats(try file.tensor(at: 0)) == [2, 3])
        #expect(file.tensors[file.entryTensors[1]].requiresGrad == false)
        #expect(file.tensors[file.entryTensors[1]].isParameter)
    }

    @Test("mismatched storage classes: v3 reinterprets the bytes, v2 takes the storage's dtype, a class without dtype is refused")
    func mismatchedStorageClasses() throws {
        let v3 = P.rebuild("_rebuild_tensor_v3", [P.storage(numel: 4), P.int(1), P.ints([2]), P.ints([1]), P.newFalse, P.orderedDict,
                                                  P.global("torch", "int16")])
        let file = try Self.open(Self.archive(P.stateDict([("w", v3)])))
        #expect(try file.tensor(at: 0).bytes.values(as: Int16.self) == [16256, 0])  // bytes 2..5 of float32 1.0, 2.0
        #expect(Self.refusal(Self.v2(P.storage("TypedStorage", numel: 4, module: "torch.storage")))
                == "storage \"0\": TypedStorage (a class without a dtype, which torch cannot load) is not a supported storage class")
    }

    @Test("quantizer parameters that torch refuses are refused")
    func badQuantizers() {
        func qtensor(_ storage: [UInt8], _ params: [UInt8], size: [Int64] = [2, 2], requiresGrad: [UInt8] = P.newFalse) -> [UInt8] {
            P.rebuild("_rebuild_qtensor", [storage, P.int(0), P.ints(size), P.ints([2, 1]), params, requiresGrad, P.orderedDict])
        }
        let storage = P.storage("QInt8Storage", numel: 4)
        let perChannel = { (axis: Int64, count: Int) in
            P.tuple([P.global("torch", "per_channel_affine"), P.tuple((0..<count).map { _ in P.int(1) }), P.tuple([]), P.int(axis)])
        }
        #expect(Self.refusal(qtensor(storage, perChannel(2, 2)), storages: [[1, 2, 3, 4]]) == "w: per-channel axis 2 is outside size [2, 2] (torch refuses it too)")
        #expect(Self.refusal(qtensor(storage, P.tuple([P.global("torch", "per_channel_affine"), P.emptyList, P.emptyList, P.int(0)])), storages: [[1, 2, 3, 4]])
                == "w: per-channel scales are a list of 0; expected a tensor of 2")
        #expect(Self.refusal(qtensor(storage, P.tuple([P.global("torch", "per_tensor_symmetric"), P.int(1), P.int(0)])), storages: [[1, 2, 3, 4]])
                == "w: quantization scheme per_tensor_symmetric is not supported (torch refuses it too)")
        #expect(Self.refusal(qtensor(P.storage(numel: 4), P.tuple([P.global("torch", "per_tensor_affine"), P.int(1), P.int(0)])))
                == "w: quantized tensor in a FloatStorage (torch.float32) is not supported; only QInt8, QUInt8 and QInt32 storages are")
        #expect(Self.refusal(qtensor(storage, P.tuple([P.global("torch", "per_tensor_affine"), P.int(1), P.int(0)]), requiresGrad: P.newTrue), storages: [[1, 2, 3, 4]])
                == "w: requires_grad is True on a torch.qint8 tensor; torch allows it only for floating-point and complex dtypes")
    }

    @Test("Python 2 opcodes build data: INT, LONG and BINSTRING; malformed ones are refused at their offset")
    func pythonTwoOpcodes() throws {
        let binaryString: [UInt8] = [0x54] + P.le(Int32(3)) + Array("abc".utf8)
        let pairs: [(String, [UInt8])] = [("big", Array("I8589934592\n".utf8)), ("no", Array("I00\n".utf8)),
                                          ("long", Array("L-12345678901234567890L\n".utf8)), ("s", binaryString)]
        let text: [UInt8] = P.dict(pairs)
        let file = try Self.open(Self.archive(P.dict([("w", Self.weight), ("meta", text)])))
        guard case .dict(let root) = file.root, case .dict(let meta)? = root["meta"] else { Issue.record("root is \(file.root.summary)"); return }
        #expect(meta["big"] == .int(8_589_934_592))
        #expect(meta["no"] == .bool(false))
        #expect(meta["long"]?.summary == "-12345678901234567890")
        #expect(meta["s"] == .string("abc"))
        #expect(throws: Self.inDataPkl(.invalidDecimal(opcode: .int, at: 2))) {
            _ = try Self.open(Self.archive(Array("I007\n".utf8) + P.stop, storages: []))
        }
        #expect(throws: Self.inDataPkl(.negativeLength(opcode: .binaryString, declared: -1, at: 2))) {
            _ = try Self.open(Self.archive([0x54] + P.le(Int32(-1)) + P.stop, storages: []))
        }
        #expect(throws: Self.inDataPkl(.invalidUTF8(opcode: .shortBinaryString, at: 2))) {
            _ = try Self.open(Self.archive([0x55, 0x02, 0xC3, 0x28] + P.stop, storages: []))
        }
        #expect(throws: Self.inDataPkl(.limitExceeded(.longByteCount, limit: 32, found: 33, at: 2))) {
            let digits: String = "I" + String(repeating: "9", count: 100) + "\n"
            _ = try Self.open(Self.archive(Array(digits.utf8) + P.stop, storages: []))
        }
    }
}
