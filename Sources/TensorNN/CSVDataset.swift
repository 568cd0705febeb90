// Numeric CSV files as datasets: a header row, one example per line, the target in one column.

#if canImport(Glibc)
import Glibc
#endif

/// Faults in a CSV file read as a numeric table. Line numbers count from 1 (the header) as an
/// editor shows them.
public enum CSVError: Error, Equatable, CustomStringConvertible {
    /// The file could not be read.
    case unreadable(path: String, reason: String)
    /// There is no header line.
    case missingHeader
    /// Two columns have the same name.
    case duplicateColumn(name: String)
    /// The header has no data lines after it.
    case noRows
    /// A line has a different number of fields than the header.
    case wrongFieldCount(line: Int, expected: Int, found: Int)
    /// A field is not a finite number.
    case notANumber(line: Int, column: String, text: String)
    /// The requested target column is not in the header.
    case unknownColumn(name: String, available: [String])
    /// The table has only one column, so nothing is left for the inputs.
    case noFeatureColumns

    /// One line: where and what.
    public var description: String {
        switch self {
        case .unreadable(let path, let reason): return "\(path): cannot read the file (\(reason))"
        case .missingHeader: return "CSV: no header line"
        case .duplicateColumn(let name): return "CSV header: column \"\(name)\" appears twice"
        case .noRows: return "CSV: the header is not followed by any data lines"
        case .wrongFieldCount(let line, let expected, let found):
            return "CSV line \(line): \(found) fields, expected \(expected) (one per header column)"
        case .notANumber(let line, let column, let text):
            return "CSV line \(line), column \"\(column)\": \"\(text)\" is not a number"
        case .unknownColumn(let name, let available):
            return "CSV: no column named \"\(name)\" (columns: \(available.joined(separator: ", ")))"
        case .noFeatureColumns: return "CSV: only the target column is present, no input columns"
        }
    }
}

/// A CSV file parsed as numbers: column names from the header and one row of values per line.
///
/// Fields are separated by commas; surrounding spaces and double quotes are removed; empty lines
/// are skipped; `\r\n` line ends are accepted.
public struct CSVTable: Sendable, Equatable {
    /// The header's column names.
    public var columnNames: [String]
    /// The values, one array per data line, each with one value per column.
    public var rows: [[Float]]

    /// Parses `text`.
    ///
    /// - Throws: ``CSVError`` naming the line and column of the first problem.
    public init(text: String) throws {
        var lines = text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated().makeIterator()
        var header: [String]?
        while let (_, line) = lines.next() {
            if line.allSatisfy(\.isWhitespace) { continue }
            header = CSVTable.fields(of: line)
            break
        }
        guard let header else { throw CSVError.missingHeader }
        var seen = Set<String>()
        for name in header where !seen.insert(name).inserted { throw CSVError.duplicateColumn(name: name) }
        var rows: [[Float]] = []
        while let (offset, line) = lines.next() {
            if line.allSatisfy(\.isWhitespace) { continue }
            let lineNumber = offset + 1
            let fields = CSVTable.fields(of: line)
            guard fields.count == header.count else {
                throw CSVError.wrongFieldCount(line: lineNumber, expected: header.count, found: fields.count)
            }
            rows.append(try fields.enumerated().map { column, text in
                guard let value = Float(text), value.isFinite else {
                    throw CSVError.notANumber(line: lineNumber, column: header[column], text: text)
                }
                return value
            })
        }
        guard !rows.isEmpty else { throw CSVError.noRows }
        self.columnNames = header
        self.rows = rows
    }

    /// Reads and parses the file at `path`.
    ///
    /// - Throws: ``CSVError``.
    public init(contentsOfFile path: String) throws {
        try self.init(text: try CSVTable.readText(path))
    }

