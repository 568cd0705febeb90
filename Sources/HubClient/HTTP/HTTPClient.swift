import CCurl

// HTTP through libcurl's easy interface. Each request is one curl transfer with redirects NOT
// followed by curl: `fetch` follows them itself, so it decides per hop which headers go out
// (the bearer token only to the endpoint's own scheme, host and port) and sees every hop's
// headers (the hub puts X-Linked-Etag and X-Repo-Commit on the redirect, not on the target).
// One client owns one curl handle and is used by one thread at a time; connections are reused
// between its requests.

/// Limits applied to every request.
public struct HTTPTimeouts: Sendable, Equatable {
    /// Seconds to establish a connection.
    public var connect: Double = 10
    /// Seconds without receiving a byte before the transfer is given up.
    public var stall: Double = 10
    /// Seconds for the whole request, or `nil` for no limit (file downloads).
    public var total: Double?

    /// The defaults: 10 s to connect, 10 s without data, no total limit.
    public init(connect: Double = 10, stall: Double = 10, total: Double? = nil) {
        self.connect = connect
        self.stall = stall
        self.total = total
    }
}

/// The status line and headers of one response.
public struct HTTPResponseHead: Sendable {
    /// The URL that answered.
    public let url: HTTPURL
    /// The status code.
    public let status: Int
    /// The headers in the order received; names lower-cased, values trimmed.
    public let headers: [(name: String, value: String)]

    /// The first value of header `name` (any case), or `nil`.
    public func value(_ name: String) -> String? {
        let wanted = name.lowercased()
        return headers.first { $0.name == wanted }?.value
    }

    /// Whether the response is a redirect that names where to go.
    public var isRedirect: Bool { [301, 302, 303, 307, 308].contains(status) && value("location") != nil }
}

/// What to do with a response's body once its head has arrived.
public enum HTTPBodyHandling: Sendable {
    /// Pass it to the body handler.
    case receive
    /// Read and drop it (keeps the connection reusable; for small bodies such as a redirect's).
    case discard
    /// Stop the transfer now (the connection is closed).
    case stop
}

/// A bearer token and the only origin it may be sent to.
public struct HTTPAuthorization: Sendable, Equatable {
    /// The token, sent as `Authorization: Bearer TOKEN`.
    public let token: String
    /// `scheme://host:port` of the endpoint (see ``HTTPURL/origin``).
    public let origin: String

    /// A token bound to `origin`.
    public init(token: String, origin: String) {
        self.token = token
        self.origin = origin
    }
}

/// A failed transfer: the network's fault, never the server's answer (statuses are returned).
public enum HTTPError: Error, Equatable, CustomStringConvertible {
    /// The host could not be resolved or did not accept the connection.
    case unreachable(host: String, reason: String)
    /// Nothing arrived for the stall timeout, or the total timeout passed.
    case timedOut(url: String, seconds: Double)
    /// The connection broke during the exchange.
    case connectionLost(url: String, reason: String)
    /// More redirects than the limit.
    case tooManyRedirects(url: String, limit: Int)
    /// A redirect to something that is not an http(s) URL.
    case badRedirect(from: String, location: String)
    /// Any other transport failure (TLS, protocol).
    case transport(url: String, reason: String)

    /// Whether trying again may help (connection failures and timeouts).
    public var isRetryable: Bool {
        switch self {
        case .unreachable, .timedOut, .connectionLost: return true
        case .tooManyRedirects, .badRedirect, .transport: return false
        }
    }

    public var description: String {
        switch self {
        case .unreachable(let host, let reason): return "cannot reach \(host): \(reason)"
        case .timedOut(let url, let seconds): return "\(url): timed out (no answer within \(HTTPError.seconds(seconds)) s)"
        case .connectionLost(let url, let reason): return "\(url): connection lost (\(reason))"
        case .tooManyRedirects(let url, let limit): return "\(url): more than \(limit) redirects"
        case .badRedirect(let from, let location): return "\(from): redirect to \"\(location)\", which is not an http(s) URL"
        case .transport(let url, let reason): return "\(url): \(reason)"
        }
    }

