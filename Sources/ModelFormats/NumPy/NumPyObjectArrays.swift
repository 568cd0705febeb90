import BinaryIO
import ZipFormat

/// The object arrays of a `.npy` file or `.npz` archive: arrays whose dtype holds Python objects,
/// stored as a pickle after the header (what `numpy.load(allow_pickle=True)` would run). They are
/// never loaded; this only finds their pickles, with the NumPy reader's own header parsing, so
/// that `scan` can list what they import (docs/formats.md, "NumPy").
public enum NumPyObjectArrays {
    /// One object array's pickle.
    public struct Pickle {
        /// The `.npz` member, or the label given for a `.npy` file.
        public let place: String
        /// The header's descr (`|O`, or a stand-in for a structured dtype holding objects).
        public let descr: String
        /// The whole `.npy` bytes (the file, or the member's uncompressed bytes).
        public let bytes: UnsafeRawBufferPointer
        /// Where the pickle starts in ``bytes`` (right after the header).
        public let offset: Int
    }

    /// Calls `body` with the pickle of the `.npy` in `bytes` when it is an object array. Only the
    /// header is parsed (any dtype is accepted, since nothing is loaded).
    ///
    /// - Returns: whether it is an object array.
    /// - Throws: ``NumPyError`` for a malformed header, or what `body` throws.
    @discardableResult
    public static func forEachPickle(inArray bytes: UnsafeRawBufferPointer, place: String, options: ReadOptions = ReadOptions(),
                                     _ body: (Pickle) throws -> Void) throws -> Bool {
        let header = try NumPyHeader.parse(bytes, maxRank: options.maxTensorRank)
        guard header.descr.holdsObjects else { return false }
        try body(Pickle(place: place, descr: header.descr.text, bytes: bytes, offset: header.dataOffset))
        return true
    }

    /// Calls `body` with each object array's pickle in the `.npz` `archive`, in archive order. Only
    /// headers are parsed; a deflated member is inflated only when it is an object array, within
    /// the archive's inflation budget and `budget`. The pickle bytes are valid only during the call.
    ///
    /// - Returns: how many object arrays the archive holds.
    /// - Throws: ``NumPyError`` for a member that is not a `.npy` or a malformed header,
    ///   `ReadBudgetExceeded`, or what `body` throws.
    @discardableResult
    public static func forEachPickle(in archive: ZipArchive, options: ReadOptions = ReadOptions(), budget: ReadBudget,
                                     _ body: (Pickle) throws -> Void) throws -> Int {
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
            if !entry.isStored { try budget.reserve(entry.uncompressedByteCount, for: "zip entry \(entry.name)") }
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
        return objects
    }
}
