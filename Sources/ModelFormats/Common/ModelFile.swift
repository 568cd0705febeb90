import BinaryIO
import PickleVM
import TensorData
import ZipFormat

/// Options for reading model files: what to do with unknown pickle globals, and the budgets for
/// everything a file controls. Every default suits real models; each can be raised.
public struct ReadOptions: Sendable {
    /// Keep pickle globals outside the allowlist as inert records instead of refusing the file.
    public var allowUnknownObjects = false
    /// Budgets of the pickle interpreter (string lengths, memo, stack, nesting, objects).
    public var pickleLimits = PickleLimits()
    /// Budgets of the zip reader (inflated bytes, entries).
    public var zipLimits = ZipReadLimits()
    /// The most nodes a pickle's object tree may expand to when its tensors are named.
    public var maxTreeNodes = 50_000_000
    /// The highest tensor rank accepted.
    public var maxTensorRank = 64
    /// The read budget beyond twice the file's size: the most bytes one read of one file may
    /// materialise is twice its size plus this. Every tensor handed out counts (so one storage
    /// viewed by many tensors counts once per view), and so do copies (zero-stride expansions,
    /// gathered or byte-swapped views) and inflated zip entries. Default 512 MiB.
    public var maxMaterializedBytes = 1 << 29
    /// Refuse a sharded set whose index and shards disagree (`verify` lists the disagreements instead).
    public var strictShards = true

    /// Default options: refuse unknown globals, default budgets.
    public init(allowUnknownObjects: Bool = false) {
        self.allowUnknownObjects = allowUnknownObjects
    }
}

/// Opens any supported model file, choosing the reader from the file's content.
public enum ModelFile {
    /// Opens `path` (a file or a Hugging Face folder).
    ///
    /// - Throws: `FileError`, `UnrecognizedFormatError`, or the format's own error type.
    public static func open(_ path: String, options: ReadOptions = ReadOptions()) throws -> TensorSource {
        switch try FormatDetector.detect(path: path) {
        case .directory(let weights):
            // The weights file must be the folder's own, not a link out of it (docs/security.md, "Folders").
            try FolderContainment(folder: path).check(weights)
            return try FolderSource(path: path, weights: try open(weights, options: options))
        case .adapterFolder(let config, let weights):
            let containment = try FolderContainment(folder: path)
            try containment.check(config)
            try containment.check(weights)
            return try LoRAAdapterSource.openFolder(path, config: config, weights: try openFile(weights, options: options))
        default:
            // A LoRA adapter file is recognised by its tensor names (docs/formats.md, "LoRA adapters").
            let source = try openFile(path, options: options)
            return try LoRAAdapterSource.recognizing(source) ?? source
        }
    }

    static func openFile(_ path: String, options: ReadOptions) throws -> TensorSource {
        switch try FormatDetector.detect(path: path) {
        case .safetensors: return try SafetensorsFile(path: path)
        case .shardIndex: return try ShardedModel(indexPath: path, strict: options.strictShards, options: options)
        case .zipArchive, .legacyTorch: return try TorchFile(path: path, options: options)
        case .numpyArray, .numpyArchive: return try NumPyFile(path: path, options: options)
        case .gguf: return try GGUFFile(path: path, options: options)
        case .directory, .adapterFolder: return try open(path, options: options)
        }
    }
}

/// A Hugging Face model folder, read through the weights file it holds.
public final class FolderSource: TensorSource {
    /// The path the source was opened from.
    public let path: String
    /// The source for the weights file inside the folder.
    public let weights: TensorSource
    /// Always ``ModelFormat/directory``.
    public var format: ModelFormat { .directory }

    init(path: String, weights: TensorSource) throws {
        self.path = path
        self.weights = weights
    }

    /// The weights file's bytes on disk.
    public var fileByteCount: Int { weights.fileByteCount }
    /// The weights file's metadata.
    public var metadata: [ExactString: String]? { weights.metadata }
    /// The weights file's tensors, in its order.
    public var entries: [TensorEntry] { weights.entries }
    /// The weights file's warnings.
    public var warnings: [ModelFileWarning] { weights.warnings }
    /// The bytes of the weights file's tensor `index`.
    public func tensor(at index: Int) throws -> RawTensor { try weights.tensor(at: index) }
    /// Lets the weights file drop tensor `index`'s pages.
    public func releaseMemory(forTensorAt index: Int) { weights.releaseMemory(forTensorAt: index) }
}
