import TensorData

// How a torch tensor sits in its storage: an element offset, sizes and strides, all counted in
// elements of the tensor's dtype (torch/_utils.py `_rebuild_tensor`: `t.set_(storage, offset,
// size, stride)`). Every value comes from the file, so everything is checked before use.

/// A tensor's placement in its storage, validated against the storage's element count.
public struct TensorGeometry: Sendable, Equatable {
    /// Offset of element [0, 0, …] in the storage, in elements.
    public let elementOffset: Int
    /// Sizes, outermost first.
    public let shape: Shape
    /// Strides in elements.
    public let strides: [Int]

    /// The storage elements `[first, last]` the view touches, or `nil` when it has no elements.
    public let touchedElements: ClosedRange<Int>?

    /// Checks `offset`, `sizes` and `strides` (as read from a file) against a storage of
    /// `storageElements` elements: all non-negative, equal ranks, and every touched element
    /// inside the storage, with overflow-checked arithmetic.
    ///
    /// - Throws: `TensorGeometryError` naming the fault.
    public init(offset: Int, sizes: [Int], strides: [Int], storageElements: Int, maxRank: Int = 64) throws(TensorGeometryError) {
        guard sizes.count <= maxRank else { throw .rankTooHigh(rank: sizes.count, limit: maxRank) }
        guard sizes.count == strides.count else { throw .rankMismatch(sizes: sizes, strides: strides) }
        guard offset >= 0 else { throw .negative(what: "storage offset", value: offset) }
        for size in sizes where size < 0 { throw .negative(what: "size", value: size) }
        for stride in strides where stride < 0 { throw .negative(what: "stride", value: stride) }
        var count = 1
        for size in sizes {
            let (product, overflow) = count.multipliedReportingOverflow(by: size)
            guard !overflow else { throw .overflow(sizes: sizes, strides: strides) }
            count = product
        }
        elementOffset = offset
        shape = Shape(sizes)
        self.strides = strides
        if count == 0 {
            touchedElements = nil
            return
        }
        // last = offset + Σ (size − 1) × stride
        var last = offset
        for (size, stride) in zip(sizes, strides) {
            let (step, overflowStep) = (size - 1).multipliedReportingOverflow(by: stride)
            let (sum, overflowSum) = last.addingReportingOverflow(step)
            guard !overflowStep, !overflowSum else { throw .overflow(sizes: sizes, strides: strides) }
            last = sum
        }
        guard last < storageElements else {
            throw .outOfStorage(offset: offset, sizes: sizes, strides: strides, lastElement: last, storageElements: storageElements)
        }
        touchedElements = offset...last
    }

    /// Checks the sizes of a tensor that has no storage (meta, sparse): rank within `maxRank`, no
    /// negative size, and an element count that fits in `Int`. `strides` are only reported.
    public static func checkSizes(_ sizes: [Int], strides: [Int], maxRank: Int) throws(TensorGeometryError) {
        guard sizes.count <= maxRank else { throw .rankTooHigh(rank: sizes.count, limit: maxRank) }
        for size in sizes where size < 0 { throw .negative(what: "size", value: size) }
        guard Shape(sizes).checkedElementCount != nil else { throw .overflow(sizes: sizes, strides: strides) }
    }

    /// Whether the elements are laid out row-major and back to back (dimensions of size 1 may
    /// have any stride), so the tensor's bytes are one slice of the storage.
    public var isContiguous: Bool {
        var expected = 1
        for (size, stride) in zip(shape.dimensions, strides).reversed() where size != 1 {
            if stride != expected { return false }
            expected *= size
        }
        return true
    }

