/// A stored tensor: an element type, a shape and its little-endian, row-major bytes.
///
/// This is the currency between the file formats and the math: readers produce it, writers
/// consume it, and the tensor runtime converts it to and from `Float`.
public struct RawTensor: Sendable, Equatable {
    /// The element type.
    public let dtype: DType
    /// The dimensions.
    public let shape: Shape
    /// Exactly ``DType/byteCount(elementCount:)`` bytes.
    public let bytes: TensorBytes

    /// A tensor over `bytes`.
    ///
    /// - Throws: `TensorDataError` when the shape's element count overflows or the byte count is
    ///   not the one the dtype and shape require.
    public init(dtype: DType, shape: Shape, bytes: TensorBytes) throws {
        let expected = try RawTensor.byteCount(dtype: dtype, shape: shape)
        guard bytes.count == expected else {
            throw TensorDataError.byteCountMismatch(dtype: dtype, shape: shape, expected: expected, found: bytes.count)
        }
        self.dtype = dtype
        self.shape = shape
        self.bytes = bytes
    }

    /// The number of bytes a tensor of `dtype` and `shape` occupies.
    ///
    /// - Throws: `TensorDataError` on overflow or when sub-byte elements do not fill whole bytes.
    public static func byteCount(dtype: DType, shape: Shape) throws -> Int {
        guard let elements = shape.checkedElementCount else { throw TensorDataError.elementCountOverflow(shape: shape) }
        guard let bytes = dtype.byteCount(elementCount: elements) else {
            throw TensorDataError.partialByte(dtype: dtype, elementCount: elements)
        }
        return bytes
    }

    /// The number of elements.
    public var elementCount: Int { shape.elementCount }
}

/// Faults in constructing plain tensor values.
public enum TensorDataError: Error, Equatable, CustomStringConvertible {
    /// The product of the dimensions does not fit in a 64-bit integer.
    case elementCountOverflow(shape: Shape)
    /// Sub-byte elements (F4, F6) that do not fill a whole number of bytes.
    case partialByte(dtype: DType, elementCount: Int)
    /// The bytes given do not match the dtype and shape.
    case byteCountMismatch(dtype: DType, shape: Shape, expected: Int, found: Int)
    /// Two tensors with the same name in one state dict.
    case duplicateName(String)

    public var description: String {
        switch self {
        case .elementCountOverflow(let shape):
            return "element count of shape \(shape) overflows a 64-bit integer"
        case .partialByte(let dtype, let count):
            return "\(count) elements of \(dtype) (\(dtype.bitWidth) bits each) do not fill whole bytes"
        case .byteCountMismatch(let dtype, let shape, let expected, let found):
            return "\(dtype) \(shape) needs \(expected) bytes, found \(found)"
        case .duplicateName(let name):
            return "tensor name \(name.quotedForMessage) appears twice"
        }
    }
}
