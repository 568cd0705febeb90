// Datasets and batching, like PyTorch's `Dataset`, `TensorDataset` and `DataLoader`.

/// A batch of examples: inputs and targets with the batch along the first axis.
public struct Batch {
    /// `[batchSize, …]` inputs.
    public var inputs: Tensor
    /// `[batchSize, …]` targets.
    public var targets: Tensor

    /// A batch from its parts.
    public init(inputs: Tensor, targets: Tensor) {
        self.inputs = inputs
        self.targets = targets
    }
}

/// A collection of examples that can be gathered into batches.
public protocol Dataset {
    /// The number of examples.
    var count: Int { get }
    /// The examples at `indices` (in that order, repeats allowed), stacked along a new first axis.
    func batch(at indices: [Int]) -> Batch
}

/// Examples stored as two tensors whose first axis indexes the examples (PyTorch's `TensorDataset`).
public struct TensorDataset: Dataset {
    /// `[count, …]`.
    public let inputs: Tensor
    /// `[count, …]`.
    public let targets: Tensor

    /// A dataset of the rows of `inputs` and `targets`.
    ///
    /// Traps if either is a scalar or their first dimensions differ.
    public init(inputs: Tensor, targets: Tensor) {
        precondition(inputs.rank >= 1 && targets.rank >= 1, "TensorDataset: inputs and targets need a first axis")
        precondition(inputs.shape[0] == targets.shape[0],
                     "TensorDataset: \(inputs.shape[0]) input rows but \(targets.shape[0]) target rows")
        self.inputs = inputs.detached()
        self.targets = targets.detached()
    }

    /// The number of rows.
    public var count: Int { inputs.shape[0] }

    /// The rows at `indices`, gathered in one copy per tensor.
    public func batch(at indices: [Int]) -> Batch {
        Batch(inputs: inputs.rows(at: indices), targets: targets.rows(at: indices))
    }

    /// The rows at `indices` as a new dataset (for train/validation splits).
    public func subset(_ indices: [Int]) -> TensorDataset {
        TensorDataset(inputs: inputs.rows(at: indices), targets: targets.rows(at: indices))
    }

    /// A random split into two datasets: the second holds `round(fraction × count)` rows, both
    /// keep the order of a permutation drawn from `generator`.
    ///
    /// Traps unless `0 ≤ fraction ≤ 1`.
    public func split<G: RandomNumberGenerator>(holdingOut fraction: Double, using generator: inout G) -> (TensorDataset, TensorDataset) {
        precondition(fraction >= 0 && fraction <= 1, "split(holdingOut: \(fraction)): the fraction must be in 0...1")
        let permutation = randomPermutation(count, using: &generator)
        let heldOut = Int((fraction * Double(count)).rounded())
        return (subset(Array(permutation[heldOut...])), subset(Array(permutation[..<heldOut])))
    }
}

/// `0..<count` in an order drawn from `generator` (Fisher–Yates).
public func randomPermutation<G: RandomNumberGenerator>(_ count: Int, using generator: inout G) -> [Int] {
    var indices = Array(0..<count)
    var i = count - 1
    while i > 0 {
        let j = Int(generator.next(upperBound: UInt64(i + 1)))
        indices.swapAt(i, j)
        i -= 1
    }
    return indices
}

/// Batches over a dataset, like PyTorch's `DataLoader`: each `for batch in loader` is one epoch,
/// reshuffled from the loader's generator when `shuffle` is set, so a seed fixes every epoch's order.
///
/// ```swift
/// let loader = DataLoader(dataset, batchSize: 32, shuffle: true, generator: SplitMix64(seed: 0))
/// for epoch in 1...100 {
///     for batch in loader { … }
/// }
/// ```
public final class DataLoader<Source: Dataset>: Sequence {
    /// The dataset.
    public let dataset: Source
    /// Examples per batch (the last batch may be smaller unless ``dropLast``).
    public let batchSize: Int
    /// Whether each epoch visits the examples in a new random order.
    public let shuffle: Bool
    /// Whether a final, smaller batch is skipped.
    public let dropLast: Bool
    /// The generator that orders the epochs; it advances once per shuffled epoch.
    public private(set) var generator: SplitMix64

    /// A loader over `dataset`; shuffled epochs are drawn from `generator` (by default
    /// `SplitMix64(seed: 0)`, so an unseeded run is still reproducible).
    ///
    /// Traps if `batchSize` is below 1.
    public init(_ dataset: Source, batchSize: Int, shuffle: Bool = false, dropLast: Bool = false,
                generator: SplitMix64 = SplitMix64(seed: 0)) {
        precondition(batchSize >= 1, "DataLoader: batch size \(batchSize) must be at least 1")
        self.dataset = dataset
        self.batchSize = batchSize
        self.shuffle = shuffle
        self.dropLast = dropLast
        self.generator = generator
    }

    /// The number of batches in one epoch.
    public var batchCount: Int {
        dropLast ? dataset.count / batchSize : (dataset.count + batchSize - 1) / batchSize
    }

    /// The example order of the next epoch (advances the generator when shuffling).
    public func nextEpochOrder() -> [Int] {
        shuffle ? randomPermutation(dataset.count, using: &generator) : Array(0..<dataset.count)
    }

    /// Starts an epoch: draws its order and returns an iterator over its batches.
    public func makeIterator() -> Iterator {
        Iterator(dataset: dataset, order: nextEpochOrder(), batchSize: batchSize, batchCount: batchCount)
    }

    /// The batches of one epoch.
    public struct Iterator: IteratorProtocol {
        let dataset: Source
        let order: [Int]
        let batchSize: Int
        let batchCount: Int
        var index = 0

        /// The next batch, or `nil` at the end of the epoch.
        public mutating func next() -> Batch? {
            guard index < batchCount else { return nil }
            let start = index * batchSize
            let end = Swift.min(start + batchSize, order.count)
            index += 1
            return dataset.batch(at: Array(order[start..<end]))
        }
    }

    /// The number of batches (``batchCount``), for `Sequence`.
    public var underestimatedCount: Int { batchCount }
}
