import ExactText

// Writes a PickleValue tree as a protocol-2 pickle, the dialect `torch.save` writes and
// `torch.load(weights_only=True)` reads (opcodes as in CPython `Lib/pickle.py` `_Pickler`).

/// Encodes a ``PickleValue`` tree as protocol-2 pickle bytes that Python's `pickle.loads` and
/// PyTorch's weights-only loader read back.
///
/// | value | written as |
/// |---|---|
/// | int | `BININT1` (0…255), `BININT2` (…65535), `BININT` (32-bit signed), else `LONG1` |
/// | big int | `LONG1` |
/// | float | `BINFLOAT` (big-endian) |
/// | string | `BINUNICODE` |
/// | bytes | `_codecs.encode(text, 'latin1')` via `REDUCE`, as Python's protocol 2 does (also for `b''`, which Python writes as `bytes()`, a global torch's weights-only loader refuses) |
/// | list, dict | `EMPTY_LIST`/`EMPTY_DICT`, then `APPEND`/`SETITEM` or `MARK … APPENDS`/`SETITEMS` in batches of ≤ 1000 |
/// | dict with ``PickleDict/className`` | `GLOBAL class`, `EMPTY_TUPLE`, `REDUCE`, then the items, then `BUILD` of ``PickleDict/buildState`` |
/// | tuple | `EMPTY_TUPLE`, `TUPLE1`–`TUPLE3`, or `MARK … TUPLE` |
/// | set | `__builtin__.set([…])` via `REDUCE` |
/// | global | `GLOBAL`, memoized: each global is written once and fetched with `BINGET` afterwards |
/// | object | callable, argument tuple, `REDUCE` or `NEWOBJ`, its list or dict items, then state and `BUILD` |
/// | persistent id | the id value, then `BINPERSID` |
///
/// Sharing survives: a node referenced more than once (by identity) is written once, stored with
/// `BINPUT`/`LONG_BINPUT` and fetched again with `BINGET`/`LONG_BINGET`; repeated strings and byte
/// strings are memoized the same way. The walk is iterative, so tree depth does not matter.
public struct PickleEncoder: Sendable {
    /// An encoder.
    public init() {}

    /// The pickle bytes of `value`.
    /// - Throws: ``PickleEncodingError`` if the value cannot be written in protocol 2.
    public func encode(_ value: PickleValue) throws(PickleEncodingError) -> [UInt8] {
        var run = EncoderRun(root: value)
        var output: [UInt8] = []
        do {
            try run.encode(into: &output, chunkByteCount: Int.max) { (_: inout [UInt8]) throws(Never) in }
        } catch {
            switch error {
            case .encoding(let encodingError): throw encodingError
            case .sink(let never): switch never {}
            }
        }
        return output
    }

    /// Streams the pickle bytes of `value` to `sink` in chunks of about `chunkByteCount` bytes.
    /// Each buffer is valid only during the call.
    /// - Throws: ``PickleEncodingError``, or whatever `sink` throws (encoding stops there).
    public func encode(
        _ value: PickleValue, chunkByteCount: Int = 1 << 16, to sink: (UnsafeRawBufferPointer) throws -> Void
    ) throws {
        var run = EncoderRun(root: value)
        var output: [UInt8] = []
        output.reserveCapacity(min(chunkByteCount, 1 << 20) + 64)
        do {
            try run.encode(into: &output, chunkByteCount: max(chunkByteCount, 1)) {
                (buffer: inout [UInt8]) throws(any Error) in
                try buffer.withUnsafeBytes { try sink($0) }
                buffer.removeAll(keepingCapacity: true)
            }
        } catch {
            switch error {
            case .encoding(let encodingError): throw encodingError
            case .sink(let sinkError): throw sinkError
            }
        }
    }
}

