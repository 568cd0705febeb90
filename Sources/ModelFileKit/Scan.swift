import BinaryIO
import ModelFormats
import PickleVM
import ZipFormat

#if canImport(Glibc)
import Glibc
#endif

// `modelfile scan`: a security verdict from the pickles' instructions alone (docs/security.md,
// "What scan covers"). Nothing is interpreted or loaded. A folder's verdict covers every file a
// load could read: every pickle-bearing file by name, every shard named by any index, and every
// safetensors file (whose content may be a pickle). Each finding is a value naming its file.

/// What `modelfile scan` found for one path (a file, a sharded index, or a folder).
public struct ScanReport {
    /// What the path was.
    public enum Target: String, Sendable {
        /// One file.
        case file
        /// A sharded set's index (its shards are scanned).
        case index
        /// A folder (every file a load could read is scanned).
        case folder
    }

    /// The path scanned, as given.
    public let path: String
    /// What it was.
    public let target: Target
    /// Every file looked at, in path order (one for a single file).
    public let files: [ScannedFile]
    /// What was found, each naming its file.
    public let findings: [ScanFinding]
    /// Files of a folder or set that could not be scanned (each also makes the scan fail).
    public let failures: [ScanFailure]

    /// Whether nothing was found and every file was scanned.
    public var isClean: Bool { findings.isEmpty && failures.isEmpty }

    /// Every import of every pickle, with its file, in file order.
    public var globals: [ScannedGlobal] {
        files.flatMap { file in file.pickles.flatMap { pickle in pickle.imports.map { ScannedGlobal(file: file.path, pickle: pickle.place, site: $0) } } }
    }

    /// Scans `path`: a file, a sharded set's `*.index.json`, or a folder.
    ///
    /// - Throws: `ModelFileError` when the path cannot be read, is not a model file (a wheel, an
    ///   HTML page, …), or (for a single file) its container is malformed.
    public static func scan(path: String) throws -> ScanReport {
        try attributing(to: path) {
            var info = stat()
            guard stat(path, &info) == 0 else { throw FileError(path: path, operation: "open", errno: errno) }
            if (info.st_mode & S_IFMT) == S_IFDIR { return try FolderScan(folder: path).run() }
            guard (info.st_mode & S_IFMT) == S_IFREG else {
                throw FileError(path: path, operation: "open", message: "is not a regular file")
            }
            if case .shardIndex? = try? FormatDetector.detect(path: path) { return try FolderScan(index: path).run() }
            var findings: [ScanFinding] = []
            let file = try FileScan.scan(path: path, name: path, strict: true, findings: &findings)
            return ScanReport(path: path, target: .file, files: [file], findings: findings, failures: [])
        }
    }
}

extension ScanReport {
    /// What the path is, for JSON and tables: `folder`, `index`, or the file's content
    /// (`pytorch-zip`, `safetensors`, …).
    public var kind: String {
        switch target {
        case .folder, .index: return target.rawValue
        case .file: return files.first?.content.name ?? "file"
        }
    }

    /// The `modelfile.scan/1` JSON document.
    public var json: JSONValue {
        .object([
            ("schema", "modelfile.scan/1"),
            ("path", .string(path)),
            ("kind", .string(kind)),
            ("clean", .bool(isClean)),
            ("files", .array(files.map { file in
                var members: [(String, JSONValue)] = [("path", .string(file.path)), ("kind", .string(file.content.name))]
                if case .other(let looksLike) = file.content { members.append(("looks_like", .string(looksLike))) }
                return .object(members)
            })),
            ("pickles", .array(files.flatMap { file in
                file.pickles.map { pickle in
                    .object([
                        ("file", .string(file.path)),
                        ("place", .string(pickle.place)),
                        ("globals", .array(pickle.imports.map { site in
                            .object([("name", .string(site.qualifiedName)), ("opcode", .string(site.opcode)), ("offset", .int(site.offset)),
                                     ("allowed", .bool(site.allowed))])
                        })),
                        ("opcode_classes", .array(pickle.categories.map { .string($0) })),
                        ("unsupported_opcodes", .object(pickle.unsupportedOpcodes.map { ($0.name, .int($0.count)) })),
                        ("error", pickle.error.map { .string("\($0)") } ?? .null),
                    ])
                }
            })),
            ("findings", .array(findings.map { .string($0.message) })),
            ("finding_details", .array(findings.map { .object([("code", .string($0.code)), ("file", .string($0.file))]) })),
            ("errors", .array(failures.map { .string($0.description) })),
        ])
    }
}

