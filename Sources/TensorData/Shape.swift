/// The dimensions of a tensor, outermost first (row-major).
///
/// An empty shape is a scalar with one element. Dimensions are never negative; a zero dimension
/// makes an empty tensor.
public struct Shape: Hashable, Sendable, ExpressibleByArrayLiteral, CustomStringConvertible {
    /// The size of each dimension.
    public var dimensions: [Int]

    /// A shape with the given dimensions.
    ///
    /// Traps if a dimension is negative: shapes read from files are checked by the reader first.
    public init(_ dimensions: [Int]) {
        precondition(dimensions.allSatisfy { $0 >= 0 }, "Shape dimensions must not be negative: \(dimensions)")
        self.dimensions = dimensions
    }

    public init(arrayLiteral elements: Int...) { self.init(elements) }

    /// The number of dimensions.
    public var rank: Int { dimensions.count }

    /// The product of the dimensions, or `nil` if it overflows `Int`.
    public var checkedElementCount: Int? {
        var product = 1
        for dimension in dimensions {
            let (next, overflow) = product.multipliedReportingOverflow(by: dimension)
            if overflow { return nil }
            product = next
        }
        return product
    }

    /// The product of the dimensions. Traps on overflow, which a checked shape cannot reach.
    public var elementCount: Int {
        guard let count = checkedElementCount else { preconditionFailure("element count of \(dimensions) overflows") }
        return count
    }

    /// Row-major (C order) strides, in elements.
    public var contiguousStrides: [Int] {
        var strides = [Int](repeating: 1, count: dimensions.count)
        var running = 1
        for axis in dimensions.indices.reversed() {
            strides[axis] = running
            running = running &* max(dimensions[axis], 1)
        }
        return strides
    }

    /// `[2, 3]`
    public var description: String {
        var text: [UInt8] = [UInt8(ascii: "[")]
        text.reserveCapacity(2 + 8 * dimensions.count)
        for (i, dimension) in dimensions.enumerated() {
            if i > 0 { text.append(UInt8(ascii: ",")); text.append(0x20) }
            var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes, enough for 19 digits
            var magnitude = dimension.magnitude
            var count = 0
            withUnsafeMutableBytes(of: &digits) { buffer in
                repeat {
                    buffer[23 - count] = UInt8(ascii: "0") + UInt8(magnitude % 10)
                    magnitude /= 10
                    count += 1
                } while magnitude > 0
                text.append(contentsOf: buffer[(24 - count)...])
            }
        }
        text.append(UInt8(ascii: "]"))
        return String(decoding: text, as: UTF8.self)
    }
}