/// Why a value could not be encoded.
public enum PickleEncodingError: Error, Hashable, Sendable, CustomStringConvertible {
    /// A global's module or name is empty or has a byte outside printable ASCII (0x21–0x7E), which
    /// a protocol-2 `GLOBAL` line cannot carry.
    case invalidGlobalName(module: String, name: String)
    /// A string's UTF-8 (or a byte string's latin-1 text) is longer than `BINUNICODE`'s 32-bit
    /// length can say.
    case stringTooLong(byteCount: Int)
    /// More than 2³² − 1 memo entries would be needed.
    case tooManyMemoEntries

    /// One line describing the problem.
    public var description: String {
        switch self {
        case .invalidGlobalName(let module, let name):
            return "cannot write global \(module).\(name): names must be non-empty printable ASCII"
        case .stringTooLong(let byteCount):
            return "cannot write a \(byteCount)-byte string; protocol 2 allows at most 4294967295"
        case .tooManyMemoEntries:
            return "cannot write more than 4294967295 memo entries"
        }
    }
}

/// A failure inside the encoder: its own error or the sink's.
private enum EncoderFailure<SinkError: Error>: Error {
    case encoding(PickleEncodingError)
    case sink(SinkError)
}

/// How the encoder recognises a string or byte string it has seen: short ones by content, long
/// ones by the identity of their storage, the way Python's pickler memoizes by object identity.
/// A long string fetched a million times from one memo entry shares one storage, so it is
/// recognised in O(1) each time instead of being re-read.
private enum ContentKey: Hashable {
    case text(ExactString)
    case bytes([UInt8])
    case storage(address: UInt, byteCount: Int)

    /// Longest content compared by value.
    static let contentLimit = 64

    init(_ text: String) {
        let byteCount = text.utf8.count
        if byteCount > ContentKey.contentLimit,
            let address = text.utf8.withContiguousStorageIfAvailable({ UInt(bitPattern: $0.baseAddress) })
        {
            self = .storage(address: address, byteCount: byteCount)
        } else {
            self = .text(ExactString(text))
        }
    }

    init(_ bytes: [UInt8]) {
        if bytes.count > ContentKey.contentLimit {
            self = .storage(
                address: bytes.withUnsafeBufferPointer { UInt(bitPattern: $0.baseAddress) }, byteCount: bytes.count)
        } else {
            self = .bytes(bytes)
        }
    }
}

/// One encoding: reference counts, memo tables and the work list.
private struct EncoderRun {
    private enum Task {
        case value(PickleValue)
        case opcode(PickleOpcode)
        /// Stores the node just written in the memo if it is referenced more than once.
        case memoize(ObjectIdentifier)
        /// The next batch of `items` from `start`, appended to the list or set under construction.
        case appendBatch([PickleValue], start: Int)
        /// The next batch of the dict's entries from `start`.
        case setItemBatch(PickleDict, start: Int)
    }

    private static let batchSize = 1000

    private let root: PickleValue
    private var nodeReferences: [ObjectIdentifier: Int] = [:]
    private var stringReferences: [ContentKey: Int] = [:]
    private var bytesReferences: [ContentKey: Int] = [:]
    private var nodeMemo: [ObjectIdentifier: UInt32] = [:]
    private var stringMemo: [ContentKey: UInt32] = [:]
    private var bytesMemo: [ContentKey: UInt32] = [:]
    private var globalMemo: [GlobalKey: UInt32] = [:]
    private var nextMemoIndex: UInt32 = 0

    private struct GlobalKey: Hashable {
        let module: String
        let name: String
    }

    init(root: PickleValue) {
        self.root = root
    }

    mutating func encode<E: Error>(
        into output: inout [UInt8], chunkByteCount: Int, flush: (inout [UInt8]) throws(E) -> Void
    ) throws(EncoderFailure<E>) {
        countReferences()
        output.append(contentsOf: [PickleOpcode.proto.rawValue, 2])
        var tasks: [Task] = [.value(root)]
        while let task = tasks.popLast() {
            do throws(PickleEncodingError) {
                try perform(task, output: &output, tasks: &tasks)
            } catch {
                throw .encoding(error)
            }
            if output.count >= chunkByteCount {
                do throws(E) { try flush(&output) } catch { throw .sink(error) }
            }
        }
        output.append(PickleOpcode.stop.rawValue)
        do throws(E) { try flush(&output) } catch { throw .sink(error) }
    }

