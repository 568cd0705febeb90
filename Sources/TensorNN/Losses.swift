// Loss functions as values, named like PyTorch's loss modules. All use mean reduction.

/// A loss: a scalar from a prediction and a target.
public protocol Loss {
    /// The loss of `prediction` against `target`, as a scalar tensor.
    func callAsFunction(_ prediction: Tensor, _ target: Tensor) -> Tensor
}

/// Binary cross-entropy on probabilities (PyTorch's `nn.BCELoss()`): each log term is clamped at
/// -100, and the result is the mean over all elements.
public struct BCELoss: Loss, Sendable {
    /// Creates the loss.
    public init() {}
    /// `-mean(y·log p + (1 − y)·log(1 − p))`; traps if the shapes differ.
    public func callAsFunction(_ prediction: Tensor, _ target: Tensor) -> Tensor {
        prediction.binaryCrossEntropy(target: target)
    }
}

/// Binary cross-entropy on logits (PyTorch's `nn.BCEWithLogitsLoss()`): the sigmoid and the
/// cross-entropy in one numerically stable operation (finite at logits of ±100), mean over all elements.
public struct BCEWithLogitsLoss: Loss, Sendable {
    /// Creates the loss.
    public init() {}
    /// `mean((1 − y)·x + log(1 + e^−x))`, computed stably; traps if the shapes differ.
    public func callAsFunction(_ prediction: Tensor, _ target: Tensor) -> Tensor {
        prediction.binaryCrossEntropyWithLogits(target: target)
    }
}

/// Mean squared error (PyTorch's `nn.MSELoss()`).
public struct MSELoss: Loss, Sendable {
    /// Creates the loss.
    public init() {}
    /// `mean((x − y)²)`; traps if the shapes differ.
    public func callAsFunction(_ prediction: Tensor, _ target: Tensor) -> Tensor {
        prediction.meanSquaredError(target: target)
    }
}

/// Cross-entropy on unnormalised scores with class-index targets (PyTorch's `nn.CrossEntropyLoss()`),
/// averaged over the batch.
public struct CrossEntropyLoss: Loss, Sendable {
    /// Creates the loss.
    public init() {}
    /// `prediction` is `[batch, classes]`; `target` holds class indices, `[batch]` or `[batch, 1]`.
    /// Traps if the shapes do not fit or a target is not a class index.
    public func callAsFunction(_ prediction: Tensor, _ target: Tensor) -> Tensor {
        let indices = target.rank == 2 && target.shape[1] == 1 ? target.reshaped([-1]) : target
        return prediction.crossEntropy(targets: indices)
    }
}
