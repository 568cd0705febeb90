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
    /// - Throws: `ModelFileError` naming the file that cannot be read.
    public static func diff(_ a: String, _ b: String, absoluteTolerance: Double = 0, relativeTolerance: Double = 0,
                            options: ReadOptions = ReadOptions()) throws -> DiffReport {
        let left = try attributing(to: a) { try ModelFile.open(a, options: options) }
        let right = try attributing(to: b) { try ModelFile.open(b, options: options) }
        // Names match by their bytes: two names that differ only by Unicode normalization are
        // different tensors (docs/formats.md, "Names and text").
        var rightIndex: [ExactString: Int] = [:]
        for (index, entry) in right.entries.enumerated() { rightIndex[ExactString(entry.name)] = index }
        let leftNames = Set(left.entries.map { ExactString($0.name) })
        var common: [TensorComparison] = []
        for (index, entry) in left.entries.enumerated() {
            guard let other = rightIndex[ExactString(entry.name)] else { continue }
            let x = try attributing(to: a) { try left.tensor(at: index) }
            let y = try attributing(to: b) { try right.tensor(at: other) }
            common.append(compare(entry.name, x, y, atol: absoluteTolerance, rtol: relativeTolerance))
            left.releaseMemory(forTensorAt: index)
            right.releaseMemory(forTensorAt: other)
        }
        return DiffReport(
            paths: (a, b), onlyInA: left.entries.map(\.name).filter { rightIndex[ExactString($0)] == nil },
            onlyInB: right.entries.map(\.name).filter { !leftNames.contains(ExactString($0)) }, common: common,
            absoluteTolerance: absoluteTolerance, relativeTolerance: relativeTolerance)
    }

    static func compare(_ name: String, _ x: RawTensor, _ y: RawTensor, atol: Double, rtol: Double) -> TensorComparison {
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
                                maxAbsoluteDifference: largest, withinTolerance: within && x.dtype == y.dtype)
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
