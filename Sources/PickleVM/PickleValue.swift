import ExactText

/// A value decoded from a pickle, or to be encoded into one: an inert tree.
///
/// Scalars are stored inline. Containers and the inert call nodes are reference types
/// (subclasses of ``PickleNode``), so a memoized object fetched again with `BINGET` is the *same*
/// object, and a "billion laughs" pickle costs memory linear in its size. Nothing in the tree can
/// be executed: a global is just a module and a name, and a call is just the callable's name and
/// its arguments.
///
/// Trees cannot contain cycles: the ``Unpickler`` freezes a container once it is placed inside
/// another, and the public node initialisers only accept children that already exist. Freeing,
/// comparing and encoding a tree never recurses, however deep it is.
///
/// `==` compares structure (containers element by element, in stored order); strings compare by
/// their exact Unicode scalars (not by canonical equivalence) and floats by bit pattern, so
/// `-0.0 != 0.0` and `nan == nan`.
public enum PickleValue: Sendable {
    /// `None`.
    case none
    /// `True` or `False`.
    case bool(Bool)
    /// An integer that fits in 64 bits (from `BININT*` or `LONG1`).
    case int(Int64)
    /// An integer outside the `Int64` range (from `LONG1`).
    case bigInt(PickleBigInt)
    /// A double (`BINFLOAT`).
    case float(Double)
    /// A Unicode string (`BINUNICODE`, validated UTF-8).
    case string(String)
    /// Raw bytes: `SHORT_BINSTRING`, or the protocol-2 spelling of `bytes`,
    /// `_codecs.encode(text, 'latin1')` (see ``Unpickler``).
    case bytes([UInt8])
    /// A module attribute named by `GLOBAL`; never resolved.
    case global(PickleGlobal)
    /// A list.
    case list(PickleList)
    /// A tuple.
    case tuple(PickleTuple)
    /// A dict (or a dict subclass such as `collections.OrderedDict`), in insertion order.
    case dict(PickleDict)
    /// A set, in insertion order.
    case set(PickleSet)
    /// An inert `REDUCE` or `NEWOBJ` call, with the state of a later `BUILD`.
    case object(PickleObject)
    /// The result of `BINPERSID`: a reference the caller resolves.
    case persistentID(PicklePersistentID)
}

/// The kind of a ``PickleValue``, for messages and quick checks.
public enum PickleValueKind: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// ``PickleValue/none``.
    case none = "None"
    /// ``PickleValue/bool(_:)``.
    case bool
    /// ``PickleValue/int(_:)``.
    case int
    /// ``PickleValue/bigInt(_:)``.
    case bigInt = "big int"
    /// ``PickleValue/float(_:)``.
    case float
    /// ``PickleValue/string(_:)``.
    case string
    /// ``PickleValue/bytes(_:)``.
    case bytes
    /// ``PickleValue/global(_:)``.
    case global
    /// ``PickleValue/list(_:)``.
    case list
    /// ``PickleValue/tuple(_:)``.
    case tuple
    /// ``PickleValue/dict(_:)``.
    case dict
    /// ``PickleValue/set(_:)``.
    case set
    /// ``PickleValue/object(_:)``.
    case object
    /// ``PickleValue/persistentID(_:)``.
    case persistentID = "persistent id"

    /// The kind's name, e.g. `dict`.
    public var description: String { rawValue }

    /// The name with an indefinite article, e.g. `a dict`, `an int`.
    public var withArticle: String {
        switch self {
        case .none: return "None"
        case .int, .object: return "an \(rawValue)"
        default: return "a \(rawValue)"
        }
    }
}

extension PickleValue {
    /// What kind of value this is.
    public var kind: PickleValueKind {
        switch self {
        case .none: return .none
        case .bool: return .bool
        case .int: return .int
        case .bigInt: return .bigInt
        case .float: return .float
        case .string: return .string
        case .bytes: return .bytes
        case .global: return .global
        case .list: return .list
        case .tuple: return .tuple
        case .dict: return .dict
        case .set: return .set
        case .object: return .object
        case .persistentID: return .persistentID
        }
    }

    /// The container or node behind this value, or `nil` for a scalar or global.
    public var node: PickleNode? {
        switch self {
        case .list(let node): return node
        case .tuple(let node): return node
        case .dict(let node): return node
        case .set(let node): return node
        case .object(let node): return node
        case .persistentID(let node): return node
        case .none, .bool, .int, .bigInt, .float, .string, .bytes, .global: return nil
        }
    }

    /// Nesting depth: 0 for a scalar or global, otherwise the node's ``PickleNode/depth``.
    public var depth: Int { node?.depth ?? 0 }

    /// The string, if this is ``string(_:)``.
    public var stringValue: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    /// The integer, if this is ``int(_:)``.
    public var intValue: Int64? {
        if case .int(let value) = self { return value }
        return nil
    }

    /// The Boolean, if this is ``bool(_:)``.
    public var boolValue: Bool? {
        if case .bool(let value) = self { return value }
        return nil
    }

    /// The double, if this is ``float(_:)``.
    public var floatValue: Double? {
        if case .float(let value) = self { return value }
        return nil
    }

    /// The bytes, if this is ``bytes(_:)``.
    public var bytesValue: [UInt8]? {
        if case .bytes(let value) = self { return value }
        return nil
    }

    /// The global, if this is ``global(_:)``.
    public var globalValue: PickleGlobal? {
        if case .global(let value) = self { return value }
        return nil
    }

