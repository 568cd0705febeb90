import PickleVM
import Testing

/// The `data.pkl` pickles of real `torch.save` / Lightning files (Fixtures/pickle/README.md).
@Suite("Real torch pickles")
struct RealPickleTests {
    static let orderedDict = PickleGlobal(module: "collections", name: "OrderedDict")
    static let rebuildV2 = PickleGlobal(module: "torch._utils", name: "_rebuild_tensor_v2")

    /// `_rebuild_tensor_v2(persistent_id(('storage', <class>, key, 'cpu', numel)), offset, size,
    /// stride, False, OrderedDict())`, as torch.save writes a plain tensor.
    static func tensor(
        storage: String, key: String, numel: Int64, offset: Int64, size: [Int64], stride: [Int64]
    ) -> PickleValue {
        let id = tuple(
            .string("storage"), .global(PickleGlobal(module: "torch", name: storage)), .string(key), .string("cpu"),
            .int(numel))
        let arguments: [PickleValue] = [
            .persistentID(PicklePersistentID(id)), .int(offset), .tuple(PickleTuple(size.map { .int($0) })),
            .tuple(PickleTuple(stride.map { .int($0) })), .bool(false), .dict(PickleDict([], className: orderedDict)),
        ]
        return .object(PickleObject(reduce: rebuildV2, arguments: arguments))
    }

    static let fixtures = [
        "zip_shared_views.data.pkl", "zip_state_dict_tied.data.pkl", "zip_dtypes.data.pkl",
        "optim_adamw_amsgrad.data.pkl", "lightning_adam_steplr.data.pkl",
    ]

    @Test("every fixture decodes with a torch-like allowlist, with no warnings or trailing bytes", arguments: fixtures)
    func decodesCleanly(name: String) throws {
        let bytes = try fixture(name)
        let result = try unpickle(bytes, policy: TestPolicy.samples)
        #expect(result.warnings.isEmpty)
        #expect(result.trailingByteCount == 0)
        #expect(result.endOffset == bytes.count)
        #expect(result.protocolVersion == 2)
        #expect(result.unknownGlobals.isEmpty)
        #expect(result.value.dictValue != nil)
    }

