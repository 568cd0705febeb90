import BinaryIO
import TensorData

/// A safetensors file, memory-mapped and validated; tensors are read zero-copy.
///
/// The whole header is checked (see ``SafetensorsHeader/parse(file:)``) before any tensor is
/// touched. Tensor bytes are views into the mapping, valid for as long as any ``TensorBytes``
/// taken from it is alive; unaligned data is fine because every consumer loads unaligned.
public final class SafetensorsFile: TensorSource {
    /// The path the file was opened from.
    public let path: String
    /// Always ``ModelFormat/safetensors``.
    public var format: ModelFormat { .safetensors }
    /// The validated header.
    public let header: SafetensorsHeader
    private let file: MappedFile
    /// Every tensor, in file order.
    public let entries: [TensorEntry]
    /// None: the format has nothing to warn about.
    public var warnings: [ModelFileWarning] { [] }

    /// Opens and validates `path`.
    ///
    /// - Throws: `FileError` if it cannot be mapped, `SafetensorsError` if it is not valid.
    public init(path: String) throws {
        self.path = path
        file = try MappedFile(path: path)
        header = try SafetensorsHeader.parse(file: file.bytes)
        entries = header.tensors.map { TensorEntry(name: $0.name, dtype: $0.dtype, shape: $0.shape) }
    }

    /// Bytes on disk.
    public var fileByteCount: Int { file.count }
    /// The `__metadata__` object, or `nil` when the header has none.
    public var metadata: [ExactString: String]? { header.metadata }

    /// The file offsets holding tensor `index`'s bytes.
    public func fileRange(ofTensorAt index: Int) -> Range<Int> {
        let range = header.tensors[index].dataRange
        return (header.dataStart + range.lowerBound)..<(header.dataStart + range.upperBound)
    }

    /// The bytes of tensor `index` (see ``TensorSource/tensor(at:)``).
    public func tensor(at index: Int) throws -> RawTensor {
        let info = header.tensors[index]
        let range = fileRange(ofTensorAt: index)
        let bytes = TensorBytes(borrowing: UnsafeRawBufferPointer(rebasing: file.bytes[range]), owner: file)
        return try RawTensor(dtype: info.dtype, shape: info.shape, bytes: bytes)
    }

    /// Drops the mapped pages of tensor `index`'s bytes.
    public func releaseMemory(forTensorAt index: Int) {
        file.discardPages(fileRange(ofTensorAt: index))
    }

    /// Hints the kernel to read the whole data section ahead, in order.
    public func adviseSequentialRead() {
        file.adviseSequential(header.dataStart..<file.count)
    }
}
