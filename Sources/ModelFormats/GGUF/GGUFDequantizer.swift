import TensorData

// Block types to float32 values, with the results of gguf-py 0.19.0's `gguf.quants.dequantize`
// bit for bit: every value is computed with the same float32 operations in the same order (a
// scale times a value, then minus or plus an offset; never a fused multiply-add). The block
// layouts and the order of each computation are set out in docs/formats.md, "GGUF"; the IQ kinds
// are in GGUFDequantizer+IQ.swift.

/// Turns GGUF tensor bytes into float32 values.
public enum GGUFDequantizer {
    /// Dequantizes `elementCount` values of `type` from `source` into `output`.
    ///
    /// Plain float types are widened (F16 and BF16 exactly), so for every dequantizable type
    /// the result is what `gguf.quants.dequantize` returns.
    ///
    /// Traps unless `type.isDequantizable`, `source` holds exactly `type.byteCount(elementCount:)`
    /// bytes and `output` has room for `elementCount` values: callers check these first.
    public static func dequantize(
        _ source: UnsafeRawBufferPointer, type: GGMLType, elementCount: Int, into output: UnsafeMutablePointer<Float>
    ) {
        precondition(type.isDequantizable && type.plainDType.map({ $0 == .f32 || $0 == .f16 || $0 == .bf16 }) != false,
                     "dequantize: \(type.name) has no float32 values")
        precondition(type.byteCount(elementCount: elementCount) == source.count,
                     "dequantize: \(source.count) bytes for \(elementCount) \(type.name) values")
        guard elementCount > 0, let base = source.baseAddress else { return }
        let blocks = elementCount / type.blockElementCount
        let stride = type.blockByteCount
        let width = type.blockElementCount
        func each(_ kernel: (UnsafeRawPointer, UnsafeMutablePointer<Float>) -> Void) {
            for block in 0..<blocks { kernel(base + block * stride, output + block * width) }
        }
        switch type {
        case .f32:
            UnsafeMutableRawPointer(output).copyMemory(from: base, byteCount: source.count)
        case .f16:
            let vectors = elementCount / 8
            let out = UnsafeMutableRawPointer(output)
            for v in 0..<vectors { widenEightHalves(base + 16 * v, out + 32 * v) }
            for i in (vectors * 8)..<elementCount { output[i] = widenedHalf(base.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) }
        case .bf16:
            for i in 0..<elementCount { output[i] = Float(bitPattern: UInt32(base.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) << 16) }
        case .q4_0: each(q4_0)
        case .q4_1: each(q4_1)
        case .q5_0: each(q5_0)
        case .q5_1: each(q5_1)
        case .q8_0: each(q8_0)
        case .q2_K: each(q2_K)
        case .q3_K: each(q3_K)
        case .q4_K: each(q4_K)
        case .q5_K: each(q5_K)
        case .q6_K: each(q6_K)
        case .q8_K: each(q8_K)
        case .tq1_0: each(tq1_0)
        case .tq2_0: each(tq2_0)
        case .mxfp4: each(mxfp4)
        case .nvfp4: each(nvfp4)
        case .iq4_NL: each(iq4_NL)
        case .iq4_XS: each(iq4_XS)
        case .iq2_XXS: GGUFGrid.iq2xxs.withValues { grid, signs in each { iq2_XXS($0, $1, grid, signs) } }
        case .iq2_XS: GGUFGrid.iq2xs.withValues { grid, signs in each { iq2_XS($0, $1, grid, signs) } }
        case .iq2_S: GGUFGrid.iq2s.withValues { grid, signs in each { iq2_S($0, $1, grid, signs) } }
        case .iq3_XXS: GGUFGrid.iq3xxs.withValues { grid, signs in each { iq3_XXS($0, $1, grid, signs) } }
        case .iq3_S: GGUFGrid.iq3s.withValues { grid, signs in each { iq3_S($0, $1, grid, signs) } }
        case .iq1_S: GGUFGrid.iq1s.withValues { grid, _ in each { iq1_S($0, $1, grid) } }
        case .iq1_M: GGUFGrid.iq1s.withValues { grid, _ in each { iq1_M($0, $1, grid) } }
        case .q8_1, .q1_0, .f64, .i8, .i16, .i32, .i64:
            preconditionFailure("unreachable: checked above")
        }
    }

