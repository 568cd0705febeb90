// The plain-data opcodes Python 2's pickler writes at protocol 2 that Python 3's does not: `INT`
// (an int beyond 32 bits on a 64-bit Python 2, as decimal text), `LONG` (decimal text with an
// optional `L`), `LONG4` and `BINSTRING` (a `str` longer than 255 bytes). Each builds a number or
// a string and nothing else; CPython `Lib/pickle.py` (`load_int`, `load_long`, `load_long4`,
// `load_binstring`) defines them. docs/formats.md "Python-2-era pickles" has the details.

/// How `SHORT_BINSTRING` and `BINSTRING` (Python 2 `str`) payloads become values.
public enum PickleBinaryStringDecoding: Sendable, Equatable {
    /// Keep the payload as ``PickleValue/bytes(_:)`` (Python's `encoding='bytes'`).
    case bytes
    /// Decode the payload as strict UTF-8 to ``PickleValue/string(_:)``, refusing invalid UTF-8
    /// (what `torch.load` does: it passes `encoding='utf-8'`).
    case utf8
}

extension UnpicklerMachine {
    /// `INT`: decimal text; `00` and `01` are Python 2's spellings of `False` and `True`.
    mutating func executeTextInt() throws(PickleError) {
        let line = try readDecimalLine(.int)
        if line == [0x30, 0x30] { return try pushNew(.bool(false)) }
        if line == [0x30, 0x31] { return try pushNew(.bool(true)) }
        try pushNew(try decimalInteger(line, .int))
    }

    /// `LONG`: decimal text, with Python 2's trailing `L`.
    mutating func executeTextLong() throws(PickleError) {
        var line = try readDecimalLine(.long)
        if line.last == 0x4C { line.removeLast() }
        try pushNew(try decimalInteger(line, .long))
    }

    /// `LONG4`: a 4-byte signed length, then that many bytes of little-endian two's complement.
    mutating func executeLong4() throws(PickleError) {
        let start = try readFixed(4, .long4)
        let length = Int32(littleEndian: bytes.loadUnaligned(fromByteOffset: start, as: Int32.self))
        guard length >= 0 else { throw .negativeLength(opcode: .long4, declared: Int64(length), at: at) }
        let payload = try readPayload(declared: UInt64(length), .long4, limit: .longByteCount)
        guard let integer = PickleValue.integer(littleEndianTwosComplement: Array(payload)) else {
            throw .limitExceeded(.longByteCount, limit: 255, found: payload.count, at: at)
        }
        try pushNew(integer)
    }

    /// `BINSTRING` (4-byte signed length) and `SHORT_BINSTRING` (1-byte length).
    mutating func executeBinaryString(_ opcode: PickleOpcode) throws(PickleError) {
        let declared: UInt64
        if opcode == .shortBinaryString {
            declared = UInt64(try readUInt8(opcode))
        } else {
            let start = try readFixed(4, opcode)
            let length = Int32(littleEndian: bytes.loadUnaligned(fromByteOffset: start, as: Int32.self))
            guard length >= 0 else { throw .negativeLength(opcode: opcode, declared: Int64(length), at: at) }
            declared = UInt64(length)
        }
        let payload = try readPayload(declared: declared, opcode, limit: .stringByteCount)
        switch binaryStrings {
        case .bytes:
            try pushNew(.bytes(Array(payload)))
        case .utf8:
            guard let text = String(validating: payload, as: UTF8.self) else { throw .invalidUTF8(opcode: opcode, at: at) }
            try pushNew(.string(text))
        }
    }

    /// The text of an `INT` or `LONG` line without its newline: at most enough characters for a
    /// ``PickleLimits/maxLongByteCount``-byte integer, an optional sign and the `L`.
    mutating func readDecimalLine(_ opcode: PickleOpcode) throws(PickleError) -> [UInt8] {
        // 8 bits per byte is log10(256) ≈ 2.41 digits; 3 per byte is a safe bound.
        let limit = limits.maxLongByteCount * 3 + 2
        let available = bytes.count - position
        let searched = min(available, limit + 1)
        var index = position
        while index < position + searched, bytes[index] != 0x0A { index += 1 }
        guard index < position + searched else {
            if searched == available { throw .unterminatedLine(opcode: opcode, at: at) }
            throw .limitExceeded(.longByteCount, limit: limits.maxLongByteCount, found: limits.maxLongByteCount + 1, at: at)
        }
        let line = Array(UnsafeRawBufferPointer(rebasing: bytes[position..<index]))
        position = index + 1
        return line
    }

    /// The integer written in decimal as `text` (an optional sign, then digits without leading
    /// zeros, as Python's `int(text, 0)` accepts them), within ``PickleLimits/maxLongByteCount``.
    mutating func decimalInteger(_ text: [UInt8], _ opcode: PickleOpcode) throws(PickleError) -> PickleValue {
        var digits = text[...]
        var negative = false
        if let sign = digits.first, sign == 0x2B || sign == 0x2D {
            negative = sign == 0x2D
            digits = digits.dropFirst()
        }
        guard !digits.isEmpty, digits.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
              digits.first != 0x30 || digits.count == 1
        else { throw .invalidDecimal(opcode: opcode, at: at) }
        // Magnitude as little-endian base-256 limbs: limbs = limbs × 10 + digit.
        var limbs: [UInt8] = []
        for digit in digits {
            var carry = UInt16(digit - 0x30)
            for index in limbs.indices {
                let value = UInt16(limbs[index]) * 10 + carry
                limbs[index] = UInt8(truncatingIfNeeded: value)
                carry = value >> 8
            }
            if carry > 0 { limbs.append(UInt8(carry)) }
            guard limbs.count <= limits.maxLongByteCount else {
                throw .limitExceeded(.longByteCount, limit: limits.maxLongByteCount, found: limbs.count, at: at)
            }
        }
        limbs.append(0)  // a sign byte, so the magnitude reads as non-negative
        let bytes = negative ? PickleBigInt.negated(limbs) : limbs
        guard let integer = PickleValue.integer(littleEndianTwosComplement: bytes) else {
            throw .limitExceeded(.longByteCount, limit: 255, found: bytes.count, at: at)
        }
        return integer
    }
}
