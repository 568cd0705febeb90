import HubClient
import ModelFormats
import TensorData

#if canImport(Glibc)
import Glibc
#endif

/// What `modelfile inspect` reports: everything read from headers and pickles, never from
/// tensor bytes, so its cost does not grow with the size of the weights.
public struct Inspection {
    /// The path inspected.
    public let path: String
    /// The detected format.
    public let format: ModelFormat
    /// Bytes on disk.
    public let fileBytes: Int
    /// safetensors `__metadata__`, or `nil`.
    public let metadata: [String: String]?
    /// The tensors listed (all, or those matching `--filter`), in file order.
    public let tensors: [TensorEntry]
    /// Non-fatal observations.
    public let warnings: [ModelFileWarning]
    /// Extra top-level JSON members contributed by the format (globals, checkpoint summary, …),
    /// each with the lines the table shows for it.
    public let sections: [InspectionSection]

    /// Inspects `path`.
    ///
    /// - Parameter filter: a shell glob (`*.weight`, `encoder.layers.?.*`); only matching
    ///   tensor names are listed and counted.
    /// - Throws: `ModelFileError` naming the file and the fault.
    public static func inspect(path: String, filter: String? = nil, options: ReadOptions = ReadOptions()) throws -> Inspection {
        try attributing(to: path) {
            if path.hasPrefix("hf://") {
                let source = try RemoteInspection.open(path, configuration: try HubConfiguration.fromEnvironment())
                return Inspection(source: source, filter: filter)
            }
            let source = try ModelFile.open(path, options: options)
            return Inspection(source: source, filter: filter)
        }
    }

    /// The inspection of an open source.
    public init(source: TensorSource, filter: String? = nil) {
        path = source.path
        format = source.format
        fileBytes = source.fileByteCount
        metadata = source.metadata
        tensors = source.entries.filter { entry in filter.map { Inspection.matches(entry.name, glob: $0) } ?? true }
        warnings = source.warnings
        sections = (source as? InspectionDetailsProviding)?.inspectionSections ?? []
    }

    /// Whether `name` matches the shell glob `glob` (`*`, `?`, `[...]`; `*` also crosses dots).
    public static func matches(_ name: String, glob: String) -> Bool {
        fnmatch(glob, name, 0) == 0
    }

    /// Total elements across the listed tensors.
    public var parameterCount: Int { tensors.reduce(0) { $0 + $1.elementCount } }
    /// Total bytes across the listed tensors.
    public var tensorBytes: Int { tensors.reduce(0) { $0 + $1.byteCount } }

    /// Tensor count and bytes per dtype, largest first.
    public var byDType: [(dtype: DType, tensors: Int, bytes: Int)] {
        var totals: [DType: (Int, Int)] = [:]
        for entry in tensors { totals[entry.dtype, default: (0, 0)].0 += 1; totals[entry.dtype, default: (0, 0)].1 += entry.byteCount }
        return totals.map { ($0.key, $0.value.0, $0.value.1) }.sorted { ($0.bytes, $0.dtype.rawValue) > ($1.bytes, $1.dtype.rawValue) }
    }

    /// The `modelfile.inspect/1` JSON document.
    public var json: JSONValue {
        var members: [(String, JSONValue)] = [
            ("schema", "modelfile.inspect/1"),
            ("path", .string(path)),
            ("format", .string(format.rawValue)),
            ("file_bytes", .int(fileBytes)),
            ("metadata", metadata.map { meta in .object(meta.keys.sorted().map { ($0, .string(meta[$0] ?? "")) }) } ?? .null),
            ("tensors", .array(tensors.map { entry in
                var members: [(String, JSONValue)] = [
                    ("name", .string(entry.name)), ("dtype", .string(entry.dtype.rawValue)),
                    ("shape", .array(entry.shape.dimensions.map { .int($0) })),
                    ("numel", .int(entry.elementCount)), ("nbytes", .int(entry.byteCount)),
                ]
                if let quantization = entry.quantization { members.append(("quantization", Inspection.json(quantization))) }
                return .object(members)
            })),
            ("totals", .object([
                ("tensors", .int(tensors.count)), ("parameters", .int(parameterCount)), ("nbytes", .int(tensorBytes)),
                ("by_dtype", .object(byDType.map { ($0.dtype.rawValue, .object([("tensors", .int($0.tensors)), ("nbytes", .int($0.bytes))])) })),
            ])),
        ]
        for section in sections { members.append((section.key, section.json)) }
        members.append(("warnings", .array(warnings.map { .string($0.message) })))
        return .object(members)
    }

