// Shared subtrees of a torch object tree. A pickle may reference one container from many places
// (through its memo), and the interpreter keeps that sharing: every reference holds the same
// children array. A tree of 60 levels, each a list holding the level below twice, is 61 containers
// but 2^60 paths, so anything that walks a tree read from a file — naming its tensors, rewriting it
// for `strip` or `convert` — visits each container once, recognised by the identity of its
// children array (docs/security.md, "Every resource a file controls has a budget").

/// The identity of a container in a ``TorchValue`` tree: its kind and the address of its children
/// array, which every reference to the same container shares. An inert object has several
/// children arrays (arguments, state, list and dict items), and two objects may share one of them
/// (a memoized arguments tuple), so its identity holds all of their addresses.
struct TorchContainerIdentity: Hashable {
    enum Kind: UInt8 { case list, tuple, set, dict, opaque }
    let kind: Kind
    let address: UnsafeRawPointer?
    var more: [UnsafeRawPointer?] = []
}

extension TorchValue {
    /// The identity of this container, or `nil` for scalars, tensors and empty containers (which
    /// hold nothing worth sharing).
    var containerIdentity: TorchContainerIdentity? {
        func identity<T>(_ kind: TorchContainerIdentity.Kind, _ items: [T]) -> TorchContainerIdentity? {
            guard !items.isEmpty, let address = items.withUnsafeBufferPointer({ $0.baseAddress }) else { return nil }
            return TorchContainerIdentity(kind: kind, address: UnsafeRawPointer(address))
        }
        switch self {
        case .list(let items): return identity(.list, items)
        case .tuple(let items): return identity(.tuple, items)
        case .set(let items): return identity(.set, items)
        case .dict(let dict): return identity(.dict, dict.entries)
        case .opaque(let object):
            func address<T>(_ items: [T]) -> UnsafeRawPointer? {
                items.isEmpty ? nil : items.withUnsafeBufferPointer { $0.baseAddress.map { UnsafeRawPointer($0) } }
            }
            let state = object.state?.containerIdentity.map { [$0.address] + $0.more } ?? [nil]
            let parts = [address(object.arguments), address(object.listItems), object.dictItems.flatMap { address($0.entries) }] + state
            guard parts.contains(where: { $0 != nil }) else { return nil }
            return TorchContainerIdentity(kind: .opaque, address: parts[0], more: Array(parts.dropFirst()))
        default: return nil
        }
    }

    /// The values a walk over tensors descends into: dict values, list and tuple items, an inert
    /// object's arguments, state and list or dict items. (Dict keys and set elements are never
    /// tensors' places.)
    var tensorBearingChildren: [TorchValue] {
        switch self {
        case .dict(let dict): return dict.entries.map(\.value)
        case .list(let items), .tuple(let items): return items
        case .opaque(let object):
            return object.arguments + (object.state.map { [$0] } ?? []) + object.listItems + (object.dictItems?.entries.map(\.value) ?? [])
        default: return []
        }
    }
}

/// Which containers of a tree hold a tensor somewhere below them, worked out once per container.
struct TensorPresence {
    /// The answer for each container seen, with the container itself: holding it keeps its
    /// children array alive, so its address cannot be reused by another container while the memo
    /// lives.
    private var memo: [TorchContainerIdentity: (holds: Bool, container: TorchValue)] = [:]

    /// Whether `value` is a tensor or holds one (in the places ``TorchValue/tensorBearingChildren``
    /// lists). Iterative, and linear in the number of distinct containers.
    mutating func holdsTensors(_ value: TorchValue) -> Bool {
        if case .tensor = value { return true }
        if let identity = value.containerIdentity, let known = memo[identity] { return known.holds }
        // Post-order over containers not yet known; identity-less containers (empty ones, inert
        // objects without arguments) are decided from their children directly.
        var stack: [(value: TorchValue, expanded: Bool)] = [(value, false)]
        var decided: [Bool] = []
        while let (current, expanded) = stack.popLast() {
            if case .tensor = current { decided.append(true); continue }
            if let identity = current.containerIdentity, let known = memo[identity] { decided.append(known.holds); continue }
            let children = current.tensorBearingChildren
            if !expanded {
                stack.append((current, true))
                for child in children.reversed() { stack.append((child, false)) }
                continue
            }
            let results = decided.suffix(children.count)
            let holds = results.contains(true)
            decided.removeLast(children.count)
            if let identity = current.containerIdentity { memo[identity] = (holds, current) }
            decided.append(holds)
        }
        return decided.last ?? false
    }
}

extension TorchValue {
    /// Whether a tensor is reachable from this value (through containers and inert objects), each
    /// shared container looked at once (``TensorPresence``).
    public func containsTensor() -> Bool {
        var presence = TensorPresence()
        return presence.holdsTensors(self)
    }

    /// The qualified name of the first object or class below this value that was never loaded
    /// (kept inert), depth first, dict keys before their values; each shared container is looked
    /// at once, so a tree of 2^60 paths costs its number of containers. (The tree stays alive
    /// while it is walked, so no container's address is reused.)
    public var firstInertObject: String? {
        var pending: [TorchValue] = [self]
        var seen = Set<TorchContainerIdentity>()
        while let next = pending.popLast() {
            if let identity = next.containerIdentity, !seen.insert(identity).inserted { continue }
            switch next {
            case .opaque(let object): return object.qualifiedName
            case .global(let module, let name) where TorchGlobals.meaning(module: module, name: name) == nil: return "\(module).\(name)"
            case .dict(let dict): pending.append(contentsOf: dict.entries.reversed().flatMap { [$0.value, $0.key] })
            case .list(let items), .tuple(let items), .set(let items): pending.append(contentsOf: items.reversed())
            default: continue
            }
        }
        return nil
    }
}