/// One file looked at by a scan.
public struct ScannedFile {
    /// What its content is.
    public enum Content: Sendable, Equatable {
        /// A safetensors file: no pickle.
        case safetensors
        /// A `torch.save` zip archive.
        case pytorchZip
        /// A TorchScript archive (code, constants).
        case torchScript
        /// The legacy torch stream of pickles.
        case pytorchLegacy
        /// A pickle on its own (a renamed `.pkl`).
        case barePickle
        /// A NumPy `.npy` array (a pickle inside when its dtype is object).
        case numpyArray
        /// A NumPy `.npz` archive of arrays.
        case numpyArchive
        /// Not read: a link out of the folder.
        case notRead
        /// Not a pickle-bearing file (`looksLike` says what it is); nothing to scan.
        case other(looksLike: String)

        /// The name used in JSON and tables.
        public var name: String {
            switch self {
            case .safetensors: return "safetensors"
            case .pytorchZip: return "pytorch-zip"
            case .torchScript: return "torchscript"
            case .pytorchLegacy: return "pytorch-legacy"
            case .barePickle: return "bare-pickle"
            case .numpyArray: return "numpy-npy"
            case .numpyArchive: return "numpy-npz"
            case .notRead: return "not-read"
            case .other: return "other"
            }
        }
    }

    /// The file: relative to the folder for a folder's files, else the path as given.
    public let path: String
    /// What it holds.
    public let content: Content
    /// The pickles found in it.
    public let pickles: [ScannedPickle]
}

/// One pickle in a scanned file.
public struct ScannedPickle {
    /// Where it is: `archive/data.pkl`, `legacy pickle 4 at byte 1234`, `pickle`.
    public let place: String
    /// Imports (`GLOBAL`, `INST`, `STACK_GLOBAL`) in order.
    public let imports: [ScannedImport]
    /// Opcodes outside the weights-only set, with counts.
    public let unsupportedOpcodes: [(name: String, count: Int)]
    /// Extension-registry codes (`EXT1/2/4`): callables looked up by number.
    public let extensionCodes: [(code: Int64, offset: Int)]
    /// The opcode categories used, sorted.
    public let categories: [String]
    /// Where the instruction stream broke off, if it did.
    public let error: PickleError?
    /// The offset after its STOP (where a following pickle starts).
    let end: Int?
}

/// One import site of a pickle, with its verdict.
public struct ScannedImport: Sendable, Equatable {
    /// The module after the Python-2 mapping, or `nil` when built at run time (`STACK_GLOBAL`
    /// over values that are not string constants).
    public let module: String?
    /// The name, or `nil` as for ``module``.
    public let name: String?
    /// `GLOBAL`, `INST` or `STACK_GLOBAL`.
    public let opcode: String
    /// The opcode's byte offset in its pickle.
    public let offset: Int
    /// Whether torch's weights-only loader accepts it.
    public let allowed: Bool

    /// `module.name`, or `?` when not known.
    public var qualifiedName: String {
        guard let module, let name else { return "?" }
        return module + "." + name
    }
}

/// An import with the file and pickle it is in.
public struct ScannedGlobal: Sendable, Equatable {
    /// The file.
    public let file: String
    /// The pickle in it.
    public let pickle: String
    /// The import.
    public let site: ScannedImport

    /// The module (`nil` when built at run time).
    public var module: String? { site.module }
    /// The name (`nil` when built at run time).
    public var name: String? { site.name }
    /// Whether it is allowed.
    public var allowed: Bool { site.allowed }
}

/// Where bytes that no zip record accounts for were found.
public enum HiddenBytesPlace: Sendable, Equatable {
    /// Before the first local header.
    case beforeFirstEntry
    /// After an entry's data (and its data descriptor), before the next header.
    case afterEntry(String)
    /// After the last entry, before the central directory.
    case beforeCentralDirectory
    /// In the zip64 end record's extensible data, after the central directory.
    case zip64EndRecord
    /// In the end record's comment, after the central directory, at the end of the file.
    case archiveComment
}