    @Test("zip_shared_views: OrderedDict keys, views sharing storage '0', a Parameter and a scalar")
    func sharedViews() throws {
        let result = try unpickle(try fixture("zip_shared_views.data.pkl"), policy: TestPolicy.samples)
        let state = try #require(result.value.dictValue)
        #expect(state.className == Self.orderedDict)
        #expect(state.keys == ["w", "wt", "s", "h", "p", "scalar"].map { .string($0) })
        #expect(
            state["w"]
                == Self.tensor(storage: "FloatStorage", key: "0", numel: 12, offset: 0, size: [3, 4], stride: [4, 1]))
        #expect(
            state["wt"]
                == Self.tensor(storage: "FloatStorage", key: "0", numel: 12, offset: 0, size: [4, 3], stride: [1, 4]))
        #expect(
            state["s"] == Self.tensor(storage: "FloatStorage", key: "0", numel: 12, offset: 4, size: [4], stride: [1]))
        #expect(
            state["h"] == Self.tensor(storage: "HalfStorage", key: "1", numel: 2, offset: 0, size: [2], stride: [1]))
        #expect(
            state["scalar"] == Self.tensor(storage: "LongStorage", key: "3", numel: 1, offset: 0, size: [], stride: []))
        let parameter = PickleObject(
            reduce: PickleGlobal(module: "torch._utils", name: "_rebuild_parameter"),
            arguments: [
                Self.tensor(storage: "FloatStorage", key: "2", numel: 2, offset: 0, size: [2], stride: [1]),
                .bool(true),
                .dict(PickleDict([], className: Self.orderedDict)),
            ])
        #expect(state["p"] == .object(parameter))
        // Globals are fetched again through the memo: one GLOBAL per distinct name.
        #expect(
            result.globals.map(\.global.qualifiedName) == [
                "collections.OrderedDict", "torch._utils._rebuild_tensor_v2", "torch.FloatStorage", "torch.HalfStorage",
                "torch._utils._rebuild_parameter", "torch.LongStorage",
            ])
        #expect(result.globals.first?.offset == 2)
    }

    @Test("zip_state_dict_tied: state dict with _metadata BUILD state and a tied storage key")
    func stateDictMetadata() throws {
        let result = try unpickle(try fixture("zip_state_dict_tied.data.pkl"), policy: TestPolicy.samples)
        let state = try #require(result.value.dictValue)
        #expect(state.keys == ["count", "emb.weight", "lin.weight", "lin.bias"].map { .string($0) })
        let metadata = PickleValue.dict(
            PickleDict(
                [
                    (key: .string(""), value: dict(["version": .int(1)])),
                    (key: .string("emb"), value: dict(["version": .int(1)])),
                    (key: .string("lin"), value: dict(["version": .int(1)])),
                ], className: Self.orderedDict))
        #expect(state.buildState == dict(["_metadata": metadata]))

        func storageKey(_ name: String) throws -> PickleValue {
            let tensor = try #require(state[name]?.objectValue)
            let id = try #require(tensor.arguments.items.first?.persistentIDValue?.id.tupleValue)
            return id.items[2]
        }
        #expect(try storageKey("emb.weight") == .string("1"))
        #expect(try storageKey("lin.weight") == .string("1"))
        #expect(try storageKey("lin.bias") == .string("2"))
    }

    @Test("zip_dtypes: _rebuild_tensor_v3 with an UntypedStorage and a dtype global")
    func dtypes() throws {
        let result = try unpickle(try fixture("zip_dtypes.data.pkl"), policy: TestPolicy.samples)
        let state = try #require(result.value.dictValue)
        #expect(state.keys == ["u16", "f8", "bf16", "b", "i8", "c64"].map { .string($0) })
        let u16 = try #require(state["u16"]?.objectValue)
        #expect(u16.callable == PickleGlobal(module: "torch._utils", name: "_rebuild_tensor_v3"))
        #expect(u16.arguments.items.count == 7)
        #expect(u16.arguments.items[6] == .global(PickleGlobal(module: "torch", name: "uint16")))
        let id = try #require(u16.arguments.items[0].persistentIDValue?.id.tupleValue)
        #expect(id.items[1] == .global(PickleGlobal(module: "torch.storage", name: "UntypedStorage")))
        #expect(id.items[4] == .int(4))
    }

    @Test("optim_adamw_amsgrad: optimizer state keyed by int, param_groups with floats and a tuple")
    func optimizer() throws {
        let result = try unpickle(try fixture("optim_adamw_amsgrad.data.pkl"), policy: TestPolicy.samples)
        let top = try #require(result.value.dictValue)
        let optimizer = try #require(top["optimizer"]?.dictValue)
        let state = try #require(optimizer["state"]?.dictValue)
        #expect(state.keys == [.int(0), .int(1), .int(2), .int(3)])
        let first = try #require(state.value(forKey: .int(0))?.dictValue)
        #expect(first.keys == ["step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"].map { .string($0) })
        let group = try #require(optimizer["param_groups"]?.listValue?.items.first?.dictValue)
        #expect(group["lr"] == .float(0.001))
        #expect(group["betas"] == tuple(.float(0.9), .float(0.999)))
        #expect(group["weight_decay"] == .float(0.01))
        #expect(group["amsgrad"] == .bool(true))
        #expect(group["foreach"] == PickleValue.none)
        #expect(group["decoupled_weight_decay"] == .bool(true))
        #expect(group["params"] == list(.int(0), .int(1), .int(2), .int(3)))
    }

    @Test("lightning_adam_steplr: the checkpoint's plain-data keys")
    func lightning() throws {
        let result = try unpickle(try fixture("lightning_adam_steplr.data.pkl"), policy: TestPolicy.samples)
        let checkpoint = try #require(result.value.dictValue)
        #expect(
            checkpoint.keys
                == [
                    "epoch", "global_step", "pytorch-lightning_version", "state_dict", "loops", "callbacks",
                    "optimizer_states", "lr_schedulers", "hparams_name", "hyper_parameters",
                ].map { .string($0) })
        #expect(checkpoint["epoch"] == .int(2))
        #expect(checkpoint["global_step"] == .int(4))
        #expect(checkpoint["pytorch-lightning_version"] == .string("2.6.6"))
        #expect(checkpoint["callbacks"] == dict([:]))
        #expect(checkpoint["hparams_name"] == .string("kwargs"))
        #expect(checkpoint["hyper_parameters"] == dict(["hidden": .int(4), "lr": .float(0.01)]))
        let scheduler = try #require(checkpoint["lr_schedulers"]?.listValue?.items.first?.dictValue)
        #expect(scheduler["_last_lr"] == list(.float(0.0025)))
        #expect(result.value.depth == 9)
    }

    @Test("legacy_views.pt: five pickles back to back, read one after another by offset")
    func legacyStream() throws {
        let bytes = try fixture("legacy_views.pt")
        let magic = try unpickle(bytes, policy: TestPolicy.samples)
        // 0x1950A86A20F9469CFC6C as LONG1: bytes 8a 0a 6c fc 9c 46 f9 20 6a a8 50 19.
        let big = try #require({ if case .bigInt(let value) = magic.value { return value } else { return nil } }())
        #expect(big.littleEndianBytes == [0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19])
        #expect(big.description == "119547037146038801333356")
        #expect(magic.stopOffset == 14)
        #expect(magic.trailingByteCount == bytes.count - 15)

        let version = try unpickle(bytes, from: magic.endOffset, policy: TestPolicy.samples)
        #expect(version.value == .int(1001))
        #expect(version.startOffset == 15)

        let systemInfo = try unpickle(bytes, from: version.endOffset, policy: TestPolicy.samples)
        #expect(
            systemInfo.value
                == dict([
                    "protocol_version": .int(1001), "little_endian": .bool(true),
                    "type_sizes": dict(["short": .int(2), "int": .int(4), "long": .int(4)]),
                ]))

        let object = try unpickle(bytes, from: systemInfo.endOffset, policy: TestPolicy.samples)
        let state = try #require(object.value.dictValue)
        #expect(state.keys == ["w", "s", "h"].map { .string($0) })
        let s = try #require(state["s"]?.objectValue)
        let id = try #require(s.arguments.items[0].persistentIDValue?.id)
        #expect(
            id
                == tuple(
                    .string("storage"), .global(PickleGlobal(module: "torch", name: "FloatStorage")),
                    .string("94641972718544"),
                    .string("cpu"), .int(6), .none))
        #expect(s.arguments.items[1] == .int(2))

        let keys = try unpickle(bytes, from: object.endOffset, policy: TestPolicy.samples)
        #expect(keys.value == list(.string("94641972709008"), .string("94641972718544")))
        #expect(keys.stopOffset == 531)
        #expect(keys.trailingByteCount == 44)  // two storages: (8 + 2×2) + (8 + 6×4) bytes
    }

    @Test("a keep-inert policy lists unknown globals; an unknown OrderedDict keeps its SETITEMS as dict items")
    func keepInert() throws {
        let bytes = try fixture("zip_shared_views.data.pkl")
        let onlyOrderedDict: PickleGlobalPolicy = { module, name in
            module == "collections" && name == "OrderedDict" ? .allow : .keepInert
        }
        let result = try unpickle(bytes, policy: onlyOrderedDict)
        #expect(
            result.unknownGlobals.map(\.global.qualifiedName) == [
                "torch._utils._rebuild_tensor_v2", "torch.FloatStorage", "torch.HalfStorage",
                "torch._utils._rebuild_parameter", "torch.LongStorage",
            ])
        let w = try #require(result.value.dictValue?["w"]?.objectValue)
        #expect(w.callable.isUnknown)

        // With OrderedDict unknown too, REDUCE makes an inert object, not a dict, and the
        // state dict's SETITEMS fill the object's dict items, as a dict subclass's.
        let inert = try unpickle(bytes, policy: TestPolicy.keepInert)
        let object = try #require(inert.value.objectValue)
        #expect(object.callable == PickleGlobal(module: "collections", name: "OrderedDict", isUnknown: true))
        #expect(object.state == nil && object.listItems == nil)
        let items = try #require(object.dictItems)
        #expect(items.keys == result.value.dictValue?.keys)
        #expect(items["w"]?.objectValue?.callable.qualifiedName == "torch._utils._rebuild_tensor_v2")
    }
}
