import Synchronization

#if canImport(Glibc)
import Glibc
#endif

// `modelfile download` (docs/cli.md, "download"): list the files from the API, choose them with
// the patterns, and fetch each from `resolve` at the listed commit into the cache (or a local
// folder), several at once. A file is complete when its snapshot link (or local metadata) is
// there; a partial one resumes from `{blob}.incomplete` with a Range request; an LFS file's bytes
// must have the SHA-256 its blob id names before they enter the cache.

/// What to download.
public struct DownloadPlan: Sendable {
    /// The repository.
    public var repository: RepositoryID
    /// Branch, tag or commit (default `main`).
    public var revision = "main"
    /// `allow_patterns`-style globs; empty takes every file.
    public var patterns: [String] = []
    /// A plain folder instead of the cache.
    public var localFolder: String?
    /// Files fetched at once.
    public var jobs = 8
    /// List what would be fetched, fetch nothing.
    public var dryRun = false

    /// A plan for `repository`.
    public init(repository: RepositoryID) { self.repository = repository }
}

/// One file's outcome.
public struct DownloadedFile: Sendable, Equatable {
    /// What happened to a file.
    public enum Status: String, Sendable {
        /// Fetched in this run.
        case downloaded
        /// Already complete; not fetched.
        case cached
        /// `--dry-run`: would be fetched.
        case planned = "download"
    }

    /// Its path in the repository.
    public let path: String
    /// Its size, when known.
    public let byteCount: Int?
    /// Its blob id (LFS SHA-256 or git blob id), when known.
    public let blobID: String?
    /// What happened.
    public let status: Status
}

/// The outcome of a download.
public struct DownloadResult: Sendable {
    /// The repository.
    public let repository: RepositoryID
    /// The revision asked for.
    public let revision: String
    /// The commit it stands for.
    public let commit: String
    /// Where the files are: the snapshot folder, or the local folder.
    public let folder: String
    /// Every chosen file, in the repository's order.
    public let files: [DownloadedFile]
    /// Body bytes received in this run.
    public let transferredBytes: Int
    /// Whether the run stayed offline (`HF_HUB_OFFLINE`).
    public let isOffline: Bool
}

extension HubSession {
    /// Downloads `plan`.
    ///
    /// - Throws: `HubError` (not found, needs a token, unreachable, checksum, disk full, offline
    ///   and not cached), or `HTTPError` for failures after a redirect to another host.
    public func download(_ plan: DownloadPlan, progress: DownloadProgress? = nil) throws -> DownloadResult {
        let destination: DownloadDestination = plan.localFolder.map { LocalFolderDestination(root: $0) }
            ?? CacheDestination(cache: HubCache(root: configuration.cacheFolder), repository: plan.repository)
        guard Repository.isSafeRevision(plan.revision) else { throw HubError.invalidRemotePath("revision \(plan.revision)") }
        if configuration.isOffline { return try offlineResult(plan) }

        let http = try HTTPClient(timeouts: configuration.timeouts)
        let info = try repositoryInfo(plan.repository, revision: plan.revision, http: http)
        let chosen = info.files.filter { Repository.matches($0.path, patterns: plan.patterns) }
        // Files are fetched at the listed commit, so every file comes from the same snapshot.
        var commit = info.commit
        if commit == nil, let first = chosen.first {
            commit = try commitFromHeaders(plan, path: first.path, http: http)
        }
        guard let commit else { throw HubError.noCommit(repository: plan.repository.text, revision: plan.revision) }
        let folder = destination.folder(commit: commit)

        if plan.dryRun {
            var files: [DownloadedFile] = []
            for file in chosen {
                let cached = destination.completedPath(of: file, commit: commit) != nil || (file.blobID.map(destination.hasBlob) ?? false)
                let size = try file.size ?? (cached ? nil : remoteSize(plan, commit: commit, path: file.path, http: http))
                files.append(DownloadedFile(path: file.path, byteCount: size ?? cachedSize(destination, file, commit),
                                            blobID: file.blobID, status: cached ? .cached : .planned))
            }
            return DownloadResult(repository: plan.repository, revision: plan.revision, commit: commit, folder: folder,
                                  files: files, transferredBytes: 0, isOffline: false)
        }

        let shared = SharedProgress()
        let workers = max(1, min(plan.jobs, chosen.count))
        let session = self
        runThreads(count: workers) {
            guard let client = try? HTTPClient(timeouts: session.configuration.timeouts) else { return }
            while true {
                let index: Int = shared.next.withLock { value in
                    defer { value += 1 }
                    return value
                }
                guard index < chosen.count else { return }
                // After a failure no new file is started.
                if shared.outcomes.withLock({ $0.values.contains { if case .failure = $0 { return true } else { return false } } }) { return }
                let transfer = FileTransfer(session: session, destination: destination, repository: plan.repository,
                                            commit: commit, file: chosen[index], progress: progress)
                let result = Result { try transfer.run(http: client) }
                shared.outcomes.withLock { $0[index] = result }
            }
        }
        var files: [DownloadedFile] = []
        var transferred = 0
        let results = shared.outcomes.withLock { $0 }
        for index in chosen.indices {
            switch results[index] {
            case .success(let (file, bytes)):
                files.append(file)
                transferred += bytes
            case .failure(let error): throw error
            case nil: throw HubError.fileSystem(path: chosen[index].path, operation: "start a download thread for", reason: "no thread")
            }
        }
        try destination.finish(revision: plan.revision, commit: commit)
        return DownloadResult(repository: plan.repository, revision: plan.revision, commit: commit, folder: folder,
                              files: files, transferredBytes: transferred, isOffline: false)
    }

