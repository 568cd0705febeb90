// Python's protocol-2 spellings of built-in containers (CPython `Lib/pickle.py` `save_set`,
// `save_bytes`; `collections.OrderedDict.__reduce__`), turned back into containers.

extension UnpicklerMachine {
    /// The container a Python built-in constructor call stands for (see the table on
    /// ``Unpickler``), or `nil` to keep the call inert.
    mutating func builtinContainer(
        _ callable: PickleGlobal, _ arguments: PickleTuple, kind: PickleObject.Kind, opcode: PickleOpcode
    )
        throws(PickleError) -> PickleValue?
    {
        guard !callable.isUnknown else { return nil }
        let items = arguments.items
        switch (callable.module, callable.name) {
        case ("collections", "OrderedDict"):
            if items.isEmpty { return .dict(PickleDict(className: callable)) }
            // Python 2's OrderedDict.__reduce__: ([[key, value], …],).
            guard kind == .reduce, items.count == 1, case .list(let pairs) = items[0] else { return nil }
            try countObjects(pairs.items.count)
            var entries: [(PickleValue, PickleValue, PickleKey)] = []
            for pair in pairs.items {
                let parts: [PickleValue]
                switch pair {
                case .list(let list): parts = list.items
                case .tuple(let tuple): parts = tuple.items
                default: return nil
                }
                guard parts.count == 2 else { return nil }
                entries.append((parts[0], parts[1], try hashKey(parts[0], operand: .dictKey, opcode)))
            }
            let dict = PickleDict(className: callable)
            for (key, value, hashKey) in entries { dict.set(value, forKey: key, hashKey: hashKey) }
            return .dict(dict)
        case ("builtins", "set") where kind == .reduce:
            if items.isEmpty { return .set(PickleSet()) }
            guard items.count == 1, case .list(let list) = items[0] else { return nil }
            try countObjects(list.items.count)
            let set = PickleSet()
            for element in list.items {
                set.insert(element, key: try hashKey(element, operand: .setElement, opcode))
            }
            return .set(set)
        case ("_codecs", "encode") where kind == .reduce:
            guard items.count == 2, case .string(let text) = items[0], case .string(let encoding) = items[1],
                encoding == "latin1"
            else { return nil }
            try countDerivedBytes(text.utf8.count)
            var bytes: [UInt8] = []
            bytes.reserveCapacity(text.utf8.count)
            for scalar in text.unicodeScalars {
                guard scalar.value <= 0xFF else { return nil }
                bytes.append(UInt8(scalar.value))
            }
            return .bytes(bytes)
        case ("builtins", "bytes") where kind == .reduce && items.isEmpty:
            return .bytes([])
        default:
            return nil
        }
    }
}
