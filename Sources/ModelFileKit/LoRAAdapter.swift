import ModelFormats
import TensorData

// A LoRA adapter resolved against a base model (docs/cli.md, "LoRA adapters"): which base tensor each
// adapter entry changes, and how. PEFT entries are named `base_model.model.<module>.<part>`:
//
//   lora_A.weight [r, in(, k…)] and lora_B.weight [out, r(, 1…)]  →  <module>.weight += S·s·(B·A)
//   lora_embedding_A [r, n] and lora_embedding_B [d, r]           →  <module>.weight += S·s·(B·A)ᵀ
//   lora_B.bias [out] (lora_bias)                                 →  <module>.bias   += S·s·b
//   base_layer.<p> (trained biases)                               →  <module>.<p> replaced
//   anything else (modules_to_save, bias "all")                   →  the tensor of that name replaced
//
// with s = lora_alpha / r (rsLoRA: lora_alpha / √r), r and lora_alpha per module from
// rank_pattern / alpha_pattern, and S = --scale. A delta whose shape is the base weight's
// transpose (GPT-2's Conv1D stores [in, out]) is added transposed; for a square weight the
// config's fan_in_fan_out decides. Kohya entries are `<key>.lora_down.weight` (A),
// `<key>.lora_up.weight` (B) and `<key>.alpha`, with s = alpha / r and the key resolved against
// the base's module paths with dots read as underscores.

/// `factor · left · right` added to a base tensor seen as a `rows × columns` matrix.
struct LoRAProduct: Sendable {
    /// The adapter entry it comes from (the A / lora_down entry), for messages.
    let entry: String
    /// `[rows × rank]`, row-major.
    let left: [Float]
    /// `[rank × columns]`, row-major.
    let right: [Float]
    let rank: Int
    let rows: Int
    let columns: Int
    /// `--scale` times the adapter's scaling.
    let factor: Double
    /// Whether the product is `(B·A)ᵀ` (left = Aᵀ, right = Bᵀ) rather than `B·A` (left = B, right = A).
    let transposed: Bool
}

/// What merging does to one base tensor: replace it, add a low-rank product, add a bias.
struct LoRATensorUpdate: Sendable {
    /// New values (modules_to_save, trained biases), and the adapter entry they come from.
    var replacement: (entry: String, tensor: RawTensor)?
    /// A low-rank delta.
    var product: LoRAProduct?
    /// `factor · values` added (lora_B.bias).
    var addition: (entry: String, values: [Float], factor: Double)?
}

/// An adapter entry that cannot be merged into the base: no base tensor for it, a shape that does
/// not fit, a kohya name that fits no module or several, or an adapter of another kind.
public enum LoRAMergeError: Error, Equatable, CustomStringConvertible {
    /// ADAPTER is not a LoRA adapter (`looksLike` says what it is).
    case notAnAdapter(format: String)
    /// A PEFT adapter file with no `adapter_config.json` beside it: alpha is unknown.
    case missingConfig
    /// The config turns on a LoRA variant modelfile does not merge (`key`: the config key).
    case unsupportedVariant(name: String, key: String)
    /// Entries of another adapter kind (LoHa, LoKr, DoRA, IA³, …).
    case unsupportedEntry(entry: String, kind: String)
    /// An entry whose name is none of the LoRA parts.
    case unexpectedEntry(String)
    /// A lora_A without its lora_B, or the reverse.
    case missingPartner(entry: String, partner: String)
    /// The base has no tensor the entry applies to.
    case targetMissing(entry: String, target: String)
    /// The entry's shape does not fit the base tensor.
    case shapeMismatch(entry: String, shape: Shape, target: String, targetShape: Shape, expected: String)
    /// The A and B of one module, or the config, disagree about the rank.
    case rankMismatch(entry: String, found: Int, expected: Int, source: String)
    /// The base tensor is not floating point.
    case notFloatingPoint(target: String, dtype: DType)
    /// A kohya key fits no base module.
    case kohyaNoMatch(key: String)
    /// A kohya key fits several base modules.
    case kohyaAmbiguous(key: String, candidates: [String])
    /// A product too large for the arithmetic (beyond 32-bit dimensions).
    case tooLarge(entry: String)
    /// `--scale` is not a finite number.
    case invalidScale(Double)

