import BinaryIO
import ModelFormats
import TensorData

// `modelfile inspect hf://REPO[@REV]/PATH` (docs/cli.md, "Remote files"): only a safetensors
// file's header is fetched, with Range requests. The first request asks for the first 100,000
// bytes (most headers fit); if the header is longer, one more request fetches the rest from the
// URL the first one was redirected to. That is at most 3 requests per file with the hub's one
// redirect, and the weights are never asked for. A sharded index is fetched whole (it is
// small), then each shard's header as above.

/// A parsed `hf://` path.
public struct RemotePath: Sendable, Equatable {
    /// The repository.
    public let repository: RepositoryID
    /// The revision (`main` unless `@REV` is given).
    public let revision: String
    /// The file's path in the repository.
    public let path: String

    /// Parses `hf://org/name[@rev]/path` (or `hf://name[@rev]/path`); a `/` in the revision is
    /// written `%2F`.
    ///
    /// - Throws: `HubError.invalidRemotePath`, `HubError.invalidRepositoryID`.
    public init(_ text: String) throws {
        guard text.hasPrefix("hf://") else { throw HubError.invalidRemotePath(text) }
        let parts = text.dropFirst(5).split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard parts.count >= 2 else { throw HubError.invalidRemotePath(text) }
        let repositoryParts = parts.count >= 3 && !parts[0].contains("@") ? 2 : 1
        var repositoryText = parts[0..<repositoryParts].joined(separator: "/")
        var revision = "main"
        if let at = repositoryText.firstIndex(of: "@") {
            revision = String(repositoryText[repositoryText.index(after: at)...])
                .split(separator: "%2F", omittingEmptySubsequences: false).joined(separator: "/")
                .split(separator: "%2f", omittingEmptySubsequences: false).joined(separator: "/")
            repositoryText = String(repositoryText[..<at])
        }
        let path = parts[repositoryParts...].joined(separator: "/")
        guard Repository.isSafeRelativePath(path), Repository.isSafeRevision(revision) else { throw HubError.invalidRemotePath(text) }
        repository = try RepositoryID(repositoryText)
        self.revision = revision
        self.path = path
    }

    /// The path as written: `hf://org/name/path`, with `@rev` when it is not `main`.
    public var text: String {
        "hf://\(repository.text)\(revision == "main" ? "" : "@" + HTTPURL.percentEncoded(revision, safe: ""))/\(path)"
    }
}

/// A safetensors file on the hub, known by its header alone.
public final class RemoteSafetensorsFile: TensorSource {
    /// The `hf://` address it was opened from.
    public let path: String
    /// Always ``ModelFormat/safetensors``.
    public var format: ModelFormat { .safetensors }
    /// The validated header.
    public let header: SafetensorsHeader
    /// The file's size, as the server reports it.
    public let fileByteCount: Int
    /// Every tensor, in header order.
    public let entries: [TensorEntry]
    /// None.
    public var warnings: [ModelFileWarning] { [] }
    /// The `__metadata__` object, or `nil`.
    public var metadata: [ExactString: String]? { header.metadata }

    init(path: String, header: SafetensorsHeader, fileByteCount: Int) {
        self.path = path
        self.header = header
        self.fileByteCount = fileByteCount
        entries = header.tensors.map { TensorEntry(name: $0.name, dtype: $0.dtype, shape: $0.shape) }
    }

    /// Always throws: remote inspect reads headers, never the weights.
    public func tensor(at index: Int) throws -> RawTensor {
        throw HubError.notRemoteSafetensors(path: path, reason: "only the header was read; download the repository to read tensors")
    }
}

/// Opens remote files for inspect.
public enum RemoteInspection {
    /// The first request's length: most headers fit in it.
    static let firstRequestBytes = 100_000
    /// The longest sharded index fetched.
    static let maxIndexBytes = 16 << 20

