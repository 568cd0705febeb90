import BinaryIO
import ModelFormats
import TensorCore
import TensorData
import TensorNN

#if canImport(Glibc)
import Glibc
#endif

// `train --lora` and `predict --adapter` (docs/cli.md, "LoRA adapters"): adapters on the
// feed-forward network's linear layers, trained over frozen base weights and saved as the PEFT
// adapter folder `PeftModel.from_pretrained` loads onto the reference class (FNNModel).

/// What `train --lora` does.
public struct LoRATrainingOptions: Sendable {
    /// `--lora RANK`.
    public var rank: Int
    /// `--lora-alpha` (PEFT's default `lora_alpha` is 8).
    public var alpha: Double?
    /// `--lora-targets` (default: every linear layer).
    public var targets: [String]?
    /// `--use-rslora`.
    public var usesRSLoRA = false
    /// `--adapter-init DIR`: start from this PEFT adapter instead of PEFT's initialisation.
    public var adapterInitPath: String?
    /// `--merge`: write the merged network instead of the adapter folder.
    public var merge = false

    /// Options for rank `rank`, everything else by default.
    public init(rank: Int) {
        self.rank = rank
    }
}

/// A LoRA training request that cannot be carried out.
public enum LoRATrainingError: Error, Equatable, CustomStringConvertible {
    /// `--lora` without `--init`.
    case needsBase
    /// `--lora` with `--resume`.
    case cannotResume
    /// The adapter folder output is a file name, or `--merge` was given a folder.
    case outputKind(String)
    /// `--adapter-init` disagrees with an option, or holds more than LoRA matrices.
    case adapterInit(String)

    public var description: String {
        switch self {
        case .needsBase: return "--lora trains adapters over frozen base weights: give them with --init BASE"
        case .cannotResume: return "--lora cannot be combined with --resume; start from --init BASE (and --adapter-init DIR)"
        case .outputKind(let reason): return reason
        case .adapterInit(let reason): return "--adapter-init: \(reason)"
        }
    }
}

enum LoRATraining {
    /// Attaches adapters to `model` as `options` say (PEFT's initialisation from `generator`, or the
    /// values of `--adapter-init`), freezing everything else.
    ///
    /// - Returns: the config the adapter folder records.
    /// - Throws: ``LoRATrainingError``, `NNError` (unknown target), `ModelFileError` (adapter folder).
    static func attach(to model: FeedForward, options: LoRATrainingOptions, using generator: inout SplitMix64) throws -> PEFTLoRAConfig {
        let layerNames = model.loraTargetNames
        guard let path = options.adapterInitPath else {
            let alpha = options.alpha ?? 8
            let targets = options.targets ?? layerNames
            let wrapped = try model.applyLoRA(to: targets, rank: options.rank, alpha: alpha, useRSLoRA: options.usesRSLoRA, using: &generator)
            return PEFTLoRAConfig(rank: options.rank, alpha: alpha, usesRSLoRA: options.usesRSLoRA, targetModules: wrapped)
        }
        let weights = model.stateDict()
        let entries = weights.map { TensorEntry(name: $0.name, dtype: $0.tensor.dtype, shape: $0.tensor.shape) }
        let (adapter, resolved) = try attributing(to: path) { () throws -> (LoRAAdapterSource, ResolvedLoRAAdapter) in
            guard let adapter = try ModelFile.open(path) as? LoRAAdapterSource, adapter.kind == .peft, let config = adapter.config else {
                throw LoRATrainingError.adapterInit("not a PEFT LoRA adapter folder")
            }
            if config.rank != options.rank { throw LoRATrainingError.adapterInit("its r is \(config.rank); --lora gives \(options.rank)") }
            if let alpha = options.alpha, alpha != config.alpha {
                throw LoRATrainingError.adapterInit("its lora_alpha is \(config.alpha); --lora-alpha gives \(alpha)")
            }
            if options.usesRSLoRA && !config.usesRSLoRA { throw LoRATrainingError.adapterInit("it does not use rsLoRA; --use-rslora was given") }
            return (adapter, try ResolvedLoRAAdapter(adapter: adapter, base: entries, scale: 1))
        }
        if resolved.updates.values.contains(where: { $0.replacement != nil || $0.addition != nil }) {
            throw LoRATrainingError.adapterInit("it saves whole tensors or LoRA biases; train --lora trains LoRA matrices only")
        }
        let modules = resolved.modules.map(\.path)
        if let targets = options.targets, Set(targets) != Set(modules) {
            throw LoRATrainingError.adapterInit("it adapts \(modules.joined(separator: ",")); --lora-targets gives \(targets.joined(separator: ","))")
        }
        try attach(resolved, entries: entries, to: model, using: &generator)
        var config = adapter.config ?? PEFTLoRAConfig(rank: options.rank, alpha: 8, targetModules: modules)
        config.targetModules = .names(modules)
        return config
    }

