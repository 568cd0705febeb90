import Foundation
import Testing
import TensorData
import TestSupport

@Suite("Half precision and float8 conversions")
struct HalfPrecisionTests {
    struct Rounding: Decodable {
        let f32_bits: [UInt32], f16_bits: [UInt16], bf16_bits: [UInt16]
        let nan_f32_bits: [UInt32], nan_f16_bits: [UInt16], nan_bf16_bits: [UInt16]
    }

    static func rounding() throws -> Rounding {
        try JSONDecoder().decode(Rounding.self, from: Data(contentsOf: Fixture.url("dtypes/rounding.json")))
    }

    @Test("float32 to float16 and bfloat16 round exactly as torch does")
    func matchesTorch() throws {
        let r = try Self.rounding()
        #expect(r.f32_bits.count > 300)
        for (i, bits) in r.f32_bits.enumerated() {
            let value = Float(bitPattern: bits)
            #expect(HalfPrecision.halfBits(from: value) == r.f16_bits[i], "f16 of \(value)")
            #expect(HalfPrecision.bfloat16Bits(from: value) == r.bf16_bits[i], "bf16 of \(value)")
        }
        for (i, bits) in r.nan_f32_bits.enumerated() {
            #expect(HalfPrecision.halfBits(from: Float(bitPattern: bits)) == r.nan_f16_bits[i])
            #expect(HalfPrecision.bfloat16Bits(from: Float(bitPattern: bits)) == r.nan_bf16_bits[i])
        }
    }

    @Test("every float16 pattern widens exactly")
    func halfToFloatExhaustive() {
        for bits in UInt16.min...UInt16.max {
            let reference = Float(Float16(bitPattern: bits))
            let ours = HalfPrecision.float(fromHalfBits: bits)
            if reference.isNaN {
                #expect(ours.isNaN)
            } else if ours.bitPattern != reference.bitPattern {
                Issue.record("f16 0x\(String(bits, radix: 16)): \(ours) != \(reference)")
            }
        }
    }

    @Test("narrowing agrees with Swift's Float16 on a sweep of float32 patterns")
    func floatToHalfSweep() {
        var bits: UInt32 = 0
        while bits < 0xFF80_0000 {
            let value = Float(bitPattern: bits)
            if !value.isNaN, HalfPrecision.halfBits(from: value) != Float16(value).bitPattern {
                Issue.record("f32 0x\(String(bits, radix: 16))")
                return
            }
            bits &+= 0x1F3
        }
    }

    struct Float8Tables: Decodable { let tables: [String: [Float8Value]] }
    enum Float8Value: Decodable {
        case value(Float), nan, infinity(Bool)
        init(from decoder: Decoder) throws {
            let c = try decoder.singleValueContainer()
            if c.decodeNil() { self = .nan } else if let s = try? c.decode(String.self) { self = .infinity(s.hasPrefix("-")) } else { self = .value(try c.decode(Float.self)) }
        }
    }

    @Test("8-bit float decoding matches torch for all 256 codes", arguments: ["F8_E4M3", "F8_E5M2", "F8_E8M0", "F8_E4M3FNUZ", "F8_E5M2FNUZ"])
    func float8(name: String) throws {
        let tables = try JSONDecoder().decode(Float8Tables.self, from: Data(contentsOf: Fixture.url("dtypes/float8_tables.json")))
        let dtype = try #require(DType(safetensorsName: name))
        let expected = try #require(tables.tables[name])
        let codes = (0...255).map(UInt8.init)
        let decoded = codes.withUnsafeBytes { ElementCodec.decode($0, dtype: dtype) }
        for code in 0..<256 {
            switch expected[code] {
            case .nan: #expect(decoded[code].isNaN, "code \(code)")
            case .infinity(let negative): #expect(decoded[code] == (negative ? -Float.infinity : .infinity), "code \(code)")
            case .value(let v): #expect(decoded[code] == v, "code \(code)")
            }
            // Encoding a decoded finite value returns a code with the same value.
            if decoded[code].isFinite {
                var out: UInt8 = 0
                let value = [decoded[code]]
                value.withUnsafeBufferPointer { v in withUnsafeMutableBytes(of: &out) { ElementCodec.encode(v, as: dtype, into: $0) } }
                let back = withUnsafeBytes(of: out) { ElementCodec.decode($0, dtype: dtype)[0] }
                #expect(back == decoded[code], "code \(code) re-encoded as \(out)")
            }
        }
    }

    @Test("casts between float types and non-finite counts")
    func castsAndCounts() {
        let values: [Float] = [1, -2.5, .infinity, .nan, 65520, 1e-9]
        var f16 = [UInt16](repeating: 0, count: values.count)
        values.withUnsafeBytes { src in f16.withUnsafeMutableBytes { ElementCodec.cast(src, from: .f32, to: .f16, into: $0) } }
        #expect(f16.map { HalfPrecision.float(fromHalfBits: $0) }.prefix(2) == [1, -2.5])
        #expect(f16[4] == 0x7C00, "65520 rounds to infinity in float16")
        let count = f16.withUnsafeBytes { ElementCodec.nonFiniteCount($0, dtype: .f16) }
        #expect(count == 3)
        var f64 = [Double](repeating: 0, count: values.count)
        values.withUnsafeBytes { src in f64.withUnsafeMutableBytes { ElementCodec.cast(src, from: .f32, to: .f64, into: $0) } }
        #expect(f64[1] == -2.5)
        #expect(f64.withUnsafeBytes { ElementCodec.nonFiniteCount($0, dtype: .f64) } == 2)
    }

    @Test("integer encoding truncates toward zero and saturates")
    func integerEncoding() {
        var out = [Int8](repeating: 0, count: 4)
        let values: [Float] = [1.9, -1.9, 300, -300]
        values.withUnsafeBufferPointer { v in out.withUnsafeMutableBytes { ElementCodec.encode(v, as: .i8, into: $0) } }
        #expect(out == [1, -1, 127, -128])
    }
}
