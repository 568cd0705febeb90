import BinaryIO
import TensorData
import ZipFormat

/// A NumPy `.npy` file (one array, named after the file's stem) or `.npz` archive (a zip of
/// `.npy` members, stored or deflated; each array named after its member without `.npy`), read
/// without loading anything but the headers until a tensor is asked for (docs/formats.md, "NumPy").
///
/// Every header is checked on open, before any allocation that depends on it: the magic, the
/// version (1.0, 2.0, 3.0), the header length against the bytes present, the header literal, the
/// dtype (numeric dtypes only; object arrays, whose data is a pickle, are refused and never
/// loaded), and that the data after the header is exactly the shape's element count × item size.
/// Little-endian C-ordered data is read zero-copy from the mapping (or from the inflated member);
/// big-endian data is byte-swapped and Fortran-ordered data transposed into a new buffer.
public final class NumPyFile: ReadBudgeted {
    /// One array of the file, as its header describes it.
    public struct StoredArray: Sendable, Equatable {
        /// The tensor name: the file's stem, or the member name without `.npy`.
        public let name: String
        /// The `.npz` member holding it, or `nil` for a `.npy` file.
        public let member: String?
        /// The parsed header.
        public let header: NumPyHeader
        /// The element type.
        public let dtype: DType
        /// Whether the stored bytes are big-endian.
        public let isBigEndian: Bool
        /// The size of the data after the header.
        public let byteCount: Int
        /// The member's index in the archive, for an `.npz`.
        let memberIndex: Int?
    }

    /// The path the file was opened from.
    public let path: String
    /// The detected format.
    public let format: ModelFormat
    /// The arrays, in file order (the archive's central directory order for an `.npz`).
    public let arrays: [StoredArray]
    /// Every tensor, in file order.
    public let entries: [TensorEntry]
    /// None: the format has nothing to warn about.
    public var warnings: [ModelFileWarning] { [] }
    /// Always `nil`: the format has no string metadata.
    public var metadata: [ExactString: String]? { nil }
    /// Bytes on disk.
    public var fileByteCount: Int { file.count }
    /// Everything this read materialises: every tensor handed out and every member inflated
    /// (``ReadOptions/maxMaterializedBytes`` beyond twice the file's size).
    public let readBudget: ReadBudget

    private let file: MappedFile
    private let archive: ZipArchive?
    private var verifiedMembers = Set<Int>()

    /// Opens `path`, a `.npy` file or an `.npz` archive (judged from its content).
    ///
    /// - Throws: `FileError` if it cannot be mapped, ``NumPyError`` naming the member and byte
    ///   offset at fault, `UnrecognizedFormatError` if it is neither.
    public init(path: String, options: ReadOptions = ReadOptions()) throws {
        self.path = path
        file = try MappedFile(path: path)
        readBudget = ReadBudget(fileByteCount: file.count, limit: options.maxMaterializedBytes)
        switch try FormatDetector.detect(bytes: file.bytes) {
        case .numpyArray:
            format = .numpyNpy
            archive = nil
            arrays = [try NumPyFile.readArray(file.bytes, name: NumPyFile.stem(of: path), member: nil, memberIndex: nil,
                                              dataByteCount: nil, options: options)]
        case .numpyArchive:
            format = .numpyNpz
            let opened: ZipArchive
            do {
                opened = try ZipArchive(file: file, limits: options.zipLimits)
            } catch {
                throw NumPyError(.zip(error))
            }
            archive = opened
            arrays = try NumPyFile.readMembers(opened, options: options)
        default:
            throw UnrecognizedFormatError(looksLike: "not a NumPy .npy or .npz file")
        }
        entries = arrays.map { TensorEntry(name: $0.name, dtype: $0.dtype, shape: Shape($0.header.shape)) }
    }

    /// The tensor name of a `.npy` file: its last path component without the extension.
    static func stem(of path: String) -> String {
        let name = path.split(separator: "/", omittingEmptySubsequences: true).last.map(String.init) ?? path
        guard let dot = name.lastIndex(of: "."), dot != name.startIndex else { return name }
        return String(name[..<dot])
    }

    /// Every member's header, checked; members must be `.npy` arrays.
    private static func readMembers(_ archive: ZipArchive, options: ReadOptions) throws -> [StoredArray] {
        var arrays: [StoredArray] = []
        arrays.reserveCapacity(archive.entries.count)
        for entry in archive.entries {
            guard entry.name.hasSuffix(".npy") else { throw NumPyError(member: entry.name, .notAnArrayMember) }
            let prefix: [UInt8]
            do {
                prefix = try memberPrefix(archive, entry)
            } catch {
                throw NumPyError(member: entry.name, .zip(error))
            }
            let name = String(entry.name.dropLast(4))
            let array = try prefix.withUnsafeBytes { bytes in
                try readArray(bytes, name: name, member: entry.name, memberIndex: entry.index,
                              dataByteCount: entry.uncompressedByteCount, options: options)
            }
            arrays.append(array)
        }
        return arrays
    }

    /// The first bytes of a member, enough for any preamble and header: read in place when stored,
    /// inflated only that far when deflated.
    static func memberPrefix(_ archive: ZipArchive, _ entry: ZipEntry) throws(ZipError) -> [UInt8] {
        let count = min(entry.uncompressedByteCount, NumPyHeader.maxPreambleBytes)
        if entry.isStored { return Array(try archive.storedBytes(of: entry).prefix(count)) }
        return try NumPyInflate.prefix(of: UnsafeRawBufferPointer(rebasing: archive.bytes[entry.dataRange]), count: count, entry: entry)
    }

