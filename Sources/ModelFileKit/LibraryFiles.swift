#if canImport(Glibc)
import Glibc
#endif
import BinaryIO
import HubClient
import ModelFormats
import TensorData
import TensorNN

// The one-call file functions of the library (docs/library.md, "Saving and loading" and "Files
// made by other tools"): load any readable file as a state dict, save a state dict by extension,
// load a module's parameters from a file and save them, and inspect or scan a file as values. Each
// does what the matching command does, without any wording or output of its own.

extension ModelFile {
    /// The weights in the file, folder or sharded set at `path`, as a state dict in file order.
    ///
    /// The format is detected from the content, never the extension: safetensors (single,
    /// sharded, or a Hugging Face model folder), PyTorch zip and legacy files, Lightning
    /// checkpoints, training checkpoints, NumPy `.npy` (the array under the file's name) and
    /// `.npz` (each array under its name), and GGUF (every tensor as float32: block types
    /// dequantized, float16 widened, as `modelfile convert` does). Of a checkpoint, the weights are returned as
    /// `convert` selects them (docs/cli.md, `convert`): a Lightning checkpoint's `state_dict`
    /// entries under their own names (`model.linear1.weight`), a training checkpoint's model
    /// weights, a TorchScript archive's parameters and buffers. Values keep their stored dtype;
    /// `try Tensor(raw)` converts one to float32.
    ///
    /// `path` may also name a repository in the local Hugging Face cache, `org/name` (when no file
    /// or folder of that name exists): its snapshot of `main` is read, as the commands read it.
    ///
    /// Tensors stored contiguously are not copied: they stay mapped from the file until the state
    /// dict is released (and until then the file cannot be replaced by a save: the input is never
    /// the output, docs/security.md).
    ///
    /// - Parameter hubCache: the Hugging Face cache folder `org/name` is looked up in; by default
    ///   the one huggingface_hub uses (`HF_HUB_CACHE`, else `$HF_HOME/hub`, else
    ///   `~/.cache/huggingface/hub`).
    /// - Throws: ``ModelFileError`` naming the file and the fault: a refused global
    ///   (`archive/data.pkl at byte 169: unsupported global posix.system`), a corrupt or
    ///   truncated file (with the entry or byte offset), content that is not a model file.
    public static func load(_ path: String, options: ReadOptions = ReadOptions(), hubCache: String? = nil) throws -> StateDict {
        let path = resolved(path, hubCache: hubCache)
        let source = try attributing(to: path) { try ModelFile.open(path, options: options) }
        return try attributing(to: path) {
            let plan = try ConversionPlan(source: source, options: ConversionOptions())
            var result = StateDict()
            for index in plan.entries.indices {
                let entry = plan.entries[index]
                try result.append(entry.name, try RawTensor(dtype: entry.dtype, shape: entry.shape, bytes: try plan.bytes(at: index)))
            }
            return result
        }
    }

