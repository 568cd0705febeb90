import ModelFileKit
import ModelFormats

// The words of `inspect`: the table printed for an `Inspection`. Every value from the file is
// interpolated into `Shown` text, so it is escaped once (Display.swift).

extension Inspection {
    /// The human table.
    var table: Shown {
        var lines: [Shown] = ["\(name: path)"]
        var summary: [[Shown]] = [["  format", "\(format.rawValue)"],
                                  ["  size", "\(Formatting.grouped(fileBytes)) bytes (\(Formatting.bytes(fileBytes)))"]]
        if let metadata {
            // One entry per row, so a long value (training notes, tag frequencies) is shortened
            // on its own without hiding the others.
            let pairs = metadata.keys.sorted().map { key -> Shown in "\(name: key.string)=\(metadata[key] ?? "")" }
            summary.append(["  metadata", pairs.first ?? "(empty)"])
            for pair in pairs.dropFirst() { summary.append(["", pair]) }
        }
        if let gguf {
            summary.append(["  version", "GGUF \(gguf.version)"])
            summary.append(["  alignment", "\(gguf.alignment) bytes (data from byte \(Formatting.grouped(gguf.dataStart)))"])
        }
        if let sha256 { summary.append(["  sha256", "\(sha256)"]) }
        lines += Formatting.table(summary)
        if let adapter {
            lines.append("")
            lines.append("adapter")
            lines += adapter.lines.map { "  " + $0 }
        }
        if let files {
            lines.append("")
            lines.append("files")
            lines += Formatting.table(files.map { file in
                [Shown("  ") + Shown(file.path), "\(Formatting.grouped(file.bytes)) bytes", file.sha256.map { Shown($0) } ?? ""]
            }, rightAligned: [1])
        }
        if let gguf, !gguf.metadata.isEmpty {
            // GGUF metadata is typed: key, type, value (long strings and arrays shortened).
            lines.append("")
            lines.append("metadata")
            lines += Formatting.table(gguf.metadataRows.map { row in row.map { Shown($0) } }).map { "  " + $0 }
        }
        // A checkpoint reads top down: its summary, then the tensors, then the rest (docs/cli.md).
        let sections = torch?.sections ?? []
        let leading = torch?.checkpoint != nil ? sections.prefix { $0.isCheckpoint } : sections[...]
        for (title, section, _) in leading where !section.isEmpty {
            lines.append("")
            lines.append(title)
            lines += section.map { "  " + $0 }
        }
        lines.append("")
        if tensors.isEmpty {
            lines.append("no tensors")
        } else {
            // One row per tensor, built straight into a byte table (inspect lists 10,000 tensors).
            var rows = ByteTable(columns: tensorFiles == nil ? 4 : 5, expectedRows: tensors.count + 1)
            // GGUF lists each tensor's ggml type and stored (block) size.
            for header in ["NAME", gguf == nil ? "DTYPE" : "TYPE", "SHAPE", "SIZE"] as [StaticString] { rows.append(header) }
            if tensorFiles != nil { rows.append("FILE" as StaticString) }
            for (index, entry) in tensors.enumerated() {
                rows.append(Shown(entry.name))
                defer { if let tensorFiles { rows.append(Shown(tensorFiles[index])) } }
                if let info = gguf?.tensors[index] {
                    rows.append(Shown(info.type.name))
                    rows.append { Formatting.appendShape(entry.shape.dimensions, to: &$0) }
                    rows.append { Formatting.appendBytes(info.byteCount, to: &$0) }
                    continue
                }
                // A quantized tensor shows its torch dtype beside the stored one: `I8 (qint8)`.
                if let quantization = entry.quantization {
                    rows.append("\(entry.dtype.rawValue) (\(quantization.torchDType))" as Shown)
                } else {
                    rows.append(Shown(entry.dtype.rawValue))
                }
                rows.append { Formatting.appendShape(entry.shape.dimensions, to: &$0) }
                rows.append { Formatting.appendBytes(entry.byteCount, to: &$0) }
            }
            lines.append(rows.rendered())
        }
        lines.append("")
        lines.append("\(Formatting.grouped(tensors.count)) tensors, \(Formatting.grouped(parameterCount)) parameters, \(Formatting.bytes(gguf?.storedBytes ?? tensorBytes))")
        let dtypeRows: [[Shown]] = gguf.map { gguf in
            gguf.byGGMLType.map { ["  \($0.type.name)", "\(Formatting.grouped($0.tensors)) tensors", "\(Formatting.bytes($0.bytes))"] }
        } ?? byDType.map { ["  \($0.dtype.rawValue)", "\(Formatting.grouped($0.tensors)) tensors", "\(Formatting.bytes($0.bytes))"] }
        if !dtypeRows.isEmpty { lines += Formatting.table(dtypeRows, rightAligned: [1, 2]) }
        if !tied.isEmpty {
            lines.append("")
            lines.append("tied (one tensor, several names)")
            for group in tied { lines.append("  " + joined(group.map { Shown($0) }, " = ")) }
        }
        if let modules {
            lines.append("")
            lines.append("modules")
            lines += Formatting.table(modules.map { module in
                let depth = module.name.split(separator: ".", omittingEmptySubsequences: false).count
                let leaf = module.name.split(separator: ".", omittingEmptySubsequences: false).last.map(String.init) ?? module.name
                return [Shown(String(repeating: "  ", count: depth)) + Shown(leaf),
                        "\(Formatting.grouped(module.parameters)) parameters", "\(Formatting.grouped(module.tensors)) tensor\(module.tensors == 1 ? "" : "s")"]
            }, rightAligned: [1, 2])
        }
        for (title, section, _) in sections.dropFirst(leading.count) where !section.isEmpty {
            lines.append("")
            lines.append(title)
            lines += section.map { "  " + $0 }
        }
        return Shown.lines(lines)
    }
}