    /// Opens `text` (`hf://…`): a safetensors file, or a sharded index and its shards' headers.
    ///
    /// - Throws: `HubError`, `HTTPError`, `SafetensorsError`, `ShardedSafetensorsError`.
    public static func open(_ text: String, configuration: HubConfiguration) throws -> TensorSource {
        let remote = try RemotePath(text)
        guard !configuration.isOffline else { throw HubError.offline(what: "inspecting \(text)") }
        let session = HubSession(configuration: configuration)
        let http = try HTTPClient(timeouts: HTTPTimeouts(connect: configuration.timeouts.connect, stall: configuration.timeouts.stall, total: 60))
        let first = try fetchPrefix(remote, path: remote.path, session: session, http: http)
        let firstByte = first.bytes.first { ![0x20, 0x09, 0x0A, 0x0D, 0xEF, 0xBB, 0xBF].contains($0) }
        if firstByte == UInt8(ascii: "{") {
            let bytes = try fetchRest(first, upTo: maxIndexBytes, remote: remote, session: session, http: http)
            let index = try bytes.withUnsafeBytes { try SafetensorsIndex.parse($0) }
            let folder = remote.path.contains("/") ? String(remote.path[..<(remote.path.lastIndex(of: "/") ?? remote.path.endIndex)]) + "/" : ""
            var shards: [(name: String, source: TensorSource)] = []
            for name in index.shardNames {
                do {
                    shards.append((name, try openSafetensors(remote, path: folder + name, session: session, http: http)))
                } catch let error as HubError {
                    if case .fileNotFound = error { throw ShardedSafetensorsError.missingShard(name) }
                    throw RemoteShardError(shard: name, underlying: error)
                } catch {
                    throw RemoteShardError(shard: name, underlying: error)
                }
            }
            return try ShardedModel(path: remote.text, index: index, shards: shards)
        }
        return try safetensors(from: first, remote: remote, displayPath: remote.text, session: session, http: http)
    }

    private static func openSafetensors(_ remote: RemotePath, path: String, session: HubSession, http: HTTPClient) throws -> TensorSource {
        let first = try fetchPrefix(remote, path: path, session: session, http: http)
        return try safetensors(from: first, remote: remote, displayPath: path, session: session, http: http)
    }

