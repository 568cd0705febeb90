import PickleVM
import Testing

/// Objects of unknown classes read as data, the way Python's pickler writes them: dict and list
/// subclasses, objects and classes as dict keys, and objects whose state refers back to them.
/// Each pickle is built by hand.
@Suite("Inert objects")
struct InertObjectTests {
    static func decode(_ bytes: [UInt8], limits: PickleLimits = PickleLimits()) throws(PickleError) -> UnpickleResult {
        try unpickle(bytes, policy: TestPolicy.keepInert, limits: limits)
    }

    /// `module.name()` by NEWOBJ.
    static func new(_ module: String, _ name: String) -> [UInt8] {
        PB.global(module, name) + PB.op(.emptyTuple) + PB.op(.newObject)
    }

    @Test("SETITEMS onto a dict subclass of an unknown class fills its dict items")
    func dictSubclass() throws {
        // collections.defaultdict(int) with {'a': 3, 'b': 1}, as Python writes it.
        let bytes = PB.proto2 + PB.global("collections", "defaultdict") + PB.global("builtins", "int") + PB.op(.tuple1)
            + PB.op(.reduce) + PB.op(.mark) + PB.unicode("a") + PB.int1(3) + PB.unicode("b") + PB.int1(1) + PB.op(.setItems)
            + PB.stop
        let object = try #require(try Self.decode(bytes).value.objectValue)
        #expect(object.callable.qualifiedName == "collections.defaultdict")
        #expect(object.dictItems?.entries.map(\.key) == [.string("a"), .string("b")])
        #expect(object.dictItems?.values == [.int(3), .int(1)])
        #expect(object.listItems == nil && object.state == nil)
    }

    @Test("APPENDS onto a list subclass of an unknown class fills its list items")
    func listSubclass() throws {
        let bytes = PB.proto2 + PB.global("collections", "deque") + PB.op(.emptyTuple) + PB.op(.reduce) + PB.op(.mark)
            + PB.int1(1) + PB.int1(2) + PB.op(.appends) + PB.int1(3) + PB.op(.append) + PB.stop
        let object = try #require(try Self.decode(bytes).value.objectValue)
        #expect(object.listItems?.items == [.int(1), .int(2), .int(3)])
    }

    @Test("a known callable's result still takes no items")
    func knownCallableRefusesItems() {
        let prefix = PB.proto2 + PB.global("torch._utils", "_rebuild_tensor_v2") + PB.op(.emptyTuple) + PB.op(.reduce)
            + PB.unicode("k") + PB.int1(1)
        #expect(throws: PickleError.wrongOperand(opcode: .setItem, operand: .setItemTarget, found: .object, at: prefix.count)) {
            try unpickle(prefix + PB.op(.setItem) + PB.stop, policy: TestPolicy.allowAll)
        }
    }

    @Test("objects of unknown classes are dict keys by identity; globals by name")
    func objectKeys() throws {
        // {Tag(): 1, <the same Tag>: 2, Tag(): 3, int: 4, int: 5}
        let bytes = PB.proto2 + PB.op(.emptyDict) + PB.op(.mark)
            + Self.new("m", "Tag") + PB.put(0) + PB.int1(1) + PB.get(0) + PB.int1(2) + Self.new("m", "Tag") + PB.int1(3)
            + PB.global("builtins", "int") + PB.int1(4) + PB.global("builtins", "int") + PB.int1(5)
            + PB.op(.setItems) + PB.stop
        let dict = try #require(try Self.decode(bytes).value.dictValue)
        #expect(dict.values == [.int(2), .int(3), .int(5)])
        #expect(dict.keys.map(\.kind) == [.object, .object, .global])
    }

    @Test("an object whose state refers back to it: BUILD gives it a new node, earlier references keep the bare object")
    func parentLink() throws {
        // parent = P(); child = C(); child.__setstate__({'_parent': parent}); parent.__setstate__({'child': child})
        // The result is (parent, memo[0]): both must be the built parent.
        let bytes = PB.proto2 + Self.new("m", "P") + PB.put(0) + PB.op(.emptyDict) + PB.unicode("child")
            + Self.new("m", "C") + PB.op(.emptyDict) + PB.unicode("_parent") + PB.get(0) + PB.op(.setItem) + PB.op(.build)
            + PB.op(.setItem) + PB.op(.build) + PB.get(0) + PB.op(.tuple2) + PB.stop
        let pair = try #require(try Self.decode(bytes).value.tupleValue?.items)
        let parent = try #require(pair.first?.objectValue)
        #expect(pair.last?.objectValue === parent, "the memo holds the built parent")
        let child = try #require(parent.state?.dictValue?["child"]?.objectValue)
        let link = try #require(child.state?.dictValue?["_parent"]?.objectValue)
        #expect(link.callable.qualifiedName == "m.P" && link.state == nil)
        #expect(link !== parent)
    }

    @Test("a dict subclass stored into itself keeps the earlier, empty self")
    func selfInsertion() throws {
        let bytes = PB.proto2 + PB.global("m", "D") + PB.op(.emptyTuple) + PB.op(.reduce) + PB.put(0)
            + PB.unicode("me") + PB.get(0) + PB.op(.setItem) + PB.stop
        let object = try #require(try Self.decode(bytes).value.objectValue)
        let inner = try #require(object.dictItems?["me"]?.objectValue)
        #expect(inner.dictItems == nil && inner !== object)
    }

    @Test("copying a referenced object counts its items against the object budget")
    func thawBudget() {
        // l = []; d = D(); d[0..9] = …; l.append(d); then d['x'] = 1 copies the object and its 10
        // entries: 21 values on top of the 26 made before.
        var bytes = PB.proto2 + PB.op(.emptyList) + PB.global("m", "D") + PB.op(.emptyTuple) + PB.op(.reduce) + PB.put(0)
            + PB.op(.mark)
        for i in 0..<10 { bytes += PB.int1(UInt8(i)) + PB.int1(UInt8(i)) }
        bytes += PB.op(.setItems) + PB.op(.append) + PB.get(0) + PB.unicode("x") + PB.int1(1)
        let prefix = bytes
        var limits = PickleLimits()
        limits.maxObjectCount = 40
        #expect(throws: PickleError.limitExceeded(.objectCount, limit: 40, found: 47, at: prefix.count)) {
            try Self.decode(prefix + PB.op(.setItem) + PB.stop, limits: limits)
        }
    }

    @Test("an object's list and dict items survive an encode and decode")
    func encoderRoundTrip() throws {
        let bytes = PB.proto2 + PB.global("collections", "defaultdict") + PB.global("builtins", "list") + PB.op(.tuple1)
            + PB.op(.reduce) + PB.unicode("k") + PB.int1(7) + PB.op(.setItem) + PB.op(.emptyDict) + PB.op(.build) + PB.stop
        let value = try Self.decode(bytes).value
        let again = try Self.decode(try PickleEncoder().encode(value)).value
        #expect(again == value)
        #expect(again.objectValue?.dictItems?["k"] == .int(7))
    }
}
