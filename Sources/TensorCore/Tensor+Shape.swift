// Shape changes, joining and indexing, each with its backward rule.

// MARK: - Reshaping

extension Tensor {
    /// The same elements with a new shape (PyTorch's `reshape`/`view`); one dimension may be `-1`
    /// and is then inferred. The elements are shared, not copied.
    ///
    /// Traps if the element counts differ, more than one dimension is `-1`, or the `-1` cannot be inferred.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        let resolved = Tensor.resolve(newShape, elementCount: elementCount, from: shape)
        var result = Tensor(shape: resolved, storage: storage)
        if Tensor.isRecording(self) {
            let original = shape
            result.record(from: self) { g in g.reshaped(original) }
        }
        return result
    }

    /// The elements as a one-dimensional tensor.
    public func flattened() -> Tensor { reshaped([-1]) }

    /// `shape` with a `-1` replaced by the dimension that makes it hold `elementCount` elements.
    static func resolve(_ shape: [Int], elementCount: Int, from original: [Int]) -> [Int] {
        let inferred = shape.indices.filter { shape[$0] == -1 }
        precondition(inferred.count <= 1, "reshape to \(shape): only one dimension can be -1")
        precondition(shape.allSatisfy { $0 >= -1 }, "reshape to \(shape): negative dimension")
        var resolved = shape
        if let axis = inferred.first {
            let known = shape.enumerated().reduce(1) { $1.offset == axis ? $0 : $0 * $1.element }
            precondition(known > 0 && elementCount % known == 0,
                         "cannot reshape \(original) (\(elementCount) elements) to \(shape)")
            resolved[axis] = elementCount / known
        }
        precondition(Tensor.elementCount(of: resolved) == elementCount,
                     "cannot reshape \(original) (\(elementCount) elements) to \(shape)")
        return resolved
    }

    /// The axis `axis` counted from the end when negative, checked against `rank`.
    static func normalize(axis: Int, rank: Int, function: String = #function) -> Int {
        let resolved = axis < 0 ? axis + rank : axis
        precondition(resolved >= 0 && resolved < rank, "\(function): axis \(axis) is out of range for rank \(rank)")
        return resolved
    }

    /// Removes every dimension of size 1 (PyTorch's `squeeze()`).
    public func squeezed() -> Tensor { reshaped(shape.filter { $0 != 1 }) }

    /// Removes dimension `axis` if its size is 1, and otherwise returns the same shape, as PyTorch's
    /// `squeeze(dim)` does (a negative axis counts from the end).
    ///
    /// Traps if `axis` is out of range.
    public func squeezed(axis: Int) -> Tensor {
        let axis = Tensor.normalize(axis: axis, rank: rank)
        guard shape[axis] == 1 else { return reshaped(shape) }
        var newShape = shape
        newShape.remove(at: axis)
        return reshaped(newShape)
    }

    /// Inserts a dimension of size 1 at `axis` (PyTorch's `unsqueeze`; negative counts from the end
    /// of the result, so `-1` appends).
    public func unsqueezed(axis: Int) -> Tensor {
        let axis = Tensor.normalize(axis: axis, rank: rank + 1)
        var newShape = shape
        newShape.insert(1, at: axis)
        return reshaped(newShape)
    }
}

// MARK: - Transposition

extension Tensor {
    /// The matrix transpose (PyTorch's `.t()`); for higher ranks, the last two axes are swapped.
    /// The elements are copied into the new order.
    ///
    /// Traps if the rank is below 2.
    public func transposed() -> Tensor {
        precondition(rank >= 2, "transposed(): needs at least 2 dimensions, shape is \(shape)")
        return transposed(rank - 2, rank - 1)
    }

