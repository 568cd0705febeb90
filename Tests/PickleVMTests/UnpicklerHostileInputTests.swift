import PickleVM
import Testing

/// One test per attack. Each builds its bytes by hand (offsets come from `prefix.count`) and
/// asserts the whole error case, offset included.
@Suite("Unpickler hostile inputs")
struct UnpicklerHostileInputTests {
    /// Refuses the modules torch blocks and `builtins.eval`; allows everything else.
    static let blocking: PickleGlobalPolicy = { module, name in
        if ["os", "posix", "nt", "sys", "subprocess"].contains(module) { return .refuse }
        if module == "builtins" && ["eval", "exec", "getattr", "__import__"].contains(name) { return .refuse }
        return .allow
    }

    static func decode(_ bytes: [UInt8], limits: PickleLimits = PickleLimits()) throws(PickleError) -> UnpickleResult {
        try unpickle(bytes, policy: blocking, limits: limits)
    }

    // MARK: Globals

    @Test("GLOBAL os.system is refused by the policy at its opcode")
    func osSystem() {
        // pickle.dumps of a __reduce__ returning (os.system, ('echo pwned',)), protocol 2.
        let bytes =
            PB.proto2 + PB.global("os", "system") + PB.put(0) + PB.unicode("echo pwned") + PB.op(.tuple1)
            + PB.op(.reduce) + PB.stop
        #expect(throws: PickleError.unsupportedGlobal(module: "os", name: "system", at: 2)) { try Self.decode(bytes) }
    }