    /// The list, if this is ``list(_:)``.
    public var listValue: PickleList? {
        if case .list(let value) = self { return value }
        return nil
    }

    /// The tuple, if this is ``tuple(_:)``.
    public var tupleValue: PickleTuple? {
        if case .tuple(let value) = self { return value }
        return nil
    }

    /// The dict, if this is ``dict(_:)``.
    public var dictValue: PickleDict? {
        if case .dict(let value) = self { return value }
        return nil
    }

    /// The set, if this is ``set(_:)``.
    public var setValue: PickleSet? {
        if case .set(let value) = self { return value }
        return nil
    }

    /// The call node, if this is ``object(_:)``.
    public var objectValue: PickleObject? {
        if case .object(let value) = self { return value }
        return nil
    }

    /// The persistent-id node, if this is ``persistentID(_:)``.
    public var persistentIDValue: PicklePersistentID? {
        if case .persistentID(let value) = self { return value }
        return nil
    }

    /// Moves the node out of `self`, leaving `.none`, so that the caller holds the only reference
    /// this value had. Used by the iterative teardown.
    mutating func takeNode() -> PickleNode? {
        let taken: PickleNode
        switch self {
        case .list(let node): taken = node
        case .tuple(let node): taken = node
        case .dict(let node): taken = node
        case .set(let node): taken = node
        case .object(let node): taken = node
        case .persistentID(let node): taken = node
        case .none, .bool, .int, .bigInt, .float, .string, .bytes, .global: return nil
        }
        self = .none
        return taken
    }

    /// Whether the value holds a node (the teardown's fast path skips arrays without any).
    var holdsNode: Bool {
        switch self {
        case .list, .tuple, .dict, .set, .object, .persistentID: return true
        case .none, .bool, .int, .bigInt, .float, .string, .bytes, .global: return false
        }
    }
}

extension PickleValue: Equatable {
    /// Structural equality, computed iteratively (never recursing) and visiting each pair of
    /// shared nodes once, so comparing deep or heavily shared trees is safe and linear.
    public static func == (lhs: PickleValue, rhs: PickleValue) -> Bool {
        var pending: [(PickleValue, PickleValue)] = [(lhs, rhs)]
        var seenPairs = Set<NodePair>()

        // Schedules a pair of nodes once; identical nodes are equal without looking inside.
        func firstVisit(_ left: PickleNode, _ right: PickleNode) -> Bool {
            if left === right { return false }
            return seenPairs.insert(NodePair(left: ObjectIdentifier(left), right: ObjectIdentifier(right))).inserted
        }

        while let (left, right) = pending.popLast() {
            switch (left, right) {
            case (.none, .none):
                continue
            case (.bool(let a), .bool(let b)):
                guard a == b else { return false }
            case (.int(let a), .int(let b)):
                guard a == b else { return false }
            case (.bigInt(let a), .bigInt(let b)):
                guard a == b else { return false }
            case (.float(let a), .float(let b)):
                guard a.bitPattern == b.bitPattern else { return false }
            case (.string(let a), .string(let b)):
                guard a.isByteEqual(to: b) else { return false }
            case (.bytes(let a), .bytes(let b)):
                guard a == b else { return false }
            case (.global(let a), .global(let b)):
                guard a == b else { return false }
            case (.list(let a), .list(let b)):
                guard firstVisit(a, b) else { continue }
                guard a.items.count == b.items.count else { return false }
                pending.append(contentsOf: zip(a.items, b.items))
            case (.tuple(let a), .tuple(let b)):
                guard firstVisit(a, b) else { continue }
                guard a.items.count == b.items.count else { return false }
                pending.append(contentsOf: zip(a.items, b.items))
            case (.dict(let a), .dict(let b)):
                guard firstVisit(a, b) else { continue }
                guard a.className == b.className, a.count == b.count else { return false }
                switch (a.buildState, b.buildState) {
                case (nil, nil): break
                case (let stateA?, let stateB?): pending.append((stateA, stateB))
                default: return false
                }
                pending.append(contentsOf: zip(a.keys, b.keys))
                pending.append(contentsOf: zip(a.values, b.values))
            case (.set(let a), .set(let b)):
                guard firstVisit(a, b) else { continue }
                guard a.elements.count == b.elements.count else { return false }
                pending.append(contentsOf: zip(a.elements, b.elements))
            case (.object(let a), .object(let b)):
                guard firstVisit(a, b) else { continue }
                guard a.kind == b.kind, a.callable == b.callable else { return false }
                switch (a.state, b.state) {
                case (nil, nil): break
                case (let stateA?, let stateB?): pending.append((stateA, stateB))
                default: return false
                }
                pending.append((.tuple(a.arguments), .tuple(b.arguments)))
                switch (a.listItems, b.listItems) {
                case (nil, nil): break
                case (let itemsA?, let itemsB?): pending.append((.list(itemsA), .list(itemsB)))
                default: return false
                }
                switch (a.dictItems, b.dictItems) {
                case (nil, nil): break
                case (let itemsA?, let itemsB?): pending.append((.dict(itemsA), .dict(itemsB)))
                default: return false
                }
            case (.persistentID(let a), .persistentID(let b)):
                guard firstVisit(a, b) else { continue }
                pending.append((a.id, b.id))
            default:
                return false
            }
        }
        return true
    }
}

/// Two node identities compared by ``PickleValue/==(_:_:)``.
private struct NodePair: Hashable {
    let left: ObjectIdentifier
    let right: ObjectIdentifier
}