    /// The tensor with axes `first` and `second` swapped (PyTorch's `transpose(dim0, dim1)`).
    /// The elements are copied into the new order.
    public func transposed(_ first: Int, _ second: Int) -> Tensor {
        let a = Tensor.normalize(axis: first, rank: rank), b = Tensor.normalize(axis: second, rank: rank)
        if a == b { return self }
        let (lo, hi) = (Swift.min(a, b), Swift.max(a, b))
        // View as [outer, n1, middle, n2, inner] and swap n1 with n2.
        let outer = shape[..<lo].reduce(1, *), n1 = shape[lo], middle = shape[(lo + 1)..<hi].reduce(1, *)
        let n2 = shape[hi], inner = shape[(hi + 1)...].reduce(1, *)
        var newShape = shape
        newShape.swapAt(lo, hi)
        let source = storage
        var result = Tensor(shape: newShape) { out in
            let src = source.pointer
            var o = 0
            for i0 in 0..<outer {
                for j2 in 0..<n2 {
                    for m in 0..<middle {
                        for j1 in 0..<n1 {
                            // SAFETY: the source index is below outer·n1·middle·n2·inner = count.
                            let base = (((i0 * n1 + j1) * middle + m) * n2 + j2) * inner
                            for k in 0..<inner {
                                out[o] = src[base + k]
                                o += 1
                            }
                        }
                    }
                }
            }
        }
        if Tensor.isRecording(self) {
            result.record(from: self) { g in g.transposed(lo, hi) }
        }
        return result
    }
}

// MARK: - Joining

extension Tensor {
    /// Joins `tensors` along an existing axis (PyTorch's `cat`).
    ///
    /// Traps if `tensors` is empty or the shapes differ outside `axis`.
    public static func concatenated(_ tensors: [Tensor], axis: Int = 0) -> Tensor {
        precondition(!tensors.isEmpty, "concatenated: no tensors given")
        let first = tensors[0].shape
        let axis = normalize(axis: axis, rank: first.count)
        for tensor in tensors {
            precondition(tensor.rank == first.count
                && zip(tensor.shape, first).enumerated().allSatisfy { $0.offset == axis || $0.element.0 == $0.element.1 },
                "concatenated along axis \(axis): shape \(tensor.shape) does not match \(first)")
        }
        let outer = first[..<axis].reduce(1, *), inner = first[(axis + 1)...].reduce(1, *)
        let lengths = tensors.map { $0.shape[axis] }
        var shape = first
        shape[axis] = lengths.reduce(0, +)
        let rowLength = shape[axis] * inner
        let storages = tensors.map(\.storage)
        var result = Tensor(shape: shape) { out in
            var column = 0
            for (source, length) in zip(storages, lengths) {
                let chunk = length * inner
                for o in 0..<outer {
                    // SAFETY: chunk o of the source ends at (o + 1)·chunk ≤ its count; the destination
                    // range ends at o·rowLength + column + chunk ≤ outer·rowLength.
                    (out.baseAddress! + o * rowLength + column).update(from: source.pointer + o * chunk, count: chunk)
                }
                column += chunk
            }
        }
        if isRecording(tensors) {
            result.record(from: tensors) { g, needs in
                var start = 0
                return lengths.enumerated().map { index, length in
                    defer { start += length }
                    return needs[index] ? g.sliced(axis: axis, start ..< start + length) : nil
                }
            }
        }
        return result
    }

    /// Stacks tensors of one shape along a new axis (PyTorch's `stack`).
    ///
    /// Traps if `tensors` is empty or the shapes differ.
    public static func stacked(_ tensors: [Tensor], axis: Int = 0) -> Tensor {
        precondition(!tensors.isEmpty, "stacked: no tensors given")
        let shape = tensors[0].shape
        precondition(tensors.allSatisfy { $0.shape == shape }, "stacked: shapes differ: \(tensors.map(\.shape))")
        let axis = normalize(axis: axis, rank: shape.count + 1)
        return concatenated(tensors.map { $0.unsqueezed(axis: axis) }, axis: axis)
    }

