import BinaryIO
import ModelFormats
import PickleVM
import ZipFormat

/// `modelfile scan`: a security verdict from the pickle's instructions alone. Nothing is
/// interpreted or loaded: every global and `INST`/`STACK_GLOBAL` import, every extension code and
/// every opcode kind is listed, each import marked allowed (in torch's weights-only allowlist) or
/// not, and every opcode outside the weights-only set reported.
public struct ScanReport {
    /// One pickle in the file.
    public struct PickleSection {
        /// Where it is: `archive/data.pkl`, or `legacy pickle 4 at byte 1234`.
        public let place: String
        /// Imports in order: qualified name (or `?` when built at run time), opcode, offset, verdict.
        public let imports: [(name: String, opcode: String, offset: Int, allowed: Bool)]
        /// Opcodes outside the weights-only set, with counts.
        public let unsupportedOpcodes: [(name: String, count: Int)]
        /// Extension-registry codes (`EXT1/2/4`): callables looked up by number.
        public let extensionCodes: [(code: Int64, offset: Int)]
        /// The opcode categories used.
        public let categories: [String]
        /// Where the instruction stream broke off, if it did.
        public let error: String?
        /// The offset after its STOP (where a following pickle starts).
        let end: Int?
    }

    /// The path scanned.
    public let path: String
    /// What the file is.
    public let kind: String
    /// Each pickle found.
    public let pickles: [PickleSection]
    /// Problems, one line each.
    public let findings: [String]

    /// Whether nothing outside the allowlist was found.
    public var isClean: Bool { findings.isEmpty }

    /// Scans `path`.
    ///
    /// - Throws: `ModelFileError` when the file cannot be read or its container is malformed.
    public static func scan(path: String) throws -> ScanReport {
        try attributing(to: path) {
            let kind: DetectedKind
            do {
                kind = try FormatDetector.detect(path: path)
            } catch let error as UnrecognizedFormatError {
                let file = try MappedFile(path: path)
                if file.count >= 2, file.bytes[0] == 0x80, (2...5).contains(file.bytes[1]) {
                    // A bare pickle (renamed .bin/.pt): scan it, and say it is not a torch file.
                    let section = scanPickle(file.bytes, from: 0, place: "pickle")
                    return ScanReport(path: path, kind: "bare pickle", pickles: [section],
                                      findings: ["a bare pickle stream, not a torch archive: torch.load refuses it"] + findings(section))
                }
                throw error
            }
            switch kind {
            case .safetensors, .shardIndex:
                return ScanReport(path: path, kind: "safetensors (no pickle)", pickles: [], findings: [])
            case .directory(let weights):
                let inner = try scan(path: weights)
                return ScanReport(path: path, kind: "folder: \(inner.kind) \(weights.split(separator: "/").last ?? "")",
                                  pickles: inner.pickles, findings: inner.findings)
            case .gguf:
                return scanGGUF(path)
            case .zipArchive:
                return try scanZip(path)
            case .legacyTorch:
                return try scanLegacy(path)
            }
        }
    }

    private static func scanZip(_ path: String) throws -> ScanReport {
        let file = try MappedFile(path: path)
        let archive = try ZipArchive(file: file)
        var sections: [PickleSection] = []
        var findings: [String] = []
        let folder = archive.rootFolder ?? ""
        if archive.entry(named: "\(folder)/constants.pkl") != nil || archive.entries.contains(where: { $0.name.hasPrefix("\(folder)/code/") }) {
            findings.append("a TorchScript archive: it holds code (code/, constants.pkl); torch.load(weights_only=True) refuses it")
        }
        do { try archive.checkSingleRootFolder() } catch { findings.append("\(error)") }
        for entry in archive.entries where entry.name.hasSuffix(".pkl") {
            let data = try archive.data(of: entry, verifyingCRC: true)
            let section = data.withUnsafeBytes { scanPickle($0, from: 0, place: entry.name) }
            sections.append(section)
            findings += self.findings(section)
            // Bytes after STOP are never read by torch, but a scanner must not ignore what hides
            // there: report them, and scan them when they are another pickle.
            if let end = section.end, end < data.bytes.count {
                findings.append("\(entry.name): \(data.bytes.count - end) bytes after STOP, which torch never reads")
                if data.bytes[end] == 0x80 {
                    let hidden = data.withUnsafeBytes { scanPickle($0, from: end, place: "\(entry.name) after STOP (byte \(end))") }
                    sections.append(hidden)
                    findings += self.findings(hidden)
                }
            }
        }
        if !sections.contains(where: { $0.place == "\(folder)/data.pkl" }) { findings.append("no \(folder)/data.pkl: not a torch.save archive") }
        return ScanReport(path: path, kind: "pytorch-zip", pickles: sections, findings: findings)
    }

