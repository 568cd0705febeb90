import ExactText

/// A list in a ``PickleValue`` tree.
public final class PickleList: PickleNode, @unchecked Sendable {
    /// The items, in order.
    public internal(set) var items: [PickleValue]

    /// A list of `items`.
    public init(_ items: [PickleValue]) {
        self.items = items
        super.init(depth: PickleNode.depth(containing: items))
    }

    deinit { PickleTeardown.dismantle(&items) }

    override func moveChildren(into work: inout [PickleValue]) {
        work.append(contentsOf: items)
        items = []
        childrenMoved = true
    }
}

/// A tuple in a ``PickleValue`` tree.
public final class PickleTuple: PickleNode, @unchecked Sendable {
    /// The items, in order.
    public private(set) var items: [PickleValue]

    /// A tuple of `items`.
    public init(_ items: [PickleValue]) {
        self.items = items
        super.init(depth: PickleNode.depth(containing: items))
    }

    deinit { PickleTeardown.dismantle(&items) }

    override func moveChildren(into work: inout [PickleValue]) {
        work.append(contentsOf: items)
        items = []
        childrenMoved = true
    }
}

/// A dict in a ``PickleValue`` tree: insertion-ordered entries with hashable scalar keys.
///
/// Keys follow Python's rules: assigning to a key that is already present (including `1` vs `True`
/// vs `1.0`) replaces the value and keeps the first key and its position. A dict made by calling a
/// dict subclass (`collections.OrderedDict()`) records that class in ``className``. A later
/// `BUILD` on the dict (how `Module.state_dict()` attaches `_metadata`) is kept in ``buildState``.
public final class PickleDict: PickleNode, @unchecked Sendable {
    /// The dict subclass that made this dict (e.g. `collections.OrderedDict`), or `nil` for `{}`.
    public let className: PickleGlobal?
    /// The keys, in insertion order.
    public private(set) var keys: [PickleValue]
    /// The values, parallel to ``keys``.
    public private(set) var values: [PickleValue]
    /// The state of a `BUILD` applied to this dict, if any.
    public internal(set) var buildState: PickleValue?
    /// Key → position in ``keys``.
    private var positions: [PickleKey: Int]

    /// An empty dict, made by the unpickler.
    init(className: PickleGlobal?) {
        self.className = className
        keys = []
        values = []
        positions = [:]
        super.init(depth: 1)
    }

    /// A dict of `entries` in order; a repeated key replaces the earlier value in place.
    ///
    /// Traps if a key is not hashable (see ``isHashableKey(_:)``): building such a dict is a
    /// programming error.
    public init(
        _ entries: [(key: PickleValue, value: PickleValue)], className: PickleGlobal? = nil,
        buildState: PickleValue? = nil
    ) {
        self.className = className
        keys = []
        values = []
        positions = [:]
        self.buildState = buildState
        super.init(depth: 1)
        keys.reserveCapacity(entries.count)
        values.reserveCapacity(entries.count)
        for (key, value) in entries {
            guard let hashKey = PickleKey(key) else {
                preconditionFailure("PickleDict key \(key.kind) is not hashable")
            }
            set(value, forKey: key, hashKey: hashKey)
        }
        depth = max(depth, (buildState?.depth ?? 0) + 1)
    }

    /// Whether `key` may be a dict key or set element: a string, int, big int, bool, `None`,
    /// non-NaN float, bytes, a global, an object of an unknown class (by identity), or a tuple of
    /// those (nested at most 32 deep).
    public static func isHashableKey(_ key: PickleValue) -> Bool { PickleKey(key) != nil }

    deinit {
        PickleTeardown.dismantle(&keys)
        PickleTeardown.dismantle(&values)
        PickleTeardown.dismantle(&buildState)
    }

    override func moveChildren(into work: inout [PickleValue]) {
        work.append(contentsOf: keys)
        work.append(contentsOf: values)
        if let state = buildState.take() { work.append(state) }
        keys = []
        values = []
        childrenMoved = true
    }

    /// The number of entries.
    public var count: Int { keys.count }

    /// A new, unfrozen dict with the same class, entries and build state.
    func copied() -> PickleDict {
        let copy = PickleDict(className: className)
        copy.keys = keys
        copy.values = values
        copy.positions = positions
        copy.buildState = buildState
        copy.depth = depth
        return copy
    }

    /// The entries in insertion order.
    public var entries: [(key: PickleValue, value: PickleValue)] {
        Array(zip(keys, values)).map { (key: $0.0, value: $0.1) }
    }

    /// The value stored under `key` (with Python's key equality), or `nil`.
    public func value(forKey key: PickleValue) -> PickleValue? {
        guard let hashKey = PickleKey(key), let position = positions[hashKey] else { return nil }
        return values[position]
    }

    /// The value stored under the string key `key`, or `nil`.
    public subscript(key: String) -> PickleValue? {
        guard let position = positions[.string(ExactString(key))] else { return nil }
        return values[position]
    }

    /// Stores `value` under `key`; used by the unpickler after it has frozen both.
    func set(_ value: PickleValue, forKey key: PickleValue, hashKey: PickleKey) {
        if let position = positions[hashKey] {
            values[position] = value
        } else {
            positions[hashKey] = keys.count
            keys.append(key)
            values.append(value)
        }
        depth = max(depth, key.depth + 1, value.depth + 1)
    }
}

/// A set in a ``PickleValue`` tree, in insertion order, with Python's element equality.
///
/// The unpickler makes one from `EMPTY_SET` or from the protocol-2 spelling
/// `builtins.set(list)`.
public final class PickleSet: PickleNode, @unchecked Sendable {
    /// The elements, in insertion order, without duplicates.
    public private(set) var elements: [PickleValue]
    private var members: Set<PickleKey>

    /// A set of `elements`; later duplicates are dropped, as Python does.
    ///
    /// Traps if an element is not hashable (see ``PickleDict/isHashableKey(_:)``).
    public init(_ elements: [PickleValue]) {
        self.elements = []
        members = []
        super.init(depth: 1)
        for element in elements {
            guard let key = PickleKey(element) else {
                preconditionFailure("PickleSet element \(element.kind) is not hashable")
            }
            insert(element, key: key)
        }
    }

    /// An empty set, made by the unpickler.
    init() {
        elements = []
        members = []
        super.init(depth: 1)
    }

    deinit { PickleTeardown.dismantle(&elements) }

    override func moveChildren(into work: inout [PickleValue]) {
        work.append(contentsOf: elements)
        elements = []
        childrenMoved = true
    }

    /// Adds `element` unless an equal one is present.
    func insert(_ element: PickleValue, key: PickleKey) {
        guard members.insert(key).inserted else { return }
        elements.append(element)
        depth = max(depth, element.depth + 1)
    }
}
