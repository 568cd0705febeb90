// Talking to the hub: the API for file lists, `resolve` for files, each request retried on
// connection failures, timeouts, 5xx and 429 (docs/cli.md, "download").

/// Receives download progress; called from the worker threads, so implementations lock.
public protocol DownloadProgress: AnyObject, Sendable {
    /// A transfer of `file` starts: `totalBytes` when known, `resumedAt` bytes already on disk.
    func started(file: String, totalBytes: Int?, resumedAt: Int)
    /// `byteCount` more bytes of `file` arrived.
    func received(file: String, byteCount: Int)
    /// `file` is complete (or failed).
    func finished(file: String)
}

/// The endpoint and token in use, with the requests every command needs.
public struct HubSession: Sendable {
    /// Endpoint, token, cache, timeouts and retries.
    public let configuration: HubConfiguration

    /// A session for `configuration`.
    public init(configuration: HubConfiguration) { self.configuration = configuration }

    /// `{endpoint}/api/models/{repo}/revision/{rev}?blobs=true`.
    func apiURL(_ repository: RepositoryID, revision: String) throws -> HTTPURL {
        let text = "\(configuration.endpoint)/api/models/\(repository.text)/revision/\(HTTPURL.percentEncoded(revision, safe: ""))?blobs=true"
        guard let url = HTTPURL(text) else { throw HubError.invalidEndpoint(configuration.endpoint) }
        return url
    }

    /// `{endpoint}/{repo}/resolve/{rev}/{path}`.
    func resolveURL(_ repository: RepositoryID, revision: String, path: String) throws -> HTTPURL {
        let text = "\(configuration.endpoint)/\(repository.text)/resolve/\(HTTPURL.percentEncoded(revision, safe: ""))/\(HTTPURL.percentEncoded(path))"
        guard let url = HTTPURL(text) else { throw HubError.invalidEndpoint(configuration.endpoint) }
        return url
    }

    /// The repository's commit and files at `revision`.
    ///
    /// - Throws: `HubError` (not found, needs a token, unreachable, bad answer).
    public func repositoryInfo(_ repository: RepositoryID, revision: String, http: HTTPClient) throws -> RepositoryInfo {
        guard !configuration.isOffline else { throw HubError.offline(what: "listing \(repository)") }
        let url = try apiURL(repository, revision: revision)
        let limit = 64 << 20
        return try withRetries(http: http) { _ in
            var body: [UInt8] = []
            let hops = try http.fetch(url, headers: [("Accept", "application/json")], authorization: configuration.authorization,
                                      onHead: { head, _ in head.status == 200 ? .receive : .discard },
                                      onBody: { bytes in
                                          guard body.count <= limit - bytes.count else {
                                              throw HubError.badAPIResponse(url: url.description, reason: "more than \(limit) bytes")
                                          }
                                          body.append(contentsOf: bytes)
                                          return true
                                      })
            guard let final = hops.last else { throw HubError.badStatus(url: url.description, status: 0) }
            try check(final, repository: repository, revision: revision, path: nil)
            return try RepositoryInfo.parse(body, url: url.description)
        }
    }

    /// Turns an unsuccessful final status into the error it means (or a retry for 429/5xx).
    func check(_ head: HTTPResponseHead, repository: RepositoryID, revision: String, path: String?) throws {
        switch head.status {
        case 200, 206: return
        case 401, 403:
            // The hub answers 401 for a repository that does not exist when no token is sent.
            if configuration.token == nil { throw HubError.needsToken(repository: repository.text, status: head.status) }
            throw HubError.tokenRefused(repository: repository.text, status: head.status)
        case 404:
            let code = head.value("x-error-code")
            if let path, code != "RepoNotFound" && code != "RevisionNotFound" {
                throw HubError.fileNotFound(repository: repository.text, revision: revision, path: path)
            }
            throw HubError.repositoryNotFound(repository: repository.text, revision: revision, endpoint: configuration.endpoint)
        case 429, 500...599:
            throw RetryableStatus(head: head)
        default:
            throw HubError.badStatus(url: head.url.description, status: head.status)
        }
    }

    /// Runs `body` until it succeeds, retrying connection failures, timeouts, 429 and 5xx with
    /// backoff (or the server's `Retry-After`). `body` gets the attempt number (0 first); when it
    /// reports progress (``RetryableProgress``) the count starts again.
    func withRetries<T>(http: HTTPClient, _ body: (Int) throws -> T) throws -> T {
        var attempt = 0
        var failures = 0
        var resumes = 0
        while true {
            do {
                return try body(attempt)
            } catch let error as HTTPError where error.isRetryable {
                failures += 1
                guard failures <= configuration.retry.retries else { throw translate(error) }
                pause(seconds: configuration.retry.delay(beforeRetry: failures, retryAfter: nil))
            } catch let status as RetryableStatus {
                failures += 1
                guard failures <= configuration.retry.retries else { throw HubError.badStatus(url: status.head.url.description, status: status.head.status) }
                let hint = RetryPolicy.retryAfterSeconds(status.head.value("retry-after"))
                pause(seconds: configuration.retry.delay(beforeRetry: failures, retryAfter: hint))
            } catch let progress as RetryableProgress {
                // Bytes arrived before the failure: resume at once and count failures anew, up to
                // a bound, so a server that always breaks off cannot keep us forever.
                resumes += 1
                guard resumes <= 1000 else { throw translate(progress.error) }
                failures = 0
            }
            attempt += 1
        }
    }

    /// A network failure as the user should read it: the endpoint's own host unreachable is
    /// "endpoint unreachable".
    func translate(_ error: HTTPError) -> Error {
        if case .unreachable(let host, let reason) = error,
           host == configuration.endpointURL.host || host == "\(configuration.endpointURL.host):\(configuration.endpointURL.port)" {
            return HubError.unreachable(endpoint: configuration.endpoint, reason: reason)
        }
        return error
    }
}

/// A 429 or 5xx answer, to be retried.
struct RetryableStatus: Error {
    let head: HTTPResponseHead
}

/// A transfer that failed after receiving bytes: retried at once.
struct RetryableProgress: Error {
    let error: HTTPError
}
