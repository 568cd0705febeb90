import Foundation
import ModelFormats
import PickleVM
import TensorData
import Testing
import TestSupport

/// Files made by the real libraries as users have them (Fixtures/real, from
/// Fixtures/generate_real_files.py): OmegaConf configs in Lightning checkpoints, whole pickled
/// modules, training checkpoints, TorchScript archives. Each is read and compared with what torch
/// read back.
@Suite("Real third-party files")
struct RealFilesTests {
    static let names = RealFileExpectation.names
    static let allowing = ReadOptions(allowUnknownObjects: true)

    static func open(_ name: String, allowUnknownObjects: Bool = true) throws -> TorchFile {
        try TorchFile(path: Fixture.path("real/" + name), options: ReadOptions(allowUnknownObjects: allowUnknownObjects))
    }

    /// A value read from a pickle in the form JSONSerialization gives JSON, for comparing.
    static func foundation(_ value: TorchValue) -> Any {
        switch value {
        case .none: return NSNull()
        case .bool(let flag): return flag
        case .int(let number): return Int(number)
        case .float(let number): return number
        case .string(let text): return text
        case .dict(let dict):
            var result: [String: Any] = [:]
            for entry in dict.entries { result[entry.key.nameComponent] = foundation(entry.value) }
            return result
        case .list(let items), .tuple(let items): return items.map(foundation)
        default: return value.summary
        }
    }

    @Test("the fixtures cover every family")
    func coverage() {
        for name in ["lightning_omegaconf.ckpt", "inert_containers.pt", "module_linear.pt", "module_sequential.pt", "module_lstm.pt",
                     "module_gru.pt", "module_custom.pt", "train_model_state_dict.pt", "train_model.pt", "train_state_dict.pt",
                     "train_module.pt", "train_net.pt", "train_nested.pt", "train_odd_counters.pt", "train_huge_counters.pt",
                     "train_pickled_module.pt", "torchscript_module.pt", "torchscript_traced.pt"] {
            #expect(Self.names.contains(name), "\(name)")
        }
    }

    @Test("every tensor has torch's name, dtype, shape and bytes", arguments: names)
    func tensorsLikeTorch(name: String) throws {
        let expected = try RealFileExpectation.load(name)
        let file = try Self.open(name)
        #expect(file.format.rawValue == expected.format)
        #expect(file.entries.map(\.name) == expected.tensors.map(\.name), "names and order")
        for (index, want) in expected.tensors.enumerated() where index < file.entries.count {
            #expect(file.entries[index].dtype.rawValue == want.dtype, "\(want.name) dtype")
            #expect(file.entries[index].shape.dimensions == want.shape, "\(want.name) shape")
            let got = try file.tensor(at: index)
            #expect(got.bytes.count == want.nbytes, "\(want.name) size")
            #expect(sha256Hex(got.bytes.array) == want.sha256, "\(want.name) bytes")
        }
    }

