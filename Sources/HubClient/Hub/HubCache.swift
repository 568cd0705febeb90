#if canImport(Glibc)
import Glibc
#endif

// The huggingface_hub cache layout (docs/cli.md, "The cache"):
//   {cache}/models--{org}--{name}/blobs/{etag}             the bytes, named by blob id
//   {cache}/models--{org}--{name}/snapshots/{commit}/{path} relative links to ../../blobs/{etag}
//   {cache}/models--{org}--{name}/refs/{revision}           the commit, no newline
// and the local-folder layout of `--local-dir` (plain files, with huggingface_hub's
// `.cache/huggingface/download/{path}.metadata` beside them).

/// Where one repository's downloads go, and how to tell a finished file.
protocol DownloadDestination: Sendable {
    /// The path of `file` if it is already complete (then it is not fetched again).
    func completedPath(of file: RepositoryFile, commit: String) -> String?
    /// Whether a finished blob named `blobID` is already there (cache only).
    func hasBlob(_ blobID: String) -> Bool
    /// Points `file` at the existing blob `blobID`; returns the file's path.
    func adoptBlob(_ blobID: String, for file: RepositoryFile, commit: String) throws -> String
    /// Where the partial download of `file` lives: named by its blob id when known.
    func partialPath(blobID: String?, for file: RepositoryFile, commit: String) -> String
    /// Moves a finished, checked partial file into place; returns the file's path.
    func install(partial: String, blobID: String, for file: RepositoryFile, commit: String) throws -> String
    /// Records the revision (cache: `refs/{revision}`).
    func finish(revision: String, commit: String) throws
    /// The folder the files appear in.
    func folder(commit: String) -> String
    /// The lock file huggingface_hub also takes while it fetches the same file.
    func lockPath(blobID: String?, for file: RepositoryFile) -> String
}

/// The hub cache: one folder of repositories, each in the huggingface_hub layout.
public struct HubCache: Sendable {
    /// The cache folder (`…/huggingface/hub`).
    public let root: String

    /// The cache at `root`.
    public init(root: String) { self.root = root }

    /// The cache folder the environment names: `HF_HUB_CACHE`, else `$HF_HOME/hub`, else
    /// `~/.cache/huggingface/hub`.
    public static func fromEnvironment() -> HubCache {
        let home = HubConfiguration.environment("HF_HOME")
            ?? ((HubConfiguration.environment("XDG_CACHE_HOME") ?? (HubConfiguration.homeFolder + "/.cache")) + "/huggingface")
        return HubCache(root: HubConfiguration.environment("HF_HUB_CACHE") ?? HubConfiguration.environment("HUGGINGFACE_HUB_CACHE") ?? (home + "/hub"))
    }

    /// `{root}/models--{org}--{name}`.
    public func repositoryFolder(_ repository: RepositoryID) -> String { root + "/" + repository.cacheFolderName }

    /// `…/snapshots/{commit}`.
    public func snapshotFolder(_ repository: RepositoryID, commit: String) -> String {
        repositoryFolder(repository) + "/snapshots/" + commit
    }

    /// The commit `revision` stands for in the cache: itself when it is a commit hash, else
    /// the content of `refs/{revision}`; `nil` when not cached.
    public func commit(_ repository: RepositoryID, revision: String) -> String? {
        if Repository.isCommitHash(revision) { return revision }
        guard Repository.isSafeRevision(revision),
              let text = FileSystem.readText(repositoryFolder(repository) + "/refs/" + revision, limit: 256) else { return nil }
        let commit = text.trimmingWhitespace
        return Repository.isCommitHash(commit) ? commit : nil
    }

    /// The files of the cached snapshot of `revision` (paths relative to the snapshot), or
    /// `nil` when the revision is not cached. Broken links are not listed.
    public func cachedFiles(_ repository: RepositoryID, revision: String) -> (commit: String, files: [String])? {
        guard let commit = commit(repository, revision: revision) else { return nil }
        let folder = snapshotFolder(repository, commit: commit)
        guard FileSystem.isFolder(folder) else { return nil }
        return (commit, FileSystem.files(under: folder))
    }

