// A chain of modules, named like PyTorch's `nn.Sequential`.

/// Modules applied one after another; the children are named `"0"`, `"1"`, … so parameter names
/// (`0.weight`, `2.bias`) match PyTorch's `nn.Sequential`.
public final class Sequential: Module {
    /// The modules in order.
    public let layers: [any Module]

    /// A chain of `layers`.
    public init(_ layers: [any Module]) {
        self.layers = layers
    }

    /// The layers, named by position.
    public var children: [(name: String, module: any Module)] {
        layers.enumerated().map { (String($0.offset), $0.element) }
    }

    /// Each layer applied to the previous one's output.
    public func forward(_ input: Tensor) -> Tensor {
        var x = input
        for layer in layers { x = layer.forward(x) }
        return x
    }
}
