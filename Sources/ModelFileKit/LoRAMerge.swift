import BinaryIO
import ModelFormats
import TensorCore
import TensorData

// `modelfile lora merge` (docs/cli.md, "LoRA adapters"): the base streams through the same writers as
// `convert`, one tensor at a time; a tensor the adapter changes is computed in row blocks of about
// a million values — the delta in float32, added to the base values in float32 (float64 for a
// float64 base) and rounded once to the output dtype — so memory stays near one base tensor, its
// output and a block, plus the adapter.

/// What `lora merge` should do besides merging.
public struct LoRAMergeOptions {
    /// `--scale`: the factor S in `W + S·s·(B·A)`.
    public var scale = 1.0
    /// `--dtype`: cast floating-point tensors (merged ones are rounded once, to this dtype).
    public var dtype: DType?
    /// `--to`: the output format (default: OUT's extension).
    public var outputFormat: OutputFormat?
    /// `--max-shard-size`: write safetensors shards of at most this many bytes into the folder OUT.
    public var maxShardBytes: Int?
    /// `--force`.
    public var overwrite = false
    /// How the inputs are read.
    public var readOptions = ReadOptions()
    /// Called with (bytes done, bytes total) as tensors are written.
    public var progress: ((Int, Int) -> Void)?

    /// Default options: S = 1, dtypes kept.
    public init() {}
}

/// What a merge wrote.
public struct LoRAMergeResult {
    /// The adapter's layout.
    public let adapterKind: LoRAAdapterKind
    /// Base tensors changed by a low-rank delta.
    public let mergedTensorCount: Int
    /// Base tensors replaced (modules_to_save, trained biases) or given a LoRA bias.
    public let replacedTensorCount: Int
    /// The conversion that wrote the output.
    public let conversion: ConversionResult
}

/// Merges LoRA adapters into base weights.
public enum LoRAMerge {
    /// Merges the adapter at `adapter` into the model at `base` and writes `output`.
    ///
    /// Every adapter entry is checked against the base before anything is written.
    ///
    /// - Throws: `ModelFileError` naming the file at fault (``LoRAMergeError``, format errors);
    ///   nothing is left at `output` then.
    public static func merge(base: String, adapter: String, output: String, options: LoRAMergeOptions) throws -> LoRAMergeResult {
        guard options.scale.isFinite else {
            throw ModelFileError(path: adapter, underlying: LoRAMergeError.invalidScale(options.scale))
        }
        // Both inputs stay claimed until the end, so no output replaces either (docs/security.md, "Writing").
        let claims = [InputClaim(path: base), InputClaim(path: adapter)]
        defer { withExtendedLifetime(claims) {} }
        let baseSource = try attributing(to: base) { try ModelFile.open(base, options: options.readOptions) }
        let adapterSource = try attributing(to: adapter) { () throws -> LoRAAdapterSource in
            let source = try ModelFile.open(adapter, options: options.readOptions)
            guard let lora = source as? LoRAAdapterSource else { throw LoRAMergeError.notAnAdapter(format: source.format.rawValue) }
            return lora
        }
        var baseOptions = ConversionOptions()
        baseOptions.readOptions = options.readOptions
        let basePlan = try attributing(to: base) { try ConversionPlan(source: baseSource, options: baseOptions) }
        let resolved = try attributing(to: adapter) {
            try ResolvedLoRAAdapter(adapter: adapterSource, base: basePlan.entries, scale: options.scale)
        }
        // A merge that would materialise more than the read budget allows fails before anything is written.
        if let budgeted = baseSource.contentSource as? ReadBudgeted {
            try attributing(to: base) {
                let charge = basePlan.sourceIndices.saturatingSum { budgeted.budgetCharge(forTensorAt: $0) }
                try budgeted.readBudget.check(charge, for: "merging its \(basePlan.entries.count) tensors")
            }
        }
        let merged = LoRAMergedSource(base: basePlan, updates: resolved.updates, dtype: options.dtype)
        var writeOptions = ConversionOptions()
        writeOptions.outputFormat = options.outputFormat
        writeOptions.dtype = options.dtype
        writeOptions.maxShardBytes = options.maxShardBytes
        writeOptions.overwrite = options.overwrite
        writeOptions.progress = options.progress
        let format = options.outputFormat ?? OutputFormat(pathExtensionOf: output) ?? (options.maxShardBytes != nil ? .safetensors : nil)
        guard let format else { throw ModelFileError(path: output, underlying: ConversionError.unknownOutputFormat) }
        let plan = try attributing(to: base) { try ConversionPlan(source: merged, options: writeOptions, output: format) }
        var result = try Conversion.write(plan, format: format, output: output, options: writeOptions)
        result.selection = basePlan.selection
        result.leftOutTensorCount = baseSource.entries.count - basePlan.entries.count
        let products = resolved.updates.values.filter { $0.product != nil }.count
        return LoRAMergeResult(adapterKind: adapterSource.kind, mergedTensorCount: products,
                               replacedTensorCount: resolved.updates.count - products, conversion: result)
    }
}