    /// Writes `stateDict` to `path` in the format its extension names, atomically (a temporary
    /// file renamed into place when complete; an existing file is replaced):
    ///
    /// - `.safetensors`: with `metadata` as `__metadata__` (none when `nil`), as
    ///   `safetensors.torch.save_file` writes it;
    /// - `.pth`, `.pt`, `.bin`: an `OrderedDict` of the tensors, as `torch.save(state_dict)`
    ///   writes it (`torch.load(weights_only=True)` reads it);
    /// - `.ckpt`: a Lightning checkpoint holding the tensors as its `state_dict`;
    /// - `.npz`: one `NAME.npy` member per tensor, as `numpy.savez` writes it; `.npy`: the one
    ///   tensor of a state dict that holds exactly one, as `numpy.save` writes it;
    /// - `.gguf`: tensors in their plain GGUF types (F32, F16, BF16, F64, integers), with
    ///   `general.architecture`, `general.name` (the file name, unless `metadata` gives them) and
    ///   each `metadata` entry as a string, as `modelfile convert` writes GGUF.
    ///
    /// Tensors are written in their own dtypes and names, in order.
    ///
    /// - Throws: ``ModelFileError`` wrapping ``LibraryFileError`` for an extension that names no
    ///   format or metadata the format cannot store, or the writer's error (a dtype the format
    ///   cannot store, a file-system failure).
    public static func save(_ stateDict: StateDict, to path: String, metadata: [String: String]? = nil) throws {
        try attributing(to: path) {
            guard let format = OutputFormat(pathExtensionOf: path) else { throw LibraryFileError.unknownExtension(path: path) }
            if metadata != nil && !format.storesMetadata { throw LibraryFileError.metadataNotStored(format: format.rawValue) }
            let items = Array(stateDict)
            let entries = items.map { TensorEntry(name: $0.name, dtype: $0.tensor.dtype, shape: $0.tensor.shape) }
            switch format {
            case .safetensors:
                try SafetensorsWriter.write(to: path, entries: entries, metadata: metadata.map(exactKeys), overwrite: true,
                                            tensorBytes: { items[$0].tensor.bytes })
            case .pth:
                try TorchWriter.write(stateDict, to: path, overwrite: true)
            case .ckpt:
                try CheckpointWriter.writeWeights(entries: entries, to: path, overwrite: true, tensorBytes: { items[$0].tensor.bytes })
            case .npz:
                try NumPyWriter.writeNpz(to: path, entries: entries, overwrite: true, tensorBytes: { items[$0].tensor.bytes })
            case .gguf:
                let source = StateDictSource(path: path, stateDict: stateDict, metadata: metadata)
                var options = ConversionOptions()
                options.overwrite = true
                _ = try Conversion.writeGGUF(try ConversionPlan(source: source, options: options, output: .gguf), to: path, options: options)
            case .npy:
                guard let entry = entries.first, let item = items.first, entries.count == 1 else {
                    throw LibraryFileError.npyHoldsOneTensor(count: entries.count)
                }
                try NumPyWriter.writeNpy(to: path, entry: entry, overwrite: true, tensorBytes: { item.tensor.bytes })
            }
        }
    }

    /// What `modelfile inspect` reports for `path`, as a value: ``Inspection/tensors`` (name,
    /// dtype, shape of each), ``Inspection/totals``, ``Inspection/globals`` of a pickle,
    /// ``Inspection/warnings`` (each a typed ``ModelFileWarning`` with a `code` and a `message`).
    /// Only headers and pickles are read, never tensor bytes.
    ///
    /// - Parameter filter: a shell glob (`*.weight`); only matching tensors are listed and counted.
    /// - Throws: ``ModelFileError`` naming the file and the fault.
    public static func inspect(_ path: String, filter: String? = nil, options: ReadOptions = ReadOptions(), hubCache: String? = nil) throws -> Inspection {
        try Inspection.inspect(path: resolved(path, hubCache: hubCache), filter: filter, options: options)
    }

    /// What `modelfile scan` reports for `path` (a file, a sharded set's index, or a folder), as a
    /// value: ``ScanReport/globals`` (module, name, verdict), ``ScanReport/findings`` (each a
    /// typed ``ScanFinding`` with a `code` and a `message`), ``ScanReport/isClean``. Nothing in
    /// the file is interpreted or loaded.
    ///
    /// - Throws: ``ModelFileError`` when the path cannot be read or is not a model file.
    public static func scan(_ path: String, hubCache: String? = nil) throws -> ScanReport {
        try ScanReport.scan(path: resolved(path, hubCache: hubCache))
    }

    /// `path` itself when something exists there or it names no repository of the Hugging Face
    /// cache; else that repository's weights (a cached `org/name`, ``HubCache/modelPath(for:)``).
    static func resolved(_ path: String, hubCache: String?) -> String {
        guard let hubCache else { return resolvedModelPath(path) }
        var info = stat()
        if path.hasPrefix("hf://") || lstat(path, &info) == 0 { return path }
        return HubCache(root: hubCache).modelPath(for: path) ?? path
    }
}

extension OutputFormat {
    /// Whether the format has a place for string metadata (``ModelFile/save(_:to:metadata:)``).
    var storesMetadata: Bool { self == .safetensors || self == .gguf }
}

/// Why ``ModelFile/save(_:to:metadata:)`` cannot write a file.
public enum LibraryFileError: Error, Equatable, CustomStringConvertible {
    /// The extension of `path` names no format the library writes.
    case unknownExtension(path: String)
    /// Metadata was given for a format that has no place for it.
    case metadataNotStored(format: String)
    /// A `.npy` file holds one array; the state dict has `count` tensors.
    case npyHoldsOneTensor(count: Int)