/// Something `scan` reports, with the facts it concerns; every case names its file.
public enum ScanFinding: Sendable, Equatable {
    /// An import outside the weights-only allowlist (`global` nil: the name is built at run time).
    case globalOutsideAllowlist(file: String, pickle: String, offset: Int, opcode: String, global: String?)
    /// An opcode outside the set the weights-only loader executes.
    case opcodeOutsideWeightsOnly(file: String, pickle: String, opcode: String, count: Int)
    /// `EXT1/2/4`: a callable named by number.
    case extensionCode(file: String, pickle: String, offset: Int, code: Int64)
    /// The instruction stream breaks off.
    case pickleBreaksOff(file: String, pickle: String, error: PickleError)
    /// Bytes after a pickle's STOP, which torch never reads.
    case bytesAfterStop(file: String, pickle: String, count: Int)
    /// A pickle on its own, not a torch archive.
    case barePickle(file: String)
    /// A TorchScript archive: it holds code.
    case torchScript(file: String)
    /// Entries outside the archive's single root folder.
    case entriesOutsideRootFolder(file: String, error: ZipError)
    /// A zip entry that nothing in a torch load reads (not a known record, not a storage the
    /// pickle names).
    case entryNotRead(file: String, entry: String)
    /// A local file header that no central directory record lists: an entry hidden from zip
    /// readers that use the directory, visible to those that stream.
    case hiddenLocalEntry(file: String, offset: Int, name: String)
    /// Bytes that no zip record accounts for.
    case hiddenBytes(file: String, offset: Int, count: Int, place: HiddenBytesPlace)
    /// A file of the folder that is a link to somewhere outside it; not read.
    case linkLeavesFolder(file: String, target: String)
    /// A `.safetensors` name over content that holds pickles.
    case pickleNamedSafetensors(file: String, content: String)

    /// The kind of finding, for programs.
    public var code: String {
        switch self {
        case .globalOutsideAllowlist: return "global_outside_allowlist"
        case .opcodeOutsideWeightsOnly: return "opcode_outside_weights_only"
        case .extensionCode: return "extension_code"
        case .pickleBreaksOff: return "pickle_breaks_off"
        case .bytesAfterStop: return "bytes_after_stop"
        case .barePickle: return "bare_pickle"
        case .torchScript: return "torchscript"
        case .entriesOutsideRootFolder: return "entries_outside_root_folder"
        case .entryNotRead: return "entry_not_read"
        case .hiddenLocalEntry: return "hidden_local_entry"
        case .hiddenBytes: return "hidden_bytes"
        case .linkLeavesFolder: return "link_leaves_folder"
        case .pickleNamedSafetensors: return "pickle_named_safetensors"
        }
    }

    /// The file the finding is about.
    public var file: String {
        switch self {
        case .globalOutsideAllowlist(let file, _, _, _, _), .opcodeOutsideWeightsOnly(let file, _, _, _),
             .extensionCode(let file, _, _, _), .pickleBreaksOff(let file, _, _), .bytesAfterStop(let file, _, _),
             .barePickle(let file), .torchScript(let file), .entriesOutsideRootFolder(let file, _),
             .entryNotRead(let file, _), .hiddenLocalEntry(let file, _, _), .hiddenBytes(let file, _, _, _),
             .linkLeavesFolder(let file, _), .pickleNamedSafetensors(let file, _):
            return file
        }
    }