    /// The part of the tensor with indices `range` along `axis` (PyTorch's `narrow` / `x[:, a:b]`),
    /// copied.
    ///
    /// Traps if the range is outside the dimension.
    public func sliced(axis: Int, _ range: Range<Int>) -> Tensor {
        let axis = Tensor.normalize(axis: axis, rank: rank)
        precondition(range.lowerBound >= 0 && range.upperBound <= shape[axis],
                     "sliced(axis: \(axis), \(range)): dimension has size \(shape[axis])")
        let outer = shape[..<axis].reduce(1, *), inner = shape[(axis + 1)...].reduce(1, *)
        let length = shape[axis]
        var newShape = shape
        newShape[axis] = range.count
        let chunk = range.count * inner
        let source = storage
        var result = Tensor(shape: newShape) { out in
            for o in 0..<outer {
                // SAFETY: the source chunk lies inside row o (length·inner elements) of the source.
                (out.baseAddress! + o * chunk).update(from: source.pointer + (o * length + range.lowerBound) * inner, count: chunk)
            }
        }
        if Tensor.isRecording(self) {
            let fullShape = shape
            result.record(from: self) { g in
                // The gradient is g in the slice and 0 elsewhere.
                var full = Tensor.zeros(fullShape)
                full.withUnsafeMutableBufferPointer { out in
                    for o in 0..<outer {
                        (out.baseAddress! + (o * length + range.lowerBound) * inner)
                            .update(from: g.storage.pointer + o * chunk, count: chunk)
                    }
                }
                return full
            }
        }
        return result
    }
}

// MARK: - Indexing

/// One entry of a tensor subscript, as in a Python index expression: `x[.all, 0]` is `x[:, 0]`,
/// `x[1, .range(2..<4)]` is `x[1, 2:4]`. An integer literal is an ``at(_:)`` index.
///
/// Integer positions count from the end when negative, as in Python (`-1` is the last) and must be
/// inside the dimension. Range bounds follow Python's slices: negative bounds count from the end
/// and bounds past either end are clamped, so an out-of-range slice is empty rather than an error.
public enum TensorIndex: ExpressibleByIntegerLiteral, Sendable, Equatable {
    /// Every position of the axis (Python's `:`).
    case all
    /// One position; the axis is removed from the result (Python's `i`).
    case at(Int)
    /// Positions `start ..< end`, either bound optional (Python's `start:end`); the axis is kept.
    case slice(start: Int?, end: Int?)

    /// An integer literal is one position.
    public init(integerLiteral value: Int) { self = .at(value) }

    /// Positions `range.lowerBound ..< range.upperBound` (`x[a:b]`).
    public static func range(_ range: Range<Int>) -> TensorIndex { .slice(start: range.lowerBound, end: range.upperBound) }
    /// Positions `range.lowerBound ... range.upperBound` (`x[a:b+1]`).
    public static func range(_ range: ClosedRange<Int>) -> TensorIndex {
        .slice(start: range.lowerBound, end: range.upperBound == -1 ? nil : range.upperBound + 1)
    }
    /// Positions from `range.lowerBound` to the end (`x[a:]`).
    public static func range(_ range: PartialRangeFrom<Int>) -> TensorIndex { .slice(start: range.lowerBound, end: nil) }
    /// Positions before `range.upperBound` (`x[:b]`).
    public static func range(_ range: PartialRangeUpTo<Int>) -> TensorIndex { .slice(start: nil, end: range.upperBound) }
    /// Positions up to and including `range.upperBound` (`x[:b+1]`).
    public static func range(_ range: PartialRangeThrough<Int>) -> TensorIndex {
        .slice(start: nil, end: range.upperBound == -1 ? nil : range.upperBound + 1)
    }
}

extension Tensor {
    /// The slice at `index` of the first axis, with that axis removed (PyTorch's `x[i]`; `x[-1]` is
    /// the last slice).
    ///
    /// Traps if the tensor is a scalar or `index` is out of range.
    public subscript(index: Int) -> Tensor {
        precondition(rank >= 1, "cannot index a scalar tensor")
        let position = Tensor.position(index, inDimension: shape[0], axis: 0)
        return sliced(axis: 0, position ..< position + 1).squeezed(axis: 0)
    }

    /// The slices `range` of the first axis (PyTorch's `x[a:b]`; negative bounds count from the end,
    /// bounds past the ends are clamped).
    ///
    /// Traps if the tensor is a scalar.
    public subscript(range: Range<Int>) -> Tensor { self[.range(range)] }

    /// The slices `range` of the first axis, both bounds included.
    public subscript(range: ClosedRange<Int>) -> Tensor { self[.range(range)] }

    /// The slices from `range.lowerBound` to the end of the first axis (PyTorch's `x[a:]`).
    public subscript(range: PartialRangeFrom<Int>) -> Tensor { self[.range(range)] }

    /// The slices before `range.upperBound` of the first axis (PyTorch's `x[:b]`).
    public subscript(range: PartialRangeUpTo<Int>) -> Tensor { self[.range(range)] }

