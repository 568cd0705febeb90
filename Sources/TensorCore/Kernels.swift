// Element loops on raw buffers.
//
// Every loop reads and writes through the storages' pointers, which are valid for `count` elements
// while the storage objects (passed as arguments, so alive for the call) exist. The closures given
// to the `@inline(__always)` helpers are literals at every call site, so after inlining the loops
// are plain pointer loops that LLVM vectorizes where the operation allows it.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

enum Kernels {
    /// `out[i] = f(x[i])`.
    @inline(__always)
    static func map(_ x: TensorStorage, into out: TensorStorage, _ f: (Float) -> Float) {
        let n = x.count
        // SAFETY: both storages hold `n` elements (out was allocated from x's count).
        let source = x.pointer, destination = out.pointer
        for i in 0..<n { destination[i] = f(source[i]) }
    }

    /// `out[i] = f(a[i], b[i])` for storages of equal size.
    @inline(__always)
    static func zip(_ a: TensorStorage, _ b: TensorStorage, into out: TensorStorage, _ f: (Float, Float) -> Float) {
        let n = out.count
        // SAFETY: all three storages hold `n` elements (same shape, checked by the caller).
        let pa = a.pointer, pb = b.pointer, po = out.pointer
        for i in 0..<n { po[i] = f(pa[i], pb[i]) }
    }

    /// Copies `count` elements; short rows are copied by a loop, which is cheaper than a call to `memmove`.
    @inline(__always)
    static func copy(_ source: UnsafePointer<Float>, to destination: UnsafeMutablePointer<Float>, count: Int) {
        if count <= 32 {
            for i in 0..<count { destination[i] = source[i] }
        } else {
            destination.update(from: source, count: count)
        }
    }

    /// `a[i] += b[i]` in place.
    static func addInPlace(_ a: TensorStorage, _ b: TensorStorage) {
        let n = a.count
        precondition(b.count == n, "addInPlace: \(b.count) elements added to \(n)")
        // SAFETY: both storages hold `n` elements.
        let pa = a.pointer, pb = b.pointer
        for i in 0..<n { pa[i] += pb[i] }
    }

    /// Elements summed in float32 before their total joins the Double accumulator: 16 lanes of 256
    /// elements each, so no float32 partial sum adds more than 256 terms.
    static let sumBlockLength = 4096

    /// The sum of all elements, accurate for long arrays like PyTorch's cascade sum: each block of
    /// ``sumBlockLength`` elements is summed in 16 vectorized float32 lanes, and the block totals are
    /// accumulated in Double. (`ones([17_000_000]).sum()` is exactly 17,000,000.)
    static func sum(_ x: UnsafePointer<Float>, count n: Int) -> Float {
        if n <= sumBlockLength { return Float(blockSum(x, count: n)) }
        var total: Double = 0
        var start = 0
        while start < n {
            let length = Swift.min(sumBlockLength, n - start)
            // SAFETY: elements start..<start + length are below n.
            total += blockSum(x + start, count: length)
            start += length
        }
        return Float(total)
    }

    /// The sum of up to ``sumBlockLength`` elements with 16 independent float32 partial sums.
    @inline(__always)
    private static func blockSum(_ x: UnsafePointer<Float>, count n: Int) -> Double {
        var partial = SIMD16<Float>()
        var i = 0
        while i + 16 <= n {
            // SAFETY: i + 16 <= n elements are readable.
            partial += UnsafeRawPointer(x + i).loadUnaligned(as: SIMD16<Float>.self)
            i += 16
        }
        var total = Double(partial.sum())
        while i < n {
            total += Double(x[i])
            i += 1
        }
        return total
    }

    /// Rows summed in float32 before they join the Double accumulators of a column sum.
    static let columnBlockLength = 256

    /// Sums over the middle axis of a `[outer, length, inner]` array into `[outer, inner]`, accurate
    /// for long axes: a contiguous axis (`inner == 1`) uses ``sum(_:count:)``; otherwise rows are
    /// added in float32 in blocks of ``columnBlockLength`` and the block totals in Double (the
    /// bias gradient of a layer is such a sum over the batch).
    static func sumMiddleAxis(
        _ x: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>, outer: Int, length: Int, inner: Int
    ) {
        if inner == 1 {
            for o in 0..<outer { out[o] = sum(x + o * length, count: length) }
            return
        }
        if length <= columnBlockLength {
            out.update(repeating: 0, count: outer * inner)
            for o in 0..<outer {
                let destination = out + o * inner
                for l in 0..<length {
                    // SAFETY: row (o, l) starts at (o * length + l) * inner and has `inner` elements.
                    let row = x + (o * length + l) * inner
                    for i in 0..<inner { destination[i] += row[i] }
                }
            }
            return
        }
        var block = [Float](repeating: 0, count: inner)
        var totals = [Double](repeating: 0, count: inner)
        block.withUnsafeMutableBufferPointer { block in
            totals.withUnsafeMutableBufferPointer { totals in
                for o in 0..<outer {
                    totals.update(repeating: 0)
                    var start = 0
                    while start < length {
                        let end = Swift.min(start + columnBlockLength, length)
                        block.update(repeating: 0)
                        for l in start..<end {
                            // SAFETY: row (o, l) starts at (o * length + l) * inner and has `inner` elements.
                            let row = x + (o * length + l) * inner
                            for i in 0..<inner { block[i] += row[i] }
                        }
                        for i in 0..<inner { totals[i] += Double(block[i]) }
                        start = end
                    }
                    let destination = out + o * inner
                    for i in 0..<inner { destination[i] = Float(totals[i]) }
                }
            }
        }
    }
}