    /// Parses and checks one array's header at the start of `bytes`.
    ///
    /// - Parameter dataByteCount: the size of the whole `.npy` (an archive member's declared size),
    ///   or `nil` when `bytes` is the whole file.
    private static func readArray(
        _ bytes: UnsafeRawBufferPointer, name: String, member: String?, memberIndex: Int?, dataByteCount: Int?, options: ReadOptions
    ) throws -> StoredArray {
        func located(_ error: NumPyError) -> NumPyError { member.map { error.inMember($0) } ?? error }
        let header: NumPyHeader
        do {
            header = try NumPyHeader.parse(bytes, maxRank: options.maxTensorRank)
        } catch {
            throw located(error)
        }
        let resolved: NumPyDType.Resolved
        do {
            resolved = try NumPyDType.resolve(header.descr)
        } catch {
            throw located(NumPyError(offset: header.descrOffset, error))
        }
        let descr = header.descr.text
        guard let elements = Shape(header.shape).checkedElementCount,
              let byteCount = resolved.dtype.byteCount(elementCount: elements)
        else { throw located(NumPyError(offset: header.dataOffset, .sizeOverflow(shape: header.shape, descr: descr))) }
        let total = dataByteCount ?? bytes.count
        let present = total - header.dataOffset
        guard present == byteCount else {
            throw located(NumPyError(
                offset: header.dataOffset, .dataSizeMismatch(shape: header.shape, descr: descr, needed: byteCount, present: present)))
        }
        return StoredArray(name: name, member: member, header: header, dtype: resolved.dtype, isBigEndian: resolved.isBigEndian,
                     byteCount: byteCount, memberIndex: memberIndex)
    }

    // MARK: - Tensor bytes

    /// The bytes of tensor `index` (see ``TensorSource/tensor(at:)``).
    public func tensor(at index: Int) throws -> RawTensor {
        let array = arrays[index]
        // Every tensor handed out counts against the read budget, borrowed or copied.
        try readBudget.reserve(array.byteCount, for: "tensor \(array.name.quotedForMessage)", tensor: array.name)
        let (data, owner) = try dataBytes(of: array)
        let shape = Shape(array.header.shape)
        let swapUnit = array.isBigEndian ? array.dtype.swapUnitBytes : 1
        // Only a Fortran array with two or more dimensions longer than 1 is laid out differently.
        let transposes = array.header.fortranOrder && array.header.shape.filter({ $0 > 1 }).count >= 2
        if !transposes && swapUnit == 1 {
            return try RawTensor(dtype: array.dtype, shape: shape, bytes: TensorBytes(borrowing: data, owner: owner))
        }
        let bytes = withExtendedLifetime(owner) {
            NumPyReorder.rowMajor(data, shape: array.header.shape, elementBytes: array.dtype.byteWidth ?? 1,
                                  fortranOrder: transposes, swapUnit: swapUnit)
        }
        return try RawTensor(dtype: array.dtype, shape: shape, bytes: bytes)
    }

    /// Drops the mapped pages of tensor `index`'s bytes.
    public func releaseMemory(forTensorAt index: Int) {
        let array = arrays[index]
        if let range = fileRange(of: array) {
            file.discardPages(range)
        } else if let memberIndex = array.memberIndex, let archive {
            // A deflated member: its inflated buffer goes with the tensor; drop the compressed pages.
            file.discardPages(archive.entries[memberIndex].dataRange)
        }
    }

    /// Hints the kernel to read the whole file ahead, in order.
    public func adviseSequentialRead() {
        file.adviseSequential(0..<file.count)
    }

    /// The file offsets of an array's data, when it is stored in place (a `.npy`, or a stored member).
    public func fileRange(of array: StoredArray) -> Range<Int>? {
        guard let memberIndex = array.memberIndex else {
            return array.header.dataOffset..<(array.header.dataOffset + array.byteCount)
        }
        guard let archive else { return nil }
        let entry = archive.entries[memberIndex]
        guard entry.isStored else { return nil }
        return (entry.dataOffset + array.header.dataOffset)..<(entry.dataOffset + array.header.dataOffset + array.byteCount)
    }

    /// The bytes of an array's data (stored: in place, CRC-checked once per member; deflated:
    /// inflated within the archive's budget and CRC-checked) and the object that keeps them alive.
    private func dataBytes(of array: StoredArray) throws -> (UnsafeRawBufferPointer, AnyObject) {
        guard let memberIndex = array.memberIndex, let archive else {
            let start = array.header.dataOffset
            return (UnsafeRawBufferPointer(rebasing: file.bytes[start..<(start + array.byteCount)]), file)
        }
        let entry = archive.entries[memberIndex]
        let member: ZipEntryData
        // An inflated member is materialised: it counts against the read budget.
        if !entry.isStored { try readBudget.reserve(entry.uncompressedByteCount, for: "zip entry \(entry.name)") }
        do {
            if entry.isStored && !verifiedMembers.contains(memberIndex) {
                try archive.verifyCRC(of: entry)
                verifiedMembers.insert(memberIndex)
            }
            member = try archive.data(of: entry)
        } catch {
            throw NumPyError(member: entry.name, .zip(error))
        }
        // The member's size was checked on open: header plus exactly byteCount bytes.
        let start = array.header.dataOffset
        return (UnsafeRawBufferPointer(rebasing: member.bytes[start..<(start + array.byteCount)]), member.owner)
    }
}
