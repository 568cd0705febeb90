import ModelFormats
import TensorData

// `convert … out.gguf` (docs/cli.md, "GGUF"): which type each tensor is written as, the metadata
// written, and the streaming write. From a GGUF input without --dtype every block is copied byte
// for byte; otherwise values go through float32 and are encoded as gguf-py encodes them.

/// Why a conversion to GGUF could not be planned.
public enum GGUFConversionError: Error, Equatable, CustomStringConvertible {
    /// A safetensors metadata entry `general.alignment` that is not a power of two below 2^32.
    case alignmentMetadata(String)

    public var description: String {
        switch self {
        case .alignmentMetadata(let value):
            return "metadata general.alignment is \"\(value)\"; a GGUF alignment is a power of two written as UINT32"
        }
    }
}

extension Conversion {
    /// llama.cpp's `general.file_type` for each type `--dtype` writes (LLAMA_FTYPE_ALL_F32,
    /// MOSTLY_F16, MOSTLY_Q8_0, MOSTLY_BF16).
    static func llamaFileType(_ type: GGMLType) -> UInt32? {
        switch type {
        case .f32: return 0
        case .f16: return 1
        case .q8_0: return 7
        case .bf16: return 32
        default: return nil
        }
    }

    /// The type tensor `name` is written as. `stored` is its GGUF type in a GGUF input, or the
    /// plain type of its dtype otherwise; `target` is what `--dtype` asks for.
    static func ggufOutputType(name: String, shape: Shape, stored: GGMLType?, dtype: DType, target: GGMLType?) throws -> GGMLType {
        let isFloat = stored?.isQuantized == true || [DType.f16, .bf16, .f32, .f64].contains(dtype)
        guard let target, isFloat else {
            guard let stored else { throw GGUFError.noGGUFType(tensor: name, dtype: dtype) }
            return stored
        }
        switch target {
        case .f16, .bf16:
            return shape.rank >= 2 ? target : .f32
        case .q8_0:
            if shape.rank >= 2, (shape.dimensions.last ?? 0) % 32 == 0 { return .q8_0 }
            return stored.flatMap { $0.isQuantized ? nil : $0 } ?? .f32
        default:
            return target
        }
    }

    static func writeGGUF(_ plan: ConversionPlan, to output: String, options: ConversionOptions) throws -> ConversionResult {
        guard options.maxShardBytes == nil else { throw ConversionError.shardingNeedsSafetensors }
        let gguf = ((plan.source as? FolderSource)?.weights ?? plan.source) as? GGUFFile
        let target: GGMLType? = options.quantization ?? options.dtype.flatMap { GGMLType(plain: $0) }
        var tensors: [GGUFTensorPlan] = []
        var storedTypes: [GGMLType?] = []
        for (index, entry) in plan.entries.enumerated() {
            let stored = gguf.map { $0.header.tensors[plan.sourceIndices[index]].type } ?? GGMLType(plain: entry.dtype)
            let type = try ggufOutputType(name: entry.name, shape: entry.shape, stored: stored, dtype: entry.dtype, target: target)
            tensors.append(GGUFTensorPlan(name: entry.name, type: type, shape: entry.shape))
            storedTypes.append(stored)
        }
        let metadata = try ggufMetadata(plan: plan, gguf: gguf, target: target)
        let byteCounts = tensors.map { $0.byteCount ?? 0 }
        let total = byteCounts.reduce(0, +)
        var done = 0
        try GGUFWriter.write(
            to: output, metadata: metadata, tensors: tensors, overwrite: options.overwrite,
            tensorBytes: { index in
                let sourceIndex = plan.sourceIndices[index]
                if let gguf, storedTypes[index] == tensors[index].type { return try gguf.storedBytes(ofTensorAt: sourceIndex) }
                let raw = try attributing(to: plan.source.path) { try plan.source.tensor(at: sourceIndex) }
                if gguf == nil, raw.dtype.plainGGMLType == tensors[index].type { return raw.bytes }
                return try encoded(raw, as: tensors[index].type, byteCount: byteCounts[index])
            },
            didWrite: { index in
                plan.release(index)
                done += byteCounts[index]
                options.progress?(done, total)
            })
        var warnings = plan.warnings
        let longNames = tensors.filter { $0.name.utf8.count >= 64 }.map(\.name)
        if !longNames.isEmpty { warnings.append(.ggufNamesTooLongForLlamaCpp(names: longNames)) }
        let deep = tensors.filter { $0.shape.rank > 4 }.map(\.name)
        if !deep.isEmpty { warnings.append(.ggufTooManyDimensionsForLlamaCpp(names: deep)) }
        return ConversionResult(outputs: [output], tensorCount: tensors.count, tensorBytes: total, warnings: warnings)
    }