// MARK: - Broadcasting

/// How two shapes broadcast against each other (NumPy/PyTorch rules): shapes are aligned on the
/// right, and a dimension of size 1 (or a missing one) stretches to the other's size.
struct Broadcast {
    /// The result shape.
    let shape: [Int]
    /// Strides of the first operand in the result's coordinates (0 where it is stretched).
    let stridesA: [Int]
    /// Strides of the second operand in the result's coordinates (0 where it is stretched).
    let stridesB: [Int]

    /// The broadcast of `a` and `b`. Traps, naming both shapes, when they are incompatible.
    init(_ a: [Int], _ b: [Int]) {
        let rank = Swift.max(a.count, b.count)
        var shape = [Int](repeating: 1, count: rank)
        for axis in 0..<rank {
            let da = axis - (rank - a.count) >= 0 ? a[axis - (rank - a.count)] : 1
            let db = axis - (rank - b.count) >= 0 ? b[axis - (rank - b.count)] : 1
            precondition(da == db || da == 1 || db == 1,
                         "shapes \(a) and \(b) cannot be broadcast together (dimension \(axis) of the result: \(da) vs \(db))")
            shape[axis] = da == 1 ? db : da
        }
        self.shape = shape
        self.stridesA = Broadcast.strides(of: a, in: shape)
        self.stridesB = Broadcast.strides(of: b, in: shape)
    }

    /// The strides of `operand` when stretched to `result` (0 on stretched or missing dimensions).
    static func strides(of operand: [Int], in result: [Int]) -> [Int] {
        let offset = result.count - operand.count
        var strides = [Int](repeating: 0, count: result.count)
        var running = 1
        for axis in stride(from: operand.count - 1, through: 0, by: -1) {
            strides[axis + offset] = operand[axis] == 1 && result[axis + offset] != 1 ? 0 : running
            running *= operand[axis]
        }
        return strides
    }

    /// The broadcast shape of `a` and `b`, or `nil` if they are incompatible.
    static func shape(_ a: [Int], _ b: [Int]) -> [Int]? {
        let rank = Swift.max(a.count, b.count)
        var shape = [Int](repeating: 1, count: rank)
        for axis in 0..<rank {
            let da = axis - (rank - a.count) >= 0 ? a[axis - (rank - a.count)] : 1
            let db = axis - (rank - b.count) >= 0 ? b[axis - (rank - b.count)] : 1
            guard da == db || da == 1 || db == 1 else { return nil }
            shape[axis] = da == 1 ? db : da
        }
        return shape
    }
}

extension Kernels {
    /// `out = f(a, b)` with broadcasting; `out` has the broadcast shape.
    @inline(__always)
    static func broadcastZip(
        _ a: Tensor, _ b: Tensor, _ f: (Float, Float) -> Float
    ) -> Tensor {
        if a.shape == b.shape {
            let out = TensorStorage.make(uninitializedCount: a.elementCount)
            zip(a.storage, b.storage, into: out, f)
            return Tensor(shape: a.shape, storage: out)
        }
        let plan = Broadcast(a.shape, b.shape)
        let count = Tensor.elementCount(of: plan.shape)
        let out = TensorStorage.make(uninitializedCount: count)
        let pa = a.storage.pointer, pb = b.storage.pointer, po = out.pointer
        if b.elementCount == 1 {
            let s = pb[0]
            // SAFETY: a has count elements (only leading 1s were added to its shape).
            if a.elementCount == count { for i in 0..<count { po[i] = f(pa[i], s) } }
            else { for i in 0..<count { po[i] = f(pa[0], s) } }
        } else if a.elementCount == 1 {
            let s = pa[0]
            if b.elementCount == count { for i in 0..<count { po[i] = f(s, pb[i]) } }
            else { for i in 0..<count { po[i] = f(s, pb[0]) } }
        } else if count > 0 {
            withExtendedLifetime((a.storage, b.storage)) {
                stridedZip(pa, plan.stridesA, pb, plan.stridesB, po, plan.shape, f)
            }
        }
        return Tensor(shape: plan.shape, storage: out)
    }

