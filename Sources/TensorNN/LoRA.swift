// Low-rank adaptation (LoRA) of linear layers, as Hugging Face PEFT implements it for `nn.Linear`
// (peft/tuners/lora/layer.py, `Linear`; checked against peft 0.21.2 by Fixtures/generate_runtime.py):
//
//   y = base(x) + lora_B(lora_A(x)) · s,   s = alpha / r   (rsLoRA: alpha / √r)
//
// lora_A is `[r, in]`, initialised like a PyTorch Linear weight (Kaiming-uniform with a = √5, i.e.
// uniform in ±1/√in); lora_B is `[out, r]`, initialised to zeros, so a fresh adapter changes
// nothing. The base layer is frozen. Merging adds `(B·A)·s` to the base weight. Dropout on the
// adapter's input is not supported (PEFT's default `lora_dropout=0`).

/// A LoRA adapter around a `Linear` layer: the frozen base plus a trainable low-rank update,
/// with PEFT's parameter names, initialisation, scaling and merge.
///
/// ```swift
/// var rng = SplitMix64(seed: 0)
/// let layer = LoRALinear(wrapping: Linear(inFeatures: 8, outFeatures: 6, using: &rng), rank: 2, alpha: 4, using: &rng)
/// layer.namedParameters().map(\.name)   // base_layer.weight, base_layer.bias, lora_A.weight, lora_B.weight
/// let optimizer = SGD(layer.trainableParameters(), lr: 0.01)   // lora_A and lora_B only
/// let plain: Linear = layer.merged()                           // W + (B·A)·alpha/r
/// ```
///
/// To add adapters to chosen layers of an existing model, use
/// ``Module/applyLoRA(to:rank:alpha:useRSLoRA:using:)``.
public final class LoRALinear: Module {
    /// The wrapped layer, frozen (PEFT's `base_layer`).
    public let baseLayer: Linear
    /// The down-projection `[rank, inFeatures]`, without bias (PEFT's `lora_A`).
    public let loraA: Linear
    /// The up-projection `[outFeatures, rank]`, without bias (PEFT's `lora_B`).
    public let loraB: Linear
    /// The rank `r` of the update.
    public let rank: Int
    /// The scaling numerator (PEFT's `lora_alpha`).
    public let alpha: Double
    /// Whether the scaling is `alpha / √r` (rank-stabilised LoRA, PEFT's `use_rslora`) rather than `alpha / r`.
    public let usesRSLoRA: Bool

    /// Wraps `base` with a fresh adapter initialised from `generator` as PEFT initialises one
    /// (`lora_A` Kaiming-uniform with a = √5, `lora_B` zeros), and freezes `base`'s parameters.
    ///
    /// Traps if `rank` is below 1, `alpha` is not finite, or `base` already has an adapter.
    public init<G: RandomNumberGenerator>(
        wrapping base: Linear, rank: Int, alpha: Double = 8, useRSLoRA: Bool = false, using generator: inout G
    ) {
        precondition(rank >= 1, "LoRALinear: rank \(rank) must be at least 1")
        precondition(alpha.isFinite, "LoRALinear: alpha \(alpha) must be finite")
        precondition(base.lora == nil, "LoRALinear: the layer already has a LoRA adapter")
        self.baseLayer = base
        self.rank = rank
        self.alpha = alpha
        self.usesRSLoRA = useRSLoRA
        // kaiming_uniform_(a=√5) on [r, in] is uniform in ±1/√in: Linear's default weight initialisation.
        self.loraA = Linear(inFeatures: base.inFeatures, outFeatures: rank, bias: false, using: &generator)
        self.loraB = Linear(weight: Tensor.zeros([base.outFeatures, rank]), bias: nil)
        base.setRequiresGrad(false)
    }

    /// Wraps `base` with a fresh adapter from the system's random generator (not reproducible; pass
    /// a seeded ``SplitMix64`` for that).
    ///
    /// Traps if `rank` is below 1 or `alpha` is not finite.
    public convenience init(wrapping base: Linear, rank: Int, alpha: Double = 8, useRSLoRA: Bool = false) {
        var generator = SystemRandomNumberGenerator()
        self.init(wrapping: base, rank: rank, alpha: alpha, useRSLoRA: useRSLoRA, using: &generator)
    }

    /// The factor applied to the update: `alpha / rank`, or `alpha / √rank` with rsLoRA (PEFT's `scaling`).
    public var scaling: Double {
        usesRSLoRA ? alpha / Double(rank).squareRoot() : alpha / Double(rank)
    }

    /// `base_layer`, `lora_A`, `lora_B`: PEFT's names inside the wrapped module.
    public var children: [(name: String, module: any Module)] {
        [("base_layer", baseLayer), ("lora_A", loraA), ("lora_B", loraB)]
    }

    /// No parameters of its own.
    public var ownParameters: [(name: String, parameter: Parameter)] { [] }

    /// `base(x) + lora_B(lora_A(x)) · scaling`, in PEFT's order of operations.
    public func forward(_ input: Tensor) -> Tensor {
        baseLayer(input) + loraB(loraA(input)) * Float(scaling)
    }

    /// The base weight with the update folded in, `W + (B·A)·scaling` (PEFT's `get_delta_weight`
    /// added to the weight), computed in float32 as PEFT computes it for float32 layers.
    public func mergedWeight() -> Tensor {
        withNoGrad { baseLayer.weight.value + loraB.weight.value.matmul(loraA.weight.value) * Float(scaling) }
    }