/// The base seen through an adapter: tensors it changes are computed on request, the others are
/// the base's bytes.
final class LoRAMergedSource: TensorSource {
    let base: ConversionPlan
    let updates: [Int: LoRATensorUpdate]
    let entries: [TensorEntry]

    init(base: ConversionPlan, updates: [Int: LoRATensorUpdate], dtype: DType?) {
        self.base = base
        self.updates = updates
        entries = base.entries.enumerated().map { index, entry in
            guard updates[index] != nil, let dtype else { return entry }
            return TensorEntry(name: entry.name, dtype: dtype, shape: entry.shape)
        }
    }

    var path: String { base.source.path }
    /// The base's format, except that a checkpoint's weights are plain tensors now (its selection
    /// was already applied).
    var format: ModelFormat {
        let format = (base.source as? FolderSource)?.weights.format ?? base.source.format
        return [.lightningCheckpoint, .torchScript].contains(format) ? .pytorchZip : format
    }
    var fileByteCount: Int { base.source.fileByteCount }
    var metadata: [ExactString: String]? { base.source.metadata }
    var warnings: [ModelFileWarning] { base.warnings }

    /// Memory for the merged tensors, reused from one to the next (writers take them one at a time).
    private var buffer: MergeBuffer?
    /// Rows of float32 values and deltas, reused from one merged tensor to the next.
    private let scratch = MergeScratch()

    func tensor(at index: Int) throws -> RawTensor {
        let entry = base.entries[index]
        guard let update = updates[index] else { return try RawTensor(dtype: entry.dtype, shape: entry.shape, bytes: try base.bytes(at: index)) }
        let input = try update.replacement?.tensor ?? RawTensor(dtype: entry.dtype, shape: entry.shape, bytes: try base.bytes(at: index))
        return try LoRAArithmetic.apply(update, to: input, as: entries[index].dtype, reusing: &buffer, scratch: scratch)
    }

    func releaseMemory(forTensorAt index: Int) { base.release(index) }
}

/// Memory for merged tensors, reused from one tensor to the next while nobody else holds it.
final class MergeBuffer {
    let bytes: UnsafeMutableRawBufferPointer

    init(byteCount: Int) {
        bytes = UnsafeMutableRawBufferPointer.allocate(byteCount: max(byteCount, 1), alignment: 64)
    }

    deinit { bytes.deallocate() }
}

/// Working rows for ``LoRAArithmetic/compute(_:source:sourceType:count:into:as:scratch:)``, kept
/// from one tensor to the next so that their pages are faulted in once per merge, not per tensor.
final class MergeScratch {
    private(set) var values = UnsafeMutableBufferPointer<Float>.allocate(capacity: 1)
    private(set) var delta = UnsafeMutableBufferPointer<Float>.allocate(capacity: 1)
    private(set) var wide = UnsafeMutableBufferPointer<Double>.allocate(capacity: 1)

    /// Makes `values` and `delta` hold at least `capacity` floats, and `wide` `wideCapacity` doubles.
    func reserve(_ capacity: Int, wide wideCapacity: Int) {
        if values.count < capacity {
            values.deallocate()
            delta.deallocate()
            values = .allocate(capacity: capacity)
            delta = .allocate(capacity: capacity)
        }
        if wide.count < wideCapacity {
            wide.deallocate()
            wide = .allocate(capacity: wideCapacity)
        }
    }