    /// The general broadcasting loop: rows of the last dimension, with an odometer over the others.
    @inline(__always)
    static func stridedZip(
        _ pa: UnsafePointer<Float>, _ sa: [Int], _ pb: UnsafePointer<Float>, _ sb: [Int],
        _ po: UnsafeMutablePointer<Float>, _ shape: [Int], _ f: (Float, Float) -> Float
    ) {
        let rank = shape.count
        let inner = shape[rank - 1]
        let rows = inner == 0 ? 0 : Tensor.elementCount(of: shape) / inner
        let ia = sa[rank - 1], ib = sb[rank - 1]
        var index = [Int](repeating: 0, count: rank)
        var offsetA = 0, offsetB = 0, offsetOut = 0
        for _ in 0..<rows {
            // SAFETY: the offsets stay inside each operand: an odometer index below `shape`
            // times strides that are 0 on stretched dimensions.
            let ra = pa + offsetA, rb = pb + offsetB, ro = po + offsetOut
            switch (ia, ib) {
            case (1, 1): for i in 0..<inner { ro[i] = f(ra[i], rb[i]) }
            case (1, 0): let s = rb[0]; for i in 0..<inner { ro[i] = f(ra[i], s) }
            case (0, 1): let s = ra[0]; for i in 0..<inner { ro[i] = f(s, rb[i]) }
            default: for i in 0..<inner { ro[i] = f(ra[0], rb[0]) }
            }
            offsetOut += inner
            var axis = rank - 2
            while axis >= 0 {
                index[axis] += 1
                offsetA += sa[axis]
                offsetB += sb[axis]
                if index[axis] < shape[axis] { break }
                offsetA -= sa[axis] * shape[axis]
                offsetB -= sb[axis] * shape[axis]
                index[axis] = 0
                axis -= 1
            }
        }
    }

    /// Sums `gradient` (of a broadcast result's shape) down to `shape`, the shape of an operand that
    /// was stretched: the backward of broadcasting.
    static func sum(_ gradient: Tensor, toShape shape: [Int]) -> Tensor {
        if gradient.shape == shape { return gradient }
        let count = Tensor.elementCount(of: shape)
        let out = TensorStorage.make(repeating: 0, count: count)
        if count == 1 {
            out.pointer[0] = sum(gradient.storage.pointer, count: gradient.elementCount)
            return Tensor(shape: shape, storage: out)
        }
        let full = gradient.shape
        precondition(Broadcast.shape(full, shape) == full, "cannot sum a gradient of shape \(full) to shape \(shape)")
        // Leading axes summed away (a bias broadcast over rows): one accurate column sum.
        let kept = Array(shape.drop { $0 == 1 })
        let keptCount = Tensor.elementCount(of: kept)
        if keptCount > 0 && kept.count <= full.count && Array(full.suffix(kept.count)) == kept {
            let inner = keptCount
            withExtendedLifetime(gradient.storage) {
                sumMiddleAxis(gradient.storage.pointer, into: out.pointer, outer: 1, length: gradient.elementCount / inner, inner: inner)
            }
            return Tensor(shape: shape, storage: out)
        }
        let strides = Broadcast.strides(of: shape, in: full)
        let rank = full.count
        let inner = full[rank - 1]
        guard inner > 0 else { return Tensor(shape: shape, storage: out) }
        let rows = gradient.elementCount / inner
        let innerStride = strides[rank - 1]
        let pg = gradient.storage.pointer, po = out.pointer
        var index = [Int](repeating: 0, count: rank)
        var offset = 0
        withExtendedLifetime(gradient.storage) {
            for row in 0..<rows {
                // SAFETY: `offset` is a valid position of `out` (odometer below `full`, stride 0 on
                // summed dimensions) and the gradient row has `inner` elements.
                let source = pg + row * inner, destination = po + offset
                if innerStride == 1 {
                    for i in 0..<inner { destination[i] += source[i] }
                } else {
                    destination[0] += sum(source, count: inner)
                }
                var axis = rank - 2
                while axis >= 0 {
                    index[axis] += 1
                    offset += strides[axis]
                    if index[axis] < full[axis] { break }
                    offset -= strides[axis] * full[axis]
                    index[axis] = 0
                    axis -= 1
                }
            }
        }
        return Tensor(shape: shape, storage: out)
    }

    /// `gradient` (of `shape` with 1s where it was reduced) stretched back to `fullShape`: the
    /// backward of a sum.
    static func expand(_ tensor: Tensor, to fullShape: [Int]) -> Tensor {
        if tensor.shape == fullShape { return tensor }
        let zeros = Tensor(shape: fullShape, storage: TensorStorage.make(repeating: 0, count: Tensor.elementCount(of: fullShape)))
        return broadcastZip(zeros, tensor) { _, g in g }
    }
}

extension Tensor {
    /// `self += other` in place (same shape), copying first if the elements are shared.
    mutating func addInPlace(_ other: Tensor) {
        makeStorageUnique()
        Kernels.addInPlace(storage, other.storage)
    }
}
