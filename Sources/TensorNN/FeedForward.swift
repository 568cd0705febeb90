// The feed-forward network that `modelfile train` builds: linear layers named `linear1` … `linearN`
// (the reference network's PyTorch class, `FNNModel`, names them so), an activation after each.

import TensorData

/// A multilayer perceptron whose layers are named `linear1` … `linearN`, with an activation after
/// every layer (the last one may differ).
///
/// The reference network is `FeedForward(layerSizes: [8, 6, 4, 2, 1], activation: .sigmoid)`: four
/// layers 8→6→4→2→1 with a sigmoid after each, whose state dict loads into PyTorch's `FNNModel`
/// with `load_state_dict(strict=True)`.
public final class FeedForward: Module {
    /// The linear layers, first to last.
    public let layers: [Linear]
    /// The activation after every layer but the last.
    public let activation: Activation
    /// The activation after the last layer.
    public let outputActivation: Activation

    /// A network with `layerSizes` (input size first, output size last), initialised from `generator`
    /// with PyTorch's default `Linear` initialisation, layer by layer (weight, then bias).
    ///
    /// - Parameters:
    ///   - outputActivation: the activation after the last layer; `nil` means `activation`.
    ///     Use `.identity` for logits (with `CrossEntropyLoss`).
    ///
    /// Traps if fewer than two sizes are given.
    public init<G: RandomNumberGenerator>(
        layerSizes: [Int], activation: Activation = .sigmoid, outputActivation: Activation? = nil,
        bias: Bool = true, using generator: inout G
    ) {
        precondition(layerSizes.count >= 2, "FeedForward: need at least an input and an output size, got \(layerSizes)")
        var layers: [Linear] = []
        for index in 0..<(layerSizes.count - 1) {
            layers.append(Linear(inFeatures: layerSizes[index], outFeatures: layerSizes[index + 1], bias: bias, using: &generator))
        }
        self.layers = layers
        self.activation = activation
        self.outputActivation = outputActivation ?? activation
    }

    /// A network with the layer sizes and values of `stateDict` (entries `linear1.weight`,
    /// `linear1.bias`, … as written by ``stateDict(as:)`` or PyTorch's `FNNModel`), any real dtype.
    ///
    /// - Throws: ``NNError/notAFeedForwardStateDict(reason:)`` when the names or shapes do not
    ///   describe a chain of layers; ``NNError`` from loading.
    public convenience init(stateDict: StateDict, activation: Activation = .sigmoid, outputActivation: Activation? = nil) throws {
        let sizes = try FeedForward.layerSizes(in: stateDict)
        var generator = SplitMix64(seed: 0)
        let hasBias = stateDict["linear1.bias"] != nil
        self.init(layerSizes: sizes, activation: activation, outputActivation: outputActivation, bias: hasBias, using: &generator)
        try loadStateDict(stateDict, strict: true)
    }

    /// The layer sizes (input first) described by the `linear1.weight` … `linearN.weight` entries.
    ///
    /// - Throws: ``NNError/notAFeedForwardStateDict(reason:)`` when there is no `linear1.weight`, a
    ///   weight is not a matrix, or consecutive layers do not chain.
    public static func layerSizes(in stateDict: StateDict) throws -> [Int] {
        var sizes: [Int] = []
        var index = 1
        while let weight = stateDict["linear\(index).weight"] {
            let dimensions = weight.shape.dimensions
            guard dimensions.count == 2 else {
                throw NNError.notAFeedForwardStateDict(reason: "linear\(index).weight has shape \(weight.shape), not [out, in]")
            }
            if sizes.isEmpty {
                sizes.append(dimensions[1])
            } else if sizes.last != dimensions[1] {
                throw NNError.notAFeedForwardStateDict(
                    reason: "linear\(index).weight takes \(dimensions[1]) inputs but linear\(index - 1) has \(sizes.last ?? 0) outputs")
            }
            sizes.append(dimensions[0])
            index += 1
        }
        guard !sizes.isEmpty else { throw NNError.notAFeedForwardStateDict(reason: "no linear1.weight entry") }
        return sizes
    }

    /// Input size first, output size last.
    public var layerSizes: [Int] { [layers[0].inFeatures] + layers.map(\.outFeatures) }

    /// `linear1`, `linear2`, …
    public var children: [(name: String, module: any Module)] {
        layers.enumerated().map { ("linear\($0.offset + 1)", $0.element) }
    }

    /// Each layer followed by its activation.
    public func forward(_ input: Tensor) -> Tensor {
        var x = input
        for (index, layer) in layers.enumerated() {
            x = layer.forward(x)
            x = index == layers.count - 1 ? outputActivation(x) : activation(x)
        }
        return x
    }
}