    /// Indexes several axes at once, like a Python index tuple: `x[.all, 0]` is `x[:, 0]`,
    /// `x[1, -1]` is one element as a 0-d tensor, `x[.range(1..<3), .all, 2]` is `x[1:3, :, 2]`.
    /// Axes not mentioned are kept whole. The result is a copy; gradients flow back to the
    /// selected elements.
    ///
    /// Traps if there are more indices than axes or a position is out of range.
    public subscript(indices: TensorIndex...) -> Tensor {
        self[indices]
    }

    /// Indexes several axes at once (see ``subscript(_:)-variadic``), from an array of indices.
    ///
    /// Traps if there are more indices than axes or a position is out of range.
    public subscript(indices: [TensorIndex]) -> Tensor {
        precondition(indices.count <= rank, "too many indices (\(indices.count)) for a tensor of rank \(rank) (shape \(shape))")
        var result = self
        var axis = 0
        for index in indices {
            let size = result.shape[axis]
            switch index {
            case .all:
                axis += 1
            case .at(let value):
                let position = Tensor.position(value, inDimension: size, axis: axis)
                result = result.sliced(axis: axis, position ..< position + 1).squeezed(axis: axis)
            case .slice(let start, let end):
                let range = Tensor.clampedRange(start: start, end: end, dimension: size)
                if range != 0 ..< size { result = result.sliced(axis: axis, range) }
                axis += 1
            }
        }
        return result
    }

    /// `index` resolved against a dimension of `size` (negative counts from the end), checked.
    static func position(_ index: Int, inDimension size: Int, axis: Int) -> Int {
        let resolved = index < 0 ? index + size : index
        precondition(resolved >= 0 && resolved < size, "index \(index) is out of range for dimension \(axis) of size \(size)")
        return resolved
    }

    /// Python's slice bounds `start:end` resolved against `dimension`: negative bounds count from
    /// the end, and both are clamped to `0...dimension` (an empty range when `end ≤ start`).
    static func clampedRange(start: Int?, end: Int?, dimension: Int) -> Range<Int> {
        func resolve(_ bound: Int?, default value: Int) -> Int {
            guard let bound else { return value }
            let resolved = bound < 0 ? bound + dimension : bound
            return Swift.min(Swift.max(resolved, 0), dimension)
        }
        let lower = resolve(start, default: 0), upper = resolve(end, default: dimension)
        return lower ..< Swift.max(lower, upper)
    }

    /// The rows (slices of the first axis) at `indices`, in that order, repeats allowed
    /// (PyTorch's `x[indices]` / `index_select(0, indices)`). This is how batches are gathered.
    ///
    /// Traps if the tensor is a scalar or an index is out of range.
    public func rows(at indices: [Int]) -> Tensor {
        precondition(rank >= 1, "rows(at:): cannot index a scalar tensor")
        let rowCount = shape[0]
        let rowLength = rowCount == 0 ? 0 : elementCount / rowCount
        for index in indices {
            precondition(index >= 0 && index < rowCount, "rows(at:): index \(index) is out of range for \(rowCount) rows")
        }
        var newShape = shape
        newShape[0] = indices.count
        let source = storage
        var result = Tensor(shape: newShape) { out in
            for (position, index) in indices.enumerated() {
                // SAFETY: index < rowCount (checked above), so the row lies inside the source.
                Kernels.copy(source.pointer + index * rowLength, to: out.baseAddress! + position * rowLength, count: rowLength)
            }
        }
        if Tensor.isRecording(self) {
            let fullShape = shape
            result.record(from: self) { g in
                // Scatter-add: a row picked twice receives both gradients.
                var full = Tensor.zeros(fullShape)
                full.withUnsafeMutableBufferPointer { out in
                    for (position, index) in indices.enumerated() {
                        let destination = out.baseAddress! + index * rowLength, source = g.storage.pointer + position * rowLength
                        for k in 0..<rowLength { destination[k] += source[k] }
                    }
                }
                return full
            }
        }
        return result
    }

    /// The rows `range` of the first axis, copied (PyTorch's `x[a:b]`).
    public func rows(_ range: Range<Int>) -> Tensor { sliced(axis: 0, range) }
}
