import PickleVM
import TestSupport

/// Builders for hand-made opcode streams; each returns the bytes of one instruction so tests can
/// concatenate them and compute offsets with `prefix.count`.
enum PB {
    static let proto2: [UInt8] = [0x80, 0x02]
    static let stop: [UInt8] = [PickleOpcode.stop.rawValue]

    static func op(_ opcode: PickleOpcode) -> [UInt8] { [opcode.rawValue] }

    static func global(_ module: String, _ name: String) -> [UInt8] {
        [PickleOpcode.global.rawValue] + Array(module.utf8) + [0x0A] + Array(name.utf8) + [0x0A]
    }

    static func unicode(_ text: String) -> [UInt8] {
        let utf8 = Array(text.utf8)
        return [PickleOpcode.binaryUnicode.rawValue] + littleEndian(UInt32(utf8.count)) + utf8
    }

    static func int1(_ value: UInt8) -> [UInt8] { [PickleOpcode.binaryInt1.rawValue, value] }
    static func put(_ index: UInt8) -> [UInt8] { [PickleOpcode.binaryPut.rawValue, index] }
    static func get(_ index: UInt8) -> [UInt8] { [PickleOpcode.binaryGet.rawValue, index] }
    static func longPut(_ index: UInt32) -> [UInt8] { [PickleOpcode.longBinaryPut.rawValue] + littleEndian(index) }
    static func longGet(_ index: UInt32) -> [UInt8] { [PickleOpcode.longBinaryGet.rawValue] + littleEndian(index) }

    static func littleEndian<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
        withUnsafeBytes(of: value.littleEndian) { Array($0) }
    }
}

/// Global policies used by the tests.
enum TestPolicy {
    static let allowAll: PickleGlobalPolicy = { _, _ in .allow }
    static let keepInert: PickleGlobalPolicy = { _, _ in .keepInert }

    /// What a torch reader would allow for the sample checkpoints: exact names, with the rest
    /// refused.
    static let samples: PickleGlobalPolicy = { module, name in
        switch (module, name) {
        case ("collections", "OrderedDict"), ("_codecs", "encode"), ("builtins", "set"),
            ("torch._utils", "_rebuild_tensor_v2"), ("torch._utils", "_rebuild_tensor_v3"),
            ("torch._utils", "_rebuild_parameter"), ("torch.storage", "UntypedStorage"):
            return .allow
        case ("torch", let attribute) where attribute.hasSuffix("Storage") || !attribute.contains("."):
            return .allow
        default:
            return .refuse
        }
    }
}

func unpickle(
    _ bytes: [UInt8], from offset: Int = 0, policy: @escaping PickleGlobalPolicy = TestPolicy.allowAll,
    limits: PickleLimits = PickleLimits()
) throws(PickleError) -> UnpickleResult {
    try Unpickler(limits: limits, globalPolicy: policy).unpickle(bytes, from: offset)
}

func fixture(_ name: String) throws -> [UInt8] {
    try Fixture.bytes("pickle/\(name)")
}

/// Shorthands for building expected trees.
func list(_ items: PickleValue...) -> PickleValue { .list(PickleList(items)) }
func tuple(_ items: PickleValue...) -> PickleValue { .tuple(PickleTuple(items)) }
func dict(_ entries: KeyValuePairs<String, PickleValue>) -> PickleValue {
    .dict(PickleDict(entries.map { (key: PickleValue.string($0.key), value: $0.value) }))
}
