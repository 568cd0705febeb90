import BinaryIO
import TensorData

/// One tensor the GGUF writer stores: its name, ggml type and shape in PyTorch order.
public struct GGUFTensorPlan: Sendable, Equatable {
    /// The tensor's name.
    public let name: String
    /// The type its bytes are stored as.
    public let type: GGMLType
    /// The shape, outermost first (written reversed, as GGUF stores it).
    public let shape: Shape

    /// A plan entry.
    public init(name: String, type: GGMLType, shape: Shape) {
        self.name = name
        self.type = type
        self.shape = shape
    }

    /// The bytes of the stored tensor, or `nil` when the rows are not whole blocks.
    public var byteCount: Int? {
        guard let elements = shape.checkedElementCount, (shape.dimensions.last ?? 1) % type.blockElementCount == 0 else { return nil }
        return type.byteCount(elementCount: elements)
    }
}

/// Writes GGUF version 3 files the way gguf-py's `GGUFWriter` and llama.cpp lay them out
/// (docs/formats.md, "GGUF"): header, metadata in the order given, tensor infos in the order
/// given, zero padding to the alignment, then each tensor's bytes padded to the alignment, one
/// after another. Data is streamed one tensor at a time through an ``OutputFile``.
public enum GGUFWriter {
    /// The header bytes and where each tensor goes.
    public struct Layout: Sendable {
        /// Everything before the data section, padding included.
        public let headerBytes: [UInt8]
        /// Each tensor's offset from the start of the data section.
        public let offsets: [Int]
        /// Each tensor's stored size.
        public let byteCounts: [Int]
        /// The alignment used.
        public let alignment: Int
        /// Total file size.
        public let fileByteCount: Int
    }

    /// Computes the layout without writing anything. The alignment is `general.alignment` when
    /// the metadata holds it, else 32.
    ///
    /// - Throws: `GGUFError` for a duplicate key or name, a bad `general.alignment`, or a tensor
    ///   whose rows are not whole blocks of its type.
    public static func layout(metadata: [GGUFMetadataEntry], tensors: [GGUFTensorPlan]) throws -> Layout {
        var alignment = GGUFHeader.defaultAlignment
        var keys = Set<ExactString>()  // by bytes, as Python's dict keys
        for entry in metadata {
            guard keys.insert(ExactString(entry.key)).inserted else { throw GGUFError.keyGivenTwice(entry.key) }
            if entry.key.isByteEqual(to: GGUFHeader.alignmentKey) {
                guard case .uint32(let value) = entry.value else { throw GGUFError.alignmentType(found: entry.value.type) }
                guard value != 0, value & (value - 1) == 0 else { throw GGUFError.alignmentValue(value) }
                alignment = Int(value)
            }
        }
        var header: [UInt8] = []
        func little<T: FixedWidthInteger>(_ value: T) { withUnsafeBytes(of: value.littleEndian) { header.append(contentsOf: $0) } }
        func string(_ text: String) { little(UInt64(text.utf8.count)); header.append(contentsOf: text.utf8) }
        header.append(contentsOf: Array("GGUF".utf8))
        little(UInt32(3))
        little(UInt64(tensors.count))
        little(UInt64(metadata.count))
        for entry in metadata {
            string(entry.key)
            little(entry.value.type.rawValue)
            entry.value.appendPayload(to: &header)
        }
        var names = Set<ExactString>()
        var offsets: [Int] = []
        var byteCounts: [Int] = []
        var offset = 0
        for tensor in tensors {
            guard names.insert(ExactString(tensor.name)).inserted else { throw GGUFError.tensorNameGivenTwice(tensor.name) }
            guard let byteCount = tensor.byteCount else {
                throw GGUFError.cannotQuantize(tensor: tensor.name, type: tensor.type, shape: tensor.shape.dimensions)
            }
            string(tensor.name)
            little(UInt32(tensor.shape.rank))
            for dimension in tensor.shape.dimensions.reversed() { little(UInt64(dimension)) }
            little(tensor.type.rawValue)
            little(UInt64(offset))
            offsets.append(offset)
            byteCounts.append(byteCount)
            offset += padded(byteCount, alignment)
        }
        header.append(contentsOf: [UInt8](repeating: 0, count: padded(header.count, alignment) - header.count))
        return Layout(headerBytes: header, offsets: offsets, byteCounts: byteCounts, alignment: alignment, fileByteCount: header.count + offset)
    }

    /// `count` rounded up to a multiple of `alignment`.
    static func padded(_ count: Int, _ alignment: Int) -> Int { (count + alignment - 1) / alignment * alignment }

    /// Streams a GGUF file to `path`.
    ///
    /// - Parameters:
    ///   - metadata: key/value pairs in the order to write them.
    ///   - tensors: the tensors, in the order to write them.
    ///   - overwrite: replace an existing file (`--force`).
    ///   - tensorBytes: the stored bytes of tensor `i`; called once per tensor, in order.
    ///   - didWrite: called after tensor `i` has been written.
    /// - Throws: `GGUFError`, `FileError`, or what `tensorBytes` throws; nothing is left at
    ///   `path` on failure.
    public static func write(
        to path: String,
        metadata: [GGUFMetadataEntry],
        tensors: [GGUFTensorPlan],
        overwrite: Bool,
        tensorBytes: (Int) throws -> TensorBytes,
        didWrite: (Int) -> Void = { _ in }
    ) throws {
        let plan = try layout(metadata: metadata, tensors: tensors)
        let output = try OutputFile(path: path, overwrite: overwrite)
        try output.write(plan.headerBytes)
        for index in tensors.indices {
            let bytes = try tensorBytes(index)
            guard bytes.count == plan.byteCounts[index] else {
                throw GGUFError.tensorByteCount(tensor: tensors[index].name, expected: plan.byteCounts[index], found: bytes.count)
            }
            try bytes.withUnsafeBytes { try output.write($0) }
            try output.write(repeating: 0, count: padded(bytes.count, plan.alignment) - bytes.count)
            didWrite(index)
        }
        try output.commit()
    }
}
