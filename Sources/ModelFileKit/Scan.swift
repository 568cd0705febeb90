import BinaryIO
import ExactText
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
    public var imports: [ScannedGlobal] {
        files.flatMap { file in file.pickles.flatMap { pickle in pickle.imports.map { ScannedGlobal(file: file.path, pickle: pickle.place, site: $0) } } }
    }

    /// The globals the pickles name, once per file and name, in order of first appearance (the
    /// `globals` of the JSON document).
    public var globals: [ScannedGlobal] {
        var seen = Set<ExactString>()  // by bytes: two spellings of one name are two globals
        return imports.filter { seen.insert(ExactString($0.file + "\u{0}" + $0.site.qualifiedName)).inserted }
    }

    /// Scans `path`: a file, a sharded set's `*.index.json`, or a folder. `options` gives the zip
    /// limits and the read budget each file's inflated records count against.
    ///
    /// - Throws: `ModelFileError` when the path cannot be read, is not a model file (a wheel, an
    ///   HTML page, …), or (for a single file) its container is malformed.
    public static func scan(path: String, options: ReadOptions = ReadOptions()) throws -> ScanReport {
        try attributing(to: path) {
            // A FIFO, socket or device is named before anything opens it (docs/security.md, "Paths").
            let info = try RegularFile.status(path)
            let kind = FileKind(mode: info.st_mode)
            if kind == .directory { return try FolderScan(folder: path, options: options).run() }
            if let refusal = kind.refusal { throw FileError(path: path, operation: "open", message: refusal) }
            if case .shardIndex? = try? FormatDetector.detect(path: path) { return try FolderScan(index: path, options: options).run() }
            var findings: [ScanFinding] = []
            let file = try FileScan.scan(path: path, name: path, strict: true, options: options, findings: &findings)
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
            ("globals", .array(globals.map { global in
                .object([("file", .string(global.file)), ("module", .string(global.module)), ("name", .string(global.name)),
                         ("allowed", .bool(global.allowed))])
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
        /// A GGUF file: metadata and tensors, never code.
        case gguf
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
            case .gguf: return "gguf"
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

    /// The module, or `?` when the pickle builds it at run time.
    public var module: String { site.module ?? "?" }
    /// The name, or `?` when the pickle builds it at run time.
    public var name: String { site.name ?? "?" }
    /// Whether it is allowed.
    public var allowed: Bool { site.allowed }
}
