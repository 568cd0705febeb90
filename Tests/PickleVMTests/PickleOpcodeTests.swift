import PickleVM
import Testing

@Suite("Pickle opcode table")
struct PickleOpcodeTests {
    /// Every opcode of CPython's `pickletools.opcodes` (byte, name, argument name, protocol), made by
    /// `for op in pickletools.opcodes: print(hex(ord(op.code)), op.name, op.arg.name if op.arg else
    /// "none", op.proto)` with Python 3.11.7.
    static let pickletools: [(UInt8, String, String, Int)] = [
        (0x49, "INT", "decimalnl_short", 0),
        (0x4A, "BININT", "int4", 1),
        (0x4B, "BININT1", "uint1", 1),
        (0x4D, "BININT2", "uint2", 1),
        (0x4C, "LONG", "decimalnl_long", 0),
        (0x8A, "LONG1", "long1", 2),
        (0x8B, "LONG4", "long4", 2),
        (0x53, "STRING", "stringnl", 0),
        (0x54, "BINSTRING", "string4", 1),
        (0x55, "SHORT_BINSTRING", "string1", 1),
        (0x42, "BINBYTES", "bytes4", 3),
        (0x43, "SHORT_BINBYTES", "bytes1", 3),
        (0x8E, "BINBYTES8", "bytes8", 4),
        (0x96, "BYTEARRAY8", "bytearray8", 5),
        (0x97, "NEXT_BUFFER", "none", 5),
        (0x98, "READONLY_BUFFER", "none", 5),
        (0x4E, "NONE", "none", 0),
        (0x88, "NEWTRUE", "none", 2),
        (0x89, "NEWFALSE", "none", 2),
        (0x56, "UNICODE", "unicodestringnl", 0),
        (0x8C, "SHORT_BINUNICODE", "unicodestring1", 4),
        (0x58, "BINUNICODE", "unicodestring4", 1),
        (0x8D, "BINUNICODE8", "unicodestring8", 4),
        (0x46, "FLOAT", "floatnl", 0),
        (0x47, "BINFLOAT", "float8", 1),
        (0x5D, "EMPTY_LIST", "none", 1),
        (0x61, "APPEND", "none", 0),
        (0x65, "APPENDS", "none", 1),
        (0x6C, "LIST", "none", 0),
        (0x29, "EMPTY_TUPLE", "none", 1),
        (0x74, "TUPLE", "none", 0),
        (0x85, "TUPLE1", "none", 2),
        (0x86, "TUPLE2", "none", 2),
        (0x87, "TUPLE3", "none", 2),
        (0x7D, "EMPTY_DICT", "none", 1),
        (0x64, "DICT", "none", 0),
        (0x73, "SETITEM", "none", 0),
        (0x75, "SETITEMS", "none", 1),
        (0x8F, "EMPTY_SET", "none", 4),
        (0x90, "ADDITEMS", "none", 4),
        (0x91, "FROZENSET", "none", 4),
        (0x30, "POP", "none", 0),
        (0x32, "DUP", "none", 0),
        (0x28, "MARK", "none", 0),
        (0x31, "POP_MARK", "none", 1),
        (0x67, "GET", "decimalnl_short", 0),
        (0x68, "BINGET", "uint1", 1),
        (0x6A, "LONG_BINGET", "uint4", 1),
        (0x70, "PUT", "decimalnl_short", 0),
        (0x71, "BINPUT", "uint1", 1),
        (0x72, "LONG_BINPUT", "uint4", 1),
        (0x94, "MEMOIZE", "none", 4),
        (0x82, "EXT1", "uint1", 2),
        (0x83, "EXT2", "uint2", 2),
        (0x84, "EXT4", "int4", 2),
        (0x63, "GLOBAL", "stringnl_noescape_pair", 0),
        (0x93, "STACK_GLOBAL", "none", 4),
        (0x52, "REDUCE", "none", 0),
        (0x62, "BUILD", "none", 0),
        (0x69, "INST", "stringnl_noescape_pair", 0),
        (0x6F, "OBJ", "none", 1),
        (0x81, "NEWOBJ", "none", 2),
        (0x92, "NEWOBJ_EX", "none", 4),
        (0x80, "PROTO", "uint1", 2),
        (0x2E, "STOP", "none", 0),
        (0x95, "FRAME", "uint8", 4),
        (0x50, "PERSID", "stringnl_noescape", 0),
        (0x51, "BINPERSID", "none", 1),
    ]

    @Test("has exactly the 68 opcodes of pickletools, with its bytes, names, arguments and protocols")
    func matchesPickletools() throws {
        #expect(PickleOpcode.allCases.count == Self.pickletools.count)
        for (byte, name, argument, protocolVersion) in Self.pickletools {
            let opcode = try #require(PickleOpcode(rawValue: byte), "no case for \(name)")
            #expect(opcode.name == name)
            #expect(opcode.argument.pickletoolsName == argument, "\(name)")
            #expect(opcode.protocolVersion == protocolVersion, "\(name)")
        }
    }

    @Test("executes the 34 opcodes of torch's weights-only unpickler and Python 2's four plain-data opcodes")
    func executedSet() {
        let executed = Set(PickleOpcode.allCases.filter(\.isExecutedByUnpickler).map(\.name))
        #expect(
            executed == [
                "PROTO", "STOP", "GLOBAL", "NEWOBJ", "REDUCE", "BUILD", "APPEND", "APPENDS", "SETITEM", "SETITEMS",
                "MARK", "TUPLE", "TUPLE1", "TUPLE2", "TUPLE3", "NONE", "NEWFALSE", "NEWTRUE", "EMPTY_TUPLE",
                "EMPTY_LIST", "EMPTY_DICT", "EMPTY_SET", "BININT", "BININT1", "BININT2", "BINFLOAT", "BINUNICODE",
                "SHORT_BINSTRING", "BINPERSID", "BINGET", "LONG_BINGET", "BINPUT", "LONG_BINPUT", "LONG1",
                "INT", "LONG", "LONG4", "BINSTRING",
            ])
    }

    @Test("describes itself as NAME (0xNN)")
    func description() {
        #expect(PickleOpcode.binaryUnicode.description == "BINUNICODE (0x58)")
        #expect(PickleOpcode.mark.description == "MARK (0x28)")
    }
}
