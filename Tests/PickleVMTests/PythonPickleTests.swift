import PickleVM
import Testing

/// `Fixtures/pickle/python_values.pkl`: `pickle.dumps(PYTHON_VALUES, protocol=2)` from
/// `make_fixtures.py`; the expected tree below spells out the same value.
@Suite("Pickles written by Python's pickle module")
struct PythonPickleTests {
    static func big(_ bytes: [UInt8]) -> PickleValue {
        PickleValue.integer(littleEndianTwosComplement: bytes) ?? .none
    }

    static let sharedList = PickleList([.int(7), .string("shared")])

    static let expected: PickleValue = dict([
        "ints": list(
            .int(0), .int(1), .int(255), .int(256), .int(65535), .int(65536), .int(-1), .int(-129),
            .int(2_147_483_647), .int(-2_147_483_648), .int(2_147_483_648), .int(Int64.max), .int(Int64.min),
            big([0, 0, 0, 0, 0, 0, 0, 0, 1]),  // 2**64
            big([0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFE]),  // -(2**64) - 1
            big([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10])),  // 2**100
        "floats": list(
            .float(0.0), .float(-0.0), .float(1.5), .float(.infinity), .float(-.infinity), .float(.nan),
            .float(.leastNonzeroMagnitude)),
        "strings": list(
            .string(""), .string("ascii"), .string("h\u{e9}llo w\u{f6}rld"), .string("\u{65e5}\u{672c}\u{8a9e}"),
            .string("party \u{1F389}"), .string("e\u{301}")),
        "flags": tuple(.bool(true), .bool(false), .none),
        "nested": dict([
            "a": list(.int(1), list(.int(2), list(.int(3), tuple(.int(4), .int(5))))),
            "t0": tuple(), "t1": tuple(.int(1)), "t4": tuple(.int(1), .int(2), .int(3), .int(4)), "d": dict([:]),
        ]),
        "set": .set(PickleSet([.int(1), .int(2), .int(3)])),
        "empty_set": .set(PickleSet([])),
        "bytes": .bytes([0x00, 0x01, 0x7F, 0x80, 0xFF]),
        "empty_bytes": .bytes([]),
        "int_keys": .dict(
            PickleDict([
                (key: .int(1), value: .string("one")), (key: .int(-5), value: .string("minus five")),
                (key: .int(1 << 40), value: .string("big")),
            ])),
        "tuple_key": .dict(PickleDict([(key: tuple(.int(1), .string("a")), value: .int(1))])),
        "shared": list(.list(sharedList), .list(sharedList)),
        "long_list": .list(PickleList((0..<1500).map { .int($0) })),
        "ordered": .dict(
            PickleDict(
                [(key: .string("x"), value: .int(1)), (key: .string("y"), value: .int(2))],
                className: PickleGlobal(module: "collections", name: "OrderedDict"))),
    ])

    @Test("decodes every kind of value to the expected tree")
    func decodesToExpectedTree() throws {
        let result = try unpickle(try fixture("python_values.pkl"))
        #expect(result.value == Self.expected)
        #expect(result.warnings.isEmpty)
    }

