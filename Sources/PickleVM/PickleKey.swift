import ExactText

/// The hashable identity of a dict key or set element, with Python's equality rules:
/// `True == 1 == 1.0`, `-0.0 == 0`, `2.0**70 == 2**70`, tuples compare element-wise, and strings
/// compare by exact Unicode scalars (Swift's `String ==` would merge canonically equivalent
/// spellings that Python keeps apart).
enum PickleKey: Hashable {
    case none
    case integer(Int64)
    case bigInteger([UInt8])
    case float(UInt64)
    case string(ExactString)
    case bytes([UInt8])
    case tuple([PickleKey])
    /// A global (a class or function): Python hashes it by identity, and one name is one object.
    case global(module: String, name: String)
    /// An object of an unknown class, by identity (Python's default object hash).
    case identity(ObjectIdentifier)

    /// How deeply tuples may nest inside a key; deeper keys are refused as unhashable.
    static let maximumTupleDepth = 32
    /// How many values (the key itself, tuples and their items, at every level) one key may hold;
    /// larger keys are refused as unhashable. This keeps a tuple that reuses memoized tuples
    /// (`t = (t, t)` forty times) from costing 2^40 steps.
    static let maximumElementCount = 4096

    /// The key for `value`, or `nil` if Python could not hash it here: a list, dict, set, call
    /// node of a known callable, persistent id, a NaN, or a tuple containing one of those (or nested more than
    /// ``maximumTupleDepth`` deep, or holding more than ``maximumElementCount`` values).
    init?(_ value: PickleValue) {
        var cost = 0
        self.init(value, hashingCost: &cost)
    }

    /// As ``init(_:)``, adding to `hashingCost` the bytes that hashing the key will read
    /// (string and bytes lengths, 8 per other value).
    init?(_ value: PickleValue, hashingCost: inout Int) {
        var elements = 0
        self.init(value, tupleDepth: 0, elements: &elements, cost: &hashingCost)
    }

    private init?(_ value: PickleValue, tupleDepth: Int, elements: inout Int, cost: inout Int) {
        elements += 1
        guard elements <= PickleKey.maximumElementCount else { return nil }
        switch value {
        case .none: self = .none
        case .bool(let flag): self = .integer(flag ? 1 : 0)
        case .int(let integer): self = .integer(integer)
        case .bigInt(let big): self = .bigInteger(big.littleEndianBytes)
        case .float(let double):
            guard !double.isNaN else { return nil }
            if double.isFinite, double == double.rounded(.towardZero) {
                if let integer = Int64(exactly: double) {
                    self = .integer(integer)
                } else if let big = PickleBigInt(exactly: double) {
                    self = .bigInteger(big.littleEndianBytes)
                } else {
                    return nil
                }
            } else {
                self = .float(double.bitPattern)
            }
        case .string(let text):
            cost += text.utf8.count
            self = .string(ExactString(text))
            return
        case .bytes(let bytes):
            cost += bytes.count
            self = .bytes(bytes)
            return
        case .tuple(let tuple):
            // Bounded recursion: at most `maximumTupleDepth` frames.
            guard tupleDepth < PickleKey.maximumTupleDepth else { return nil }
            var items: [PickleKey] = []
            items.reserveCapacity(tuple.items.count)
            for item in tuple.items {
                guard let key = PickleKey(item, tupleDepth: tupleDepth + 1, elements: &elements, cost: &cost) else {
                    return nil
                }
                items.append(key)
            }
            self = .tuple(items)
        case .global(let global):
            cost += global.module.utf8.count + global.name.utf8.count
            self = .global(module: global.module, name: global.name)
        case .object(let object) where object.callable.isUnknown:
            self = .identity(ObjectIdentifier(object))
        case .list, .dict, .set, .object, .persistentID:
            return nil
        }
        cost += 8
    }
}