    /// A plain `Linear` layer computing what this adapter computes: weight `W + (B·A)·scaling`,
    /// the base bias (PEFT's `merge_and_unload` for one layer). Its parameters are new and
    /// require a gradient.
    public func merged() -> Linear {
        Linear(weight: mergedWeight(), bias: baseLayer.bias?.value)
    }
}

extension Module {
    /// Attaches a fresh LoRA adapter to every `Linear` layer whose dotted name (as in
    /// ``namedModules()``) equals one of `targets` or ends with `"." + target` — PEFT's matching of
    /// `target_modules` — and freezes every other parameter of the model except the adapters
    /// attached before, as PEFT's `get_peft_model` and `add_adapter` do. The layers stay where they are (properties need not be `var`); each
    /// then computes `base(x) + lora_B(lora_A(x))·scaling` and names its parameters
    /// `<layer>.base_layer.weight`, `<layer>.base_layer.bias`, `<layer>.lora_A.weight`,
    /// `<layer>.lora_B.weight`. Adapters are initialised in module order from `generator`.
    ///
    /// Train only the adapters with `SGD(model.trainableParameters(), lr: …)`.
    ///
    /// - Returns: the names of the layers that received an adapter, in module order.
    /// - Throws: ``NNError/loraTargetNotFound(target:available:)`` when a target matches no module,
    ///   ``NNError/loraTargetNotLinear(name:type:)`` when it matches another kind of module, and
    ///   ``NNError/loraAlreadyApplied(name:)`` for a layer that has an adapter; nothing is changed then.
    ///
    /// Traps if `rank` is below 1 or `alpha` is not finite.
    @discardableResult
    public func applyLoRA<G: RandomNumberGenerator>(
        to targets: [String], rank: Int, alpha: Double = 8, useRSLoRA: Bool = false, using generator: inout G
    ) throws -> [String] {
        precondition(rank >= 1, "applyLoRA: rank \(rank) must be at least 1")
        precondition(alpha.isFinite, "applyLoRA: alpha \(alpha) must be finite")
        let adapterParts: Set<Substring> = ["base_layer", "lora_A", "lora_B"]
        let modules = namedModules().filter { entry in
            !entry.name.isEmpty && !entry.name.split(separator: ".").contains { adapterParts.contains($0) }
        }
        var chosen = Set<String>()
        for target in targets {
            let matches = modules.filter { $0.name == target || $0.name.hasSuffix("." + target) }
            guard !matches.isEmpty else {
                throw NNError.loraTargetNotFound(target: target, available: modules.filter { $0.module is Linear }.map(\.name))
            }
            for (name, module) in matches {
                guard let linear = module as? Linear else {
                    throw NNError.loraTargetNotLinear(name: name, type: String(describing: type(of: module)))
                }
                guard linear.lora == nil else { throw NNError.loraAlreadyApplied(name: name) }
                chosen.insert(name)
            }
        }
        // Freeze everything but the adapters already attached (PEFT's _mark_only_adapters_as_trainable),
        // so adapters added by several calls (one per rank, say) all train.
        var adapterParameters = Set<ObjectIdentifier>()
        for (_, layer) in loraLayers() {
            guard let lora = layer.lora else { continue }
            for parameter in lora.loraA.parameters() + lora.loraB.parameters() { adapterParameters.insert(ObjectIdentifier(parameter)) }
        }
        for parameter in parameters() where !adapterParameters.contains(ObjectIdentifier(parameter)) { parameter.requiresGrad = false }
        var wrapped: [String] = []
        for (name, module) in modules where chosen.contains(name) {
            guard let linear = module as? Linear else { continue }
            let base = Linear(sharing: linear.weight, bias: linear.bias)
            linear.lora = LoRALinear(wrapping: base, rank: rank, alpha: alpha, useRSLoRA: useRSLoRA, using: &generator)
            wrapped.append(name)
        }
        return wrapped
    }

    /// ``applyLoRA(to:rank:alpha:useRSLoRA:using:)`` with adapters initialised from the system's
    /// random generator (not reproducible).
    ///
    /// - Throws: as ``applyLoRA(to:rank:alpha:useRSLoRA:using:)``; nothing is changed then.
    @discardableResult
    public func applyLoRA(to targets: [String], rank: Int, alpha: Double = 8, useRSLoRA: Bool = false) throws -> [String] {
        var generator = SystemRandomNumberGenerator()
        return try applyLoRA(to: targets, rank: rank, alpha: alpha, useRSLoRA: useRSLoRA, using: &generator)
    }

    /// The layers that have a LoRA adapter attached, with their names, in module order.
    public func loraLayers() -> [(name: String, layer: Linear)] {
        namedModules().compactMap { name, module in
            guard let linear = module as? Linear, linear.lora != nil else { return nil }
            return (name, linear)
        }
    }

    /// Folds every attached LoRA adapter into its layer's weight (`W + (B·A)·scaling`) and removes
    /// the adapter, as PEFT's `merge_and_unload`: the layers are plain `Linear` layers again, named
    /// `<layer>.weight` / `<layer>.bias`. Parameters keep their `requiresGrad` setting (frozen after
    /// ``applyLoRA(to:rank:alpha:useRSLoRA:using:)``).
    public func mergeLoRA() {
        for (_, layer) in loraLayers() {
            guard let lora = layer.lora else { continue }
            layer.weight.value = lora.mergedWeight()
            layer.lora = nil
        }
    }
}