    /// Attaches the resolved adapter's matrices to `model`'s linear layers (unmerged: each layer
    /// computes `base(x) + B(A(x))·s`).
    static func attach(_ resolved: ResolvedLoRAAdapter, entries: [TensorEntry], to model: FeedForward, using generator: inout SplitMix64) throws {
        for module in resolved.modules {
            try model.applyLoRA(to: [module.path], rank: module.rank, alpha: module.alpha, useRSLoRA: module.usesRSLoRA, using: &generator)
        }
        let layers = Dictionary(model.loraLayers().map { ($0.name, $0.layer) }, uniquingKeysWith: { first, _ in first })
        for (target, update) in resolved.updates {
            guard let product = update.product else { continue }
            let module = String(entries[target].name.dropLast(".weight".count))
            guard let lora = layers[module]?.lora else { continue }
            // left/right are B/A, or Aᵀ/Bᵀ for a product added transposed.
            let a = product.transposed ? ResolvedLoRAAdapter.transpose(product.left, rows: product.rows, columns: product.rank) : product.right
            let b = product.transposed ? ResolvedLoRAAdapter.transpose(product.right, rows: product.rank, columns: product.columns) : product.left
            lora.loraA.weight.value = Tensor(a, shape: lora.loraA.weight.shape)
            lora.loraB.weight.value = Tensor(b, shape: lora.loraB.weight.shape)
        }
    }

    /// Writes `model`'s adapters as a PEFT adapter folder: `adapter_config.json` and
    /// `adapter_model.safetensors` (`base_model.model.<layer>.lora_A.weight` / `lora_B.weight`).
    static func writeAdapterFolder(_ model: FeedForward, config: PEFTLoRAConfig, to folder: String, overwrite: Bool) throws -> [String] {
        // The folder must not be (or hold) an input: --adapter-init DIR, the base's folder.
        try OutputTarget.checkFolder(folder)
        var info = stat()
        if stat(folder, &info) == 0 {
            guard (info.st_mode & S_IFMT) == S_IFDIR else {
                throw LoRATrainingError.outputKind("--out \(folder) exists and is not a folder; --lora writes a PEFT adapter folder (add --merge for a file)")
            }
        } else if mkdir(folder, 0o777) != 0 {
            throw FileError(path: folder, operation: "create folder", errno: errno)
        }
        var weights = StateDict()
        for (name, layer) in model.loraLayers() {
            guard let lora = layer.lora else { continue }
            try weights.append("base_model.model.\(name).lora_A.weight", lora.loraA.weight.value.rawTensor())
            try weights.append("base_model.model.\(name).lora_B.weight", lora.loraB.weight.value.rawTensor())
        }
        let modelPath = folder + "/" + LoRAAdapterSource.peftWeightNames[0]
        let configPath = folder + "/" + LoRAAdapterSource.configName
        try SafetensorsWriter.write(weights, to: modelPath, metadata: ["format": "pt"], overwrite: overwrite)
        let output = try OutputFile(path: configPath, overwrite: overwrite)
        try output.write(configJSON(config).rendered(pretty: true) + "\n")
        try output.commit()
        return [configPath, modelPath]
    }

