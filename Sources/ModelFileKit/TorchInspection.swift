import BinaryIO
import ExactText
import ModelFormats
import PickleVM

/// What `inspect` adds for a pickle format: the globals the pickle names with their verdicts, the
/// plain values beside the tensors, how the storages are used, and a checkpoint's summary.
public struct TorchDetails {
    /// A global the pickle names (after the Python-2 name mapping), once each, in order of appearance.
    public struct Global: Sendable, Equatable {
        /// The module (`torch._utils`).
        public let module: String
        /// The name inside it (`_rebuild_tensor_v2`).
        public let name: String
        /// Whether it is in the weights-only allowlist (`false`: kept as an inert record).
        public let allowed: Bool
    }

    /// A scalar or other non-tensor leaf of the object tree.
    public struct PlainValue: Sendable, Equatable {
        /// Its dotted path (`epoch`, `hyper_parameters.lr`), or `(top level)`.
        public let path: String
        /// A short rendering of the value (`3`, `'adam'`, `list of 4`).
        public let summary: String
    }

    /// The globals, once each.
    public let globals: [Global]
    /// Plain values, depth first, at most ``plainValueLimit``.
    public let plainValues: [PlainValue]
    /// Storages the pickle references.
    public let storageCount: Int
    /// Their bytes (views of a legacy storage not counted twice).
    public let storageBytes: Int
    /// Bytes saved in storages that no tensor uses (views that saved their whole storage).
    public let unreferencedStorageBytes: Int
    /// The checkpoint summary, when the file is a training checkpoint.
    public let checkpoint: CheckpointSummary?
    /// What a TorchScript archive declares, when the file is one.
    public let torchScript: TorchScriptDetails?

    /// The most plain values listed.
    public static let plainValueLimit = 200

    init(_ file: TorchFile) {
        var seen = Set<ExactString>()  // by bytes: two spellings of one name are two globals
        var globals: [Global] = []
        for use in file.globals where seen.insert(ExactString(use.global.qualifiedName)).inserted {
            globals.append(Global(module: use.global.module, name: use.global.name, allowed: use.verdict == .allow))
        }
        self.globals = globals
        plainValues = TorchInspection.plainValues(file.root, limit: TorchDetails.plainValueLimit).map(PlainValue.init)
        storageCount = file.storages.count
        storageBytes = file.storages.filter { $0.legacyView == nil }.saturatingSum(\.byteCount)
        unreferencedStorageBytes = file.unreferencedStorageBytes
        checkpoint = CheckpointSummary(file)
        torchScript = file.torchScript.map { TorchScriptDetails($0, constants: file.entryRoles.filter { $0 == .torchScriptConstant }.count) }
    }

    /// The members this adds to the `modelfile.inspect/1` document.
    var jsonMembers: [(String, JSONValue)] {
        var members: [(String, JSONValue)] = []
        if let checkpoint { members.append(("checkpoint", checkpoint.json)) }
        if let torchScript { members.append(("torchscript", torchScript.json)) }
        members.append(("globals", .array(globals.map { .object([("module", .string($0.module)), ("name", .string($0.name)), ("allowed", .bool($0.allowed))]) })))
        members.append(("values", .array(plainValues.map { .object([("path", .string($0.path)), ("value", .string($0.summary))]) })))
        members.append(("storages", .object([("count", .int(storageCount)), ("nbytes", .int(storageBytes)),
                                             ("unreferenced_nbytes", .int(unreferencedStorageBytes))])))
        return members
    }
}

extension TorchFile: ParameterCountingSource {
    /// Under `state_dict` when the top-level dict has one; otherwise every weight (not optimizer
    /// state, not a TorchScript constant). One tensor: the same storage, offset, sizes and strides.
    var parameterCounting: [(counts: Bool, tensor: AnyHashable?)] {
        var underStateDict = false
        if case .dict(let top) = root, top["state_dict"] != nil { underStateDict = true }
        return entries.indices.map { index in
            let counts = underStateDict ? entries[index].name.hasBytePrefix("state_dict.") : entryRoles[index] == .weights
            let record = tensors[entryTensors[index]]
            guard let storage = record.storage else { return (counts, nil) }
            return (counts, AnyHashable(TensorIdentity(storage: storage, offset: record.storageOffset, sizes: record.sizes, strides: record.strides)))
        }
    }
}

/// What `inspect` says about a TorchScript archive: the code records (never run), the classes
/// the code declares with their parameters and buffers, and how many constants it holds.
public struct TorchScriptDetails {
    /// A class the code declares.
    public struct Class: Sendable, Equatable {
        /// Its qualified name.
        public let name: String
        /// Whether it is an `nn.Module`.
        public let isModule: Bool
        /// Its parameters and buffers, as the code declares them.
        public let parameters: [String], buffers: [String]
    }

