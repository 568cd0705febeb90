import PickleVM
import Testing

@Suite("Pickle encoder")
struct PickleEncoderTests {
    static let orderedDict = PickleGlobal(module: "collections", name: "OrderedDict")

    /// The sample `Fixtures/pickle/verify_encoder_sample.py` checks against Python and torch.
    static func sample() -> PickleValue {
        let numbers = PickleList([
            .int(0), .int(255), .int(256), .int(65536), .int(-1), .int(1 << 40), .int(Int64.min),
            PickleValue.integer(littleEndianTwosComplement: [0, 0, 0, 0, 0, 0, 0, 0, 1]) ?? .none,
            .float(1.5), .float(-0.0),
        ])
        let entries: [(key: PickleValue, value: PickleValue)] = [
            (.string("name"), .string("w\u{e9}ight")),
            (
                .string("shape"),
                .object(
                    PickleObject(
                        reduce: PickleGlobal(module: "torch", name: "Size"), arguments: [tuple(.int(2), .int(3))]))
            ),
            (.string("dtype"), .global(PickleGlobal(module: "torch", name: "float16"))),
            (.string("numbers"), .list(numbers)),
            (.string("flags"), tuple(.bool(true), .bool(false), .none)),
            (.string("raw"), .bytes([0x00, 0xFF])),
            (.string("empty"), .bytes([])),
            (.string("tags"), .set(PickleSet([.int(3), .int(1), .int(2)]))),
            (.string("nested"), dict(["t": tuple(.int(1), .int(2), .int(3), .int(4)), "e": tuple()])),
            (.string("twice"), list(.list(numbers), .list(numbers))),
        ]
        return .dict(PickleDict(entries, className: Self.orderedDict))
    }

    /// What the encoder writes for ``sample()``. Checked with `python verify_encoder_sample.py
    /// <this hex>`: both `pickle.loads` and `torch._weights_only_unpickler.Unpickler(...).load()`
    /// (torch 2.13) return the expected OrderedDict, with `twice[0] is twice[1]`.
    static let pinnedSampleHex = [
        "800263636f6c6c656374696f6e730a4f726465726564446963740a710029522858040000006e616d65580700000077c3",
        "a9696768745805000000736861706563746f7263680a53697a650a71014b024b03868552580500000064747970656374",
        "6f7263680a666c6f617431360a710258070000006e756d626572735d7103284b004bff4d00014a000001004affffffff",
        "8a060000000000018a0800000000000000808a09000000000000000001473ff800000000000047800000000000000065",
        "5805000000666c61677388894e875803000000726177635f636f646563730a656e636f64650a7104580300000000c3bf",
        "58060000006c6174696e31710586525805000000656d7074796804580000000068058652580400000074616773635f5f",
        "6275696c74696e5f5f0a7365740a71065d284b034b014b0265855258060000006e65737465647d28580100000074284b",
        "014b024b034b04745801000000652975580500000074776963655d286803680365752e",
    ].joined()

    @Test("writes the pinned bytes for the sample value (verified with Python and torch)")
    func pinnedSample() throws {
        let bytes = try PickleEncoder().encode(Self.sample())
        #expect(hexString(bytes) == Self.pinnedSampleHex)
        // And it decodes to the same tree, sharing included.
        let decoded = try unpickle(bytes).value
        #expect(decoded == Self.sample())
        let twice = try #require(decoded.dictValue?["twice"]?.listValue?.items)
        #expect(twice[0].listValue === twice[1].listValue)
    }

    @Test("round-trips every kind of value", arguments: roundTripValues())
    func roundTrip(value: PickleValue) throws {
        let bytes = try PickleEncoder().encode(value)
        #expect(try unpickle(bytes, limits: PickleLimits(maxLongByteCount: 255)).value == value)
    }

    static func roundTripValues() -> [PickleValue] {
        let integers: [Int64] = [
            0, 1, 255, 256, 65535, 65536, -1, -128, -129, 2_147_483_647, -2_147_483_648,
            2_147_483_648, -2_147_483_649, Int64.max, Int64.min,
        ]
        return integers.map { PickleValue.int($0) } + [
            .none, .bool(true), .bool(false), .float(-0.0), .float(.nan), .float(.infinity), .float(3.25),
            .string(""), .string("\u{65e5}\u{672c} \u{1F389} e\u{301}"), .bytes([]), .bytes(Array(0...255)),
            PickleValue.integer(littleEndianTwosComplement: [
                0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19,
            ]) ?? .none,
            PickleValue.integer(littleEndianTwosComplement: Array(repeating: 0x80, count: 255)) ?? .none,
            tuple(), tuple(.int(1)), tuple(.int(1), .int(2)), tuple(.int(1), .int(2), .int(3)),
            tuple(.int(1), .int(2), .int(3), .int(4), .int(5)),
            list(), dict([:]), .set(PickleSet([])), .set(PickleSet([.string("a"), tuple(.int(1), .none)])),
            .global(PickleGlobal(module: "torch", name: "float32")),
            .persistentID(PicklePersistentID(tuple(.string("storage"), .string("0")))),
            .object(
                PickleObject(
                    kind: .newObject, callable: PickleGlobal(module: "m", name: "C"), arguments: PickleTuple([]),
                    state: dict(["x": .int(1)]))),
            .dict(
                PickleDict(
                    [(key: .string("k"), value: .int(1))], className: orderedDict,
                    buildState: dict(["_metadata": dict([:])]))),
            .dict(
                PickleDict([
                    (key: .int(3), value: .none), (key: .bytes([1]), value: .none), (key: .float(0.5), value: .none),
                ])),
        ]
    }