    private static func seconds(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e9 ? String(Int(value)) : String(value)
    }
}

/// An HTTP/1.1 client over one libcurl easy handle. Not thread-safe: one per thread.
public final class HTTPClient {
    /// Limits applied to each request.
    public var timeouts: HTTPTimeouts
    /// The most redirects ``fetch(_:method:headers:authorization:onHead:onBody:)`` follows.
    public var maxRedirects = 10
    /// Requests sent so far (each redirect hop is one).
    public private(set) var requestCount = 0
    /// Bytes received so far: status lines, headers and bodies.
    public private(set) var bytesReceived = 0
    private let handle: UnsafeMutableRawPointer

    /// A client with its own connection cache.
    ///
    /// - Throws: `HTTPError.transport` if libcurl cannot create a handle.
    public init(timeouts: HTTPTimeouts = HTTPTimeouts()) throws {
        _ = HTTPClient.globalInit
        guard let handle = curl_easy_init() else { throw HTTPError.transport(url: "", reason: "libcurl could not create a handle") }
        self.handle = handle
        self.timeouts = timeouts
    }

    deinit { curl_easy_cleanup(handle) }

    private static let globalInit: Void = { _ = curl_global_init(Int(CURL_GLOBAL_DEFAULT)) }()

    /// Sends `method` to `url` and follows redirects (relative or absolute) up to ``maxRedirects``.
    /// `headers` go to every hop; `authorization` only to hops whose origin is its origin.
    /// Redirect bodies are discarded; `onHead` and `onBody` see only the final response (`onHead`
    /// also gets the redirects that led to it, first one first).
    ///
    /// - Returns: the head of every response, redirects first, the final one last.
    /// - Throws: `HTTPError`, or whatever `onHead`/`onBody` throw.
    @discardableResult
    public func fetch(
        _ url: HTTPURL, method: String = "GET", headers: [(String, String)] = [], authorization: HTTPAuthorization? = nil,
        onHead: (HTTPResponseHead, [HTTPResponseHead]) throws -> HTTPBodyHandling = { _, _ in .receive },
        onBody: (UnsafeRawBufferPointer) throws -> Bool = { _ in true }
    ) throws -> [HTTPResponseHead] {
        var current = url
        var hops: [HTTPResponseHead] = []
        while true {
            var sent = headers
            if let authorization, current.origin == authorization.origin {
                sent.append(("Authorization", "Bearer \(authorization.token)"))
            }
            let previous = hops
            let head = try send(current, method: method, headers: sent, onHead: { head in
                head.isRedirect ? .discard : try onHead(head, previous)
            }, onBody: onBody)
            hops.append(head)
            guard head.isRedirect, let location = head.value("location") else { return hops }
            guard hops.count <= maxRedirects else { throw HTTPError.tooManyRedirects(url: url.description, limit: maxRedirects) }
            guard let next = current.resolving(location) else {
                throw HTTPError.badRedirect(from: current.description, location: location)
            }
            current = next
        }
    }

    /// Sends one request to `url` without following redirects.
    ///
    /// - Throws: `HTTPError`, or whatever `onHead`/`onBody` throw.
    public func send(
        _ url: HTTPURL, method: String = "GET", headers: [(String, String)] = [],
        onHead: (HTTPResponseHead) throws -> HTTPBodyHandling = { _ in .receive },
        onBody: (UnsafeRawBufferPointer) throws -> Bool = { _ in true }
    ) throws -> HTTPResponseHead {
        requestCount += 1
        return try withoutActuallyEscaping(onHead) { onHead in
            try withoutActuallyEscaping(onBody) { onBody in
                let transfer = Transfer(url: url, onHead: onHead, onBody: onBody)
                defer { bytesReceived += transfer.headerBytes + transfer.bodyBytes }
                return try perform(transfer, method: method, headers: headers)
            }
        }
    }

