// The fully connected layer, with PyTorch's parameter layout and default initialisation
// (torch/nn/modules/linear.py, `reset_parameters`).

/// `y = x · weightᵀ + bias`, like PyTorch's `nn.Linear`.
///
/// `weight` is `[outFeatures, inFeatures]` and `bias` is `[outFeatures]`, so state dicts load
/// into PyTorch unchanged. Both start uniform in `±1/√inFeatures`: PyTorch's default, which is
/// `kaiming_uniform_(a: √5)` for the weight (gain √(2/(1+5)), bound √3·gain/√fan_in = 1/√fan_in)
/// and the same bound for the bias.
public final class Linear: Module {
    /// The size of each input sample.
    public let inFeatures: Int
    /// The size of each output sample.
    public let outFeatures: Int
    /// `[outFeatures, inFeatures]`.
    public let weight: Parameter
    /// `[outFeatures]`, or `nil` for a layer without bias.
    public let bias: Parameter?
    /// The LoRA adapter attached by ``Module/applyLoRA(to:rank:alpha:useRSLoRA:using:)``, or `nil`.
    /// While it is attached, the layer computes the adapter's output and its parameters are named
    /// as PEFT names them (`base_layer.weight`, `base_layer.bias`, `lora_A.weight`, `lora_B.weight`).
    public internal(set) var lora: LoRALinear?

    /// A layer initialised from `generator`.
    ///
    /// Traps if a size is negative.
    public init<G: RandomNumberGenerator>(inFeatures: Int, outFeatures: Int, bias: Bool = true, using generator: inout G) {
        precondition(inFeatures >= 0 && outFeatures >= 0, "Linear(inFeatures: \(inFeatures), outFeatures: \(outFeatures)): sizes must not be negative")
        self.inFeatures = inFeatures
        self.outFeatures = outFeatures
        let bound = inFeatures > 0 ? 1 / Float(inFeatures).squareRoot() : 0
        let range = -bound ..< Swift.max(bound, .leastNonzeroMagnitude)
        self.weight = Parameter(Tensor.uniform([outFeatures, inFeatures], in: range, using: &generator))
        self.bias = bias ? Parameter(Tensor.uniform([outFeatures], in: range, using: &generator)) : nil
    }

    /// A layer initialised from the system's random generator (not reproducible; pass a seeded
    /// `SplitMix64` for that).
    public convenience init(inFeatures: Int, outFeatures: Int, bias: Bool = true) {
        var generator = SystemRandomNumberGenerator()
        self.init(inFeatures: inFeatures, outFeatures: outFeatures, bias: bias, using: &generator)
    }

    /// A layer with the given weight `[out, in]` and optional bias `[out]` (copied).
    ///
    /// Traps if the shapes do not fit together.
    public init(weight: Tensor, bias: Tensor?) {
        precondition(weight.rank == 2, "Linear(weight:bias:): weight must be [out, in], got \(weight.shape)")
        if let bias { precondition(bias.shape == [weight.shape[0]], "Linear(weight:bias:): bias \(bias.shape) for weight \(weight.shape)") }
        self.outFeatures = weight.shape[0]
        self.inFeatures = weight.shape[1]
        self.weight = Parameter(weight)
        self.bias = bias.map { Parameter($0) }
    }

    /// A layer over existing parameters (shared, not copied), for LoRA's `base_layer` view.
    init(sharing weight: Parameter, bias: Parameter?) {
        self.outFeatures = weight.shape[0]
        self.inFeatures = weight.shape[1]
        self.weight = weight
        self.bias = bias
    }

    /// `weight`, then `bias`, as in PyTorch; none while a LoRA adapter is attached (they are then
    /// the adapter's `base_layer` parameters).
    public var ownParameters: [(name: String, parameter: Parameter)] {
        if lora != nil { return [] }
        if let bias { return [("weight", weight), ("bias", bias)] }
        return [("weight", weight)]
    }

    /// None; while a LoRA adapter is attached, the adapter's `base_layer`, `lora_A` and `lora_B`.
    public var children: [(name: String, module: any Module)] {
        lora?.children ?? []
    }

    /// `input · weightᵀ + bias` for an input of shape `[inFeatures]` or `[…, inFeatures]`, plus the
    /// adapter's update when a LoRA adapter is attached.
    public func forward(_ input: Tensor) -> Tensor {
        if let lora { return lora.forward(input) }
        return input.linear(weight: weight.value, bias: bias?.value)
    }
}
