import CCrypto
import Foundation

/// A Hugging Face hub played by two loopback servers: `hub` answers the API and `resolve`, and
/// `cdn` (another port, so another host) serves LFS blobs, as the real hub redirects to its CDN.
/// Faults are switched on per test: a token requirement, mirror mode (no X-Repo-Commit, ETag,
/// X-Linked-* or Content-Length, and an API without sizes or blob ids), dropped connections,
/// error statuses before success, corrupt blobs, relative redirects, ignored ranges.
public final class FakeHub: @unchecked Sendable {
    /// A file of the repository.
    public struct File: Sendable {
        public let path: String
        public let bytes: [UInt8]
        public let isLFS: Bool
        /// SHA-256 of the bytes (hex): the blob id of an LFS file.
        public var sha256: String { FakeHub.hex(FakeHub.digest(bytes, sha256: true)) }
        /// The git blob id: SHA-1 of `blob N\0` + bytes.
        public var gitBlobID: String { FakeHub.hex(FakeHub.digest(Array("blob \(bytes.count)\0".utf8) + bytes, sha256: false)) }

        public init(path: String, bytes: [UInt8], isLFS: Bool) {
            self.path = path
            self.bytes = bytes
            self.isLFS = isLFS
        }
    }

    /// Switchable misbehaviour.
    public struct Faults: Sendable {
        /// Requests without `Authorization: Bearer TOKEN` get 401.
        public var token: String?
        /// Answer like a bare mirror.
        public var mirror = false
        /// The next transfer of a file's bytes stops after this many bytes (then the entry is removed).
        public var dropAfter: [String: Int] = [:]
        /// Statuses to answer (in order) before the real answer; key `api` or a file path.
        /// Each is (status, Retry-After value or nil).
        public var statusesBefore: [String: [(Int, String?)]] = [:]
        /// LFS files whose served bytes differ from their SHA-256.
        public var corrupt: Set<String> = []
        /// Redirect LFS files to a path on the hub itself, written relative (`../../lfs/…`).
        public var relativeRedirect = false
        /// Answer Range requests with the whole file (200).
        public var ignoreRange = false
        /// Answer 404 for these paths, and for the API when `api` is listed.
        public var missing: Set<String> = []
        /// Answer 403 for the API and every file, with or without a token (a gated repository).
        public var gated = false

        public init() {}
    }

    public let hub: LoopbackHTTPServer
    public let cdn: LoopbackHTTPServer
    public let repository: String
    public let commit = "c0ffee0123456789abcdef0123456789abcdef01"
    public let files: [File]
    private let lock = NSLock()
    private var faults = Faults()

    /// The endpoint URL.
    public var endpoint: String { hub.baseURL }

    /// Starts both servers for `repository` holding `files`.
    public init(repository: String = "org/model", files: [File]) throws {
        self.repository = repository
        self.files = files
        let box = HandlerBox()
        hub = try LoopbackHTTPServer { request in box.hub?(request) ?? .init(status: 500) }
        cdn = try LoopbackHTTPServer { request in box.cdn?(request) ?? .init(status: 500) }
        // Weak: a connection can still be served on the server's thread after a test has let
        // the hub go; it is then answered 503.
        box.hub = { [weak self] request in self?.answerHub(request) ?? .init(status: 503) }
        box.cdn = { [weak self] request in self?.answerBlob(request, path: request.path) ?? .init(status: 503) }
    }

    deinit {
        hub.stop()
        cdn.stop()
    }

    /// Changes the faults.
    public func setFaults(_ change: (inout Faults) -> Void) { lock.withLock { change(&faults) } }

    private final class HandlerBox: @unchecked Sendable {
        var hub: (@Sendable (LoopbackHTTPServer.Request) -> LoopbackHTTPServer.Response)?
        var cdn: (@Sendable (LoopbackHTTPServer.Request) -> LoopbackHTTPServer.Response)?
    }

    private func nextStatus(_ key: String) -> (Int, String?)? {
        lock.withLock {
            guard var queue = faults.statusesBefore[key], !queue.isEmpty else { return nil }
            let first = queue.removeFirst()
            faults.statusesBefore[key] = queue
            return first
        }
    }