    /// The `quantization` member of a tensor (docs/cli.md "Quantized tensors").
    static func json(_ quantization: TensorQuantizationInfo) -> JSONValue {
        var members: [(String, JSONValue)] = [("dtype", .string(quantization.torchDType)), ("scheme", .string(quantization.scheme))]
        if let scale = quantization.scale { members.append(("scale", .double(scale))) }
        if let zeroPoint = quantization.zeroPoint { members.append(("zero_point", .int(Int(zeroPoint)))) }
        if let axis = quantization.axis { members.append(("axis", .int(axis))) }
        members.append(("parameter_tensors", .array(quantization.parameterTensors.map { .string($0) })))
        return .object(members)
    }

    /// The human table.
    public var table: String {
        var lines: [String] = []
        lines.append(path)
        var summary: [[String]] = [["  format", format.rawValue], ["  size", "\(Formatting.grouped(fileBytes)) bytes (\(Formatting.bytes(fileBytes)))"]]
        if let metadata {
            let text = metadata.isEmpty ? "(empty)" : metadata.keys.sorted().map { "\($0)=\(metadata[$0] ?? "")" }.joined(separator: ", ")
            summary.append(["  metadata", text])
        }
        lines.append(Formatting.table(summary))
        for section in sections where !section.lines.isEmpty {
            lines.append("")
            lines.append(section.title)
            lines.append(contentsOf: section.lines.map { "  " + $0 })
        }
        lines.append("")
        if tensors.isEmpty {
            lines.append("no tensors")
        } else {
            var rows: [[String]] = [["NAME", "DTYPE", "SHAPE", "SIZE"]]
            for entry in tensors {
                let dtype = entry.quantization.map { "\(entry.dtype.rawValue) (\($0.torchDType))" } ?? entry.dtype.rawValue
                rows.append([entry.name, dtype, entry.shape.description, Formatting.bytes(entry.byteCount)])
            }
            lines.append(Formatting.table(rows))
        }
        lines.append("")
        lines.append("\(Formatting.grouped(tensors.count)) tensors, \(Formatting.grouped(parameterCount)) parameters, \(Formatting.bytes(tensorBytes))")
        var dtypeRows: [[String]] = []
        for row in byDType { dtypeRows.append(["  " + row.dtype.rawValue, "\(Formatting.grouped(row.tensors)) tensors", Formatting.bytes(row.bytes)]) }
        if !dtypeRows.isEmpty { lines.append(Formatting.table(dtypeRows, rightAligned: [1, 2])) }
        for warning in warnings { lines.append("warning: \(warning)") }
        return lines.joined(separator: "\n")
    }
}

/// A part of an inspection contributed by a format: a JSON member and its table lines.
public struct InspectionSection {
    /// The JSON key (`globals`, `checkpoint`, …).
    public let key: String
    /// The table heading.
    public let title: String
    /// The JSON value.
    public let json: JSONValue
    /// The table lines (indented by the caller).
    public let lines: [String]

    /// A section.
    public init(key: String, title: String, json: JSONValue, lines: [String]) {
        self.key = key
        self.title = title
        self.json = json
        self.lines = lines
    }
}

/// Sources with more to report than tensors (pickle globals, checkpoint contents).
protocol InspectionDetailsProviding {
    var inspectionSections: [InspectionSection] { get }
}