    /// `adapter_config.json` as peft 0.21.2 writes it for a plain LoRA adapter (its keys, sorted).
    static func configJSON(_ config: PEFTLoRAConfig) -> JSONValue {
        let targets: JSONValue
        switch config.targetModules {
        case .names(let names)?: targets = .array(names.sorted().map { .string($0) })
        case .pattern(let pattern)?: targets = .string(pattern)
        case nil: targets = .null
        }
        let members: [(String, JSONValue)] = [
            ("alora_invocation_tokens", .null),
            ("alpha_pattern", .object(config.alphaPattern.map { ($0.key, AdapterSummary.number($0.alpha)) })),
            ("arrow_config", .null), ("base_model_name_or_path", .null), ("bias", .string(config.bias)), ("corda_config", .null),
            ("ensure_weight_tying", .bool(false)), ("eva_config", .null), ("exclude_modules", .null),
            ("fan_in_fan_out", .bool(config.fanInFanOut)), ("inference_mode", .bool(true)), ("init_lora_weights", .bool(true)),
            ("kasa_config", .null), ("layer_replication", .null), ("layers_pattern", .null), ("layers_to_transform", .null),
            ("loftq_config", .object([])), ("lora_alpha", AdapterSummary.number(config.alpha)), ("lora_bias", .bool(config.loraBias)),
            ("lora_dropout", .double(0)), ("lora_ga_config", .null), ("megatron_config", .null), ("megatron_core", .string("megatron.core")),
            ("modules_to_save", config.modulesToSave.isEmpty ? .null : .array(config.modulesToSave.map { .string($0) })),
            ("monteclora_config", .null), ("peft_type", .string("LORA")), ("qalora_group_size", .int(16)), ("r", .int(config.rank)),
            ("rank_pattern", .object(config.rankPattern.map { ($0.key, .int($0.rank)) })), ("revision", .null),
            ("target_modules", targets), ("target_parameters", .null), ("task_type", .null), ("trainable_token_indices", .null),
            ("use_bdlora", .null), ("use_dora", .bool(false)), ("use_qalora", .bool(false)), ("use_rslora", .bool(config.usesRSLoRA)),
            ("velora_config", .null),
        ]
        return .object(members)
    }

    /// `weights` with the adapter at `path` applied for `predict --adapter`: saved tensors and LoRA
    /// biases folded into the weights, and the network built with the LoRA matrices attached.
    static func network(weights: StateDict, adapterPath path: String, activation: Activation, outputActivation: Activation) throws -> FeedForward {
        let entries = weights.map { TensorEntry(name: $0.name, dtype: $0.tensor.dtype, shape: $0.tensor.shape) }
        let resolved = try attributing(to: path) { () throws -> ResolvedLoRAAdapter in
            guard let adapter = try ModelFile.open(path) as? LoRAAdapterSource else {
                throw LoRAMergeError.notAnAdapter(format: (try? ModelFile.open(path).format.rawValue) ?? "unknown")
            }
            return try ResolvedLoRAAdapter(adapter: adapter, base: entries, scale: 1)
        }
        var adjusted = StateDict()
        for (index, item) in weights.enumerated() {
            var tensor = item.tensor
            if var update = resolved.updates[index], update.replacement != nil || update.addition != nil {
                update.product = nil
                tensor = try LoRAArithmetic.apply(update, to: update.replacement?.tensor ?? tensor, as: tensor.dtype)
            }
            try adjusted.append(item.name, tensor)
        }
        let model = try attributing(to: path) {
            try FeedForward(stateDict: adjusted, activation: activation, outputActivation: outputActivation)
        }
        var generator = SplitMix64(seed: 0)
        try attributing(to: path) { try attach(resolved, entries: entries, to: model, using: &generator) }
        return model
    }
}

extension FeedForward {
    /// `linear1` … `linearN`: the layers `--lora-targets` may name.
    var loraTargetNames: [String] { namedModules().compactMap { $0.module is Linear && !$0.name.isEmpty ? $0.name : nil } }
}