    /// One line: what was asked and what is possible.
    public var description: String {
        switch self {
        case .unknownExtension:
            let known = OutputFormat.allCases.map(\.rawValue).joined(separator: ", ")
            return "the extension names no format the library writes (\(known); .pt and .bin are written as .pth)"
        case .metadataNotStored(let format):
            return "\(format) files have no place for string metadata (safetensors and GGUF have)"
        case .npyHoldsOneTensor(let count):
            return "a .npy file holds one array; the state dict has \(count) tensors (save it as .npz)"
        }
    }
}

extension Module {
    /// Fills the module's parameters from the weights in the file at `path` (any format
    /// ``ModelFile/load(_:options:hubCache:)`` reads, a cached `org/name` too), converting any
    /// real dtype to float32.
    ///
    /// With `strict` (the default) every parameter must be in the file with its shape and the file
    /// must hold nothing else (after `prefix`); every name and shape is checked before anything
    /// changes, so a failing load leaves the module as it was. With `prefix` (`"model."` for a
    /// Lightning checkpoint of a module stored as `self.model`) only the entries whose names start
    /// with it are used, with the prefix removed; the others are ignored. Without `strict`, what
    /// matches is loaded and the report lists the rest (`report.missing`, `report.unexpected`).
    ///
    /// - Throws: ``ModelFileError`` when the file cannot be read;
    ///   ``NNError/unreflectableProperty(module:property:kind:)`` for a module whose parameters
    ///   reflection cannot name; ``NNError/stateDictMismatch(missing:unexpected:shapeMismatches:)`` when a strict load
    ///   does not match (nothing is changed); ``NNError/unconvertibleTensor(name:dtype:)`` for a
    ///   complex tensor.
    @discardableResult
    public func load(from path: String, strict: Bool = true, prefix: String = "", options: ReadOptions = ReadOptions(),
                     hubCache: String? = nil) throws -> StateDictLoadReport {
        try loadStateDict(try ModelFile.load(path, options: options, hubCache: hubCache), strict: strict, prefix: prefix)
    }

    /// Saves the parameters (``stateDict(as:)``: PyTorch's names and order, float32 unless
    /// `dtype` says otherwise) to `path`, in the format its extension names
    /// (``ModelFile/save(_:to:metadata:)``). A file saved this way loads into the PyTorch class
    /// with `load_state_dict(strict=True)`.
    ///
    /// - Throws: ``ModelFileError`` as ``ModelFile/save(_:to:metadata:)`` does;
    ///   ``NNError/unreflectableProperty(module:property:kind:)`` for a module whose parameters
    ///   reflection cannot name (``Module/checkReflection()``), before anything is written.
    public func save(to path: String, metadata: [String: String]? = nil, dtype: DType = .f32) throws {
        try checkReflection()
        try ModelFile.save(stateDict(as: dtype), to: path, metadata: metadata)
    }
}

/// A state dict in memory as a source, so that a writer that takes a conversion plan (GGUF) can
/// write it.
final class StateDictSource: TensorSource {
    let path: String
    let items: [(name: String, tensor: RawTensor)]
    let entries: [TensorEntry]
    let metadata: [ExactString: String]?

    /// `stateDict` as a source named `path` (the output, whose name GGUF records), with `metadata`.
    init(path: String, stateDict: StateDict, metadata: [String: String]?) {
        self.path = path
        items = Array(stateDict)
        entries = items.map { TensorEntry(name: $0.name, dtype: $0.tensor.dtype, shape: $0.tensor.shape) }
        self.metadata = metadata.map(exactKeys)
    }

    var format: ModelFormat { .safetensors }
    var fileByteCount: Int { entries.reduce(0) { $0.saturatingAdded($1.byteCount) } }
    var warnings: [ModelFileWarning] { [] }
    func tensor(at index: Int) throws -> RawTensor { items[index].tensor }
}

/// `metadata` with its keys compared by their bytes, as the writers take it.
func exactKeys(_ metadata: [String: String]) -> [ExactString: String] {
    var result: [ExactString: String] = [:]
    for (key, value) in metadata { result[ExactString(key)] = value }
    return result
}