    /// The weights a cached repository stands for when a command is given `org/name`: its
    /// `model.safetensors`, else its sharded index, else its single weights file; `nil` when
    /// `text` is not an `org/name` in the cache (`refs/main`).
    public func modelPath(for text: String) -> String? {
        guard text.contains("/"), let repository = try? RepositoryID(text),
              let cached = cachedFiles(repository, revision: "main") else { return nil }
        let folder = snapshotFolder(repository, commit: cached.commit)
        for name in ["model.safetensors", "model.safetensors.index.json"] where cached.files.contains(name) {
            return folder + "/" + name
        }
        let weightSuffixes = [".safetensors", ".bin", ".pth", ".pt", ".ckpt", ".gguf", ".npz", ".npy"]
        let weights = cached.files.filter { name in !name.contains("/") && weightSuffixes.contains { name.hasSuffix($0) } }
        if weights.count == 1 { return folder + "/" + weights[0] }
        if let index = cached.files.first(where: { $0 == "pytorch_model.bin.index.json" }) { return folder + "/" + index }
        return folder
    }
}

/// The path a command should read for `argument`: the argument itself when it exists on disk
/// or is not an `org/name` of the cache, else the cached repository's weights
/// (``HubCache/modelPath(for:)``). This is the one place commands resolve such names.
public func resolvedModelPath(_ argument: String) -> String {
    var info = stat()
    if argument.hasPrefix("hf://") || lstat(argument, &info) == 0 { return argument }
    return HubCache.fromEnvironment().modelPath(for: argument) ?? argument
}

/// Downloads into the hub cache.
struct CacheDestination: DownloadDestination {
    let cache: HubCache
    let repository: RepositoryID

    private var repositoryFolder: String { cache.repositoryFolder(repository) }
    private func blobPath(_ blobID: String) -> String { repositoryFolder + "/blobs/" + blobID }
    private func pointerPath(_ file: RepositoryFile, commit: String) -> String {
        cache.snapshotFolder(repository, commit: commit) + "/" + file.path
    }

    /// `../../blobs/ID` with one more `../` for each folder level of the file's path.
    private func linkTarget(_ blobID: String, for file: RepositoryFile) -> String {
        let depth = file.path.split(separator: "/").count
        return String(repeating: "../", count: depth + 1) + "blobs/" + blobID
    }

    func completedPath(of file: RepositoryFile, commit: String) -> String? {
        let pointer = pointerPath(file, commit: commit)
        return FileSystem.isRegularFile(pointer) ? pointer : nil
    }

    func hasBlob(_ blobID: String) -> Bool { FileSystem.isRegularFile(blobPath(blobID)) }

    func adoptBlob(_ blobID: String, for file: RepositoryFile, commit: String) throws -> String {
        let pointer = pointerPath(file, commit: commit)
        try FileSystem.replaceWithLink(pointer, target: linkTarget(blobID, for: file))
        return pointer
    }

    func partialPath(blobID: String?, for file: RepositoryFile, commit: String) -> String {
        if let blobID { return blobPath(blobID) + ".incomplete" }
        let digest = Digest()
        digest.update(Array((commit + "/" + file.path).utf8))
        return blobPath("unnamed-" + Digest.hex(digest.finish())) + ".incomplete"
    }

    func install(partial: String, blobID: String, for file: RepositoryFile, commit: String) throws -> String {
        try FileSystem.move(partial, to: blobPath(blobID))
        return try adoptBlob(blobID, for: file, commit: commit)
    }

    func finish(revision: String, commit: String) throws {
        guard revision != commit else { return }
        let path = repositoryFolder + "/refs/" + revision
        if FileSystem.readText(path, limit: 256) == commit { return }
        try FileSystem.writeText(commit, to: path)
    }

    func folder(commit: String) -> String { cache.snapshotFolder(repository, commit: commit) }

    /// `{cache}/.locks/models--org--name/{blob id}.lock`, as huggingface_hub names it.
    func lockPath(blobID: String?, for file: RepositoryFile) -> String {
        let name = blobID ?? ("unnamed-" + file.path.replacingSlashes(with: "--"))
        return cache.root + "/.locks/" + repository.cacheFolderName + "/" + name + ".lock"
    }
}

/// Downloads into a plain folder (`--local-dir`), keeping huggingface_hub's bookkeeping in
/// `.cache/huggingface/` so that both tools know which files are current.
struct LocalFolderDestination: DownloadDestination {
    let root: String

