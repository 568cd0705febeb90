import TensorData

// Turning stored array bytes into the row-major, little-endian bytes of a ``RawTensor``:
// a Fortran-ordered array of shape (d0, …, dn-1) is the row-major array of shape (dn-1, …, d0),
// so reading it row-major means reversing its axes; big-endian elements are byte-swapped in units
// of their scalar (each half of a complex number on its own).

/// Copies stored `.npy` data into row-major, little-endian order.
enum NumPyReorder {
    /// The bytes of an array stored in `source` (exactly `shape`'s element count × `elementBytes`),
    /// row-major and little-endian, in new memory.
    ///
    /// - Parameters:
    ///   - fortranOrder: the source is column-major.
    ///   - swapUnit: reverse the bytes of every group of this many bytes (1: no swap).
    static func rowMajor(_ source: UnsafeRawBufferPointer, shape: [Int], elementBytes: Int, fortranOrder: Bool, swapUnit: Int) -> TensorBytes {
        TensorBytes(count: source.count) { destination in
            guard let from = source.baseAddress, let to = destination.baseAddress, source.count > 0 else { return }
            if fortranOrder {
                transposeFortran(from, to, shape: shape, elementBytes: elementBytes)
                if swapUnit > 1 { TensorGeometry.swapBytes(destination, unit: swapUnit) }
            } else if swapUnit > 1 {
                copySwapping(from, to, byteCount: source.count, unit: swapUnit)
            } else {
                to.copyMemory(from: from, byteCount: source.count)
            }
        }
    }

    /// Writes the row-major order of the column-major array at `source` to `destination`.
    static func transposeFortran(_ source: UnsafeRawPointer, _ destination: UnsafeMutableRawPointer, shape: [Int], elementBytes: Int) {
        // Dimensions of size 1 do not move anything.
        let dims = shape.filter { $0 != 1 }
        let count = dims.reduce(1, *)
        guard count > 0 else { return }
        guard dims.count >= 2 else {
            destination.copyMemory(from: source, byteCount: count * elementBytes)
            return
        }
        switch elementBytes {
        case 1: transpose(source, destination, dims: dims, as: UInt8.self)
        case 2: transpose(source, destination, dims: dims, as: UInt16.self)
        case 4: transpose(source, destination, dims: dims, as: UInt32.self)
        case 8: transpose(source, destination, dims: dims, as: UInt64.self)
        case 16: transpose(source, destination, dims: dims, as: SIMD2<UInt64>.self)
        default:
            // No dtype read here has another width; copy element by element all the same.
            var sourceStrides = [Int](repeating: 1, count: dims.count)
            for axis in 1..<dims.count { sourceStrides[axis] = sourceStrides[axis - 1] * dims[axis - 1] }
            for index in 0..<count {
                var remainder = index, sourceElement = 0
                for axis in stride(from: dims.count - 1, through: 0, by: -1) {
                    sourceElement += (remainder % dims[axis]) * sourceStrides[axis]
                    remainder /= dims[axis]
                }
                (destination + index * elementBytes).copyMemory(from: source + sourceElement * elementBytes, byteCount: elementBytes)
            }
        }
    }

    /// Reverses the axes: `destination[i0, …, in-1] = source` at column-major position
    /// `(i0, …, in-1)`. Axis 0 is contiguous in the source and axis n-1 in the destination, so each
    /// (axis 0 × axis n-1) plane is a 2-D transpose, done in cache-sized tiles; an odometer walks
    /// the axes between.
    private static func transpose<T: BitwiseCopyable>(_ source: UnsafeRawPointer, _ destination: UnsafeMutableRawPointer, dims: [Int], as: T.Type) {
        let n = dims.count
        var sourceStrides = [Int](repeating: 1, count: n)
        var destinationStrides = [Int](repeating: 1, count: n)
        for axis in 1..<n { sourceStrides[axis] = sourceStrides[axis - 1] * dims[axis - 1] }
        for axis in stride(from: n - 2, through: 0, by: -1) { destinationStrides[axis] = destinationStrides[axis + 1] * dims[axis + 1] }
        let rows = dims[0], columns = dims[n - 1]
        let sourceColumnStride = sourceStrides[n - 1], destinationRowStride = destinationStrides[0]
        let size = MemoryLayout<T>.size
        let tile = 32
        var index = [Int](repeating: 0, count: n)
        var sourceBase = 0, destinationBase = 0
        while true {
            // One plane: destination[r * rowStride + c] = source[r + c * columnStride].
            var rowStart = 0
            while rowStart < rows {
                let rowEnd = min(rowStart + tile, rows)
                var columnStart = 0
                while columnStart < columns {
                    let columnEnd = min(columnStart + tile, columns)
                    for row in rowStart..<rowEnd {
                        let target = destination + (destinationBase + row * destinationRowStride) * size
                        let origin = source + (sourceBase + row) * size
                        for column in columnStart..<columnEnd {
                            let value = origin.loadUnaligned(fromByteOffset: column * sourceColumnStride * size, as: T.self)
                            target.storeBytes(of: value, toByteOffset: column * size, as: T.self)
                        }
                    }
                    columnStart = columnEnd
                }
                rowStart = rowEnd
            }
            // The next plane: advance the odometer over axes n-2 … 1.
            var axis = n - 2
            while axis >= 1 {
                index[axis] += 1
                sourceBase += sourceStrides[axis]
                destinationBase += destinationStrides[axis]
                if index[axis] < dims[axis] { break }
                sourceBase -= sourceStrides[axis] * dims[axis]
                destinationBase -= destinationStrides[axis] * dims[axis]
                index[axis] = 0
                axis -= 1
            }
            if axis < 1 { return }
        }
    }

    /// Copies `byteCount` bytes, reversing every `unit`-byte group (2, 4 or 8).
    static func copySwapping(_ source: UnsafeRawPointer, _ destination: UnsafeMutableRawPointer, byteCount: Int, unit: Int) {
        switch unit {
        case 2:
            for i in 0..<(byteCount / 2) {
                destination.storeBytes(of: source.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self).byteSwapped, toByteOffset: i * 2, as: UInt16.self)
            }
        case 4:
            for i in 0..<(byteCount / 4) {
                destination.storeBytes(of: source.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self).byteSwapped, toByteOffset: i * 4, as: UInt32.self)
            }
        case 8:
            for i in 0..<(byteCount / 8) {
                destination.storeBytes(of: source.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self).byteSwapped, toByteOffset: i * 8, as: UInt64.self)
            }
        default:
            destination.copyMemory(from: source, byteCount: byteCount)
            TensorGeometry.swapBytes(UnsafeMutableRawBufferPointer(start: destination, count: byteCount), unit: unit)
        }
    }
}
