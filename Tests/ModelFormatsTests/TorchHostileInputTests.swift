import Foundation
@testable import ModelFormats
import PickleVM
import TensorData
import Testing
import TestSupport
import ZipFormat

/// Hostile PyTorch files, one named test per attack shape (SECURITY.md §2 and rules 1–5, 10–13),
/// read end to end through `TorchFile(path:options:)` or `ModelFile.open`, each asserting the
/// whole error case. The raw pickle VM and zip layers have their own suites
/// (`UnpicklerHostileInputTests`, `ZipHostileInputTests`); these check that the torch reader
/// puts them together without a gap. Bytes are built in Swift with `HostileBytes` (TestSupport),
/// so each test shows its attack; comments say what torch 2.13 does with the same bytes where
/// that was checked.
///
/// This file: code execution in and around the unpickler. Geometry, resources, the container,
/// the legacy format and the controls are in the `TorchHostileInputTests+…` files.
@Suite("PyTorch hostile input")
struct TorchHostileInputTests {
    /// The record every zip attack's pickle lives in.
    static let dataPkl = "archive/data.pkl"
    /// `w`: a float32 tensor [1, 2, 3, 4] in storage `0` (a 16-byte `FloatStorage`).
    static let weight = P.floatTensor(numel: 4)
    static let weightBytes = float32Bytes([1, 2, 3, 4])
    /// `OrderedDict(w=tensor)`, the benign state dict attacks are grafted onto.
    static let stateDict = P.stateDict([("w", weight)])

    /// A zip archive whose data.pkl is `PROTO 2`, `body`, `STOP`.
    static func archive(_ body: [UInt8], storages: [[UInt8]] = [weightBytes]) -> [UInt8] {
        TorchZip(pickle: P.pickle(body), storages: storages).bytes
    }

    /// Writes `bytes` to a temporary file and opens it.
    static func open(_ bytes: [UInt8], options: ReadOptions = ReadOptions(), name: String = "hostile.pth") throws -> TorchFile {
        try TorchFile(path: writeTemporaryFile(bytes, name: name), options: options)
    }

    /// The error for a pickle refused inside data.pkl.
    static func inDataPkl(_ error: PickleError) -> TorchFormatError { .pickle(record: dataPkl, error) }

    static func floats(_ tensor: RawTensor) -> [Float] { tensor.bytes.values(as: Float.self) }

    /// The classic `__reduce__` payload: `module.name('echo pwned')`.
    static func call(_ module: String, _ name: String) -> [UInt8] {
        P.global(module, name) + P.string("echo pwned") + P.tuple1 + P.reduce
    }

    /// Expects data.pkl = `call(module, name)` to be refused at its GLOBAL (byte 2) as
    /// `refusedModule.refusedName` (the name after the Python-2 mapping).
    static func expectRefusedCall(_ module: String, _ name: String, as refusedModule: String? = nil, _ refusedName: String? = nil,
                                  options: ReadOptions = ReadOptions(), sourceLocation: SourceLocation = #_sourceLocation) {
        let expected = inDataPkl(.unsupportedGlobal(module: refusedModule ?? module, name: refusedName ?? name, at: 2))
        #expect(throws: expected, sourceLocation: sourceLocation) { _ = try open(archive(call(module, name)), options: options) }
    }

    // MARK: - Code execution in the pickle VM

    @Test("GLOBAL os system + REDUCE is refused at the GLOBAL")
    func osSystem() {
        Self.expectRefusedCall("os", "system")
    }

    @Test("GLOBAL posix system is refused")
    func posixSystem() {
        Self.expectRefusedCall("posix", "system")
    }

    @Test("GLOBAL nt system is refused")
    func ntSystem() {
        Self.expectRefusedCall("nt", "system")
    }

    @Test("GLOBAL __builtin__ eval is refused as builtins.eval, after the Python-2 mapping")
    func builtinEval() {
        Self.expectRefusedCall("__builtin__", "eval", as: "builtins", "eval")
    }

    @Test("GLOBAL __builtin__ intern is mapped to sys.intern and refused: the mapping can lead into a blocked module")
    func builtinInternToSys() {
        Self.expectRefusedCall("__builtin__", "intern", as: "sys", "intern")
        Self.expectRefusedCall("__builtin__", "intern", as: "sys", "intern", options: ReadOptions(allowUnknownObjects: true))
    }