    deinit {
        values.deallocate()
        delta.deallocate()
        wide.deallocate()
    }
}

/// The arithmetic of a merge, one base tensor at a time.
enum LoRAArithmetic {
    /// Values per block of rows computed at once.
    static let blockValues = 1 << 20

    /// `input` (the base tensor, or its replacement) with `update`'s product and addition applied,
    /// computed in float32 (float64 for a float64 input) and rounded once to `dtype`, in new memory.
    static func apply(_ update: LoRATensorUpdate, to input: RawTensor, as dtype: DType) throws -> RawTensor {
        var buffer: MergeBuffer?
        return try apply(update, to: input, as: dtype, reusing: &buffer)
    }

    /// As ``apply(_:to:as:)``, writing into `buffer` when it is large enough and held by nobody
    /// else (a new buffer otherwise, left in `buffer`). The merge streams base tensors one at a
    /// time, so one buffer serves them all and no fresh pages are faulted in per tensor.
    static func apply(_ update: LoRATensorUpdate, to input: RawTensor, as dtype: DType, reusing buffer: inout MergeBuffer?,
                      scratch: MergeScratch = MergeScratch()) throws -> RawTensor {
        guard update.product != nil || update.addition != nil else {
            guard input.dtype != dtype else { return input }
            return try RawTensor(dtype: dtype, shape: input.shape,
                                 bytes: ConversionPlan.cast(input, to: dtype, byteCount: dtype.byteCount(elementCount: input.elementCount) ?? 0))
        }
        let count = input.elementCount
        let byteCount = count * (dtype.bitWidth / 8)
        if buffer == nil || (buffer?.bytes.count ?? 0) < byteCount || !isKnownUniquelyReferenced(&buffer!) {
            buffer = MergeBuffer(byteCount: byteCount)
        }
        guard let owner = buffer else { preconditionFailure("unreachable: the buffer was just made") }
        let destination = UnsafeMutableRawBufferPointer(rebasing: owner.bytes[0..<byteCount])
        input.bytes.withUnsafeBytes { source in compute(update, source: source, sourceType: input.dtype, count: count, into: destination, as: dtype, scratch: scratch) }
        return try RawTensor(dtype: dtype, shape: input.shape, bytes: TensorBytes(borrowing: UnsafeRawBufferPointer(destination), owner: owner))
    }