    public var description: String {
        switch self {
        case .notAnAdapter(let format):
            return "not a LoRA adapter (\(format)); expected a PEFT adapter folder or a kohya-style safetensors file"
        case .missingConfig:
            return "no \(LoRAAdapterSource.configName) beside the adapter: its lora_alpha (and so its scaling) is unknown"
        case .unsupportedVariant(let name, let key):
            return "\(name) adapters (\(key) in the config) are not supported; modelfile merges plain LoRA"
        case .unsupportedEntry(let entry, let kind):
            return "adapter entry \(entry.quotedForMessage) belongs to a \(kind) adapter, which is not supported; modelfile merges plain LoRA"
        case .unexpectedEntry(let entry):
            return "adapter entry \(entry.quotedForMessage) is not a LoRA entry (lora_A / lora_B / lora_down / lora_up / alpha) nor a saved module"
        case .missingPartner(let entry, let partner):
            return "adapter entry \(entry.quotedForMessage) has no partner \(partner.quotedForMessage)"
        case .targetMissing(let entry, let target):
            return "adapter entry \(entry.quotedForMessage) applies to \(target.quotedForMessage), which the base does not have"
        case .shapeMismatch(let entry, let shape, let target, let targetShape, let expected):
            return "adapter entry \(entry.quotedForMessage) \(shape) does not fit \(target.quotedForMessage) \(targetShape) (\(expected))"
        case .rankMismatch(let entry, let found, let expected, let source):
            return "adapter entry \(entry.quotedForMessage) has rank \(found); \(source) gives rank \(expected)"
        case .notFloatingPoint(let target, let dtype):
            return "\(target.quotedForMessage) is \(dtype), not floating point; an adapter cannot be merged into it"
        case .kohyaNoMatch(let key):
            return "kohya entry \(key.quotedForMessage) matches no module of the base (module paths with dots read as underscores)"
        case .kohyaAmbiguous(let key, let candidates):
            return "kohya entry \(key.quotedForMessage) is ambiguous: it fits \(candidates.map(\.quotedForMessage).joined(separator: " and "))"
        case .tooLarge(let entry):
            return "adapter entry \(entry.quotedForMessage) describes a product beyond 32-bit dimensions"
        case .invalidScale(let scale):
            return "--scale \(scale) is not a finite number"
        }
    }
}

/// A LoRA adapter resolved against base tensor names: the update of each base tensor it changes.
struct ResolvedLoRAAdapter {
    /// Base entry index → what happens to it.
    var updates: [Int: LoRATensorUpdate] = [:]
    /// Adapted module paths, in adapter order, with their rank, alpha and rsLoRA setting.
    var modules: [(path: String, rank: Int, alpha: Double, usesRSLoRA: Bool)] = []

    static let peftPrefix = "base_model.model."
    /// kohya's usual prefixes: U-Net, text encoders (SD 1.x, SDXL's two, SD3's three), DiT transformers.
    static let kohyaPrefixes = ["lora_unet_", "lora_te1_", "lora_te2_", "lora_te3_", "lora_te_", "lora_transformer_"]

    /// Resolves `adapter` against the base tensors `base`, with `--scale` `scale`.
    ///
    /// - Throws: ``LoRAMergeError`` naming the first entry that cannot be merged; format errors
    ///   from reading the adapter's tensors.
    init(adapter: LoRAAdapterSource, base: [TensorEntry], scale: Double) throws {
        var index: [ExactString: Int] = [:]
        for (i, entry) in base.enumerated() where index[ExactString(entry.name)] == nil { index[ExactString(entry.name)] = i }
        switch adapter.kind {
        case .peft: try resolvePEFT(adapter, base: base, index: index, scale: scale)
        case .kohya: try resolveKohya(adapter, base: base, index: index, scale: scale)
        }
    }

    // MARK: PEFT

