// Absolute http(s) URLs and the resolution of redirect targets against them (RFC 3986 section 5,
// the subset a Location header needs). Two URLs are the same host only when scheme, host and
// port all agree (docs/cli.md, "Tokens and redirects"): the token is sent to that origin alone.

/// An absolute `http` or `https` URL, split into the parts a request and a redirect need.
public struct HTTPURL: Equatable, Hashable, Sendable, CustomStringConvertible {
    /// `http` or `https`, lower-cased.
    public let scheme: String
    /// The host, lower-cased (an IPv6 literal keeps its brackets).
    public let host: String
    /// The port: the one written, else 80 or 443.
    public let port: Int
    /// The path (starting with `/`) and the query, if any, as written.
    public let pathAndQuery: String

    /// Parses an absolute URL; `nil` unless it is `http://` or `https://` with a valid host and port.
    /// A fragment is dropped; user information (`user@host`) is refused.
    public init?(_ text: String) {
        guard let colon = text.firstIndex(of: ":"), text[colon...].hasPrefix("://") else { return nil }
        let scheme = text[..<colon].lowercased()
        guard scheme == "http" || scheme == "https" else { return nil }
        var rest = text[text.index(colon, offsetBy: 3)...]
        if let hash = rest.firstIndex(of: "#") { rest = rest[..<hash] }
        let authorityEnd = rest.firstIndex { $0 == "/" || $0 == "?" } ?? rest.endIndex
        let authority = rest[..<authorityEnd]
        var path = String(rest[authorityEnd...])
        if path.isEmpty || path.hasPrefix("?") { path = "/" + path }
        guard !authority.isEmpty, !authority.contains("@") else { return nil }
        var host: Substring
        var portText: Substring?
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { return nil }
            host = authority[...close]
            let after = authority[authority.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { return nil }
                portText = after.dropFirst()
            }
        } else if let colon = authority.lastIndex(of: ":") {
            host = authority[..<colon]
            portText = authority[authority.index(after: colon)...]
        } else {
            host = authority
        }
        guard !host.isEmpty, host.allSatisfy({ $0.isASCII && !$0.isWhitespace && $0 != "\\" }) else { return nil }
        var port = scheme == "https" ? 443 : 80
        if let portText, !portText.isEmpty {
            guard portText.count <= 5, portText.allSatisfy(\.isASCII), let value = Int(portText), (1...65535).contains(value) else { return nil }
            port = value
        }
        guard path.allSatisfy({ !$0.isWhitespace && $0.isASCII }) else { return nil }
        self.scheme = scheme
        self.host = host.lowercased()
        self.port = port
        self.pathAndQuery = HTTPURL.removingDotSegments(path)
    }

    /// The URL as text; the port is written only when it is not the scheme's default.
    public var description: String {
        let defaultPort = scheme == "https" ? 443 : 80
        return "\(scheme)://\(host)\(port == defaultPort ? "" : ":\(port)")\(pathAndQuery)"
    }

    /// `scheme://host:port`: what must agree for two URLs to be the same host.
    public var origin: String { "\(scheme)://\(host):\(port)" }

    /// The URL a `Location` header points to, resolved against this one: absolute
    /// (`https://cdn/x`), scheme-relative (`//cdn/x`), absolute-path (`/x`), query (`?a=b`) or
    /// relative (`x`, `../x`). `nil` if the target is not an http(s) URL.
    public func resolving(_ reference: String) -> HTTPURL? {
        var target = reference.trimmingWhitespace
        if let hash = target.firstIndex(of: "#") { target = String(target[..<hash]) }
        if HTTPURL.hasScheme(target) { return HTTPURL(target) }
        let authority = "\(scheme)://\(host)\(port == (scheme == "https" ? 443 : 80) ? "" : ":\(port)")"
        if target.hasPrefix("//") { return HTTPURL(scheme + ":" + target) }
        if target.hasPrefix("/") { return HTTPURL(authority + target) }
        let path = pathAndQuery.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? "/"
        if target.isEmpty { return self }
        if target.hasPrefix("?") { return HTTPURL(authority + path + target) }
        let folder = path.lastIndex(of: "/").map { String(path[...$0]) } ?? "/"
        return HTTPURL(authority + folder + target)
    }

    /// Whether `text` starts with a URI scheme (`letter *(letter / digit / + - .) ":"`).
    static func hasScheme(_ text: String) -> Bool {
        guard let colon = text.firstIndex(of: ":"), let first = text.first, first.isASCII, first.isLetter else { return false }
        return text[..<colon].allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "+" || $0 == "-" || $0 == ".") }
    }

    /// RFC 3986 5.2.4 on the path part; the query is kept as it is.
    static func removingDotSegments(_ pathAndQuery: String) -> String {
        let parts = pathAndQuery.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        let path = String(parts[0])
        guard path.contains("/.") else { return pathAndQuery }
        var output: [Substring] = []
        let segments = path.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
        for (position, segment) in segments.enumerated() {
            let isLast = position == segments.count - 1
            switch segment {
            case ".": if isLast { output.append("") }
            case "..":
                if !output.isEmpty { output.removeLast() }
                if isLast { output.append("") }
            default: output.append(segment)
            }
        }
        let cleaned = "/" + output.joined(separator: "/")
        return parts.count == 2 ? cleaned + "?" + parts[1] : cleaned
    }

    /// `text` percent-encoded as Python's `urllib.parse.quote` does: letters, digits, `_.-~` and the
    /// characters in `safe` are kept; every other byte of the UTF-8 form becomes `%XX`.
    public static func percentEncoded(_ text: String, safe: String = "/") -> String {
        let hex: [Character] = Array("0123456789ABCDEF")
        var result = ""
        for byte in text.utf8 {
            let scalar = Unicode.Scalar(byte)
            let isUnreserved = (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                || byte == 0x5F || byte == 0x2E || byte == 0x2D || byte == 0x7E
            if isUnreserved || (byte < 0x80 && safe.unicodeScalars.contains(scalar)) {
                result.unicodeScalars.append(scalar)
            } else {
                result.append("%")
                result.append(hex[Int(byte >> 4)])
                result.append(hex[Int(byte & 0x0F)])
            }
        }
        return result
    }
}

extension String {
    /// The string without leading and trailing spaces, tabs and line breaks.
    var trimmingWhitespace: String {
        let scalars = unicodeScalars
        guard let first = scalars.firstIndex(where: { !$0.properties.isWhitespace }),
              let last = scalars.lastIndex(where: { !$0.properties.isWhitespace }) else { return "" }
        return String(scalars[first...last])
    }
}