    private static func scanLegacy(_ path: String) throws -> ScanReport {
        let file = try MappedFile(path: path)
        var sections: [PickleSection] = []
        var findings: [String] = []
        var offset = 0
        for number in 1...5 {
            let section = scanPickle(file.bytes, from: offset, place: "legacy pickle \(number) at byte \(offset)")
            sections.append(section)
            findings += self.findings(section)
            guard section.error == nil, let end = section.end else { break }
            offset = end
        }
        return ScanReport(path: path, kind: "pytorch-legacy", pickles: sections, findings: findings)
    }

    static func scanPickle(_ bytes: UnsafeRawBufferPointer, from offset: Int, place: String) -> PickleSection {
        let (report, error) = PickleScanner.scanPartially(bytes, from: offset)
        let imports = report.imports.map { site -> (String, String, Int, Bool) in
            let global = site.global
            let allowed = global.map { TorchGlobals.meaning(module: $0.module, name: $0.name) != nil } ?? false
            return (global?.qualifiedName ?? "?", site.opcode.name, site.offset, allowed && site.opcode == .global)
        }
        let unsupported = report.unsupportedOpcodes.map { ($0.name, report.opcodeCounts[$0] ?? 0) }
        return PickleSection(
            place: place, imports: imports, unsupportedOpcodes: unsupported,
            extensionCodes: report.extensionCodes.map { ($0.code, $0.offset) },
            categories: report.categories.map(\.rawValue).sorted(), error: error.map { "\($0)" },
            end: error == nil ? report.stopOffset + 1 : nil)
    }

    static func findings(_ section: PickleSection) -> [String] {
        var result: [String] = []
        for site in section.imports where !site.allowed {
            result.append("\(section.place) at byte \(site.offset): \(site.opcode) \(site.name) is outside the weights-only allowlist")
        }
        for (name, count) in section.unsupportedOpcodes {
            result.append("\(section.place): opcode \(name) (\(count)×) is outside the weights-only set")
        }
        for (code, offset) in section.extensionCodes {
            result.append("\(section.place) at byte \(offset): extension code \(code) names a callable by number")
        }
        if let error = section.error { result.append("\(section.place): the pickle breaks off: \(error)") }
        return result
    }

    /// The `modelfile.scan/1` JSON document.
    public var json: JSONValue {
        .object([
            ("schema", "modelfile.scan/1"),
            ("path", .string(path)),
            ("kind", .string(kind)),
            ("clean", .bool(isClean)),
            ("pickles", .array(pickles.map { section in
                .object([
                    ("place", .string(section.place)),
                    ("globals", .array(section.imports.map { site in
                        .object([("name", .string(site.name)), ("opcode", .string(site.opcode)), ("offset", .int(site.offset)), ("allowed", .bool(site.allowed))])
                    })),
                    ("opcode_classes", .array(section.categories.map { .string($0) })),
                    ("unsupported_opcodes", .object(section.unsupportedOpcodes.map { ($0.name, .int($0.count)) })),
                    ("error", section.error.map { .string($0) } ?? .null),
                ])
            })),
            ("findings", .array(findings.map { .string($0) })),
        ])
    }

    /// The human report.
    public var table: String {
        var lines = ["\(path): \(kind)"]
        for section in pickles {
            lines.append("  \(section.place): opcode classes \(section.categories.joined(separator: ", "))")
            var seen = Set<String>()
            for site in section.imports where seen.insert(site.name).inserted {
                lines.append("    \(site.allowed ? "allowed " : "REFUSED ") \(site.name)")
            }
        }
        lines += findings.map { "finding: \($0)" }
        lines.append(isClean ? "clean" : "\(findings.count) finding(s)")
        return lines.joined(separator: "\n")
    }
}
