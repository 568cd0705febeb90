import BinaryIO
import ZipFormat

/// The object arrays of a `.npy` file or `.npz` archive: arrays whose dtype holds Python objects,
/// stored as a pickle after the header (what `numpy.load(allow_pickle=True)` would run). They are
/// never loaded; this only finds their pickles so that `scan` can list what they import.
public enum NumPyObjectArrays {
    /// One object array's pickle.
    public struct Pickle {
        /// The `.npz` member, or the `.npy` file's name.
        public let place: String
        /// The header's descr (`|O`, or a stand-in for a structured dtype holding objects).
        public let descr: String
        /// The whole `.npy` bytes (the file, or the member's uncompressed bytes).
        public let bytes: UnsafeRawBufferPointer
        /// Where the pickle starts in ``bytes`` (right after the header).
        public let offset: Int
    }

    /// What a file holds, as far as `scan` is concerned.
    public struct Summary {
        /// `numpy-npy` or `numpy-npz`.
        public let format: ModelFormat
        /// How many arrays it holds.
        public let arrayCount: Int
        /// How many of them are object arrays.
        public let objectArrayCount: Int
    }

    /// Calls `body` with each object array's pickle, in file order. Only headers are parsed (any
    /// dtype is accepted, since nothing is loaded); a deflated member is inflated only when it is
    /// an object array, within the archive's inflation budget. The pickle bytes are valid only
    /// during the call.
    ///
    /// - Throws: `FileError`, ``NumPyError`` for a malformed container or header, or what `body` throws.
    public static func forEachPickle(
        path: String, options: ReadOptions = ReadOptions(), _ body: (Pickle) throws -> Void
    ) throws -> Summary {
        let file = try MappedFile(path: path)
        switch try FormatDetector.detect(bytes: file.bytes) {
        case .numpyArray:
            let header = try NumPyHeader.parse(file.bytes, maxRank: options.maxTensorRank)
            guard header.descr.holdsObjects else { return Summary(format: .numpyNpy, arrayCount: 1, objectArrayCount: 0) }
            let name = path.split(separator: "/").last.map(String.init) ?? path
            try body(Pickle(place: name, descr: header.descr.text, bytes: file.bytes, offset: header.dataOffset))
            return Summary(format: .numpyNpy, arrayCount: 1, objectArrayCount: 1)
        case .numpyArchive:
            let archive: ZipArchive
            do {
                archive = try ZipArchive(file: file, limits: options.zipLimits)
            } catch {
                throw NumPyError(.zip(error))
            }
            var objects = 0
            for entry in archive.entries {
                guard entry.name.hasSuffix(".npy") else { throw NumPyError(member: entry.name, .notAnArrayMember) }
                let header: NumPyHeader
                do {
                    let prefix = try NumPyFile.memberPrefix(archive, entry)
                    header = try prefix.withUnsafeBytes { bytes throws(NumPyError) in try NumPyHeader.parse(bytes, maxRank: options.maxTensorRank) }
                } catch let error as NumPyError {
                    throw error.inMember(entry.name)
                } catch let error as ZipError {
                    throw NumPyError(member: entry.name, .zip(error))
                }
                guard header.descr.holdsObjects else { continue }
                objects += 1
                let data: ZipEntryData
                do {
                    data = try archive.data(of: entry, verifyingCRC: true)
                } catch {
                    throw NumPyError(member: entry.name, .zip(error))
                }
                try data.withUnsafeBytes { bytes in
                    try body(Pickle(place: entry.name, descr: header.descr.text, bytes: bytes, offset: header.dataOffset))
                }
            }
            return Summary(format: .numpyNpz, arrayCount: archive.entries.count, objectArrayCount: objects)
        default:
            throw UnrecognizedFormatError(looksLike: "not a NumPy .npy or .npz file")
        }
    }
}
