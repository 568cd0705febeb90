import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A small HTTP/1.1 server on 127.0.0.1 (a free port) for tests: keep-alive connections, a
/// handler that answers each request, and fault injection (a connection dropped after part of a
/// body, a close-delimited body without Content-Length). It records every request and counts
/// the bytes it sends, so tests can assert what a client asked for and received.
public final class LoopbackHTTPServer: @unchecked Sendable {
    /// One request as received.
    public struct Request: Sendable {
        public let method: String
        /// The request target: path and query.
        public let target: String
        /// Header names lower-cased.
        public let headers: [String: String]

        /// The target without its query.
        public var path: String { String(target.split(separator: "?", maxSplits: 1).first ?? "") }
    }

    /// What to send back.
    public struct Response: Sendable {
        public var status: Int
        public var headers: [(String, String)]
        public var body: [UInt8]
        /// Send only this many body bytes (after announcing all of them), then close the connection.
        public var dropAfter: Int?
        /// Send no Content-Length; the body ends when the connection closes.
        public var closeDelimited = false

        public init(status: Int, headers: [(String, String)] = [], body: [UInt8] = [], dropAfter: Int? = nil, closeDelimited: Bool = false) {
            self.status = status
            self.headers = headers
            self.body = body
            self.dropAfter = dropAfter
            self.closeDelimited = closeDelimited
        }
    }

    /// The port listened on.
    public let port: Int
    private let listener: Int32
    private let handler: @Sendable (Request) -> Response
    private let lock = NSLock()
    private var recorded: [Request] = []
    private var sent = 0
    private var stopped = false
    /// Connections being served; `stop()` shuts them down.
    private var open: Set<Int32> = []

    /// `http://127.0.0.1:PORT`.
    public var baseURL: String { "http://127.0.0.1:\(port)" }

    /// Every request so far, in arrival order.
    public var requests: [Request] { lock.withLock { recorded } }
    /// Bytes sent so far (status lines, headers and bodies).
    public var bytesSent: Int { lock.withLock { sent } }

    /// Forgets the recorded requests and the byte count.
    public func resetCounts() { lock.withLock { recorded = []; sent = 0 } }

    /// Starts listening; `handler` answers each request (on the connection's thread).
    public init(handler: @escaping @Sendable (Request) -> Response) throws {
        self.handler = handler
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.EIO) }
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 64) == 0 else { close(fd); throw POSIXError(.EADDRINUSE) }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        port = Int(UInt16(bigEndian: address.sin_port))
        listener = fd
        startAccepting()
    }

    /// Starts the accepting thread, which holds a strong reference to the server. (Started from
    /// a method rather than inside `init`, where the closure's capture of `self` is not a strong one.)
    private func startAccepting() {
        let server = self
        Thread.detachNewThread { server.acceptLoop() }
    }

    deinit { stop() }

    /// Stops accepting connections and ends the open ones, so that a client keeping a connection
    /// alive never reaches a stopped server (a later server may listen on the same port).
    public func stop() {
        let wasStopped = lock.withLock { () -> Bool in
            defer { stopped = true }
            if !stopped { for connection in open { shutdown(connection, Int32(SHUT_RDWR)) } }
            return stopped
        }
        if !wasStopped {
            shutdown(listener, Int32(SHUT_RDWR))
            close(listener)
        }
    }

    private func acceptLoop() {
        while true {
            let connection = accept(listener, nil, nil)
            if connection < 0 {
                if errno == EINTR { continue }
                return
            }
            let server = self
            Thread.detachNewThread { server.serve(connection) }
        }
    }

    private func serve(_ connection: Int32) {
        let accepted = lock.withLock { () -> Bool in
            if stopped { return false }
            open.insert(connection)
            return true
        }
        defer {
            // Closed under the lock, so that stop() never shuts down a reused descriptor.
            lock.withLock {
                open.remove(connection)
                close(connection)
            }
        }
        guard accepted else { return }
        var buffer: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            // Read one request head.
            var headEnd: Int?
            while headEnd == nil {
                if let end = LoopbackHTTPServer.find(buffer) { headEnd = end; break }
                let n = chunk.withUnsafeMutableBytes { recv(connection, $0.baseAddress, $0.count, 0) }
                if n <= 0 { return }
                buffer.append(contentsOf: chunk[0..<n])
            }
            guard let end = headEnd else { return }
            let text = String(decoding: buffer[0..<end], as: UTF8.self)
            buffer.removeFirst(end + 4)
            let lines = text.components(separatedBy: "\r\n")
            let parts = lines[0].split(separator: " ")
            guard parts.count >= 2 else { return }
            var headers: [String: String] = [:]
            for line in lines.dropFirst() {
                guard let colon = line.firstIndex(of: ":") else { continue }
                headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            }
            let request = Request(method: String(parts[0]), target: String(parts[1]), headers: headers)
            // A stopped server answers nothing: the client sees the connection close and retries
            // on a new one.
            guard lock.withLock({ () -> Bool in
                if stopped { return false }
                recorded.append(request)
                return true
            }) else { return }
            let response = handler(request)
            var head = "HTTP/1.1 \(response.status) \(LoopbackHTTPServer.reason(response.status))\r\n"
            for (name, value) in response.headers { head += "\(name): \(value)\r\n" }
            if !response.closeDelimited { head += "Content-Length: \(response.body.count)\r\n" }
            if response.closeDelimited || response.dropAfter != nil { head += "Connection: close\r\n" }
            head += "\r\n"
            var out = Array(head.utf8)
            if request.method != "HEAD" { out += response.body.prefix(response.dropAfter ?? response.body.count) }
            guard sendAll(connection, out) else { return }
            if response.closeDelimited || response.dropAfter != nil { return }
        }
    }

    private func sendAll(_ connection: Int32, _ bytes: [UInt8]) -> Bool {
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { send(connection, $0.baseAddress! + done, min($0.count - done, 1 << 20), Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return false }
            lock.withLock { sent += n }
            done += n
        }
        return true
    }

    private static func find(_ buffer: [UInt8]) -> Int? {
        guard buffer.count >= 4 else { return nil }
        for index in 0...(buffer.count - 4) where buffer[index] == 13 && buffer[index + 1] == 10 && buffer[index + 2] == 13 && buffer[index + 3] == 10 {
            return index
        }
        return nil
    }

    private static func reason(_ status: Int) -> String {
        switch status {
        case 200: return "OK"
        case 206: return "Partial Content"
        case 302: return "Found"
        case 307: return "Temporary Redirect"
        case 401: return "Unauthorized"
        case 403: return "Forbidden"
        case 404: return "Not Found"
        case 416: return "Range Not Satisfiable"
        case 429: return "Too Many Requests"
        case 500: return "Internal Server Error"
        case 503: return "Service Unavailable"
        default: return "Status"
        }
    }
}