extension TorchDetails {
    /// The table sections, titled, in the order they print.
    var sections: [(title: Shown, lines: [Shown], isCheckpoint: Bool)] {
        var sections: [(Shown, [Shown], Bool)] = []
        if let checkpoint { sections.append(("checkpoint", checkpoint.lines, true)) }
        if let torchScript { sections.append(("TorchScript archive", torchScript.lines, false)) }
        sections.append(("globals", globals.map { "\($0.allowed ? "allowed" : "kept inert (not allowed)")  \(name: $0.module).\(name: $0.name)" }, false))
        sections.append(("values besides tensors", Formatting.table(plainValues.map { [Shown($0.path), Shown($0.summary)] }), false))
        let unreferenced = unreferencedStorageBytes > 0
            ? "; \(Formatting.bytes(unreferencedStorageBytes)) saved but used by no tensor (views that saved their whole storage)" : ""
        sections.append(("storages", ["\(storageCount) storages, \(Formatting.bytes(storageBytes))\(unreferenced)"], false))
        return sections
    }
}

extension CheckpointSummary {
    /// One line each for progress, weights, every optimizer and scheduler, hyper-parameters and bytes.
    var lines: [Shown] {
        var lines: [Shown] = []
        var progress: [Shown] = []
        if let lightningVersion { progress.append("Lightning \(name: lightningVersion)") }
        // Shown as stored: `epoch nan`, `global step 1e+300`.
        if let epoch { progress.append("epoch \(InertDataRendering.text(epoch))") }
        if let globalStep { progress.append("global step \(InertDataRendering.text(globalStep))") }
        if !progress.isEmpty { lines.append(joined(progress, ", ")) }
        if let stateDictKey { lines.append("weights under \"\(name: stateDictKey)\": \(stateDictTensorCount) tensors") }
        for (i, optimizer) in optimizers.enumerated() {
            var parts: [Shown] = ["optimizer \(i): \(optimizer.kind)"]
            if let lr = optimizer.number("lr") {
                parts.append("lr \(String(lr))" + (optimizer.number("initial_lr").map { " (initial \(String($0)))" } ?? ""))
            }
            if let betas = optimizer.betas { parts.append("betas (\(String(betas.0)), \(String(betas.1)))") }
            if let momentum = optimizer.number("momentum"), optimizer.kind == "SGD" { parts.append("momentum \(String(momentum))") }
            if let decay = optimizer.number("weight_decay") { parts.append("weight_decay \(String(decay))") }
            if optimizer.flag("amsgrad") == true { parts.append("amsgrad") }
            if let step = optimizer.step { parts.append("step \(Formatting.count(step))") }
            let indices = optimizer.parameterIndices
            let range: Shown = indices.first.map { first in " [\(first)…\(indices.last ?? first)]" } ?? ""
            parts.append("\(indices.count) parameters\(range), \(optimizer.parametersWithState) with state")
            lines.append(joined(parts, ", "))
        }
        for (i, scheduler) in schedulers.enumerated() {
            let settings = scheduler.settings.filter { $0.isScalar && !$0.key.hasPrefix("_") }.map { setting -> Shown in "\(name: setting.key) \(name: setting.summary)" }
            lines.append("scheduler \(i): \(name: scheduler.kind ?? "unknown")" + (settings.isEmpty ? "" : ", " + joined(settings, ", ")))
        }
        if let hyperParametersText { lines.append("hyper_parameters: \(hyperParametersText)") }
        lines.append("bytes: weights \(Formatting.bytes(byteSplit.weights)), optimizer state \(Formatting.bytes(byteSplit.optimizer)), other tensors \(Formatting.bytes(byteSplit.other))")
        return lines
    }
}

