import TensorData

// NumPy dtype strings (`dtype.str`, docs/formats.md "NumPy"): a byte order (`<` little, `>` big,
// `|` not applicable, `=` native), a type code and a size in bytes: `|b1`, `|i1`, `<i2` … `<i8`,
// `|u1` … `<u8`, `<f2`, `<f4`, `<f8`, `<c8`, `<c16`. modelfile runs on little-endian hosts only, so
// native order is little-endian. Every other dtype is refused by the name numpy gives it.

/// Maps NumPy dtype strings to and from ``DType``.
public enum NumPyDType {
    /// A readable dtype: the element type and whether its bytes are big-endian.
    public struct Resolved: Sendable, Equatable {
        /// The element type.
        public let dtype: DType
        /// Whether the stored bytes are big-endian (swapped to little-endian on read).
        public let isBigEndian: Bool
    }

    /// The dtype `descr` names, or the refusal.
    ///
    /// - Throws: ``NumPyProblem/unsupportedDType(descr:name:)`` for a dtype numpy has but modelfile
    ///   does not read, ``NumPyProblem/objectArray(descr:)``, ``NumPyProblem/structuredDType``,
    ///   ``NumPyProblem/subarrayDType`` or ``NumPyProblem/unknownDescr(_:)``.
    public static func resolve(_ descr: NumPyDescr) throws(NumPyProblem) -> Resolved {
        switch descr {
        case .structured(let objects): throw objects ? .objectArray(descr: "[…]") : .structuredDType
        case .subarray(let objects): throw objects ? .objectArray(descr: "(…)") : .subarrayDType
        case .string(let text): return try resolve(text)
        }
    }

    /// The dtype the descr string `text` names.
    ///
    /// - Throws: see ``resolve(_:)-(NumPyDescr)``.
    public static func resolve(_ text: String) throws(NumPyProblem) -> Resolved {
        let utf8 = Array(text.utf8)
        guard let order = utf8.first, [UInt8(ascii: "<"), UInt8(ascii: ">"), UInt8(ascii: "|"), UInt8(ascii: "=")].contains(order),
              utf8.count >= 2
        else { throw .unknownDescr(text) }
        let code = utf8[1]
        let rest = String(decoding: utf8[2...], as: UTF8.self)
        // A size is 1 to 4 decimal digits without a leading zero.
        let isSize = !rest.isEmpty && rest.utf8.count <= 4 && rest.utf8.first != UInt8(ascii: "0")
            && rest.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") })
        let size = isSize ? Int(rest) : nil
        let bigEndian = order == UInt8(ascii: ">")
        switch (Character(Unicode.Scalar(code)), size) {
        case ("b", 1): return Resolved(dtype: .bool, isBigEndian: false)
        case ("i", 1): return Resolved(dtype: .i8, isBigEndian: false)
        case ("i", 2): return Resolved(dtype: .i16, isBigEndian: bigEndian)
        case ("i", 4): return Resolved(dtype: .i32, isBigEndian: bigEndian)
        case ("i", 8): return Resolved(dtype: .i64, isBigEndian: bigEndian)
        case ("u", 1): return Resolved(dtype: .u8, isBigEndian: false)
        case ("u", 2): return Resolved(dtype: .u16, isBigEndian: bigEndian)
        case ("u", 4): return Resolved(dtype: .u32, isBigEndian: bigEndian)
        case ("u", 8): return Resolved(dtype: .u64, isBigEndian: bigEndian)
        case ("f", 2): return Resolved(dtype: .f16, isBigEndian: bigEndian)
        case ("f", 4): return Resolved(dtype: .f32, isBigEndian: bigEndian)
        case ("f", 8): return Resolved(dtype: .f64, isBigEndian: bigEndian)
        case ("c", 8): return Resolved(dtype: .c64, isBigEndian: bigEndian)
        case ("c", 16): return Resolved(dtype: .c128, isBigEndian: bigEndian)
        case ("f", 12), ("f", 16): throw .unsupportedDType(descr: text, name: "float\(size.map { $0 * 8 } ?? 0) (long double)")
        case ("c", 24), ("c", 32): throw .unsupportedDType(descr: text, name: "complex\(size.map { $0 * 8 } ?? 0) (long double complex)")
        case ("O", _) where size == nil || size == 8 || size == 4: throw .objectArray(descr: text)
        default: break
        }
        if let name = namedRefusal(code: code, rest: rest, size: size) { throw .unsupportedDType(descr: text, name: name) }
        throw .unknownDescr(text)
    }

    /// The names numpy gives the non-numeric dtypes it writes: `datetime64[ns]`, `timedelta64[s]`,
    /// `str (UTF-32, 5 characters)`, `bytes (3 bytes)`, `void (8 bytes)`.
    private static func namedRefusal(code: UInt8, rest: String, size: Int?) -> String? {
        switch code {
        case UInt8(ascii: "M"), UInt8(ascii: "m"):
            let base = code == UInt8(ascii: "M") ? "datetime64" : "timedelta64"
            guard rest.hasPrefix("8") else { return nil }
            let unit = rest.dropFirst()
            if unit.isEmpty { return base }
            guard unit.first == "[", unit.last == "]", unit.count <= 16 else { return nil }
            return base + unit
        case UInt8(ascii: "U"):
            return size.map { "str (UTF-32, \($0) characters)" }
        case UInt8(ascii: "S"), UInt8(ascii: "a"):
            return size.map { "bytes (\($0) bytes)" }
        case UInt8(ascii: "V"):
            return size.map { "void (\($0) bytes)" }
        default:
            return nil
        }
    }

    /// Whether the descr string is an object type (`|O`, `<O8`, …), whose data is a pickle.
    static func isObjectCode(_ text: String) -> Bool {
        let utf8 = Array(text.utf8)
        guard let first = utf8.first else { return false }
        let code = [UInt8(ascii: "<"), UInt8(ascii: ">"), UInt8(ascii: "|"), UInt8(ascii: "=")].contains(first) ? utf8.dropFirst() : utf8[...]
        guard code.first == UInt8(ascii: "O") else { return false }
        let size = code.dropFirst()
        return size.isEmpty || size.elementsEqual("8".utf8) || size.elementsEqual("4".utf8)
    }

    /// The descr numpy writes for `dtype` (`dtype.str` of the matching numpy dtype), or `nil` when
    /// numpy has no such dtype (bfloat16, the 8-, 6- and 4-bit floats, complex32).
    public static func descr(for dtype: DType) -> String? {
        switch dtype {
        case .bool: return "|b1"
        case .u8: return "|u1"
        case .i8: return "|i1"
        case .i16: return "<i2"
        case .u16: return "<u2"
        case .f16: return "<f2"
        case .i32: return "<i4"
        case .u32: return "<u4"
        case .f32: return "<f4"
        case .c64: return "<c8"
        case .f64: return "<f8"
        case .i64: return "<i8"
        case .u64: return "<u8"
        case .c128: return "<c16"
        case .bf16, .f4, .f6e2m3, .f6e3m2, .f8e5m2, .f8e4m3, .f8e8m0, .f8e4m3fnuz, .f8e5m2fnuz, .c32: return nil
        }
    }
}