    /// One line naming the file (text from the file unescaped: a terminal shows it escaped).
    public var message: String {
        switch self {
        case .globalOutsideAllowlist(let file, let pickle, let offset, let opcode, let global):
            let named = global.map { "\(opcode) \($0)" } ?? "\(opcode) whose name is built at run time"
            return "\(file): \(pickle) at byte \(offset): \(named) is outside the weights-only allowlist"
        case .opcodeOutsideWeightsOnly(let file, let pickle, let opcode, let count):
            return "\(file): \(pickle): opcode \(opcode) (\(count)×) is outside the weights-only set"
        case .extensionCode(let file, let pickle, let offset, let code):
            return "\(file): \(pickle) at byte \(offset): extension code \(code) names a callable by number"
        case .pickleBreaksOff(let file, let pickle, let error):
            return "\(file): \(pickle): the pickle breaks off: \(error)"
        case .bytesAfterStop(let file, let pickle, let count):
            return "\(file): \(pickle): \(count) bytes after STOP, which torch never reads"
        case .barePickle(let file):
            return "\(file): a bare pickle stream, not a torch archive: torch.load refuses it"
        case .torchScript(let file):
            return "\(file): a TorchScript archive: it holds code (code/, constants.pkl); torch.load(weights_only=True) refuses it"
        case .entriesOutsideRootFolder(let file, let error):
            return "\(file): \(error)"
        case .entryNotRead(let file, let entry):
            return "\(file): entry \"\(entry)\" is read by no torch load (no record references it)"
        case .hiddenLocalEntry(let file, let offset, let name):
            return "\(file): a local entry \"\(name)\" at byte \(offset) is listed by no central directory record (hidden from zip readers that use the directory)"
        case .hiddenBytes(let file, let offset, let count, let place):
            let where_: String
            switch place {
            case .beforeFirstEntry: where_ = "before the first entry"
            case .afterEntry(let entry): where_ = "after entry \"\(entry)\""
            case .beforeCentralDirectory: where_ = "between the last entry and the central directory"
            case .zip64EndRecord: where_ = "in the zip64 end record, after the central directory"
            case .archiveComment: where_ = "in the archive comment, after the central directory"
            }
            return "\(file): \(count) bytes at byte \(offset) \(where_) belong to no entry"
        case .linkLeavesFolder(let file, let target):
            return "\(file): a link to \(target), outside the folder; refused (not read)"
        case .pickleNamedSafetensors(let file, let content):
            return "\(file): named .safetensors but holds \(content), with pickles"
        }
    }
}

/// A file of a folder or sharded set that could not be scanned.
public struct ScanFailure: Error, CustomStringConvertible {
    /// The file, relative to the folder.
    public let file: String
    /// Why.
    public let error: Error

    public var description: String { "\(file): \(error)" }
}

// MARK: - One file

/// Scans one file by its content.
enum FileScan {
    /// The extensions of files that hold pickles (or may: `.bin` is also used for raw data).
    static let pickleExtensions: Set<String> = ["bin", "pt", "pth", "ckpt", "pkl", "pickle", "npy", "npz"]

