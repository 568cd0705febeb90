import BinaryIO
import Foundation
@testable import ModelFormats
import TensorData
import Testing
import TestSupport

/// Trees that share subtrees (docs/security.md, "Every resource a file controls has a budget"): a
/// container referenced from many places is visited once by naming, rewriting and writing.
@Suite("shared subtrees of torch object trees")
struct SharedTreeTests {
    /// L0 = [tensor 0] (or [0]), L(k+1) = [Lk, Lk], as one array shared by both references: 2^depth paths.
    static func doubling(depth: Int, leaf: TorchValue) -> TorchValue {
        var level = TorchValue.list([leaf])
        for _ in 0..<depth { level = .list([level, level]) }
        return level
    }

    @Test("tensor presence is decided once per shared container, without tensors below a shared list of 2^60 paths")
    func presence() {
        var presence = TensorPresence()
        let answers = [
            presence.holdsTensors(Self.doubling(depth: 60, leaf: .int(0))),
            presence.holdsTensors(Self.doubling(depth: 60, leaf: .tensor(0))),
            presence.holdsTensors(.dict(TorchDict([(key: .string("a"), value: .list([]))]))),
            presence.holdsTensors(.dict(TorchDict([(key: .string("a"), value: .tuple([.none, .tensor(3)]))]))),
            presence.holdsTensors(.set([.int(1)])),
        ]
        #expect(answers == [false, true, false, true, false])
    }

    @Test("naming skips plain data shared along 2^60 paths, and still refuses tensors reached along too many")
    func naming() throws {
        let root = TorchValue.dict(TorchDict([
            (key: .string("w"), value: .tensor(0)),
            (key: .string("hyper"), value: Self.doubling(depth: 60, leaf: .int(0))),
        ]))
        let named = try TorchFile.nameTensors(root, maxNodes: 1000)
        #expect(named.map(\.name) == ["w"] && named.map(\.record) == [0])
        #expect(throws: TorchFormatError.tooManyNodes(limit: 1000)) { try TorchFile.nameTensors(Self.doubling(depth: 60, leaf: .tensor(0)), maxNodes: 1000) }
    }

    @Test("containsTensor and firstInertObject look at each shared container once")
    func sharedQueries() {
        #expect(!Self.doubling(depth: 60, leaf: .int(0)).containsTensor())
        #expect(Self.doubling(depth: 60, leaf: .tensor(0)).containsTensor())
        #expect(Self.doubling(depth: 60, leaf: .int(0)).firstInertObject == nil)
        let inert = TorchValue.opaque(TorchOpaqueObject(module: "omegaconf.dictconfig", name: "DictConfig", arguments: [], state: nil))
        #expect(TorchValue.list([Self.doubling(depth: 60, leaf: .int(0)), inert]).firstInertObject == "omegaconf.dictconfig.DictConfig")
    }

    @Test("inert objects sharing one arguments tuple are told apart: a tensor in one's state is named")
    func inertObjectsSharingArguments() throws {
        let arguments: [TorchValue] = [.int(1)]  // one array, as a memoized tuple is shared
        let plain = TorchValue.opaque(TorchOpaqueObject(module: "m", name: "C", arguments: arguments,
                                                        state: .dict(TorchDict([(key: .string("x"), value: .int(0))]))))
        let holder = TorchValue.opaque(TorchOpaqueObject(module: "m", name: "C", arguments: arguments,
                                                         state: .dict(TorchDict([(key: .string("w"), value: .tensor(0))]))))
        let named = try TorchFile.nameTensors(.list([plain, holder]), maxNodes: 1000)
        #expect(named.map(\.name) == ["1.w"] && named.map(\.record) == [0])
    }

    @Test("renumbering rewrites each shared container once and keeps it shared; tied records become one tensor")
    func renumber() {
        let shared = Self.doubling(depth: 60, leaf: .tensor(5))
        let root = TorchValue.dict(TorchDict([
            (key: .string("a"), value: .tensor(7)), (key: .string("b"), value: shared), (key: .string("c"), value: .tensor(8)),
        ]))
        // Records 7 and 8 are one tensor (tied); 5 is another.
        let (rewritten, records) = TorchTreeRewriter.renumber(root, representative: { $0 == 8 ? 7 : $0 })
        #expect(records.map(\.record) == [7, 5])
        #expect(records.map(\.name) == ["a", "b.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0"])
        guard case .dict(let dict) = rewritten, case .list(let top)? = dict["b"], top.count == 2 else {
            Issue.record("not the expected shape: \(rewritten.summary)")
            return
        }
        #expect(dict["a"] == .tensor(0) && dict["c"] == .tensor(0))
        #expect(top[0].containerIdentity != nil && top[0].containerIdentity == top[1].containerIdentity, "the two references share one rewritten list")
    }

    @Test("writing a tree of 2^60 paths writes each shared container once")
    func writing() throws {
        let folder = try Fixture.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("dag.pth").path
        let root = TorchValue.dict(TorchDict([
            (key: .string("w"), value: .tensor(0)), (key: .string("hyper"), value: Self.doubling(depth: 60, leaf: .string("x"))),
        ]))
        let weight = try RawTensor(dtype: .f32, shape: [2], bytes: TensorBytes(copyingValuesOf: [Float(1), 2]))
        try TorchWriter.write(to: path, object: root, tensors: [TensorEntry(name: "w", dtype: .f32, shape: [2])], overwrite: false,
                              tensorBytes: { _ in weight.bytes })
        let written = try MappedFile(path: path).count
        #expect(written < 4096, "\(written) bytes")
        let back = try TorchFile(path: path)
        #expect(back.entries.map(\.name) == ["w"])
        #expect(try back.tensor(at: 0) == weight)
    }
}
