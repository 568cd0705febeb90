// Activation functions as modules (for `Sequential`) and as a value (for `FeedForward`).

/// An elementwise activation function, chosen by value (for builders and command-line options).
public enum Activation: String, Sendable, CaseIterable {
    /// The logistic function `1 / (1 + e^-x)`.
    case sigmoid
    /// `max(x, 0)`.
    case relu
    /// The hyperbolic tangent.
    case tanh
    /// No activation: the input unchanged.
    case identity

    /// The activation applied to every element of `input`.
    public func callAsFunction(_ input: Tensor) -> Tensor {
        switch self {
        case .sigmoid: return input.sigmoid()
        case .relu: return input.relu()
        case .tanh: return input.tanh()
        case .identity: return input
        }
    }

    /// The matching module (`identity` has none in PyTorch's `Sequential` terms and maps to `nil`).
    public var module: (any Module)? {
        switch self {
        case .sigmoid: return Sigmoid()
        case .relu: return ReLU()
        case .tanh: return Tanh()
        case .identity: return nil
        }
    }
}

/// The logistic sigmoid as a module (PyTorch's `nn.Sigmoid`); no parameters.
public final class Sigmoid: Module {
    /// Creates the module.
    public init() {}
    /// `1 / (1 + e^-x)` for every element.
    public func forward(_ input: Tensor) -> Tensor { input.sigmoid() }
}

/// The rectified linear unit as a module (PyTorch's `nn.ReLU`); no parameters.
public final class ReLU: Module {
    /// Creates the module.
    public init() {}
    /// `max(x, 0)` for every element.
    public func forward(_ input: Tensor) -> Tensor { input.relu() }
}

/// The hyperbolic tangent as a module (PyTorch's `nn.Tanh`); no parameters.
public final class Tanh: Module {
    /// Creates the module.
    public init() {}
    /// `tanh(x)` for every element.
    public func forward(_ input: Tensor) -> Tensor { input.tanh() }
}