    /// Scans the regular file at `path`, reported as `name`.
    ///
    /// - Parameter strict: refuse content that is not a model file (a wheel, an HTML page, …) by
    ///   throwing; otherwise return it as ``ScannedFile/Content/other(looksLike:)``.
    /// - Throws: `FileError`, `UnrecognizedFormatError` (when strict), `ZipError` for a zip that
    ///   cannot be indexed.
    static func scan(path: String, name: String, strict: Bool, findings: inout [ScanFinding]) throws -> ScannedFile {
        let file = try MappedFile(path: path)
        let bytes = file.bytes
        if NumPyScan.isNumPyArray(bytes) {
            return NumPyScan.scanArray(bytes, name: name, findings: &findings)
        }
        let kind: DetectedKind
        do {
            kind = try FormatDetector.detect(bytes: bytes)
        } catch let error as UnrecognizedFormatError {
            // A zip with bytes before its first header (a polyglot) is still a zip to readers
            // that start from the end record: scan it and report the leading bytes.
            if ZipScan.endsLikeZip(bytes), let scanned = try? ZipScan.scan(file, name: name, strict: strict, findings: &findings) {
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
        case .safetensors, .shardIndex, .directory:
            return ScannedFile(path: name, content: .safetensors, pickles: [])
        case .zipArchive:
            scanned = try ZipScan.scan(file, name: name, strict: strict, findings: &findings)
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

// MARK: - Zip archives

/// A torch zip archive: every `.pkl` record, the records no load reads, and the bytes no record
/// accounts for.
enum ZipScan {
    /// Records a torch load reads besides `data.pkl` and the storages.
    static let knownRecords: Set<String> = [
        "version", ".data/version", "byteorder", ".format_version", ".storage_alignment", ".data/serialization_id",
    ]

    static func scan(_ file: MappedFile, name: String, strict: Bool, findings: inout [ScanFinding]) throws -> ScannedFile {
        // Bytes before the first entry are reported below as hidden bytes rather than refused;
        // any other fault refuses the archive either way.
        let archive = try (try? ZipArchive(file: file)) ?? ZipArchive(file: file, allowingLeadingData: true)
        let names = archive.entries.map(\.name)
        let numpyMembers = !names.isEmpty && names.allSatisfy { $0.hasSuffix(".npy") }
        if numpyMembers {
            return try NumPyScan.scanArchive(archive, name: name, findings: &findings)
        }
        if let other = FormatDetector.describeZip(entryNames: names) {
            if strict { throw UnrecognizedFormatError(looksLike: other) }
            return ScannedFile(path: name, content: .other(looksLike: other), pickles: [])
        }
        let folder = archive.rootFolder ?? ""
        let isTorchScript = archive.entry(named: "\(folder)/constants.pkl") != nil
            || archive.entries.contains { $0.name.hasPrefix("\(folder)/code/") }
        if isTorchScript { findings.append(.torchScript(file: name)) }
        do { try archive.checkSingleRootFolder() } catch { findings.append(.entriesOutsideRootFolder(file: name, error: error)) }

        var pickles: [ScannedPickle] = []
        var strings = Set<String>()
        for entry in archive.entries where entry.name.hasSuffix(".pkl") {
            let data = try archive.data(of: entry, verifyingCRC: true)
            let pickle = data.withUnsafeBytes { FileScan.scanPickle($0, from: 0, place: entry.name) }
            pickles.append(pickle)
            findings += pickle.findings(file: name)
            if entry.name == "\(folder)/data.pkl" { strings = data.withUnsafeBytes(pickleStrings) }
            // Bytes after STOP are never read by torch, but a scanner must not ignore what hides
            // there: report them, and scan them when they are another pickle.
            if let end = pickle.end, end < data.count {
                findings.append(.bytesAfterStop(file: name, pickle: entry.name, count: data.count - end))
                if data.bytes[end] == 0x80 {
                    let hidden = data.withUnsafeBytes { FileScan.scanPickle($0, from: end, place: "\(entry.name) after STOP (byte \(end))") }
                    pickles.append(hidden)
                    findings += hidden.findings(file: name)
                }
            }
        }
        if !isTorchScript {
            for entry in archive.entries where !entry.name.hasSuffix(".pkl") && !isRead(entry.name, folder: folder, strings: strings) {
                findings.append(.entryNotRead(file: name, entry: entry.name))
            }
        }
        findings += hiddenBytes(archive, name: name)
        return ScannedFile(path: name, content: isTorchScript ? .torchScript : .pytorchZip, pickles: pickles)
    }

    /// Whether an end of central directory record signature lies in the last 64 KiB + 22 bytes.
    static func endsLikeZip(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard bytes.count >= 22 else { return false }
        let lowest = max(0, bytes.count - 22 - 65_535)
        var offset = bytes.count - 22
        while offset >= lowest {
            if bytes[offset] == 0x50, bytes[offset + 1] == 0x4B, bytes[offset + 2] == 0x05, bytes[offset + 3] == 0x06 { return true }
            offset -= 1
        }
        return false
    }

    /// Whether a torch load reads the entry: a known record, or `data/<key>` for a storage key
    /// the pickle spells.
    static func isRead(_ entry: String, folder: String, strings: Set<String>) -> Bool {
        let prefix = folder + "/"
        guard entry.utf8.starts(with: prefix.utf8) else { return false }
        let record = String(entry.dropFirst(prefix.count))
        if knownRecords.contains(record) { return true }
        let storagePrefix = "data/"
        guard record.utf8.starts(with: storagePrefix.utf8) else { return false }
        return strings.contains(String(record.dropFirst(storagePrefix.count)))
    }

    /// Every string constant a pickle pushes (storage keys among them), without executing it.
    static func pickleStrings(_ bytes: UnsafeRawBufferPointer) -> Set<String> {
        var walk = PickleDisassembler(bytes)
        var strings = Set<String>()
        while let instruction = try? walk.next() {
            switch instruction.argument {
            // Storage keys are short; longer strings are not kept (a pickle may hold huge ones).
            case .bytes(let range) where range.count <= 256, .line(let range) where range.count <= 256:
                strings.insert(walk.text(range))
            default: break
            }
        }
        return strings
    }

    /// Bytes before the first entry, between entries (beyond a data descriptor), before the
    /// central directory, in the zip64 end record's extensible data, and in the archive comment.
    static func hiddenBytes(_ archive: ZipArchive, name: String) -> [ScanFinding] {
        let bytes = archive.bytes
        var findings: [ScanFinding] = []
        let order = archive.entries.sorted { $0.localHeaderOffset < $1.localHeaderOffset }
        var position = 0
        var previous: ZipEntry?
        for entry in order {
            if entry.localHeaderOffset > position {
                let place: HiddenBytesPlace = previous.map { .afterEntry($0.name) } ?? .beforeFirstEntry
                findings += describeGap(bytes, from: position, to: entry.localHeaderOffset, place: place, name: name)
            }
            position = max(position, entry.dataOffset + entry.compressedByteCount)
            if entry.hasDataDescriptor { position += descriptorLength(bytes, at: position, limit: archive.centralDirectoryOffset) }
            previous = entry
        }
        if archive.centralDirectoryOffset > position {
            findings += describeGap(bytes, from: position, to: archive.centralDirectoryOffset,
                                    place: previous == nil ? .beforeFirstEntry : .beforeCentralDirectory, name: name)
        }
        if let record = archive.zip64EndRecordOffset, record + 12 <= bytes.count {
            // The size field counts the bytes after itself; the fixed part is 44 of them.
            let size = Int(clamping: bytes.loadUnaligned(fromByteOffset: record + 4, as: UInt64.self).littleEndian)
            if size > 44 { findings.append(.hiddenBytes(file: name, offset: record + 56, count: size - 44, place: .zip64EndRecord)) }
        }
        let commentStart = archive.endRecordOffset + 22
        if commentStart < bytes.count {
            findings.append(.hiddenBytes(file: name, offset: commentStart, count: bytes.count - commentStart, place: .archiveComment))
        }
        return findings
    }

    /// A gap: any local headers hiding in it, and the other bytes.
    static func describeGap(_ bytes: UnsafeRawBufferPointer, from start: Int, to end: Int, place: HiddenBytesPlace, name: String) -> [ScanFinding] {
        var findings: [ScanFinding] = [.hiddenBytes(file: name, offset: start, count: end - start, place: place)]
        var offset = start
        while offset + 30 <= end {
            if bytes[offset] == 0x50, bytes[offset + 1] == 0x4B, bytes[offset + 2] == 0x03, bytes[offset + 3] == 0x04 {
                let nameLength = Int(bytes[offset + 26]) | Int(bytes[offset + 27]) << 8
                let nameEnd = min(offset + 30 + nameLength, end)
                let entry = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[(offset + 30)..<nameEnd]), as: UTF8.self)
                findings.append(.hiddenLocalEntry(file: name, offset: offset, name: entry))
                offset = nameEnd
            } else {
                offset += 1
            }
        }
        return findings
    }

    /// The length of the data descriptor at `offset`: an optional signature, the CRC, and 32- or
    /// 64-bit sizes (12, 16, 20 or 24 bytes), as far as the bytes before `limit` allow.
    static func descriptorLength(_ bytes: UnsafeRawBufferPointer, at offset: Int, limit: Int) -> Int {
        let available = max(0, min(limit, bytes.count) - offset)
        let signed = available >= 4 && bytes[offset] == 0x50 && bytes[offset + 1] == 0x4B && bytes[offset + 2] == 0x07 && bytes[offset + 3] == 0x08
        let base = signed ? 16 : 12
        // A zip64 descriptor is 8 bytes longer; take it when the next header starts right there.
        let long = base + 8
        if available >= long, available == long || isHeader(bytes, at: offset + long) { return long }
        return min(base, available)
    }

    private static func isHeader(_ bytes: UnsafeRawBufferPointer, at offset: Int) -> Bool {
        offset + 4 <= bytes.count && bytes[offset] == 0x50 && bytes[offset + 1] == 0x4B
            && ((bytes[offset + 2] == 0x03 && bytes[offset + 3] == 0x04) || (bytes[offset + 2] == 0x01 && bytes[offset + 3] == 0x02))
    }
}

// MARK: - NumPy

/// NumPy arrays: a `.npy` whose dtype is object holds a pickle after its header, which
/// `numpy.load(allow_pickle=True)` would unpickle. The header is read only as far as the scan
/// needs; the NumPy readers are where arrays are read.
enum NumPyScan {
    static let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]  // \x93NUMPY

    static func isNumPyArray(_ bytes: UnsafeRawBufferPointer) -> Bool {
        bytes.count >= magic.count && zip(bytes.prefix(magic.count), magic).allSatisfy { $0 == $1 }
    }

    /// The header text and the data offset of a `.npy` (versions 1, 2, 3), or `nil` if malformed.
    static func header(_ bytes: UnsafeRawBufferPointer) -> (text: String, dataOffset: Int)? {
        guard isNumPyArray(bytes), bytes.count >= 10 else { return nil }
        let major = bytes[6]
        let length: Int, start: Int
        switch major {
        case 1:
            length = Int(bytes[8]) | Int(bytes[9]) << 8
            start = 10
        case 2, 3:
            guard bytes.count >= 12 else { return nil }
            length = (0..<4).reduce(0) { $0 | Int(bytes[8 + $1]) << (8 * $1) }
            start = 12
        default:
            return nil
        }
        guard length <= bytes.count - start else { return nil }
        let text = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<(start + length)]), as: UTF8.self)
        return (text, start + length)
    }

    /// Whether a header's `descr` is the object dtype (`'|O'`, `'O'`, `'<O'`).
    static func isObjectArray(_ header: String) -> Bool {
        ["'|O'", "'O'", "'<O'", "'>O'", "\"|O\"", "\"O\""].contains { header.contains($0) }
    }

    static func scanArray(_ bytes: UnsafeRawBufferPointer, name: String, place: String = "object array", findings: inout [ScanFinding]) -> ScannedFile {
        guard let (text, dataOffset) = header(bytes), isObjectArray(text) else {
            return ScannedFile(path: name, content: .numpyArray, pickles: [])
        }
        let pickle = FileScan.scanPickle(bytes, from: dataOffset, place: place)
        findings += pickle.findings(file: name)
        return ScannedFile(path: name, content: .numpyArray, pickles: [pickle])
    }

    static func scanArchive(_ archive: ZipArchive, name: String, findings: inout [ScanFinding]) throws -> ScannedFile {
        var pickles: [ScannedPickle] = []
        for entry in archive.entries {
            let data = try archive.data(of: entry, verifyingCRC: true)
            let member = data.withUnsafeBytes { scanArray($0, name: name, place: entry.name, findings: &findings) }
            pickles += member.pickles
        }
        findings += ZipScan.hiddenBytes(archive, name: name)
        return ScannedFile(path: name, content: .numpyArchive, pickles: pickles)
    }
}

