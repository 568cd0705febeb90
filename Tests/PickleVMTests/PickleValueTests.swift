import Foundation
import PickleVM
import Testing

@Suite("Pickle value tree")
struct PickleValueTests {
    /// Runs `body` on a thread with a 256 KiB stack and waits for it: anything that recursed once
    /// per tree level (a few frames of 100+ bytes each) would overflow it within a few thousand
    /// levels.
    static func onSmallStack(_ body: @escaping @Sendable () -> Void) {
        let done = DispatchSemaphore(value: 0)
        let thread = Thread {
            body()
            done.signal()
        }
        thread.stackSize = 256 << 10
        thread.start()
        done.wait()
    }

    /// A chain `depth` levels deep, alternating every node kind.
    static func mixedChain(depth: Int) -> PickleValue {
        var value = PickleValue.string("leaf")
        let callable = PickleGlobal(module: "m", name: "f")
        for level in 0..<depth {
            switch level % 6 {
            case 0: value = .list(PickleList([value]))
            case 1: value = .tuple(PickleTuple([value, .int(Int64(level))]))
            case 2: value = .dict(PickleDict([(key: .int(Int64(level)), value: value)]))
            case 3: value = .object(PickleObject(reduce: callable, arguments: [value]))
            case 4: value = .persistentID(PicklePersistentID(value))
            default: value = .dict(PickleDict([], buildState: value))
            }
        }
        return value
    }

    @Test("a 50,000-level chain of every node kind is compared and freed on a 256 KiB stack")
    func iterativeTeardown() {
        let outcome = Outcome()
        Self.onSmallStack {
            var first: PickleValue? = Self.mixedChain(depth: 50_000)
            var second: PickleValue? = Self.mixedChain(depth: 50_000)
            outcome.depth = first?.depth ?? 0
            outcome.equal = first == second
            first = nil
            second = nil
            outcome.freed = true
        }
        // Objects add a level for their argument tuple.
        #expect(outcome.depth > 50_000)
        #expect(outcome.equal)
        #expect(outcome.freed)
    }

    /// Results handed back from the small-stack thread (written before the semaphore signals).
    final class Outcome: @unchecked Sendable {
        var depth = 0
        var equal = false
        var freed = false
    }

    @Test("freeing a shared subtree leaves the other owner intact")
    func sharedTeardown() {
        let shared = PickleList([.string("kept")])
        var outer: PickleValue? = .list(PickleList([.list(shared), .list(shared)]))
        outer = nil
        #expect(outer == nil)
        #expect(shared.items == [.string("kept")])
    }

    @Test("equality compares floats by bits, strings by scalars, and shared pairs once")
    func equality() {
        #expect(PickleValue.float(.nan) == .float(.nan))
        #expect(PickleValue.float(-0.0) != .float(0.0))
        #expect(PickleValue.string("\u{e9}") != .string("e\u{301}"))
        #expect(PickleValue.int(1) != .bool(true))
        let orderedDict = PickleGlobal(module: "collections", name: "OrderedDict")
        #expect(PickleValue.dict(PickleDict([])) != .dict(PickleDict([], className: orderedDict)))
        #expect(
            PickleValue.global(orderedDict)
                != .global(PickleGlobal(module: "collections", name: "OrderedDict", isUnknown: true)))