    // MARK: Pass 1: what is shared

    /// Counts how often each node (by identity), string and byte string is referenced, visiting
    /// each node's children once.
    private mutating func countReferences() {
        var work: [PickleValue] = [root]
        while let value = work.popLast() {
            switch value {
            case .string(let text):
                stringReferences[ContentKey(text), default: 0] += 1
            case .bytes(let bytes):
                bytesReferences[ContentKey(bytes), default: 0] += 1
                stringReferences[ContentKey("latin1"), default: 0] += 1
            case .list, .tuple, .dict, .set, .object, .persistentID:
                guard let node = value.node else { continue }
                let id = ObjectIdentifier(node)
                nodeReferences[id, default: 0] += 1
                guard nodeReferences[id] == 1 else { continue }
                switch value {
                case .list(let list): work.append(contentsOf: list.items)
                case .tuple(let tuple): work.append(contentsOf: tuple.items)
                case .dict(let dict):
                    work.append(contentsOf: dict.keys)
                    work.append(contentsOf: dict.values)
                    if let state = dict.buildState { work.append(state) }
                case .set(let set): work.append(contentsOf: set.elements)
                case .object(let object):
                    work.append(.tuple(object.arguments))
                    if let state = object.state { work.append(state) }
                    if let items = object.listItems { work.append(contentsOf: items.items) }
                    if let items = object.dictItems {
                        work.append(contentsOf: items.keys)
                        work.append(contentsOf: items.values)
                    }
                case .persistentID(let persistent): work.append(persistent.id)
                default: break
                }
            case .none, .bool, .int, .bigInt, .float, .global:
                continue
            }
        }
    }

    // MARK: Pass 2: writing

    private mutating func perform(_ task: Task, output: inout [UInt8], tasks: inout [Task]) throws(PickleEncodingError)
    {
        switch task {
        case .value(let value):
            try write(value, output: &output, tasks: &tasks)
        case .opcode(let opcode):
            output.append(opcode.rawValue)
        case .memoize(let id):
            if (nodeReferences[id] ?? 0) > 1 { nodeMemo[id] = try put(&output) }
        case .appendBatch(let items, let start):
            let count = min(EncoderRun.batchSize, items.count - start)
            guard count > 0 else { return }
            if start + count < items.count { tasks.append(.appendBatch(items, start: start + count)) }
            if count == 1 {
                tasks.append(.opcode(.append))
                tasks.append(.value(items[start]))
            } else {
                tasks.append(.opcode(.appends))
                for index in stride(from: start + count - 1, through: start, by: -1) {
                    tasks.append(.value(items[index]))
                }
                tasks.append(.opcode(.mark))
            }
        case .setItemBatch(let dict, let start):
            let count = min(EncoderRun.batchSize, dict.count - start)
            guard count > 0 else { return }
            if start + count < dict.count { tasks.append(.setItemBatch(dict, start: start + count)) }
            tasks.append(.opcode(count == 1 ? .setItem : .setItems))
            for index in stride(from: start + count - 1, through: start, by: -1) {
                tasks.append(.value(dict.values[index]))
                tasks.append(.value(dict.keys[index]))
            }
            if count > 1 { tasks.append(.opcode(.mark)) }
        }
    }