    /// Reads the header from the first bytes, fetching the rest of the header if needed.
    private static func safetensors(from first: Prefix, remote: RemotePath, displayPath: String, session: HubSession, http: HTTPClient) throws -> TensorSource {
        guard first.bytes.count >= 8 else {
            throw HubError.notRemoteSafetensors(path: displayPath, reason: "a file of \(first.fileByteCount) bytes, too short to be a model file")
        }
        let declared = first.bytes.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(fromByteOffset: 0, as: UInt64.self)) }
        let looksLikeHeader = first.bytes.count > 8 && first.bytes[8] == UInt8(ascii: "{")
        guard looksLikeHeader else {
            let what: String
            do {
                _ = try first.bytes.withUnsafeBytes { try FormatDetector.detect(bytes: $0) }
                what = "not a safetensors file"
            } catch let error as UnrecognizedFormatError {
                what = error.looksLike
            }
            throw HubError.notRemoteSafetensors(
                path: displayPath, reason: "remote inspect reads safetensors files and sharded indexes; this is \(what) (download it to inspect it)")
        }
        var bytes = first.bytes
        if declared <= UInt64(SafetensorsHeader.maxHeaderBytes), declared <= UInt64(first.fileByteCount - 8) {
            bytes = try fetchRest(first, upTo: 8 + Int(declared), remote: remote, session: session, http: http)
        }
        let header = try bytes.withUnsafeBytes { try SafetensorsHeader.parse(prefix: $0, fileByteCount: first.fileByteCount) }
        return RemoteSafetensorsFile(path: displayPath, header: header, fileByteCount: first.fileByteCount)
    }

    /// The first bytes of a remote file, its total size, and the URL that served them.
    struct Prefix {
        var bytes: [UInt8]
        let fileByteCount: Int
        let servedBy: HTTPURL
        let path: String
    }

    /// `GET resolve` with `Range: bytes=0-99999`, following redirects.
    private static func fetchPrefix(_ remote: RemotePath, path: String, session: HubSession, http: HTTPClient) throws -> Prefix {
        let url = try session.resolveURL(remote.repository, revision: remote.revision, path: path)
        return try session.withRetries(http: http) { _ in
            var bytes: [UInt8] = []
            var total: Int?
            var rangeHonoured = false
            let hops = try http.fetch(url, headers: [("Range", "bytes=0-\(firstRequestBytes - 1)"), ("Accept-Encoding", "identity")],
                                      authorization: session.configuration.authorization,
                                      onHead: { head, _ in
                switch head.status {
                case 206:
                    total = parseContentRange(head.value("content-range"))?.total
                    rangeHonoured = true
                    return .receive
                case 200:
                    // The server ignored the range: read the start and stop.
                    total = head.value("content-length").flatMap { Int($0) }
                    return .receive
                default:
                    return .discard
                }
            }, onBody: { chunk in
                // Stop as soon as more arrives than was asked for (a server ignoring the range).
                let room = firstRequestBytes - bytes.count
                bytes.append(contentsOf: chunk.prefix(room))
                return chunk.count <= room && (rangeHonoured || bytes.count < firstRequestBytes)
            })
            guard let final = hops.last else { throw HubError.badStatus(url: url.description, status: 0) }
            try session.check(final, repository: remote.repository, revision: remote.revision, path: path)
            guard let total else {
                throw HubError.notRemoteSafetensors(path: path, reason: "the server gave no file size (no Content-Range or Content-Length)")
            }
            return Prefix(bytes: bytes, fileByteCount: total, servedBy: final.url, path: path)
        }
    }

    /// The file's first `length` bytes (at most its size): one more Range request, to the URL
    /// that served the first bytes, when they are not enough.
    private static func fetchRest(_ first: Prefix, upTo length: Int, remote: RemotePath, session: HubSession, http: HTTPClient) throws -> [UInt8] {
        let wanted = min(length, first.fileByteCount)
        guard first.bytes.count < wanted else { return first.bytes }
        var bytes = first.bytes
        let start = bytes.count
        return try session.withRetries(http: http) { _ in
            bytes.removeSubrange(start...)
            let hops = try http.fetch(first.servedBy, headers: [("Range", "bytes=\(start)-\(wanted - 1)"), ("Accept-Encoding", "identity")],
                                      authorization: session.configuration.authorization,
                                      onHead: { head, _ in
                guard head.status == 206, parseContentRange(head.value("content-range"))?.start == start else {
                    return head.status == 200 ? .stop : .discard
                }
                return .receive
            }, onBody: { chunk in
                let room = wanted - bytes.count
                bytes.append(contentsOf: chunk.prefix(room))
                return chunk.count <= room
            })
            guard let final = hops.last else { throw HubError.badStatus(url: first.servedBy.description, status: 0) }
            try session.check(final, repository: remote.repository, revision: remote.revision, path: first.path)
            guard final.status == 206, bytes.count == wanted else {
                throw HubError.notRemoteSafetensors(path: first.path, reason: "the server did not answer the Range request for bytes \(start)-\(wanted - 1)")
            }
            return bytes
        }
    }
}

/// An error reading one shard of a remote sharded set, naming the shard.
public struct RemoteShardError: Error, CustomStringConvertible, LimitReporting {
    /// The shard's file name.
    public let shard: String
    /// What went wrong with it.
    public let underlying: Error
    public var description: String { "shard \(shard): \(underlying)" }
    /// The budget the shard's error reports going over, if any.
    public var exceededLimit: ExceededLimit? { ExceededLimit.of(underlying) }
}
