import BinaryIO
import ExactText
import TensorData

#if canImport(Glibc)
import Glibc
#endif

// LoRA adapter files (docs/formats.md, "LoRA adapters"), recognised by their content:
//
// - a PEFT adapter folder: `adapter_config.json` beside `adapter_model.safetensors` (or `.bin`, a
//   torch archive read through the restricted unpickler), tensors named
//   `base_model.model.<module>.lora_A.weight` [r, in] and `….lora_B.weight` [out, r];
// - the `adapter_model.*` file alone (its config is the `adapter_config.json` beside it, if any);
// - a kohya-style safetensors file: `<prefix>_<module path, dots as _>.lora_down.weight`,
//   `.lora_up.weight` and an optional `.alpha`.
//
// The adapter's tensors are read through the file's own reader; this type only adds the kind and
// the config.

/// The two LoRA adapter layouts modelfile reads.
public enum LoRAAdapterKind: String, Sendable, CaseIterable {
    /// A Hugging Face PEFT adapter (folder, or its `adapter_model.*` file).
    case peft = "peft-lora"
    /// A kohya-style safetensors file (`lora_down` / `lora_up` / `alpha`).
    case kohya = "kohya-lora"
}

/// A LoRA adapter opened as a tensor source: its weights file's tensors, plus its kind and (for
/// PEFT) its parsed `adapter_config.json`.
public final class LoRAAdapterSource: TensorSource {
    /// The path given: the folder, or the weights file.
    public let path: String
    /// PEFT or kohya.
    public let kind: LoRAAdapterKind
    /// The source of the weights file (`adapter_model.safetensors`, `adapter_model.bin`, the kohya file).
    public let weights: TensorSource
    /// The config's path, when there is one.
    public let configPath: String?
    /// The parsed config (PEFT adapters that have one).
    public let config: PEFTLoRAConfig?
    /// The config's size in bytes (counted in ``fileByteCount``).
    private let configByteCount: Int
    /// The config file, kept mapped (and so claimed as an input) while the source lives.
    private let configFile: MappedFile?

    /// The file names of a PEFT folder, in the order PEFT looks for them.
    public static let peftWeightNames = ["adapter_model.safetensors", "adapter_model.bin"]
    /// The config's file name.
    public static let configName = "adapter_config.json"

    /// `.peftLoRA` or `.kohyaLoRA`, after ``kind``.
    public var format: ModelFormat { kind == .peft ? .peftLoRA : .kohyaLoRA }
    /// The weights file's bytes plus the config's.
    public var fileByteCount: Int { weights.fileByteCount + configByteCount }
    /// The weights file's safetensors `__metadata__`, or `nil`.
    public var metadata: [ExactString: String]? { weights.metadata }
    /// The weights file's tensors, in file order.
    public var entries: [TensorEntry] { weights.entries }
    /// The weights file's reader warnings.
    public var warnings: [ModelFileWarning] { weights.warnings }
    /// Tensor `index` of the weights file.
    ///
    /// - Throws: the weights file's format errors.
    public func tensor(at index: Int) throws -> RawTensor { try weights.tensor(at: index) }
    /// Passes the release on to the weights file's source.
    public func releaseMemory(forTensorAt index: Int) { weights.releaseMemory(forTensorAt: index) }

    /// A PEFT adapter read from `weights`, with the config at `configPath` (if any).
    ///
    /// - Throws: `FileError`, ``LoRAAdapterError``.
    init(path: String, kind: LoRAAdapterKind, weights: TensorSource, configPath: String?) throws {
        self.path = path
        self.kind = kind
        self.weights = weights
        self.configPath = configPath
        if let configPath {
            let file = try MappedFile(path: configPath)
            configFile = file
            configByteCount = file.count
            do { config = try PEFTLoRAConfig.parse(file.bytes) } catch let error as LoRAAdapterError {
                throw LoRAAdapterError.inConfig(path: configPath, error)
            }
        } else {
            configFile = nil
            configByteCount = 0
            config = nil
        }
    }

    /// The layout `names` follow, if they are a LoRA adapter's: PEFT names hold `.lora_A.` /
    /// `.lora_B.` / `.lora_embedding_A`; kohya names end with `.lora_down.weight` / `.lora_up.weight`.
    public static func kind(ofTensorNames names: [String]) -> LoRAAdapterKind? {
        var peft = false, kohya = false
        for name in names {
            if name.contains(".lora_A.") || name.contains(".lora_B.") || name.hasSuffix(".lora_embedding_A") || name.hasSuffix(".lora_embedding_B") {
                peft = true
            } else if name.hasSuffix(".lora_down.weight") || name.hasSuffix(".lora_up.weight") {
                kohya = true
            }
        }
        if peft { return .peft }
        return kohya ? .kohya : nil
    }

    /// `source` as an adapter when its tensor names are a LoRA adapter's (a PEFT file gets the
    /// `adapter_config.json` beside it, if there is one), else `nil`. Only safetensors files and
    /// plain torch archives are adapters; a kohya adapter is a safetensors file.
    ///
    /// - Throws: `FileError`, ``LoRAAdapterError`` for a config beside it that cannot be used.
    static func recognizing(_ source: TensorSource) throws -> LoRAAdapterSource? {
        guard [.safetensors, .pytorchZip, .pytorchLegacy].contains(source.format),
              let kind = kind(ofTensorNames: source.entries.map(\.name)) else { return nil }
        guard kind == .peft else {
            return source.format == .safetensors ? try LoRAAdapterSource(path: source.path, kind: .kohya, weights: source, configPath: nil) : nil
        }
        let config = folder(of: source.path) + "/" + configName
        var info = stat()
        let hasConfig = stat(config, &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG
        return try LoRAAdapterSource(path: source.path, kind: .peft, weights: source, configPath: hasConfig ? config : nil)
    }

    /// The folder part of `path` (`.` when there is none).
    static func folder(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        let folder = path[..<slash]
        return folder.isEmpty ? "/" : String(folder)
    }

    /// Opens the PEFT adapter folder `folder` whose config and weights file were found by detection.
    static func openFolder(_ folder: String, config: String, weights: TensorSource) throws -> LoRAAdapterSource {
        try LoRAAdapterSource(path: folder, kind: .peft, weights: weights, configPath: config)
    }
}

/// A LoRA adapter that cannot be used: its config is not a LoRA config, or it is another kind of adapter.
public enum LoRAAdapterError: Error, Equatable, CustomStringConvertible {
    /// `adapter_config.json` is not what PEFT writes for LoRA.
    case invalidConfig(String)
    /// The folder holds another PEFT adapter kind (`peft_type`).
    case unsupportedPEFTType(String)
    /// A config fault, located in the config file.
    indirect case inConfig(path: String, LoRAAdapterError)

    public var description: String {
        switch self {
        case .invalidConfig(let reason): return "not a PEFT LoRA config: \(reason)"
        case .unsupportedPEFTType(let type):
            return "a PEFT \(PEFTLoRAConfig.kindName(ofPEFTType: type)) adapter (peft_type \(type.quotedForMessage)); modelfile reads and merges LoRA adapters only"
        case .inConfig(let path, let error): return "\(path): \(error)"
        }
    }
}
