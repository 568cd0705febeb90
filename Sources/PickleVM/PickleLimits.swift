/// Budgets for everything a pickle controls. Going over one throws
/// ``PickleError/limitExceeded(_:limit:found:at:)`` naming the limit and its value.
///
/// The defaults leave ample room for real checkpoints. For scale: a `torch.save` of a 7B-parameter
/// model's state dict has a few hundred tensors and a `data.pkl` of about 100 KB (≈ 30 objects and
/// memo entries per tensor, nesting depth 5); a Lightning checkpoint with optimizer state nests
/// about 8 deep. Every budget is checked *before* the allocation it protects.
public struct PickleLimits: Sendable, Hashable {
    /// Longest string or byte string (`BINUNICODE`, `SHORT_BINSTRING`), in bytes. Default 64 MiB:
    /// real pickles hold names and small configs; tensor data never lives in the pickle.
    public var maxStringByteCount: Int
    /// Most memo entries (`BINPUT`/`LONG_BINPUT` to distinct indices). Default 10 million. The memo
    /// is a dictionary, so an index like 0xFFFFFFFF costs one entry, not 4 G slots.
    public var maxMemoEntries: Int
    /// Most items on the stack, counting every open `MARK` frame. Default 1 million (Python's
    /// pickler batches lists and dicts by 1000, so real stacks stay in the thousands).
    public var maxStackDepth: Int
    /// Most `MARK`s open at once. Default 1000 (real pickles open a handful).
    public var maxMarkDepth: Int
    /// Deepest nesting of containers and call nodes (see ``PickleNode/depth``). Default 100; real
    /// checkpoints stay under 15. Keeps callers that walk the tree recursively safe.
    public var maxNestingDepth: Int
    /// Most values created: every push except `BINGET`/`LONG_BINGET`, plus every element copied
    /// when `builtins.set(list)` or a Python-2 `OrderedDict(pairs)` is rebuilt. Default 20 million.
    public var maxObjectCount: Int
    /// Longest `LONG1` integer, in bytes. Default 32 (256-bit); the legacy PyTorch magic number
    /// needs 10.
    public var maxLongByteCount: Int
    /// Most opcodes executed (or listed by the disassembler). Default 100 million.
    public var maxOpcodeCount: Int
    /// Longest `GLOBAL` (or `INST`) module or name line, in bytes. Default 1024.
    public var maxGlobalLineByteCount: Int
    /// Most bytes the unpickler may process on top of reading the input once: every dict key and
    /// set element it hashes (string and bytes lengths, 8 per other value) and every
    /// `_codecs.encode` text it turns into bytes. Default 512 MiB. A real pickle stays below its
    /// own size; one that reuses a large string from the memo as a key or a `bytes` value millions
    /// of times is stopped here instead of hashing or copying it millions of times.
    public var maxDerivedByteCount: Int

    /// Budgets with the documented defaults, or the values given.
    public init(
        maxStringByteCount: Int = 64 << 20,
        maxMemoEntries: Int = 10_000_000,
        maxStackDepth: Int = 1_000_000,
        maxMarkDepth: Int = 1_000,
        maxNestingDepth: Int = 100,
        maxObjectCount: Int = 20_000_000,
        maxLongByteCount: Int = 32,
        maxOpcodeCount: Int = 100_000_000,
        maxGlobalLineByteCount: Int = 1_024,
        maxDerivedByteCount: Int = 512 << 20
    ) {
        self.maxStringByteCount = maxStringByteCount
        self.maxMemoEntries = maxMemoEntries
        self.maxStackDepth = maxStackDepth
        self.maxMarkDepth = maxMarkDepth
        self.maxNestingDepth = maxNestingDepth
        self.maxObjectCount = maxObjectCount
        self.maxLongByteCount = maxLongByteCount
        self.maxOpcodeCount = maxOpcodeCount
        self.maxGlobalLineByteCount = maxGlobalLineByteCount
        self.maxDerivedByteCount = maxDerivedByteCount
    }

    /// The value of `limit` in these budgets.
    public func value(of limit: PickleLimit) -> Int {
        switch limit {
        case .stringByteCount: return maxStringByteCount
        case .memoEntries: return maxMemoEntries
        case .stackDepth: return maxStackDepth
        case .markDepth: return maxMarkDepth
        case .nestingDepth: return maxNestingDepth
        case .objectCount: return maxObjectCount
        case .longByteCount: return maxLongByteCount
        case .opcodeCount: return maxOpcodeCount
        case .globalLineByteCount: return maxGlobalLineByteCount
        case .derivedByteCount: return maxDerivedByteCount
        }
    }
}

/// One budget of ``PickleLimits``.
public enum PickleLimit: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// ``PickleLimits/maxStringByteCount``.
    case stringByteCount = "maxStringByteCount"
    /// ``PickleLimits/maxMemoEntries``.
    case memoEntries = "maxMemoEntries"
    /// ``PickleLimits/maxStackDepth``.
    case stackDepth = "maxStackDepth"
    /// ``PickleLimits/maxMarkDepth``.
    case markDepth = "maxMarkDepth"
    /// ``PickleLimits/maxNestingDepth``.
    case nestingDepth = "maxNestingDepth"
    /// ``PickleLimits/maxObjectCount``.
    case objectCount = "maxObjectCount"
    /// ``PickleLimits/maxLongByteCount``.
    case longByteCount = "maxLongByteCount"
    /// ``PickleLimits/maxOpcodeCount``.
    case opcodeCount = "maxOpcodeCount"
    /// ``PickleLimits/maxGlobalLineByteCount``.
    case globalLineByteCount = "maxGlobalLineByteCount"
    /// ``PickleLimits/maxDerivedByteCount``.
    case derivedByteCount = "maxDerivedByteCount"

    /// The property name in ``PickleLimits``, e.g. `maxMemoEntries`.
    public var description: String { rawValue }

    /// What the count measures, for messages: "a string of N bytes", "N memo entries"….
    func measure(_ count: Int) -> String {
        switch self {
        case .stringByteCount: return "a string of \(count) bytes"
        case .memoEntries: return "\(count) memo entries"
        case .stackDepth: return "\(count) stack items"
        case .markDepth: return "\(count) open MARKs"
        case .nestingDepth: return "\(count) nesting levels"
        case .objectCount: return "\(count) objects"
        case .longByteCount: return "a \(count)-byte LONG1 integer"
        case .opcodeCount: return "\(count) opcodes"
        case .globalLineByteCount: return "a name line of \(count) or more bytes"
        case .derivedByteCount: return "\(count) bytes of key hashing and bytes conversion"
        }
    }
}