    @Test("GLOBAL copy_reg _reconstructor (on fickling's allowlist) is refused as copyreg._reconstructor")
    func copyregReconstructor() {
        Self.expectRefusedCall("copy_reg", "_reconstructor", as: "copyreg", "_reconstructor")
    }

    @Test("GLOBAL builtins exec is refused")
    func builtinsExec() {
        Self.expectRefusedCall("builtins", "exec")
    }

    @Test("GLOBAL builtins getattr (the gadget for walking to any attribute) is refused")
    func builtinsGetattr() {
        Self.expectRefusedCall("builtins", "getattr")
    }

    @Test("GLOBAL subprocess Popen is refused")
    func subprocessPopen() {
        Self.expectRefusedCall("subprocess", "Popen")
    }

    @Test("a prefix trick, torch._utils system, is refused: names match exactly")
    func prefixTrick() {
        Self.expectRefusedCall("torch._utils", "system")
        // Also a dotted name walking from an allowed module to os.system (protocol-4 style).
        Self.expectRefusedCall("torch._utils", "os.system")
        Self.expectRefusedCall("torch", "serialization.os.system")
    }

    @Test("a right name in the wrong module, torch.nn.modules.linear _rebuild_tensor_v2, is refused")
    func rightNameWrongModule() {
        let body = P.stateDict([("w", P.global("torch.nn.modules.linear", "_rebuild_tensor_v2") + P.mark
                                + P.storage(numel: 4) + P.int(0) + P.ints([4]) + P.ints([1]) + P.newFalse + P.orderedDict
                                + P.tupleMark + P.reduce)])
        let at = P.proto2.count + P.orderedDict.count + P.mark.count + P.string("w").count
        #expect(throws: Self.inDataPkl(.unsupportedGlobal(module: "torch.nn.modules.linear", name: "_rebuild_tensor_v2", at: at))) {
            _ = try Self.open(Self.archive(body))
        }
    }

    @Test("memo indirection: a refused global stored with BINPUT and fetched with BINGET is refused at its GLOBAL")
    func memoIndirection() {
        // The global is memoized, then fetched back to be called: the refusal must come at the
        // GLOBAL itself, before BINPUT, BINGET or REDUCE are reached.
        let prefix = P.proto2 + P.orderedDict + P.put(0) + P.string("w") + P.put(1)
        let bytes = prefix + P.global("os", "system") + P.put(2) + P.get(2) + P.string("id") + P.tuple1 + P.reduce + P.setItem + P.stop
        #expect(throws: Self.inDataPkl(.unsupportedGlobal(module: "os", name: "system", at: prefix.count))) {
            _ = try Self.open(TorchZip(pickle: bytes, storages: []).bytes)
        }
    }

    @Test("protocol 4 STACK_GLOBAL is refused as an opcode, whatever strings it would join")
    func stackGlobal() {
        // torch.load(weights_only=True) refuses it too ("Unsupported operand 147").
        let prefix = [0x80, 0x04] + P.string("os") + P.string("system")
        let bytes = prefix + P.stackGlobal + P.string("id") + P.tuple1 + P.reduce + P.stop
        #expect(throws: Self.inDataPkl(.unsupportedOpcode(.stackGlobal, at: prefix.count))) {
            _ = try Self.open(TorchZip(pickle: bytes).bytes)
        }
    }

    @Test("a real protocol-4 pickle is refused at its FRAME, as torch does")
    func protocol4Frame() {
        let bytes = [0x80, 0x04] + P.frame + P.le(UInt64(20)) + P.string("os") + P.string("system") + P.stackGlobal + P.stop
        #expect(throws: Self.inDataPkl(.unsupportedOpcode(.frame, at: 2))) { _ = try Self.open(TorchZip(pickle: bytes).bytes) }
    }

    @Test("INST (protocol 0: import and call in one opcode) is refused")
    func inst() {
        let prefix = P.proto2 + P.mark + P.string("id")
        let bytes = prefix + P.inst("os", "system") + P.stop
        #expect(throws: Self.inDataPkl(.unsupportedOpcode(.instance, at: prefix.count))) { _ = try Self.open(TorchZip(pickle: bytes).bytes) }
    }

    @Test("OBJ is refused even with an allowed class")
    func obj() {
        let prefix = P.proto2 + P.mark + P.global("collections", "OrderedDict")
        let bytes = prefix + P.object + P.stop
        #expect(throws: Self.inDataPkl(.unsupportedOpcode(.object, at: prefix.count))) { _ = try Self.open(TorchZip(pickle: bytes).bytes) }
    }

    @Test("NEWOBJ of a disallowed class is refused at the class's GLOBAL")
    func newObjDisallowed() {
        let bytes = P.pickle(P.global("__main__", "Exploit") + P.emptyTuple + P.newObject)
        #expect(throws: Self.inDataPkl(.unsupportedGlobal(module: "__main__", name: "Exploit", at: 2))) {
            _ = try Self.open(TorchZip(pickle: bytes).bytes)
        }
    }

    @Test("NEWOBJ_EX is refused even with an allowed class")
    func newObjEx() {
        let prefix = P.proto2 + P.global("collections", "OrderedDict") + P.emptyTuple + P.emptyDict
        let bytes = prefix + P.newObjectEx + P.stop
        #expect(throws: Self.inDataPkl(.unsupportedOpcode(.newObjectEx, at: prefix.count))) { _ = try Self.open(TorchZip(pickle: bytes).bytes) }
    }

    @Test("EXT1, EXT2 and EXT4 (callables looked up by registry code) are refused")
    func extensionCodes() {
        let cases: [([UInt8], PickleOpcode)] = [(P.ext1(1), .extension1), (P.ext2(0x1234), .extension2), (P.ext4(0x1234_5678), .extension4)]
        for (opcode, name) in cases {
            let bytes = P.proto2 + opcode + P.string("id") + P.tuple1 + P.reduce + P.stop
            #expect(throws: Self.inDataPkl(.unsupportedOpcode(name, at: 2))) { _ = try Self.open(TorchZip(pickle: bytes).bytes) }
        }
    }

    @Test("PERSID (a text persistent id) is refused; only BINPERSID with a storage tuple is read")
    func textPersistentID() {
        let bytes = P.pickle(P.textPersistentID("0"))
        #expect(throws: Self.inDataPkl(.unsupportedOpcode(.persistentID, at: 2))) { _ = try Self.open(TorchZip(pickle: bytes).bytes) }
    }

    @Test("BUILD state with a __setstate__ key stays inert data: the file loads and only the tensor comes out")
    func buildSetstateKey() throws {
        // An OrderedDict (what BUILD legitimately targets in a state dict) gets a state whose
        // `__setstate__` names a callable. Nothing is called: torch sets the OrderedDict's
        // attribute without calling it, and only the tensors' values come out. A Parameter given
        // a dict state is refused, as torch refuses it (Parameter.__setstate__ wants a tuple).
        let parameter = P.global("torch.nn.parameter", "Parameter") + P.floatTensor(key: "1", numel: 2) + P.newTrue + P.tuple2
            + P.newObject + P.dict([("__setstate__", P.global("torch._utils", "_rebuild_tensor_v2"))]) + P.build
        #expect(throws: TorchFormatError.unsupportedObject(path: "p", description: "Parameter state is dict of 1; expected a 3-, 4- or 5-item tuple")) {
            _ = try Self.open(Self.archive(P.stateDict([("p", parameter)]), storages: [Self.weightBytes, float32Bytes([5, 6])]))
        }
        let plain = P.global("torch.nn.parameter", "Parameter") + P.floatTensor(key: "1", numel: 2) + P.newTrue + P.tuple2 + P.newObject
        let body = P.stateDict([("w", Self.weight), ("p", plain)])
            + P.dict([("__setstate__", P.string("os.system")), ("_metadata", P.dict([("", P.dict([("version", P.int(1))]))]))])
            + P.build
        let file = try Self.open(Self.archive(body, storages: [Self.weightBytes, float32Bytes([5, 6])]))
        #expect(file.entries.map(\.name) == ["w", "p"])
        #expect(file.unknownGlobals.isEmpty)
        guard case .dict(let root) = file.root else { Issue.record("root is \(file.root.summary)"); return }
        #expect(root.stringKeys == ["w", "p"])
        #expect(Self.floats(try file.tensor(at: 0)) == [1, 2, 3, 4])
        #expect(Self.floats(try file.tensor(at: 1)) == [5, 6])
    }

    @Test("a whole pickled nn.Module is refused, naming __main__.FNNModel at byte 2")
    func wholeModule() {
        // torch: "Unsupported global: GLOBAL __main__.FNNModel was not an allowed global by default".
        #expect(throws: TorchFormatError.pickle(record: "whole_module/data.pkl", .unsupportedGlobal(module: "__main__", name: "FNNModel", at: 2))) {
            _ = try TorchFile(path: Fixture.path("torch/whole_module.pth"))
        }
    }

    @Test("--allow-unknown-objects keeps a whole module inert and still reads its tensors")
    func wholeModuleAllowed() throws {
        let file = try TorchFile(path: Fixture.path("torch/whole_module.pth"), options: ReadOptions(allowUnknownObjects: true))
        #expect(Set(file.unknownGlobals.map(\.global.qualifiedName)) == [
            "__main__.FNNModel", "torch.nn.modules.linear.Linear", "torch.nn.modules.activation.Sigmoid",
        ])
        // The module's tensors are named as its state_dict() would name them.
        let expected = try ExpectedFile.load("torch/state_dict.pth")
        #expect(file.entries.map(\.name) == expected.tensors?.map(\.name))
        guard case .opaque(let module) = file.root else { Issue.record("root is \(file.root.summary)"); return }
        #expect(module.module == "__main__" && module.name == "FNNModel")
    }

    @Test("--allow-unknown-objects keeps unknown calls inert (even builtins.eval) but still refuses os, sys, posix, nt")
    func allowUnknownStillBlocks() throws {
        let options = ReadOptions(allowUnknownObjects: true)
        for module in ["os", "sys", "posix", "nt", "os.path"] {
            Self.expectRefusedCall(module, "system", options: options)
        }
        // An unknown callable is an inert record of the call; nothing is imported or run. Its
        // BUILD state, __setstate__ included, is kept as data.
        let body = P.stateDict([("w", Self.weight), ("x", Self.call("builtins", "eval")
                                + P.dict([("__setstate__", P.string("os.system"))]) + P.build)])
        let file = try Self.open(Self.archive(body), options: options)
        #expect(file.unknownGlobals.map(\.global.qualifiedName) == ["builtins.eval"])
        guard case .opaque(let object)? = file.root["x"] else { Issue.record("x is not opaque"); return }
        #expect(object.module == "builtins" && object.name == "eval")
        #expect(object.arguments == [.string("echo pwned")])
        #expect(object.state?["__setstate__"] == .string("os.system"))
        #expect(file.entries.map(\.name) == ["w"])
    }

    // MARK: - Around the unpickler

    @Test("a TorchScript archive (a constants.pkl record) is refused before data.pkl is read")
    func torchScript() {
        var zip = TorchZip(pickle: P.pickle(Self.call("os", "system")))
        zip.records.insert(TorchZip.Record("archive/constants.pkl", P.pickle(P.emptyTuple)), at: 1)
        zip.records.insert(TorchZip.Record("archive/code/__torch__.py", Array("def forward(self): ...\n".utf8)), at: 2)
        #expect(throws: TorchFormatError.torchScript) { _ = try Self.open(zip.bytes) }
    }

    @Test("data after STOP is a warning, never executed")
    func dataAfterStop() throws {
        let trailing = P.proto2 + Self.call("os", "system") + P.stop
        let zip = TorchZip(pickle: P.pickle(Self.stateDict) + trailing, storages: [Self.weightBytes])
        let file = try Self.open(zip.bytes)
        #expect(file.warnings == [.bytesAfterPickle(record: "data.pkl", count: trailing.count)])
        #expect(file.globals.map(\.global.qualifiedName) == ["collections.OrderedDict", "torch._utils._rebuild_tensor_v2",
                                                             "torch.FloatStorage", "collections.OrderedDict"])
        #expect(Self.floats(try file.tensor(at: 0)) == [1, 2, 3, 4])
    }

    @Test("a nested pickle is bytes, never unpickled")
    func nestedPickle() throws {
        let inner = P.pickle(Self.call("os", "system"))
        let body = P.stateDict([("w", Self.weight), ("blob", P.bytesValue(inner)), ("text", P.string(String(decoding: inner, as: UTF8.self)))])
        let file = try Self.open(Self.archive(body))
        #expect(file.root["blob"] == .bytes(inner))
        #expect(file.globals.allSatisfy { $0.global.module != "os" })
        #expect(file.entries.map(\.name) == ["w"])
        // The loader torch uses for nested pickles (fickling allows it) is not on the allowlist.
        let loader = P.global("torch.storage", "_load_from_bytes") + P.bytesValue(inner) + P.tuple1 + P.reduce
        #expect(throws: Self.inDataPkl(.unsupportedGlobal(module: "torch.storage", name: "_load_from_bytes", at: 2))) {
            _ = try Self.open(Self.archive(loader))
        }
    }

    /// A POSIX tar member header (ustar) for `name` holding `size` bytes.
    static func tarHeader(_ name: String, size: Int) -> [UInt8] {
        var header = [UInt8](repeating: 0, count: 512)
        func put(_ text: String, at offset: Int) { for (i, byte) in text.utf8.enumerated() { header[offset + i] = byte } }
        put(name, at: 0)
        put("0000644\0", at: 100)
        put("0000000\0", at: 108)
        put("0000000\0", at: 116)
        let octal = String(size, radix: 8)
        put(String(repeating: "0", count: 11 - octal.count) + octal + "\0", at: 124)
        put("00000000000\0", at: 136)
        put("0", at: 156)
        put("ustar\0", at: 257)
        put("00", at: 263)
        put("        ", at: 148)
        let sum = header.reduce(0) { $0 + Int($1) }
        let checksum = String(sum, radix: 8)
        put(String(repeating: "0", count: 6 - checksum.count) + checksum + "\0 ", at: 148)
        return header
    }

    @Test("the legacy tar container (CVE-2025-32434) is refused by content, whatever the extension")
    func legacyTar() throws {
        // torch ≤ 2.5.1 reached code execution through this path even with weights_only=True.
        let payload = P.pickle(Self.call("os", "system"))
        var tar = Self.tarHeader("pickle", size: payload.count) + payload
        tar += [UInt8](repeating: 0, count: (512 - tar.count % 512) % 512) + [UInt8](repeating: 0, count: 1024)
        let expected = UnrecognizedFormatError(
            looksLike: "a tar archive; the pre-1.0 torch tar container is refused (it bypassed weights_only, CVE-2025-32434)")
        let path = try writeTemporaryFile(tar, name: "model.pth")
        #expect(throws: expected) { _ = try FormatDetector.detect(path: path) }
        #expect(throws: expected) { _ = try ModelFile.open(path) }
        #expect(throws: expected) { _ = try TorchFile(path: path) }
    }

    @Test("a bare pickle renamed .pth, .pt or .bin is refused by content (CVE-2025-10155's shape)")
    func bareRenamedPickle() throws {
        let pickle = P.pickle(Self.call("os", "system"))
        let expected = UnrecognizedFormatError(
            looksLike: "a bare pickle stream (protocol 2), not a torch archive; refused, since a renamed pickle is a known way to run code")
        for name in ["model.pth", "model.pt", "pytorch_model.bin", "model.ckpt"] {
            let path = try writeTemporaryFile(pickle, name: name)
            #expect(throws: expected) { _ = try ModelFile.open(path) }
            #expect(throws: expected) { _ = try TorchFile(path: path) }
        }
        // A legacy-looking stream whose first pickle is not byte-for-byte torch's magic number is
        // a bare pickle too: the legacy reader is only chosen on the exact 15 bytes.
        let lookalike = P.pickle(P.long1(0x1950_A86A_20F9_469C)) + pickle
        #expect(throws: expected) { _ = try ModelFile.open(writeTemporaryFile(lookalike, name: "old.pt")) }
    }

    @Test("a Lightning hyper_parameters _instantiator naming os.system stays a string")
    func lightningInstantiator() throws {
        // Lightning CVE-2026-58659 imported and called this string on load_from_checkpoint.
        let body = P.dict([
            ("pytorch-lightning_version", P.string("2.6.6")),
            ("state_dict", P.stateDict([("w", Self.weight)])),
            ("hyper_parameters", P.dict([("_instantiator", P.string("os.system")), ("_class_path", P.string("subprocess.Popen"))])),
        ])
        let file = try Self.open(Self.archive(body), name: "run.ckpt")
        #expect(file.format == .lightningCheckpoint)
        let hyper = file.root["hyper_parameters"]
        #expect(hyper?["_instantiator"] == .string("os.system"))
        #expect(hyper?["_class_path"] == .string("subprocess.Popen"))
        #expect(file.entries.map(\.name) == ["state_dict.w"])
        #expect(file.unknownGlobals.isEmpty)
    }
}