    private mutating func resolvePEFT(_ adapter: LoRAAdapterSource, base: [TensorEntry], index: [ExactString: Int], scale: Double) throws {
        guard let config = adapter.config else { throw LoRAMergeError.missingConfig }
        if let feature = config.unsupportedFeatures.first { throw LoRAMergeError.unsupportedVariant(name: feature.name, key: feature.key) }
        enum Part { case a, b, bias, embeddingA, embeddingB }
        var parts: [String: [Part: Int]] = [:]
        var order: [String] = []
        for (i, entry) in adapter.entries.enumerated() {
            let name = entry.name
            let local = name.droppingBytePrefix(ResolvedLoRAAdapter.peftPrefix) ?? name
            if let kind = ResolvedLoRAAdapter.otherKind(of: local) { throw LoRAMergeError.unsupportedEntry(entry: name, kind: kind) }
            let suffixes: [(String, Part)] = [
                (".lora_A.weight", .a), (".lora_B.weight", .b), (".lora_B.bias", .bias),
                (".lora_embedding_A", .embeddingA), (".lora_embedding_B", .embeddingB),
            ]
            if let (suffix, part) = suffixes.first(where: { local.hasSuffix($0.0) }) {
                let module = String(local.dropLast(suffix.count))
                if parts[module] == nil { order.append(module) }
                parts[module, default: [:]][part] = i
                continue
            }
            if local.contains(".lora_") { throw LoRAMergeError.unexpectedEntry(name) }
            // A saved tensor: a trained bias (`<module>.base_layer.bias`) or a module to save.
            let target = local.replacing(".base_layer.", with: ".")
            try replace(target: target, entry: name, with: adapter.tensor(at: i), base: base, index: index)
        }
        for module in order {
            guard let found = parts[module] else { continue }
            let (rank, alpha) = try config.rankAndAlpha(ofModule: module)
            let factor = scale * config.scaling(rank: rank, alpha: alpha)
            let embedding = found[.embeddingA] != nil || found[.embeddingB] != nil
            let names = embedding ? ("lora_embedding_A", "lora_embedding_B") : ("lora_A.weight", "lora_B.weight")
            let aIndex = embedding ? found[.embeddingA] : found[.a], bIndex = embedding ? found[.embeddingB] : found[.b]
            let prefix = adapter.entries.first?.name.hasBytePrefix(ResolvedLoRAAdapter.peftPrefix) == true ? ResolvedLoRAAdapter.peftPrefix : ""
            guard let aIndex else { throw LoRAMergeError.missingPartner(entry: prefix + module + "." + names.1, partner: prefix + module + "." + names.0) }
            guard let bIndex else { throw LoRAMergeError.missingPartner(entry: prefix + module + "." + names.0, partner: prefix + module + "." + names.1) }
            let aEntry = adapter.entries[aIndex], bEntry = adapter.entries[bIndex]
            for (entry, found) in [(aEntry, aEntry.shape.dimensions.first ?? 0), (bEntry, bEntry.shape.dimensions.count > 1 ? bEntry.shape.dimensions[1] : 0)]
            where found != rank {
                let source = config.rankPattern.isEmpty ? "the config's r" : "the config's r and rank_pattern"
                throw LoRAMergeError.rankMismatch(entry: entry.name, found: found, expected: rank, source: source)
            }
            let product = try ResolvedLoRAAdapter.product(
                a: (aEntry.name, try adapter.tensor(at: aIndex)), b: (bEntry.name, try adapter.tensor(at: bIndex)), module: module,
                factor: factor, fanInFanOut: config.fanInFanOut, alwaysTransposed: embedding, base: base, index: index)
            updates[product.target, default: LoRATensorUpdate()].product = product.product
            modules.append((module, rank, alpha, config.usesRSLoRA))
            if let biasIndex = found[.bias] {
                let entry = adapter.entries[biasIndex]
                let target = module + ".bias"
                guard let t = index[ExactString(target)] else { throw LoRAMergeError.targetMissing(entry: entry.name, target: target) }
                guard base[t].shape == entry.shape else {
                    throw LoRAMergeError.shapeMismatch(entry: entry.name, shape: entry.shape, target: target, targetShape: base[t].shape, expected: "a LoRA bias has the bias's shape")
                }
                try ResolvedLoRAAdapter.checkFloat(base[t], name: target)
                updates[t, default: LoRATensorUpdate()].addition = (entry.name, try ResolvedLoRAAdapter.floats(adapter.tensor(at: biasIndex), name: entry.name), factor)
            }
        }
    }

    private mutating func replace(target: String, entry: String, with tensor: RawTensor, base: [TensorEntry], index: [ExactString: Int]) throws {
        guard let t = index[ExactString(target)] else { throw LoRAMergeError.targetMissing(entry: entry, target: target) }
        guard base[t].shape == tensor.shape else {
            throw LoRAMergeError.shapeMismatch(entry: entry, shape: tensor.shape, target: target, targetShape: base[t].shape, expected: "a saved tensor replaces one of the same shape")
        }
        if tensor.dtype != base[t].dtype {
            guard tensor.dtype.isCastableFloat, base[t].dtype.isCastableFloat else {
                throw LoRAMergeError.notFloatingPoint(target: target, dtype: base[t].dtype.isCastableFloat ? tensor.dtype : base[t].dtype)
            }
        }
        updates[t, default: LoRATensorUpdate()].replacement = (entry, tensor)
    }

