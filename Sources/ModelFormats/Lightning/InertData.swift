// Objects that were never loaded (kept inert with --allow-unknown-objects) as the data they hold.
//
// A Lightning module that calls `save_hyperparameters()` with an OmegaConf `DictConfig` (as Hydra
// applications do) pickles the config object itself into `hyper_parameters`: a tree of
// `omegaconf.dictconfig.DictConfig` and `omegaconf.listconfig.ListConfig` containers whose BUILD
// state keeps the entries under `_content`, and value nodes (`omegaconf.nodes.AnyNode`,
// `StringNode`, `IntegerNode`, …) that keep their value under `_val`; `_metadata` and `_parent`
// are bookkeeping (docs/formats.md, "OmegaConf configs in checkpoints"). Reading those fields from
// the inert records gives the config's keys and values without importing or calling anything.

/// Inert objects shown as the plain values they hold.
public enum InertData {
    /// The most values ``plain(_:)`` visits; a tree that expands further (shared subtrees count
    /// each time they are reached) is cut there, the rest shown as `…`.
    public static let maxVisits = 100_000
    /// The deepest ``plain(_:)`` goes; deeper values are shown as `…`.
    public static let maxDepth = 64

    /// `value` with OmegaConf containers and nodes replaced by their content (`DictConfig` → a
    /// dict, `ListConfig` → a list, a value node → its value; a missing value stays the string
    /// `???` and an interpolation its `${…}` text), and a dict or list subclass of an unknown class
    /// without state (such as `collections.defaultdict`) by its items. Other inert objects stay
    /// ``TorchValue/opaque(_:)``, with their state made plain the same way.
    public static func plain(_ value: TorchValue) -> TorchValue {
        var visits = 0
        return plain(value, visits: &visits)
    }

    /// ``plain(_:)`` that counts the values it visits into `visits`, stopping (the rest shown as
    /// `…`) once `visits` exceeds `maxVisits`: callers that make many values plain share one budget.
    public static func plain(_ value: TorchValue, visits: inout Int, maxVisits: Int = InertData.maxVisits) -> TorchValue {
        plain(value, depth: 0, visits: &visits, maxVisits: maxVisits)
    }

    /// The cut-off marker.
    static let elided = TorchValue.string("…")

    private static func plain(_ value: TorchValue, depth: Int, visits: inout Int, maxVisits: Int) -> TorchValue {
        visits += 1
        // Recursion is bounded by `maxDepth`; the work by `maxVisits`.
        guard visits <= maxVisits, depth <= maxDepth else { return elided }
        switch value {
        case .dict(var dict):
            dict.entries = dict.entries.map { (key: $0.key, value: plain($0.value, depth: depth + 1, visits: &visits, maxVisits: maxVisits)) }
            return .dict(dict)
        case .list(let items): return .list(items.map { plain($0, depth: depth + 1, visits: &visits, maxVisits: maxVisits) })
        case .tuple(let items): return .tuple(items.map { plain($0, depth: depth + 1, visits: &visits, maxVisits: maxVisits) })
        case .set(let items): return .set(items.map { plain($0, depth: depth + 1, visits: &visits, maxVisits: maxVisits) })
        case .opaque(let object):
            if object.module == "omegaconf" || object.module.hasPrefix("omegaconf."), case .dict(let state)? = object.state {
                if let content = state["_content"] { return plain(content, depth: depth + 1, visits: &visits, maxVisits: maxVisits) }
                if let inner = state["_val"] { return plain(inner, depth: depth + 1, visits: &visits, maxVisits: maxVisits) }
            }
            if object.state == nil, let items = object.dictItems {
                return plain(.dict(items), depth: depth + 1, visits: &visits, maxVisits: maxVisits)
            }
            if object.state == nil, object.dictItems == nil, !object.listItems.isEmpty {
                return plain(.list(object.listItems), depth: depth + 1, visits: &visits, maxVisits: maxVisits)
            }
            return .opaque(TorchOpaqueObject(
                module: object.module, name: object.name,
                arguments: object.arguments.map { plain($0, depth: depth + 1, visits: &visits, maxVisits: maxVisits) },
                state: object.state.map { plain($0, depth: depth + 1, visits: &visits, maxVisits: maxVisits) },
                listItems: object.listItems.map { plain($0, depth: depth + 1, visits: &visits, maxVisits: maxVisits) },
                dictItems: object.dictItems.map { items in
                    var copy = items
                    copy.entries = items.entries.map { (key: $0.key, value: plain($0.value, depth: depth + 1, visits: &visits, maxVisits: maxVisits)) }
                    return copy
                }))
        default:
            return value
        }
    }
}