    /// Copies the view out of `storage` into new contiguous memory, row-major. Elements are
    /// `elementBytes` wide; when `swapUnit` > 1 each element's bytes are reversed in units of
    /// that size (a big-endian archive read on a little-endian host).
    ///
    /// `storage` must hold at least `(touchedElements.upperBound + 1) × elementBytes` bytes; the
    /// initialiser's check against the storage's element count guarantees it.
    public func copy(from storage: UnsafeRawBufferPointer, elementBytes: Int, swapUnit: Int, resolving resolution: BitResolution? = nil) -> TensorBytes {
        let count = shape.elementCount
        return TensorBytes(count: count * elementBytes) { destination in
            guard count > 0, let source = storage.baseAddress, let target = destination.baseAddress else { return }
            // Fold the innermost dimensions that are contiguous into one block copied with memcpy.
            var blockElements = 1
            var outerRank = shape.rank
            while outerRank > 0 {
                let size = shape.dimensions[outerRank - 1], stride = strides[outerRank - 1]
                guard size == 1 || stride == blockElements else { break }
                blockElements *= size
                outerRank -= 1
            }
            let blockBytes = blockElements * elementBytes
            var index = [Int](repeating: 0, count: outerRank)
            var sourceElement = elementOffset
            var written = 0
            while written < count * elementBytes {
                // SAFETY: sourceElement + blockElements - 1 ≤ touchedElements.upperBound < storage elements.
                (target + written).copyMemory(from: source + sourceElement * elementBytes, byteCount: blockBytes)
                written += blockBytes
                // Advance the odometer over the outer dimensions.
                var axis = outerRank - 1
                while axis >= 0 {
                    index[axis] += 1
                    sourceElement += strides[axis]
                    if index[axis] < shape.dimensions[axis] { break }
                    sourceElement -= strides[axis] * shape.dimensions[axis]
                    index[axis] = 0
                    axis -= 1
                }
            }
            if swapUnit > 1 { TensorGeometry.swapBytes(destination, unit: swapUnit) }
            resolution?.apply(to: destination)
        }
    }

    /// Resolving a tensor's negative and conjugate bits into its values, exactly as torch's
    /// `resolve_neg()` / `resolve_conj()` compute them on the CPU (docs/formats.md "Negative and
    /// conjugate bits"): floats and complex parts have their sign bit flipped (NaN payloads kept);
    /// float16 goes through float32, so a NaN also gets its quiet bit; bfloat16 NaNs become the
    /// canonical 0x7FC0; integers are negated with wrap-around.
    public struct BitResolution: Sendable, Equatable {
        /// The tensor's dtype.
        public let dtype: DType
        /// Whether the negative bit is set.
        public let negative: Bool
        /// Whether the conjugate bit is set (complex dtypes).
        public let conjugate: Bool

        /// The resolution for a tensor of `dtype` with the given bits, or `nil` when neither is
        /// set. The caller has checked that `dtype` is one torch resolves.
        public init?(dtype: DType, negative: Bool, conjugate: Bool) {
            guard negative || conjugate else { return nil }
            self.dtype = dtype
            self.negative = negative
            self.conjugate = conjugate
        }

        func apply(to buffer: UnsafeMutableRawBufferPointer) {
            switch dtype {
            case .f32, .c64:
                flipSigns(buffer, as: UInt32.self, mask: 0x8000_0000, complex: dtype == .c64)
            case .f64, .c128:
                flipSigns(buffer, as: UInt64.self, mask: 0x8000_0000_0000_0000, complex: dtype == .c128)
            case .f16 where negative:
                for i in stride(from: 0, to: buffer.count - 1, by: 2) {
                    var bits = buffer.loadUnaligned(fromByteOffset: i, as: UInt16.self)
                    if bits & 0x7C00 == 0x7C00 && bits & 0x03FF != 0 { bits |= 0x0200 }
                    buffer.storeBytes(of: bits ^ 0x8000, toByteOffset: i, as: UInt16.self)
                }
            case .bf16 where negative:
                for i in stride(from: 0, to: buffer.count - 1, by: 2) {
                    let bits = buffer.loadUnaligned(fromByteOffset: i, as: UInt16.self)
                    let isNaN = bits & 0x7F80 == 0x7F80 && bits & 0x007F != 0
                    buffer.storeBytes(of: isNaN ? 0x7FC0 : bits ^ 0x8000, toByteOffset: i, as: UInt16.self)
                }
            case .i8 where negative, .u8 where negative:
                for i in 0..<buffer.count { buffer[i] = 0 &- buffer[i] }
            case .i16 where negative:
                negate(buffer, as: UInt16.self)
            case .i32 where negative:
                negate(buffer, as: UInt32.self)
            case .i64 where negative:
                negate(buffer, as: UInt64.self)
            default:
                break
            }
        }

