// One file of a download: skip it when complete, else fetch it (resuming a partial file with
// Range), check it, and move it into place. Header rules (docs/cli.md, "download"): the blob id
// is X-Linked-Etag of the first response that has one (the redirect carries it for LFS files),
// else the final response's ETag, else the SHA-256 computed while downloading; the size is
// X-Linked-Size, else Content-Range's total, else Content-Length.

/// The transfer of one file; `run` is called on a worker thread.
struct FileTransfer {
    let session: HubSession
    let destination: DownloadDestination
    let repository: RepositoryID
    let commit: String
    let file: RepositoryFile
    let progress: DownloadProgress?

    /// What one attempt ended with, apart from a finished body.
    private enum Turn {
        case finished
        /// The server named a blob that is already complete.
        case adopt(String)
        /// Start over: the partial file does not belong to this blob, or the server would not resume.
        case restart
    }

    /// Fetches the file unless it is complete.
    ///
    /// - Returns: the outcome and the body bytes received.
    /// - Throws: `HubError`, `HTTPError`.
    func run(http: HTTPClient) throws -> (DownloadedFile, Int) {
        if let path = destination.completedPath(of: file, commit: commit) {
            return (DownloadedFile(path: file.path, byteCount: FileSystem.fileSize(path), blobID: file.blobID, status: .cached), 0)
        }
        if let blobID = file.blobID, destination.hasBlob(blobID) {
            let path = try destination.adoptBlob(blobID, for: file, commit: commit)
            return (DownloadedFile(path: file.path, byteCount: FileSystem.fileSize(path), blobID: blobID, status: .cached), 0)
        }
        // Another process may be fetching the same file: wait for it, then look again.
        let lock = try FileLock(path: destination.lockPath(blobID: file.blobID, for: file))
        defer { withExtendedLifetime(lock) {} }
        if let path = destination.completedPath(of: file, commit: commit) {
            return (DownloadedFile(path: file.path, byteCount: FileSystem.fileSize(path), blobID: file.blobID, status: .cached), 0)
        }
        if let blobID = file.blobID, destination.hasBlob(blobID) {
            let path = try destination.adoptBlob(blobID, for: file, commit: commit)
            return (DownloadedFile(path: file.path, byteCount: FileSystem.fileSize(path), blobID: blobID, status: .cached), 0)
        }
        let url = try session.resolveURL(repository, revision: commit, path: file.path)
        var knownID = file.blobID
        var knownSize = file.size
        var forceFresh = false
        var restarts = 0
        var received = 0
        progress?.started(file: file.path, totalBytes: knownSize, resumedAt: 0)
        defer { progress?.finished(file: file.path) }

        return try session.withRetries(http: http) { _ in
            while true {
                let partialPath = destination.partialPath(blobID: knownID, for: file, commit: commit)
                var offset = forceFresh ? 0 : (FileSystem.fileSize(partialPath) ?? 0)
                if let knownSize, offset > knownSize { offset = 0 }
                let digest = Digest()
                if offset > 0 {
                    do { try PartialFile.hashPrefix(of: partialPath, count: offset, into: digest) } catch { offset = 0 }
                }
                if offset == 0 { FileSystem.remove(partialPath) }
                forceFresh = false
                // A partial file that is already whole (the run died before moving it): check it.
                if let knownID, let knownSize, offset == knownSize, offset > 0 {
                    return try install(partialPath: partialPath, digest: digest, blobID: knownID, size: knownSize, received: received)
                }

                var partial: PartialFile?
                var turn = Turn.finished
                var headers: [(String, String)] = [("Accept-Encoding", "identity")]
                if offset > 0 { headers.append(("Range", "bytes=\(offset)-")) }
                var receivedThisTurn = 0
                let hops: [HTTPResponseHead]
                do {
                    hops = try http.fetch(url, headers: headers, authorization: session.configuration.authorization,
                                          onHead: { head, redirects in
                        guard head.status == 200 || head.status == 206 else { return .discard }
                        let all = redirects + [head]
                        let announced = all.compactMap { blobName(fromETag: $0.value("x-linked-etag")) }.first
                            ?? blobName(fromETag: head.value("etag"))
                        if let announced, announced != knownID {
                            if knownID == nil, destination.hasBlob(announced) {
                                turn = .adopt(announced)
                                return .stop
                            }
                            let announcedPartial = destination.partialPath(blobID: announced, for: file, commit: commit)
                            if offset > 0 || (FileSystem.fileSize(announcedPartial) ?? 0) > 0 {
                                // Our partial file is another blob's, or the server's blob has one to resume.
                                knownID = announced
                                turn = .restart
                                return .stop
                            }
                            knownID = announced
                        }
                        let range = parseContentRange(head.value("content-range"))
                        var start = 0
                        if head.status == 206 {
                            guard let range, range.start == offset else {
                                forceFresh = true
                                turn = .restart
                                return .stop
                            }
                            start = range.start
                        }
                        let linkedSize = all.compactMap { $0.value("x-linked-size") }.compactMap { Int($0) }.first
                        let length = head.value("content-length").flatMap { Int($0) }.map { $0 + start }
                        knownSize = linkedSize ?? range?.total ?? length ?? knownSize
                        let path = destination.partialPath(blobID: knownID, for: file, commit: commit)
                        if start == 0 && offset > 0 {
                            // The server sent the whole file instead of the range: start again.
                            digest.reset()
                        }
                        partial = try PartialFile(path: path, truncate: start == 0)
                        progress?.started(file: file.path, totalBytes: knownSize, resumedAt: start)
                        return .receive
                    }, onBody: { bytes in
                        guard let partial else { return false }
                        try partial.append(bytes)
                        digest.update(bytes)
                        receivedThisTurn += bytes.count
                        progress?.received(file: file.path, byteCount: bytes.count)
                        return true
                    })
                } catch let error as HTTPError where error.isRetryable {
                    received += receivedThisTurn
                    try? partial?.close()
                    if receivedThisTurn > 0 { throw RetryableProgress(error: error) }
                    throw error
                }
                received += receivedThisTurn
                switch turn {
                case .adopt(let blobID):
                    let path = try destination.adoptBlob(blobID, for: file, commit: commit)
                    return (DownloadedFile(path: file.path, byteCount: FileSystem.fileSize(path), blobID: blobID, status: .cached), received)
                case .restart:
                    restarts += 1
                    guard restarts <= 3 else {
                        throw HubError.badStatus(url: url.description, status: hops.last?.status ?? 0)
                    }
                    continue
                case .finished:
                    break
                }
                guard let final = hops.last else { throw HubError.badStatus(url: url.description, status: 0) }
                if final.status == 416 && offset > 0 {
                    forceFresh = true
                    continue
                }
                try session.check(final, repository: repository, revision: commit, path: file.path)
                guard let partial else { throw HubError.badStatus(url: final.url.description, status: final.status) }
                try partial.close()
                if let knownSize, partial.size < knownSize {
                    // The connection ended early without an error: resume.
                    throw RetryableProgress(error: .connectionLost(url: final.url.description, reason: "body ended after \(partial.size) of \(knownSize) bytes"))
                }
                return try install(partialPath: partial.path, digest: digest, blobID: knownID, size: knownSize, received: received)
            }
        }
    }

    /// Checks the finished partial file (size, and SHA-256 for LFS blob ids) and moves it into place.
    private func install(partialPath: String, digest: Digest, blobID: String?, size: Int?, received: Int) throws -> (DownloadedFile, Int) {
        let actualSize = FileSystem.fileSize(partialPath) ?? 0
        if let size, actualSize != size {
            FileSystem.remove(partialPath)
            throw HubError.sizeMismatch(path: file.path, expected: size, found: actualSize)
        }
        let hash = Digest.hex(digest.finish())
        let expected = blobID.flatMap { Digest.isSHA256($0) ? $0 : nil } ?? (file.isLFS ? file.blobID : nil)
        if let expected, expected != hash {
            FileSystem.remove(partialPath)
            throw HubError.checksumMismatch(path: file.path, expected: expected, found: hash)
        }
        let name = blobID ?? hash
        _ = try destination.install(partial: partialPath, blobID: name, for: file, commit: commit)
        return (DownloadedFile(path: file.path, byteCount: actualSize, blobID: name, status: .downloaded), received)
    }
}
