import BinaryIO
import TensorData

/// The kinds of model file modelfile reads, named as in the CLI contract's `format` field.
public enum ModelFormat: String, Sendable, CaseIterable {
    /// A single `.safetensors` file.
    case safetensors
    /// `model.safetensors.index.json` plus its shards.
    case safetensorsSharded = "safetensors-sharded"
    /// `pytorch_model.bin.index.json` plus its torch archive shards.
    case pytorchSharded = "pytorch-sharded"
    /// A `torch.save` zip archive (`.pth`, `.pt`, `.bin`).
    case pytorchZip = "pytorch-zip"
    /// The pre-1.6 `torch.save` stream of pickles and raw storages.
    case pytorchLegacy = "pytorch-legacy"
    /// A PyTorch Lightning checkpoint (a zip or legacy torch file holding Lightning's keys).
    case lightningCheckpoint = "lightning-ckpt"
    /// A Hugging Face style model folder.
    case directory
    /// A TorchScript archive (`torch.jit.save`): listed read-only, its parameters and buffers by
    /// module path and its constants; its code is never run.
    case torchScript = "torchscript"
    /// A PEFT LoRA adapter: a folder holding `adapter_config.json` and `adapter_model.safetensors`
    /// (or `.bin`), or that weights file.
    case peftLoRA = "peft-lora"
    /// A kohya-style LoRA safetensors file (`lora_down` / `lora_up` / `alpha`).
    case kohyaLoRA = "kohya-lora"
    /// A NumPy `.npy` file: one array.
    case numpyNpy = "numpy-npy"
    /// A NumPy `.npz` archive: a zip of `.npy` members.
    case numpyNpz = "numpy-npz"
    /// A GGUF file (llama.cpp), versions 2 and 3.
    case gguf
}

/// One tensor as a file describes it, before its bytes are read.
public struct TensorEntry: Sendable, Equatable {
    /// The tensor's name: the safetensors key, or the dotted path in a pickle's object tree,
    /// byte for byte (compare names with ``Swift/String/isByteEqual(to:)`` or ``ExactString``).
    public let name: String
    /// Element type.
    public let dtype: DType
    /// Dimensions.
    public let shape: Shape
    /// For a quantized torch tensor read as its integers: how they map to real numbers.
    public let quantization: TensorQuantizationInfo?

    /// An entry.
    public init(name: String, dtype: DType, shape: Shape, quantization: TensorQuantizationInfo? = nil) {
        self.name = name
        self.dtype = dtype
        self.shape = shape
        self.quantization = quantization
    }

    /// Bytes of the tensor when stored contiguously: `Int.max` when that overflows (a meta tensor
    /// may declare more elements than any file holds), 0 for sub-byte elements that do not fill
    /// whole bytes.
    public var byteCount: Int {
        guard let elements = shape.checkedElementCount else { return .max }
        if let bytes = dtype.byteCount(elementCount: elements) { return bytes }
        return elements.multipliedReportingOverflow(by: dtype.bitWidth).overflow ? .max : 0
    }
    /// Number of elements.
    public var elementCount: Int { shape.elementCount }

    public static func == (lhs: TensorEntry, rhs: TensorEntry) -> Bool {
        lhs.name.isByteEqual(to: rhs.name) && lhs.dtype == rhs.dtype && lhs.shape == rhs.shape
    }
}

/// The quantization of a tensor whose entry holds its integers (docs/cli.md "Quantized tensors").
public struct TensorQuantizationInfo: Sendable, Equatable {
    /// The torch dtype (`qint8`, `quint8`, `qint32`).
    public let torchDType: String
    /// The scheme (`per_tensor_affine`, `per_channel_affine`, `per_channel_affine_float_qparams`).
    public let scheme: String
    /// The scale of a per-tensor scheme.
    public let scale: Double?
    /// The zero point of a per-tensor scheme.
    public let zeroPoint: Int64?
    /// The axis of a per-channel scheme.
    public let axis: Int?
    /// The entries that hold the parameters (`NAME.q_scale`, …), in order.
    public let parameterTensors: [String]

    /// A quantization record with every field given.
    public init(torchDType: String, scheme: String, scale: Double?, zeroPoint: Int64?, axis: Int?, parameterTensors: [String]) {
        self.torchDType = torchDType
        self.scheme = scheme
        self.scale = scale
        self.zeroPoint = zeroPoint
        self.axis = axis
        self.parameterTensors = parameterTensors
    }
}

/// A readable model file: its tensors' descriptions up front, their bytes on request.
///
/// Reading an entry's bytes is zero-copy where the file stores them contiguously in native
/// order; otherwise one tensor is materialised at a time, so a caller that handles tensors one
/// by one (a converter) keeps memory near the size of the largest tensor.
public protocol TensorSource: AnyObject {
    /// The path the file was opened from.
    var path: String { get }
    /// The detected format.
    var format: ModelFormat { get }
    /// Total bytes on disk (all shards for a sharded set).
    var fileByteCount: Int { get }
    /// safetensors `__metadata__`, or `nil`.
    var metadata: [ExactString: String]? { get }
    /// Every tensor, in file order.
    var entries: [TensorEntry] { get }
    /// Non-fatal observations made while reading (returned, never printed).
    var warnings: [ModelFileWarning] { get }
    /// The bytes of tensor `index` as a contiguous, little-endian tensor.
    ///
    /// - Throws: a format error if the bytes are missing or inconsistent.
    func tensor(at index: Int) throws -> RawTensor
    /// Tells the source the caller is done with tensor `index`, so mapped pages can be dropped.
    func releaseMemory(forTensorAt index: Int)
}

/// A source whose reads charge one ``ReadBudget``: every tensor handed out and every entry
/// inflated (docs/security.md, "Every resource a file controls has a budget").
public protocol ReadBudgeted: TensorSource {
    /// The budget this source's reads charge.
    var readBudget: ReadBudget { get }
    /// The bytes one read of entry `index` charges (its bytes as listed, unless the format says
    /// otherwise: a GGUF block tensor charges the blocks it reads, not the floats they decode to).
    func budgetCharge(forTensorAt index: Int) -> Int
}

extension ReadBudgeted {
    /// Entry `index`'s bytes as listed.
    public func budgetCharge(forTensorAt index: Int) -> Int { entries[index].byteCount }
}

extension TensorSource {
    /// Nothing to release by default.
    public func releaseMemory(forTensorAt index: Int) {}

    /// The index of the tensor named `name` (compared by bytes).
    public func index(of name: String) -> Int? { entries.firstIndex { $0.name.isByteEqual(to: name) } }

    /// Every tensor as a ``StateDict`` (zero-copy where possible).
    ///
    /// - Throws: a format error from ``tensor(at:)``, or `TensorDataError.duplicateName`.
    public func stateDict() throws -> StateDict {
        var result = StateDict()
        for index in entries.indices { try result.append(entries[index].name, try tensor(at: index)) }
        return result
    }
}
