/// An inert call in a ``PickleValue`` tree: what `REDUCE` (`callable(*arguments)`) or `NEWOBJ`
/// (`cls.__new__(cls, *arguments)`) would have done, plus the state a later `BUILD` would have
/// applied. Nothing is called; the caller decides what, if anything, the call means.
public final class PickleObject: PickleNode, @unchecked Sendable {
    /// Which opcode made the object.
    public enum Kind: String, Sendable, Hashable {
        /// `REDUCE`: `callable(*arguments)`.
        case reduce
        /// `NEWOBJ`: `cls.__new__(cls, *arguments)`.
        case newObject
    }

    /// Which opcode made the object.
    public let kind: Kind
    /// The callable (for `REDUCE`) or class (for `NEWOBJ`).
    public let callable: PickleGlobal
    /// The argument tuple.
    public let arguments: PickleTuple
    /// The state of a `BUILD` applied to the object, if any.
    public internal(set) var state: PickleValue?
    /// Items `APPEND`/`APPENDS` added to the object, as Python's pickler writes a list subclass
    /// (the unpickler keeps them only for objects of unknown classes).
    public internal(set) var listItems: PickleList?
    /// Entries `SETITEM`/`SETITEMS` added to the object, as Python's pickler writes a dict subclass
    /// such as `collections.defaultdict` (the unpickler keeps them only for objects of unknown
    /// classes).
    public internal(set) var dictItems: PickleDict?

    /// An object made by `kind` from `callable` and `arguments`, with optional `BUILD` state and
    /// the items a list or dict subclass holds.
    public init(
        kind: Kind, callable: PickleGlobal, arguments: PickleTuple, state: PickleValue? = nil,
        listItems: PickleList? = nil, dictItems: PickleDict? = nil
    ) {
        self.kind = kind
        self.callable = callable
        self.arguments = arguments
        self.state = state
        self.listItems = listItems
        self.dictItems = dictItems
        super.init(
            depth: max(arguments.depth, state?.depth ?? 0, listItems?.depth ?? 0, dictItems?.depth ?? 0) + 1)
    }

    /// `callable(*arguments)`, with optional `BUILD` state.
    public convenience init(reduce callable: PickleGlobal, arguments: [PickleValue], state: PickleValue? = nil) {
        self.init(kind: .reduce, callable: callable, arguments: PickleTuple(arguments), state: state)
    }

    deinit {
        guard !childrenMoved else { return }
        // The argument tuple stays referenced by `arguments` until this object's storage is
        // destroyed; that release only starts the tuple's own iterative teardown.
        var items: [PickleValue] = []
        if let listItems = listItems.take() { items.append(.list(listItems)) }
        if let dictItems = dictItems.take() { items.append(.dict(dictItems)) }
        if let state = state.take() { items.append(state) }
        PickleTeardown.dismantle(&items)
    }

    override func moveChildren(into work: inout [PickleValue]) {
        work.append(.tuple(arguments))
        if let state = state.take() { work.append(state) }
        if let listItems = listItems.take() { work.append(.list(listItems)) }
        if let dictItems = dictItems.take() { work.append(.dict(dictItems)) }
        childrenMoved = true
    }
}

/// The result of `BINPERSID`: a persistent id (any value, usually a tuple) that the caller
/// resolves, e.g. to a tensor storage.
public final class PicklePersistentID: PickleNode, @unchecked Sendable {
    /// The id value, exactly as pickled.
    public private(set) var id: PickleValue

    /// A persistent id with value `id`.
    public init(_ id: PickleValue) {
        self.id = id
        super.init(depth: id.depth + 1)
    }

    deinit {
        guard !childrenMoved, id.holdsNode else { return }
        var children = [id]
        id = .none
        PickleTeardown.dismantle(&children)
    }

    override func moveChildren(into work: inout [PickleValue]) {
        work.append(id)
        id = .none
        childrenMoved = true
    }
}