    /// The whole file as text (without Foundation, which would cost every command its start-up).
    static func readText(_ path: String) throws -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw CSVError.unreadable(path: path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw CSVError.unreadable(path: path, reason: String(cString: strerror(errno)))
            }
            if n == 0 { break }
            bytes.append(contentsOf: chunk[0..<n])
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw CSVError.unreadable(path: path, reason: "not UTF-8 text")
        }
        return text
    }

    /// The fields of one line, trimmed of spaces and surrounding double quotes.
    private static func fields(of line: Substring) -> [String] {
        func trimmed(_ text: Substring) -> Substring {
            let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\r" }
            return text.drop(while: isSpace).reversed().drop(while: isSpace).reversed().reduce(into: Substring()) { $0.append($1) }
        }
        return line.split(separator: ",", omittingEmptySubsequences: false).map { field in
            var text = trimmed(field)
            if text.count >= 2 && text.hasPrefix("\"") && text.hasSuffix("\"") {
                text = trimmed(text.dropFirst().dropLast())
            }
            return String(text)
        }
    }

    /// The position of column `name`, if present.
    public func columnIndex(named name: String) -> Int? { columnNames.firstIndex(of: name) }

    /// The values of the named columns, in the order given, as a `[rows, names.count]` tensor: the
    /// inputs of a saved model, picked by feature name from a file that may lack the target column.
    ///
    /// - Throws: ``CSVError/unknownColumn(name:available:)`` for a name not in the header.
    public func values(ofColumns names: [String]) throws -> Tensor {
        let indices = try names.map { name in
            guard let index = columnIndex(named: name) else { throw CSVError.unknownColumn(name: name, available: columnNames) }
            return index
        }
        let rows = self.rows
        return Tensor(shape: [rows.count, indices.count]) { buffer in
            var k = 0
            for row in rows {
                for index in indices {
                    buffer[k] = row[index]
                    k += 1
                }
            }
        }
    }
}

/// Per-feature statistics that map inputs to zero mean and unit variance: `(x − mean) / std`.
///
/// The statistics are plain values so they can be saved beside the model (for example in a
/// safetensors file's metadata) and reapplied to new data at prediction time.
public struct Standardization: Sendable, Equatable {
    /// The mean of each feature.
    public var mean: [Float]
    /// The standard deviation of each feature (population, ddof 0, like scikit-learn's
    /// `StandardScaler`); a constant feature gets 1 so that it maps to 0 instead of dividing by 0.
    public var standardDeviation: [Float]

    /// Statistics from their values.
    ///
    /// Traps if the arrays differ in length.
    public init(mean: [Float], standardDeviation: [Float]) {
        precondition(mean.count == standardDeviation.count, "Standardization: \(mean.count) means, \(standardDeviation.count) deviations")
        self.mean = mean
        self.standardDeviation = standardDeviation
    }

    /// The statistics of the columns of `inputs` (`[rows, features]`), accumulated in Double.
    ///
    /// Traps if `inputs` is not a matrix with at least one row.
    public init(fitting inputs: Tensor) {
        precondition(inputs.rank == 2 && inputs.shape[0] > 0, "Standardization(fitting:): need a [rows, features] matrix, got \(inputs.shape)")
        let rows = inputs.shape[0], columns = inputs.shape[1]
        var means = [Double](repeating: 0, count: columns), squares = [Double](repeating: 0, count: columns)
        inputs.withUnsafeBufferPointer { x in
            for r in 0..<rows { for c in 0..<columns { means[c] += Double(x[r * columns + c]) } }
            for c in 0..<columns { means[c] /= Double(rows) }
            for r in 0..<rows {
                for c in 0..<columns {
                    let d = Double(x[r * columns + c]) - means[c]
                    squares[c] += d * d
                }
            }
        }
        self.mean = means.map { Float($0) }
        self.standardDeviation = squares.map { total in
            let deviation = Float((total / Double(rows)).squareRoot())
            return deviation > 0 ? deviation : 1
        }
    }