    @Test("without the flag, the first unknown global is refused by name and offset, with the flag named", arguments: names)
    func refusedByDefault(name: String) throws {
        let expected = try RealFileExpectation.load(name)
        guard let global = expected.first_unknown_global, let offset = expected.first_unknown_offset else {
            // TorchScript archives and plain checkpoints read without the flag.
            #expect(try Self.open(name, allowUnknownObjects: false).entries.count == expected.tensors.count)
            return
        }
        let dot = try #require(global.lastIndex(of: "."))
        let module = String(global[..<dot]), className = String(global[global.index(after: dot)...])
        let folder = name.hasSuffix(".ckpt") ? "archive" : String(name.split(separator: ".")[0])
        let error = try #require(throws: TorchFormatError.self) { try Self.open(name, allowUnknownObjects: false) }
        #expect(error == .pickle(record: "\(folder)/data.pkl", .unsupportedGlobal(module: module, name: className, at: offset)))
        #expect(error.description == "\(folder)/data.pkl at byte \(offset): unsupported global \(global), outside the weights-only "
                + "allowlist (--allow-unknown-objects reads it as inert data; nothing is imported or run)")
    }

    // MARK: - OmegaConf / Hydra

    @Test("a Hydra DictConfig in hyper_parameters reads as its keys and values")
    func omegaConfHyperParameters() throws {
        let file = try Self.open("lightning_omegaconf.ckpt")
        let checkpoint = try LightningCheckpoint(root: file.root)
        guard case .opaque(let config)? = checkpoint.hyperParameters else {
            Issue.record("hyper_parameters is not an inert object")
            return
        }
        #expect(config.qualifiedName == "omegaconf.dictconfig.DictConfig")
        let data = try #require(checkpoint.hyperParameterData)
        let want = try #require(try RealFileExpectation.member("lightning_omegaconf.ckpt", "checkpoint", "hyper_parameters") as? NSDictionary)
        #expect(NSDictionary(dictionary: try #require(Self.foundation(data) as? [String: Any])).isEqual(want))
        // Key order as the config holds it.
        guard case .dict(let top) = data else { return }
        #expect(top.stringKeys == ["model", "trainer", "lr", "name", "nothing", "ref", "optim"])
        #expect(data["ref"] == .string("${lr}"))
        #expect(checkpoint.epoch == 1 && checkpoint.globalStep == 2 && checkpoint.stateDictKey == "state_dict")
        let omegaconf = Set(file.unknownGlobals.map(\.global.qualifiedName).filter { $0.hasPrefix("omegaconf.") })
        let listed = try #require(try RealFileExpectation.member("lightning_omegaconf.ckpt", "omegaconf_globals") as? [String])
        #expect(omegaconf == Set(listed))
    }

    @Test("a config node's parent link stays a bare object: the tree has no cycle")
    func omegaConfParentLink() throws {
        let file = try Self.open("lightning_omegaconf.ckpt")
        guard case .opaque(let config)? = file.root["hyper_parameters"], case .dict(let state)? = config.state,
              case .dict(let content)? = state["_content"], case .opaque(let model)? = content["model"],
              case .dict(let modelState)? = model.state, case .opaque(let parent)? = modelState["_parent"]
        else {
            Issue.record("unexpected config layout")
            return
        }
        // The inner node's `_parent` was pickled before its parent's BUILD: it is the parent as
        // it was then, without state.
        #expect(parent.qualifiedName == "omegaconf.dictconfig.DictConfig")
        #expect(parent.state == nil)
    }

    @Test("dict and list subclasses keep their items; objects and classes are dict keys")
    func inertContainers() throws {
        let file = try Self.open("inert_containers.pt")
        guard case .opaque(let counts)? = file.root["counts"], case .opaque(let history)? = file.root["history"],
              case .dict(let tags)? = file.root["tags"], case .dict(let byClass)? = file.root["by_class"]
        else {
            Issue.record("unexpected layout")
            return
        }
        #expect(counts.qualifiedName == "collections.defaultdict")
        #expect(counts.arguments == [.global(module: "builtins", name: "int")])
        #expect(counts.dictItems == TorchDict([(.string("a"), .int(3)), (.string("b"), .int(1))]))
        #expect(InertData.plain(.opaque(counts)) == .dict(TorchDict([(.string("a"), .int(3)), (.string("b"), .int(1))])))
        #expect(history.qualifiedName == "collections.deque" && history.listItems == [.int(1), .int(2), .int(3)])
        #expect(tags.entries.count == 2)
        #expect(tags.entries.map(\.value) == [.string("first"), .string("second")])
        for entry in tags.entries {
            guard case .opaque(let tag) = entry.key else {
                Issue.record("key is not an object")
                continue
            }
            #expect(tag.qualifiedName == "real_files_models.Tag")
        }
        #expect(byClass.entries.map(\.key) == [.dtype("float32"), .global(module: "builtins", name: "int")])
        #expect(file.entries.map(\.name) == ["state_dict.w"])
    }

    // MARK: - Pickled modules

    @Test("a pickled LSTM, GRU or custom module yields exactly its state_dict() names")
    func moduleNames() throws {
        let lstm = try Self.open("module_lstm.pt")
        #expect(lstm.entries.map(\.name) == [
            "weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0", "weight_ih_l1", "weight_hh_l1", "bias_ih_l1", "bias_hh_l1",
        ])
        let custom = try Self.open("module_custom.pt")
        // No None parameter or buffer, no non-persistent buffer, no plain attribute.
        #expect(custom.entries.map(\.name) == [
            "scale", "running", "fc.weight", "fc.bias", "seq.0.weight", "seq.0.bias", "seq.2.weight", "seq.2.bias",
            "seq.2.running_mean", "seq.2.running_var", "seq.2.num_batches_tracked",
        ])
        #expect(try custom.tensor(at: 1).bytes.values(as: Float.self) == [0, 1, 2])
        #expect(try custom.tensor(at: 8).bytes.values(as: Float.self) == [0.5, 0.5])
    }

    // MARK: - Training checkpoints

    @Test("a training checkpoint's weights are the first weights key that holds tensors", arguments: names.filter { $0.hasPrefix("train_") })
    func trainingWeights(name: String) throws {
        let expected = try RealFileExpectation.load(name)
        let file = try Self.open(name)
        guard case .dict(let top) = file.root else {
            Issue.record("not a dict")
            return
        }
        #expect(LightningCheckpoint.isTrainingCheckpoint(top))
        #expect(LightningCheckpoint.weightsPath(in: top) == expected.weights?.path)
        #expect(try LightningCheckpoint(root: file.root).stateDictKey == expected.weights?.path)
    }

    @Test("progress counters of any value are kept as stored and never converted")
    func oddCounters() throws {
        let odd = try LightningCheckpoint(root: Self.open("train_odd_counters.pt").root)
        #expect(odd.epoch == nil && odd.globalStep == nil)
        #expect(odd.epochValue?.doubleValue?.isNaN == true)
        #expect(odd.globalStepValue == .float(1e300))
        let huge = try LightningCheckpoint(root: Self.open("train_huge_counters.pt").root)
        #expect(huge.epoch == nil && huge.epochValue?.summary == "1180591620717411303424")
        #expect(huge.globalStep == -5)
    }

    // MARK: - TorchScript

    @Test("a TorchScript archive lists its parameters and buffers by module path, then its constants")
    func torchScript() throws {
        let expected = try RealFileExpectation.load("torchscript_traced.pt")
        let traced = try Self.open("torchscript_traced.pt", allowUnknownObjects: false)
        let script = try #require(traced.torchScript)
        #expect(script.archive.codeFiles == expected.torchscript?.code_files)
        #expect(script.archive.hasConstants && script.archive.otherPickles == ["traced_inputs.pkl"])
        #expect(traced.entries.map(\.name) == ["fc.weight", "fc.bias", "CONSTANTS.c0"])
        #expect(traced.entryRoles == [.weights, .weights, .torchScriptConstant])
        #expect(try traced.tensor(at: 2).bytes.values(as: Float.self) == [1.5, 2.5])

        let module = try Self.open("torchscript_module.pt", allowUnknownObjects: false)
        let classes = try #require(module.torchScript?.classes)
        #expect(classes["__torch__.real_files_models.Scriptable"] == TorchScriptClass(
            isModule: true, parameters: ["w", "frozen"], buffers: ["scale", "tmp"]))
        // The plain tensor attribute `offset` is neither a parameter nor a buffer.
        #expect(!module.entries.map(\.name).contains("offset"))
        #expect(module.warnings.isEmpty)
    }

    @Test("TorchScript class declarations are read from the code's header lines only")
    func torchScriptDeclarations() {
        var classes: [String: TorchScriptClass] = [:]
        TorchScriptClass.parse(
            """
            class A(Module):
              __parameters__ = ["weight", "b\\"q", ]
              __buffers__ = []
              weight : Tensor
              def forward(self: __torch__.m.A) -> Tensor:
                __parameters__ = ["not", "this"]
                return self.weight
            class B(NamedTuple):
              x : int
            """, module: "__torch__.m", into: &classes)
        #expect(classes["__torch__.m.A"] == TorchScriptClass(isModule: true, parameters: ["weight", "b\"q"], buffers: []))
        #expect(classes["__torch__.m.B"] == TorchScriptClass(isModule: false, parameters: [], buffers: []))
    }
}