    /// Writes `value`, or schedules its parts (tasks run last-in first-out, so parts are pushed
    /// in reverse order).
    private mutating func write(_ value: PickleValue, output: inout [UInt8], tasks: inout [Task])
        throws(PickleEncodingError)
    {
        if let node = value.node, let index = nodeMemo[ObjectIdentifier(node)] {
            get(index, &output)
            return
        }
        switch value {
        case .none:
            output.append(PickleOpcode.none.rawValue)
        case .bool(let flag):
            output.append(flag ? PickleOpcode.newTrue.rawValue : PickleOpcode.newFalse.rawValue)
        case .int(let integer):
            writeInt(integer, &output)
        case .bigInt(let big):
            output.append(PickleOpcode.long1.rawValue)
            output.append(UInt8(big.littleEndianBytes.count))  // ≤ 255 by construction
            output.append(contentsOf: big.littleEndianBytes)
        case .float(let double):
            output.append(PickleOpcode.binaryFloat.rawValue)
            appendBigEndian(double.bitPattern, &output)
        case .string(let text):
            try writeString(text, &output)
        case .bytes(let bytes):
            try writeBytes(bytes, &output)
        case .global(let global):
            try writeGlobal(module: global.module, name: global.name, &output)
        case .list(let list):
            output.append(PickleOpcode.emptyList.rawValue)
            try memoizeNow(list, &output)
            tasks.append(.appendBatch(list.items, start: 0))
        case .tuple(let tuple):
            let items = tuple.items
            tasks.append(.memoize(ObjectIdentifier(tuple)))
            switch items.count {
            case 0: tasks.append(.opcode(.emptyTuple))
            case 1: tasks.append(.opcode(.tuple1))
            case 2: tasks.append(.opcode(.tuple2))
            case 3: tasks.append(.opcode(.tuple3))
            default: tasks.append(.opcode(.tuple))
            }
            for item in items.reversed() { tasks.append(.value(item)) }
            if items.count > 3 { tasks.append(.opcode(.mark)) }
        case .dict(let dict):
            if let className = dict.className {
                try writeGlobal(module: className.module, name: className.name, &output)
                output.append(contentsOf: [PickleOpcode.emptyTuple.rawValue, PickleOpcode.reduce.rawValue])
            } else {
                output.append(PickleOpcode.emptyDict.rawValue)
            }
            try memoizeNow(dict, &output)
            if let state = dict.buildState {
                tasks.append(.opcode(.build))
                tasks.append(.value(state))
            }
            tasks.append(.setItemBatch(dict, start: 0))
        case .set(let set):
            try writeGlobal(module: "__builtin__", name: "set", &output)
            output.append(PickleOpcode.emptyList.rawValue)
            tasks.append(.memoize(ObjectIdentifier(set)))
            tasks.append(.opcode(.reduce))
            tasks.append(.opcode(.tuple1))
            tasks.append(.appendBatch(set.elements, start: 0))
        case .object(let object):
            if let state = object.state {
                tasks.append(.opcode(.build))
                tasks.append(.value(state))
            }
            // A list or dict subclass's items follow the call and precede BUILD, as Python writes them.
            if let items = object.dictItems { tasks.append(.setItemBatch(items, start: 0)) }
            if let items = object.listItems { tasks.append(.appendBatch(items.items, start: 0)) }
            tasks.append(.memoize(ObjectIdentifier(object)))
            tasks.append(.opcode(object.kind == .reduce ? .reduce : .newObject))
            tasks.append(.value(.tuple(object.arguments)))
            tasks.append(.value(.global(object.callable)))
        case .persistentID(let persistent):
            tasks.append(.memoize(ObjectIdentifier(persistent)))
            tasks.append(.opcode(.binaryPersistentID))
            tasks.append(.value(persistent.id))
        }
    }

    private func writeInt(_ integer: Int64, _ output: inout [UInt8]) {
        switch integer {
        case 0...0xFF:
            output.append(PickleOpcode.binaryInt1.rawValue)
            output.append(UInt8(integer))
        case 0x100...0xFFFF:
            output.append(PickleOpcode.binaryInt2.rawValue)
            appendLittleEndian(UInt16(integer), &output)
        case Int64(Int32.min)...Int64(Int32.max):
            output.append(PickleOpcode.binaryInt.rawValue)
            appendLittleEndian(Int32(integer), &output)
        default:
            var bytes: [UInt8] = []
            withUnsafeBytes(of: integer.littleEndian) { bytes.append(contentsOf: $0) }
            let minimal = PickleBigInt.minimized(bytes)
            output.append(PickleOpcode.long1.rawValue)
            output.append(UInt8(minimal.count))
            output.append(contentsOf: minimal)
        }
    }