    private var bookkeeping: String { root + "/.cache/huggingface" }
    private func filePath(_ file: RepositoryFile) -> String { root + "/" + file.path }
    private func metadataPath(_ file: RepositoryFile) -> String { bookkeeping + "/download/" + file.path + ".metadata" }

    /// `{commit}\n{etag}\n{timestamp}\n`, as huggingface_hub writes it.
    private func metadata(_ file: RepositoryFile) -> (commit: String, blobID: String, timestamp: Double)? {
        guard let text = FileSystem.readText(metadataPath(file), limit: 1024) else { return nil }
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard lines.count >= 3, let timestamp = Double(lines[2]) else { return nil }
        return (lines[0], lines[1], timestamp)
    }

    func completedPath(of file: RepositoryFile, commit: String) -> String? {
        let path = filePath(file)
        guard FileSystem.isRegularFile(path), let recorded = metadata(file),
              let modified = FileSystem.modificationTime(path), modified - 1 <= recorded.timestamp else { return nil }
        if let blobID = file.blobID { return recorded.blobID == blobID ? path : nil }
        return recorded.commit == commit ? path : nil
    }

    func hasBlob(_ blobID: String) -> Bool { false }

    func adoptBlob(_ blobID: String, for file: RepositoryFile, commit: String) throws -> String { filePath(file) }

    /// huggingface_hub's name: `{base64url(sha1("NAME.metadata"))}.{etag}.incomplete` beside the
    /// metadata file.
    func partialPath(blobID: String?, for file: RepositoryFile, commit: String) -> String {
        let metadata = metadataPath(file)
        let name = String(metadata[metadata.index(after: metadata.lastIndex(of: "/") ?? metadata.startIndex)...])
        let digest = Digest(.sha1)
        digest.update(Array(name.utf8))
        return FileSystem.folder(of: metadata) + "/" + Base64.urlSafe(digest.finish()) + "." + (blobID ?? "unnamed") + ".incomplete"
    }

    func install(partial: String, blobID: String, for file: RepositoryFile, commit: String) throws -> String {
        try prepareBookkeeping()
        let path = filePath(file)
        try FileSystem.makeFolders(FileSystem.folder(of: path))
        try FileSystem.move(partial, to: path)
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        let timestamp = Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
        try FileSystem.writeText("\(commit)\n\(blobID)\n\(timestamp)\n", to: metadataPath(file))
        return path
    }

    func finish(revision: String, commit: String) throws {}

    func folder(commit: String) -> String { root }

    /// `.cache/huggingface/download/{path}.lock`, as huggingface_hub names it.
    func lockPath(blobID: String?, for file: RepositoryFile) -> String { bookkeeping + "/download/" + file.path + ".lock" }

    /// `.cache/huggingface/.gitignore` (`*`) and `CACHEDIR.TAG`, as huggingface_hub makes them.
    private func prepareBookkeeping() throws {
        if !FileSystem.isRegularFile(bookkeeping + "/.gitignore") { try FileSystem.writeText("*", to: bookkeeping + "/.gitignore") }
        if !FileSystem.isRegularFile(bookkeeping + "/CACHEDIR.TAG") {
            try FileSystem.writeText(
                "Signature: 8a477f597d28d172789f06886806bc55\n# This file is a cache directory tag created by huggingface_hub.\n"
                    + "# For information about cache directory tags, see:\n#\thttps://bford.info/cachedir/\n",
                to: bookkeeping + "/CACHEDIR.TAG")
        }
    }
}

/// Base64 with the URL-safe alphabet and `=` padding (Python's `base64.urlsafe_b64encode`).
enum Base64 {
    static func urlSafe(_ bytes: [UInt8]) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
        var output: [UInt8] = []
        var index = 0
        while index < bytes.count {
            let chunk = Array(bytes[index..<min(index + 3, bytes.count)])
            let value = (UInt32(chunk[0]) << 16) | (UInt32(chunk.count > 1 ? chunk[1] : 0) << 8) | UInt32(chunk.count > 2 ? chunk[2] : 0)
            output.append(alphabet[Int(value >> 18 & 63)])
            output.append(alphabet[Int(value >> 12 & 63)])
            output.append(chunk.count > 1 ? alphabet[Int(value >> 6 & 63)] : UInt8(ascii: "="))
            output.append(chunk.count > 2 ? alphabet[Int(value & 63)] : UInt8(ascii: "="))
            index += 3
        }
        return String(decoding: output, as: UTF8.self)
    }
}