    private func cachedSize(_ destination: DownloadDestination, _ file: RepositoryFile, _ commit: String) -> Int? {
        destination.completedPath(of: file, commit: commit).flatMap(FileSystem.fileSize)
    }

    /// What is already there, without the network.
    private func offlineResult(_ plan: DownloadPlan) throws -> DownloadResult {
        let notCached = HubError.offlineNotCached(repository: plan.repository.text, revision: plan.revision)
        if let root = plan.localFolder {
            let files = FileSystem.files(under: root, skippingHidden: true).filter {
                Repository.matches($0, patterns: plan.patterns)
                    && FileSystem.isRegularFile(root + "/.cache/huggingface/download/" + $0 + ".metadata")
            }
            guard !files.isEmpty else { throw notCached }
            let commit = FileSystem.readText(root + "/.cache/huggingface/download/" + files[0] + ".metadata", limit: 1024)?
                .split(separator: "\n").first.map(String.init) ?? ""
            return DownloadResult(repository: plan.repository, revision: plan.revision, commit: commit, folder: root,
                                  files: files.map { DownloadedFile(path: $0, byteCount: FileSystem.fileSize(root + "/" + $0), blobID: nil, status: .cached) },
                                  transferredBytes: 0, isOffline: true)
        }
        let cache = HubCache(root: configuration.cacheFolder)
        guard let cached = cache.cachedFiles(plan.repository, revision: plan.revision) else { throw notCached }
        let folder = cache.snapshotFolder(plan.repository, commit: cached.commit)
        let files = cached.files.filter { Repository.matches($0, patterns: plan.patterns) }
        guard !files.isEmpty else { throw notCached }
        return DownloadResult(repository: plan.repository, revision: plan.revision, commit: cached.commit, folder: folder,
                              files: files.map { DownloadedFile(path: $0, byteCount: FileSystem.fileSize(folder + "/" + $0), blobID: nil, status: .cached) },
                              transferredBytes: 0, isOffline: true)
    }

    /// The commit from `X-Repo-Commit`, for an API answer without `sha`: one HEAD request.
    private func commitFromHeaders(_ plan: DownloadPlan, path: String, http: HTTPClient) throws -> String? {
        let url = try resolveURL(plan.repository, revision: plan.revision, path: path)
        return try withRetries(http: http) { _ in
            let hops = try http.fetch(url, method: "HEAD", headers: [("Accept-Encoding", "identity")], authorization: configuration.authorization)
            guard let final = hops.last else { return nil }
            try check(final, repository: plan.repository, revision: plan.revision, path: path)
            return hops.compactMap { $0.value("x-repo-commit") }.first { Repository.isCommitHash($0) }
        }
    }

    /// A file's size from the headers of a HEAD request (`--dry-run` when the API gives none).
    private func remoteSize(_ plan: DownloadPlan, commit: String, path: String, http: HTTPClient) throws -> Int? {
        let url = try resolveURL(plan.repository, revision: commit, path: path)
        return try withRetries(http: http) { _ in
            let hops = try http.fetch(url, method: "HEAD", headers: [("Accept-Encoding", "identity")], authorization: configuration.authorization)
            guard let final = hops.last else { return nil }
            try check(final, repository: plan.repository, revision: plan.revision, path: path)
            return hops.compactMap { $0.value("x-linked-size") }.compactMap { Int($0) }.first ?? final.value("content-length").flatMap { Int($0) }
        }
    }
}

/// The work queue and results the download threads share.
private final class SharedProgress: Sendable {
    let next = Mutex(0)
    let outcomes = Mutex<[Int: Result<(DownloadedFile, Int), Error>]>([:])
}

/// Runs `body` on `count` threads at once and waits for all of them.
func runThreads(count: Int, _ body: @escaping @Sendable () -> Void) {
    final class Box {
        let body: @Sendable () -> Void
        init(_ body: @escaping @Sendable () -> Void) { self.body = body }
    }
    var threads: [pthread_t] = []
    for _ in 0..<count {
        var thread = pthread_t()
        let box = Unmanaged.passRetained(Box(body)).toOpaque()
        let created = pthread_create(&thread, nil, { argument in
            guard let argument else { return nil }
            Unmanaged<Box>.fromOpaque(argument).takeRetainedValue().body()
            return nil
        }, box)
        if created == 0 {
            threads.append(thread)
        } else {
            Unmanaged<Box>.fromOpaque(box).release()
            body()  // no thread to be had: do the work here
        }
    }
    for thread in threads { pthread_join(thread, nil) }
}

/// The normalised form of an ETag: without `W/` and quotes; `nil` unless it can name a blob.
func blobName(fromETag value: String?) -> String? {
    guard var text = value?.trimmingWhitespace, !text.isEmpty else { return nil }
    if text.hasPrefix("W/") { text.removeFirst(2) }
    while text.hasPrefix("\"") { text.removeFirst() }
    while text.hasSuffix("\"") { text.removeLast() }
    guard Repository.isBlobName(text) else { return nil }
    return Digest.isSHA256(text) ? text.lowercased() : text
}

/// `Content-Range: bytes START-END/TOTAL` → (start, total).
func parseContentRange(_ value: String?) -> (start: Int, total: Int?)? {
    guard let value = value?.trimmingWhitespace, value.hasPrefix("bytes ") else { return nil }
    let rest = value.dropFirst(6)
    let parts = rest.split(separator: "/", maxSplits: 1)
    guard let range = parts.first, let dash = range.firstIndex(of: "-"), let start = Int(range[..<dash]) else { return nil }
    let total = parts.count == 2 ? Int(parts[1]) : nil
    return (start, total)
}
