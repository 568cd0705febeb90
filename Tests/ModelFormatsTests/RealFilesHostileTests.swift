import Foundation
import ModelFormats
import PickleVM
import TensorData
import Testing
import TestSupport

/// Hostile variants of the real-file families (pickled modules, TorchScript archives, inert
/// containers), built byte by byte: each asserts the exact names, error or warning.
@Suite("Real-file families, hostile")
struct RealFilesHostileTests {
    static let allowing = ReadOptions(allowUnknownObjects: true)
    static let weightBytes = float32Bytes([1, 2, 3, 4])

    static func open(_ zip: TorchZip, options: ReadOptions = allowing) throws -> TorchFile {
        try TorchFile(path: writeTemporaryFile(zip.bytes), options: options)
    }

    /// `NEWOBJ module.name()` then `BUILD state`.
    static func object(_ module: String, _ name: String, state: [UInt8]) -> [UInt8] {
        P.global(module, name) + P.emptyTuple + P.newObject + state + P.build
    }

    @Test("a pickled module's odd members: a non-tensor parameter is walked, odd bookkeeping is ignored")
    func oddModule() throws {
        // _parameters {w: tensor, v: None}; _buffers {b: tensor(same storage)}; a
        // _non_persistent_buffers_set that is an int; _modules {c: None}; an extra tensor attribute.
        let state = P.dict([
            ("_parameters", P.dict([("w", P.floatTensor(numel: 4)), ("v", P.none)])),
            ("_buffers", P.dict([("b", P.floatTensor(numel: 4, size: [2]))])),
            ("_non_persistent_buffers_set", P.int(3)),
            ("_modules", P.dict([("c", P.none)])),
            ("cache", P.floatTensor(numel: 4)),
        ])
        let file = try Self.open(TorchZip(pickle: P.pickle(Self.object("m", "Net", state: state)), storages: [Self.weightBytes]))
        #expect(file.entries.map(\.name) == ["w", "b"])
        #expect(try file.tensor(at: 1).bytes.values(as: Float.self) == [1, 2])
    }

    @Test("a module shared many times expands within the node budget, then stops with the limit named")
    func sharedModuleBudget() throws {
        // m = Module(w); root = [m, m, …] (2000 references).
        let module = Self.object("m", "Leaf", state: P.dict([
            ("_parameters", P.dict([("w", P.floatTensor(numel: 4))])), ("_buffers", P.dict([])), ("_modules", P.dict([])),
        ]))
        var body = P.emptyList + P.mark + module + P.put(0)
        for _ in 0..<1999 { body += P.get(0) }
        body += P.appends
        let zip = TorchZip(pickle: P.pickle(body), storages: [Self.weightBytes])
        let file = try Self.open(zip)
        #expect(file.entries.count == 2000 && file.entries.last?.name == "1999.w")
        var options = Self.allowing
        // Each reference costs two visits (the module and its parameter): 4001 in all.
        options.maxTreeNodes = 4000
        #expect(throws: TorchFormatError.tooManyNodes(limit: 4000)) { try Self.open(zip, options: options) }
    }

    @Test("a TorchScript archive whose code does not declare its class lists every tensor attribute, with a warning")
    func undeclaredTorchScriptClass() throws {
        let root = Self.object("__torch__", "M", state: P.dict([("w", P.floatTensor(numel: 4)), ("n", P.int(1))]))
        var zip = TorchZip(pickle: P.pickle(root), storages: [Self.weightBytes])
        zip.records.insert(TorchZip.Record("archive/code/__torch__.py", Array("class Other(Module):\n  __parameters__ = []\n".utf8)), at: 1)
        let file = try Self.open(zip, options: ReadOptions())
        #expect(file.format == .torchScript)
        #expect(file.entries.map(\.name) == ["w"])
        #expect(file.warnings == [.torchScriptUndeclaredClass("__torch__.M")])
        #expect(file.warnings.first?.message
                == "the TorchScript code does not declare class __torch__.M; every tensor attribute is listed, parameters and buffers alike")
    }

    @Test("a TorchScript constant whose record is missing is refused by record name")
    func missingConstantRecord() throws {
        let root = Self.object("__torch__", "M", state: P.dict([]))
        var zip = TorchZip(pickle: P.pickle(root))
        zip.records.insert(TorchZip.Record("archive/constants.pkl", P.pickle(P.floatTensor(numel: 4) + P.tuple1)), at: 1)
        #expect(throws: TorchFormatError.missingRecord("constants/0")) { try Self.open(zip, options: ReadOptions()) }
        // With the record, the constant is read from constants/0, not data/0.
        zip.records.insert(TorchZip.Record("archive/constants/0", Self.weightBytes), at: 2)
        let file = try Self.open(zip, options: ReadOptions())
        #expect(file.entries.map(\.name) == ["CONSTANTS.c0"])
        #expect(try file.tensor(at: 0).bytes.values(as: Float.self) == [1, 2, 3, 4])
        #expect(file.storages.map(\.recordPath) == ["constants/0"])
    }

    @Test("a TorchScript archive still refuses a blocked global, flag or not")
    func torchScriptBlockedGlobal() {
        let body = P.global("posix", "system") + P.string("id") + P.tuple1 + P.reduce
        var zip = TorchZip(pickle: P.pickle(body))
        zip.records.insert(TorchZip.Record("archive/code/__torch__.py", Array("class M(Module):\n".utf8)), at: 1)
        let refusal = TorchFormatError.pickle(record: "archive/data.pkl", .unsupportedGlobal(module: "posix", name: "system", at: 2))
        #expect(throws: refusal) { try Self.open(zip) }
        // The message does not suggest the flag for a blocked module.
        #expect(refusal.description == "archive/data.pkl at byte 2: unsupported global posix.system")
    }

    @Test("OmegaConf nodes from a hostile file: a deep chain is cut, a shared node costs its visits each time")
    func inertDataBudget() {
        // A 200-deep chain of DictConfig-like objects: made plain down to maxDepth, then "…".
        var value = TorchValue.int(1)
        for _ in 0..<200 {
            value = .opaque(TorchOpaqueObject(module: "omegaconf.dictconfig", name: "DictConfig", arguments: [],
                                              state: .dict(TorchDict([(.string("_content"), .dict(TorchDict([(.string("k"), value)])))]))))
        }
        var plain = InertData.plain(value)
        var depth = 0
        while case .dict(let dict) = plain, let inner = dict["k"] {
            plain = inner
            depth += 1
        }
        #expect(depth == InertData.maxDepth / 2)
        #expect(plain == .string("…"))
        // A node reached 1000 times through sharing, each time 200 values (201,001 visits in full):
        // past the budget, each value still open costs one visit and is shown as "…".
        let wide = TorchValue.dict(TorchDict((0..<200).map { (key: .int(Int64($0)), value: .int(Int64($0))) }))
        let shared = TorchValue.list(Array(repeating: wide, count: 1000))
        var visits = 0
        guard case .list(let items) = InertData.plain(shared, visits: &visits, maxVisits: 10_000) else {
            Issue.record("not a list")
            return
        }
        #expect(visits <= 10_000 + 200 + 1000)
        #expect(items.last == .string("…"))
    }
}
