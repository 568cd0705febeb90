// The pickle instruction set of protocols 0–5.
//
// Spec: CPython `Lib/pickletools.py` (the `opcodes` table gives each opcode's byte, name, argument
// and protocol). Raw values, names and argument kinds here are pinned to it by `PickleOpcodeTests`.

/// One pickle opcode: the byte that starts an instruction.
///
/// Decoding a byte is the compiler-generated `init(rawValue:)`; every other fact about an opcode
/// (its pickletools name, the argument that follows it, the protocol that introduced it) comes
/// from the one `switch` in ``facts``.
public enum PickleOpcode: UInt8, CaseIterable, Sendable, Hashable, CustomStringConvertible {
    /// Pickle opcode `INT` (0x49, `I`, protocol 0): decimal integer text line; `01`/`00` mean True/False.
    case int = 0x49
    /// Pickle opcode `BININT` (0x4A, `J`, protocol 1): signed 32-bit little-endian integer.
    case binaryInt = 0x4A
    /// Pickle opcode `BININT1` (0x4B, `K`, protocol 1): unsigned 8-bit integer.
    case binaryInt1 = 0x4B
    /// Pickle opcode `BININT2` (0x4D, `M`, protocol 1): unsigned 16-bit little-endian integer.
    case binaryInt2 = 0x4D
    /// Pickle opcode `LONG` (0x4C, `L`, protocol 0): decimal integer text line with an `L` suffix.
    case long = 0x4C
    /// Pickle opcode `LONG1` (0x8A, `\x8a`, protocol 2): two's-complement little-endian integer, 1-byte length.
    case long1 = 0x8A
    /// Pickle opcode `LONG4` (0x8B, `\x8b`, protocol 2): two's-complement little-endian integer, 4-byte length.
    case long4 = 0x8B
    /// Pickle opcode `STRING` (0x53, `S`, protocol 0): quoted, escaped byte string on a text line.
    case string = 0x53
    /// Pickle opcode `BINSTRING` (0x54, `T`, protocol 1): byte string with a signed 32-bit length.
    case binaryString = 0x54
    /// Pickle opcode `SHORT_BINSTRING` (0x55, `U`, protocol 1): byte string with a 1-byte length.
    case shortBinaryString = 0x55
    /// Pickle opcode `BINBYTES` (0x42, `B`, protocol 3): `bytes` with a 32-bit length.
    case binaryBytes = 0x42
    /// Pickle opcode `SHORT_BINBYTES` (0x43, `C`, protocol 3): `bytes` with a 1-byte length.
    case shortBinaryBytes = 0x43
    /// Pickle opcode `BINBYTES8` (0x8E, `\x8e`, protocol 4): `bytes` with a 64-bit length.
    case binaryBytes8 = 0x8E
    /// Pickle opcode `BYTEARRAY8` (0x96, `\x96`, protocol 5): `bytearray` with a 64-bit length.
    case byteArray8 = 0x96
    /// Pickle opcode `NEXT_BUFFER` (0x97, `\x97`, protocol 5): next out-of-band buffer.
    case nextBuffer = 0x97
    /// Pickle opcode `READONLY_BUFFER` (0x98, `\x98`, protocol 5): makes the buffer on top of the stack read-only.
    case readOnlyBuffer = 0x98
    /// Pickle opcode `NONE` (0x4E, `N`, protocol 0): pushes `None`.
    case none = 0x4E
    /// Pickle opcode `NEWTRUE` (0x88, `\x88`, protocol 2): pushes `True`.
    case newTrue = 0x88
    /// Pickle opcode `NEWFALSE` (0x89, `\x89`, protocol 2): pushes `False`.
    case newFalse = 0x89
    /// Pickle opcode `UNICODE` (0x56, `V`, protocol 0): raw-unicode-escaped text line.
    case unicode = 0x56
    /// Pickle opcode `SHORT_BINUNICODE` (0x8C, `\x8c`, protocol 4): UTF-8 string with a 1-byte length.
    case shortBinaryUnicode = 0x8C
    /// Pickle opcode `BINUNICODE` (0x58, `X`, protocol 1): UTF-8 string with a 32-bit little-endian length.
    case binaryUnicode = 0x58
    /// Pickle opcode `BINUNICODE8` (0x8D, `\x8d`, protocol 4): UTF-8 string with a 64-bit length.
    case binaryUnicode8 = 0x8D
    /// Pickle opcode `FLOAT` (0x46, `F`, protocol 0): float as repr text line.
    case float = 0x46
    /// Pickle opcode `BINFLOAT` (0x47, `G`, protocol 1): big-endian IEEE 754 double.
    case binaryFloat = 0x47
    /// Pickle opcode `EMPTY_LIST` (0x5D, `]`, protocol 1): pushes a new empty list.
    case emptyList = 0x5D
    /// Pickle opcode `APPEND` (0x61, `a`, protocol 0): pops an item and appends it to the list below.
    case append = 0x61
    /// Pickle opcode `APPENDS` (0x65, `e`, protocol 1): appends every item above the last MARK to the list below it.
    case appends = 0x65
    /// Pickle opcode `LIST` (0x6C, `l`, protocol 0): makes a list of the items above the last MARK.
    case list = 0x6C
    /// Pickle opcode `EMPTY_TUPLE` (0x29, `)`, protocol 1): pushes the empty tuple.
    case emptyTuple = 0x29
    /// Pickle opcode `TUPLE` (0x74, `t`, protocol 0): makes a tuple of the items above the last MARK.
    case tuple = 0x74
    /// Pickle opcode `TUPLE1` (0x85, `\x85`, protocol 2): makes a 1-tuple of the top item.
    case tuple1 = 0x85
    /// Pickle opcode `TUPLE2` (0x86, `\x86`, protocol 2): makes a 2-tuple of the top two items.
    case tuple2 = 0x86
    /// Pickle opcode `TUPLE3` (0x87, `\x87`, protocol 2): makes a 3-tuple of the top three items.
    case tuple3 = 0x87
    /// Pickle opcode `EMPTY_DICT` (0x7D, `}`, protocol 1): pushes a new empty dict.
    case emptyDict = 0x7D
    /// Pickle opcode `DICT` (0x64, `d`, protocol 0): makes a dict of the key-value pairs above the last MARK.
    case dict = 0x64
    /// Pickle opcode `SETITEM` (0x73, `s`, protocol 0): pops a key and value and stores them into the dict below.
    case setItem = 0x73
    /// Pickle opcode `SETITEMS` (0x75, `u`, protocol 1): stores the key-value pairs above the last MARK into the dict below it.
    case setItems = 0x75
    /// Pickle opcode `EMPTY_SET` (0x8F, `\x8f`, protocol 4): pushes a new empty set.
    case emptySet = 0x8F
    /// Pickle opcode `ADDITEMS` (0x90, `\x90`, protocol 4): adds the items above the last MARK to the set below it.
    case addItems = 0x90
    /// Pickle opcode `FROZENSET` (0x91, `\x91`, protocol 4): makes a frozenset of the items above the last MARK.
    case frozenSet = 0x91
    /// Pickle opcode `POP` (0x30, `0`, protocol 0): discards the top item.
    case pop = 0x30
    /// Pickle opcode `DUP` (0x32, `2`, protocol 0): pushes the top item again.
    case dup = 0x32
    /// Pickle opcode `MARK` (0x28, `(`, protocol 0): pushes a mark (starts a new stack frame).
    case mark = 0x28
    /// Pickle opcode `POP_MARK` (0x31, `1`, protocol 1): discards everything above the last MARK.
    case popMark = 0x31
    /// Pickle opcode `GET` (0x67, `g`, protocol 0): pushes a memo entry; decimal index on a text line.
    case get = 0x67
    /// Pickle opcode `BINGET` (0x68, `h`, protocol 1): pushes a memo entry; 1-byte index.
    case binaryGet = 0x68
    /// Pickle opcode `LONG_BINGET` (0x6A, `j`, protocol 1): pushes a memo entry; 32-bit index.
    case longBinaryGet = 0x6A
    /// Pickle opcode `PUT` (0x70, `p`, protocol 0): stores the top item in the memo; decimal index on a text line.
    case put = 0x70
    /// Pickle opcode `BINPUT` (0x71, `q`, protocol 1): stores the top item in the memo; 1-byte index.
    case binaryPut = 0x71
    /// Pickle opcode `LONG_BINPUT` (0x72, `r`, protocol 1): stores the top item in the memo; 32-bit index.
    case longBinaryPut = 0x72
    /// Pickle opcode `MEMOIZE` (0x94, `\x94`, protocol 4): stores the top item at the next memo index.
    case memoize = 0x94
    /// Pickle opcode `EXT1` (0x82, `\x82`, protocol 2): pushes an object from the copyreg extension registry; 1-byte code.
    case extension1 = 0x82
    /// Pickle opcode `EXT2` (0x83, `\x83`, protocol 2): pushes an object from the copyreg extension registry; 2-byte code.
    case extension2 = 0x83
    /// Pickle opcode `EXT4` (0x84, `\x84`, protocol 2): pushes an object from the copyreg extension registry; 4-byte code.
    case extension4 = 0x84
    /// Pickle opcode `GLOBAL` (0x63, `c`, protocol 0): pushes `module.name`, given as two text lines.
    case global = 0x63
    /// Pickle opcode `STACK_GLOBAL` (0x93, `\x93`, protocol 4): pushes `module.name`, both popped from the stack.
    case stackGlobal = 0x93
    /// Pickle opcode `REDUCE` (0x52, `R`, protocol 0): calls the callable below with the argument tuple on top.
    case reduce = 0x52
    /// Pickle opcode `BUILD` (0x62, `b`, protocol 0): applies the state on top to the object below (`__setstate__` or dict update).
    case build = 0x62
    /// Pickle opcode `INST` (0x69, `i`, protocol 0): calls `module.name` (text lines) with the items above the last MARK.
    case instance = 0x69
    /// Pickle opcode `OBJ` (0x6F, `o`, protocol 1): calls the class after the last MARK with the items above it.
    case object = 0x6F
    /// Pickle opcode `NEWOBJ` (0x81, `\x81`, protocol 2): `cls.__new__(cls, *args)` with the class and argument tuple on top.
    case newObject = 0x81
    /// Pickle opcode `NEWOBJ_EX` (0x92, `\x92`, protocol 4): `cls.__new__(cls, *args, **kwargs)`.
    case newObjectEx = 0x92
    /// Pickle opcode `PROTO` (0x80, `\x80`, protocol 2): declares the protocol version (1-byte argument).
    case proto = 0x80
    /// Pickle opcode `STOP` (0x2E, `.`, protocol 0): ends the pickle; the top item is the result.
    case stop = 0x2E
    /// Pickle opcode `FRAME` (0x95, `\x95`, protocol 4): announces a frame of the given 64-bit length.
    case frame = 0x95
    /// Pickle opcode `PERSID` (0x50, `P`, protocol 0): persistent id given as a text line.
    case persistentID = 0x50
    /// Pickle opcode `BINPERSID` (0x51, `Q`, protocol 1): persistent id taken from the top of the stack.
    case binaryPersistentID = 0x51
    /// The pickletools spelling, e.g. `BINUNICODE`.
    public var name: String { facts.name }

