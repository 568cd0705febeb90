import ModelFormats
import TensorData

/// `modelfile diff`: two files of any formats compared tensor by tensor, one pair in memory at a
/// time.
public struct DiffReport {
    /// The comparison of one tensor present in both files.
    public struct TensorComparison {
        /// The tensor's name.
        public let name: String
        /// dtype in A and in B.
        public let dtypes: (DType, DType)
        /// Shape in A and in B.
        public let shapes: (Shape, Shape)
        /// Whether the bytes are identical (same dtype and shape, bit for bit).
        public let identical: Bool
        /// The largest |a − b| over the elements, when the values could be compared (`nil` for a
        /// shape change or types without numeric values).
        public let maxAbsoluteDifference: Double?
        /// Whether the values agree within the tolerance (`|a − b| ≤ atol + rtol·|b|`, NaN equal to NaN).
        public let withinTolerance: Bool
    }

    /// The two paths.
    public let paths: (String, String)
    /// Names only in A, and only in B.
    public let onlyInA: [String], onlyInB: [String]
    /// Tensors in both, in A's order.
    public let common: [TensorComparison]
    /// The tolerances used.
    public let absoluteTolerance: Double, relativeTolerance: Double

    /// Whether the files hold the same tensors within tolerance.
    public var isEqual: Bool { onlyInA.isEmpty && onlyInB.isEmpty && common.allSatisfy(\.withinTolerance) }

    /// Compares `a` and `b`.
    ///
    /// Each side's tensors are renamed before they are matched by name, as `convert` renames
    /// them: `select` keeps the subtree at that dotted path and names tensors relative to it (a
    /// side with no tensor under it keeps all its names), then `stripPrefix` is removed from the
    /// names that start with it. With `cast`, floating-point tensors whose dtypes differ are
    /// compared by value, both widened to float64, and the dtype change alone is not a difference.
    ///
    /// - Throws: `ModelFileError` naming the file that cannot be read, or whose renamed tensors
    ///   collide.
    public static func diff(_ a: String, _ b: String, absoluteTolerance: Double = 0, relativeTolerance: Double = 0,
                            select: String? = nil, stripPrefix: String? = nil, cast: Bool = false,
                            options: ReadOptions = ReadOptions()) throws -> DiffReport {
        let left = try attributing(to: a) { try ModelFile.open(a, options: options) }
        let right = try attributing(to: b) { try ModelFile.open(b, options: options) }
        let leftNames = try attributing(to: a) { try renamed(left.entries.map(\.name), select: select, stripPrefix: stripPrefix) }
        let rightNames = try attributing(to: b) { try renamed(right.entries.map(\.name), select: select, stripPrefix: stripPrefix) }
        // Names match by their bytes: two names that differ only by Unicode normalization are
        // different tensors (docs/formats.md, "Names and text").
        var rightIndex: [ExactString: Int] = [:]
        for (index, name) in rightNames { rightIndex[ExactString(name)] = index }
        let leftSet = Set(leftNames.map { ExactString($0.name) })
        var common: [TensorComparison] = []
        for (index, name) in leftNames {
            guard let other = rightIndex[ExactString(name)] else { continue }
            let x = try attributing(to: a) { try left.tensor(at: index) }
            let y = try attributing(to: b) { try right.tensor(at: other) }
            common.append(compare(name, x, y, atol: absoluteTolerance, rtol: relativeTolerance, cast: cast))
            left.releaseMemory(forTensorAt: index)
            right.releaseMemory(forTensorAt: other)
        }
        return DiffReport(
            paths: (a, b), onlyInA: leftNames.map(\.name).filter { rightIndex[ExactString($0)] == nil },
            onlyInB: rightNames.map(\.name).filter { !leftSet.contains(ExactString($0)) }, common: common,
            absoluteTolerance: absoluteTolerance, relativeTolerance: relativeTolerance)
    }

