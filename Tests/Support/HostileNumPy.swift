// Byte builders for hostile NumPy files: a `.npy` assembled from its parts (magic, version,
// length field, header text, data), so each test can break exactly one of them. `.npz` archives
// are built with ``TorchZip`` (any member names, stored or deflated). Layout: docs/formats.md,
// "NumPy". Nothing here uses the code under test.

/// A `.npy` file built part by part.
public enum NPY {
    /// `\x93NUMPY`.
    public static let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]

    /// The header dict numpy writes (keys sorted, `repr` values, a trailing `, `).
    public static func dict(descr: String, fortranOrder: Bool = false, shape: String) -> String {
        "{'descr': '\(descr)', 'fortran_order': \(fortranOrder ? "True" : "False"), 'shape': \(shape), }"
    }

    /// A whole file: magic, version, the length field, `header` padded with spaces and a newline
    /// so the data starts on a 64-byte boundary (as numpy pads), then `data`.
    public static func file(_ header: String, data: [UInt8] = [], major: UInt8 = 1) -> [UInt8] {
        let text = Array(header.utf8)
        let prefix = major == 1 ? 10 : 12
        let padding = 64 - (prefix + text.count + 1) % 64
        let body = text + [UInt8](repeating: 0x20, count: padding) + [0x0A]
        return raw(major: major, length: UInt32(body.count), header: body, data: data)
    }

    /// Magic, version `major.minor`, a length field of the version's width holding `length`
    /// (whatever the header really holds), the header bytes and the data.
    public static func raw(major: UInt8, minor: UInt8 = 0, length: UInt32, header: [UInt8], data: [UInt8] = []) -> [UInt8] {
        let lengthField = major == 1 ? P.le(UInt16(truncatingIfNeeded: length)) : P.le(length)
        return magic + [major, minor] + lengthField + header + data
    }

    /// The offset of the first header byte for a format version.
    public static func headerStart(major: UInt8 = 1) -> Int { major == 1 ? 10 : 12 }
}
