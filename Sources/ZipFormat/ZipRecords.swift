// Fixed record layouts from PKWARE's APPNOTE.TXT (sections 4.3.7, 4.3.9, 4.3.12, 4.3.14-4.3.16,
// 4.5.3), as written by torch's miniz-based PyTorchStreamWriter
// (pytorch/pytorch caffe2/serialize/inline_container.cc).

/// Record signatures, as read little-endian.
enum ZipSignature {
    static let localHeader: UInt32 = 0x0403_4B50
    static let dataDescriptor: UInt32 = 0x0807_4B50
    static let centralDirectoryHeader: UInt32 = 0x0201_4B50
    static let zip64EndRecord: UInt32 = 0x0606_4B50
    static let zip64Locator: UInt32 = 0x0706_4B50
    static let endRecord: UInt32 = 0x0605_4B50
}

/// Fixed sizes of the records, before their variable-length parts.
enum ZipRecordSize {
    static let localHeader = 30
    static let centralDirectoryHeader = 46
    static let zip64EndRecord = 56
    static let zip64Locator = 20
    static let endRecord = 22
    /// The longest archive comment, hence how far back the end record can start.
    static let maxComment = 0xFFFF
}

/// General-purpose flag bits.
enum ZipFlag {
    /// Bit 0: traditional encryption.
    static let encrypted: UInt16 = 0x0001
    /// Bit 3: CRC and sizes follow the data in a data descriptor.
    static let dataDescriptor: UInt16 = 0x0008
    /// Bit 6: strong encryption.
    static let strongEncryption: UInt16 = 0x0040
    /// Bit 11: the name is UTF-8.
    static let utf8: UInt16 = 0x0800
}

/// Extra-field header IDs.
enum ZipExtraID {
    /// Zip64 extended information.
    static let zip64: UInt16 = 0x0001
    /// torch's alignment padding ("FB", bytes 46 42), filled with `'Z'`.
    static let torchPadding: UInt16 = 0x4246
}

/// Values that mean "see the zip64 record or extra field".
enum ZipSentinel {
    static let u16: UInt16 = 0xFFFF
    static let u32: UInt32 = 0xFFFF_FFFF
}

extension UnsafeRawBufferPointer {
    // These read at offsets the caller has already checked against `count` (in subtraction form);
    // `loadUnaligned` keeps any offset safe for alignment.

    /// The little-endian `UInt16` at `offset`; the caller has checked `offset + 2 <= count`.
    @inline(__always)
    func le16(at offset: Int) -> UInt16 {
        UInt16(littleEndian: loadUnaligned(fromByteOffset: offset, as: UInt16.self))
    }

    /// The little-endian `UInt32` at `offset`; the caller has checked `offset + 4 <= count`.
    @inline(__always)
    func le32(at offset: Int) -> UInt32 {
        UInt32(littleEndian: loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }

    /// The little-endian `UInt64` at `offset`; the caller has checked `offset + 8 <= count`.
    @inline(__always)
    func le64(at offset: Int) -> UInt64 {
        UInt64(littleEndian: loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }

    /// Bytes `start..<start + count` without copying; the caller has checked the range.
    @inline(__always)
    func slice(_ start: Int, _ count: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: self[start..<(start + count)])
    }
}

/// Little-endian field appender for headers the writer emits.
struct ZipFieldWriter {
    var bytes: [UInt8] = []

    init(reservingCapacity capacity: Int = 0) {
        bytes.reserveCapacity(capacity)
    }

    mutating func u16(_ value: UInt16) {
        bytes.append(UInt8(truncatingIfNeeded: value))
        bytes.append(UInt8(truncatingIfNeeded: value >> 8))
    }

    mutating func u32(_ value: UInt32) {
        for shift in stride(from: 0, to: 32, by: 8) { bytes.append(UInt8(truncatingIfNeeded: value >> UInt32(shift))) }
    }

    mutating func u64(_ value: UInt64) {
        for shift in stride(from: 0, to: 64, by: 8) { bytes.append(UInt8(truncatingIfNeeded: value >> UInt64(shift))) }
    }

    mutating func append<S: Sequence>(_ sequence: S) where S.Element == UInt8 {
        bytes.append(contentsOf: sequence)
    }

    mutating func append(repeating byte: UInt8, count: Int) {
        bytes.append(contentsOf: repeatElement(byte, count: count))
    }
}