    /// The kind of inline argument that follows the opcode byte.
    public var argument: PickleArgumentKind { facts.argument }

    /// The pickle protocol that introduced the opcode.
    public var protocolVersion: Int { facts.protocolVersion }

    /// `NAME (0xNN)`, as used in error messages.
    public var description: String {
        let hex = String(rawValue, radix: 16, uppercase: true)
        return "\(name) (0x\(hex.count == 1 ? "0" + hex : hex))"
    }

    /// Whether ``Unpickler`` executes this opcode: the 34 opcodes PyTorch's weights-only
    /// unpickler implements, plus the four plain-data opcodes Python 2's pickler writes at
    /// protocol 2 (`INT`, `LONG`, `LONG4`, `BINSTRING`), which build numbers and strings only.
    /// Every other opcode is refused with its name and offset.
    public var isExecutedByUnpickler: Bool {
        switch self {
        case .proto, .stop, .global, .newObject, .reduce, .build, .append, .appends, .setItem, .setItems,
            .mark, .tuple, .tuple1, .tuple2, .tuple3, .none, .newFalse, .newTrue, .emptyTuple, .emptyList,
            .emptyDict, .emptySet, .binaryInt, .binaryInt1, .binaryInt2, .binaryFloat, .binaryUnicode,
            .shortBinaryString, .binaryPersistentID, .binaryGet, .longBinaryGet, .binaryPut, .longBinaryPut,
            .long1, .int, .long, .long4, .binaryString:
            return true
        default:
            return false
        }
    }

