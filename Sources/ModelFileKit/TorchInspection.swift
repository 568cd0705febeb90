import ModelFormats
import PickleVM

extension TorchFile: InspectionDetailsProviding {
    /// Globals with their verdicts, the plain values beside the tensors, and storage use.
    var inspectionSections: [InspectionSection] {
        var sections: [InspectionSection] = []
        var seen = Set<String>()
        var globalRows: [(String, String, Bool)] = []
        for use in globals where seen.insert(use.global.qualifiedName).inserted {
            globalRows.append((use.global.module, use.global.name, use.verdict == .allow))
        }
        sections.append(InspectionSection(
            key: "globals", title: "globals",
            json: .array(globalRows.map { .object([("module", .string($0.0)), ("name", .string($0.1)), ("allowed", .bool($0.2))]) }),
            lines: globalRows.map { "\($0.2 ? "allowed" : "kept inert (not allowed)")  \($0.0).\($0.1)" }))

        let values = TorchInspection.plainValues(root, limit: 200)
        sections.append(InspectionSection(
            key: "values", title: "values besides tensors",
            json: .array(values.map { .object([("path", .string($0.path)), ("value", .string($0.summary))]) }),
            lines: Formatting.table(values.map { [$0.path, $0.summary] }).split(separator: "\n").map(String.init)))

        if let script = torchScript {
            sections.insert(TorchInspection.torchScriptSection(script, constants: entryRoles.filter { $0 == .torchScriptConstant }.count), at: 0)
        }

        if let summary = CheckpointSummary(self) {
            sections.insert(InspectionSection(key: "checkpoint", title: "checkpoint", json: summary.json, lines: summary.lines), at: 0)
        }

        let totalStorage = storages.filter { $0.legacyView == nil }.reduce(0) { $0 + $1.byteCount }
        let unreferenced = unreferencedStorageBytes
        sections.append(InspectionSection(
            key: "storages", title: "storages",
            json: .object([("count", .int(storages.count)), ("nbytes", .int(totalStorage)), ("unreferenced_nbytes", .int(unreferenced))]),
            lines: ["\(storages.count) storages, \(Formatting.bytes(totalStorage))"
                    + (unreferenced > 0 ? "; \(Formatting.bytes(unreferenced)) saved but used by no tensor (views that saved their whole storage)" : "")]))
        return sections
    }
}

extension TorchFile: ParameterCountingSource {
    /// Under `state_dict` when the top-level dict has one; otherwise every weight (not optimizer
    /// state, not a TorchScript constant). One tensor: the same storage, offset, sizes and strides.
    var parameterCounting: [(counts: Bool, tensor: AnyHashable?)] {
        var underStateDict = false
        if case .dict(let top) = root, top["state_dict"] != nil { underStateDict = true }
        return entries.indices.map { index in
            let counts = underStateDict ? entries[index].name.hasPrefix("state_dict.") : entryRoles[index] == .weights
            let record = tensors[entryTensors[index]]
            guard let storage = record.storage else { return (counts, nil) }
            return (counts, AnyHashable(TensorIdentity(storage: storage, offset: record.storageOffset, sizes: record.sizes, strides: record.strides)))
        }
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
    /// The `torchscript` section: the code records (never run), the module classes the code
    /// declares with their parameters and buffers, and how many constants the archive holds.
    static func torchScriptSection(_ script: TorchScriptContents, constants: Int) -> InspectionSection {
        let classes = script.classes.keys.sorted()
        let modules = classes.filter { script.classes[$0]?.isModule == true }
        var lines = ["code: " + script.archive.codeFiles.prefix(5).joined(separator: ", ")
                     + (script.archive.codeFiles.count > 5 ? ", … (\(script.archive.codeFiles.count) files)" : "") + " (read-only; never run)"]
        if !modules.isEmpty { lines.append("modules: " + modules.prefix(8).joined(separator: ", ") + (modules.count > 8 ? ", …" : "")) }
        lines.append("constants: \(constants) tensor\(constants == 1 ? "" : "s")")
        if !script.archive.otherPickles.isEmpty { lines.append("not read: " + script.archive.otherPickles.joined(separator: ", ")) }
        let json = JSONValue.object([
            ("code_files", .array(script.archive.codeFiles.map { .string($0) })),
            ("classes", .array(classes.map { name in
                let declaration = script.classes[name]
                return .object([
                    ("name", .string(name)), ("module", .bool(declaration?.isModule ?? false)),
                    ("parameters", .array((declaration?.parameters ?? []).map { .string($0) })),
                    ("buffers", .array((declaration?.buffers ?? []).map { .string($0) })),
                ])
            })),
            ("constants", .int(constants)),
            ("other_pickles", .array(script.archive.otherPickles.map { .string($0) })),
        ])
        return InspectionSection(key: "torchscript", title: "TorchScript archive", json: json, lines: lines)
    }

    /// Scalars and non-tensor leaves by dotted path, depth first, at most `limit` of them.
    static func plainValues(_ root: TorchValue, limit: Int) -> [(path: String, summary: String)] {
        var result: [(String, String)] = []
        var pending: [(TorchValue, String)] = [(root, "")]
        var visits = 0
        func join(_ path: String, _ component: String) -> String { path.isEmpty ? component : path + "." + component }
        while let (value, path) = pending.popLast(), result.count < limit, visits < 1_000_000 {
            visits += 1
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

extension TorchValue {
    var isScalarLeaf: Bool {
        switch self {
        case .list, .tuple, .dict, .set, .tensor, .opaque: return false
        default: return true
        }
    }
}
