import ExactText
import JSONReader

// A PEFT adapter's `adapter_config.json` (docs/formats.md, "LoRA adapters"): the keys that decide
// how a LoRA adapter merges. Everything else PEFT writes is kept out of the way; keys that turn
// the adapter into something other than plain LoRA (DoRA, aLoRA, trainable tokens, …) are listed
// in ``PEFTLoRAConfig/unsupportedFeatures`` so merging can refuse them by name.

/// The `target_modules` of a PEFT config: a list of names (matched as suffixes of module paths)
/// or one regular expression (matched against the whole path).
public enum PEFTTargetModules: Sendable, Equatable {
    /// Names; a module matches when its path is the name or ends with `.` + name.
    case names([String])
    /// A regular expression matched against the whole module path.
    case pattern(String)
}

/// The parts of a PEFT LoRA `adapter_config.json` that merging and inspecting need.
public struct PEFTLoRAConfig: Sendable, Equatable {
    /// `peft_type` (`LORA` for the adapters this type describes).
    public var peftType: String
    /// `r`, the default rank.
    public var rank: Int
    /// `lora_alpha`, the default scaling numerator.
    public var alpha: Double
    /// `use_rslora`: scaling `alpha / √r` instead of `alpha / r`.
    public var usesRSLoRA: Bool
    /// `fan_in_fan_out`: the base weights are stored `[in, out]` (GPT-2's `Conv1D`).
    public var fanInFanOut: Bool
    /// `bias`: `none`, `all` or `lora_only`.
    public var bias: String
    /// `lora_bias`: `lora_B` carries a bias.
    public var loraBias: Bool
    /// `target_modules`.
    public var targetModules: PEFTTargetModules?
    /// `rank_pattern`, in the file's order (keys are regular expressions).
    public var rankPattern: [(key: String, rank: Int)]
    /// `alpha_pattern`, in the file's order (keys are regular expressions).
    public var alphaPattern: [(key: String, alpha: Double)]
    /// `modules_to_save`.
    public var modulesToSave: [String]
    /// Keys that make the adapter something other than plain LoRA, each with a name for messages:
    /// (`use_dora`, `DoRA`), (`trainable_token_indices`, `trainable tokens`), ….
    public var unsupportedFeatures: [(key: String, name: String)]

    /// The largest config read.
    public static let maxConfigBytes = 16 << 20

    /// A plain LoRA config (what `train --lora` writes).
    public init(rank: Int, alpha: Double, usesRSLoRA: Bool = false, targetModules: [String]) {
        peftType = "LORA"
        self.rank = rank
        self.alpha = alpha
        self.usesRSLoRA = usesRSLoRA
        fanInFanOut = false
        bias = "none"
        loraBias = false
        self.targetModules = .names(targetModules)
        rankPattern = []
        alphaPattern = []
        modulesToSave = []
        unsupportedFeatures = []
    }

    public static func == (lhs: PEFTLoRAConfig, rhs: PEFTLoRAConfig) -> Bool {
        lhs.peftType == rhs.peftType && lhs.rank == rhs.rank && lhs.alpha == rhs.alpha && lhs.usesRSLoRA == rhs.usesRSLoRA
            && lhs.fanInFanOut == rhs.fanInFanOut && lhs.bias == rhs.bias && lhs.loraBias == rhs.loraBias
            && lhs.targetModules == rhs.targetModules && lhs.rankPattern.elementsEqual(rhs.rankPattern) { $0 == $1 }
            && lhs.alphaPattern.elementsEqual(rhs.alphaPattern) { $0 == $1 } && lhs.modulesToSave == rhs.modulesToSave
            && lhs.unsupportedFeatures.elementsEqual(rhs.unsupportedFeatures) { $0 == $1 }
    }

    /// The LoRA variants and extras PEFT records in the config, by key, with their names. A key
    /// that is present with a value other than null, false, `{}` or `[]` is refused by merging.
    static let variantKeys: [(key: String, name: String)] = [
        ("use_dora", "DoRA"), ("use_qalora", "QALoRA"), ("alora_invocation_tokens", "aLoRA (activated LoRA)"),
        ("arrow_config", "Arrow routing"), ("use_bdlora", "block-diagonal LoRA (BD-LoRA)"),
        ("monteclora_config", "MonteCLoRA"), ("kasa_config", "KaSA"), ("target_parameters", "LoRA on parameters (target_parameters)"),
        ("trainable_token_indices", "trainable tokens (trainable_token_indices)"), ("layer_replication", "layer replication"),
    ]

