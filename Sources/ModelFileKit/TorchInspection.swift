import BinaryIO
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

        if let summary = CheckpointSummary(self) {
            sections.insert(InspectionSection(key: "checkpoint", title: "checkpoint", json: summary.json, lines: summary.lines), at: 0)
        }

        let totalStorage = storages.filter { $0.legacyView == nil }.saturatingSum(\.byteCount)
        let unreferenced = unreferencedStorageBytes
        sections.append(InspectionSection(
            key: "storages", title: "storages",
            json: .object([("count", .int(storages.count)), ("nbytes", .int(totalStorage)), ("unreferenced_nbytes", .int(unreferenced))]),
            lines: ["\(storages.count) storages, \(Formatting.bytes(totalStorage))"
                    + (unreferenced > 0 ? "; \(Formatting.bytes(unreferenced)) saved but used by no tensor (views that saved their whole storage)" : "")]))
        return sections
    }
}

enum TorchInspection {
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
