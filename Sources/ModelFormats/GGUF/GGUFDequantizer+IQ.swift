import TensorData

// The IQ block types: indices into fixed grids of small vectors (GGUFGrids.swift), sign bits,
// and per-group scales. Each value is (scale · grid value) · sign, or scale · (grid value + δ)
// for IQ1, computed in that order as gguf-py 0.19.0 does (docs/formats.md, "GGUF").

/// A grid of `rows` vectors of `width` float32 values, expanded from its compact form.
struct GGUFGrid: Sendable {
    let rows: Int
    let width: Int
    let values: [Float]

    init(rows: Int, width: Int, levels: [Float], digits: String) {
        self.rows = rows
        self.width = width
        var values: [Float] = []
        values.reserveCapacity(rows * width)
        for digit in digits.utf8 {
            let level = digit <= UInt8(ascii: "9") ? Int(digit &- UInt8(ascii: "0")) : Int(digit &- UInt8(ascii: "a")) + 10
            values.append(level < levels.count ? levels[level] : 0)
        }
        precondition(values.count == rows * width, "grid holds \(values.count) values; expected \(rows * width)")
        self.values = values
    }

    /// Calls `body` with the values, row-major, and the sign factors (``GGUFDequantizer/signFactors``).
    func withValues(_ body: (UnsafePointer<Float>, UnsafePointer<Float>) -> Void) {
        values.withUnsafeBufferPointer { buffer in
            GGUFDequantizer.signFactors.withUnsafeBufferPointer { factors in
                if let base = buffer.baseAddress, let signs = factors.baseAddress { body(base, signs) }
            }
        }
    }
}

extension GGUFDequantizer {
    /// The sign pattern of a 7-bit index: its bits, plus an eighth that makes the count of set bits even.
    @inline(__always) static func signByte(_ index: UInt32) -> UInt8 {
        let low = UInt8(truncatingIfNeeded: index & 0x7F)
        return low | UInt8(low.nonzeroBitCount & 1) << 7
    }

    /// For each byte of sign bits, the eight factors ±1 it stands for (bit j set: −1).
    static let signFactors: [Float] = (0..<256).flatMap { bits in (0..<8).map { j in (bits >> j) & 1 == 0 ? Float(1) : -1 } }

    /// `(scale · grid[j]) · (±1)` for the 8 values of one grid row, the sign from bit j of `signs`.
    @inline(__always) static func signedRow(
        _ out: UnsafeMutablePointer<Float>, _ scale: Float, _ row: UnsafePointer<Float>, _ factors: UnsafePointer<Float>
    ) {
        for j in 0..<8 { out[j] = scale * row[j] * factors[j] }
    }