    @Test("big integers, -0.0, NaN and non-ASCII strings come back exactly")
    func exactScalars() throws {
        let value = try unpickle(try fixture("python_values.pkl")).value
        let top = try #require(value.dictValue)
        let ints = try #require(top["ints"]?.listValue?.items)
        #expect(ints[13] == Self.big([0, 0, 0, 0, 0, 0, 0, 0, 1]))
        if case .bigInt(let twoToThe64) = ints[13] { #expect(twoToThe64.description == "18446744073709551616") }
        if case .bigInt(let negative) = ints[14] { #expect(negative.description == "-18446744073709551617") }
        let floats = try #require(top["floats"]?.listValue?.items)
        #expect(floats[1].floatValue?.sign == .minus)
        #expect(floats[5].floatValue?.isNaN == true)
        let strings = try #require(top["strings"]?.listValue?.items)
        // Exact scalars: the decomposed "é" is not the precomposed one.
        #expect(strings[5] != .string("\u{e9}"))
        #expect(strings[5].stringValue?.unicodeScalars.count == 2)
    }

    @Test("a list memoized once and referenced twice is one object")
    func sharingIsIdentity() throws {
        let value = try unpickle(try fixture("python_values.pkl")).value
        let shared = try #require(value.dictValue?["shared"]?.listValue?.items)
        let first = try #require(shared[0].listValue)
        let second = try #require(shared[1].listValue)
        #expect(first === second)
        #expect(ObjectIdentifier(first) == ObjectIdentifier(second))
    }

    @Test("set, bytes and OrderedDict stay inert calls when the policy keeps their globals inert")
    func builtinsNeedAllow() throws {
        let value = try unpickle(
            try fixture("python_values.pkl"),
            policy: { module, name in
                module == "collections" ? .allow : .keepInert
            }
        ).value
        let top = try #require(value.dictValue)
        let set = try #require(top["set"]?.objectValue)
        #expect(set.callable == PickleGlobal(module: "builtins", name: "set", isUnknown: true))
        #expect(set.arguments.items == [list(.int(1), .int(2), .int(3))])
        let bytes = try #require(top["bytes"]?.objectValue)
        #expect(bytes.callable.qualifiedName == "_codecs.encode")
        #expect(bytes.arguments.items == [.string("\u{0}\u{1}\u{7F}\u{80}\u{FF}"), .string("latin1")])
    }

    @Test("Python-2 names are mapped before the policy sees them, and recorded as spelled")
    func python2Names() throws {
        // pickle.dumps(set(), protocol=2) == b'\x80\x02c__builtin__\nset\nq\x00]q\x01\x85q\x02Rq\x03.'
        let bytes: [UInt8] =
            PB.proto2 + PB.global("__builtin__", "set") + PB.put(0) + PB.op(.emptyList) + PB.put(1)
            + PB.op(.tuple1) + PB.put(2) + PB.op(.reduce) + PB.put(3) + PB.stop
        let seen = SeenNames()
        let result = try unpickle(
            bytes,
            policy: { module, name in
                seen.record("\(module).\(name)")
                return .allow
            })
        #expect(seen.names == ["builtins.set"])
        #expect(result.value == .set(PickleSet([])))
        #expect(
            result.globals == [
                PickleGlobalUse(
                    global: PickleGlobal(module: "builtins", name: "set"),
                    spelledInFile: PickleGlobal(module: "__builtin__", name: "set"), verdict: .allow, offset: 2)
            ])
    }

    @Test("the Python-2 mapping table follows torch's")
    func mappingTable() {
        #expect(PickleGlobal.python3Spelling(module: "__builtin__", name: "eval") == ("builtins", "eval"))
        #expect(PickleGlobal.python3Spelling(module: "__builtin__", name: "xrange") == ("builtins", "range"))
        #expect(PickleGlobal.python3Spelling(module: "__builtin__", name: "reduce") == ("functools", "reduce"))
        #expect(
            PickleGlobal.python3Spelling(module: "copy_reg", name: "_reconstructor") == ("copyreg", "_reconstructor"))
        #expect(PickleGlobal.python3Spelling(module: "UserDict", name: "UserDict") == ("collections", "UserDict"))
        #expect(PickleGlobal.python3Spelling(module: "torch", name: "Size") == ("torch", "Size"))
    }

    @Test("Python-2 OrderedDict pickles ([[key, value], …]) become the same dict")
    func python2OrderedDict() throws {
        // Python 2.7's OrderedDict.__reduce__ gives (OrderedDict, ([['a', 1]],)).
        let bytes: [UInt8] =
            PB.proto2 + PB.global("collections", "OrderedDict") + PB.op(.emptyList) + PB.op(.emptyList)
            + PB.unicode("a") + PB.op(.append) + PB.int1(1) + PB.op(.append) + PB.op(.append) + PB.op(.tuple1)
            + PB.op(.reduce) + PB.stop
        let value = try unpickle(bytes).value
        #expect(
            value
                == .dict(
                    PickleDict(
                        [(key: .string("a"), value: .int(1))],
                        className: PickleGlobal(module: "collections", name: "OrderedDict"))))
    }

    @Test("dict keys follow Python equality: True, 1 and 1.0 are one key; the first key object stays")
    func pythonKeyEquality() throws {
        // pickle.dumps({1: 'a', True: 'b', 1.0: 'c'}, protocol=2) gives {1: 'c'}; built by hand here.
        let bytes: [UInt8] =
            PB.proto2 + PB.op(.emptyDict) + PB.op(.mark) + PB.int1(1) + PB.unicode("a")
            + PB.op(.newTrue) + PB.unicode("b") + [PickleOpcode.binaryFloat.rawValue, 0x3F, 0xF0, 0, 0, 0, 0, 0, 0]
            + PB.unicode("c") + PB.op(.setItems) + PB.stop
        let dict = try #require(try unpickle(bytes).value.dictValue)
        #expect(dict.keys == [.int(1)])
        #expect(dict.values == [.string("c")])
        #expect(dict.value(forKey: .bool(true)) == .string("c"))
        #expect(dict.value(forKey: .float(1.0)) == .string("c"))
    }
}

/// Collects names from a `@Sendable` policy closure.
final class SeenNames: @unchecked Sendable {
    private(set) var names: [String] = []
    func record(_ name: String) { names.append(name) }
}