    /// The names one side's tensors are matched by, with their entry indices, in file order:
    /// `select`'s subtree named relative to it (every tensor, when none is under it), then
    /// `stripPrefix` removed where a name starts with it and is longer.
    ///
    /// - Throws: `ConversionError.nameCollision` when two tensors end up with one name.
    static func renamed(_ names: [String], select: String?, stripPrefix: String?) throws -> [(index: Int, name: String)] {
        var result: [(index: Int, name: String)] = []
        let selecting = select.map { path in names.contains { $0.isByteEqual(to: path) || $0.droppingBytePrefix(path + ".") != nil } } ?? false
        var seen = Set<ExactString>()
        for (index, original) in names.enumerated() {
            var name = original
            if selecting, let select {
                if let rest = name.droppingBytePrefix(select + ".") { name = rest } else if !name.isByteEqual(to: select) { continue }
            }
            if let stripPrefix, let rest = name.droppingBytePrefix(stripPrefix), !rest.isEmpty { name = rest }
            guard seen.insert(ExactString(name)).inserted else { throw ConversionError.nameCollision(name) }
            result.append((index, name))
        }
        return result
    }

    /// One tensor pair compared. Values are compared as float64; a dtype change is a difference
    /// unless `cast` is set and both dtypes are floating-point.
    static func compare(_ name: String, _ x: RawTensor, _ y: RawTensor, atol: Double, rtol: Double, cast: Bool = false) -> TensorComparison {
        let identical = x.dtype == y.dtype && x.shape == y.shape && x.bytes == y.bytes
        let numeric = ElementCodec.canDecodeToReal(x.dtype) || x.dtype.isComplex
        guard x.shape == y.shape, numeric, ElementCodec.canDecodeToReal(y.dtype) || y.dtype.isComplex, x.dtype.isComplex == y.dtype.isComplex else {
            return TensorComparison(name: name, dtypes: (x.dtype, y.dtype), shapes: (x.shape, y.shape), identical: identical,
                                    maxAbsoluteDifference: nil, withinTolerance: identical)
        }
        if identical {
            return TensorComparison(name: name, dtypes: (x.dtype, y.dtype), shapes: (x.shape, y.shape), identical: true,
                                    maxAbsoluteDifference: 0, withinTolerance: true)
        }
        let u = x.bytes.withUnsafeBytes { ElementCodec.decodeDoubles($0, dtype: x.dtype) }
        let v = y.bytes.withUnsafeBytes { ElementCodec.decodeDoubles($0, dtype: y.dtype) }
        var largest = 0.0
        var within = u.count == v.count
        for (p, q) in zip(u, v) {
            if p.isNaN || q.isNaN {
                if p.isNaN != q.isNaN { within = false; largest = .nan }
                continue
            }
            if p == q { continue }  // also equal infinities
            let difference = abs(p - q)
            if !largest.isNaN && difference > largest { largest = difference }
            if !(difference <= atol + rtol * abs(q)) { within = false }
        }
        return TensorComparison(name: name, dtypes: (x.dtype, y.dtype), shapes: (x.shape, y.shape), identical: false,
                                maxAbsoluteDifference: largest,
                                withinTolerance: within && (x.dtype == y.dtype || (cast && x.dtype.isFloatingPoint && y.dtype.isFloatingPoint)))
    }

    /// The `modelfile.diff/1` JSON document.
    public var json: JSONValue {
        .object([
            ("schema", "modelfile.diff/1"),
            ("a", .string(paths.0)), ("b", .string(paths.1)),
            ("equal", .bool(isEqual)),
            ("atol", .double(absoluteTolerance)), ("rtol", .double(relativeTolerance)),
            ("only_in_a", .array(onlyInA.map { .string($0) })),
            ("only_in_b", .array(onlyInB.map { .string($0) })),
            ("tensors", .array(common.map { c in
                .object([
                    ("name", .string(c.name)),
                    ("dtype", c.dtypes.0 == c.dtypes.1 ? .string(c.dtypes.0.rawValue) : .array([.string(c.dtypes.0.rawValue), .string(c.dtypes.1.rawValue)])),
                    ("shape", c.shapes.0 == c.shapes.1 ? .array(c.shapes.0.dimensions.map { .int($0) })
                        : .array([.array(c.shapes.0.dimensions.map { .int($0) }), .array(c.shapes.1.dimensions.map { .int($0) })])),
                    ("identical", .bool(c.identical)),
                    ("max_abs_diff", c.maxAbsoluteDifference.map { .double($0) } ?? .null),
                    ("within_tolerance", .bool(c.withinTolerance)),
                ])
            })),
        ])
    }
}