    private func perform(_ transfer: Transfer, method: String, headers: [(String, String)]) throws -> HTTPResponseHead {
        curl_easy_reset(handle)
        var list: UnsafeMutablePointer<curl_slist>?
        defer { curl_slist_free_all(list) }
        for (name, value) in headers { list = curl_slist_append(list, "\(name): \(value)") }
        // An empty Expect and Accept header would be curl defaults we do not want to vary.
        list = curl_slist_append(list, "Accept:")
        let context = Unmanaged.passUnretained(transfer).toOpaque()
        _ = ccurl_setopt_string(handle, CURLOPT_URL, transfer.url.description)
        _ = ccurl_setopt_string(handle, CURLOPT_PROTOCOLS_STR, "http,https")
        _ = ccurl_setopt_long(handle, CURLOPT_NOSIGNAL, 1)
        _ = ccurl_setopt_long(handle, CURLOPT_FOLLOWLOCATION, 0)
        _ = ccurl_setopt_long(handle, CURLOPT_TCP_KEEPALIVE, 1)
        _ = ccurl_setopt_long(handle, CURLOPT_BUFFERSIZE, 512 * 1024)
        _ = ccurl_setopt_long(handle, CURLOPT_CONNECTTIMEOUT_MS, HTTPClient.milliseconds(timeouts.connect))
        _ = ccurl_setopt_long(handle, CURLOPT_LOW_SPEED_LIMIT, 1)
        _ = ccurl_setopt_long(handle, CURLOPT_LOW_SPEED_TIME, max(1, Int(min(timeouts.stall.rounded(.up), 86_400))))
        if let total = timeouts.total { _ = ccurl_setopt_long(handle, CURLOPT_TIMEOUT_MS, HTTPClient.milliseconds(total)) }
        _ = ccurl_setopt_string(handle, CURLOPT_USERAGENT, "modelfile/0.1")
        if method == "HEAD" {
            _ = ccurl_setopt_long(handle, CURLOPT_NOBODY, 1)
        } else if method != "GET" {
            _ = ccurl_setopt_string(handle, CURLOPT_CUSTOMREQUEST, method)
        }
        _ = ccurl_setopt_headers(handle, list)
        _ = ccurl_setopt_write_function(handle, writeCallback)
        _ = ccurl_setopt_pointer(handle, CURLOPT_WRITEDATA, context)
        _ = ccurl_setopt_header_function(handle, headerCallback)
        _ = ccurl_setopt_pointer(handle, CURLOPT_HEADERDATA, context)

        let code = curl_easy_perform(handle)
        if let failure = transfer.failure { throw failure }
        if code != CURLE_OK && !(code == CURLE_WRITE_ERROR && transfer.stoppedByUs) {
            throw HTTPClient.error(code, url: transfer.url, timeouts: timeouts, receivedHead: transfer.head != nil)
        }
        guard let head = transfer.head ?? transfer.makeHead() else {
            throw HTTPError.connectionLost(url: transfer.url.description, reason: "no response")
        }
        return head
    }

    private static func milliseconds(_ seconds: Double) -> Int {
        guard seconds.isFinite, seconds > 0 else { return 1 }
        return Int(min(seconds * 1000, 86_400_000).rounded(.up))
    }

    private static func error(_ code: CURLcode, url: HTTPURL, timeouts: HTTPTimeouts, receivedHead: Bool) -> HTTPError {
        let reason = String(cString: curl_easy_strerror(code))
        switch code {
        case CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_CONNECT, CURLE_COULDNT_RESOLVE_PROXY:
            return .unreachable(host: url.port == (url.scheme == "https" ? 443 : 80) ? url.host : "\(url.host):\(url.port)", reason: reason)
        case CURLE_OPERATION_TIMEDOUT:
            return .timedOut(url: url.description, seconds: timeouts.total ?? timeouts.stall)
        case CURLE_RECV_ERROR, CURLE_SEND_ERROR, CURLE_PARTIAL_FILE, CURLE_GOT_NOTHING, CURLE_HTTP2, CURLE_HTTP2_STREAM,
             CURLE_SSL_CONNECT_ERROR:
            return .connectionLost(url: url.description, reason: reason)
        default:
            return .transport(url: url.description, reason: reason)
        }
    }
}

