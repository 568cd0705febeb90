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
    public static func inspect(path: String, filter: String? = nil, options: ReadOptions = ReadOptions()) throws -> Inspection {
        try attributing(to: path) {
            if path.hasPrefix("hf://") {
                let source = try RemoteInspection.open(path, configuration: try HubConfiguration.fromEnvironment())
                return Inspection(source: source, filter: filter)
            }
            let source = try ModelFile.open(path, options: options)
            return Inspection(source: source, filter: filter)
        }
    }

    /// The inspection of an open source.
    public init(source: TensorSource, filter: String? = nil) {
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
                return .object(fields)
            })),
            ("totals", .object(totalMembers)),
        ]
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