    @Test("lists and dicts go out in batches of at most 1000, as Python's pickler writes them")
    func batches() throws {
        let items = (0..<2001).map { PickleValue.int(Int64($0)) }
        let bytes = try PickleEncoder().encode(.list(PickleList(items)))
        let report = try PickleScanner.scan(bytes)
        #expect(report.opcodeCounts[.appends] == 2)
        #expect(report.opcodeCounts[.append] == 1)
        #expect(report.opcodeCounts[.mark] == 2)
        #expect(try unpickle(bytes).value == .list(PickleList(items)))

        let single = try PickleEncoder().encode(dict(["a": .int(1)]))
        #expect(try PickleScanner.scan(single).opcodeCounts[.setItem] == 1)
    }

    @Test("a global used 10,000 times is written once and fetched with LONG_BINGET/BINGET")
    func globalsAreMemoized() throws {
        let float32 = PickleValue.global(PickleGlobal(module: "torch", name: "float32"))
        let strings = (0..<300).map { PickleValue.string("s\($0)") }
        // Shared strings fill the memo past 255, so later fetches need LONG_BINGET.
        let value = list(
            .list(PickleList(strings + strings)), .list(PickleList(Array(repeating: float32, count: 10_000))))
        let bytes = try PickleEncoder().encode(value)
        let report = try PickleScanner.scan(bytes)
        #expect(report.opcodeCounts[.global] == 1)
        #expect(report.opcodeCounts[.longBinaryGet, default: 0] > 0)
        #expect(report.opcodeCounts[.longBinaryPut, default: 0] > 0)
        #expect(bytes.count < 60_000)
        #expect(try unpickle(bytes).value == value)
    }

    @Test("a 10,000-entry dict encodes and decodes quickly")
    func largeDict() throws {
        let entries = (0..<10_000).map {
            (key: PickleValue.string("layers.\($0).weight"), value: PickleValue.int(Int64($0)))
        }
        let value = PickleValue.dict(PickleDict(entries, className: Self.orderedDict))
        let clock = ContinuousClock()
        var bytes: [UInt8] = []
        let elapsed = try clock.measure { bytes = try PickleEncoder().encode(value) }
        #expect(elapsed < .seconds(1))
        #expect(try unpickle(bytes).value == value)
    }

    @Test("streaming to a sink yields the same bytes as encoding to an array")
    func streaming() throws {
        let value = PickleValue.list(PickleList((0..<5000).map { PickleValue.string("item \($0)") }))
        let whole = try PickleEncoder().encode(value)
        var streamed: [UInt8] = []
        var chunkCount = 0
        try PickleEncoder().encode(value, chunkByteCount: 4096) { chunk in
            streamed.append(contentsOf: chunk)
            chunkCount += 1
        }
        #expect(streamed == whole)
        #expect(chunkCount > 1)
    }

    @Test("a sink error stops encoding and reaches the caller")
    func sinkError() {
        struct Full: Error, Equatable {}
        #expect(throws: Full()) {
            try PickleEncoder().encode(.string("x"), chunkByteCount: 1) { _ in throw Full() }
        }
    }

    @Test("shared nodes are written once; sharing survives the round trip")
    func sharing() throws {
        let shared = PickleTuple([.string("storage"), .int(1)])
        let object = PickleObject(reduce: PickleGlobal(module: "m", name: "f"), arguments: [.tuple(shared)])
        let value = list(.tuple(shared), .tuple(shared), .object(object), .object(object))
        let decoded = try unpickle(try PickleEncoder().encode(value)).value
        #expect(decoded == value)
        let items = try #require(decoded.listValue?.items)
        #expect(items[0].tupleValue === items[1].tupleValue)
        #expect(items[2].objectValue === items[3].objectValue)
        #expect(items[2].objectValue?.arguments.items.first?.tupleValue === items[0].tupleValue)
    }

    @Test("a tree 50,000 levels deep encodes, decodes with a raised limit, compares and frees")
    func deepTree() throws {
        var value = PickleValue.int(0)
        for _ in 0..<50_000 { value = .list(PickleList([value])) }
        let bytes = try PickleEncoder().encode(value)
        let decoded = try unpickle(bytes, limits: PickleLimits(maxNestingDepth: 50_000)).value
        #expect(decoded.depth == 50_000)
        #expect(decoded == value)
    }

    @Test("refuses globals that a GLOBAL line cannot carry")
    func invalidGlobal() {
        #expect(throws: PickleEncodingError.invalidGlobalName(module: "os\nsystem", name: "x")) {
            try PickleEncoder().encode(.global(PickleGlobal(module: "os\nsystem", name: "x")))
        }
        #expect(throws: PickleEncodingError.invalidGlobalName(module: "", name: "x")) {
            try PickleEncoder().encode(.global(PickleGlobal(module: "", name: "x")))
        }
    }
}

func hexString(_ bytes: [UInt8]) -> String {
    let digits = Array("0123456789abcdef")
    var text = ""
    for byte in bytes {
        text.append(digits[Int(byte >> 4)])
        text.append(digits[Int(byte & 0xF)])
    }
    return text
}