    /// `(x − mean) / std` for each column of `inputs` (`[…, features]`).
    ///
    /// Traps if the last dimension is not the number of features.
    public func apply(to inputs: Tensor) -> Tensor {
        precondition(inputs.shape.last == mean.count, "Standardization: inputs \(inputs.shape) for \(mean.count) features")
        return (inputs - Tensor(mean)) / Tensor(standardDeviation)
    }
}

/// Where the target of each example is in a CSV file.
public enum TargetColumn: Sendable, Equatable {
    /// The last column (the default of `modelfile train`).
    case last
    /// The column with this header name.
    case named(String)
}

/// A CSV file as a dataset: the target column's values are the targets (`[rows, 1]`), the other
/// columns, in file order, are the inputs (`[rows, features]`), optionally standardised.
public struct CSVDataset: Dataset {
    /// The input columns' names, in order.
    public let featureNames: [String]
    /// The target column's name.
    public let targetName: String
    /// `[rows, features]`, standardised when ``standardization`` is set.
    public let inputs: Tensor
    /// `[rows, 1]`.
    public let targets: Tensor
    /// The statistics applied to ``inputs``, or `nil` for raw values.
    public let standardization: Standardization?

    /// The dataset of `table`, with `target` as the target column; with `standardize`, the inputs
    /// are standardised with statistics fitted on this table (see ``standardization``).
    ///
    /// - Throws: ``CSVError/unknownColumn(name:available:)`` or ``CSVError/noFeatureColumns``.
    public init(table: CSVTable, target: TargetColumn = .last, standardize: Bool = false) throws {
        try self.init(table: table, target: target, standardization: nil, fitStandardization: standardize)
    }

    /// The dataset of `table` with inputs standardised by given statistics (saved with a model).
    ///
    /// - Throws: ``CSVError``; traps if the statistics have the wrong number of features.
    public init(table: CSVTable, target: TargetColumn = .last, standardization: Standardization) throws {
        try self.init(table: table, target: target, standardization: standardization, fitStandardization: false)
    }

    /// Reads the CSV file at `path` (see ``init(table:target:standardize:)``).
    ///
    /// - Throws: ``CSVError``.
    public init(contentsOfFile path: String, target: TargetColumn = .last, standardize: Bool = false) throws {
        try self.init(table: CSVTable(contentsOfFile: path), target: target, standardize: standardize)
    }

    private init(table: CSVTable, target: TargetColumn, standardization: Standardization?, fitStandardization: Bool) throws {
        let targetIndex: Int
        switch target {
        case .last:
            targetIndex = table.columnNames.count - 1
        case .named(let name):
            guard let index = table.columnIndex(named: name) else {
                throw CSVError.unknownColumn(name: name, available: table.columnNames)
            }
            targetIndex = index
        }
        guard table.columnNames.count >= 2 else { throw CSVError.noFeatureColumns }
        let featureIndices = table.columnNames.indices.filter { $0 != targetIndex }
        featureNames = featureIndices.map { table.columnNames[$0] }
        targetName = table.columnNames[targetIndex]
        let rows = table.rows
        var inputs = Tensor(shape: [rows.count, featureIndices.count]) { buffer in
            var k = 0
            for row in rows {
                for index in featureIndices {
                    buffer[k] = row[index]
                    k += 1
                }
            }
        }
        targets = Tensor(rows.map { $0[targetIndex] }, shape: [rows.count, 1])
        let statistics = fitStandardization ? Standardization(fitting: inputs) : standardization
        if let statistics { inputs = statistics.apply(to: inputs) }
        self.inputs = inputs
        self.standardization = statistics
    }

    /// The number of rows.
    public var count: Int { inputs.shape[0] }

    /// The rows at `indices`.
    public func batch(at indices: [Int]) -> Batch {
        Batch(inputs: inputs.rows(at: indices), targets: targets.rows(at: indices))
    }

    /// The inputs and targets as a ``TensorDataset`` (for splitting).
    public var tensorDataset: TensorDataset { TensorDataset(inputs: inputs, targets: targets) }
}