extension TorchScriptDetails {
    /// The code records (the first five), the module classes (the first eight), the constants and
    /// the pickles not read.
    var lines: [Shown] {
        var lines: [Shown] = []
        let more: Shown = codeFiles.count > 5 ? ", … (\(codeFiles.count) files)" : ""
        lines.append("code: " + joined(codeFiles.prefix(5).map { Shown(name: $0) }, ", ") + more + " (read-only; never run)")
        let modules = classes.filter(\.isModule).map(\.name)
        if !modules.isEmpty {
            lines.append("modules: " + joined(modules.prefix(8).map { Shown(name: $0) }, ", ") + (modules.count > 8 ? ", …" : ""))
        }
        lines.append("constants: \(constantCount) tensor\(constantCount == 1 ? "" : "s")")
        if !otherPickles.isEmpty { lines.append("not read: " + joined(otherPickles.map { Shown(name: $0) }, ", ")) }
        return lines
    }
}

/// `parts` joined with the tool's own `separator`.
func joined(_ parts: [Shown], _ separator: Shown) -> Shown {
    var result: Shown = ""
    for (i, part) in parts.enumerated() { result = i == 0 ? part : result + separator + part }
    return result
}

extension AdapterSummary {
    /// The adapter section: kind, rank, alpha, rsLoRA, then one line per target (with its rank and
    /// alpha when they differ from the adapter's).
    var lines: [Shown] {
        func number(_ value: Double?) -> String {
            guard let value else { return "unknown" }
            return value == value.rounded() && abs(value) < 1e15 ? String(Int(value)) : String(value)
        }
        var lines: [Shown] = [
            "kind       \(kind.rawValue)",
            "rank       \(rank.map(String.init) ?? "unknown")",
            "alpha      \(number(alpha))",
            "rsLoRA     \(usesRSLoRA ? "yes" : "no")",
            "targets    \(targets.count)",
        ]
        let differing = Dictionary(perTarget.map { ($0.target, ($0.rank, $0.alpha)) }, uniquingKeysWith: { first, _ in first })
        for target in targets {
            if let (rank, alpha) = differing[target] {
                lines.append("  \(name: target) (rank \(rank), alpha \(number(alpha)))")
            } else {
                lines.append("  \(name: target)")
            }
        }
        return lines
    }
}