    private mutating func writeString(_ text: String, _ output: inout [UInt8]) throws(PickleEncodingError) {
        let key = ContentKey(text)
        if let index = stringMemo[key] {
            get(index, &output)
            return
        }
        let byteCount = text.utf8.count
        guard byteCount <= Int(UInt32.max) else { throw .stringTooLong(byteCount: byteCount) }
        output.append(PickleOpcode.binaryUnicode.rawValue)
        appendLittleEndian(UInt32(byteCount), &output)
        output.append(contentsOf: text.utf8)
        if (stringReferences[key] ?? 0) > 1 { stringMemo[key] = try put(&output) }
    }

    private mutating func writeBytes(_ bytes: [UInt8], _ output: inout [UInt8]) throws(PickleEncodingError) {
        let key = ContentKey(bytes)
        if let index = bytesMemo[key] {
            get(index, &output)
            return
        }
        // Python writes b'' as `__builtin__.bytes()`, which torch's weights-only allowlist lacks;
        // `_codecs.encode('', 'latin1')` loads in both.
        try writeGlobal(module: "_codecs", name: "encode", &output)
        // Each byte becomes the code point of the same value (latin-1), stored as UTF-8.
        var text = String.UnicodeScalarView()
        for byte in bytes { text.append(Unicode.Scalar(byte)) }
        try writeString(String(text), &output)
        try writeString("latin1", &output)
        output.append(PickleOpcode.tuple2.rawValue)
        output.append(PickleOpcode.reduce.rawValue)
        if (bytesReferences[key] ?? 0) > 1 { bytesMemo[key] = try put(&output) }
    }

    private mutating func writeGlobal(module: String, name: String, _ output: inout [UInt8]) throws(PickleEncodingError)
    {
        let key = GlobalKey(module: module, name: name)
        if let index = globalMemo[key] {
            get(index, &output)
            return
        }
        let printable: (UInt8) -> Bool = { $0 >= 0x21 && $0 <= 0x7E }
        guard !module.isEmpty, !name.isEmpty, module.utf8.allSatisfy(printable), name.utf8.allSatisfy(printable) else {
            throw .invalidGlobalName(module: module, name: name)
        }
        output.append(PickleOpcode.global.rawValue)
        output.append(contentsOf: module.utf8)
        output.append(0x0A)
        output.append(contentsOf: name.utf8)
        output.append(0x0A)
        globalMemo[key] = try put(&output)
    }

    /// Stores a list or dict in the memo right after its empty form is written, if shared.
    private mutating func memoizeNow(_ node: PickleNode, _ output: inout [UInt8]) throws(PickleEncodingError) {
        let id = ObjectIdentifier(node)
        if (nodeReferences[id] ?? 0) > 1 { nodeMemo[id] = try put(&output) }
    }

    /// Writes `BINPUT`/`LONG_BINPUT` for the next memo index and returns it.
    private mutating func put(_ output: inout [UInt8]) throws(PickleEncodingError) -> UInt32 {
        let index = nextMemoIndex
        guard index < UInt32.max else { throw .tooManyMemoEntries }
        nextMemoIndex += 1
        if index < 256 {
            output.append(PickleOpcode.binaryPut.rawValue)
            output.append(UInt8(index))
        } else {
            output.append(PickleOpcode.longBinaryPut.rawValue)
            appendLittleEndian(index, &output)
        }
        return index
    }

    private func get(_ index: UInt32, _ output: inout [UInt8]) {
        if index < 256 {
            output.append(PickleOpcode.binaryGet.rawValue)
            output.append(UInt8(index))
        } else {
            output.append(PickleOpcode.longBinaryGet.rawValue)
            appendLittleEndian(index, &output)
        }
    }

    private func appendLittleEndian<T: FixedWidthInteger>(_ value: T, _ output: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { output.append(contentsOf: $0) }
    }

    private func appendBigEndian<T: FixedWidthInteger>(_ value: T, _ output: inout [UInt8]) {
        withUnsafeBytes(of: value.bigEndian) { output.append(contentsOf: $0) }
    }
}
