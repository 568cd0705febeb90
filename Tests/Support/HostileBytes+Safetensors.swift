/// Byte-by-byte safetensors files for hostile-input tests: the 8-byte length, the header bytes
/// exactly as given (no re-encoding, so invalid UTF-8 and raw control bytes survive), the data.
public enum ST {
    /// A file from header bytes and data.
    public static func file(_ header: [UInt8], data: [UInt8] = []) -> [UInt8] {
        withUnsafeBytes(of: UInt64(header.count).littleEndian) { Array($0) } + header + data
    }

    /// A file from header text (UTF-8) and data.
    public static func file(_ header: String, data: [UInt8] = []) -> [UInt8] { file(Array(header.utf8), data: data) }

    /// `"name":{"dtype":"U8","shape":[count],"data_offsets":[begin,begin+count]}` with `name`
    /// given as raw key bytes (between the quotes, escapes included as written).
    public static func u8Entry(key: [UInt8], begin: Int, count: Int) -> [UInt8] {
        [0x22] + key + Array("\":{\"dtype\":\"U8\",\"shape\":[\(count)],\"data_offsets\":[\(begin),\(begin + count)]}".utf8)
    }

    /// `{` + entries joined by `,` + `}`.
    public static func object(_ members: [[UInt8]]) -> [UInt8] {
        var out: [UInt8] = [0x7B]
        for (k, member) in members.enumerated() {
            if k > 0 { out.append(0x2C) }
            out += member
        }
        return out + [0x7D]
    }
}
