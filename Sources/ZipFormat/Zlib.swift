import CZlib

/// zlib's CRC-32, fed in pieces because its length parameter is 32 bits.
public enum CRC32 {
    /// Chunk size for zlib calls (well under 4 GiB).
    static let chunkByteCount = 1 << 30

    /// The CRC-32 of `bytes`, continuing from `initial` (the CRC of the bytes before them).
    public static func checksum(_ bytes: UnsafeRawBufferPointer, continuing initial: UInt32 = 0) -> UInt32 {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return initial }
        var crc = UInt(initial)
        var offset = 0
        while offset < bytes.count {
            let chunk = min(bytes.count - offset, chunkByteCount)
            // SAFETY: offset + chunk <= bytes.count.
            crc = crc32(crc, (base + offset).assumingMemoryBound(to: Bytef.self), uInt(chunk))
            offset += chunk
        }
        return UInt32(truncatingIfNeeded: crc)
    }
}

/// Raw (headerless) DEFLATE decoding with zlib into a buffer of exactly the declared size.
enum RawInflater {
    enum Outcome: Equatable {
        /// The stream ended after filling the buffer exactly and using all the input.
        case complete
        /// The stream produces more than the buffer holds.
        case tooLong
        /// The stream ended early, after `produced` bytes.
        case tooShort(produced: Int)
        /// The input ended before the stream did.
        case inputExhausted
        /// The stream ended after `consumed` bytes of input, leaving the rest unused.
        case trailingInput(consumed: Int)
        /// zlib reported an error.
        case corrupt(String)
    }

    /// Chunk size for zlib calls (its counters are 32 bits).
    static let chunkByteCount = 1 << 30

    static func inflate(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) -> Outcome {
        var stream = z_stream()
        let status = inflateInit2_(&stream, -MAX_WBITS, zlibVersion(), Int32(MemoryLayout<z_stream>.size))
        guard status == Z_OK else { return .corrupt("inflateInit2 failed with status \(status)") }
        defer { inflateEnd(&stream) }

        // One spare byte: if the stream writes into it, it is longer than declared.
        var spare: UInt8 = 0
        var inputOffset = 0
        var outputOffset = 0
        var probingForExcess = false
        while true {
            if stream.avail_in == 0, inputOffset < input.count, let base = input.baseAddress {
                let chunk = min(input.count - inputOffset, chunkByteCount)
                // SAFETY: zlib only reads next_in; inputOffset + chunk <= input.count.
                stream.next_in = UnsafeMutablePointer(mutating: (base + inputOffset).assumingMemoryBound(to: Bytef.self))
                stream.avail_in = uInt(chunk)
                inputOffset += chunk
            }
            if stream.avail_out == 0 {
                if outputOffset < output.count, let base = output.baseAddress {
                    let chunk = min(output.count - outputOffset, chunkByteCount)
                    // SAFETY: outputOffset + chunk <= output.count.
                    stream.next_out = (base + outputOffset).assumingMemoryBound(to: Bytef.self)
                    stream.avail_out = uInt(chunk)
                    outputOffset += chunk
                } else if !probingForExcess {
                    probingForExcess = true
                    stream.avail_out = 1
                } else {
                    return .tooLong
                }
            }
            let result: Int32 = withUnsafeMutablePointer(to: &spare) { sparePointer in
                if probingForExcess { stream.next_out = sparePointer }
                return CZlib.inflate(&stream, Z_NO_FLUSH)
            }
            if probingForExcess && stream.avail_out == 0 { return .tooLong }
            switch result {
            case Z_STREAM_END:
                let produced = Int(stream.total_out)
                guard produced == output.count else { return .tooShort(produced: produced) }
                let unused = Int(stream.avail_in) + (input.count - inputOffset)
                guard unused == 0 else { return .trailingInput(consumed: input.count - unused) }
                return .complete
            case Z_OK:
                continue
            case Z_BUF_ERROR:
                // No progress possible: output space was given, so the input has run out.
                if stream.avail_in == 0 && inputOffset == input.count { return .inputExhausted }
                return .corrupt("zlib made no progress")
            case Z_NEED_DICT:
                return .corrupt("the stream needs a preset dictionary")
            default:
                let message = stream.msg.map { String(cString: $0) } ?? "zlib status \(result)"
                return .corrupt(message)
            }
        }
    }
}
