import BinaryIO
import ExactText
import ModelFormats
import PickleVM
import ZipFormat

#if canImport(Glibc)
import Glibc
#endif

/// Scans every file of a folder a load could read, or the shards of one index.
struct FolderScan {
    let path: String
    let folder: String
    let target: ScanReport.Target
    /// For an index: its shard names; for a folder: `nil` (everything is looked for).
    let onlyIndex: String?
    /// The zip limits and read budget each file is scanned with.
    let options: ReadOptions

    /// The most directory entries a folder walk visits.
    static let maxEntries = 100_000
    /// The deepest a folder walk descends.
    static let maxDepth = 16

    init(folder: String, options: ReadOptions) {
        path = folder
        self.folder = folder
        target = .folder
        onlyIndex = nil
        self.options = options
    }

    init(index: String, options: ReadOptions) {
        self.options = options
        path = index
        let slash = index.utf8.lastIndex(of: UInt8(ascii: "/"))
        folder = slash.map { String(index[..<$0]) } ?? "."
        target = .index
        onlyIndex = slash.map { String(index[index.index(after: $0)...]) } ?? index
    }

    func run() throws -> ScanReport {
        let containment = try FolderContainment(folder: folder)
        var failures: [ScanFailure] = []
        // Relative path → must be a model file (named by an index, or the folder's weights). Paths
        // compare by their bytes: two names that differ only by Unicode normalization are two files.
        var candidates: [ExactString: Bool] = [:]
        var escapes: [(String, String)] = []
        if let onlyIndex {
            for shard in try shards(of: onlyIndex) { candidates[ExactString(shard)] = true }
        } else {
            let listing = try walk()
            escapes = listing.links
            for file in listing.files {
                let last = file.split(separator: "/").last.map(String.init) ?? file
                if isIndexName(last) {
                    do {
                        let directory = file.contains("/") ? String(file[..<(file.lastIndex(of: "/") ?? file.endIndex)]) + "/" : ""
                        for shard in try shards(of: file) { candidates[ExactString(directory + shard)] = true }
                    } catch {
                        failures.append(ScanFailure(file: file, error: error))
                    }
                } else if let dot = last.lastIndex(of: "."),
                          FileScan.pickleExtensions.contains(last[last.index(after: dot)...].lowercased())
                            || ["safetensors", "gguf"].contains(last[last.index(after: dot)...]) {
                    if candidates[ExactString(file)] == nil { candidates[ExactString(file)] = false }
                }
            }
            for weights in FormatDetector.folderWeightNames where candidates[ExactString(weights)] != nil { candidates[ExactString(weights)] = true }
            if candidates.isEmpty && failures.isEmpty && escapes.isEmpty {
                throw UnrecognizedFormatError(looksLike: "a folder without model files (no .bin, .pt, .pth, .ckpt, .pkl, .npy, .npz, .safetensors, .gguf or index)")
            }
        }
        var files: [ScannedFile] = []
        var findings: [ScanFinding] = []
        for (file, target) in escapes {
            findings.append(.linkLeavesFolder(file: file, target: target))
            files.append(ScannedFile(path: file, content: .notRead, pickles: []))
        }
        for (key, mustBeModel) in candidates.sorted(by: { $0.key < $1.key }) {
            let file = key.string
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
                // A FIFO, socket or device among the files is named, never opened.
                guard stat(full, &info) == 0 else { throw RegularFile.openError(file, errno: errno) }
                if let refusal = FileKind(mode: info.st_mode).refusal { throw FileError(path: file, operation: "open", message: refusal) }
                var found: [ScanFinding] = []
                let scanned = try FileScan.scan(path: full, name: file, strict: mustBeModel, options: options, findings: &found)
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
