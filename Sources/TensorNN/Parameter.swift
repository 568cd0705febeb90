// Trainable tensors with an identity, like PyTorch's `nn.Parameter`.

@_exported import TensorCore

/// A trainable tensor owned by a module: a reference, so that the module, the optimizer and the
/// state dict all see the same value.
///
/// ``value`` is a leaf of the autograd graph when ``requiresGrad`` is set (the default), so using it
/// in a computation and calling `backward()` fills ``grad``. Optimizers update the value in place.
public final class Parameter {
    /// The value, with a leaf node when gradients are required. Not checked for exclusive access
    /// at run time (like `GraphNode`'s properties): it is read or written once per operation.
    @exclusivity(unchecked) var tensor: Tensor

    /// A parameter holding a copy of `value`'s elements (its graph, if any, is dropped).
    public init(_ value: Tensor, requiresGrad: Bool = true) {
        tensor = value.detached()
        tensor.requiresGrad = requiresGrad
    }

    /// The current value. Computations that use it are recorded for `backward()` when
    /// ``requiresGrad`` is set.
    ///
    /// Setting a new value keeps the parameter's identity and gradient (like assigning
    /// `param.data` in PyTorch); it traps if the shape differs.
    public var value: Tensor {
        get { tensor }
        set {
            precondition(newValue.shape == tensor.shape,
                         "Parameter: new value of shape \(newValue.shape) for a parameter of shape \(tensor.shape)")
            let node = tensor
            tensor = newValue.detached()
            tensor.adoptGraph(of: node)
        }
    }

    /// The dimensions of the value.
    public var shape: [Int] { tensor.shape }

    /// The number of elements.
    public var elementCount: Int { tensor.elementCount }

    /// Whether `backward()` computes a gradient for this parameter (PyTorch's `requires_grad`);
    /// turning it off freezes the parameter and drops its gradient.
    public var requiresGrad: Bool {
        get { tensor.requiresGrad }
        set { tensor.requiresGrad = newValue }
    }

    /// The accumulated gradient, or `nil` when none was computed since the last ``zeroGrad()``.
    ///
    /// Setting a value traps if its shape differs or the parameter does not require a gradient.
    public var grad: Tensor? {
        get { tensor.grad }
        set { tensor.grad = newValue }
    }

    /// Drops the gradient (PyTorch's `zero_grad(set_to_none=True)`).
    public func zeroGrad() { tensor.grad = nil }

    /// Calls `body` with the value's elements for writing in place (not recorded in the graph).
    public func withUnsafeMutableValues<R>(_ body: (UnsafeMutableBufferPointer<Float>) throws -> R) rethrows -> R {
        try tensor.withUnsafeMutableBufferPointer(body)
    }
}
