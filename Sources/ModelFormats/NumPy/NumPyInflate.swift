import CZlib
import ZipFormat

/// Inflates only the start of a deflated `.npz` member: its preamble and header, so the arrays
/// can be listed without inflating their data (the whole member is inflated, within the archive's
/// budget and CRC-checked, only when its tensor is read).
enum NumPyInflate {
    /// Chunk size for zlib calls (its counters are 32 bits).
    private static let chunkByteCount = 1 << 30

    /// The first `count` bytes the raw deflate stream `input` produces (fewer if it ends sooner).
    ///
    /// - Throws: ``ZipError/deflateStreamCorrupt(entry:dataOffset:zlibMessage:)`` or
    ///   ``ZipError/deflateStreamTruncated(entry:dataOffset:compressedByteCount:)``, naming `entry`.
    static func prefix(of input: UnsafeRawBufferPointer, count: Int, entry: ZipEntry) throws(ZipError) -> [UInt8] {
        var output = [UInt8](repeating: 0, count: count)
        guard count > 0 else { return output }
        var stream = z_stream()
        let status = inflateInit2_(&stream, -MAX_WBITS, zlibVersion(), Int32(MemoryLayout<z_stream>.size))
        guard status == Z_OK else {
            throw .deflateStreamCorrupt(entry: entry.name, dataOffset: entry.dataOffset, zlibMessage: "inflateInit2 failed with status \(status)")
        }
        defer { inflateEnd(&stream) }
        var inputOffset = 0
        var produced = 0
        let result: Result<Int, ZipError> = output.withUnsafeMutableBytes { buffer in
            guard let target = buffer.baseAddress else { return .success(0) }
            while produced < count {
                if stream.avail_in == 0, inputOffset < input.count, let base = input.baseAddress {
                    let chunk = min(input.count - inputOffset, chunkByteCount)
                    // SAFETY: zlib only reads next_in; inputOffset + chunk <= input.count.
                    stream.next_in = UnsafeMutablePointer(mutating: (base + inputOffset).assumingMemoryBound(to: Bytef.self))
                    stream.avail_in = uInt(chunk)
                    inputOffset += chunk
                }
                // SAFETY: produced < count = buffer.count.
                stream.next_out = (target + produced).assumingMemoryBound(to: Bytef.self)
                stream.avail_out = uInt(count - produced)
                let code = inflate(&stream, Z_NO_FLUSH)
                produced = count - Int(stream.avail_out)
                switch code {
                case Z_STREAM_END: return .success(produced)
                case Z_OK: continue
                case Z_BUF_ERROR:
                    if stream.avail_in == 0 && inputOffset == input.count {
                        return .failure(.deflateStreamTruncated(entry: entry.name, dataOffset: entry.dataOffset, compressedByteCount: input.count))
                    }
                    return .failure(.deflateStreamCorrupt(entry: entry.name, dataOffset: entry.dataOffset, zlibMessage: "zlib made no progress"))
                default:
                    let message = stream.msg.map { String(cString: $0) } ?? "zlib status \(code)"
                    return .failure(.deflateStreamCorrupt(entry: entry.name, dataOffset: entry.dataOffset, zlibMessage: message))
                }
            }
            return .success(produced)
        }
        let length = try result.get()
        output.removeSubrange(length...)
        return output
    }
}
