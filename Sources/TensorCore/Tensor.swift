// The float32 tensor value of the runtime.
//
// Layout: always contiguous, row-major. Shape-changing operations that PyTorch implements as views
// (reshape, squeeze, unsqueeze) share the elements here too, because copies are copy-on-write;
// transposition and gathering copy.

/// An n-dimensional array of `Float` with reverse-mode automatic differentiation.
///
/// `Tensor` is a value type: assigning it copies the shape and shares the elements until one copy
/// writes (copy-on-write, like `Array`). When ``requiresGrad`` is set, or when an operation has an
/// input that requires a gradient, the result also carries a node of the autograd graph; calling
/// ``backward()`` on a scalar result then fills ``grad`` of every leaf that requires a gradient.
///
/// ```swift
/// var x = Tensor([1, 2, 3])
/// x.requiresGrad = true
/// let y = (x * x).sum()   // 14
/// y.backward()
/// x.grad?.scalars          // [2, 4, 6]
/// ```
///
/// Misuse (mismatched shapes, an axis out of range, `item()` on a tensor with several elements)
/// traps with a message that says what was wrong: it is a programming error, not bad data.
///
/// `Tensor` is not `Sendable`: the autograd graph it may carry is shared mutable state. Build and
/// train a model on one task; move plain values (``scalars``, `RawTensor`) across tasks.
public struct Tensor {
    /// The size of each dimension, outermost first. Empty for a scalar (one element).
    public private(set) var shape: [Int]
    /// The elements, shared between copies until one of them writes.
    var storage: TensorStorage
    /// The autograd node, present when this tensor requires a gradient.
    var node: GraphNode?

    /// A tensor over existing storage. The element count must match the shape.
    init(shape: [Int], storage: TensorStorage) {
        self.shape = shape
        self.storage = storage
        self.node = nil
    }

    /// A tensor of `shape` whose elements `initialize` writes (every element, exactly once).
    ///
    /// Traps if a dimension is negative.
    public init(shape: [Int], initializingWith initialize: (UnsafeMutableBufferPointer<Float>) throws -> Void) rethrows {
        let count = Tensor.elementCount(of: shape)
        let storage = TensorStorage.make(uninitializedCount: count)
        try initialize(storage.mutableBuffer)
        self.init(shape: shape, storage: storage)
    }

    /// The number of dimensions.
    public var rank: Int { shape.count }

    /// The number of elements (the product of the dimensions; 1 for a scalar).
    public var elementCount: Int { storage.count }

    /// A copy of the elements in row-major order.
    public var scalars: [Float] { Array(storage.buffer) }

    /// The value of a tensor with exactly one element, like PyTorch's `item()`.
    ///
    /// Traps if the tensor has more or fewer than one element.
    public func item() -> Float {
        precondition(elementCount == 1, "item(): tensor of shape \(shape) has \(elementCount) elements, not 1")
        return storage.pointer[0]
    }

    /// The element at `indices` (one index per dimension).
    ///
    /// Traps if the number of indices differs from ``rank`` or an index is out of range.
    public func scalar(at indices: Int...) -> Float {
        storage.pointer[flatIndex(indices)]
    }

    /// Sets the element at `indices`. This is not recorded in the autograd graph.
    ///
    /// Traps if the number of indices differs from ``rank`` or an index is out of range.
    public mutating func setScalar(_ value: Float, at indices: Int...) {
        let index = flatIndex(indices)
        makeStorageUnique()
        storage.pointer[index] = value
    }

