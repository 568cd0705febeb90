import PickleVM
import Testing

@Suite("Pickle disassembler and scanner")
struct PickleDisassemblerTests {
    static func instructions(_ bytes: [UInt8], from offset: Int = 0) throws(PickleError) -> [PickleInstruction] {
        let result: Result<[PickleInstruction], PickleError> = bytes.withUnsafeBytes { buffer in
            var walk = PickleDisassembler(buffer, from: offset)
            do throws(PickleError) { return .success(try walk.instructions()) } catch { return .failure(error) }
        }
        return try result.get()
    }

    @Test("lists the same instructions as pickletools.genops for a real data.pkl")
    func matchesGenops() throws {
        let bytes = try fixture("zip_state_dict_tied.data.pkl")
        let all = try Self.instructions(bytes)
        // len(list(pickletools.genops(data))) == 167; the first four and the STOP offset:
        #expect(all.count == 167)
        #expect(
            all.prefix(4).map { "\($0.opcode.name)@\($0.offset)" } == [
                "PROTO@0", "GLOBAL@2", "BINPUT@27", "EMPTY_TUPLE@29",
            ])
        #expect(all.last?.opcode == .stop && all.last?.offset == 470)
        #expect(all[0].argument == .integer(2))
        var counts: [String: Int] = [:]
        for instruction in all { counts[instruction.opcode.name, default: 0] += 1 }
        // collections.Counter(op.name for op, _, _ in genops(data))
        #expect(
            counts == [
                "BINGET": 19, "BININT1": 21, "BINPERSID": 4, "BINPUT": 46, "BINUNICODE": 14, "BUILD": 1,
                "EMPTY_DICT": 4,
                "EMPTY_TUPLE": 8, "GLOBAL": 4, "MARK": 10, "NEWFALSE": 4, "PROTO": 1, "REDUCE": 10, "SETITEM": 4,
                "SETITEMS": 2, "STOP": 1, "TUPLE": 8, "TUPLE1": 2, "TUPLE2": 4,
            ])
    }

    @Test("scans a real checkpoint: every global, only executed opcodes, nothing after STOP")
    func scanRealCheckpoint() throws {
        let report = try PickleScanner.scan(try fixture("lightning_adam_steplr.data.pkl"))
        #expect(
            report.imports.map { "\($0.module ?? "?").\($0.name ?? "?")" } == [
                "collections.OrderedDict", "torch._utils._rebuild_tensor_v2", "torch.FloatStorage",
            ])
        #expect(report.unsupportedOpcodes.isEmpty)
        #expect(report.opcodeCounts.values.reduce(0, +) == 1058)
        #expect(report.protocolVersion == 2)
        #expect(report.stopOffset == 3098)
        #expect(report.trailingByteCount == 0)
        #expect(report.categories.contains(.call) && report.categories.contains(.persistentID))
    }

    @Test("names a protocol-4 STACK_GLOBAL from the strings and memo entries before it")
    func stackGlobalResolved() throws {
        // pickle.dumps(os.system, protocol=4)
        let bytes: [UInt8] = [
            0x80, 0x04, 0x95, 0x14, 0, 0, 0, 0, 0, 0, 0, 0x8C, 0x05, 0x70, 0x6F, 0x73, 0x69, 0x78, 0x94, 0x8C, 0x06,
            0x73,
            0x79, 0x73, 0x74, 0x65, 0x6D, 0x94, 0x93, 0x94, 0x2E,
        ]
        let report = try PickleScanner.scan(bytes)
        #expect(report.imports == [PickleImportSite(offset: 28, opcode: .stackGlobal, module: "posix", name: "system")])
        #expect(report.imports.first?.global == PickleGlobal(module: "posix", name: "system"))
        #expect(report.protocolVersion == 4)
        #expect(report.unsupportedOpcodes == [.shortBinaryUnicode, .stackGlobal, .memoize, .frame])
        #expect(report.categories.contains(.importName))
    }

    @Test("a STACK_GLOBAL whose operands come from the memo is still named")
    func stackGlobalThroughMemo() throws {
        // SHORT_BINUNICODE 'os' MEMOIZE, SHORT_BINUNICODE 'x' MEMOIZE, then BINGET 0 + SHORT_BINUNICODE 'system'.
        let bytes: [UInt8] =
            [0x80, 0x04, 0x8C, 0x02] + Array("os".utf8) + [0x94, 0x8C, 0x01] + Array("x".utf8) + [0x94]
            + [0x68, 0x00, 0x8C, 0x06] + Array("system".utf8) + [0x93, 0x2E]
        let report = try PickleScanner.scan(bytes)
        #expect(report.imports.map(\.module) == ["os"])
        #expect(report.imports.map(\.name) == ["system"])
    }

    @Test("a STACK_GLOBAL whose operands are computed is reported without a name")
    func stackGlobalHidden() throws {
        // The module string is the result of a call, not a constant.
        let bytes =
            PB.proto2 + PB.global("builtins", "str") + PB.op(.emptyTuple) + PB.op(.reduce) + PB.unicode("system")
            + PB.op(.stackGlobal) + PB.stop
        let report = try PickleScanner.scan(bytes)
        #expect(report.imports.count == 2)
        #expect(
            report.imports[1] == PickleImportSite(offset: bytes.count - 2, opcode: .stackGlobal, module: nil, name: nil)
        )
        #expect(report.imports[1].global == nil)
    }

    @Test("reports INST imports, EXT codes and protocol-0 text arguments")
    func protocol0AndExtensions() throws {
        // pickle.dumps(collections.OrderedDict, protocol=0) == b'ccollections\nOrderedDict\np0\n.'
        let text: [UInt8] = Array("ccollections\nOrderedDict\np0\n.".utf8)
        let walk = try Self.instructions(text)
        #expect(walk.map(\.opcode) == [.global, .put, .stop])
        #expect(walk[0].argument == .linePair(1..<12, 13..<24))
        #expect(walk[1].argument == .line(26..<27))

        let bytes =
            PB.proto2 + PB.op(.mark) + [PickleOpcode.instance.rawValue] + Array("os\nsystem\n".utf8)
            + [PickleOpcode.extension2.rawValue, 0x34, 0x12] + PB.stop
        let report = try PickleScanner.scan(bytes)
        #expect(report.imports == [PickleImportSite(offset: 3, opcode: .instance, module: "os", name: "system")])
        #expect(report.extensionCodes == [PickleExtensionSite(offset: 14, code: 0x1234)])
        #expect(report.categories.contains(.extensionRegistry))
    }

    @Test("walks the five legacy pickles one after another")
    func legacyStream() throws {
        let bytes = try fixture("legacy_views.pt")
        var offset = 0
        var stops: [Int] = []
        for _ in 0..<5 {
            let report = try PickleScanner.scan(bytes, from: offset)
            stops.append(report.stopOffset)
            offset = report.stopOffset + 1
        }
        #expect(stops == [14, 20, 136, 481, 531])
    }

    @Test("ends with an error at an unknown opcode, a truncated argument, a huge length or no STOP")
    func malformed() {
        #expect(throws: PickleError.unknownOpcode(byte: 0xFF, at: 3)) {
            try Self.instructions(PB.proto2 + PB.op(.none) + [0xFF])
        }
        #expect(
            throws: PickleError.declaredLengthPastEnd(opcode: .binaryBytes8, declared: UInt64.max, available: 0, at: 2)
        ) {
            try Self.instructions(PB.proto2 + [PickleOpcode.binaryBytes8.rawValue] + PB.littleEndian(UInt64.max))
        }
        #expect(throws: PickleError.negativeLength(opcode: .long4, declared: -1, at: 2)) {
            try Self.instructions(PB.proto2 + [PickleOpcode.long4.rawValue] + PB.littleEndian(Int32(-1)))
        }
        #expect(throws: PickleError.argumentTruncated(opcode: .frame, needed: 8, available: 3, at: 2)) {
            try Self.instructions(PB.proto2 + [PickleOpcode.frame.rawValue, 1, 2, 3])
        }
        #expect(throws: PickleError.unterminatedLine(opcode: .int, at: 2)) {
            try Self.instructions(PB.proto2 + [PickleOpcode.int.rawValue] + Array("12".utf8))
        }
        #expect(throws: PickleError.missingStop(at: 3)) { try Self.instructions(PB.proto2 + PB.op(.none)) }
    }

    @Test("every prefix of a real data.pkl ends the walk with an error, never a crash")
    func everyPrefix() throws {
        let bytes = try fixture("zip_shared_views.data.pkl")
        for length in 0..<bytes.count {
            #expect(throws: PickleError.self) { try Self.instructions(Array(bytes[0..<length])) }
        }
    }
}