    private func answerHub(_ request: LoopbackHTTPServer.Request) -> LoopbackHTTPServer.Response {
        let current = lock.withLock { faults }
        let path = request.path.removingPercentEncoding ?? request.path
        if path.hasPrefix("/lfs/") { return answerBlob(request, path: path) }
        if let token = current.token, request.headers["authorization"] != "Bearer \(token)" {
            return .init(status: 401, headers: [("X-Error-Code", "RepoNotFound")], body: Array("Invalid credentials".utf8))
        }
        if current.gated { return .init(status: 403, headers: [("X-Error-Code", "GatedRepo")], body: Array("gated".utf8)) }
        let apiPrefix = "/api/models/\(repository)/revision/"
        if path.hasPrefix(apiPrefix) {
            if let (status, retryAfter) = nextStatus("api") {
                return .init(status: status, headers: retryAfter.map { [("Retry-After", $0)] } ?? [], body: Array("busy".utf8))
            }
            if current.missing.contains("api") { return .init(status: 404, headers: [("X-Error-Code", "RepoNotFound")]) }
            var siblings: [[String: Any]] = []
            for file in files {
                var entry: [String: Any] = ["rfilename": file.path]
                if !current.mirror {
                    entry["size"] = file.bytes.count
                    entry["blobId"] = file.gitBlobID
                    if file.isLFS { entry["lfs"] = ["sha256": file.sha256, "size": file.bytes.count, "pointerSize": 134] }
                }
                siblings.append(entry)
            }
            let document: [String: Any] = ["id": repository, "sha": commit, "siblings": siblings]
            let body = (try? JSONSerialization.data(withJSONObject: document)).map { [UInt8]($0) } ?? []
            return .init(status: 200, headers: [("Content-Type", "application/json")], body: body)
        }
        let resolvePrefix = "/\(repository)/resolve/"
        guard path.hasPrefix(resolvePrefix) else { return .init(status: 404, headers: [("X-Error-Code", "RepoNotFound")]) }
        let rest = path.dropFirst(resolvePrefix.count)
        guard let slash = rest.firstIndex(of: "/") else { return .init(status: 404) }
        let filePath = String(rest[rest.index(after: slash)...])
        if let (status, retryAfter) = nextStatus(filePath) {
            return .init(status: status, headers: retryAfter.map { [("Retry-After", $0)] } ?? [], body: Array("busy".utf8))
        }
        guard !current.missing.contains(filePath), let file = files.first(where: { $0.path == filePath }) else {
            return .init(status: 404, headers: [("X-Error-Code", "EntryNotFound")])
        }
        if file.isLFS && !current.mirror {
            let location = current.relativeRedirect
                ? String(repeating: "../", count: filePath.split(separator: "/").count + 3) + "lfs/\(file.sha256)"
                : "\(cdn.baseURL)/blobs/\(file.sha256)"
            return .init(status: 302, headers: [
                ("Location", location), ("X-Linked-Etag", "\"\(file.sha256)\""), ("X-Linked-Size", "\(file.bytes.count)"),
                ("X-Repo-Commit", commit), ("ETag", "\"redirect-etag\""),
            ])
        }
        return serve(file, request: request, faults: current, extraHeaders: current.mirror ? [] : [("ETag", "\"\(file.gitBlobID)\""), ("X-Repo-Commit", commit)])
    }

    private func answerBlob(_ request: LoopbackHTTPServer.Request, path: String) -> LoopbackHTTPServer.Response {
        let current = lock.withLock { faults }
        let sha = String(path.split(separator: "/").last ?? "")
        guard let file = files.first(where: { $0.isLFS && $0.sha256 == sha }) else { return .init(status: 404) }
        return serve(file, request: request, faults: current, extraHeaders: [("ETag", "\"\(file.sha256)\"")])
    }

    private func serve(_ file: File, request: LoopbackHTTPServer.Request, faults current: Faults,
                       extraHeaders: [(String, String)]) -> LoopbackHTTPServer.Response {
        var bytes = file.bytes
        if current.corrupt.contains(file.path), !bytes.isEmpty { bytes[bytes.count / 2] ^= 0xFF }
        var status = 200
        var headers = extraHeaders
        if !current.mirror { headers.append(("Accept-Ranges", "bytes")) }
        if let range = request.headers["range"], range.hasPrefix("bytes="), !current.ignoreRange {
            let spec = range.dropFirst(6).split(separator: "-", omittingEmptySubsequences: false)
            let start = Int(spec[0]) ?? 0
            let end = spec.count > 1 && !spec[1].isEmpty ? min(Int(spec[1]) ?? bytes.count - 1, bytes.count - 1) : bytes.count - 1
            guard start < bytes.count else {
                return .init(status: 416, headers: [("Content-Range", "bytes */\(bytes.count)")])
            }
            headers.append(("Content-Range", "bytes \(start)-\(end)/\(bytes.count)"))
            bytes = Array(bytes[start...end])
            status = 206
        }
        let drop: Int? = lock.withLock {
            guard request.method == "GET", let after = faults.dropAfter[file.path] else { return nil }
            faults.dropAfter[file.path] = nil
            return after
        }
        return .init(status: status, headers: headers, body: bytes, dropAfter: drop, closeDelimited: current.mirror)
    }

    static func digest(_ bytes: [UInt8], sha256: Bool) -> [UInt8] {
        var output = [UInt8](repeating: 0, count: 64)
        var length: UInt32 = 0
        bytes.withUnsafeBytes { input in
            output.withUnsafeMutableBufferPointer { out in
                _ = EVP_Digest(input.baseAddress, input.count, out.baseAddress, &length, sha256 ? EVP_sha256() : EVP_sha1(), nil)
            }
        }
        return Array(output.prefix(Int(length)))
    }

    static func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }
}