    // MARK: - Helpers

    @inline(__always) static func byte(_ p: UnsafeRawPointer, _ offset: Int) -> UInt8 {
        p.load(fromByteOffset: offset, as: UInt8.self)
    }

    @inline(__always) static func half(_ p: UnsafeRawPointer, _ offset: Int) -> Float {
        HalfPrecision.float(fromHalfBits: p.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
    }

    /// Eight signed bytes as exact floats, without a conversion instruction: 2^23 + (q + 128)
    /// is built from its bits, then 2^23 + 128 is subtracted.
    @inline(__always) static func signedBytesAsFloats(_ bytes: SIMD8<UInt8>) -> SIMD8<Float> {
        let biased = (SIMD8<UInt32>(truncatingIfNeeded: bytes) ^ 0x80) | 0x4B00_0000
        return unsafeBitCast(biased, to: SIMD8<Float>.self) - 8_388_736
    }

    /// Four halves (in the low 16 bits of each lane) widened as ``widenedHalf(_:)`` widens one.
    @inline(__always) static func widenedHalves(_ bits: SIMD4<UInt32>) -> SIMD4<Float> {
        let shifted = (bits & 0x7FFF) &<< 13
        let exponent = shifted & (0x7C00 << 13)
        let normal = shifted &+ ((127 - 15) << 23)
        var magnitude = normal
        magnitude.replace(with: normal &+ ((128 - 16) << 23), where: exponent .== 0x7C00 << 13)
        let subnormal = unsafeBitCast(unsafeBitCast(normal &+ (1 << 23), to: SIMD4<Float>.self) - Float(bitPattern: 113 << 23), to: SIMD4<UInt32>.self)
        magnitude.replace(with: subnormal, where: exponent .== 0)
        return unsafeBitCast(magnitude | ((bits & 0x8000) &<< 16), to: SIMD4<Float>.self)
    }

    /// Eight halves from `p` widened into `out`: even and odd halves are widened apart (each is
    /// half of a 32-bit lane) and interleaved back.
    @inline(__always) static func widenEightHalves(_ p: UnsafeRawPointer, _ out: UnsafeMutableRawPointer) {
        let words = p.loadUnaligned(as: SIMD4<UInt32>.self)
        let even = widenedHalves(words & 0xFFFF), odd = widenedHalves(words &>> 16)
        out.storeBytes(of: SIMD4<Float>(even[0], odd[0], even[1], odd[1]), as: SIMD4<Float>.self)
        out.storeBytes(of: SIMD4<Float>(even[2], odd[2], even[3], odd[3]), toByteOffset: 16, as: SIMD4<Float>.self)
    }

    /// ``HalfPrecision/float(fromHalfBits:)`` without branches (both renormalisations computed,
    /// one selected), so bulk F16 widening vectorizes; the same bits for every input, NaN
    /// payloads kept unquieted as numpy keeps them.
    @inline(__always) static func widenedHalf(_ h: UInt16) -> Float {
        let shifted = UInt32(h & 0x7FFF) << 13
        let exponent = shifted & (0x7C00 << 13)
        let normal = shifted &+ ((127 - 15) << 23)
        let special = normal &+ ((128 - 16) << 23)
        let subnormal = (Float(bitPattern: normal &+ (1 << 23)) - Float(bitPattern: 113 << 23)).bitPattern
        let magnitude = exponent == 0x7C00 << 13 ? special : (exponent == 0 ? subnormal : normal)
        return Float(bitPattern: magnitude | UInt32(h & 0x8000) << 16)
    }

    // MARK: - 32-element blocks

    /// Q4_0: f16 d, 16 bytes of nibbles (low nibbles are elements 0–15, high 16–31); d · (q − 8).
    @inline(__always) static func q4_0(_ p: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = half(p, 0)
        for j in 0..<16 {
            let q = byte(p, 2 + j)
            y[j] = d * Float(Int8(q & 0x0F) &- 8)
            y[j + 16] = d * Float(Int8(q >> 4) &- 8)
        }
    }

    /// Q4_1: f16 d, f16 m, 16 bytes of nibbles; (d · q) + m.
    @inline(__always) static func q4_1(_ p: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = half(p, 0), m = half(p, 2)
        for j in 0..<16 {
            let q = byte(p, 4 + j)
            y[j] = d * Float(q & 0x0F) + m
            y[j + 16] = d * Float(q >> 4) + m
        }
    }

    /// Q5_0: f16 d, u32 of fifth bits (bit j for element j), 16 bytes of nibbles; d · (q − 16).
    @inline(__always) static func q5_0(_ p: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = half(p, 0)
        for group in 0..<2 {  // elements 8·group + k and 16 + 8·group + k
            let lowBits = byte(p, 2 + group), highBits = byte(p, 4 + group)
            for k in 0..<8 {
                let q = byte(p, 6 + group * 8 + k)
                let low = (q & 0x0F) | ((lowBits >> UInt8(k)) & 1) << 4
                let top = (q >> 4) | ((highBits >> UInt8(k)) & 1) << 4
                y[group * 8 + k] = d * Float(Int8(low) &- 16)
                y[16 + group * 8 + k] = d * Float(Int8(top) &- 16)
            }
        }
    }

    /// Q5_1: f16 d, f16 m, u32 of fifth bits, 16 bytes of nibbles; (d · q) + m.
    @inline(__always) static func q5_1(_ p: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = half(p, 0), m = half(p, 2)
        for group in 0..<2 {
            let lowBits = byte(p, 4 + group), highBits = byte(p, 6 + group)
            for k in 0..<8 {
                let q = byte(p, 8 + group * 8 + k)
                let low = (q & 0x0F) | ((lowBits >> UInt8(k)) & 1) << 4
                let top = (q >> 4) | ((highBits >> UInt8(k)) & 1) << 4
                y[group * 8 + k] = d * Float(low) + m
                y[16 + group * 8 + k] = d * Float(top) + m
            }
        }
    }

    /// Q8_0: f16 d, 32 signed bytes; q · d.
    @inline(__always) static func q8_0(_ p: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = half(p, 0)
        let out = UnsafeMutableRawPointer(y)
        for part in 0..<4 {
            let q = signedBytesAsFloats(p.loadUnaligned(fromByteOffset: 2 + 8 * part, as: SIMD8<UInt8>.self))
            out.storeBytes(of: q * d, toByteOffset: 32 * part, as: SIMD8<Float>.self)
        }
    }

    /// IQ4_NL: f16 d, 16 bytes of nibbles indexing a fixed table of 16 values; d · table[q].
    @inline(__always) static func iq4_NL(_ p: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = half(p, 0)
        for j in 0..<16 {
            let q = byte(p, 2 + j)
            y[j] = d * iq4Values[Int(q & 0x0F)]
            y[j + 16] = d * iq4Values[Int(q >> 4)]
        }
    }

    /// MXFP4: an e8m0 exponent byte (read as half its power of two), 16 bytes of e2m1 nibbles.
    @inline(__always) static func mxfp4(_ p: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let e = UInt32(byte(p, 0))
        let d = Float(bitPattern: e < 2 ? UInt32(0x0020_0000) << e : (e - 1) << 23)
        for j in 0..<16 {
            let q = byte(p, 1 + j)
            y[j] = d * fp4Values[Int(q & 0x0F)]
            y[j + 16] = d * fp4Values[Int(q >> 4)]
        }
    }

    /// NVFP4: four unsigned e4m3 scales (one per 16 values, halved), then 32 bytes of e2m1 nibbles:
    /// in each group of 8 bytes the low nibbles are values 0–7, the high ones 8–15.
    @inline(__always) static func nvfp4(_ p: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        for s in 0..<4 {
            let d = ue4m3Half(byte(p, s))
            for j in 0..<8 {
                let q = byte(p, 4 + s * 8 + j)
                y[s * 16 + j] = d * fp4Values[Int(q & 0x0F)]
                y[s * 16 + 8 + j] = d * fp4Values[Int(q >> 4)]
            }
        }
    }

    /// An unsigned e4m3 byte (bias 7, top bit ignored) times one half; 0 and 0x7F read as zero.
    static func ue4m3Half(_ x: UInt8) -> Float {
        if x == 0 || x == 0x7F { return 0 }
        let exponent = Int((x >> 3) & 0x0F)
        let mantissa = Float(x & 0x07)
        let raw = exponent == 0 ? mantissa * 0x1p-9 : (1 + mantissa / 8) * Float(sign: .plus, exponent: exponent - 7, significand: 1)
        return raw * 0.5
    }

    /// IQ4_NL's and IQ4_XS's 16 values.
    static let iq4Values: [Float] = [-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113]
    /// e2m1 values doubled (MXFP4, NVFP4).
    static let fp4Values: [Float] = [0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12]

    // MARK: - 256-element super-blocks (K and ternary types)

    /// Q2_K: 16 scale bytes (low nibble scales d, high nibble scales dmin), 64 bytes of 2-bit
    /// values, f16 d, f16 dmin; (d·sc) · q − (dmin·m) per group of 16 values. Value 16g + i
    /// sits in byte 32·(g / 8) + 16·(g % 2) + i, at bit 2·((g % 8) / 2).
    @inline(__always) static func q2_K(_ p: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = half(p, 80), dmin = half(p, 82)
        for g in 0..<16 {
            let scale = byte(p, g)
            let dl = d * Float(scale & 0x0F), ml = dmin * Float(scale >> 4)
            let row = p + 16 + (g / 8) * 32 + (g % 2) * 16
            let shift = UInt8(2 * ((g % 8) / 2))
            let out = y + g * 16
            for i in 0..<16 { out[i] = dl * Float((byte(row, i) >> shift) & 3) - ml }
        }
    }

    /// Q3_K: 32 bytes of high bits (a set bit means no −4), 64 bytes of 2-bit values, 12 bytes of
    /// 6-bit scales, f16 d; (d·(sc − 32)) · (q − 4·(1 − h)) per group of 16. Value 16g + i takes
    /// its low bits as Q2_K does and its high bit from bit g / 2 of byte 16·(g % 2) + i.
    @inline(__always) static func q3_K(_ p: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = half(p, 108)
        for g in 0..<16 {
            let low = (g < 8 ? byte(p, 96 + g) : byte(p, 96 + g - 8) >> 4) & 0x0F
            let high = (byte(p, 104 + g % 4) >> UInt8(2 * (g / 4))) & 0x03
            let dl = d * Float(Int8(low | high << 4) &- 32)
            let row = p + 32 + (g / 8) * 32 + (g % 2) * 16
            let mask = p + (g % 2) * 16
            let shift = UInt8(2 * ((g % 8) / 2)), bit = UInt8(g / 2)
            let out = y + g * 16
            for i in 0..<16 {
                let q = Int8((byte(row, i) >> shift) & 3) &- Int8((((byte(mask, i) >> bit) & 1) ^ 1) << 2)
                out[i] = dl * Float(q)
            }
        }
    }

    /// The 6-bit scale and min of sub-block `k` (0–7) of Q4_K and Q5_K, from their 12 bytes at `p`.
    @inline(__always) static func scaleMin(_ p: UnsafeRawPointer, _ k: Int) -> (UInt8, UInt8) {
        if k < 4 { return (byte(p, k) & 0x3F, byte(p, 4 + k) & 0x3F) }
        let j = k - 4
        return ((byte(p, 8 + j) & 0x0F) | ((byte(p, j) >> 2) & 0x30), (byte(p, 8 + j) >> 4) | ((byte(p, 4 + j) >> 2) & 0x30))
    }

    /// Q4_K: f16 d, f16 dmin, 12 bytes of scales and mins, 128 bytes of nibbles; (d·sc) · q − (dmin·m).
    @inline(__always) static func q4_K(_ p: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = half(p, 0), dmin = half(p, 2)
        for k in 0..<8 {
            let (sc, m) = scaleMin(p + 4, k)
            let scale = d * Float(sc), offset = dmin * Float(m)
            let shift = UInt8(4 * (k % 2))
            let row = p + 16 + (k / 2) * 32
            for l in 0..<32 { y[k * 32 + l] = scale * Float((byte(row, l) >> shift) & 0x0F) - offset }
        }
    }

    /// Q5_K: as Q4_K with 32 bytes of fifth bits (bit k of byte l for value l of sub-block k).
    @inline(__always) static func q5_K(_ p: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = half(p, 0), dmin = half(p, 2)
        for k in 0..<8 {
            let (sc, m) = scaleMin(p + 4, k)
            let scale = d * Float(sc), offset = dmin * Float(m)
            let shift = UInt8(4 * (k % 2))
            let row = p + 48 + (k / 2) * 32
            for l in 0..<32 {
                let q = ((byte(row, l) >> shift) & 0x0F) | (((byte(p, 16 + l) >> UInt8(k)) & 1) << 4)
                y[k * 32 + l] = scale * Float(q) - offset
            }
        }
    }

    /// Q6_K: 128 bytes of low nibbles, 64 bytes of high 2-bit pairs, 16 signed scales, f16 d;
    /// (d·sc) · (q − 32) per group of 16. In each half (128 values) value 32j + l takes its low
    /// nibble from byte 32·(j % 2) + l (high nibble when j ≥ 2) and its high bits from byte l, bits 2j.
    @inline(__always) static func q6_K(_ p: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = half(p, 208)
        for g in 0..<16 {
            let scale = d * Float(Int8(bitPattern: byte(p, 192 + g)))
            let halfIndex = g / 8, j = (g % 8) / 2, start = (g % 2) * 16
            let lows = p + halfIndex * 64 + (j % 2) * 32 + start
            let highs = p + 128 + halfIndex * 32 + start
            let lowShift = UInt8(4 * (j / 2)), highShift = UInt8(2 * j)
            let out = y + g * 16
            for i in 0..<16 {
                let q = ((byte(lows, i) >> lowShift) & 0x0F) | ((byte(highs, i) >> highShift) & 0x03) << 4
                out[i] = scale * Float(Int8(q) &- 32)
            }
        }
    }

    /// Q8_K: f32 d, 256 signed bytes, 16 block sums (unused here); d · q.
    @inline(__always) static func q8_K(_ p: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = Float(bitPattern: UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 0, as: UInt32.self)))
        for j in 0..<256 { y[j] = d * Float(Int8(bitPattern: byte(p, 4 + j))) }
    }

    /// TQ1_0: 48 bytes packing five ternary digits each, 4 bytes packing four, f16 d; d · (t − 1).
    @inline(__always) static func tq1_0(_ p: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = half(p, 52)
        let powers: (UInt8, UInt8, UInt8, UInt8, UInt8) = (1, 3, 9, 27, 81)
        @inline(__always) func trit(_ packed: UInt8, _ power: UInt8) -> Float {
            let scaled = packed &* power
            return Float(Int8(truncatingIfNeeded: (UInt16(scaled) &* 3) >> 8) &- 1)
        }
        withUnsafeBytes(of: powers) { power in
            for n in 0..<5 {
                for l in 0..<32 { y[n * 32 + l] = d * trit(byte(p, l), power[n]) }
                for l in 0..<16 { y[160 + n * 16 + l] = d * trit(byte(p, 32 + l), power[n]) }
            }
            for n in 0..<4 {
                for l in 0..<4 { y[240 + n * 4 + l] = d * trit(byte(p, 48 + l), power[n]) }
            }
        }
    }

    /// TQ2_0: 64 bytes of 2-bit values, f16 d; d · (q − 1).
    @inline(__always) static func tq2_0(_ p: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = half(p, 64)
        for chunk in 0..<2 {
            for shift in 0..<4 {
                for l in 0..<32 {
                    let q = (byte(p, chunk * 32 + l) >> UInt8(2 * shift)) & 3
                    y[chunk * 128 + shift * 32 + l] = d * Float(Int8(q) &- 1)
                }
            }
        }
    }

    /// IQ4_XS: f16 d, u16 of high scale bits, 4 bytes of low scale nibbles, 128 bytes of nibbles
    /// indexing the IQ4 table; (d·(sc − 32)) · table[q].
    @inline(__always) static func iq4_XS(_ p: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = half(p, 0)
        let high = UInt16(littleEndian: p.loadUnaligned(fromByteOffset: 2, as: UInt16.self))
        for k in 0..<8 {
            let low = (byte(p, 4 + k / 2) >> UInt8(4 * (k % 2))) & 0x0F
            let top = UInt8(truncatingIfNeeded: high >> UInt16(2 * k)) & 0x03
            let scale = d * Float(Int8(low | top << 4) &- 32)
            for l in 0..<16 {
                let q = byte(p, 8 + k * 16 + l)
                y[k * 32 + l] = scale * iq4Values[Int(q & 0x0F)]
                y[k * 32 + 16 + l] = scale * iq4Values[Int(q >> 4)]
            }
        }
    }
}
