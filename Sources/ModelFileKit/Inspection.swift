import BinaryIO
import HubClient
import ModelFormats
import TensorData

/// What `modelfile inspect` reports: everything read from headers and pickles, never from
/// tensor bytes, so its cost does not grow with the size of the weights.
public struct Inspection {
    /// The path inspected.
    public let path: String
    /// The detected format.
    public let format: ModelFormat
    /// Bytes on disk.
    public let fileBytes: Int
    /// safetensors `__metadata__`, or `nil`; keys compare by their bytes.
    public let metadata: [ExactString: String]?
    /// The tensors listed (all, or those matching `--filter`), in file order.
    public let tensors: [TensorEntry]
    /// Non-fatal observations.
    public let warnings: [ModelFileWarning]
    /// What a pickle format adds: globals with verdicts, plain values, storages, and for a
    /// checkpoint its summary; `nil` for formats without a pickle.
    public let torch: TorchDetails?
    /// A LoRA adapter's kind, ranks, alphas and targets (docs/cli.md, "LoRA adapters"); `nil` for other files.
    public let adapter: AdapterSummary?
    /// What a GGUF file adds: version, alignment, typed metadata, ggml types and offsets.
    public let gguf: GGUFDetails?

    /// Inspects `path`.
    ///
    /// - Parameter filter: a shell glob (`*.weight`, `encoder.layers.?.*`); only matching
    ///   tensor names are listed and counted.
    /// - Throws: `ModelFileError` naming the file and the fault.
    /// - Parameter checksums: read every byte of every file and give its SHA-256 (`--checksums`).
    /// - Parameter tree: count parameters per module (`--tree`).
    public static func inspect(path: String, filter: String? = nil, checksums: Bool = false, tree: Bool = false,
                               options: ReadOptions = ReadOptions()) throws -> Inspection {
        try attributing(to: path) {
            if path.hasPrefix("hf://") {
                let source = try RemoteInspection.open(path, configuration: try HubConfiguration.fromEnvironment())
                return try Inspection(source: source, filter: filter, checksums: checksums, tree: tree)
            }
            let source = try ModelFile.open(path, options: options)
            return try Inspection(source: source, filter: filter, checksums: checksums, tree: tree)
        }
    }

    /// A file of a folder or sharded set (docs/cli.md, "Folders and sharded sets").
    public struct File: Sendable {
        /// Relative to the folder (the index's folder for a sharded set).
        public let path: String
        /// Its size.
        public let bytes: Int
        /// Its SHA-256 as lower-case hex, with `--checksums`.
        public private(set) var sha256: String?
    }

    /// A module of the weights (`--tree`): a dotted prefix of a weight name.
    public struct Module: Sendable, Equatable {
        /// The prefix (`encoder.0`).
        public let name: String
        /// Names under it, tied aliases included.
        public let tensors: Int
        /// Its parameters, each tensor once.
        public let parameters: Int
    }

    /// Groups of names that are one tensor, each sorted by bytes, the groups sorted by their first name.
    public let tied: [[String]]
    /// For a folder or a sharded set: every file read (`nil` for a single file).
    public private(set) var files: [File]?
    /// For a folder or a sharded set: each listed tensor's file, relative to the folder.
    public let tensorFiles: [String]?
    /// The SHA-256 of a single file, with `--checksums`.
    public private(set) var sha256: String?
    /// Per-module counts, with `--tree` (`nil` otherwise), parents before children.
    public let modules: [Module]?

    /// The inspection of an open source, without checksums or the module tree.
    public init(source: TensorSource, filter: String? = nil) {
        // Without checksums nothing is read, so nothing can fail.
        self.init(unchecked: source, filter: filter, checksums: false, tree: false)
    }

    /// The inspection of an open source.
    ///
    /// - Throws: `FileError` when `checksums` cannot read a file.
    public init(source: TensorSource, filter: String? = nil, checksums: Bool, tree: Bool) throws {
        self.init(unchecked: source, filter: filter, checksums: false, tree: tree)
        if checksums {
            if let files {
                let folder = Inspection.folder(of: source)
                self.files = try files.map { file in
                    File(path: file.path, bytes: file.bytes, sha256: try FileChecksum.sha256(path: folder + "/" + file.path))
                }
            } else if !source.path.hasPrefix("hf://") {
                sha256 = try FileChecksum.sha256(path: source.path)
            }
        }
    }

