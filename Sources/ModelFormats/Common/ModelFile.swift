import BinaryIO
import TensorData

/// Options for reading model files.
public struct ReadOptions: Sendable {
    /// Keep pickle globals outside the allowlist as inert records instead of refusing the file.
    public var allowUnknownObjects = false

    /// Default options: refuse unknown globals.
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
            return try FolderSource(path: path, weights: try open(weights, options: options))
        default:
            return try openFile(path, options: options)
        }
    }

    static func openFile(_ path: String, options: ReadOptions) throws -> TensorSource {
        switch try FormatDetector.detect(path: path) {
        case .safetensors: return try SafetensorsFile(path: path)
        case .shardIndex: return try ShardedSafetensors(indexPath: path)
        case .zipArchive, .legacyTorch:
            throw UnrecognizedFormatError(looksLike: "a PyTorch file; its reader is not built into this version")
        case .directory(let weights): return try FolderSource(path: path, weights: try open(weights, options: options))
        }
    }
}

/// A Hugging Face model folder, read through the weights file it holds.
public final class FolderSource: TensorSource {
    public let path: String
    /// The source for the weights file inside the folder.
    public let weights: TensorSource
    public var format: ModelFormat { .directory }

    init(path: String, weights: TensorSource) throws {
        self.path = path
        self.weights = weights
    }

    public var fileByteCount: Int { weights.fileByteCount }
    public var metadata: [String: String]? { weights.metadata }
    public var entries: [TensorEntry] { weights.entries }
    public var warnings: [String] { weights.warnings }
    public func tensor(at index: Int) throws -> RawTensor { try weights.tensor(at: index) }
    public func releaseMemory(forTensorAt index: Int) { weights.releaseMemory(forTensorAt: index) }
}
