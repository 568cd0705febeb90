// An inert pickle interpreter.
//
// Spec: CPython `Lib/pickle.py` (`_Unpickler.load_*`) for what each opcode means, and PyTorch's
// `torch/_weights_only_unpickler.py` for which opcodes a weights-only loader executes and how
// (MARK as a new stack frame, REDUCE replacing the callable, Python-2 name mapping before the
// allowlist).

/// Reads a pickle into an inert ``PickleValue`` tree without importing, resolving or calling
/// anything.
///
/// It executes the 34 opcodes PyTorch's weights-only unpickler implements and the four plain-data
/// opcodes of Python 2's protocol 2 (see ``PickleOpcode/isExecutedByUnpickler``) and refuses every other opcode with its name and byte
/// offset. Each `GLOBAL` is mapped from Python-2 names and then put to the caller's
/// ``PickleGlobalPolicy``. Every budget in ``PickleLimits`` is checked before the work it protects.
///
/// Python's protocol-2 spellings of a few built-in containers are turned back into containers, but
/// only when the policy answered ``PickleGlobalVerdict/allow`` for the global involved:
///
/// | pickled as | becomes |
/// |---|---|
/// | `collections.OrderedDict()` (`REDUCE` or `NEWOBJ`, no arguments) | ``PickleDict`` with ``PickleDict/className`` `collections.OrderedDict`, then filled by `SETITEM(S)` |
/// | `collections.OrderedDict([[k, v], …])` (Python 2) | the same dict, already filled |
/// | `builtins.set([…])` or `builtins.set()` | ``PickleSet`` |
/// | `_codecs.encode(text, 'latin1')` with every character ≤ U+00FF | ``PickleValue/bytes(_:)`` |
/// | `builtins.bytes()` | empty ``PickleValue/bytes(_:)`` |
///
/// Any other call stays an inert ``PickleObject``.
///
/// Objects of classes the policy keeps inert (``PickleGlobalVerdict/keepInert``) are read the way
/// Python's pickler writes them, as data:
/// - `APPEND(S)` and `SETITEM(S)` onto such an object (a list or dict subclass, such as
///   `collections.defaultdict`) fill its ``PickleObject/listItems`` and ``PickleObject/dictItems``;
/// - such an object may be a dict key or set element (by identity, as Python hashes plain objects),
///   and so may a global (a class);
/// - when such an object's own state refers back to it (a parent link, as in OmegaConf's
///   `_parent`), the later `BUILD` (or `SETITEM(S)`, `APPEND(S)`) gives the object a new node in
///   the stack and the memo: references made before keep the object as it was then, so the tree
///   never holds a cycle.
///
/// ```swift
/// let unpickler = Unpickler { module, name in
///     module == "collections" && name == "OrderedDict" ? .allow : .refuse
/// }
/// let result = try unpickler.unpickle(bytes)
/// ```
public struct Unpickler: Sendable {
    /// The budgets.
    public var limits: PickleLimits
    /// Decides each `GLOBAL`.
    public var globalPolicy: PickleGlobalPolicy
    /// How Python 2 `str` payloads (`SHORT_BINSTRING`, `BINSTRING`) become values.
    public var binaryStrings: PickleBinaryStringDecoding = .bytes

    /// An unpickler with `limits` that asks `globalPolicy` about every `GLOBAL`.
    public init(limits: PickleLimits = PickleLimits(), globalPolicy: @escaping PickleGlobalPolicy) {
        self.limits = limits
        self.globalPolicy = globalPolicy
    }

    /// Reads one pickle from `bytes`, starting at `startOffset` and ending at its `STOP`.
    ///
    /// Bytes after `STOP` are not read; ``UnpickleResult/trailingByteCount`` says how many there are.
    /// Traps if `startOffset` lies outside `bytes`.
    /// - Throws: ``PickleError``, with the byte offset (from the start of `bytes`) of the opcode
    ///   at fault.
    public func unpickle(_ bytes: UnsafeRawBufferPointer, from startOffset: Int = 0) throws(PickleError)
        -> UnpickleResult
    {
        precondition(
            startOffset >= 0 && startOffset <= bytes.count, "start offset \(startOffset) outside \(bytes.count) bytes")
        var machine = UnpicklerMachine(bytes: bytes, startOffset: startOffset, limits: limits, policy: globalPolicy)
        machine.binaryStrings = binaryStrings
        return try machine.run()
    }