    private init(unchecked source: TensorSource, filter: String?, checksums: Bool, tree: Bool) {
        path = source.path
        format = source.format
        fileBytes = source.fileByteCount
        let ggufFile = source as? GGUFFile
        metadata = ggufFile == nil ? source.metadata : nil  // GGUF metadata is typed: see `gguf`
        let listed: [Int]
        if let filter {
            let glob = ScalarGlob(filter)
            listed = source.entries.indices.filter { glob.matches(source.entries[$0].name) }
        } else {
            listed = Array(source.entries.indices)
        }
        tensors = listed.count == source.entries.count ? source.entries : listed.map { source.entries[$0] }
        warnings = source.warnings
        sha256 = nil
        let layout = Inspection.fileLayout(of: source)
        files = layout?.files
        tensorFiles = layout.map { layout in listed.map { layout.fileOfTensor[$0] } }
        torch = (source.contentSource as? TorchFile).map(TorchDetails.init)
        adapter = (source as? LoRAAdapterSource).map(AdapterSummary.init)
        gguf = ggufFile.map { GGUFDetails(file: $0, listed: listed) }
        // totals.parameters (docs/cli.md, inspect): the listed entries the source counts as
        // weights, each tensor once however many names it has.
        let inner: TensorSource = source.contentSource
        let rules = (inner as? ParameterCountingSource)?.parameterCounting
        var seen = Set<AnyHashable>()
        var parameters = 0
        for index in listed {
            if let rules {
                guard rules[index].counts else { continue }
                if let tensor = rules[index].tensor, !seen.insert(tensor).inserted { continue }
            }
            // Sizes come from the file: a sum over many huge views saturates instead of trapping.
            parameters = parameters.saturatingAdded(source.entries[index].elementCount)
        }
        parameterCount = parameters
        // Tied tensors: one identity shared by several entries, or safetensors aliases.
        let aliases = TiedTensors.aliases(of: source)
        var groups: [AnyHashable: [String]] = [:]
        if let rules {
            // Ties among the weights only, as counted.
            for index in listed where rules[index].counts {
                guard let key = rules[index].tensor else { continue }
                groups[key, default: []].append(source.entries[index].name)
            }
        }
        if !aliases.isEmpty {
            let isListed = listed.count == source.entries.count ? nil : Set(listed)
            for (index, names) in aliases where isListed?.contains(index) ?? true {
                groups[AnyHashable(index)] = [source.entries[index].name] + names
            }
        }
        tied = groups.values.filter { $0.count > 1 }
            .map { $0.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) } }
            .sorted { Array($0[0].utf8).lexicographicallyPrecedes(Array($1[0].utf8)) }
        modules = tree ? Inspection.moduleTree(source: source, listed: listed, rules: rules, aliases: aliases) : nil
    }

    /// The modules of the weights: every dotted prefix of a counted weight name (relative to
    /// `state_dict` in a checkpoint), aliases included, each tensor counted once per module.
    static func moduleTree(source: TensorSource, listed: [Int], rules: [(counts: Bool, tensor: AnyHashable?)]?,
                           aliases: [Int: [String]]) -> [Module] {
        var underStateDict = false
        if let file = ((source as? FolderSource)?.weights ?? source) as? TorchFile, case .dict(let top) = file.root, top["state_dict"] != nil {
            underStateDict = true
        }
        var counts: [ExactString: (name: [Substring], tensors: Int, parameters: Int, seen: Set<AnyHashable>)] = [:]
        for index in listed {
            if let rules, !rules[index].counts { continue }
            let identity = rules?[index].tensor ?? AnyHashable(index)
            let elements = source.entries[index].elementCount
            for var name in [source.entries[index].name] + (aliases[index] ?? []) {
                if underStateDict, let rest = name.droppingBytePrefix("state_dict.") { name = rest }
                let parts = name.split(separator: ".", omittingEmptySubsequences: false)
                guard parts.count > 1 else { continue }
                for depth in 1..<parts.count {
                    let key = ExactString(parts[..<depth].joined(separator: "."))
                    var entry = counts[key] ?? (Array(parts[..<depth]), 0, 0, [])
                    entry.tensors += 1
                    if entry.seen.insert(identity).inserted { entry.parameters = entry.parameters.saturatingAdded(elements) }
                    counts[key] = entry
                }
            }
        }
        return counts.values.sorted { a, b in
            a.name.lexicographicallyPrecedes(b.name) { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
        }.map { Module(name: $0.name.joined(separator: "."), tensors: $0.tensors, parameters: $0.parameters) }
    }

    /// The folder a folder source or a sharded set's files are relative to.
    static func folder(of source: TensorSource) -> String {
        if source is FolderSource { return source.path }
        return source.path.lastIndex(of: "/").map { String(source.path[..<$0]) } ?? "."
    }

    /// For a folder or a sharded set: the files read and each entry's file; `nil` for a single file.
    static func fileLayout(of source: TensorSource) -> (files: [File], fileOfTensor: [String])? {
        let inner = (source as? FolderSource)?.weights ?? source
        let folder = folder(of: source)
        func relative(_ path: String) -> String { path.droppingBytePrefix(folder + "/") ?? path }
        if let sharded = inner as? ShardedModel {
            var files: [File] = []
            if !sharded.path.hasPrefix("hf://"), let size = FileChecksum.size(path: sharded.path) {
                files.append(File(path: relative(sharded.path), bytes: size, sha256: nil))
            }
            files += sharded.shards.map { File(path: $0.name, bytes: $0.source.fileByteCount, sha256: nil) }
            return (files, sharded.entries.indices.map { sharded.shardName(ofTensorAt: $0) })
        }
        guard source is FolderSource else { return nil }
        let name = relative(inner.path)
        return ([File(path: name, bytes: inner.fileByteCount, sha256: nil)], Array(repeating: name, count: inner.entries.count))
    }

    /// Whether `name` matches the shell glob `glob` (`*`, `?`, `[...]`; `*` also crosses dots),
    /// scalar by scalar: never normalized, and a name holding U+0000 is matched whole.
    public static func matches(_ name: String, glob: String) -> Bool {
        ScalarGlob(glob).matches(name)
    }

    /// The parameter count of the listed tensors: every element of each model weight once, without
    /// optimizer state (and, for a pickle whose top-level dict has `state_dict`, only what is under
    /// it), tied tensors counted once (docs/cli.md, `totals.parameters`).
    public let parameterCount: Int
    /// Total bytes across the listed tensors.
    public var tensorBytes: Int { tensors.saturatingSum(\.byteCount) }

    /// The `totals` of the JSON document, as a value.
    public struct Totals: Sendable, Equatable {
        /// The number of tensors listed (`totals.tensors`).
        public let tensors: Int
        /// The parameter count (`totals.parameters`, ``Inspection/parameterCount``).
        public let parameters: Int
        /// Bytes across the listed tensors (`totals.nbytes`): as stored, for GGUF's block types.
        public let nbytes: Int
    }

    /// Tensor count, parameter count and bytes of the listed tensors (the JSON's `totals`).
    public var totals: Totals { Totals(tensors: tensors.count, parameters: parameterCount, nbytes: gguf?.storedBytes ?? tensorBytes) }

    /// The globals a pickle names, once each, with their verdicts (the JSON's `globals`); empty for
    /// formats without a pickle.
    public var globals: [TorchDetails.Global] { torch?.globals ?? [] }

    /// Tensor count and bytes per dtype, largest first.
    public var byDType: [(dtype: DType, tensors: Int, bytes: Int)] {
        // A handful of dtypes at most: a short list beats hashing once per tensor.
        var totals: [(dtype: DType, tensors: Int, bytes: Int)] = []
        var last = -1
        for entry in tensors {
            if last < 0 || totals[last].dtype != entry.dtype {
                last = totals.firstIndex { $0.dtype == entry.dtype } ?? -1
                if last < 0 {
                    totals.append((entry.dtype, 0, 0))
                    last = totals.count - 1
                }
            }
            totals[last].tensors += 1
            totals[last].bytes = totals[last].bytes.saturatingAdded(entry.byteCount)
        }
        return totals.sorted { ($0.bytes, $0.dtype.rawValue) > ($1.bytes, $1.dtype.rawValue) }
    }

    /// The `modelfile.inspect/1` JSON document, long GGUF arrays summarised.
    public var json: JSONValue { json(full: false) }

    /// The `modelfile.inspect/1` JSON document; `full` carries every GGUF array in full.
    public func json(full: Bool) -> JSONValue {
        var members: [(String, JSONValue)] = [
            ("schema", "modelfile.inspect/1"),
            ("path", .string(path)),
            ("format", .string(format.rawValue)),
            ("file_bytes", .int(fileBytes)),
        ]
        if let sha256 { members.append(("sha256", .string(sha256))) }
        if let files {
            members.append(("files", .array(files.map { file in
                var fields: [(String, JSONValue)] = [("path", .string(file.path)), ("bytes", .int(file.bytes))]
                if let sha256 = file.sha256 { fields.append(("sha256", .string(sha256))) }
                return .object(fields)
            })))
        }
        if let gguf { members += [("version", .int(Int(gguf.version))), ("alignment", .int(gguf.alignment))] }
        let metadataJSON = gguf?.metadataJSON(full: full)
            ?? metadata.map { meta in .object(meta.keys.sorted().map { ($0.string, .string(meta[$0] ?? "")) }) } ?? .null
        // For GGUF, nbytes is the stored size (blocks), as gguf-py's n_bytes.
        var byDTypeJSON = byDType.map { ($0.dtype.rawValue, JSONValue.object([("tensors", .int($0.tensors)), ("nbytes", .int($0.bytes))])) }
        if let gguf {
            var stored: [DType: (Int, Int)] = [:]
            for (entry, info) in zip(tensors, gguf.tensors) {
                let (count, bytes) = stored[entry.dtype, default: (0, 0)]
                stored[entry.dtype] = (count + 1, bytes.saturatingAdded(info.byteCount))
            }
            byDTypeJSON = stored.sorted { ($0.value.1, $0.key.rawValue) > ($1.value.1, $1.key.rawValue) }
                .map { ($0.key.rawValue, .object([("tensors", .int($0.value.0)), ("nbytes", .int($0.value.1))])) }
        }
        var totalMembers: [(String, JSONValue)] = [
            ("tensors", .int(totals.tensors)), ("parameters", .int(totals.parameters)), ("nbytes", .int(totals.nbytes)),
            ("by_dtype", .object(byDTypeJSON)),
        ]
        if let gguf {
            totalMembers.append(("by_ggml_type", .object(gguf.byGGMLType.map { ($0.type.name, .object([("tensors", .int($0.tensors)), ("nbytes", .int($0.bytes))])) })))
        }
        members += [
            ("metadata", metadataJSON),
            ("tensors", .array(tensors.enumerated().map { index, entry in
                var fields: [(String, JSONValue)] = [
                    ("name", .string(entry.name)), ("dtype", .string(entry.dtype.rawValue)),
                    ("shape", .array(entry.shape.dimensions.map { .int($0) })),
                    ("numel", .int(entry.elementCount)), ("nbytes", .int(entry.byteCount)),
                ]
                if let gguf {
                    fields.removeLast()
                    fields.insert(("ggml_type", .string(gguf.tensors[index].type.name)), at: 2)
                    fields += [("nbytes", .int(gguf.tensors[index].byteCount)), ("offset", .int(gguf.tensors[index].fileOffset))]
                }
                if let quantization = entry.quantization { fields.append(("quantization", Inspection.json(quantization))) }
                if let tensorFiles { fields.append(("file", .string(tensorFiles[index]))) }
                return .object(fields)
            })),
            ("totals", .object(totalMembers)),
            ("tied", .array(tied.map { .array($0.map { .string($0) }) })),
        ]
        if let modules {
            members.append(("modules", .object(modules.map { ($0.name, .object([("tensors", .int($0.tensors)), ("parameters", .int($0.parameters))])) })))
        }
        if let torch { members += torch.jsonMembers }
        if let adapter { members.append(("adapter", adapter.json)) }
        members.append(("warnings", .array(warnings.map { .string($0.message) })))
        return .object(members)
    }

    /// The `quantization` member of a tensor (docs/cli.md "Quantized tensors").
    static func json(_ quantization: TensorQuantizationInfo) -> JSONValue {
        var members: [(String, JSONValue)] = [("dtype", .string(quantization.torchDType)), ("scheme", .string(quantization.scheme))]
        if let scale = quantization.scale { members.append(("scale", .double(scale))) }
        if let zeroPoint = quantization.zeroPoint { members.append(("zero_point", .int(Int(zeroPoint)))) }
        if let axis = quantization.axis { members.append(("axis", .int(axis))) }
        members.append(("parameter_tensors", .array(quantization.parameterTensors.map { .string($0) })))
        return .object(members)
    }
}

/// Sources that say which entries count as parameters and which entries name one tensor.
protocol ParameterCountingSource {
    /// For each entry: whether it counts, and an identity shared by the entries that are one tensor
    /// (`nil`: none).
    var parameterCounting: [(counts: Bool, tensor: AnyHashable?)] { get }
}