        /// Flips the sign of every value (negative) and/or of every imaginary part (conjugate).
        private func flipSigns<T: FixedWidthInteger>(_ buffer: UnsafeMutableRawBufferPointer, as: T.Type, mask: T, complex: Bool) {
            let width = MemoryLayout<T>.size
            let count = buffer.count / width
            for element in 0..<count {
                let isImaginary = complex && element % 2 == 1
                let flip = negative != (conjugate && isImaginary)
                guard flip else { continue }
                let offset = element * width
                buffer.storeBytes(of: buffer.loadUnaligned(fromByteOffset: offset, as: T.self) ^ mask, toByteOffset: offset, as: T.self)
            }
        }

        private func negate<T: FixedWidthInteger>(_ buffer: UnsafeMutableRawBufferPointer, as: T.Type) {
            let width = MemoryLayout<T>.size
            for offset in stride(from: 0, to: buffer.count - width + 1, by: width) {
                let value = T(littleEndian: buffer.loadUnaligned(fromByteOffset: offset, as: T.self))
                buffer.storeBytes(of: (0 &- value).littleEndian, toByteOffset: offset, as: T.self)
            }
        }
    }

    /// Reverses the bytes of every `unit`-byte group in `buffer`.
    static func swapBytes(_ buffer: UnsafeMutableRawBufferPointer, unit: Int) {
        switch unit {
        case 2:
            for i in stride(from: 0, to: buffer.count - 1, by: 2) {
                buffer.storeBytes(of: buffer.loadUnaligned(fromByteOffset: i, as: UInt16.self).byteSwapped, toByteOffset: i, as: UInt16.self)
            }
        case 4:
            for i in stride(from: 0, to: buffer.count - 3, by: 4) {
                buffer.storeBytes(of: buffer.loadUnaligned(fromByteOffset: i, as: UInt32.self).byteSwapped, toByteOffset: i, as: UInt32.self)
            }
        case 8:
            for i in stride(from: 0, to: buffer.count - 7, by: 8) {
                buffer.storeBytes(of: buffer.loadUnaligned(fromByteOffset: i, as: UInt64.self).byteSwapped, toByteOffset: i, as: UInt64.self)
            }
        default:
            for start in stride(from: 0, to: buffer.count - unit + 1, by: unit) {
                var low = start, high = start + unit - 1
                while low < high { buffer.swapAt(low, high); low += 1; high -= 1 }
            }
        }
    }
}

/// A tensor placement that does not fit its storage or is malformed.
public enum TensorGeometryError: Error, Equatable, CustomStringConvertible {
    /// More dimensions than ``ReadOptions/maxTensorRank`` allows.
    case rankTooHigh(rank: Int, limit: Int)
    /// Sizes and strides of different lengths.
    case rankMismatch(sizes: [Int], strides: [Int])
    /// A negative size, stride or offset (`what` names which).
    case negative(what: String, value: Int)
    /// The extent of the view overflows a 64-bit integer.
    case overflow(sizes: [Int], strides: [Int])
    /// The view reaches element `lastElement` of a storage of `storageElements`.
    case outOfStorage(offset: Int, sizes: [Int], strides: [Int], lastElement: Int, storageElements: Int)

    public var description: String {
        switch self {
        case .rankTooHigh(let rank, let limit): return "rank \(rank) exceeds the limit of \(limit) (limit maxTensorRank)"
        case .rankMismatch(let sizes, let strides): return "size \(sizes) and stride \(strides) have different ranks"
        case .negative(let what, let value): return "\(what) \(value) is negative"
        case .overflow(let sizes, let strides): return "size \(sizes) with stride \(strides) overflows 64 bits"
        case .outOfStorage(let offset, let sizes, let strides, let last, let storage):
            return "view (offset \(offset), size \(sizes), stride \(strides)) reaches element \(last) of a \(storage)-element storage"
        }
    }
}
