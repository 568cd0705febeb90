#if canImport(Glibc)
import Glibc
#endif

// Where the hub is and who we are, chosen as huggingface_hub chooses them (docs/cli.md,
// "download"): the endpoint from the option, else HF_ENDPOINT, else https://huggingface.co; the
// token from the option, else HF_TOKEN, else the file $HF_HOME/token; the cache from
// HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub.

/// The endpoint, token, cache folder and offline switch for one run.
public struct HubConfiguration: Sendable {
    /// The endpoint as given, without a trailing `/` (it may carry a path: `https://host/mirror`).
    public let endpoint: String
    /// The endpoint's URL.
    public let endpointURL: HTTPURL
    /// The bearer token, or `nil`.
    public let token: String?
    /// The hub cache folder (`…/huggingface/hub`).
    public let cacheFolder: String
    /// `HF_HUB_OFFLINE` is set: nothing may touch the network.
    public let isOffline: Bool
    /// Timeouts for each request (`HF_HUB_DOWNLOAD_TIMEOUT` sets the stall timeout).
    public var timeouts: HTTPTimeouts
    /// How failed requests are retried.
    public var retry: RetryPolicy

    /// The default endpoint.
    public static let defaultEndpoint = "https://huggingface.co"

    /// A configuration from explicit values (tests use this).
    ///
    /// - Throws: `HubError.invalidEndpoint` if `endpoint` is not an http(s) URL.
    public init(endpoint: String, token: String?, cacheFolder: String, isOffline: Bool = false,
                timeouts: HTTPTimeouts = HTTPTimeouts(), retry: RetryPolicy = RetryPolicy()) throws {
        var trimmed = endpoint
        while trimmed.hasSuffix("/") { trimmed.removeLast() }
        guard let url = HTTPURL(trimmed), !trimmed.contains("?") else { throw HubError.invalidEndpoint(endpoint) }
        self.endpoint = trimmed
        self.endpointURL = url
        self.token = token.flatMap { $0.trimmingWhitespace.isEmpty ? nil : $0.trimmingWhitespace }
        self.cacheFolder = cacheFolder
        self.isOffline = isOffline
        self.timeouts = timeouts
        self.retry = retry
    }

    /// The configuration the environment describes, with the command line's values first.
    ///
    /// - Throws: `HubError.invalidEndpoint` for an endpoint that is not an http(s) URL.
    public static func fromEnvironment(endpoint: String? = nil, token: String? = nil) throws -> HubConfiguration {
        let home = environment("HF_HOME") ?? ((environment("XDG_CACHE_HOME") ?? (homeFolder + "/.cache")) + "/huggingface")
        let cache = environment("HF_HUB_CACHE") ?? environment("HUGGINGFACE_HUB_CACHE") ?? (home + "/hub")
        var chosenToken = token ?? environment("HF_TOKEN")
        if chosenToken == nil, let text = readSmallFile(environment("HF_TOKEN_PATH") ?? (home + "/token")) {
            chosenToken = text
        }
        var timeouts = HTTPTimeouts()
        if let text = environment("HF_HUB_DOWNLOAD_TIMEOUT"), let seconds = Double(text), seconds > 0, seconds.isFinite {
            timeouts.stall = seconds
        }
        if let text = environment("HF_HUB_ETAG_TIMEOUT"), let seconds = Double(text), seconds > 0, seconds.isFinite {
            timeouts.connect = seconds
        }
        return try HubConfiguration(
            endpoint: endpoint ?? environment("HF_ENDPOINT") ?? defaultEndpoint, token: chosenToken, cacheFolder: cache,
            isOffline: isTrue(environment("HF_HUB_OFFLINE")), timeouts: timeouts, retry: RetryPolicy.fromEnvironment())
    }

    /// The token bound to the endpoint's origin, for ``HTTPClient/fetch(_:method:headers:authorization:onHead:onBody:)``.
    public var authorization: HTTPAuthorization? { token.map { HTTPAuthorization(token: $0, origin: endpointURL.origin) } }

    /// huggingface_hub's truth test for switches: `1`, `ON`, `YES`, `TRUE` in any case.
    static func isTrue(_ value: String?) -> Bool {
        guard let value else { return false }
        return ["1", "ON", "YES", "TRUE"].contains(value.uppercased())
    }