    /// The adapter kind whose entries look like `name`, when it is not LoRA.
    static func otherKind(of name: String) -> String? {
        let markers: [(String, String)] = [
            ("lora_magnitude_vector", "DoRA"), (".dora_scale", "DoRA"), ("hada_w", "LoHa"), ("hada_t", "LoHa"),
            ("lokr_w", "LoKr"), ("lokr_t", "LoKr"), (".ia3_l", "IA³"), (".on_input", "IA³"), ("lora_E", "AdaLoRA"),
            ("vera_lambda", "VeRA"), (".lora_mid.", "LoCon with a CP decomposition (lora_mid)"), (".diff_b", "full-weight difference"),
            (".oft_", "OFT"), ("boft_", "BOFT"),
        ]
        if name.hasSuffix(".diff") { return "full-weight difference" }
        return markers.first { name.contains($0.0) }?.1
    }

    // MARK: kohya

    private mutating func resolveKohya(_ adapter: LoRAAdapterSource, base: [TensorEntry], index: [ExactString: Int], scale: Double) throws {
        enum Part { case down, up, alpha }
        var parts: [String: [Part: Int]] = [:]
        var order: [String] = []
        for (i, entry) in adapter.entries.enumerated() {
            if let kind = ResolvedLoRAAdapter.otherKind(of: entry.name) { throw LoRAMergeError.unsupportedEntry(entry: entry.name, kind: kind) }
            let suffixes: [(String, Part)] = [(".lora_down.weight", .down), (".lora_up.weight", .up), (".alpha", .alpha)]
            guard let (suffix, part) = suffixes.first(where: { entry.name.hasSuffix($0.0) }) else { throw LoRAMergeError.unexpectedEntry(entry.name) }
            let key = String(entry.name.dropLast(suffix.count))
            if parts[key] == nil { order.append(key) }
            parts[key, default: [:]][part] = i
        }
        // Module paths of the base (names of `.weight` tensors), by their spelling with underscores.
        var modulesByKey: [String: [String]] = [:]
        for entry in base where entry.name.hasSuffix(".weight") {
            let module = String(entry.name.dropLast(".weight".count))
            modulesByKey[module.replacing(".", with: "_"), default: []].append(module)
        }
        for key in order {
            guard let found = parts[key] else { continue }
            guard let downIndex = found[.down] else { throw LoRAMergeError.missingPartner(entry: key + ".lora_up.weight", partner: key + ".lora_down.weight") }
            guard let upIndex = found[.up] else { throw LoRAMergeError.missingPartner(entry: key + ".lora_down.weight", partner: key + ".lora_up.weight") }
            let module = try ResolvedLoRAAdapter.kohyaModule(key, modulesByKey: modulesByKey)
            let down = adapter.entries[downIndex], up = adapter.entries[upIndex]
            let rank = down.shape.dimensions.first ?? 0
            let upRank = up.shape.dimensions.count > 1 ? up.shape.dimensions[1] : 0
            guard rank >= 1 else { throw LoRAMergeError.rankMismatch(entry: down.name, found: rank, expected: upRank, source: up.name) }
            guard upRank == rank else { throw LoRAMergeError.rankMismatch(entry: up.name, found: upRank, expected: rank, source: down.name) }
            var alpha = Double(rank)
            if let alphaIndex = found[.alpha] {
                let values = try ResolvedLoRAAdapter.floats(adapter.tensor(at: alphaIndex), name: adapter.entries[alphaIndex].name)
                guard values.count == 1, values[0].isFinite else {
                    throw LoRAMergeError.shapeMismatch(entry: adapter.entries[alphaIndex].name, shape: adapter.entries[alphaIndex].shape,
                                                       target: module + ".weight", targetShape: Shape([]), expected: "alpha is one finite number")
                }
                alpha = Double(values[0])
            }
            let product = try ResolvedLoRAAdapter.product(
                a: (down.name, try adapter.tensor(at: downIndex)), b: (up.name, try adapter.tensor(at: upIndex)), module: module,
                factor: scale * alpha / Double(rank), fanInFanOut: false, alwaysTransposed: false, base: base, index: index)
            updates[product.target, default: LoRATensorUpdate()].product = product.product
            modules.append((module, rank, alpha, false))
        }
    }