// MARK: - Folders and sharded sets

/// Scans every file of a folder a load could read, or the shards of one index.
struct FolderScan {
    let path: String
    let folder: String
    let target: ScanReport.Target
    /// For an index: its shard names; for a folder: `nil` (everything is looked for).
    let onlyIndex: String?

    /// The most directory entries a folder walk visits.
    static let maxEntries = 100_000
    /// The deepest a folder walk descends.
    static let maxDepth = 16

    init(folder: String) {
        path = folder
        self.folder = folder
        target = .folder
        onlyIndex = nil
    }

    init(index: String) {
        path = index
        let slash = index.utf8.lastIndex(of: UInt8(ascii: "/"))
        folder = slash.map { String(index[..<$0]) } ?? "."
        target = .index
        onlyIndex = slash.map { String(index[index.index(after: $0)...]) } ?? index
    }

    func run() throws -> ScanReport {
        let containment = try FolderContainment(folder: folder)
        var failures: [ScanFailure] = []
        var candidates: [String: Bool] = [:]  // relative path → must be a model file (named by an index, or the folder's weights)
        var escapes: [(String, String)] = []
        if let onlyIndex {
            for shard in try shards(of: onlyIndex) { candidates[shard] = true }
        } else {
            let listing = try walk()
            escapes = listing.links
            for file in listing.files {
                let last = file.split(separator: "/").last.map(String.init) ?? file
                if isIndexName(last) {
                    do {
                        let directory = file.contains("/") ? String(file[..<(file.lastIndex(of: "/") ?? file.endIndex)]) + "/" : ""
                        for shard in try shards(of: file) { candidates[directory + shard] = true }
                    } catch {
                        failures.append(ScanFailure(file: file, error: error))
                    }
                } else if let dot = last.lastIndex(of: "."),
                          FileScan.pickleExtensions.contains(last[last.index(after: dot)...].lowercased()) || last[last.index(after: dot)...] == "safetensors" {
                    if candidates[file] == nil { candidates[file] = false }
                }
            }
            for weights in FormatDetector.folderWeightNames where candidates[weights] != nil { candidates[weights] = true }
            if candidates.isEmpty && failures.isEmpty && escapes.isEmpty {
                throw UnrecognizedFormatError(looksLike: "a folder without model files (no .bin, .pt, .pth, .ckpt, .pkl, .npy, .npz, .safetensors or index)")
            }
        }
        var files: [ScannedFile] = []
        var findings: [ScanFinding] = []
        for (file, target) in escapes {
            findings.append(.linkLeavesFolder(file: file, target: target))
            files.append(ScannedFile(path: file, content: .notRead, pickles: []))
        }
        for (file, mustBeModel) in candidates.sorted(by: { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }) {
            let full = folder + "/" + file
            do {
                var info = stat()
                guard lstat(full, &info) == 0 else { throw FileError(path: file, operation: "open", errno: errno) }
                do {
                    try containment.check(full)
                } catch let escape as FolderEscapeError {
                    findings.append(.linkLeavesFolder(file: file, target: escape.target))
                    files.append(ScannedFile(path: file, content: .notRead, pickles: []))
                    continue
                }
                guard stat(full, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
                    throw FileError(path: file, operation: "open", message: "is not a regular file")
                }
                var found: [ScanFinding] = []
                let scanned = try FileScan.scan(path: full, name: file, strict: mustBeModel, findings: &found)
                files.append(scanned)
                findings += found
            } catch {
                failures.append(ScanFailure(file: file, error: error))
            }
        }
        files.sort { $0.path.utf8.lexicographicallyPrecedes($1.path.utf8) }
        return ScanReport(path: path, target: target, files: files, findings: findings, failures: failures)
    }