    /// The code records, in archive order.
    public let codeFiles: [String]
    /// The declared classes, sorted by name.
    public let classes: [Class]
    /// Constant tensors the archive holds.
    public let constantCount: Int
    /// Pickles in the archive that are not read.
    public let otherPickles: [String]

    init(_ script: TorchScriptContents, constants: Int) {
        codeFiles = script.archive.codeFiles
        classes = script.classes.keys.sorted().map { name in
            let declaration = script.classes[name]
            return Class(name: name, isModule: declaration?.isModule ?? false,
                         parameters: declaration?.parameters ?? [], buffers: declaration?.buffers ?? [])
        }
        constantCount = constants
        otherPickles = script.archive.otherPickles
    }

    /// The `torchscript` member of the `modelfile.inspect/1` document.
    var json: JSONValue {
        .object([
            ("code_files", .array(codeFiles.map { .string($0) })),
            ("classes", .array(classes.map { declaration in
                .object([
                    ("name", .string(declaration.name)), ("module", .bool(declaration.isModule)),
                    ("parameters", .array(declaration.parameters.map { .string($0) })),
                    ("buffers", .array(declaration.buffers.map { .string($0) })),
                ])
            })),
            ("constants", .int(constantCount)),
            ("other_pickles", .array(otherPickles.map { .string($0) })),
        ])
    }
}

/// What makes two pickled tensors one tensor (tied weights).
private struct TensorIdentity: Hashable {
    let storage: Int
    let offset: Int
    let sizes: [Int]
    let strides: [Int]
}

enum TorchInspection {
    /// Scalars and non-tensor leaves by dotted path, depth first, at most `limit` of them.
    ///
    /// In a checkpoint (a top-level dict holding `state_dict`), the `loops` and `callbacks` subtrees
    /// are one value each, how many values they hold (docs/cli.md, "Checkpoints").
    static func plainValues(_ root: TorchValue, limit: Int) -> [(path: String, summary: String)] {
        var result: [(String, String)] = []
        var pending: [(TorchValue, String)] = [(root, "")]
        var visits = 0
        var collapsed: Set<String> = []
        if case .dict(let top) = root, top["state_dict"] != nil { collapsed = ["loops", "callbacks"] }
        func join(_ path: String, _ component: String) -> String { path.isEmpty ? component : path + "." + component }
        while let (value, path) = pending.popLast(), result.count < limit, visits < 1_000_000 {
            visits += 1
            if collapsed.contains(path), !path.isEmpty {
                let count = leafCount(value, visits: &visits)
                result.append((path, "\(count) value\(count == 1 ? "" : "s") (not listed)"))
                continue
            }
            switch value {
            case .tensor, .storage:
                continue
            case .opaque:
                // An object never loaded: an OmegaConf config shows as its keys and values.
                // Its cost counts against this walk's budget, however often it is shared.
                let plain = InertData.plain(value, visits: &visits, maxVisits: 1_000_000)
                if case .opaque = plain {
                    result.append((path.isEmpty ? "(top level)" : path, value.summary))
                } else {
                    pending.append((plain, path))
                }
            case .dict(let dict):
                if dict.entries.isEmpty { result.append((path, value.summary)) }
                for entry in dict.entries.reversed() { pending.append((entry.value, join(path, entry.key.nameComponent))) }
            case .list(let items):
                if items.isEmpty || items.allSatisfy(\.isScalarLeaf) { result.append((path, items.count <= 8 ? "[" + items.map(\.summary).joined(separator: ", ") + "]" : value.summary)) } else {
                    for (i, item) in items.enumerated().reversed() { pending.append((item, join(path, String(i)))) }
                }
            case .tuple(let items):
                if items.allSatisfy(\.isScalarLeaf) { result.append((path, value.summary)) } else {
                    for (i, item) in items.enumerated().reversed() { pending.append((item, join(path, String(i)))) }
                }
            default:
                result.append((path.isEmpty ? "(top level)" : path, value.summary))
            }
        }
        return result
    }
}

extension TorchInspection {
    /// How many leaves (tensors included) `value` holds, counting at most a million visits.
    static func leafCount(_ value: TorchValue, visits: inout Int) -> Int {
        var count = 0
        var pending = [value]
        while let next = pending.popLast(), visits < 1_000_000 {
            visits += 1
            switch next {
            case .dict(let dict): pending += dict.entries.map(\.value)
            case .list(let items), .tuple(let items), .set(let items): pending += items
            default: count += 1
            }
        }
        return count
    }
}

extension TorchValue {
    var isScalarLeaf: Bool {
        switch self {
        case .list, .tuple, .dict, .set, .tensor, .opaque: return false
        default: return true
        }
    }
}
