import BinaryIO
import ExactText
import ModelFileKit
import ModelFormats

// The words of `verify`, `diff`, `scan` and `predict`: the human reports for the library's values.
// Every value from a file is interpolated into `Shown` text, so it is escaped once (Display.swift).

extension Verification {
    /// The human report.
    var table: Shown {
        var lines: [Shown] = ["\(name: path): \(format?.rawValue ?? "unreadable"), \(tensors.count) tensors read"]
        let nonFinite = tensors.filter { $0.nonFinite > 0 }
        if !nonFinite.isEmpty {
            lines += Formatting.table([["NAME", "DTYPE", "NON-FINITE"]] + nonFinite.map { [Shown($0.name), "\($0.dtype.rawValue)", "\($0.nonFinite)"] })
        }
        lines += findings.map { "finding: \($0)" }
        lines.append(isClean ? "clean" : "\(findings.count) finding(s)")
        return Shown.lines(lines)
    }
}

extension DiffReport {
    /// The human report: differences only, then a summary line.
    var table: Shown {
        var lines: [Shown] = []
        for name in onlyInA { lines.append("only in A: \(name: name)") }
        for name in onlyInB { lines.append("only in B: \(name: name)") }
        var rows: [[Shown]] = []
        for c in common where !c.identical {
            var what: [Shown] = []
            if c.dtypes.0 != c.dtypes.1 { what.append("dtype \(c.dtypes.0.rawValue) → \(c.dtypes.1.rawValue)") }
            if c.shapes.0 != c.shapes.1 { what.append("shape \(c.shapes.0.description) → \(c.shapes.1.description)") }
            if let difference = c.maxAbsoluteDifference { what.append("max |a−b| \(String(difference))") }
            rows.append([Shown(c.name), joined(what, ", "), c.withinTolerance ? "within tolerance" : "DIFFERENT"])
        }
        if !rows.isEmpty { lines += Formatting.table(rows) }
        let identical = common.filter(\.identical).count
        lines.append("\(common.count) common tensors (\(identical) identical), \(onlyInA.count) only in A, \(onlyInB.count) only in B: "
                     + (isEqual ? "equal" : "different"))
        return Shown.lines(lines)
    }
}

extension ScanReport {
    /// The human report: one section per path, each file with its pickles and their imports, then
    /// the findings (each naming its file), the files not scanned, and the verdict.
    var table: Shown {
        var lines: [Shown] = []
        switch target {
        case .file:
            // A GGUF file has nothing to import or call: say so beside its kind.
            let noCode: Shown = files.first?.content == .gguf ? " (no code: metadata and tensors only)" : ""
            lines.append("\(name: path): \(kind)" + noCode)
        case .folder, .index:
            lines.append("\(name: path): \(target.rawValue), \(files.count) file(s) scanned")
        }
        let indent: Shown = target == .file ? "  " : "    "
        for file in files {
            if target != .file {
                var line: Shown = "  \(name: file.path): \(file.content.name)"
                if file.content == .gguf { line = line + " (no code: metadata and tensors only)" }
                if case .other(let looksLike) = file.content { line = line + " (\(looksLike))" }
                lines.append(line)
            }
            for pickle in file.pickles {
                lines.append(indent + "\(name: pickle.place): opcode classes \(pickle.categories.joined(separator: ", "))")
                var seen = Set<ExactString>()
                for site in pickle.imports where seen.insert(ExactString(site.qualifiedName)).inserted {
                    lines.append(indent + "  \(site.allowed ? "allowed " : "REFUSED ") \(name: site.qualifiedName)")
                }
            }
        }
        lines += findings.map { "finding: \($0.message)" }
        lines += failures.map { "not scanned: \($0)" }
        var verdict: [Shown] = []
        if !findings.isEmpty { verdict.append("\(findings.count) finding(s)") }
        if !failures.isEmpty { verdict.append("\(failures.count) file(s) not scanned") }
        lines.append(verdict.isEmpty ? "clean" : joined(verdict, ", "))
        return Shown.lines(lines)
    }
}

extension PredictionReport {
    /// For a classifier, a table: a header row, then per CSV row its label, that label's
    /// probability and the raw outputs. For a regression network, one line of outputs per row.
    /// Then the metric.
    var text: Shown {
        func outputs(_ row: [Float]) -> String { row.map { DecimalText.fixed(Double($0), digits: 6) }.joined(separator: ",") }
        var lines: [Shown]
        if let labels, let probabilities, let classes {
            var rows: [[Shown]] = [["ROW", "LABEL", "PROBABILITY", classes.count == 2 && predictions.first?.count == 1 ? "OUTPUT" : "OUTPUTS"]]
            for (index, row) in predictions.enumerated() {
                let chosen = classes.firstIndex(of: labels[index]) ?? 0
                rows.append([Shown("\(index + 1)"), Shown(name: labels[index]), Shown(DecimalText.fixed(probabilities[index][chosen], digits: 6)),
                             Shown(outputs(row))])
            }
            lines = Formatting.table(rows, rightAligned: [0, 2])
        } else {
            lines = predictions.map { row in Shown(outputs(row)) }
        }
        if let accuracy { lines.append("accuracy: \(DecimalText.fixed(accuracy, digits: 4))") }
        if let meanSquaredError { lines.append("mse: \(DecimalText.fixed(meanSquaredError, digits: 6))") }
        return Shown.lines(lines)
    }
}