    /// An environment variable; an empty value counts as unset.
    static func environment(_ name: String) -> String? {
        guard let value = getenv(name) else { return nil }
        let text = String(cString: value)
        return text.isEmpty ? nil : text
    }

    static var homeFolder: String { environment("HOME") ?? "/root" }

    /// The content of a small text file (a token), trimmed; `nil` if missing, empty or over 64 KiB.
    static func readSmallFile(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes = [UInt8](repeating: 0, count: 65_536)
        var total = 0
        while total < bytes.count {
            let n = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress! + total, $0.count - total) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            total += n
        }
        let text = String(decoding: bytes.prefix(total), as: UTF8.self).trimmingWhitespace
        return text.isEmpty ? nil : text
    }
}

/// How a failed request is tried again: connection failures, timeouts, 5xx and 429.
public struct RetryPolicy: Sendable, Equatable {
    /// Tries after the first one.
    public var retries = 5
    /// The first wait, in seconds; each next wait doubles, up to ``maximumDelay``.
    public var initialDelay = 1.0
    /// The longest wait between two tries, in seconds (a `Retry-After` longer than this is capped
    /// at 60 s).
    public var maximumDelay = 8.0

    /// The default: 5 retries, waiting 1, 2, 4, 8, 8 seconds.
    public init(retries: Int = 5, initialDelay: Double = 1, maximumDelay: Double = 8) {
        self.retries = retries
        self.initialDelay = initialDelay
        self.maximumDelay = maximumDelay
    }

    /// The default, with `MODELFILE_HUB_RETRY_DELAY` (seconds) replacing the first wait when set:
    /// tests set it low.
    static func fromEnvironment() -> RetryPolicy {
        var policy = RetryPolicy()
        if let text = HubConfiguration.environment("MODELFILE_HUB_RETRY_DELAY"), let value = Double(text), value >= 0, value.isFinite {
            policy.initialDelay = value
            policy.maximumDelay = max(value, min(policy.maximumDelay, value * 8))
        }
        return policy
    }

    /// The wait before retry number `attempt` (1-based), or the server's `Retry-After` when given.
    func delay(beforeRetry attempt: Int, retryAfter: Double?) -> Double {
        if let retryAfter { return min(max(0, retryAfter), 60) }
        var wait = initialDelay
        for _ in 1..<max(1, attempt) { wait *= 2 }
        return min(wait, maximumDelay)
    }

    /// Seconds from a `Retry-After` value: a number of seconds, or an HTTP date.
    static func retryAfterSeconds(_ value: String?) -> Double? {
        guard let value = value?.trimmingWhitespace, !value.isEmpty else { return nil }
        if let seconds = Double(value), seconds.isFinite, seconds >= 0 { return seconds }
        // IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT".
        let fields = value.split(separator: " ")
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        guard fields.count == 6, fields[5] == "GMT", let day = Int(fields[1]), let month = months.firstIndex(of: String(fields[2])),
              let year = Int(fields[3]), (1970...9999).contains(year), (1...31).contains(day) else { return nil }
        let clock = fields[4].split(separator: ":").compactMap { Int($0) }
        guard clock.count == 3, (0..<24).contains(clock[0]), (0..<60).contains(clock[1]), (0...60).contains(clock[2]) else { return nil }
        var parts = tm()
        parts.tm_year = Int32(year - 1900)
        parts.tm_mon = Int32(month)
        parts.tm_mday = Int32(day)
        parts.tm_hour = Int32(clock[0])
        parts.tm_min = Int32(clock[1])
        parts.tm_sec = Int32(clock[2])
        let when = timegm(&parts)
        return max(0, Double(when - time(nil)))
    }
}

/// Sleeps for `seconds` (fractions allowed).
func pause(seconds: Double) {
    guard seconds > 0, seconds.isFinite else { return }
    var request = timespec(tv_sec: Int(seconds.rounded(.down)), tv_nsec: Int((seconds - seconds.rounded(.down)) * 1e9))
    var remaining = timespec()
    while nanosleep(&request, &remaining) != 0 && errno == EINTR { request = remaining }
}