    /// Whether a file name is a sharded set's index (`model.safetensors.index.json`,
    /// `pytorch_model.bin.index.json`, `model.safetensors.index.fp16.json`, …).
    func isIndexName(_ name: String) -> Bool {
        name.hasSuffix(".json") && name.contains(".index.")
    }

    /// The shard names an index (relative to the folder) lists.
    func shards(of index: String) throws -> [String] {
        let file = try MappedFile(path: folder + "/" + index)
        return try SafetensorsIndex.parse(file.bytes).shardNames
    }

    /// Every regular file (or link to one) below the folder, relative to it, and the links to
    /// folders outside it. Hidden `.git` folders are skipped; links to folders are not followed.
    func walk() throws -> (files: [String], links: [(String, String)]) {
        var files: [String] = []
        var links: [(String, String)] = []
        var pending: [(String, Int)] = [("", 0)]
        var visited = 0
        let containment = try FolderContainment(folder: folder)
        while let (relative, depth) = pending.popLast() {
            let directory = relative.isEmpty ? folder : folder + "/" + relative
            guard let handle = opendir(directory) else {
                throw FileError(path: directory, operation: "list", errno: errno)
            }
            defer { closedir(handle) }
            while let entry = readdir(handle) {
                visited += 1
                guard visited <= FolderScan.maxEntries else {
                    throw FileError(path: folder, operation: "list", message: "more than \(FolderScan.maxEntries) entries")
                }
                let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                    String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
                }
                if name == "." || name == ".." || name == ".git" { continue }
                let child = relative.isEmpty ? name : relative + "/" + name
                let full = folder + "/" + child
                var info = stat()
                guard lstat(full, &info) == 0 else { continue }
                switch info.st_mode & S_IFMT {
                case S_IFDIR:
                    if depth + 1 < FolderScan.maxDepth { pending.append((child, depth + 1)) }
                case S_IFLNK:
                    var target = stat()
                    if stat(full, &target) == 0, (target.st_mode & S_IFMT) == S_IFDIR {
                        if case .failure(let escape as FolderEscapeError) = Result(catching: { try containment.check(full) }) {
                            links.append((child + "/", escape.target))
                        }
                    } else {
                        files.append(child)
                    }
                default:
                    files.append(child)
                }
            }
        }
        return (files, links)
    }
}