    /// The names PEFT gives its adapter kinds in `peft_type`, as people write them.
    public static func kindName(ofPEFTType type: String) -> String {
        let names = [
            "LOHA": "LoHa", "LOKR": "LoKr", "IA3": "IA³", "ADALORA": "AdaLoRA", "VERA": "VeRA", "BOFT": "BOFT", "OFT": "OFT",
            "PROMPT_TUNING": "prompt tuning", "P_TUNING": "P-tuning", "PREFIX_TUNING": "prefix tuning", "LN_TUNING": "LayerNorm tuning",
            "FOURIERFT": "FourierFT", "HRA": "HRA", "VBLORA": "VB-LoRA", "XLORA": "X-LoRA", "RANDLORA": "RandLoRA",
            "SHIRA": "SHiRA", "C3A": "C3A", "MISS": "MiSS", "POLY": "Poly", "ADAPTION_PROMPT": "adaption prompt",
        ]
        return names[type] ?? type
    }

    /// Parses `adapter_config.json`.
    ///
    /// - Throws: ``LoRAAdapterError/invalidConfig(_:)`` for a document that is not a LoRA config
    ///   (not JSON, `r` missing or not a positive integer, …), ``LoRAAdapterError/unsupportedPEFTType(_:)``
    ///   for another adapter kind.
    public static func parse(_ bytes: UnsafeRawBufferPointer) throws -> PEFTLoRAConfig {
        guard bytes.count <= maxConfigBytes else {
            throw LoRAAdapterError.invalidConfig("\(bytes.count) bytes is more than the \(maxConfigBytes) a config may have")
        }
        let document: JSONNode
        do { document = try JSONNode.parse(bytes) } catch { throw LoRAAdapterError.invalidConfig(error.description) }
        guard let root = document.objectValue else {
            throw LoRAAdapterError.invalidConfig("top level is a JSON \(document.kind.name); expected an object")
        }
        guard let type = root["peft_type"]?.stringValue else {
            throw LoRAAdapterError.invalidConfig("\"peft_type\" is missing or not a string")
        }
        guard type == "LORA" else { throw LoRAAdapterError.unsupportedPEFTType(type) }
        var config = PEFTLoRAConfig(rank: 1, alpha: 1, targetModules: [])
        config.rank = try positiveInteger(root["r"], key: "r")
        config.alpha = try number(root["lora_alpha"], key: "lora_alpha") ?? 8
        config.usesRSLoRA = try flag(root["use_rslora"], key: "use_rslora")
        config.fanInFanOut = try flag(root["fan_in_fan_out"], key: "fan_in_fan_out")
        config.loraBias = try flag(root["lora_bias"], key: "lora_bias")
        if let bias = root["bias"], bias.kind != .null {
            guard let text = bias.stringValue, ["none", "all", "lora_only"].contains(text) else {
                throw LoRAAdapterError.invalidConfig("\"bias\" is \(bias.summary); expected \"none\", \"all\" or \"lora_only\"")
            }
            config.bias = text
        }
        if let targets = root["target_modules"], targets.kind != .null {
            if let text = targets.stringValue {
                config.targetModules = .pattern(text)
            } else {
                config.targetModules = .names(try strings(targets, key: "target_modules"))
            }
        } else {
            config.targetModules = nil
        }
        if let saved = root["modules_to_save"], saved.kind != .null { config.modulesToSave = try strings(saved, key: "modules_to_save") }
        if let pattern = root["rank_pattern"], pattern.kind != .null {
            guard let object = pattern.objectValue else { throw LoRAAdapterError.invalidConfig("\"rank_pattern\" is \(pattern.summary); expected an object") }
            config.rankPattern = try object.members.map { ($0.key, try positiveInteger($0.value, key: "rank_pattern[\($0.key.quotedForMessage)]")) }
        }
        if let pattern = root["alpha_pattern"], pattern.kind != .null {
            guard let object = pattern.objectValue else { throw LoRAAdapterError.invalidConfig("\"alpha_pattern\" is \(pattern.summary); expected an object") }
            config.alphaPattern = try object.members.map { member in
                guard let value = try number(member.value, key: "alpha_pattern[\(member.key.quotedForMessage)]") else {
                    throw LoRAAdapterError.invalidConfig("alpha_pattern[\(member.key.quotedForMessage)] is null; expected a number")
                }
                return (member.key, value)
            }
        }
        config.unsupportedFeatures = variantKeys.filter { isSet(root[$0.key]) }
        return config
    }