    /// Row block by row block: decode the base values to float32, add `factor · left · right` (and
    /// the addition), encode to `dtype`.
    static func compute(_ update: LoRATensorUpdate, source: UnsafeRawBufferPointer, sourceType: DType, count: Int,
                        into destination: UnsafeMutableRawBufferPointer, as dtype: DType, scratch: MergeScratch) {
        let rows = update.product?.rows ?? 1
        let columns = update.product?.columns ?? count
        let inputWidth = sourceType.bitWidth / 8, outputWidth = dtype.bitWidth / 8
        let blockRows = max(1, min(rows, blockValues / max(columns, 1)))
        let capacity = blockRows * columns
        scratch.reserve(capacity, wide: sourceType == .f64 ? capacity : 1)
        let values = scratch.values, delta = scratch.delta, wide = scratch.wide
        let factor = Float(update.product?.factor ?? 0)
        var row = 0
        while row < rows {
            let n = min(blockRows, rows - row)
            let first = row * columns, length = n * columns
            let input = UnsafeRawBufferPointer(rebasing: source[(first * inputWidth)..<((first + length) * inputWidth)])
            let output = UnsafeMutableRawBufferPointer(rebasing: destination[(first * outputWidth)..<((first + length) * outputWidth)])
            if let product = update.product {
                product.left.withUnsafeBufferPointer { left in
                    product.right.withUnsafeBufferPointer { right in
                        // left is [rows × rank]: this block's rows start at row × rank.
                        MatrixProduct.multiply(left.baseAddress! + row * product.rank, right.baseAddress!, into: delta.baseAddress!,
                                               m: n, n: columns, k: product.rank)
                    }
                }
            }
            if sourceType == .f64 {
                for i in 0..<length { wide[i] = input.loadUnaligned(fromByteOffset: i * 8, as: Double.self) }
                if update.product != nil { for i in 0..<length { wide[i] += Double(delta[i] * factor) } }
                if let added = update.addition {
                    let scale = Float(added.factor)
                    for i in 0..<length { wide[i] += Double(added.values[first + i] * scale) }
                }
                if dtype == .f64 {
                    for i in 0..<length { output.storeBytes(of: wide[i], toByteOffset: i * 8, as: Double.self) }
                } else {
                    for i in 0..<length { values[i] = Float(wide[i]) }
                    encode(UnsafeBufferPointer(rebasing: values[0..<length]), as: dtype, into: output)
                }
            } else if update.addition == nil, sourceType == .bf16, dtype == .bf16,
                      let from = input.baseAddress, let to = output.baseAddress, Int(bitPattern: from) % 2 == 0 {
                // The common case, in one pass: bfloat16 in, W + delta·factor in float32, bfloat16 out.
                let inBits = from.assumingMemoryBound(to: UInt16.self), outBits = to.assumingMemoryBound(to: UInt16.self)
                let d = delta.baseAddress!
                for i in 0..<length {
                    let sum = Float(bitPattern: UInt32(inBits[i]) << 16) + d[i] * factor
                    let bits = sum.bitPattern
                    outBits[i] = bits & 0x7FFF_FFFF > 0x7F80_0000 ? 0xFFFF : UInt16(truncatingIfNeeded: (bits &+ ((bits >> 16) & 1) &+ 0x7FFF) >> 16)
                }
            } else if update.addition == nil, sourceType == .f32, dtype == .f32,
                      let from = input.baseAddress, let to = output.baseAddress, Int(bitPattern: from) % 4 == 0 {
                let inValues = from.assumingMemoryBound(to: Float.self), outValues = to.assumingMemoryBound(to: Float.self)
                let d = delta.baseAddress!
                for i in 0..<length { outValues[i] = inValues[i] + d[i] * factor }
            } else {
                decode(input, dtype: sourceType, into: values.baseAddress!, count: length)
                if update.product != nil { for i in 0..<length { values[i] += delta[i] * factor } }
                if let added = update.addition {
                    let scale = Float(added.factor)
                    added.values.withUnsafeBufferPointer { add in for i in 0..<length { values[i] += add[first + i] * scale } }
                }
                encode(UnsafeBufferPointer(rebasing: values[0..<length]), as: dtype, into: output)
            }
            row += n
        }
    }

    /// float32 values of stored elements: tight loops for the common dtypes, ElementCodec for the rest.
    static func decode(_ source: UnsafeRawBufferPointer, dtype: DType, into values: UnsafeMutablePointer<Float>, count: Int) {
        switch dtype {
        case .f32:
            if count > 0, let base = source.baseAddress { UnsafeMutableRawPointer(values).copyMemory(from: base, byteCount: count * 4) }
        case .bf16:
            for i in 0..<count { values[i] = Float(bitPattern: UInt32(source.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)) << 16) }
        default:
            ElementCodec.decode(source, dtype: dtype, into: UnsafeMutableBufferPointer(start: values, count: count))
        }
    }

    /// Stored elements of float32 values, rounded to nearest even as ElementCodec rounds them.
    static func encode(_ values: UnsafeBufferPointer<Float>, as dtype: DType, into destination: UnsafeMutableRawBufferPointer) {
        switch dtype {
        case .f32:
            if values.count > 0, let base = values.baseAddress { destination.baseAddress?.copyMemory(from: base, byteCount: values.count * 4) }
        case .bf16:
            for i in 0..<values.count {
                let bits = values[i].bitPattern
                // NaN becomes 0xFFFF, as HalfPrecision.bfloat16Bits (and torch) make it.
                let rounded = bits & 0x7FFF_FFFF > 0x7F80_0000 ? 0xFFFF : UInt16(truncatingIfNeeded: (bits &+ ((bits >> 16) & 1) &+ 0x7FFF) >> 16)
                destination.storeBytes(of: rounded, toByteOffset: i * 2, as: UInt16.self)
            }
        default:
            ElementCodec.encode(values, as: dtype, into: destination)
        }
    }
}
