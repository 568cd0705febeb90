import ModelFormats
import TensorData

/// What `inspect` shows of a LoRA adapter (docs/cli.md, "LoRA adapters"): its kind, rank and alpha, whether
/// it uses rsLoRA, the module paths it adapts, and each target whose rank or alpha differs.
public struct AdapterSummary: Sendable {
    /// PEFT or kohya.
    public let kind: LoRAAdapterKind
    /// The config's `r`; for kohya, the rank most targets share.
    public let rank: Int?
    /// The config's `lora_alpha`; for kohya, the alpha most targets share.
    public let alpha: Double?
    /// `use_rslora` (false for kohya).
    public let usesRSLoRA: Bool
    /// The adapted module paths (kohya: the file's keys), in file order.
    public let targets: [String]
    /// Targets whose rank or alpha differs from ``rank`` / ``alpha``.
    public let perTarget: [(target: String, rank: Int, alpha: Double?)]

    /// The summary of `adapter`, from its config and tensor shapes (a kohya file's `alpha`
    /// scalars are read).
    public init(adapter: LoRAAdapterSource) {
        kind = adapter.kind
        var targets: [(String, Int, Double?)] = []
        switch adapter.kind {
        case .peft:
            for entry in adapter.entries {
                let local = entry.name.droppingBytePrefix(ResolvedLoRAAdapter.peftPrefix) ?? entry.name
                guard let suffix = [".lora_A.weight", ".lora_embedding_A"].first(where: { local.hasSuffix($0) }) else { continue }
                let module = String(local.dropLast(suffix.count))
                let shapeRank = entry.shape.dimensions.first ?? 0
                if let config = adapter.config, let (rank, alpha) = try? config.rankAndAlpha(ofModule: module) {
                    targets.append((module, rank, alpha))
                } else {
                    targets.append((module, shapeRank, adapter.config?.alpha))
                }
            }
            rank = adapter.config?.rank ?? AdapterSummary.mostCommon(targets.map(\.1))
            alpha = adapter.config?.alpha
            usesRSLoRA = adapter.config?.usesRSLoRA ?? false
        case .kohya:
            for entry in adapter.entries where entry.name.hasSuffix(".lora_down.weight") {
                let key = String(entry.name.dropLast(".lora_down.weight".count))
                let rank = entry.shape.dimensions.first ?? 0
                var alpha = Double(rank)
                if let alphaIndex = adapter.index(of: key + ".alpha"), let raw = try? adapter.tensor(at: alphaIndex),
                   raw.elementCount == 1, ElementCodec.canDecodeToReal(raw.dtype) {
                    alpha = Double(raw.bytes.withUnsafeBytes { ElementCodec.decode($0, dtype: raw.dtype) }.first ?? Float(rank))
                }
                targets.append((key, rank, alpha))
            }
            rank = AdapterSummary.mostCommon(targets.map(\.1))
            alpha = AdapterSummary.mostCommon(targets.compactMap(\.2))
            usesRSLoRA = false
        }
        self.targets = targets.map(\.0)
        let (rank, alpha) = (self.rank, self.alpha)
        perTarget = targets.filter { $0.1 != rank || $0.2 != alpha }.map { ($0.0, $0.1, $0.2) }
    }

    /// The value most entries share (the first of those tied), or `nil` for none.
    static func mostCommon<T: Hashable>(_ values: [T]) -> T? {
        var counts: [T: Int] = [:]
        for value in values { counts[value, default: 0] += 1 }
        let most = counts.values.max() ?? 0
        return values.first { counts[$0] == most }
    }

    /// A number as JSON: an integer when it is one.
    static func number(_ value: Double?) -> JSONValue {
        guard let value else { return .null }
        if value == value.rounded(), abs(value) < 1e15 { return .int(Int(value)) }
        return .double(value)
    }

    /// The `"adapter"` object of `inspect --json`.
    public var json: JSONValue {
        .object([
            ("kind", .string(kind.rawValue)),
            ("rank", rank.map { .int($0) } ?? .null),
            ("alpha", AdapterSummary.number(alpha)),
            ("use_rslora", .bool(usesRSLoRA)),
            ("targets", .array(targets.map { .string($0) })),
            ("per_target", .object(perTarget.map { ($0.target, .object([("rank", .int($0.rank)), ("alpha", AdapterSummary.number($0.alpha))])) })),
        ])
    }
}

extension TensorSource {
    /// The source that reads the bytes: a folder's weights file, an adapter's weights file, or itself.
    public var contentSource: TensorSource {
        if let folder = self as? FolderSource { return folder.weights }
        if let adapter = self as? LoRAAdapterSource { return adapter.weights }
        return self
    }
}
