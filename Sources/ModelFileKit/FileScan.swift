import BinaryIO
import ModelFormats
import PickleVM
import ZipFormat

#if canImport(Glibc)
import Glibc
#endif

// Scanning one file by its content: a torch zip archive, a legacy stream, a bare pickle, a
// NumPy array (docs/security.md, "What scan covers").

/// Scans one file by its content.
enum FileScan {
    /// The extensions of files that hold pickles (or may: `.bin` is also used for raw data).
    static let pickleExtensions: Set<String> = ["bin", "pt", "pth", "ckpt", "pkl", "pickle", "npy", "npz"]

    /// Scans the regular file at `path`, reported as `name`.
    ///
    /// - Parameters:
    ///   - strict: refuse content that is not a model file (a wheel, an HTML page, …) by throwing;
    ///     otherwise return it as ``ScannedFile/Content/other(looksLike:)``.
    ///   - options: the zip limits, and the read budget the file's inflated records count against.
    /// - Throws: `FileError`, `UnrecognizedFormatError` (when strict), `ZipError` for a zip that
    ///   cannot be indexed, `NumPyError` for a malformed NumPy header, `ReadBudgetExceeded`.
    static func scan(path: String, name: String, strict: Bool, options: ReadOptions, findings: inout [ScanFinding]) throws -> ScannedFile {
        let file = try MappedFile(path: path)
        let bytes = file.bytes
        let budget = ReadBudget(fileByteCount: file.count, limit: options.maxMaterializedBytes)
        let kind: DetectedKind
        do {
            kind = try FormatDetector.detect(bytes: bytes)
        } catch let error as UnrecognizedFormatError {
            // A zip with bytes before its first header (a polyglot) is still a zip to readers
            // that start from the end record: scan it and report the leading bytes.
            if ZipScan.endsLikeZip(bytes),
               let scanned = try? ZipScan.scan(file, name: name, strict: strict, options: options, budget: budget, findings: &findings) {
                return scanned
            }
            if let pickle = barePickle(bytes) {
                findings.append(.barePickle(file: name))
                findings += pickle.findings(file: name)
                return ScannedFile(path: name, content: .barePickle, pickles: [pickle])
            }
            if strict { throw error }
            return ScannedFile(path: name, content: .other(looksLike: error.looksLike), pickles: [])
        }
        let scanned: ScannedFile
        switch kind {
        case .safetensors:
            return ScannedFile(path: name, content: .safetensors, pickles: [])
        case .shardIndex, .directory, .adapterFolder:
            // Indexes are followed by the folder scan, which scans the shards they name.
            return ScannedFile(path: name, content: .other(looksLike: "a sharded set's index"), pickles: [])
        case .zipArchive:
            scanned = try ZipScan.scan(file, name: name, strict: strict, options: options, budget: budget, findings: &findings)
        case .numpyArray:
            scanned = try NumPyScan.scanArray(bytes, name: name, options: options, findings: &findings)
        case .numpyArchive:
            let archive = try ZipArchive(file: file, limits: options.zipLimits)
            scanned = try NumPyScan.scanArchive(archive, name: name, options: options, budget: budget, findings: &findings)
        case .gguf:
            scanned = try GGUFScan.scan(bytes, name: name, options: options, findings: &findings)
        case .legacyTorch:
            scanned = scanLegacy(bytes, name: name, findings: &findings)
        }
        if name.hasSuffix(".safetensors"), !scanned.pickles.isEmpty {
            findings.append(.pickleNamedSafetensors(file: name, content: "a \(scanned.content.name) file"))
        }
        return scanned
    }

    /// A pickle at the start of `bytes` that runs to its STOP: one with a `PROTO` header, or a
    /// protocol 0/1 pickle that parses completely (what torch's legacy path would unpickle).
    static func barePickle(_ bytes: UnsafeRawBufferPointer) -> ScannedPickle? {
        guard bytes.count >= 2 else { return nil }
        let hasProto = bytes[0] == 0x80 && (2...5).contains(bytes[1])
        let pickle = scanPickle(bytes, from: 0, place: "pickle")
        guard hasProto || (pickle.error == nil && pickle.end != nil) else { return nil }
        return pickle
    }

    static func scanLegacy(_ bytes: UnsafeRawBufferPointer, name: String, findings: inout [ScanFinding]) -> ScannedFile {
        var pickles: [ScannedPickle] = []
        var offset = 0
        for number in 1...5 {
            let pickle = scanPickle(bytes, from: offset, place: "legacy pickle \(number) at byte \(offset)")
            pickles.append(pickle)
            findings += pickle.findings(file: name)
            guard pickle.error == nil, let end = pickle.end else { break }
            offset = end
        }
        return ScannedFile(path: name, content: .pytorchLegacy, pickles: pickles)
    }

    static func scanPickle(_ bytes: UnsafeRawBufferPointer, from offset: Int, place: String) -> ScannedPickle {
        let (report, error) = PickleScanner.scanPartially(bytes, from: offset)
        let imports = report.imports.map { site -> ScannedImport in
            let global = site.global
            let allowed = global.map { TorchGlobals.meaning(module: $0.module, name: $0.name) != nil } ?? false
            return ScannedImport(module: global?.module, name: global?.name, opcode: site.opcode.name, offset: site.offset,
                                 allowed: allowed && site.opcode == .global)
        }
        let unsupported = report.unsupportedOpcodes.map { ($0.name, report.opcodeCounts[$0] ?? 0) }
        return ScannedPickle(
            place: place, imports: imports, unsupportedOpcodes: unsupported,
            extensionCodes: report.extensionCodes.map { ($0.code, $0.offset) },
            categories: report.categories.map(\.rawValue).sorted(), error: error,
            end: error == nil ? report.stopOffset + 1 : nil)
    }
}

extension ScannedPickle {
    /// What this pickle contributes to the findings of `file`.
    func findings(file: String) -> [ScanFinding] {
        var result: [ScanFinding] = []
        for site in imports where !site.allowed {
            result.append(.globalOutsideAllowlist(file: file, pickle: place, offset: site.offset, opcode: site.opcode,
                                                  global: site.module == nil ? nil : site.qualifiedName))
        }
        for (name, count) in unsupportedOpcodes {
            result.append(.opcodeOutsideWeightsOnly(file: file, pickle: place, opcode: name, count: count))
        }
        for (code, offset) in extensionCodes {
            result.append(.extensionCode(file: file, pickle: place, offset: offset, code: code))
        }
        if let error { result.append(.pickleBreaksOff(file: file, pickle: place, error: error)) }
        return result
    }
}
