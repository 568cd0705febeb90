import BinaryIO
import TensorData

/// A GGUF file (llama.cpp's format), memory-mapped and validated.
///
/// Opening reads the header only (``GGUFHeader/parse(file:maxTensorRank:)``), so it takes
/// milliseconds whatever the size of the weights. Tensors of plain types (F32, F16, BF16, F64,
/// I8…I64) are read zero-copy as their own dtype; block types are dequantized to float32, one
/// tensor at a time, with the values `gguf.quants.dequantize` gives.
public final class GGUFFile: ReadBudgeted {
    /// The path the source was opened from.
    public let path: String
    /// Always ``ModelFormat/gguf``.
    public var format: ModelFormat { .gguf }
    /// The validated header: version, metadata, tensor infos, alignment.
    public let header: GGUFHeader
    private let file: MappedFile
    /// Every tensor, in file order.
    public let entries: [TensorEntry]
    /// None: the format has nothing to warn about.
    public var warnings: [ModelFileWarning] { [] }
    private let truncated: Set<Int>
    /// Every tensor read charges the blocks it reads (a tensor read twice counts twice):
    /// ``ReadOptions/maxMaterializedBytes`` beyond twice the file's size.
    public let readBudget: ReadBudget

    /// Opens and validates `path`.
    ///
    /// - Parameter allowingTruncation: open a file whose last tensors run past its end (reading
    ///   one of those throws); `verify` uses this to name every missing tensor.
    /// - Throws: `FileError` if it cannot be mapped, `GGUFError` if it is not a valid GGUF file.
    public init(path: String, options: ReadOptions = ReadOptions(), allowingTruncation: Bool = false) throws {
        self.path = path
        file = try MappedFile(path: path)
        readBudget = ReadBudget(fileByteCount: file.count, limit: options.maxMaterializedBytes)
        header = try GGUFHeader.parse(file: file.bytes, maxTensorRank: options.maxTensorRank, allowingTruncation: allowingTruncation)
        truncated = Set(header.truncatedTensors)
        entries = header.tensors.map { TensorEntry(name: $0.name, dtype: $0.type.readDType, shape: $0.shape) }
    }

    /// Bytes on disk.
    public var fileByteCount: Int { file.count }

    /// The metadata as safetensors `__metadata__` entries: each value as JSON text
    /// (``GGUFValue/jsonText``), arrays in full. Computed on first use (a vocabulary can be large).
    public private(set) lazy var metadata: [ExactString: String]? = {
        var result: [ExactString: String] = [:]
        for entry in header.metadata { result[ExactString(entry.key)] = entry.value.jsonText }
        return result
    }()

    /// The stored bytes of tensor `index` (blocks as they are in the file), borrowed from the mapping.
    ///
    /// - Throws: `GGUFError.tensorPastEnd` for a tensor of a truncated file.
    public func storedBytes(ofTensorAt index: Int) throws -> TensorBytes {
        let info = header.tensors[index]
        guard !truncated.contains(index) else {
            throw GGUFError.tensorPastEnd(tensor: info.name, start: UInt64(info.fileOffset), byteCount: info.byteCount, fileSize: file.count)
        }
        return TensorBytes(borrowing: UnsafeRawBufferPointer(rebasing: file.bytes[info.fileRange]), owner: file)
    }

    /// Tensor `index` as its ``TensorEntry`` describes it: plain types as stored, block types
    /// dequantized to float32.
    ///
    /// - Throws: `GGUFError.cannotDequantize` for Q8_1 and Q1_0, which are listed but not read.
    public func tensor(at index: Int) throws -> RawTensor {
        let info = header.tensors[index]
        try readBudget.reserve(budgetCharge(forTensorAt: index), for: "tensor \(info.name.quotedForMessage)", tensor: info.name)
        let storedBytes = try storedBytes(ofTensorAt: index)
        if info.type.plainDType != nil {
            return try RawTensor(dtype: info.type.readDType, shape: info.shape, bytes: storedBytes)
        }
        guard info.type.isDequantizable else { throw GGUFError.cannotDequantize(tensor: info.name, type: info.type) }
        let stored = UnsafeRawBufferPointer(rebasing: file.bytes[info.fileRange])
        let (byteCount, overflow) = info.elementCount.multipliedReportingOverflow(by: 4)
        guard !overflow else {
            throw GGUFError.sizeOverflow(tensor: info.name, dimensions: info.ggufDimensions.map { UInt64($0) }, type: info.type)
        }
        let values = TensorBytes(count: byteCount) { output in
            guard let base = output.baseAddress else { return }
            GGUFDequantizer.dequantize(
                stored, type: info.type, elementCount: info.elementCount, into: base.bindMemory(to: Float.self, capacity: info.elementCount))
        }
        return try RawTensor(dtype: .f32, shape: info.shape, bytes: values)
    }

    /// The stored blocks: dequantizing widens them by a factor the type fixes (tensors never
    /// share bytes in a valid file), so the budget bounds what the file holds, not the floats.
    public func budgetCharge(forTensorAt index: Int) -> Int { header.tensors[index].byteCount }

    /// Drops the mapped pages of tensor `index`'s bytes.
    public func releaseMemory(forTensorAt index: Int) {
        guard !truncated.contains(index) else { return }
        file.discardPages(header.tensors[index].fileRange)
    }
}