    /// `raw`'s values through float32, encoded as `type` the way gguf-py encodes them.
    static func encoded(_ raw: RawTensor, as type: GGMLType, byteCount: Int) throws -> TensorBytes {
        let values: [Float] = raw.dtype == .f32 ? raw.bytes.values(as: Float.self) : raw.bytes.withUnsafeBytes { ElementCodec.decode($0, dtype: raw.dtype) }
        return values.withUnsafeBufferPointer { buffer in
            TensorBytes(count: byteCount) { output in GGUFQuantizer.encode(buffer, as: type, into: output) }
        }
    }

    /// The key/value pairs written: a GGUF input's own, in order (with `general.file_type`
    /// following `--dtype`); for other inputs `general.architecture`, `general.name` and each
    /// safetensors metadata entry as a STRING.
    static func ggufMetadata(plan: ConversionPlan, gguf: GGUFFile?, target: GGMLType?) throws -> [GGUFMetadataEntry] {
        if let gguf {
            return gguf.header.metadata.map { entry in
                guard entry.key.isByteEqual(to: "general.file_type"), let target, let fileType = llamaFileType(target) else { return entry }
                let value: GGUFValue
                switch entry.value {
                case .uint32: value = .uint32(fileType)
                case .int32: value = .int32(Int32(fileType))
                case .uint64: value = .uint64(UInt64(fileType))
                case .int64: value = .int64(Int64(fileType))
                case .uint16: value = .uint16(UInt16(fileType))
                case .int16: value = .int16(Int16(fileType))
                default: return entry
                }
                return GGUFMetadataEntry(key: entry.key, value: value)
            }
        }
        let source = plan.source.metadata ?? [:]
        var entries = [
            GGUFMetadataEntry(key: "general.architecture", value: .string(source["general.architecture"] ?? "unknown")),
            GGUFMetadataEntry(key: "general.name", value: .string(source["general.name"] ?? modelName(plan.source))),
        ]
        for exactKey in source.keys.sorted() {  // byte order
            let key = exactKey.string
            guard exactKey != "general.architecture", exactKey != "general.name", let value = source[exactKey] else { continue }
            if exactKey == ExactString(GGUFHeader.alignmentKey) {
                guard let alignment = UInt32(value), alignment != 0, alignment & (alignment - 1) == 0 else {
                    throw GGUFConversionError.alignmentMetadata(value)
                }
                entries.append(GGUFMetadataEntry(key: key, value: .uint32(alignment)))
            } else {
                entries.append(GGUFMetadataEntry(key: key, value: .string(value)))
            }
        }
        return entries
    }

    /// A model's name from its path: a folder's name for a folder or sharded set, else the file
    /// name up to its first dot.
    static func modelName(_ source: TensorSource) -> String {
        let components = source.path.split(separator: "/").map(String.init)
        guard let last = components.last else { return "model" }
        switch source.format {
        case .directory:
            return last
        case .safetensorsSharded, .pytorchSharded:
            return last.hasSuffix(".json") ? (components.dropLast().last ?? "model") : last
        default:
            return last.split(separator: ".").first.map(String.init) ?? "model"
        }
    }
}

extension DType {
    /// The plain ggml type of this dtype, if GGUF has one.
    var plainGGMLType: GGMLType? { GGMLType(plain: self) }
}
