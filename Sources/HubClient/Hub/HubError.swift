/// What went wrong talking to the hub or filling the cache. Each description is one line that
/// says what happened and, where it is known, what to do.
public enum HubError: Error, Equatable, CustomStringConvertible {
    /// Not a repository id (`org/name` or `name`, letters, digits, `-`, `_`, `.`).
    case invalidRepositoryID(String)
    /// Not an `http://` or `https://` URL.
    case invalidEndpoint(String)
    /// An `hf://` path that does not name a file (`hf://org/name[@rev]/path`).
    case invalidRemotePath(String)
    /// 404 for the repository or the revision.
    case repositoryNotFound(repository: String, revision: String, endpoint: String)
    /// 404 for one file.
    case fileNotFound(repository: String, revision: String, path: String)
    /// 401 or 403 and no token was sent.
    case needsToken(repository: String, status: Int)
    /// 401 or 403 although a token was sent.
    case tokenRefused(repository: String, status: Int)
    /// The endpoint could not be reached, after the retries.
    case unreachable(endpoint: String, reason: String)
    /// Any other unexpected status, after the retries.
    case badStatus(url: String, status: Int)
    /// The API's answer is not the document expected.
    case badAPIResponse(url: String, reason: String)
    /// A file name from the API that would leave the target folder.
    case unsafeFileName(String)
    /// An LFS file whose bytes do not have the SHA-256 its blob id names.
    case checksumMismatch(path: String, expected: String, found: String)
    /// A file of another size than the server announced.
    case sizeMismatch(path: String, expected: Int, found: Int)
    /// The disk filled up while writing `path`.
    case diskFull(path: String)
    /// A file could not be created, written or renamed.
    case fileSystem(path: String, operation: String, reason: String)
    /// HF_HUB_OFFLINE is set and the repository (or a file of it) is not in the cache.
    case offlineNotCached(repository: String, revision: String)
    /// HF_HUB_OFFLINE is set and the command needs the network.
    case offline(what: String)
    /// Neither the API nor the file responses named a commit.
    case noCommit(repository: String, revision: String)
    /// A remote file is not something remote inspect reads.
    case notRemoteSafetensors(path: String, reason: String)

    public var description: String {
        switch self {
        case .invalidRepositoryID(let id):
            return "\"\(id)\" is not a repository id (expected org/name: letters, digits, '-', '_', '.')"
        case .invalidEndpoint(let text): return "endpoint \"\(text)\" is not an http:// or https:// URL"
        case .invalidRemotePath(let text): return "\"\(text)\" is not a remote path (expected hf://org/name[@revision]/file)"
        case .repositoryNotFound(let repository, let revision, let endpoint):
            return "repository \(repository) (revision \(revision)) not found on \(endpoint) (404)"
        case .fileNotFound(let repository, let revision, let path):
            return "file \(path) not found in \(repository) at revision \(revision) (404)"
        case .needsToken(let repository, let status):
            return "\(repository) is gated or private: it needs a token (HTTP \(status)); pass --token or set HF_TOKEN"
        case .tokenRefused(let repository, let status):
            return "\(repository): the token was refused (HTTP \(status)); it may lack access to this gated or private repository"
        case .unreachable(let endpoint, let reason): return "endpoint \(endpoint) is unreachable: \(reason)"
        case .badStatus(let url, let status): return "\(url) answered HTTP \(status)"
        case .badAPIResponse(let url, let reason): return "\(url): unexpected answer: \(reason)"
        case .unsafeFileName(let name): return "the repository lists a file name that would leave its folder: \"\(name)\""
        case .checksumMismatch(let path, let expected, let found):
            return "\(path): downloaded bytes have SHA-256 \(found), not \(expected); nothing was kept"
        case .sizeMismatch(let path, let expected, let found):
            return "\(path): downloaded \(found) bytes, but the server announced \(expected)"
        case .diskFull(let path): return "disk full while writing \(path) (no space left on device)"
        case .fileSystem(let path, let operation, let reason): return "\(path): cannot \(operation): \(reason)"
        case .offlineNotCached(let repository, let revision):
            return "HF_HUB_OFFLINE is set and \(repository) (revision \(revision)) is not fully in the cache"
        case .offline(let what): return "HF_HUB_OFFLINE is set: \(what) needs the network"
        case .noCommit(let repository, let revision): return "the endpoint named no commit for \(repository) at revision \(revision)"
        case .notRemoteSafetensors(let path, let reason): return "\(path): \(reason)"
        }
    }
}
