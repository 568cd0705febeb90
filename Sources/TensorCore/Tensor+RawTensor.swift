// Conversions between compute tensors (float32) and stored tensors (`RawTensor`, any dtype).

import TensorData

/// Faults in turning stored tensors into compute tensors.
public enum TensorConversionError: Error, Equatable, CustomStringConvertible {
    /// The stored dtype has no real-valued decoding (complex numbers, packed 6-bit floats).
    case unsupportedDType(DType)

    /// One line: what was stored and why it cannot be used.
    public var description: String {
        switch self {
        case .unsupportedDType(let dtype):
            return "\(dtype) tensors cannot be converted to float32 (only real-valued dtypes can)"
        }
    }
}

extension Tensor {
    /// The values of a stored tensor of any real dtype, converted to float32 the way PyTorch's
    /// `tensor.float()` does (rounding to nearest for float64 and wide integers; 1 and 0 for bool).
    ///
    /// - Throws: ``TensorConversionError/unsupportedDType(_:)`` for complex and 6-bit float dtypes.
    public init(_ raw: RawTensor) throws {
        guard ElementCodec.canDecodeToReal(raw.dtype) else { throw TensorConversionError.unsupportedDType(raw.dtype) }
        let count = raw.elementCount
        self = Tensor(shape: raw.shape.dimensions) { destination in
            raw.bytes.withUnsafeBytes { source in
                ElementCodec.decode(source, dtype: raw.dtype, into: destination)
            }
        }
        precondition(elementCount == count, "decoded \(elementCount) values for \(count) elements")
    }

    /// The elements stored as `dtype`, rounded the way PyTorch's `tensor.to(dtype)` does (nearest even
    /// for floats; toward zero, saturating, for integers; nonzero is true for bool).
    ///
    /// Traps if `dtype` has no real-valued encoding (complex, 6-bit floats) or, for the packed 4-bit
    /// float, if the element count is odd.
    public func rawTensor(as dtype: DType = .f32) -> RawTensor {
        precondition(ElementCodec.canDecodeToReal(dtype), "rawTensor(as: \(dtype)): \(dtype) cannot hold real values")
        guard let byteCount = dtype.byteCount(elementCount: elementCount) else {
            preconditionFailure("rawTensor(as: \(dtype)): \(elementCount) elements do not fill whole bytes")
        }
        let bytes = TensorBytes(count: byteCount) { destination in
            ElementCodec.encode(storage.buffer, as: dtype, into: destination)
        }
        do {
            return try withExtendedLifetime(storage) { try RawTensor(dtype: dtype, shape: Shape(shape), bytes: bytes) }
        } catch {
            // The byte count was computed from this dtype and shape just above.
            preconditionFailure("rawTensor(as: \(dtype)): \(error)")
        }
    }
}
