import Foundation
import TensorData
import Testing

/// What the reference library read back from a fixture (the `<fixture>.json` beside it).
public struct ExpectedFile: Decodable {
    /// One tensor as the reference library returned it.
    public struct Tensor: Decodable {
        public let name: String
        public let dtype: String
        public let shape: [Int]
        public let nbytes: Int
        public let sha256: String?
        public let hex: String?
        /// For tensors without dense bytes: `sparse_coo`, `strided` (meta)…
        public let layout: String?
        /// The device torch loaded it on (`meta` for storage-less tensors).
        public let device: String?
    }

    public let file: String?
    public let made_by: String
    public let valid: Bool
    public let metadata: [String: String]?
    /// `metadata` keyed by exact strings, as readers return it.
    public var exactMetadata: [ExactString: String]? {
        metadata.map { Dictionary(uniqueKeysWithValues: $0.map { (ExactString($0.key), $0.value) }) }
    }
    public let tensors: [Tensor]?
    public let reference_error: String?
    /// For invalid fixtures: the name of the error case modelfile must raise.
    public let expect: String?
    /// For pickle formats: every global the pickle names, in order of first appearance.
    public let globals: [String]?
    /// For pickle formats: `pytorch-zip` or `pytorch-legacy`.
    public let format: String?
    /// For Lightning checkpoints: what torch.load found in them.
    public let checkpoint: ExpectedCheckpoint?

    /// Loads `Fixtures/<name>.json`.
    public static func load(_ name: String) throws -> ExpectedFile {
        try JSONDecoder().decode(ExpectedFile.self, from: Data(contentsOf: Fixture.url(name + ".json")))
    }
}

/// A checkpoint's contents as torch.load read them (see generate_fixtures.py `checkpoint_summary`).
public struct ExpectedCheckpoint: Decodable {
    public struct Optimizer: Decodable {
        public let lr: Double
        public let betas: [Double]?
        public let momentum: Double?
        public let weight_decay: Double
        public let amsgrad: Bool?
        public let step: Double?
        public let params: [Int]
        public let state_keys: [String]
    }
    public let epoch: Int?
    public let global_step: Int?
    public let version: String?
    public let optimizers: [Optimizer]
    public let keys: [String]
}

/// The case name of an enum value (`offsetsNotContiguous` for `.offsetsNotContiguous(...)`).
public func caseName(_ value: Any) -> String {
    let mirror = Mirror(reflecting: value)
    if let label = mirror.children.first?.label { return label }
    return String(describing: value).split(separator: "(").first.map(String.init) ?? ""
}

/// Lowercase hex of `bytes`.
public func hexString<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
    let digits = Array("0123456789abcdef")
    var out = ""
    out.reserveCapacity(bytes.count * 2)
    for byte in bytes {
        out.append(digits[Int(byte >> 4)])
        out.append(digits[Int(byte & 0xF)])
    }
    return out
}

/// SHA-256 of `bytes`, lowercase hex (a small self-contained implementation for tests).
public func sha256Hex<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
    var h: [UInt32] = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]
    let k: [UInt32] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01,
        0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc,
        0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
        0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
        0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08,
        0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
        0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
    ]
    var message = Array(bytes)
    let bitLength = UInt64(message.count) * 8
    message.append(0x80)
    while message.count % 64 != 56 { message.append(0) }
    for shift in stride(from: 56, through: 0, by: -8) { message.append(UInt8(truncatingIfNeeded: bitLength >> UInt64(shift))) }
    func rotr(_ x: UInt32, _ n: UInt32) -> UInt32 { (x >> n) | (x << (32 - n)) }
    var w = [UInt32](repeating: 0, count: 64)
    for chunk in stride(from: 0, to: message.count, by: 64) {
        for i in 0..<16 {
            w[i] = message[chunk + 4 * i..<chunk + 4 * i + 4].reduce(0) { $0 << 8 | UInt32($1) }
        }
        for i in 16..<64 {
            let s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3)
            let s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10)
            w[i] = w[i - 16] &+ s0 &+ w[i - 7] &+ s1
        }
        var (a, b, c, d, e, f, g, hh) = (h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7])
        for i in 0..<64 {
            let t1 = hh &+ (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) &+ ((e & f) ^ (~e & g)) &+ k[i] &+ w[i]
            let t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) &+ ((a & b) ^ (a & c) ^ (b & c))
            (hh, g, f, e, d, c, b, a) = (g, f, e, d &+ t1, c, b, a, t1 &+ t2)
        }
        h = zip(h, [a, b, c, d, e, f, g, hh]).map { $0 &+ $1 }
    }
    return h.map { word in
        let s = String(word, radix: 16)
        return String(repeating: "0", count: 8 - s.count) + s
    }.joined()
}
