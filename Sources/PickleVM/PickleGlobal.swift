/// A module attribute named by `GLOBAL`, e.g. `collections.OrderedDict`. Only a name: nothing is
/// imported or resolved.
public struct PickleGlobal: Hashable, Sendable, CustomStringConvertible {
    /// The module, after the Python-2 name mapping (e.g. `builtins`, not `__builtin__`).
    public let module: String
    /// The attribute name (may be dotted, e.g. `Outer.Inner`).
    public let name: String
    /// Whether the global policy answered ``PickleGlobalVerdict/keepInert``: the caller does not
    /// know this global and should report it.
    public let isUnknown: Bool

    /// The global `module.name`.
    public init(module: String, name: String, isUnknown: Bool = false) {
        self.module = module
        self.name = name
        self.isUnknown = isUnknown
    }

    /// `module.name`.
    public var qualifiedName: String { "\(module).\(name)" }

    /// `module.name`, with ` (unknown)` appended for an unknown global.
    public var description: String { isUnknown ? "\(qualifiedName) (unknown)" : qualifiedName }

    /// Whether this names the same attribute as `other`, ignoring ``isUnknown``.
    public func names(_ other: PickleGlobal) -> Bool { module == other.module && name == other.name }

    /// Maps a Python-2 module/name pair to its Python-3 spelling, as Python's unpickler does for
    /// protocol < 3 (`fix_imports`) and PyTorch's weights-only unpickler does before checking its
    /// allowlist: first the exact-pair table, else the module table, else unchanged.
    ///
    /// The tables are PyTorch's (`torch/_utils.py` `NAME_MAPPING`/`IMPORT_MAPPING`, a subset of
    /// CPython's `Lib/_compat_pickle.py`), so a name resolves here exactly as it does in torch.
    public static func python3Spelling(module: String, name: String) -> (module: String, name: String) {
        if let mapped = nameMapping[PairKey(module: module, name: name)] { return mapped }
        if let mappedModule = importMapping[module] { return (mappedModule, name) }
        return (module, name)
    }

    private struct PairKey: Hashable {
        let module: String
        let name: String
    }

    /// Whole-module renames (torch's `IMPORT_MAPPING`).
    private static let importMapping: [String: String] = [
        "__builtin__": "builtins",
        "copy_reg": "copyreg",
        "Queue": "queue",
        "repr": "reprlib",
        "_abcoll": "collections.abc",
        "UserDict": "collections",
        "UserList": "collections",
        "UserString": "collections",
        "whichdb": "dbm",
        "StringIO": "io",
        "cStringIO": "io",
    ]

    /// Renames of single attributes (torch's `NAME_MAPPING`); checked before ``importMapping``.
    private static let nameMapping: [PairKey: (module: String, name: String)] = [
        PairKey(module: "__builtin__", name: "xrange"): ("builtins", "range"),
        PairKey(module: "__builtin__", name: "reduce"): ("functools", "reduce"),
        PairKey(module: "__builtin__", name: "intern"): ("sys", "intern"),
        PairKey(module: "__builtin__", name: "unichr"): ("builtins", "chr"),
        PairKey(module: "__builtin__", name: "unicode"): ("builtins", "str"),
        PairKey(module: "__builtin__", name: "long"): ("builtins", "int"),
        PairKey(module: "itertools", name: "izip"): ("builtins", "zip"),
        PairKey(module: "itertools", name: "imap"): ("builtins", "map"),
        PairKey(module: "itertools", name: "ifilter"): ("builtins", "filter"),
        PairKey(module: "itertools", name: "ifilterfalse"): ("itertools", "filterfalse"),
        PairKey(module: "itertools", name: "izip_longest"): ("itertools", "zip_longest"),
        PairKey(module: "UserDict", name: "IterableUserDict"): ("collections", "UserDict"),
        PairKey(module: "UserList", name: "UserList"): ("collections", "UserList"),
        PairKey(module: "UserString", name: "UserString"): ("collections", "UserString"),
        PairKey(module: "__builtin__", name: "basestring"): ("builtins", "str"),
        PairKey(module: "exceptions", name: "StandardError"): ("builtins", "Exception"),
        PairKey(module: "UserDict", name: "UserDict"): ("collections", "UserDict"),
    ]
}

/// What the caller's global policy decides for one `GLOBAL`.
public enum PickleGlobalVerdict: String, Sendable, Hashable {
    /// The caller knows this global. It becomes an inert ``PickleValue/global(_:)``; the few
    /// Python container constructors listed on ``Unpickler`` are turned into containers.
    case allow
    /// Stop: the unpickler throws ``PickleError/unsupportedGlobal(module:name:at:)`` at this
    /// opcode, before doing anything else.
    case refuse
    /// Keep going with an inert global marked ``PickleGlobal/isUnknown``; the use is listed in
    /// ``UnpickleResult/globals`` for the caller to report.
    case keepInert
}

/// Decides each `GLOBAL`, given its module and name after the Python-2 name mapping.
/// It must only look at the strings; it must never import or resolve anything.
public typealias PickleGlobalPolicy = @Sendable (_ module: String, _ name: String) -> PickleGlobalVerdict

/// One `GLOBAL` the unpickler met and did not refuse.
public struct PickleGlobalUse: Hashable, Sendable {
    /// The global, after the Python-2 name mapping.
    public let global: PickleGlobal
    /// The spelling in the file when the mapping changed it (e.g. `__builtin__.set`), else `nil`.
    public let spelledInFile: PickleGlobal?
    /// The policy's answer (``PickleGlobalVerdict/allow`` or ``PickleGlobalVerdict/keepInert``).
    public let verdict: PickleGlobalVerdict
    /// The byte offset of the `GLOBAL` opcode.
    public let offset: Int

    /// A record of one `GLOBAL`.
    public init(global: PickleGlobal, spelledInFile: PickleGlobal?, verdict: PickleGlobalVerdict, offset: Int) {
        self.global = global
        self.spelledInFile = spelledInFile
        self.verdict = verdict
        self.offset = offset
    }
}
