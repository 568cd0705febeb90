import Foundation
import ModelFormats
import TensorData
import Testing
import TestSupport

@Suite("Lightning checkpoints")
struct LightningCheckpointTests {
    static let names = ["adam_steplr.ckpt", "sgd_momentum.ckpt", "adamw_amsgrad.ckpt", "weights_only.ckpt", "minimal_resume.ckpt"]

    @Test("every checkpoint a real Trainer wrote reads as torch.load reads it", arguments: names)
    func reads(name: String) throws {
        let expected = try ExpectedFile.load("lightning/" + name)
        let file = try TorchFile(path: Fixture.path("lightning/" + name))
        #expect(file.format == .lightningCheckpoint)
        let tensors = try #require(expected.tensors)
        #expect(file.entries.map(\.name) == tensors.map(\.name))
        for (index, want) in tensors.enumerated() {
            #expect(sha256Hex(try file.tensor(at: index).bytes.array) == want.sha256, "\(want.name)")
        }
        let summary = try #require(expected.checkpoint)
        let checkpoint = try LightningCheckpoint(root: file.root)
        #expect(checkpoint.epoch == summary.epoch)
        #expect(checkpoint.globalStep == summary.global_step)
        #expect(checkpoint.lightningVersion == summary.version)
        #expect(checkpoint.stateDictKey == "state_dict")
        #expect(checkpoint.stateDict?.stringKeys == ["linear1.weight", "linear1.bias", "linear2.weight", "linear2.bias",
                                                     "linear3.weight", "linear3.bias", "linear4.weight", "linear4.bias"])
        #expect(checkpoint.optimizers.count == summary.optimizers.count)
        for (ours, theirs) in zip(checkpoint.optimizers, summary.optimizers) {
            #expect(ours.number("lr") == theirs.lr)
            #expect(ours.number("weight_decay") == theirs.weight_decay)
            #expect(ours.number("momentum") == theirs.momentum)
            #expect(ours.betas.map { [$0.0, $0.1] } == theirs.betas)
            #expect(ours.parameterIndices == theirs.params)
            #expect(Set(ours.state.flatMap { $0.entries.map(\.name) }) == Set(theirs.state_keys))
            let step = checkpoint.stepCount(of: ours) { record in
                (try? file.tensor(record: record, name: "step")).map { Double($0.bytes.values(as: Float.self)[0]) }
            }
            #expect(step == theirs.step)
        }
    }

    @Test("optimizer kinds are inferred from the keys torch writes")
    func kinds() throws {
        func kind(_ name: String) throws -> TorchOptimizerState.Kind? {
            try LightningCheckpoint(root: TorchFile(path: Fixture.path("lightning/" + name)).root).optimizers.first?.kind
        }
        #expect(try kind("adam_steplr.ckpt") == .adam)
        #expect(try kind("sgd_momentum.ckpt") == .sgd)
        #expect(try kind("adamw_amsgrad.ckpt") == .adamW)
        let scheduler = try LightningCheckpoint(root: TorchFile(path: Fixture.path("lightning/adam_steplr.ckpt")).root).schedulers.first
        #expect(scheduler?.kind == "StepLR")
        #expect(scheduler?.settings["step_size"] == .int(1))
        // A plain torch checkpoint: {"model": state_dict, "optimizer": Adam state, "epoch": 3}.
        let plain = try LightningCheckpoint(root: TorchFile(path: Fixture.path("torch/checkpoint.pth")).root)
        #expect(plain.stateDictKey == "model" && plain.optimizerKey == "optimizer" && plain.epoch == 3)
        #expect(plain.optimizers.first?.kind == .adam)
    }

    @Test("our loop progress is exactly what Lightning writes for the same counters")
    func loopsMatchLightning() throws {
        let real = try TorchFile(path: Fixture.path("lightning/adam_steplr.ckpt"))
        // 2 epochs of 4 steps, an epoch-interval StepLR stepped twice.
        let ours = CheckpointWriter.loops(epochsCompleted: 2, globalStep: 8, stepsInLastEpoch: 4, schedulerSteps: 2)
        #expect(ours == real.root["loops"])
        let sgd = try TorchFile(path: Fixture.path("lightning/sgd_momentum.ckpt"))
        #expect(CheckpointWriter.loops(epochsCompleted: 2, globalStep: 8, stepsInLastEpoch: 4, schedulerSteps: 0) == sgd.root["loops"])
    }

    @Test("a written checkpoint reads back with its optimizer state, schedulers and progress")
    func writeResumable() throws {
        let real = try TorchFile(path: Fixture.path("lightning/adam_steplr.ckpt"))
        let checkpoint = try LightningCheckpoint(root: real.root)
        var weights = StateDict()
        for entry in checkpoint.stateDict?.entries ?? [] {
            guard case .tensor(let record) = entry.value, let name = entry.key.stringValue else { continue }
            try weights.append(name, try real.tensor(record: record, name: name))
        }
        let optimizer = try #require(checkpoint.optimizers.first)
        let state = try optimizer.state.map { parameter in
            (index: parameter.index, entries: try parameter.entries.map { entry -> (name: String, tensor: RawTensor) in
                guard case .tensor(let record) = entry.value else { throw CheckpointError.missingKey(path: entry.name, expected: "a tensor") }
                return (entry.name, try real.tensor(record: record, name: entry.name))
            })
        }
        let contents = CheckpointContents(
            stateDict: weights, optimizers: [OptimizerStateDict(paramGroups: optimizer.paramGroups, state: state)],
            schedulers: checkpoint.schedulers.map(\.settings), epochsCompleted: 2, globalStep: 8, stepsInLastEpoch: 4, schedulerSteps: 2,
            hyperParameters: { if case .dict(let h)? = checkpoint.hyperParameters { return h } else { return nil } }())
        let folder = try Fixture.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("ours.ckpt").path
        try CheckpointWriter.write(contents, to: path, overwrite: false)
        let back = try TorchFile(path: path)
        #expect(back.format == .lightningCheckpoint)
        // Same keys in the same order as Lightning's own file, and the same values and tensors.
        guard case .dict(let ours) = back.root, case .dict(let theirs) = real.root else { Issue.record("not dicts"); return }
        #expect(ours.stringKeys == theirs.stringKeys)
        for key in theirs.stringKeys where key != "callbacks" {
            #expect(TorchFile.plain(back.root[key]) == TorchFile.plain(real.root[key]), "\(key)")
        }
        #expect(back.entries.map(\.name) == real.entries.map(\.name))
        for index in real.entries.indices { #expect(try back.tensor(at: index) == real.tensor(at: index), "\(real.entries[index].name)") }
    }
}

extension TorchFile {
    /// A value with tensor indices blanked, to compare trees from two files.
    static func plain(_ value: TorchValue?) -> TorchValue? {
        guard let value else { return nil }
        switch value {
        case .tensor: return .string("<tensor>")
        case .dict(var dict):
            dict.entries = dict.entries.map { (key: $0.key, value: plain($0.value) ?? .none) }
            return .dict(dict)
        case .list(let items): return .list(items.map { plain($0) ?? .none })
        case .tuple(let items): return .tuple(items.map { plain($0) ?? .none })
        default: return value
        }
    }
}