/// The state of one transfer, reached from libcurl's callbacks.
private final class Transfer {
    let url: HTTPURL
    let onHead: (HTTPResponseHead) throws -> HTTPBodyHandling
    let onBody: (UnsafeRawBufferPointer) throws -> Bool
    var status = 0
    var headers: [(name: String, value: String)] = []
    var head: HTTPResponseHead?
    var handling = HTTPBodyHandling.receive
    var stoppedByUs = false
    var failure: Error?
    var headerBytes = 0
    var bodyBytes = 0

    init(url: HTTPURL, onHead: @escaping (HTTPResponseHead) throws -> HTTPBodyHandling,
         onBody: @escaping (UnsafeRawBufferPointer) throws -> Bool) {
        self.url = url
        self.onHead = onHead
        self.onBody = onBody
    }

    func makeHead() -> HTTPResponseHead? {
        status == 0 ? nil : HTTPResponseHead(url: url, status: status, headers: headers)
    }

    /// One header line (status line, header, or the blank line that ends them). `false` stops.
    func header(_ line: UnsafeRawBufferPointer) -> Bool {
        headerBytes += line.count
        var end = line.count
        while end > 0, line[end - 1] == 0x0A || line[end - 1] == 0x0D { end -= 1 }
        let text = String(decoding: UnsafeRawBufferPointer(rebasing: line[0..<end]), as: UTF8.self)
        if text.hasPrefix("HTTP/") {
            let fields = text.split(separator: " ", maxSplits: 2)
            status = fields.count >= 2 ? Int(fields[1]) ?? 0 : 0
            headers = []
            head = nil
            return true
        }
        if text.isEmpty {
            guard status >= 200 || status == 0 else { return true }  // 1xx: another head follows
            guard let made = makeHead() else { return true }
            head = made
            do {
                handling = try onHead(made)
            } catch {
                failure = error
                return false
            }
            return true
        }
        if let colon = text.firstIndex(of: ":") {
            let name = String(text[..<colon]).trimmingWhitespace.lowercased()
            let value = String(text[text.index(after: colon)...]).trimmingWhitespace
            headers.append((name, value))
        }
        return true
    }

    /// A piece of the body. `false` stops the transfer.
    func body(_ bytes: UnsafeRawBufferPointer) -> Bool {
        bodyBytes += bytes.count
        switch handling {
        case .discard: return true
        case .stop:
            stoppedByUs = true
            return false
        case .receive:
            do {
                if try onBody(bytes) { return true }
                stoppedByUs = true
                return false
            } catch {
                failure = error
                return false
            }
        }
    }
}

// SAFETY: libcurl passes a buffer of size * count bytes and the userdata pointer we set, which is a
// Transfer kept alive by `send` for the whole of curl_easy_perform.
private let writeCallback: curl_write_callback = { buffer, size, count, userdata in
    guard let userdata else { return 0 }
    let transfer = Unmanaged<Transfer>.fromOpaque(userdata).takeUnretainedValue()
    let length = size * count
    let bytes = UnsafeRawBufferPointer(start: UnsafeRawPointer(buffer), count: buffer == nil ? 0 : length)
    return transfer.body(bytes) ? length : 0
}

private let headerCallback: curl_write_callback = { buffer, size, count, userdata in
    guard let userdata else { return 0 }
    let transfer = Unmanaged<Transfer>.fromOpaque(userdata).takeUnretainedValue()
    let length = size * count
    let bytes = UnsafeRawBufferPointer(start: UnsafeRawPointer(buffer), count: buffer == nil ? 0 : length)
    return transfer.header(bytes) ? length : 0
}