    /// What the opcode does, for grouping in scan reports.
    public var category: PickleOpcodeCategory {
        switch self {
        case .global, .stackGlobal: return .importName
        case .reduce, .build, .instance, .object, .newObject, .newObjectEx: return .call
        case .extension1, .extension2, .extension4: return .extensionRegistry
        case .persistentID, .binaryPersistentID: return .persistentID
        case .get, .binaryGet, .longBinaryGet, .put, .binaryPut, .longBinaryPut, .memoize: return .memo
        case .proto, .stop, .frame: return .framing
        case .mark, .pop, .dup, .popMark: return .stack
        case .nextBuffer, .readOnlyBuffer: return .outOfBandBuffer
        case .emptyList, .append, .appends, .list, .emptyTuple, .tuple, .tuple1, .tuple2, .tuple3, .emptyDict,
            .dict, .setItem, .setItems, .emptySet, .addItems, .frozenSet:
            return .container
        default: return .scalar
        }
    }

    // The single opcode table: (pickletools name, argument kind, protocol).
    private var facts: (name: String, argument: PickleArgumentKind, protocolVersion: Int) {
        switch self {
        case .int: ("INT", .decimalLineShort, 0)
        case .binaryInt: ("BININT", .int4, 1)
        case .binaryInt1: ("BININT1", .uint1, 1)
        case .binaryInt2: ("BININT2", .uint2, 1)
        case .long: ("LONG", .decimalLineLong, 0)
        case .long1: ("LONG1", .long1, 2)
        case .long4: ("LONG4", .long4, 2)
        case .string: ("STRING", .stringLine, 0)
        case .binaryString: ("BINSTRING", .string4, 1)
        case .shortBinaryString: ("SHORT_BINSTRING", .string1, 1)
        case .binaryBytes: ("BINBYTES", .bytes4, 3)
        case .shortBinaryBytes: ("SHORT_BINBYTES", .bytes1, 3)
        case .binaryBytes8: ("BINBYTES8", .bytes8, 4)
        case .byteArray8: ("BYTEARRAY8", .byteArray8, 5)
        case .nextBuffer: ("NEXT_BUFFER", .none, 5)
        case .readOnlyBuffer: ("READONLY_BUFFER", .none, 5)
        case .none: ("NONE", .none, 0)
        case .newTrue: ("NEWTRUE", .none, 2)
        case .newFalse: ("NEWFALSE", .none, 2)
        case .unicode: ("UNICODE", .unicodeStringLine, 0)
        case .shortBinaryUnicode: ("SHORT_BINUNICODE", .unicodeString1, 4)
        case .binaryUnicode: ("BINUNICODE", .unicodeString4, 1)
        case .binaryUnicode8: ("BINUNICODE8", .unicodeString8, 4)
        case .float: ("FLOAT", .floatLine, 0)
        case .binaryFloat: ("BINFLOAT", .float8, 1)
        case .emptyList: ("EMPTY_LIST", .none, 1)
        case .append: ("APPEND", .none, 0)
        case .appends: ("APPENDS", .none, 1)
        case .list: ("LIST", .none, 0)
        case .emptyTuple: ("EMPTY_TUPLE", .none, 1)
        case .tuple: ("TUPLE", .none, 0)
        case .tuple1: ("TUPLE1", .none, 2)
        case .tuple2: ("TUPLE2", .none, 2)
        case .tuple3: ("TUPLE3", .none, 2)
        case .emptyDict: ("EMPTY_DICT", .none, 1)
        case .dict: ("DICT", .none, 0)
        case .setItem: ("SETITEM", .none, 0)
        case .setItems: ("SETITEMS", .none, 1)
        case .emptySet: ("EMPTY_SET", .none, 4)
        case .addItems: ("ADDITEMS", .none, 4)
        case .frozenSet: ("FROZENSET", .none, 4)
        case .pop: ("POP", .none, 0)
        case .dup: ("DUP", .none, 0)
        case .mark: ("MARK", .none, 0)
        case .popMark: ("POP_MARK", .none, 1)
        case .get: ("GET", .decimalLineShort, 0)
        case .binaryGet: ("BINGET", .uint1, 1)
        case .longBinaryGet: ("LONG_BINGET", .uint4, 1)
        case .put: ("PUT", .decimalLineShort, 0)
        case .binaryPut: ("BINPUT", .uint1, 1)
        case .longBinaryPut: ("LONG_BINPUT", .uint4, 1)
        case .memoize: ("MEMOIZE", .none, 4)
        case .extension1: ("EXT1", .uint1, 2)
        case .extension2: ("EXT2", .uint2, 2)
        case .extension4: ("EXT4", .int4, 2)
        case .global: ("GLOBAL", .stringLineNoEscapePair, 0)
        case .stackGlobal: ("STACK_GLOBAL", .none, 4)
        case .reduce: ("REDUCE", .none, 0)
        case .build: ("BUILD", .none, 0)
        case .instance: ("INST", .stringLineNoEscapePair, 0)
        case .object: ("OBJ", .none, 1)
        case .newObject: ("NEWOBJ", .none, 2)
        case .newObjectEx: ("NEWOBJ_EX", .none, 4)
        case .proto: ("PROTO", .uint1, 2)
        case .stop: ("STOP", .none, 0)
        case .frame: ("FRAME", .uint8, 4)
        case .persistentID: ("PERSID", .stringLineNoEscape, 0)
        case .binaryPersistentID: ("BINPERSID", .none, 1)
        }
    }
}

