import Foundation

/// What torch read back from a real third-party file fixture (`Fixtures/real/<name>.json`, written
/// by `Fixtures/generate_real_files.py`).
public struct RealFileExpectation: Decodable {
    /// The part `convert` writes by default.
    public struct Weights: Decodable {
        /// Its dotted path (`nil` for a TorchScript module's state dict).
        public let path: String?
        /// Its tensors, named relative to `path`.
        public let tensors: [ExpectedFile.Tensor]
    }

    /// A checkpoint's progress counters as text, and its keys.
    public struct Checkpoint: Decodable {
        public let epoch: String?
        public let global_step: String?
        public let keys: [String]
        public let hyper_parameters_type: String?
        public let hparams_name: String?
    }

    /// What a TorchScript archive holds.
    public struct TorchScript: Decodable {
        public let code_files: [String]
        public let constants: Int
        public let parameters: [String]
        public let buffers: [String]
    }

    public let file: String
    public let made_by: String
    public let format: String
    /// The global torch.load(weights_only=True) refuses first, and its GLOBAL's offset in data.pkl.
    public let first_unknown_global: String?
    public let first_unknown_offset: Int?
    /// Every tensor, named as modelfile names it (a pickled module by its state_dict()).
    public let tensors: [ExpectedFile.Tensor]
    /// inspect's totals.parameters.
    public let parameters: Int
    public let weights: Weights?
    public let checkpoint: Checkpoint?
    public let torchscript: TorchScript?

    /// The fixture names in `Fixtures/real`.
    public static let names: [String] = {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: Fixture.path("real"))) ?? []
        return names.filter { !$0.hasSuffix(".json") && !$0.hasPrefix(".") }.sorted()
    }()

    /// Loads `Fixtures/real/<name>.json`.
    public static func load(_ name: String) throws -> RealFileExpectation {
        try JSONDecoder().decode(RealFileExpectation.self, from: Data(contentsOf: Fixture.url("real/" + name + ".json")))
    }

    /// A JSON member of `Fixtures/real/<name>.json` by key path, as `JSONSerialization` reads it.
    public static func member(_ name: String, _ path: String...) throws -> Any? {
        var value: Any? = try Fixture.json("real/" + name + ".json")
        for key in path { value = (value as? [String: Any])?[key] }
        return value
    }
}