        // 2^60 paths through 60 levels of pairs, compared in linear time.
        var left = PickleValue.int(1)
        var right = PickleValue.int(1)
        for _ in 0..<60 {
            left = .tuple(PickleTuple([left, left]))
            right = .tuple(PickleTuple([right, right]))
        }
        #expect(left == right)
    }

    @Test("big integers keep minimal two's-complement bytes and print in decimal")
    func bigIntegers() throws {
        #expect(PickleValue.integer(littleEndianTwosComplement: []) == .int(0))
        #expect(PickleValue.integer(littleEndianTwosComplement: [0xFF]) == .int(-1))
        #expect(PickleValue.integer(littleEndianTwosComplement: [0x80, 0x00]) == .int(128))
        // Non-minimal encodings of small values still become .int.
        #expect(PickleValue.integer(littleEndianTwosComplement: [0x05] + Array(repeating: 0, count: 20)) == .int(5))
        #expect(PickleValue.integer(littleEndianTwosComplement: Array(repeating: 0xFF, count: 20)) == .int(-1))
        #expect(PickleValue.integer(littleEndianTwosComplement: [0, 0, 0, 0, 0, 0, 0, 0x80]) == .int(Int64.min))
        #expect(PickleValue.integer(littleEndianTwosComplement: Array(repeating: 1, count: 256)) == nil)

        let twoTo64 = try #require(PickleBigInt(littleEndianTwosComplement: [0, 0, 0, 0, 0, 0, 0, 0, 1, 0]))
        #expect(twoTo64.littleEndianBytes == [0, 0, 0, 0, 0, 0, 0, 0, 1])
        #expect(twoTo64.description == "18446744073709551616")
        #expect(!twoTo64.isNegative)
        let minusTwoTo64 = try #require(PickleBigInt(littleEndianTwosComplement: [0, 0, 0, 0, 0, 0, 0, 0, 0xFF]))
        #expect(minusTwoTo64.description == "-18446744073709551616")
        #expect(PickleBigInt(littleEndianTwosComplement: [1, 2, 3]) == nil)
        let fromDouble = try #require(PickleBigInt(exactly: 0x1p70))
        #expect(fromDouble.description == "1180591620717411303424")
        #expect(PickleBigInt(exactly: -0x1p63) == nil)  // fits Int64
        #expect(PickleBigInt(exactly: -0x1p64)?.description == "-18446744073709551616")
    }

    @Test("dict keys use Python equality and keep the first key; the value is replaced in place")
    func dictKeys() {
        let dict = PickleDict([
            (key: .int(1), value: .string("a")), (key: .string("x"), value: .none),
            (key: .float(1.0), value: .string("b")),
            (key: .float(-0.0), value: .string("zero")),
            (
                key: PickleValue.integer(littleEndianTwosComplement: [0, 0, 0, 0, 0, 0, 0, 0, 0x40]) ?? .none,
                value: .string("2^70")
            ),
        ])
        #expect(
            dict.keys == [
                .int(1), .string("x"), .float(-0.0),
                PickleValue.integer(littleEndianTwosComplement: [0, 0, 0, 0, 0, 0, 0, 0, 0x40]) ?? .none,
            ])
        #expect(dict.value(forKey: .bool(true)) == .string("b"))
        #expect(dict.value(forKey: .int(0)) == .string("zero"))
        #expect(dict.value(forKey: .float(0x1p70)) == .string("2^70"))
        #expect(dict["x"] == PickleValue.none)
        #expect(dict["e\u{301}"] == nil)
        #expect(PickleDict.isHashableKey(tuple(.int(1), tuple(.string("a"), .bytes([1])))))
        #expect(!PickleDict.isHashableKey(tuple(.int(1), list())))
        #expect(!PickleDict.isHashableKey(.float(.nan)))
        // A global is one object in Python (a class, a dtype): hashable by its name.
        #expect(PickleDict.isHashableKey(.global(PickleGlobal(module: "torch", name: "float32"))))
        // An object of an unknown class hashes by identity; a known callable's result does not hash.
        let unknown = PickleObject(reduce: PickleGlobal(module: "enum", name: "E", isUnknown: true), arguments: [.int(1)])
        #expect(PickleDict.isHashableKey(.object(unknown)))
        #expect(!PickleDict.isHashableKey(.object(PickleObject(reduce: PickleGlobal(module: "torch", name: "device"), arguments: []))))
        let byIdentity = PickleDict([(.object(unknown), .int(1)), (.object(unknown), .int(2))])
        #expect(byIdentity.count == 1 && byIdentity.values == [.int(2)])
    }

    @Test("error messages are one line: location, fault, expected vs found")
    func errorMessages() {
        #expect(
            PickleError.unsupportedGlobal(module: "os", name: "system", at: 211).description
                == "at byte 211: unsupported global os.system")
        #expect(
            PickleError.unsupportedOpcode(.stackGlobal, at: 9).description
                == "at byte 9: unsupported opcode STACK_GLOBAL (0x93)")
        #expect(PickleError.unknownOpcode(byte: 0x0A, at: 3).description == "at byte 3: unknown opcode 0x0A")
        #expect(
            PickleError.limitExceeded(.nestingDepth, limit: 100, found: 101, at: 7).description
                == "at byte 7: 101 nesting levels exceeds the limit of 100 (limit maxNestingDepth)")
        #expect(
            PickleError.stackUnderflow(opcode: .reduce, needed: 2, available: 1, at: 4).description
                == "at byte 4: REDUCE needs 2 stack items but 1 are available")
        #expect(
            PickleError.wrongOperand(opcode: .reduce, operand: .callable, found: .string, at: 5).description
                == "at byte 5: REDUCE callable is a string; expected a global")
        #expect(
            PickleError.frozenTarget(opcode: .append, found: .list, at: 6).description
                == "at byte 6: APPEND on a list that is already inside another object; expected a container that is still being built"
        )
        #expect(
            PickleError.missingMemoEntry(index: 7, opcode: .binaryGet, at: 8).description
                == "at byte 8: BINGET of memo entry 7, which was never stored")
    }
}
