import BinaryIO
import TensorData
import ZipFormat

/// Writes `.npy` files and `.npz` archives that `numpy.load(path, allow_pickle=False)` reads back
/// with the same names, dtypes and values (docs/formats.md, "NumPy").
///
/// Each array gets the header `numpy.save` writes for a C-ordered little-endian array, byte for
/// byte: format 1.0 (2.0 only if the header would not fit a 16-bit length), the dict
/// `{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }`, numpy's spare spaces for growing
/// the first axis, then spaces and a newline up to a multiple of 64 bytes. So a `.npy` written here
/// equals `numpy.save`'s file for the same array. An `.npz` holds one stored member `NAME.npy` per
/// tensor, as `numpy.savez` writes them (laid out by ``ZipWriter``, each member's data 64-byte
/// aligned). Output is streamed one tensor at a time through an ``OutputFile``.
public enum NumPyWriter {
    /// numpy's `GROWTH_AXIS_MAX_DIGITS`: room for the first axis to grow to 21 digits in place.
    static let growthAxisDigits = 21

    /// The preamble and header of a C-ordered little-endian array of `descr` and `shape`, exactly
    /// as `numpy.save` writes it.
    public static func header(descr: String, shape: [Int]) -> [UInt8] {
        var dict = "{'descr': '\(descr)', 'fortran_order': False, 'shape': \(NumPyProblem.tuple(shape)), }"
        if let first = shape.first { dict += String(repeating: " ", count: max(0, growthAxisDigits - String(first).count)) }
        let text = Array(dict.utf8)
        // The header ends with a newline; spaces before it make magic + version + length + header
        // a multiple of 64 (a whole 64 more when it already is).
        let length = text.count + 1
        var lengthBytes = 2, major: UInt8 = 1
        var padding = 64 - (6 + 2 + lengthBytes + length) % 64
        if length + padding > Int(UInt16.max) {
            lengthBytes = 4
            major = 2
            padding = 64 - (6 + 2 + lengthBytes + length) % 64
        }
        var bytes = NumPyHeader.magic + [major, 0]
        let total = UInt32(length + padding)
        for shift in stride(from: 0, to: lengthBytes * 8, by: 8) { bytes.append(UInt8(truncatingIfNeeded: total >> UInt32(shift))) }
        bytes += text
        bytes += [UInt8](repeating: 0x20, count: padding)
        bytes.append(0x0A)
        return bytes
    }

    /// The descr for `entry`'s dtype.
    ///
    /// - Throws: ``NumPyWriteError/unrepresentableDType(tensor:dtype:)`` when numpy has no such dtype.
    static func descr(for entry: TensorEntry) throws -> String {
        guard let descr = NumPyDType.descr(for: entry.dtype) else {
            throw NumPyWriteError.unrepresentableDType(tensor: entry.name, dtype: entry.dtype)
        }
        _ = try RawTensor.byteCount(dtype: entry.dtype, shape: entry.shape)
        return descr
    }

    /// Streams one array to a `.npy` file at `path`.
    ///
    /// - Parameters:
    ///   - entry: the tensor (its name is not stored: a `.npy` holds one unnamed array).
    ///   - overwrite: replace an existing file (`--force`).
    ///   - tensorBytes: the tensor's bytes, little-endian and row-major.
    /// - Throws: ``NumPyWriteError``, `FileError`, or whatever `tensorBytes` throws; nothing is
    ///   left at `path` on failure.
    public static func writeNpy(to path: String, entry: TensorEntry, overwrite: Bool, tensorBytes: () throws -> TensorBytes) throws {
        let header = header(descr: try descr(for: entry), shape: entry.shape.dimensions)
        let output = try OutputFile(path: path, overwrite: overwrite)
        try output.write(header)
        let bytes = try tensorBytes()
        guard bytes.count == entry.byteCount else {
            throw TensorDataError.byteCountMismatch(dtype: entry.dtype, shape: entry.shape, expected: entry.byteCount, found: bytes.count)
        }
        try bytes.withUnsafeBytes { try output.write($0) }
        try output.commit()
    }

    /// Streams an `.npz` archive to `path`: one stored member `NAME.npy` per entry, in order.
    ///
    /// - Parameters:
    ///   - entries: the tensors (names, dtypes, shapes).
    ///   - overwrite: replace an existing file (`--force`).
    ///   - tensorBytes: the bytes of entry `i`; called once per tensor, in order.
    ///   - didWrite: called after entry `i` has been written (lets the source drop its pages).
    /// - Throws: ``NumPyWriteError`` (checked for every entry before anything is written), a
    ///   `ZipError` for a name a zip cannot hold, `FileError`, or whatever `tensorBytes` throws;
    ///   nothing is left at `path` on failure.
    public static func writeNpz(
        to path: String, entries: [TensorEntry], overwrite: Bool, tensorBytes: (Int) throws -> TensorBytes,
        didWrite: (Int) -> Void = { _ in }
    ) throws {
        let headers = try entries.map { header(descr: try descr(for: $0), shape: $0.shape.dimensions) }
        let output = try OutputFile(path: path, overwrite: overwrite)
        let zip = ZipWriter(output: output)
        for (index, entry) in entries.enumerated() {
            try zip.beginEntry(name: entry.name + ".npy", byteCount: headers[index].count + entry.byteCount)
            try zip.write(headers[index])
            let bytes = try tensorBytes(index)
            guard bytes.count == entry.byteCount else {
                throw TensorDataError.byteCountMismatch(dtype: entry.dtype, shape: entry.shape, expected: entry.byteCount, found: bytes.count)
            }
            try bytes.withUnsafeBytes { try zip.write($0) }
            try zip.endEntry()
            didWrite(index)
        }
        try zip.finish()
        try output.commit()
    }
}

/// A tensor that a `.npy` or `.npz` cannot hold.
public enum NumPyWriteError: Error, Equatable, CustomStringConvertible {
    /// numpy has no dtype for this tensor's (bfloat16, the 8-, 6- and 4-bit floats, complex32).
    case unrepresentableDType(tensor: String, dtype: DType)

    public var description: String {
        switch self {
        case .unrepresentableDType(let tensor, let dtype):
            let name = dtype.torchName ?? dtype.rawValue.lowercased()
            let hint = dtype.isCastableFloat ? " (cast it with --dtype f32 or f16)" : ""
            return "tensor \(tensor.quotedForMessage): \(name) has no NumPy dtype\(hint)"
        }
    }
}
