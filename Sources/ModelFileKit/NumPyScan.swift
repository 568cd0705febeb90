import ModelFormats

// `scan` of NumPy files, kept apart from the torch scanning: a `.npy`/`.npz` holds a pickle only
// in an object array (dtype `O`, or a structured dtype holding objects), which
// `numpy.load(allow_pickle=True)` would run. Each such pickle is read instruction by instruction,
// never executed, and its imports are judged against the weights-only allowlist like any other.

extension ScanReport {
    /// Scans a `.npy` or `.npz`: one pickle section per object array; no pickle at all otherwise.
    ///
    /// - Throws: `FileError`, or `NumPyError` for a malformed container or header.
    static func scanNumPy(_ path: String) throws -> ScanReport {
        var sections: [PickleSection] = []
        var findings: [String] = []
        let summary = try NumPyObjectArrays.forEachPickle(path: path) { pickle in
            let (section, found) = numpyObjectArray(pickle)
            sections.append(section)
            findings += found
        }
        let kind = summary.format.rawValue + (summary.objectArrayCount == 0 ? " (no pickle)" : "")
        return ScanReport(path: path, kind: kind, pickles: sections, findings: findings)
    }

    /// The section and findings for one object array's pickle: the array itself is a finding
    /// (loading it runs a pickle), then every import outside the allowlist, every opcode outside
    /// the weights-only set, and bytes after its STOP.
    public static func numpyObjectArray(_ pickle: NumPyObjectArrays.Pickle) -> (PickleSection, [String]) {
        let section = scanPickle(pickle.bytes, from: pickle.offset, place: pickle.place)
        var found = ["\(pickle.place): an object array (descr '\(pickle.descr)'): numpy.load runs its pickle only with allow_pickle=True"]
        found += findings(section)
        if let end = section.end, end < pickle.bytes.count {
            found.append("\(pickle.place): \(pickle.bytes.count - end) bytes after the pickle's STOP, which numpy never reads")
        }
        return (section, found)
    }
}
