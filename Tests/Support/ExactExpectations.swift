import JSONReader
import TensorData

/// What the reference library read from a fixture under `Fixtures/exact_strings/`, read with
/// the exact JSON reader, so two names that differ only by Unicode normalization stay two.
public struct ExactExpectation {
    public struct Tensor {
        public let name: String
        /// The name's UTF-8, from the generator (checked against `name`).
        public let nameUTF8: [UInt8]
        public let dtype: String
        public let shape: [Int]
        public let sha256: String
        public let hex: String?
        /// For sharded sets: the shard holding it.
        public let shard: String?
    }

    public let valid: Bool
    public let tensors: [Tensor]
    /// `__metadata__` as sorted pairs, or `nil`.
    public let metadataItems: [(String, String)]?
    /// For files modelfile refuses on purpose: the error case, the key's UTF-8 and the offset.
    public let refusal: (errorCase: String, keyUTF8: [UInt8], offset: Int)?

    /// Loads `Fixtures/<name>`.
    public static func load(_ name: String) throws -> ExactExpectation {
        let root = try JSONNode.parse(try Fixture.bytes(name))
        func hexBytes(_ text: String?) -> [UInt8] {
            guard let text else { return [] }
            let digits = Array(text.utf8)
            return stride(from: 0, to: digits.count - 1, by: 2).compactMap { UInt8(String(decoding: digits[$0...($0 + 1)], as: UTF8.self), radix: 16) }
        }
        let tensors = (root["tensors"]?.arrayValue ?? []).map { entry in
            Tensor(
                name: entry["name"]?.stringValue ?? "", nameUTF8: hexBytes(entry["name_utf8"]?.stringValue),
                dtype: entry["dtype"]?.stringValue ?? "",
                shape: (entry["shape"]?.arrayValue ?? []).compactMap { $0.numberValue?.int64.map { Int($0) } },
                sha256: entry["sha256"]?.stringValue ?? "", hex: entry["hex"]?.stringValue, shard: entry["shard"]?.stringValue)
        }
        let metadata = root["metadata_items"]?.arrayValue.map { items in
            items.compactMap { pair -> (String, String)? in
                guard let parts = pair.arrayValue, parts.count == 2, let key = parts[0].stringValue, let value = parts[1].stringValue else { return nil }
                return (key, value)
            }
        }
        var refusal: (String, [UInt8], Int)?
        if let object = root["modelfile"], let errorCase = object["refuses"]?.stringValue, let offset = object["offset"]?.numberValue?.int64 {
            refusal = (errorCase, hexBytes(object["key_utf8"]?.stringValue), Int(offset))
        }
        return ExactExpectation(
            valid: root["valid"] == .bool(true), tensors: tensors, metadataItems: metadata, refusal: refusal)
    }
}
