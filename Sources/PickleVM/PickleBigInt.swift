/// An integer outside the `Int64` range, as `LONG1` stores it: little-endian two's complement.
///
/// The bytes are kept in minimal form (no redundant sign-extension bytes), which is exactly what
/// Python's pickler writes, so the legacy PyTorch magic number `0x1950A86A20F9469CFC6C` keeps its
/// 10 bytes `6C FC 9C 46 F9 20 6A A8 50 19`. Values that fit in `Int64` are never a
/// `PickleBigInt`; ``PickleValue/integer(littleEndianTwosComplement:)`` picks the right case.
public struct PickleBigInt: Hashable, Sendable, CustomStringConvertible {
    /// The minimal little-endian two's-complement bytes (9…255 of them).
    public let littleEndianBytes: [UInt8]

    /// Wraps bytes already known to be minimal, outside the `Int64` range and at most 255 long.
    init(minimalBytes: [UInt8]) {
        littleEndianBytes = minimalBytes
    }

    /// The integer for bytes `bytes` (any length ≤ 255, possibly non-minimal), or `nil` if it fits
    /// in `Int64` or needs more than 255 bytes.
    public init?(littleEndianTwosComplement bytes: [UInt8]) {
        let minimal = PickleBigInt.minimized(bytes)
        guard minimal.count > 8, minimal.count <= 255 else { return nil }
        littleEndianBytes = minimal
    }

    /// The integer equal to an integral `double` outside the `Int64` range, or `nil` if `double`
    /// is not such a value.
    public init?(exactly double: Double) {
        guard double.isFinite, double == double.rounded(.towardZero), Int64(exactly: double) == nil else {
            return nil
        }
        // |double| = (2^52 + significand) × 2^(exponent − 52), with exponent ≥ 63 here.
        let exponent = Int(double.exponent)
        let mantissa = (UInt64(1) << 52) | double.significandBitPattern
        let shift = exponent - 52
        var magnitude = [UInt8](repeating: 0, count: (exponent + 1) / 8 + 2)
        for bit in 0..<53 where mantissa & (UInt64(1) << UInt64(bit)) != 0 {
            let position = bit + shift
            magnitude[position / 8] |= UInt8(1) << UInt8(position % 8)
        }
        let bytes = double < 0 ? PickleBigInt.negated(magnitude) : magnitude
        self.init(littleEndianTwosComplement: bytes)
    }

    /// Whether the value is negative.
    public var isNegative: Bool { (littleEndianBytes.last ?? 0) & 0x80 != 0 }

    /// The value in decimal, e.g. `119547037146038801333356`.
    public var description: String {
        let magnitude = isNegative ? PickleBigInt.negated(littleEndianBytes) : littleEndianBytes
        // Repeated division of the little-endian magnitude by 10^9.
        var limbs = magnitude
        var chunks: [UInt32] = []
        while limbs.contains(where: { $0 != 0 }) {
            var remainder: UInt64 = 0
            for index in stride(from: limbs.count - 1, through: 0, by: -1) {
                let current = (remainder << 8) | UInt64(limbs[index])
                limbs[index] = UInt8(current / 1_000_000_000)
                remainder = current % 1_000_000_000
            }
            chunks.append(UInt32(remainder))
        }
        guard let mostSignificant = chunks.last else { return "0" }
        var text = isNegative ? "-" : ""
        text += String(mostSignificant)
        for chunk in chunks.dropLast().reversed() {
            let digits = String(chunk)
            text += String(repeating: "0", count: 9 - digits.count) + digits
        }
        return text
    }

    /// `bytes` without redundant sign-extension bytes at the top (an empty input means 0).
    static func minimized(_ bytes: [UInt8]) -> [UInt8] {
        var count = bytes.count
        while count > 1 {
            let top = bytes[count - 1]
            let nextHighBit = bytes[count - 2] & 0x80
            if (top == 0x00 && nextHighBit == 0) || (top == 0xFF && nextHighBit != 0) {
                count -= 1
            } else {
                break
            }
        }
        if count == 1 && bytes[0] == 0 { count = 0 }
        return Array(bytes[0..<count])
    }

    /// The two's-complement negation of `bytes`, one byte wider so the result cannot overflow.
    static func negated(_ bytes: [UInt8]) -> [UInt8] {
        var result = bytes.map { ~$0 }
        result.append(bytes.last.map { $0 & 0x80 != 0 ? 0x00 : 0xFF } ?? 0xFF)
        var carry: UInt16 = 1
        for index in result.indices {
            let sum = UInt16(result[index]) + carry
            result[index] = UInt8(truncatingIfNeeded: sum)
            carry = sum >> 8
        }
        return result
    }
}

extension PickleValue {
    /// The integer stored as little-endian two's-complement `bytes` (any length, possibly
    /// non-minimal, empty meaning 0): ``int(_:)`` when it fits in `Int64`, otherwise
    /// ``bigInt(_:)``; `nil` if it needs more than 255 bytes (more than `LONG1` can hold).
    public static func integer(littleEndianTwosComplement bytes: [UInt8]) -> PickleValue? {
        let minimal = PickleBigInt.minimized(bytes)
        if minimal.count <= 8 {
            var value: UInt64 = 0
            for (index, byte) in minimal.enumerated() { value |= UInt64(byte) << UInt64(8 * index) }
            if let top = minimal.last, top & 0x80 != 0, minimal.count < 8 {
                value |= UInt64.max << UInt64(8 * minimal.count)  // sign-extend
            }
            return .int(Int64(bitPattern: value))
        }
        guard minimal.count <= 255 else { return nil }
        return .bigInt(PickleBigInt(minimalBytes: minimal))
    }
}