/// What an opcode does, coarsely; used to summarise which kinds of instructions a pickle uses.
public enum PickleOpcodeCategory: String, CaseIterable, Sendable, Hashable {
    /// Pushes a scalar: int, float, string, bytes, bool, None.
    case scalar
    /// Builds or fills a list, tuple, dict or set.
    case container
    /// Reads or writes the memo.
    case memo
    /// Names a module attribute (`GLOBAL`, `STACK_GLOBAL`).
    case importName
    /// Calls or instantiates something (`REDUCE`, `BUILD`, `INST`, `OBJ`, `NEWOBJ`, `NEWOBJ_EX`).
    case call
    /// Looks a callable up in the copyreg extension registry (`EXT1/2/4`).
    case extensionRegistry
    /// Hands a persistent id to the loader (`PERSID`, `BINPERSID`).
    case persistentID
    /// Protocol header, framing and `STOP`.
    case framing
    /// Stack manipulation: `MARK`, `POP`, `DUP`, `POP_MARK`.
    case stack
    /// Out-of-band buffers (protocol 5).
    case outOfBandBuffer
}

/// The kind of inline argument an opcode reads after its byte (pickletools' `ArgumentDescriptor`).
public enum PickleArgumentKind: String, CaseIterable, Sendable, Hashable {
    /// No argument.
    case none
    /// One unsigned byte.
    case uint1
    /// Two-byte little-endian unsigned integer.
    case uint2
    /// Four-byte little-endian signed integer.
    case int4
    /// Four-byte little-endian unsigned integer.
    case uint4
    /// Eight-byte little-endian unsigned integer.
    case uint8
    /// One-byte length, then that many bytes of a two's-complement little-endian integer.
    case long1
    /// Four-byte signed length, then a two's-complement little-endian integer.
    case long4
    /// One-byte length, then a byte string.
    case string1
    /// Four-byte signed length, then a byte string.
    case string4
    /// One-byte length, then bytes.
    case bytes1
    /// Four-byte unsigned length, then bytes.
    case bytes4
    /// Eight-byte unsigned length, then bytes.
    case bytes8
    /// Eight-byte unsigned length, then bytearray bytes.
    case byteArray8
    /// One-byte length, then UTF-8.
    case unicodeString1
    /// Four-byte unsigned length, then UTF-8.
    case unicodeString4
    /// Eight-byte unsigned length, then UTF-8.
    case unicodeString8
    /// Eight-byte big-endian IEEE 754 double.
    case float8
    /// A decimal integer on a `\n`-terminated line.
    case decimalLineShort
    /// A decimal integer with optional `L` on a `\n`-terminated line.
    case decimalLineLong
    /// A quoted, escaped string on a `\n`-terminated line.
    case stringLine
    /// An unescaped string on a `\n`-terminated line.
    case stringLineNoEscape
    /// Two unescaped `\n`-terminated lines (module, then name).
    case stringLineNoEscapePair
    /// A raw-unicode-escaped string on a `\n`-terminated line.
    case unicodeStringLine
    /// A float in `repr` form on a `\n`-terminated line.
    case floatLine

    /// The pickletools spelling (`uint1`, `decimalnl_short`, `stringnl_noescape_pair`, …).
    public var pickletoolsName: String {
        switch self {
        case .none: return "none"
        case .uint1, .uint2, .int4, .uint4, .uint8, .long1, .long4, .string1, .string4, .bytes1, .bytes4,
            .bytes8, .float8:
            return rawValue
        case .byteArray8: return "bytearray8"
        case .unicodeString1: return "unicodestring1"
        case .unicodeString4: return "unicodestring4"
        case .unicodeString8: return "unicodestring8"
        case .decimalLineShort: return "decimalnl_short"
        case .decimalLineLong: return "decimalnl_long"
        case .stringLine: return "stringnl"
        case .stringLineNoEscape: return "stringnl_noescape"
        case .stringLineNoEscapePair: return "stringnl_noescape_pair"
        case .unicodeStringLine: return "unicodestringnl"
        case .floatLine: return "floatnl"
        }
    }
}