    /// The base module a kohya key names: the module whose path, dots read as underscores, is the
    /// key itself, else the key without a known prefix (`lora_unet_`, `lora_te_`, …), else the end
    /// of the key after any other prefix. Several fitting modules are an error naming them.
    static func kohyaModule(_ key: String, modulesByKey: [String: [String]]) throws -> String {
        var candidates = modulesByKey[key] ?? []
        if candidates.isEmpty, let prefix = kohyaPrefixes.first(where: { key.hasPrefix($0) }) {
            candidates = modulesByKey[String(key.dropFirst(prefix.count))] ?? []
        }
        if candidates.isEmpty {
            var index = key.startIndex
            while let underscore = key[index...].firstIndex(of: "_") {
                let rest = String(key[key.index(after: underscore)...])
                candidates += modulesByKey[rest] ?? []
                index = key.index(after: underscore)
            }
        }
        guard !candidates.isEmpty else { throw LoRAMergeError.kohyaNoMatch(key: key) }
        guard candidates.count == 1 else { throw LoRAMergeError.kohyaAmbiguous(key: key, candidates: candidates) }
        return candidates[0]
    }

    // MARK: shapes and values

    /// The product `B·A` (or its transpose) for `module`'s weight, checked against the base.
    static func product(
        a: (name: String, tensor: RawTensor), b: (name: String, tensor: RawTensor), module: String, factor: Double,
        fanInFanOut: Bool, alwaysTransposed: Bool, base: [TensorEntry], index: [ExactString: Int]
    ) throws -> (target: Int, product: LoRAProduct) {
        let target = module + ".weight"
        guard let t = index[ExactString(target)] else { throw LoRAMergeError.targetMissing(entry: a.name, target: target) }
        try checkFloat(base[t], name: target)
        let aDims = a.tensor.shape.dimensions, bDims = b.tensor.shape.dimensions, wDims = base[t].shape.dimensions
        let rank = aDims.first ?? 0
        // B·A has shape [out] + A's trailing dimensions when B's trailing dimensions are 1.
        let direct = !alwaysTransposed && aDims.count >= 2 && bDims.count == aDims.count && bDims[2...].allSatisfy { $0 == 1 }
            && wDims == [bDims[0]] + aDims[1...]
        let transposed = aDims.count == 2 && bDims.count == 2 && wDims == [aDims[1], bDims[0]]
        guard direct || transposed else {
            let delta = alwaysTransposed || (aDims.count == 2 && bDims.count == 2 && fanInFanOut)
                ? Shape([aDims.count > 1 ? aDims[1] : 0, bDims.first ?? 0])
                : Shape([bDims.first ?? 0] + aDims.dropFirst())
            let expected = "with \(b.name.quotedForMessage) \(b.tensor.shape) its delta is \(delta)"
            throw LoRAMergeError.shapeMismatch(entry: a.name, shape: a.tensor.shape, target: target, targetShape: base[t].shape, expected: expected)
        }
        let useTransposed = transposed && (!direct || fanInFanOut)
        let aValues = try floats(a.tensor, name: a.name), bValues = try floats(b.tensor, name: b.name)
        let out = bDims[0], inner = aValues.count / max(rank, 1)
        let rows = useTransposed ? inner : out, columns = useTransposed ? out : inner
        guard rows <= Int(Int32.max), columns <= Int(Int32.max), rank <= Int(Int32.max) else { throw LoRAMergeError.tooLarge(entry: a.name) }
        let left: [Float], right: [Float]
        if useTransposed {
            left = transpose(aValues, rows: rank, columns: inner)   // Aᵀ [in × r]
            right = transpose(bValues, rows: out, columns: rank)    // Bᵀ [r × out]
        } else {
            left = bValues                                          // B [out × r]
            right = aValues                                         // A [r × in·k…]
        }
        return (t, LoRAProduct(entry: a.name, left: left, right: right, rank: rank, rows: rows, columns: columns, factor: factor,
                                transposed: useTransposed))
    }

    static func transpose(_ values: [Float], rows: Int, columns: Int) -> [Float] {
        var result = [Float](repeating: 0, count: values.count)
        for r in 0..<rows { for c in 0..<columns { result[c * rows + r] = values[r * columns + c] } }
        return result
    }

    static func checkFloat(_ entry: TensorEntry, name: String) throws {
        guard entry.dtype.isCastableFloat else { throw LoRAMergeError.notFloatingPoint(target: name, dtype: entry.dtype) }
    }

    /// The values of an adapter tensor as float32.
    static func floats(_ tensor: RawTensor, name: String) throws -> [Float] {
        guard tensor.dtype.isCastableFloat else { throw LoRAMergeError.notFloatingPoint(target: name, dtype: tensor.dtype) }
        return tensor.bytes.withUnsafeBytes { ElementCodec.decode($0, dtype: tensor.dtype) }
    }
}