    /// Calls `body` with the elements in row-major order. The pointer must not escape `body`.
    public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        try withExtendedLifetime(storage) { try body(storage.buffer) }
    }

    /// Calls `body` with the elements for writing, copying them first if another tensor shares them.
    ///
    /// Writes are not recorded in the autograd graph (like writing to `tensor.data` in PyTorch);
    /// the tensor keeps its node, so this is how optimizers update parameters in place.
    public mutating func withUnsafeMutableBufferPointer<R>(
        _ body: (UnsafeMutableBufferPointer<Float>) throws -> R
    ) rethrows -> R {
        makeStorageUnique()
        return try withExtendedLifetime(storage) { try body(storage.mutableBuffer) }
    }

    /// Copies the elements if another tensor shares them, so they can be written in place.
    mutating func makeStorageUnique() {
        if !isKnownUniquelyReferenced(&storage) {
            storage = TensorStorage.make(copying: storage)
        }
    }

    /// The row-major position of `indices`.
    private func flatIndex(_ indices: [Int]) -> Int {
        precondition(indices.count == rank, "\(indices.count) indices given for a tensor of rank \(rank) (shape \(shape))")
        var flat = 0
        for axis in 0..<rank {
            precondition(indices[axis] >= 0 && indices[axis] < shape[axis],
                         "index \(indices[axis]) is out of range for dimension \(axis) of size \(shape[axis])")
            flat = flat * shape[axis] + indices[axis]
        }
        return flat
    }

    /// The product of `shape`'s dimensions. Traps on a negative dimension or overflow.
    static func elementCount(of shape: [Int]) -> Int {
        var count = 1
        for dimension in shape {
            precondition(dimension >= 0, "shape \(shape) has a negative dimension")
            let (product, overflow) = count.multipliedReportingOverflow(by: dimension)
            precondition(!overflow, "the element count of shape \(shape) overflows Int")
            count = product
        }
        return count
    }
}

// MARK: - Gradients

extension Tensor {
    /// Whether operations on this tensor are recorded so that ``backward()`` can compute gradients.
    ///
    /// Setting it to `true` makes this tensor a leaf of the graph (PyTorch's `requires_grad_()`);
    /// its ``grad`` is filled by ``backward()``. Setting it to `false` detaches it.
    public var requiresGrad: Bool {
        get { node != nil }
        set {
            if newValue {
                if node == nil { node = GraphNode(leafOfShape: shape) }
            } else {
                node = nil
            }
        }
    }

    /// Whether this tensor was created directly (not by a recorded operation) and requires a
    /// gradient. Only leaves keep their gradient after ``backward()``, as in PyTorch.
    public var isLeaf: Bool { node?.isLeaf ?? true }

    /// The gradient accumulated by ``backward()``, or `nil` before any backward pass (and after
    /// setting it to `nil`, which is how gradients are zeroed). Only leaves keep a gradient.
    ///
    /// Setting a value traps if its shape differs from this tensor's, or if this tensor does not
    /// require a gradient.
    public var grad: Tensor? {
        get { node?.grad }
        nonmutating set {
            guard let node else {
                precondition(newValue == nil, "cannot set grad on a tensor that does not require a gradient")
                return
            }
            if let newValue {
                precondition(newValue.shape == shape, "grad of shape \(newValue.shape) set on a tensor of shape \(shape)")
                node.grad = newValue.detached()
            } else {
                node.grad = nil
            }
        }
    }

    /// The same elements without the autograd graph (PyTorch's `detach()`): nothing computed from
    /// the result contributes to gradients. The elements are shared, not copied.
    public func detached() -> Tensor {
        Tensor(shape: shape, storage: storage)
    }

    /// A copy of this tensor that requires a gradient (a new leaf), for building expressions in tests
    /// and examples: `let x = Tensor([1, 2]).requiringGrad()`.
    public func requiringGrad() -> Tensor {
        var copy = detached()
        copy.requiresGrad = true
        return copy
    }
}

// MARK: - Description and equality

extension Tensor: CustomStringConvertible {
    /// `Tensor([2, 3], [1.0, 2.0, …])`, listing at most 16 elements.
    public var description: String {
        let shown = scalars.prefix(16).map { "\($0)" }.joined(separator: ", ")
        let more = elementCount > 16 ? ", … (\(elementCount) elements)" : ""
        return "Tensor(\(shape), [\(shown)\(more)])"
    }
}

extension Tensor: Equatable {
    /// Same shape and equal elements (compared with `==`, so a NaN equals nothing). The graph is ignored.
    public static func == (lhs: Tensor, rhs: Tensor) -> Bool {
        guard lhs.shape == rhs.shape else { return false }
        if lhs.storage === rhs.storage { return !lhs.storage.buffer.contains { $0.isNaN } }
        return lhs.storage.buffer.elementsEqual(rhs.storage.buffer)
    }
}

extension Tensor {
    /// Takes `other`'s autograd node (for a value replacing another in place, keeping its gradient).
    ///
    /// Traps if the shapes differ.
    public mutating func adoptGraph(of other: Tensor) {
        precondition(other.shape == shape, "adoptGraph: shapes \(other.shape) and \(shape) differ")
        node = other.node
    }
}