    /// IQ2_XXS: f16 d, then 8 pairs of u32: four grid indices (bytes of the first), four 7-bit
    /// sign indices and a 4-bit scale (the second); db = (d · (0.5 + s)) · 0.25.
    @inline(__always) static func iq2_XXS(
        _ p: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>, _ grid: UnsafePointer<Float>, _ factors: UnsafePointer<Float>
    ) {
        let d = half(p, 0)
        for ib in 0..<8 {
            let aux1 = UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 2 + ib * 8 + 4, as: UInt32.self))
            let db = d * (0.5 + Float(aux1 >> 28)) * 0.25
            for l in 0..<4 {
                signedRow(y + ib * 32 + l * 8, db, grid + Int(byte(p, 2 + ib * 8 + l)) * 8, factors + Int(signByte(aux1 >> UInt32(7 * l))) * 8)
            }
        }
    }

    /// IQ2_XS: f16 d, 32 u16 (9-bit grid index, 7-bit sign index), 8 bytes of 4-bit scales.
    @inline(__always) static func iq2_XS(
        _ p: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>, _ grid: UnsafePointer<Float>, _ factors: UnsafePointer<Float>
    ) {
        let d = half(p, 0)
        for k in 0..<16 {
            let s = (byte(p, 66 + k / 2) >> UInt8(4 * (k % 2))) & 0x0F
            let db = d * (0.5 + Float(s)) * 0.25
            for part in 0..<2 {
                let q = UInt16(littleEndian: p.loadUnaligned(fromByteOffset: 2 + 2 * (2 * k + part), as: UInt16.self))
                signedRow(y + k * 16 + part * 8, db, grid + Int(q & 511) * 8, factors + Int(signByte(UInt32(q >> 9))) * 8)
            }
        }
    }

    /// IQ2_S: f16 d, 32 low index bytes, 32 sign bytes, 8 bytes of 2-bit high index parts,
    /// 8 bytes of 4-bit scales.
    @inline(__always) static func iq2_S(
        _ p: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>, _ grid: UnsafePointer<Float>, _ factors: UnsafePointer<Float>
    ) {
        let d = half(p, 0)
        for k in 0..<16 {
            let s = (byte(p, 74 + k / 2) >> UInt8(4 * (k % 2))) & 0x0F
            let db = d * (0.5 + Float(s)) * 0.25
            for part in 0..<2 {
                let t = 2 * k + part
                let high = (byte(p, 66 + t / 4) >> UInt8(2 * (t % 4))) & 0x03
                signedRow(y + k * 16 + part * 8, db, grid + (Int(byte(p, 2 + t)) | Int(high) << 8) * 8, factors + Int(byte(p, 34 + t)) * 8)
            }
        }
    }

    /// IQ3_XXS: f16 d, 64 grid index bytes (4 values each), 8 u32 of sign indices and a 4-bit
    /// scale; db = (d · (0.5 + s)) · 0.5.
    @inline(__always) static func iq3_XXS(
        _ p: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>, _ grid: UnsafePointer<Float>, _ factors: UnsafePointer<Float>
    ) {
        let d = half(p, 0)
        for ib in 0..<8 {
            let aux = UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 66 + 4 * ib, as: UInt32.self))
            let db = d * (0.5 + Float(aux >> 28)) * 0.5
            for l in 0..<4 {
                let sign = factors + Int(signByte(aux >> UInt32(7 * l))) * 8
                let first = grid + Int(byte(p, 2 + ib * 8 + l * 2)) * 4
                let second = grid + Int(byte(p, 2 + ib * 8 + l * 2 + 1)) * 4
                let out = y + ib * 32 + l * 8
                for j in 0..<4 { out[j] = db * first[j] * sign[j] }
                for j in 0..<4 { out[4 + j] = db * second[j] * sign[4 + j] }
            }
        }
    }

    /// IQ3_S: f16 d, 64 low index bytes, 8 bytes of ninth index bits, 32 sign bytes, 4 bytes of
    /// 4-bit scales; db = d · (1 + 2s).
    @inline(__always) static func iq3_S(
        _ p: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>, _ grid: UnsafePointer<Float>, _ factors: UnsafePointer<Float>
    ) {
        let d = half(p, 0)
        for k in 0..<8 {
            let s = (byte(p, 106 + k / 2) >> UInt8(4 * (k % 2))) & 0x0F
            let db = d * Float(1 + 2 * s)
            let highs = byte(p, 66 + k)
            for l in 0..<4 {
                let sign = factors + Int(byte(p, 74 + k * 4 + l)) * 8
                let t = k * 8 + l * 2
                let first = grid + (Int(byte(p, 2 + t)) | Int((highs >> UInt8(2 * l)) & 1) << 8) * 4
                let second = grid + (Int(byte(p, 3 + t)) | Int((highs >> UInt8(2 * l + 1)) & 1) << 8) * 4
                let out = y + k * 32 + l * 8
                for j in 0..<4 { out[j] = db * first[j] * sign[j] }
                for j in 0..<4 { out[4 + j] = db * second[j] * sign[4 + j] }
            }
        }
    }

    /// IQ1_S: f16 d, 32 low index bytes, 8 u16 (four 3-bit high index parts, a 3-bit scale, the
    /// sign of δ = ±0.125); dl · (grid + δ) with dl = d · (2s + 1).
    @inline(__always) static func iq1_S(_ p: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>, _ grid: UnsafePointer<Float>) {
        let d = half(p, 0)
        for ib in 0..<8 {
            let qh = UInt16(littleEndian: p.loadUnaligned(fromByteOffset: 34 + 2 * ib, as: UInt16.self))
            let dl = d * Float(2 * ((qh >> 12) & 7) + 1)
            let delta: Float = qh & 0x8000 == 0 ? 0.125 : -0.125
            for l in 0..<4 {
                let row = grid + (Int(byte(p, 2 + ib * 4 + l)) | Int((qh >> UInt16(3 * l)) & 7) << 8) * 8
                let out = y + ib * 32 + l * 8
                for j in 0..<8 { out[j] = dl * (row[j] + delta) }
            }
        }
    }

    /// IQ1_M: 32 low index bytes, 16 bytes of nibbles (3-bit high index part, sign of δ), 4 u16
    /// holding 3-bit scales and, in their top nibbles, the f16 d.
    @inline(__always) static func iq1_M(_ p: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>, _ grid: UnsafePointer<Float>) {
        @inline(__always) func word(_ i: Int) -> UInt16 {
            UInt16(littleEndian: p.loadUnaligned(fromByteOffset: 48 + 2 * i, as: UInt16.self))
        }
        let dBits = (word(0) & 0xF000) >> 12 | (word(1) & 0xF000) >> 8 | (word(2) & 0xF000) >> 4 | (word(3) & 0xF000)
        let d = HalfPrecision.float(fromHalfBits: dBits)
        for m in 0..<16 {  // ib = m / 2, half = m % 2
            let dl = d * Float(2 * ((word(m / 4) >> UInt16(3 * (m % 4))) & 7) + 1)
            for l2 in 0..<2 {
                let t = m * 2 + l2
                let nibble = (byte(p, 32 + t / 2) >> UInt8(4 * (t % 2))) & 0x0F
                let row = grid + (Int(byte(p, t)) | Int(nibble & 7) << 8) * 8
                let delta: Float = nibble & 0x08 == 0 ? 0.125 : -0.125
                let out = y + t * 8
                for j in 0..<8 { out[j] = dl * (row[j] + delta) }
            }
        }
    }
}