    /// Whether a config value turns a feature on: anything but absent, null, false, 0, "", {} or [].
    static func isSet(_ node: JSONNode?) -> Bool {
        guard let node else { return false }
        switch node.kind {
        case .null: return false
        case .bool: return node == .bool(true)
        case .object: return (node.objectValue?.count ?? 0) > 0
        case .array: return !(node.arrayValue?.isEmpty ?? true)
        case .string: return !(node.stringValue?.isEmpty ?? true)
        case .number: return node.numberValue?.double != 0
        }
    }

    private static func positiveInteger(_ node: JSONNode?, key: String) throws -> Int {
        guard let node, let number = node.numberValue, let value = number.int64, value >= 1, value <= Int64(Int32.max) else {
            throw LoRAAdapterError.invalidConfig("\"\(key)\" is \(node?.summary ?? "missing"); expected a positive integer")
        }
        return Int(value)
    }

    private static func number(_ node: JSONNode?, key: String) throws -> Double? {
        guard let node, node.kind != .null else { return nil }
        guard let number = node.numberValue, number.double.isFinite else {
            throw LoRAAdapterError.invalidConfig("\"\(key)\" is \(node.summary); expected a number")
        }
        return number.double
    }

    private static func flag(_ node: JSONNode?, key: String) throws -> Bool {
        guard let node, node.kind != .null else { return false }
        guard node.kind == .bool else { throw LoRAAdapterError.invalidConfig("\"\(key)\" is \(node.summary); expected true or false") }
        return node == .bool(true)
    }

    private static func strings(_ node: JSONNode, key: String) throws -> [String] {
        guard let items = node.arrayValue else { throw LoRAAdapterError.invalidConfig("\"\(key)\" is \(node.summary); expected a list of names") }
        return try items.map { item in
            guard let text = item.stringValue else { throw LoRAAdapterError.invalidConfig("\"\(key)\" holds \(item.summary); expected names") }
            return text
        }
    }

    /// The module path's rank and alpha, as PEFT resolves them: the first `rank_pattern` /
    /// `alpha_pattern` key (in order) whose regular expression matches `(.*\.)?(key)$` against
    /// the module path, else `r` / `lora_alpha`.
    ///
    /// - Throws: ``LoRAAdapterError/invalidConfig(_:)`` when a pattern key is not a regular expression.
    public func rankAndAlpha(ofModule path: String) throws -> (rank: Int, alpha: Double) {
        var rank = self.rank, alpha = self.alpha
        if let key = try PEFTLoRAConfig.firstMatchingKey(rankPattern.map(\.key), path: path, in: "rank_pattern") {
            rank = rankPattern.first { $0.key == key }?.rank ?? rank
        }
        if let key = try PEFTLoRAConfig.firstMatchingKey(alphaPattern.map(\.key), path: path, in: "alpha_pattern") {
            alpha = alphaPattern.first { $0.key == key }?.alpha ?? alpha
        }
        return (rank, alpha)
    }

    /// PEFT's scaling for a module of this rank and alpha: `alpha / r`, or `alpha / √r` with rsLoRA.
    public func scaling(rank: Int, alpha: Double) -> Double {
        usesRSLoRA ? alpha / Double(rank).squareRoot() : alpha / Double(rank)
    }

    /// PEFT's `get_pattern_key`: the first key whose expression matches `(.*\.)?(key)$` from the
    /// start of `path`.
    static func firstMatchingKey(_ keys: [String], path: String, in field: String) throws -> String? {
        for key in keys {
            let regex: Regex<AnyRegexOutput>
            do { regex = try Regex("(.*\\.)?(" + key + ")") } catch {
                throw LoRAAdapterError.invalidConfig("\(field) key \(key.quotedForMessage) is not a regular expression: \(error)")
            }
            if (try? regex.wholeMatch(in: path)) != nil { return key }
        }
        return nil
    }
}