    @Test("GLOBAL posix.system is refused")
    func posixSystem() {
        let bytes = PB.proto2 + PB.global("posix", "system") + PB.stop
        #expect(throws: PickleError.unsupportedGlobal(module: "posix", name: "system", at: 2)) {
            try Self.decode(bytes)
        }
    }

    @Test("GLOBAL __builtin__.eval is refused as builtins.eval, after the Python-2 mapping")
    func builtinEval() {
        let bytes = PB.proto2 + PB.global("__builtin__", "eval") + PB.stop
        #expect(throws: PickleError.unsupportedGlobal(module: "builtins", name: "eval", at: 2)) {
            try Self.decode(bytes)
        }
    }

    @Test("a refused GLOBAL fails before anything after it is read, even garbage")
    func refusalComesFirst() {
        let bytes = PB.proto2 + PB.global("os", "system") + [0xFF, 0xFF]
        #expect(throws: PickleError.unsupportedGlobal(module: "os", name: "system", at: 2)) { try Self.decode(bytes) }
    }

    @Test("a GLOBAL name outside printable ASCII (a Kelvin sign posing as K) is refused")
    func nonASCIIGlobal() {
        let bytes = PB.proto2 + PB.global("torch", "\u{212A}Storage") + PB.stop
        #expect(throws: PickleError.invalidGlobalName(at: 2)) { try Self.decode(bytes) }
    }

    @Test("a GLOBAL line longer than the limit is refused without scanning further")
    func longGlobalLine() {
        let bytes = PB.proto2 + PB.global(String(repeating: "a", count: 5000), "b") + PB.stop
        #expect(throws: PickleError.limitExceeded(.globalLineByteCount, limit: 1024, found: 1025, at: 2)) {
            try Self.decode(bytes)
        }
    }

    @Test("a GLOBAL line with no newline before the end is refused")
    func unterminatedGlobal() {
        let bytes = PB.proto2 + [PickleOpcode.global.rawValue] + Array("torch".utf8)
        #expect(throws: PickleError.unterminatedLine(opcode: .global, at: 2)) { try Self.decode(bytes) }
    }

    // MARK: Opcodes outside the executed set

    @Test("INST (calls module.name with the marked items) is refused")
    func inst() {
        // pickle.dumps(..., protocol=0) style: MARK, argument, INST 'os\nsystem\n'.
        let prefix = PB.proto2 + PB.op(.mark) + PB.unicode("id")
        let bytes = prefix + [PickleOpcode.instance.rawValue] + Array("os\nsystem\n".utf8) + PB.stop
        #expect(throws: PickleError.unsupportedOpcode(.instance, at: prefix.count)) { try Self.decode(bytes) }
    }

    @Test("OBJ is refused")
    func obj() {
        let prefix = PB.proto2 + PB.op(.mark) + PB.global("collections", "OrderedDict")
        #expect(throws: PickleError.unsupportedOpcode(.object, at: prefix.count)) {
            try Self.decode(prefix + PB.op(.object) + PB.stop)
        }
    }

    @Test(
        "EXT1, EXT2 and EXT4 (extension-registry lookups) are refused",
        arguments: [
            ([PickleOpcode.extension1.rawValue, 0x01], PickleOpcode.extension1),
            ([PickleOpcode.extension2.rawValue, 0x01, 0x00], PickleOpcode.extension2),
            ([PickleOpcode.extension4.rawValue, 0x01, 0x00, 0x00, 0x00], PickleOpcode.extension4),
        ])
    func extensions(instruction: [UInt8], opcode: PickleOpcode) {
        #expect(throws: PickleError.unsupportedOpcode(opcode, at: 2)) {
            try Self.decode(PB.proto2 + instruction + PB.stop)
        }
    }

    @Test("PERSID (text persistent id) is refused")
    func persid() {
        let bytes = PB.proto2 + [PickleOpcode.persistentID.rawValue] + Array("0\n".utf8) + PB.stop
        #expect(throws: PickleError.unsupportedOpcode(.persistentID, at: 2)) { try Self.decode(bytes) }
    }

    @Test("STACK_GLOBAL is refused at its opcode, even with harmless-looking strings before it")
    func stackGlobal() {
        let prefix = PB.proto2 + PB.unicode("os") + PB.unicode("system")
        #expect(throws: PickleError.unsupportedOpcode(.stackGlobal, at: prefix.count)) {
            try Self.decode(prefix + PB.op(.stackGlobal) + PB.stop)
        }
    }

    @Test("FRAME (every protocol-4 pickle starts with one) is refused")
    func frame() {
        // pickle.dumps(os.system, protocol=4)
        let bytes: [UInt8] = [
            0x80, 0x04, 0x95, 0x14, 0, 0, 0, 0, 0, 0, 0, 0x8C, 0x05, 0x70, 0x6F, 0x73, 0x69, 0x78, 0x94, 0x8C, 0x06,
            0x73,
            0x79, 0x73, 0x74, 0x65, 0x6D, 0x94, 0x93, 0x94, 0x2E,
        ]
        #expect(throws: PickleError.unsupportedOpcode(.frame, at: 2)) { try Self.decode(bytes) }
    }

    @Test("NEWOBJ_EX is refused")
    func newObjectEx() {
        let prefix = PB.proto2 + PB.global("m", "C") + PB.op(.emptyTuple) + PB.op(.emptyDict)
        #expect(throws: PickleError.unsupportedOpcode(.newObjectEx, at: prefix.count)) {
            try Self.decode(prefix + PB.op(.newObjectEx) + PB.stop)
        }
    }

    @Test(
        "every opcode outside the executed set is refused with its name",
        arguments: PickleOpcode.allCases.filter { !$0.isExecutedByUnpickler })
    func everyUnsupportedOpcode(opcode: PickleOpcode) {
        let bytes = PB.proto2 + PB.op(opcode) + Array(repeating: 0x0A, count: 16) + PB.stop
        #expect(throws: PickleError.unsupportedOpcode(opcode, at: 2)) { try Self.decode(bytes) }
    }

    @Test("an unknown opcode byte is refused with its value", arguments: [UInt8(0x00), 0xFF, 0x99, 0x7A])
    func unknownOpcode(byte: UInt8) {
        #expect(throws: PickleError.unknownOpcode(byte: byte, at: 2)) { try Self.decode(PB.proto2 + [byte] + PB.stop) }
    }

    // MARK: Lengths

    @Test("BINUNICODE longer than the remaining input")
    func binunicodePastEnd() {
        let bytes =
            PB.proto2 + [PickleOpcode.binaryUnicode.rawValue] + PB.littleEndian(UInt32(100)) + Array("short".utf8)
        #expect(throws: PickleError.declaredLengthPastEnd(opcode: .binaryUnicode, declared: 100, available: 5, at: 2)) {
            try Self.decode(bytes)
        }
    }

    @Test("BINUNICODE declaring 0xFFFFFFFF bytes fails before allocating")
    func binunicodeHuge() {
        let bytes =
            PB.proto2 + [PickleOpcode.binaryUnicode.rawValue] + PB.littleEndian(UInt32.max)
            + Array(repeating: 0x41, count: 40)
        #expect(
            throws: PickleError.declaredLengthPastEnd(
                opcode: .binaryUnicode, declared: 4_294_967_295, available: 40, at: 2)
        ) {
            try Self.decode(bytes)
        }
        #expect(
            PickleError.declaredLengthPastEnd(opcode: .binaryUnicode, declared: 4_294_967_295, available: 40, at: 12)
                .description
                == "at byte 12: BINUNICODE declares 4294967295 bytes but 40 remain")
    }

    @Test("SHORT_BINSTRING longer than the remaining input")
    func shortBinstringPastEnd() {
        let bytes = PB.proto2 + [PickleOpcode.shortBinaryString.rawValue, 200] + Array("abc".utf8)
        #expect(
            throws: PickleError.declaredLengthPastEnd(opcode: .shortBinaryString, declared: 200, available: 3, at: 2)
        ) {
            try Self.decode(bytes)
        }
    }

    @Test("a string over the string budget is refused even when the bytes are there")
    func stringBudget() {
        let bytes = PB.proto2 + PB.unicode(String(repeating: "x", count: 100)) + PB.stop
        #expect(throws: PickleError.limitExceeded(.stringByteCount, limit: 64, found: 100, at: 2)) {
            try Self.decode(bytes, limits: PickleLimits(maxStringByteCount: 64))
        }
    }

    @Test("a BININT cut short by the end of the input")
    func truncatedArgument() {
        let bytes = PB.proto2 + [PickleOpcode.binaryInt.rawValue, 0x01, 0x02]
        #expect(throws: PickleError.argumentTruncated(opcode: .binaryInt, needed: 4, available: 2, at: 2)) {
            try Self.decode(bytes)
        }
    }

    @Test("LONG1 longer than the LONG1 budget")
    func long1TooLong() {
        let bytes = PB.proto2 + [PickleOpcode.long1.rawValue, 40] + Array(repeating: 0x7F, count: 40) + PB.stop
        #expect(throws: PickleError.limitExceeded(.longByteCount, limit: 32, found: 40, at: 2)) {
            try Self.decode(bytes)
        }
    }

    @Test(
        "invalid UTF-8 in BINUNICODE is refused at the opcode",
        arguments: [[UInt8(0xC3), 0x28], [0xC0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xED, 0xA0, 0x80, 0xFF]])
    func invalidUTF8(payload: [UInt8]) {
        let bytes =
            PB.proto2 + [PickleOpcode.binaryUnicode.rawValue] + PB.littleEndian(UInt32(payload.count)) + payload
            + PB.stop
        #expect(throws: PickleError.invalidUTF8(opcode: .binaryUnicode, at: 2)) { try Self.decode(bytes) }
    }

    /// Python reads BINUNICODE with "surrogatepass": an encoded surrogate becomes a lone
    /// surrogate in the str, even when two of them would form a pair. No Swift String can hold
    /// one, so the string is refused at the surrogate's byte, never replaced with U+FFFD.
    @Test(
        "an encoded surrogate in BINUNICODE is refused with its value and byte offset",
        arguments: [
            ([UInt8(0xED), 0xA0, 0x80], UInt16(0xD800), 7),
            ([0x61, 0x62, 0xED, 0xB2, 0x80], 0xDC80, 9),
            ([0xED, 0xA0, 0xBD, 0xED, 0xB8, 0x80], 0xD83D, 7),
        ])
    func surrogate(payload: [UInt8], unit: UInt16, offset: Int) {
        let bytes =
            PB.proto2 + [PickleOpcode.binaryUnicode.rawValue] + PB.littleEndian(UInt32(payload.count)) + payload
            + PB.stop
        #expect(throws: PickleError.surrogateInString(opcode: .binaryUnicode, codeUnit: unit, at: offset)) { try Self.decode(bytes) }
    }

    @Test("BINUNICODE keys that differ only by Unicode normalization stay two keys, byte for byte")
    func normalizationDistinctKeys() throws {
        func unicode(_ text: String) -> [UInt8] {
            [PickleOpcode.binaryUnicode.rawValue] + PB.littleEndian(UInt32(text.utf8.count)) + Array(text.utf8)
        }
        let bytes = PB.proto2 + [PickleOpcode.emptyDict.rawValue, PickleOpcode.mark.rawValue]
            + unicode("\u{E9}") + [PickleOpcode.binaryInt1.rawValue, 1]
            + unicode("e\u{301}") + [PickleOpcode.binaryInt1.rawValue, 2]
            + unicode("a\u{0}b") + [PickleOpcode.binaryInt1.rawValue, 3]
            + [PickleOpcode.setItems.rawValue] + PB.stop
        guard case .dict(let dict) = try Self.decode(bytes).value else {
            Issue.record("not a dict")
            return
        }
        let keys = dict.entries.compactMap { entry -> [UInt8]? in
            if case .string(let text) = entry.key { return Array(text.utf8) }
            return nil
        }
        #expect(keys == [[0xC3, 0xA9], [0x65, 0xCC, 0x81], [0x61, 0x00, 0x62]])
    }

    // MARK: Memo

    @Test("BINGET and LONG_BINGET of a memo key that was never stored")
    func missingMemo() {
        let prefix = PB.proto2 + PB.op(.none) + PB.put(0)
        #expect(throws: PickleError.missingMemoEntry(index: 1, opcode: .binaryGet, at: prefix.count)) {
            try Self.decode(prefix + PB.get(1) + PB.stop)
        }
        #expect(throws: PickleError.missingMemoEntry(index: 0xFFFF_FFFE, opcode: .longBinaryGet, at: prefix.count)) {
            try Self.decode(prefix + PB.longGet(0xFFFF_FFFE) + PB.stop)
        }
    }

    @Test("LONG_BINPUT at index 0xFFFFFFFF costs one memo entry, not 4 G slots")
    func hugeMemoIndex() throws {
        let bytes =
            PB.proto2 + PB.unicode("x") + PB.longPut(0xFFFF_FFFF) + PB.longGet(0xFFFF_FFFF) + PB.op(.tuple2) + PB.stop
        let result = try Self.decode(bytes, limits: PickleLimits(maxMemoEntries: 1))
        #expect(result.value == tuple(.string("x"), .string("x")))
    }

    @Test("more distinct memo entries than the budget")
    func memoBudget() {
        let prefix = PB.proto2 + PB.op(.none) + PB.put(0) + PB.put(1) + PB.put(2) + PB.put(1)
        let bytes = prefix + PB.put(3) + PB.stop
        #expect(throws: PickleError.limitExceeded(.memoEntries, limit: 3, found: 4, at: prefix.count)) {
            try Self.decode(bytes, limits: PickleLimits(maxMemoEntries: 3))
        }
    }

    @Test("memo indices stored out of order, far apart and twice each fetch the value stored last")
    func memoOrderAndOverwrites() throws {
        // 2 and 0x10000 first (not the next index), then 0 and 1 (the run Python's pickler makes),
        // then every one overwritten: each fetch must see the latest value, wherever it lives.
        let stores: [(UInt32, String)] = [
            (2, "c"), (0x10000, "far"), (0, "a"), (1, "b"), (1, "b2"), (2, "c2"), (0x10000, "far2"), (0, "a2"),
        ]
        var bytes = PB.proto2 + PB.op(.emptyList) + PB.op(.mark)
        for (index, text) in stores { bytes += PB.unicode(text) + PB.longPut(index) }
        bytes += PB.get(0) + PB.get(1) + PB.get(2) + PB.longGet(0x10000) + PB.op(.appends) + PB.stop
        let result = try Self.decode(bytes, limits: PickleLimits(maxMemoEntries: 4))
        guard case .list(let list) = result.value else { Issue.record("not a list: \(result.value)"); return }
        let expected = (stores.map(\.1) + ["a2", "b2", "c2", "far2"]).map { PickleValue.string($0) }
        #expect(list.items == expected)
    }

    @Test("a memo of 100,000 entries in order: every one fetched back, and the budget counts them all")
    func largeMemo() throws {
        var body: [UInt8] = PB.op(.emptyList) + PB.op(.mark)
        for index in 0..<100_000 as Range<UInt32> {
            body += PB.int1(UInt8(index % 251)) + PB.longPut(index) + PB.longGet(index)
        }
        body += PB.op(.appends)
        let result = try Self.decode(PB.proto2 + body + PB.stop, limits: PickleLimits(maxMemoEntries: 100_000))
        guard case .list(let list) = result.value else { Issue.record("not a list: \(result.value)"); return }
        #expect(list.items.count == 200_000)
        #expect(list.items.enumerated().allSatisfy { offset, item in item == .int(Int64(offset / 2 % 251)) })
        // Each store is 12 bytes in: the 100,000th LONG_BINPUT is one entry too many.
        #expect(throws: PickleError.limitExceeded(.memoEntries, limit: 99_999, found: 100_000, at: 4 + 99_999 * 12 + 2)) {
            try Self.decode(PB.proto2 + body + PB.stop, limits: PickleLimits(maxMemoEntries: 99_999))
        }
    }

    // MARK: Stack and marks

    static let poppingOpcodes: [(PickleOpcode, [UInt8], Int)] = [
        (.append, [], 2), (.setItem, [], 3), (.reduce, [], 2), (.newObject, [], 2), (.build, [], 2),
        (.tuple1, [], 1), (.tuple2, [], 2), (.tuple3, [], 3), (.binaryPersistentID, [], 1), (.stop, [], 1),
        (.binaryPut, [0], 1), (.longBinaryPut, [0, 0, 0, 0], 1),
    ]

    @Test("every popping opcode on an empty stack underflows", arguments: poppingOpcodes)
    func underflow(opcode: PickleOpcode, argument: [UInt8], needed: Int) {
        let bytes = PB.proto2 + PB.op(opcode) + argument + PB.stop
        #expect(throws: PickleError.stackUnderflow(opcode: opcode, needed: needed, available: 0, at: 2)) {
            try Self.decode(bytes)
        }
    }

    @Test("APPENDS and SETITEMS with nothing under their MARK underflow", arguments: [PickleOpcode.appends, .setItems])
    func underflowUnderMark(opcode: PickleOpcode) {
        let bytes = PB.proto2 + PB.op(.mark) + PB.op(opcode) + PB.stop
        #expect(throws: PickleError.stackUnderflow(opcode: opcode, needed: 1, available: 0, at: 3)) {
            try Self.decode(bytes)
        }
    }

    @Test("items below a MARK are out of reach, as with torch's metastack")
    func markHidesOuterFrame() {
        let prefix = PB.proto2 + PB.op(.emptyList) + PB.op(.mark) + PB.op(.none)
        #expect(throws: PickleError.stackUnderflow(opcode: .append, needed: 2, available: 1, at: prefix.count)) {
            try Self.decode(prefix + PB.op(.append) + PB.stop)
        }
    }

    @Test("TUPLE, APPENDS and SETITEMS without a MARK", arguments: [PickleOpcode.tuple, .appends, .setItems])
    func missingMark(opcode: PickleOpcode) {
        let prefix = PB.proto2 + PB.op(.emptyList) + PB.op(.none)
        #expect(throws: PickleError.missingMark(opcode: opcode, at: prefix.count)) {
            try Self.decode(prefix + PB.op(opcode) + PB.stop)
        }
    }

    @Test("more open MARKs than the mark budget")
    func markDepth() {
        let bytes = PB.proto2 + Array(repeating: PickleOpcode.mark.rawValue, count: 1001) + PB.stop
        #expect(throws: PickleError.limitExceeded(.markDepth, limit: 1000, found: 1001, at: 2 + 1000)) {
            try Self.decode(bytes)
        }
    }

    @Test("more stack items than the stack budget")
    func stackDepth() {
        let bytes = PB.proto2 + Array(repeating: PickleOpcode.none.rawValue, count: 11) + PB.stop
        #expect(throws: PickleError.limitExceeded(.stackDepth, limit: 10, found: 11, at: 12)) {
            try Self.decode(bytes, limits: PickleLimits(maxStackDepth: 10))
        }
    }

    @Test("more objects than the object budget, and more opcodes than the opcode budget")
    func objectAndOpcodeBudgets() {
        let bytes = PB.proto2 + Array(repeating: PickleOpcode.none.rawValue, count: 11) + PB.stop
        #expect(throws: PickleError.limitExceeded(.objectCount, limit: 10, found: 11, at: 12)) {
            try Self.decode(bytes, limits: PickleLimits(maxObjectCount: 10))
        }
        #expect(throws: PickleError.limitExceeded(.opcodeCount, limit: 10, found: 11, at: 11)) {
            try Self.decode(bytes, limits: PickleLimits(maxOpcodeCount: 10))
        }
    }

    // MARK: Operand types

    @Test("APPEND onto a dict")
    func appendOntoDict() {
        let prefix = PB.proto2 + PB.op(.emptyDict) + PB.int1(1)
        let error = PickleError.wrongOperand(opcode: .append, operand: .appendTarget, found: .dict, at: prefix.count)
        #expect(throws: error) { try Self.decode(prefix + PB.op(.append) + PB.stop) }
        #expect(error.description == "at byte \(prefix.count): APPEND onto a dict; expected a list")
    }

    @Test("APPENDS onto a tuple")
    func appendsOntoTuple() {
        let prefix = PB.proto2 + PB.op(.emptyTuple) + PB.op(.mark) + PB.int1(1)
        #expect(
            throws: PickleError.wrongOperand(opcode: .appends, operand: .appendTarget, found: .tuple, at: prefix.count)
        ) {
            try Self.decode(prefix + PB.op(.appends) + PB.stop)
        }
    }

    @Test("SETITEM onto a list (the CVE-2026-24747 shape)")
    func setItemOntoList() {
        let prefix = PB.proto2 + PB.op(.emptyList) + PB.unicode("k") + PB.int1(1)
        #expect(
            throws: PickleError.wrongOperand(opcode: .setItem, operand: .setItemTarget, found: .list, at: prefix.count)
        ) {
            try Self.decode(prefix + PB.op(.setItem) + PB.stop)
        }
    }

    @Test("SETITEMS onto a tuple")
    func setItemsOntoTuple() {
        let prefix = PB.proto2 + PB.op(.emptyTuple) + PB.op(.mark) + PB.unicode("k") + PB.int1(1)
        #expect(
            throws: PickleError.wrongOperand(
                opcode: .setItems, operand: .setItemTarget, found: .tuple, at: prefix.count)
        ) {
            try Self.decode(prefix + PB.op(.setItems) + PB.stop)
        }
    }

    @Test("SETITEM onto a call result (a tensor, say)")
    func setItemOntoObject() {
        let prefix =
            PB.proto2 + PB.global("torch._utils", "_rebuild_tensor_v2") + PB.op(.emptyTuple) + PB.op(.reduce)
            + PB.unicode("k") + PB.int1(1)
        #expect(
            throws: PickleError.wrongOperand(
                opcode: .setItem, operand: .setItemTarget, found: .object, at: prefix.count)
        ) {
            try Self.decode(prefix + PB.op(.setItem) + PB.stop)
        }
    }

    @Test("SETITEMS with an odd number of items")
    func unpairedSetItems() {
        let prefix =
            PB.proto2 + PB.op(.emptyDict) + PB.op(.mark) + PB.unicode("k") + PB.int1(1) + PB.unicode("dangling")
        #expect(throws: PickleError.unpairedSetItems(count: 3, at: prefix.count)) {
            try Self.decode(prefix + PB.op(.setItems) + PB.stop)
        }
    }

    @Test("an unhashable dict key (a list)")
    func unhashableKey() {
        let prefix = PB.proto2 + PB.op(.emptyDict) + PB.op(.emptyList) + PB.int1(1)
        #expect(throws: PickleError.wrongOperand(opcode: .setItem, operand: .dictKey, found: .list, at: prefix.count)) {
            try Self.decode(prefix + PB.op(.setItem) + PB.stop)
        }
    }

    @Test("a NaN dict key, and a tuple key holding a dict")
    func otherUnhashableKeys() {
        let nan: [UInt8] = [PickleOpcode.binaryFloat.rawValue, 0x7F, 0xF8, 0, 0, 0, 0, 0, 0]
        let prefix = PB.proto2 + PB.op(.emptyDict) + nan + PB.int1(1)
        #expect(throws: PickleError.wrongOperand(opcode: .setItem, operand: .dictKey, found: .float, at: prefix.count))
        {
            try Self.decode(prefix + PB.op(.setItem) + PB.stop)
        }
        let tuplePrefix = PB.proto2 + PB.op(.emptyDict) + PB.op(.emptyDict) + PB.op(.tuple1) + PB.int1(1)
        #expect(
            throws: PickleError.wrongOperand(opcode: .setItem, operand: .dictKey, found: .tuple, at: tuplePrefix.count)
        ) {
            try Self.decode(tuplePrefix + PB.op(.setItem) + PB.stop)
        }
    }

    @Test("an unhashable set element in builtins.set([...])")
    func unhashableSetElement() {
        let prefix =
            PB.proto2 + PB.global("builtins", "set") + PB.op(.emptyList) + PB.op(.emptyList) + PB.op(.append)
            + PB.op(.tuple1)
        #expect(throws: PickleError.wrongOperand(opcode: .reduce, operand: .setElement, found: .list, at: prefix.count))
        {
            try Self.decode(prefix + PB.op(.reduce) + PB.stop)
        }
    }

    @Test("REDUCE whose callable is not a global")
    func reduceOnNonGlobal() {
        let prefix = PB.proto2 + PB.unicode("os.system") + PB.op(.emptyTuple)
        #expect(throws: PickleError.wrongOperand(opcode: .reduce, operand: .callable, found: .string, at: prefix.count))
        {
            try Self.decode(prefix + PB.op(.reduce) + PB.stop)
        }
    }

    @Test("REDUCE of a call result (calling what a call returned)")
    func reduceOnObject() {
        let prefix =
            PB.proto2 + PB.global("torch.serialization", "_get_layout") + PB.op(.emptyTuple) + PB.op(.reduce)
            + PB.op(.emptyTuple)
        #expect(throws: PickleError.wrongOperand(opcode: .reduce, operand: .callable, found: .object, at: prefix.count))
        {
            try Self.decode(prefix + PB.op(.reduce) + PB.stop)
        }
    }

    @Test("NEWOBJ with arguments that are not a tuple")
    func newObjectArguments() {
        let prefix = PB.proto2 + PB.global("m", "C") + PB.op(.emptyList)
        #expect(
            throws: PickleError.wrongOperand(opcode: .newObject, operand: .arguments, found: .list, at: prefix.count)
        ) {
            try Self.decode(prefix + PB.op(.newObject) + PB.stop)
        }
    }

    @Test("BUILD on a list, and BUILD twice on one object")
    func buildTargets() {
        let prefix = PB.proto2 + PB.op(.emptyList) + PB.op(.emptyDict)
        #expect(throws: PickleError.wrongOperand(opcode: .build, operand: .buildTarget, found: .list, at: prefix.count))
        {
            try Self.decode(prefix + PB.op(.build) + PB.stop)
        }
        let twice =
            PB.proto2 + PB.global("m", "C") + PB.op(.emptyTuple) + PB.op(.newObject) + PB.op(.emptyDict) + PB.op(.build)
            + PB.op(.emptyDict)
        #expect(throws: PickleError.alreadyBuilt(found: .object, at: twice.count)) {
            try Self.decode(twice + PB.op(.build) + PB.stop)
        }
    }

    // MARK: Cycles and depth

    @Test("appending to a list after it was placed in another (the memo route to a cycle)")
    func cycleThroughMemo() {
        // a = []; b = []; b.append(a); then fetch a and try a.append(b): a cycle.
        let prefix =
            PB.proto2 + PB.op(.emptyList) + PB.put(0) + PB.op(.emptyList) + PB.put(1) + PB.get(0) + PB.op(.append)
            + PB.get(0) + PB.get(1)
        #expect(throws: PickleError.frozenTarget(opcode: .append, found: .list, at: prefix.count)) {
            try Self.decode(prefix + PB.op(.append) + PB.stop)
        }
    }

    @Test("a list appended to itself")
    func selfAppend() {
        let prefix = PB.proto2 + PB.op(.emptyList) + PB.put(0) + PB.get(0)
        #expect(throws: PickleError.frozenTarget(opcode: .append, found: .list, at: prefix.count)) {
            try Self.decode(prefix + PB.op(.append) + PB.stop)
        }
    }

    @Test("a dict stored into itself with SETITEMS, and an object BUILT with itself")
    func selfReferences() {
        let dictPrefix = PB.proto2 + PB.op(.emptyDict) + PB.put(0) + PB.op(.mark) + PB.unicode("me") + PB.get(0)
        #expect(throws: PickleError.frozenTarget(opcode: .setItems, found: .dict, at: dictPrefix.count)) {
            try Self.decode(dictPrefix + PB.op(.setItems) + PB.stop)
        }
        let objectPrefix =
            PB.proto2 + PB.global("m", "C") + PB.op(.emptyTuple) + PB.op(.newObject) + PB.put(0) + PB.get(0)
        #expect(throws: PickleError.frozenTarget(opcode: .build, found: .object, at: objectPrefix.count)) {
            try Self.decode(objectPrefix + PB.op(.build) + PB.stop)
        }
    }

    /// `EMPTY_LIST` × n then `APPEND` × (n − 1): lists nested n deep.
    static func nestedLists(_ count: Int) -> [UInt8] {
        PB.proto2 + Array(repeating: PickleOpcode.emptyList.rawValue, count: count)
            + Array(repeating: PickleOpcode.append.rawValue, count: count - 1) + PB.stop
    }

    @Test("lists nested far past the depth budget fail at the APPEND that crosses it")
    func nestingPastLimit() {
        let count = 50_000
        // The 100th APPEND makes depth 101.
        #expect(throws: PickleError.limitExceeded(.nestingDepth, limit: 100, found: 101, at: 2 + count + 99)) {
            try Self.decode(Self.nestedLists(count))
        }
    }

    @Test("lists nested exactly to the depth budget decode and free")
    func nestingAtLimit() throws {
        let result = try Self.decode(Self.nestedLists(100))
        #expect(result.value.depth == 100)
    }

    @Test("lists nested 100,000 deep under a raised budget decode and free without recursion")
    func deepTeardown() throws {
        let result = try Self.decode(Self.nestedLists(100_000), limits: PickleLimits(maxNestingDepth: 100_000))
        #expect(result.value.depth == 100_000)
    }

    @Test("billion laughs: 40 levels of 10 shared references decode in linear time and memory")
    func billionLaughs() throws {
        // level 0 = ['lol']; level k = [level k−1] × 10, each fetched from the memo: 10^40 leaves.
        var bytes = PB.proto2 + PB.op(.emptyList) + PB.unicode("lol") + PB.op(.append) + PB.put(0)
        for level in 1...40 {
            bytes += PB.op(.emptyList) + PB.op(.mark)
            for _ in 0..<10 { bytes += PB.get(UInt8(level - 1)) }
            bytes += PB.op(.appends) + PB.put(UInt8(level))
        }
        bytes += PB.stop
        let clock = ContinuousClock()
        var result: UnpickleResult?
        let elapsed = try clock.measure { result = try Self.decode(bytes) }
        #expect(elapsed < .seconds(1))
        let top = try #require(result?.value.listValue)
        #expect(top.depth == 41)
        #expect(top.items.count == 10)
        let children = top.items.compactMap(\.listValue)
        #expect(children.count == 10 && children.allSatisfy { $0 === children[0] })
        #expect(result?.opcodeCount ?? 0 < 600)
        // Comparing, re-encoding and re-decoding stay linear too.
        let again = try Self.decode(try PickleEncoder().encode(.list(top)))
        #expect(again.value == .list(top))
    }

    // MARK: Amplification through the memo

    @Test("a tuple key that doubles through the memo 20 times is refused, not walked 2^20 times")
    func tupleKeyExpansion() {
        // t0 = (1,); t(k) = (t(k−1), t(k−1)), each fetched from the memo.
        var prefix = PB.proto2 + PB.int1(1) + PB.op(.tuple1) + PB.put(0)
        for level in 1...20 {
            prefix += PB.get(UInt8(level - 1)) + PB.get(UInt8(level - 1)) + PB.op(.tuple2) + PB.put(UInt8(level))
        }
        prefix += PB.op(.emptyDict) + PB.get(20) + PB.op(.none)
        #expect(throws: PickleError.wrongOperand(opcode: .setItem, operand: .dictKey, found: .tuple, at: prefix.count))
        {
            try Self.decode(prefix + PB.op(.setItem) + PB.stop)
        }
    }

    /// A 100,000-byte string stored at memo 0.
    static let bigString = PB.unicode(String(repeating: "k", count: 100_000)) + PB.put(0)

    @Test("a large memoized string used as a dict key again and again hits the derived-bytes budget")
    func repeatedLargeKey() {
        var prefix = PB.proto2 + Self.bigString + PB.op(.emptyDict)
        for _ in 0..<10 { prefix += PB.get(0) + PB.op(.none) + PB.op(.setItem) }
        prefix += PB.get(0) + PB.op(.none)
        #expect(
            throws: PickleError.limitExceeded(.derivedByteCount, limit: 1_000_000, found: 1_100_000, at: prefix.count)
        ) {
            try Self.decode(prefix + PB.op(.setItem) + PB.stop, limits: PickleLimits(maxDerivedByteCount: 1_000_000))
        }
    }

    @Test("a large memoized string turned into bytes again and again hits the derived-bytes budget")
    func repeatedBytesConversion() {
        let call = PB.get(1) + PB.get(0) + PB.get(2) + PB.op(.tuple2) + PB.op(.reduce)
        var prefix =
            PB.proto2 + Self.bigString + PB.global("_codecs", "encode") + PB.put(1) + PB.unicode("latin1") + PB.put(2)
        for _ in 0..<10 { prefix += call }
        prefix += PB.get(1) + PB.get(0) + PB.get(2) + PB.op(.tuple2)
        #expect(
            throws: PickleError.limitExceeded(.derivedByteCount, limit: 1_000_000, found: 1_100_000, at: prefix.count)
        ) {
            try Self.decode(prefix + PB.op(.reduce) + PB.stop, limits: PickleLimits(maxDerivedByteCount: 1_000_000))
        }
    }

    @Test("a memoized list rebuilt into a set again and again counts every copied element")
    func repeatedSetConversion() {
        // Objects: the global, the list and its 1000 ints (1002); then per set: a tuple, 1000
        // copied elements, the set. The fourth set's copies cross 5000 (4009 + 1000).
        var prefix = PB.proto2 + PB.global("builtins", "set") + PB.put(0) + PB.op(.emptyList) + PB.op(.mark)
        for value in 0..<1000 { prefix += [PickleOpcode.binaryInt2.rawValue] + PB.littleEndian(UInt16(value)) }
        prefix += PB.op(.appends) + PB.put(1)
        for _ in 0..<3 { prefix += PB.get(0) + PB.get(1) + PB.op(.tuple1) + PB.op(.reduce) }
        prefix += PB.get(0) + PB.get(1) + PB.op(.tuple1)
        #expect(throws: PickleError.limitExceeded(.objectCount, limit: 5000, found: 5009, at: prefix.count)) {
            try Self.decode(prefix + PB.op(.reduce) + PB.stop, limits: PickleLimits(maxObjectCount: 5000))
        }
    }

    @Test("re-encoding 10,000 references to one large memoized string writes it once")
    func encodeSharedLargeString() throws {
        var bytes = PB.proto2 + PB.op(.emptyList) + PB.op(.mark) + Self.bigString
        for _ in 1..<1000 { bytes += PB.get(0) }
        bytes += PB.op(.appends) + PB.stop
        let value = try Self.decode(bytes).value
        #expect(value.listValue?.items.count == 1000)
        let encoded = try PickleEncoder().encode(value)
        #expect(encoded.count < 110_000)
        #expect(try Self.decode(encoded).value == value)
    }

    // MARK: Ends of input

    @Test("empty input, and input without STOP")
    func noStop() {
        #expect(throws: PickleError.missingStop(at: 0)) { try Self.decode([]) }
        #expect(throws: PickleError.missingStop(at: 3)) { try Self.decode(PB.proto2 + PB.op(.none)) }
    }

    @Test(
        "every proper prefix of a real data.pkl throws, never crashes",
        arguments: ["zip_state_dict_tied.data.pkl", "zip_shared_views.data.pkl"])
    func everyPrefixThrows(name: String) throws {
        let bytes = try fixture(name)
        for length in 0..<bytes.count {
            let prefix = Array(bytes[0..<length])
            do {
                _ = try unpickle(prefix, policy: TestPolicy.samples)
                Issue.record("prefix of \(length) bytes decoded")
            } catch {
                #expect(error.offset <= length)
                switch error {
                case .missingStop, .argumentTruncated, .declaredLengthPastEnd, .unterminatedLine: break
                default: Issue.record("prefix of \(length) bytes: unexpected \(error)")
                }
            }
        }
    }

    @Test("data after STOP is left unread and reported to the caller")
    func dataAfterStop() throws {
        let bytes = PB.proto2 + PB.op(.none) + PB.stop + PB.global("os", "system") + PB.stop
        let result = try Self.decode(bytes)
        #expect(result.value == PickleValue.none)
        #expect(result.stopOffset == 3)
        #expect(result.trailingByteCount == bytes.count - 4)
    }

    @Test("leftover stack items and open marks at STOP are warnings, not errors")
    func leftovers() throws {
        let bytes = PB.proto2 + PB.op(.none) + PB.op(.mark) + PB.op(.none) + PB.op(.newTrue) + PB.stop
        let result = try Self.decode(bytes)
        #expect(result.value == .bool(true))
        #expect(result.warnings == [.unusedStackItems(count: 2, at: 6), .unclosedMarks(count: 1, at: 6)])
    }

    @Test("PROTO other than 2 is a warning returned as data")
    func otherProtocol() throws {
        let result = try Self.decode([0x80, 0x04, PickleOpcode.none.rawValue] + PB.stop)
        #expect(result.warnings == [.unexpectedProtocol(4, at: 0)])
        #expect(result.protocolVersion == 4)
        #expect(result.warnings[0].description == "at byte 0: pickle protocol 4; expected protocol 2")
    }
}
