import BinaryIO
import ModelFormats
import ZipFormat

// `scan` of NumPy files: a `.npy`/`.npz` holds a pickle only in an object array (dtype `O`, or a
// structured dtype holding objects), which `numpy.load(allow_pickle=True)` would run. Headers are
// read by the NumPy reader's parser; each such pickle is read instruction by instruction, never
// executed, and its imports are judged against the weights-only allowlist like any other
// (docs/security.md, "What scan covers").

/// Scans NumPy arrays and archives for object arrays.
enum NumPyScan {
    /// A `.npy`: its object array's pickle, if it has one.
    ///
    /// - Throws: ``NumPyError`` for a malformed header.
    static func scanArray(_ bytes: UnsafeRawBufferPointer, name: String, options: ReadOptions, findings: inout [ScanFinding]) throws -> ScannedFile {
        var pickles: [ScannedPickle] = []
        try NumPyObjectArrays.forEachPickle(inArray: bytes, place: "object array", options: options) { array in
            pickles.append(scanObjectArray(array, file: name, findings: &findings))
        }
        return ScannedFile(path: name, content: .numpyArray, pickles: pickles)
    }

    /// An `.npz`: every object array's pickle, then the bytes no zip record accounts for.
    ///
    /// - Throws: ``NumPyError`` for a member that is not an array or a malformed header,
    ///   `ReadBudgetExceeded` when inflating would go over `budget`.
    static func scanArchive(_ archive: ZipArchive, name: String, options: ReadOptions, budget: ReadBudget,
                            findings: inout [ScanFinding]) throws -> ScannedFile {
        var pickles: [ScannedPickle] = []
        try NumPyObjectArrays.forEachPickle(in: archive, options: options, budget: budget) { array in
            pickles.append(scanObjectArray(array, file: name, findings: &findings))
        }
        findings += ZipScan.hiddenBytes(archive, name: name)
        return ScannedFile(path: name, content: .numpyArchive, pickles: pickles)
    }

    /// One object array: the array itself is a finding (loading it runs a pickle), then its
    /// pickle's findings, and bytes after its STOP.
    private static func scanObjectArray(_ array: NumPyObjectArrays.Pickle, file: String, findings: inout [ScanFinding]) -> ScannedPickle {
        let pickle = FileScan.scanPickle(array.bytes, from: array.offset, place: array.place)
        findings.append(.numpyObjectArray(file: file, place: array.place, descr: array.descr))
        findings += pickle.findings(file: file)
        if let end = pickle.end, end < array.bytes.count {
            findings.append(.bytesAfterStop(file: file, pickle: array.place, count: array.bytes.count - end))
        }
        return pickle
    }
}