    /// Reads one pickle from `bytes`, starting at `startOffset`, as the buffer-pointer variant does.
    /// - Throws: ``PickleError``.
    public func unpickle(_ bytes: [UInt8], from startOffset: Int = 0) throws(PickleError) -> UnpickleResult {
        let result: Result<UnpickleResult, PickleError> = bytes.withUnsafeBytes { buffer in
            do throws(PickleError) {
                return .success(try unpickle(buffer, from: startOffset))
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }
}

/// The state of one run of the ``Unpickler``.
struct UnpicklerMachine {
    let bytes: UnsafeRawBufferPointer
    let startOffset: Int
    let limits: PickleLimits
    let policy: PickleGlobalPolicy
    var binaryStrings: PickleBinaryStringDecoding = .bytes

    /// The next byte to read.
    var position: Int
    /// The offset of the opcode being executed (every error reports it).
    var at = 0
    /// All stack frames, flattened; the current frame starts at `frameBase`.
    var stack: [PickleValue] = []
    /// Where the current frame starts. Items below it belong to outer frames and are out of reach,
    /// exactly as with PyTorch's metastack of separate lists.
    var frameBase = 0
    /// The `frameBase` of each enclosing frame, one per open `MARK`.
    var markBases: [Int] = []
    /// The memo: an array for the indices Python's pickler gives (0, 1, 2, … in order) and a
    /// dictionary for any other, so huge indices cost nothing.
    var memo = PickleMemo()
    /// The memo indices of each inert object stored in the memo, so that an object given a new
    /// node (``thawed(_:)``) is replaced there too. Entries may be stale; each is checked on use.
    var memoIndicesOfInertObjects: [ObjectIdentifier: [UInt32]] = [:]
    var objectCount = 0
    var opcodeCount = 0
    /// Bytes hashed for keys and converted to bytes so far (``PickleLimits/maxDerivedByteCount``).
    var derivedByteCount = 0
    var protocolVersion: Int?
    var warnings: [PickleWarning] = []
    var globals: [PickleGlobalUse] = []

    init(bytes: UnsafeRawBufferPointer, startOffset: Int, limits: PickleLimits, policy: @escaping PickleGlobalPolicy) {
        self.bytes = bytes
        self.startOffset = startOffset
        self.limits = limits
        self.policy = policy
        position = startOffset
    }

    mutating func run() throws(PickleError) -> UnpickleResult {
        while true {
            at = position
            guard position < bytes.count else { throw .missingStop(at: position) }
            let byte = bytes[position]
            position += 1
            opcodeCount += 1
            guard opcodeCount <= limits.maxOpcodeCount else {
                throw .limitExceeded(.opcodeCount, limit: limits.maxOpcodeCount, found: opcodeCount, at: at)
            }
            guard let opcode = PickleOpcode(rawValue: byte) else { throw .unknownOpcode(byte: byte, at: at) }

            switch opcode {
            case .proto:
                let version = Int(try readUInt8(opcode))
                if protocolVersion == nil { protocolVersion = version }
                if version != 2 { warnings.append(.unexpectedProtocol(version, at: at)) }
            case .stop:
                return try stop()
            case .global:
                try executeGlobal()
            case .reduce, .newObject:
                try executeCall(opcode)
            case .build:
                try executeBuild()
            case .append:
                try executeAppend()
            case .appends:
                try executeAppends()
            case .setItem:
                try executeSetItem()
            case .setItems:
                try executeSetItems()
            case .mark:
                guard markBases.count < limits.maxMarkDepth else {
                    throw .limitExceeded(.markDepth, limit: limits.maxMarkDepth, found: markBases.count + 1, at: at)
                }
                markBases.append(frameBase)
                frameBase = stack.count
            case .tuple:
                try pushTuple(try popMark(opcode))
            case .tuple1, .tuple2, .tuple3:
                let count = opcode == .tuple1 ? 1 : opcode == .tuple2 ? 2 : 3
                try requireItems(count, opcode)
                let items = Array(stack[(stack.count - count)...])
                stack.removeLast(count)
                try pushTuple(items)
            case .none:
                try pushNew(.none)
            case .newFalse:
                try pushNew(.bool(false))
            case .newTrue:
                try pushNew(.bool(true))
            case .emptyTuple:
                try pushNew(.tuple(PickleTuple([])))
            case .emptyList:
                try pushNew(.list(PickleList([])))
            case .emptyDict:
                try pushNew(.dict(PickleDict(className: nil)))
            case .emptySet:
                try pushNew(.set(PickleSet()))
            case .binaryInt:
                let start = try readFixed(4, opcode)
                try pushNew(
                    .int(Int64(Int32(littleEndian: bytes.loadUnaligned(fromByteOffset: start, as: Int32.self)))))
            case .binaryInt1:
                try pushNew(.int(Int64(try readUInt8(opcode))))
            case .binaryInt2:
                let start = try readFixed(2, opcode)
                try pushNew(
                    .int(Int64(UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: start, as: UInt16.self)))))
            case .binaryFloat:
                let start = try readFixed(8, opcode)
                let bits = UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: start, as: UInt64.self))
                try pushNew(.float(Double(bitPattern: bits)))
            case .binaryUnicode:
                let start = try readFixed(4, opcode)
                let length = UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: start, as: UInt32.self))
                let payload = try readPayload(declared: UInt64(length), opcode, limit: .stringByteCount)
                guard let text = String(validating: payload, as: UTF8.self) else {
                    // Python decodes with "surrogatepass": an encoded surrogate (ED A0..BF xx)
                    // becomes a lone surrogate, which no Swift String can hold. Refuse it, by
                    // name and offset, rather than replace it with U+FFFD.
                    let base = position - payload.count
                    if let (offset, unit) = PickleError.firstEncodedSurrogate(payload) {
                        throw .surrogateInString(opcode: opcode, codeUnit: unit, at: base + offset)
                    }
                    throw .invalidUTF8(opcode: opcode, at: at)
                }
                try pushNew(.string(text))
            case .shortBinaryString, .binaryString:
                try executeBinaryString(opcode)
            case .int:
                try executeTextInt()
            case .long:
                try executeTextLong()
            case .long4:
                try executeLong4()
            case .long1:
                let length = try readUInt8(opcode)
                let payload = try readPayload(declared: UInt64(length), opcode, limit: .longByteCount)
                guard let integer = PickleValue.integer(littleEndianTwosComplement: Array(payload)) else {
                    // Unreachable: a LONG1 payload has at most 255 bytes.
                    throw .limitExceeded(.longByteCount, limit: 255, found: payload.count, at: at)
                }
                try pushNew(integer)
            case .binaryPersistentID:
                try requireItems(1, opcode)
                let id = stack.removeLast()
                _ = try adopt(id, parentDepth: 1)
                try pushNew(.persistentID(PicklePersistentID(id)))
            case .binaryGet:
                try pushMemo(UInt32(try readUInt8(opcode)), opcode)
            case .longBinaryGet:
                try pushMemo(try readUInt32(opcode), opcode)
            case .binaryPut:
                try putMemo(UInt32(try readUInt8(opcode)), opcode)
            case .longBinaryPut:
                try putMemo(try readUInt32(opcode), opcode)
            default:
                throw .unsupportedOpcode(opcode, at: at)
            }
        }
    }

    // MARK: Reading arguments

    /// Advances past `count` argument bytes and returns where they start.
    mutating func readFixed(_ count: Int, _ opcode: PickleOpcode) throws(PickleError) -> Int {
        let available = bytes.count - position
        guard count <= available else {
            throw .argumentTruncated(opcode: opcode, needed: count, available: available, at: at)
        }
        defer { position += count }
        return position
    }

    mutating func readUInt8(_ opcode: PickleOpcode) throws(PickleError) -> UInt8 {
        bytes[try readFixed(1, opcode)]
    }

    mutating func readUInt32(_ opcode: PickleOpcode) throws(PickleError) -> UInt32 {
        let start = try readFixed(4, opcode)
        return UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: start, as: UInt32.self))
    }

    /// The next `declared` bytes, without copying, after checking them against the remaining
    /// input and then against `limit`.
    mutating func readPayload(declared: UInt64, _ opcode: PickleOpcode, limit: PickleLimit) throws(PickleError)
        -> UnsafeRawBufferPointer
    {
        let available = bytes.count - position
        guard declared <= UInt64(available) else {
            throw .declaredLengthPastEnd(opcode: opcode, declared: declared, available: available, at: at)
        }
        let count = Int(declared)  // ≤ available, so it fits
        let maximum = limits.value(of: limit)
        guard count <= maximum else { throw .limitExceeded(limit, limit: maximum, found: count, at: at) }
        defer { position += count }
        return UnsafeRawBufferPointer(rebasing: bytes[position..<(position + count)])
    }

    /// One `\n`-terminated line of a `GLOBAL`, without the newline; at most
    /// `maxGlobalLineByteCount` bytes, each printable ASCII.
    mutating func readNameLine() throws(PickleError) -> String {
        let limit = limits.maxGlobalLineByteCount
        let available = bytes.count - position
        let searched = limit >= available ? available : limit + 1
        var index = position
        let end = position + searched
        while index < end, bytes[index] != 0x0A { index += 1 }
        guard index < end else {
            if searched == available { throw .unterminatedLine(opcode: .global, at: at) }
            throw .limitExceeded(.globalLineByteCount, limit: limit, found: limit + 1, at: at)
        }
        let line = UnsafeRawBufferPointer(rebasing: bytes[position..<index])
        position = index + 1
        guard line.allSatisfy({ $0 >= 0x21 && $0 <= 0x7E }) else { throw .invalidGlobalName(at: at) }
        return String(decoding: line, as: UTF8.self)
    }

    // MARK: Stack and memo

    func requireItems(_ count: Int, _ opcode: PickleOpcode) throws(PickleError) {
        let available = stack.count - frameBase
        guard available >= count else {
            throw .stackUnderflow(opcode: opcode, needed: count, available: available, at: at)
        }
    }

    mutating func push(_ value: PickleValue) throws(PickleError) {
        guard stack.count < limits.maxStackDepth else {
            throw .limitExceeded(.stackDepth, limit: limits.maxStackDepth, found: stack.count + 1, at: at)
        }
        stack.append(value)
    }

    /// Pushes a value the current opcode created, counting it against the object budget.
    mutating func pushNew(_ value: PickleValue) throws(PickleError) {
        try countObjects(1)
        try push(value)
    }

    mutating func countObjects(_ count: Int) throws(PickleError) {
        objectCount += count
        guard objectCount <= limits.maxObjectCount else {
            throw .limitExceeded(.objectCount, limit: limits.maxObjectCount, found: objectCount, at: at)
        }
    }

    /// Counts `byteCount` bytes of hashing or conversion against the derived-bytes budget, before
    /// the work is done.
    mutating func countDerivedBytes(_ byteCount: Int) throws(PickleError) {
        derivedByteCount += byteCount
        guard derivedByteCount <= limits.maxDerivedByteCount else {
            throw .limitExceeded(.derivedByteCount, limit: limits.maxDerivedByteCount, found: derivedByteCount, at: at)
        }
    }

    /// The hashable key for `value` (a dict key or set element), with its hashing cost counted.
    mutating func hashKey(_ value: PickleValue, operand: PickleOperand, _ opcode: PickleOpcode) throws(PickleError)
        -> PickleKey
    {
        var cost = 0
        guard let key = PickleKey(value, hashingCost: &cost) else {
            throw .wrongOperand(opcode: opcode, operand: operand, found: value.kind, at: at)
        }
        try countDerivedBytes(cost)
        return key
    }

    /// Closes the current frame: returns its items and makes the enclosing frame current.
    mutating func popMark(_ opcode: PickleOpcode) throws(PickleError) -> [PickleValue] {
        guard let enclosingBase = markBases.popLast() else { throw .missingMark(opcode: opcode, at: at) }
        let items = Array(stack[frameBase...])
        stack.removeSubrange(frameBase...)
        frameBase = enclosingBase
        return items
    }

    /// Freezes `child` (it is being placed inside another node) and returns the parent's depth
    /// with it included, refusing depths over the budget.
    func adopt(_ child: PickleValue, parentDepth: Int) throws(PickleError) -> Int {
        guard let node = child.node else { return parentDepth }
        node.isFrozen = true
        let needed = node.depth + 1
        guard needed <= limits.maxNestingDepth else {
            throw .limitExceeded(.nestingDepth, limit: limits.maxNestingDepth, found: needed, at: at)
        }
        return max(parentDepth, needed)
    }

    mutating func pushTuple(_ items: [PickleValue]) throws(PickleError) {
        for item in items { _ = try adopt(item, parentDepth: 1) }
        try pushNew(.tuple(PickleTuple(items)))
    }

    mutating func pushMemo(_ index: UInt32, _ opcode: PickleOpcode) throws(PickleError) {
        guard let value = memo[index] else { throw .missingMemoEntry(index: index, opcode: opcode, at: at) }
        try push(value)
    }

    mutating func putMemo(_ index: UInt32, _ opcode: PickleOpcode) throws(PickleError) {
        try requireItems(1, opcode)
        if !memo.contains(index), memo.count >= limits.maxMemoEntries {
            throw .limitExceeded(.memoEntries, limit: limits.maxMemoEntries, found: memo.count + 1, at: at)
        }
        let value = stack[stack.count - 1]
        memo[index] = value
        if case .object(let object) = value, object.callable.isUnknown {
            memoIndicesOfInertObjects[ObjectIdentifier(object), default: []].append(index)
        }
    }

    /// A new node for the inert object `object`, which is on top of the stack and already placed
    /// inside another value (so changing it in place could close a cycle): a copy that replaces
    /// it on top of the stack and in the memo. Every copied item counts against the object budget.
    mutating func thawed(_ object: PickleObject) throws(PickleError) -> PickleObject {
        try countObjects(1 + (object.listItems?.items.count ?? 0) + 2 * (object.dictItems?.count ?? 0))
        let copy = PickleObject(
            kind: object.kind, callable: object.callable, arguments: object.arguments, state: object.state,
            listItems: object.listItems.map { PickleList($0.items) }, dictItems: object.dictItems?.copied())
        stack[stack.count - 1] = .object(copy)
        if let indices = memoIndicesOfInertObjects.removeValue(forKey: ObjectIdentifier(object)) {
            var moved: [UInt32] = []
            for index in indices {
                guard case .object(let stored)? = memo[index], stored === object else { continue }
                memo[index] = .object(copy)
                moved.append(index)
            }
            if !moved.isEmpty { memoIndicesOfInertObjects[ObjectIdentifier(copy)] = moved }
        }
        return copy
    }

    // MARK: Opcodes

    mutating func stop() throws(PickleError) -> UnpickleResult {
        try requireItems(1, .stop)
        let value = stack.removeLast()
        if !stack.isEmpty { warnings.append(.unusedStackItems(count: stack.count, at: at)) }
        if !markBases.isEmpty { warnings.append(.unclosedMarks(count: markBases.count, at: at)) }
        return UnpickleResult(
            value: value, startOffset: startOffset, stopOffset: at, trailingByteCount: bytes.count - position,
            protocolVersion: protocolVersion, warnings: warnings, globals: globals, opcodeCount: opcodeCount)
    }

    mutating func executeGlobal() throws(PickleError) {
        let writtenModule = try readNameLine()
        let writtenName = try readNameLine()
        let (module, name) = PickleGlobal.python3Spelling(module: writtenModule, name: writtenName)
        let verdict = policy(module, name)
        if verdict == .refuse { throw .unsupportedGlobal(module: module, name: name, at: at) }
        let global = PickleGlobal(module: module, name: name, isUnknown: verdict == .keepInert)
        let spelling =
            (module == writtenModule && name == writtenName)
            ? nil : PickleGlobal(module: writtenModule, name: writtenName)
        globals.append(PickleGlobalUse(global: global, spelledInFile: spelling, verdict: verdict, offset: at))
        try pushNew(.global(global))
    }

    /// `REDUCE` (callable, arguments → result replaces the callable) and `NEWOBJ`.
    mutating func executeCall(_ opcode: PickleOpcode) throws(PickleError) {
        try requireItems(2, opcode)
        let arguments = stack.removeLast()
        let callable = stack.removeLast()
        guard case .global(let global) = callable else {
            throw .wrongOperand(opcode: opcode, operand: .callable, found: callable.kind, at: at)
        }
        guard case .tuple(let tuple) = arguments else {
            throw .wrongOperand(opcode: opcode, operand: .arguments, found: arguments.kind, at: at)
        }
        let kind: PickleObject.Kind = opcode == .reduce ? .reduce : .newObject
        if let container = try builtinContainer(global, tuple, kind: kind, opcode: opcode) {
            try pushNew(container)
            return
        }
        _ = try adopt(arguments, parentDepth: 1)
        try pushNew(.object(PickleObject(kind: kind, callable: global, arguments: tuple)))
    }

    mutating func executeBuild() throws(PickleError) {
        try requireItems(2, .build)
        let state = stack.removeLast()
        let target = stack[stack.count - 1]
        switch target {
        case .object(var object):
            let depth = try adopt(state, parentDepth: object.depth)
            if object.isFrozen, object.callable.isUnknown, object.state == nil { object = try thawed(object) }
            guard !object.isFrozen else { throw .frozenTarget(opcode: .build, found: .object, at: at) }
            guard object.state == nil else { throw .alreadyBuilt(found: .object, at: at) }
            object.state = state
            object.depth = depth
        case .dict(let dict):
            let depth = try adopt(state, parentDepth: dict.depth)
            guard !dict.isFrozen else { throw .frozenTarget(opcode: .build, found: .dict, at: at) }
            guard dict.buildState == nil else { throw .alreadyBuilt(found: .dict, at: at) }
            dict.buildState = state
            dict.depth = depth
        default:
            throw .wrongOperand(opcode: .build, operand: .buildTarget, found: target.kind, at: at)
        }
    }

    mutating func executeAppend() throws(PickleError) {
        try requireItems(2, .append)
        let item = stack.removeLast()
        try append([item], opcode: .append)
    }

    mutating func executeAppends() throws(PickleError) {
        let items = try popMark(.appends)
        try requireItems(1, .appends)
        try append(items, opcode: .appends)
    }

    /// Appends `items` to the list on top of the stack (or to an inert object's list items).
    mutating func append(_ items: [PickleValue], opcode: PickleOpcode) throws(PickleError) {
        let target = stack[stack.count - 1]
        if case .object(var object) = target, object.callable.isUnknown {
            var depth = 1
            for item in items { depth = try adopt(item, parentDepth: depth) }
            if object.isFrozen { object = try thawed(object) }
            let list = object.listItems ?? PickleList([])
            list.items.append(contentsOf: items)
            list.depth = max(list.depth, depth)
            object.listItems = list
            object.depth = max(object.depth, list.depth + 1)
            return
        }
        guard case .list(let list) = target else {
            throw .wrongOperand(opcode: opcode, operand: .appendTarget, found: target.kind, at: at)
        }
        var depth = list.depth
        for item in items { depth = try adopt(item, parentDepth: depth) }
        // Checked after freezing the items, so appending a list to itself is caught too.
        guard !list.isFrozen else { throw .frozenTarget(opcode: opcode, found: .list, at: at) }
        list.items.append(contentsOf: items)
        list.depth = depth
    }

    mutating func executeSetItem() throws(PickleError) {
        try requireItems(3, .setItem)
        let value = stack.removeLast()
        let key = stack.removeLast()
        try setItems([key, value], opcode: .setItem)
    }

    mutating func executeSetItems() throws(PickleError) {
        let items = try popMark(.setItems)
        guard items.count % 2 == 0 else { throw .unpairedSetItems(count: items.count, at: at) }
        try requireItems(1, .setItems)
        try setItems(items, opcode: .setItems)
    }

    /// Stores the key-value pairs `items` (key, value, key, value, …) into the dict on top.
    mutating func setItems(_ items: [PickleValue], opcode: PickleOpcode) throws(PickleError) {
        let target = stack[stack.count - 1]
        if case .object(var object) = target, object.callable.isUnknown {
            // A dict subclass of an unknown class: its entries, kept beside its state.
            var hashKeys: [PickleKey] = []
            for pairStart in stride(from: 0, to: items.count, by: 2) {
                hashKeys.append(try hashKey(items[pairStart], operand: .dictKey, opcode))
                _ = try adopt(items[pairStart], parentDepth: 1)
                _ = try adopt(items[pairStart + 1], parentDepth: 1)
            }
            if object.isFrozen { object = try thawed(object) }
            let dict = object.dictItems ?? PickleDict(className: nil)
            for (pairIndex, hashKey) in hashKeys.enumerated() {
                dict.set(items[2 * pairIndex + 1], forKey: items[2 * pairIndex], hashKey: hashKey)
            }
            object.dictItems = dict
            object.depth = max(object.depth, dict.depth + 1)
            return
        }
        guard case .dict(let dict) = target else {
            throw .wrongOperand(opcode: opcode, operand: .setItemTarget, found: target.kind, at: at)
        }
        var hashKeys: [PickleKey] = []
        hashKeys.reserveCapacity(items.count / 2)
        var depth = dict.depth
        for pairStart in stride(from: 0, to: items.count, by: 2) {
            let key = items[pairStart]
            hashKeys.append(try hashKey(key, operand: .dictKey, opcode))
            depth = try adopt(key, parentDepth: depth)
            depth = try adopt(items[pairStart + 1], parentDepth: depth)
        }
        guard !dict.isFrozen else { throw .frozenTarget(opcode: opcode, found: .dict, at: at) }
        for (pairIndex, hashKey) in hashKeys.enumerated() {
            dict.set(items[2 * pairIndex + 1], forKey: items[2 * pairIndex], hashKey: hashKey)
        }
    }
}

/// The unpickler's memo: index to value. Indices stored in order from 0 live in an array (one
/// store or fetch is an array access); any other index lives in a dictionary.
struct PickleMemo {
    /// Entries 0..<dense.count, every one stored.
    private var dense: [PickleValue] = []
    /// Every other entry; never an index below `dense.count`.
    private var sparse: [UInt32: PickleValue] = [:]

    /// The number of distinct indices stored.
    var count: Int { dense.count + sparse.count }

    func contains(_ index: UInt32) -> Bool {
        Int(index) < dense.count || sparse[index] != nil
    }

    subscript(index: UInt32) -> PickleValue? {
        get {
            let position = Int(index)
            return position < dense.count ? dense[position] : sparse[index]
        }
        set {
            let position = Int(index)
            if position < dense.count {
                // Entries are only ever stored or replaced, never removed.
                if let newValue { dense[position] = newValue }
            } else if position == dense.count, sparse.isEmpty || sparse[index] == nil {
                if let newValue { dense.append(newValue) }
            } else {
                sparse[index] = newValue
            }
        }
    }
}
