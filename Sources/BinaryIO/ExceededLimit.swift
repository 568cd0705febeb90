/// A reading budget that a file went over: the name `--limits` takes for it and the value in force.
public struct ExceededLimit: Sendable, Hashable {
    /// The budget's name (`maxTreeNodes`, `maxInflatedByteCount`, …), as `--limits NAME=VALUE` takes it.
    public let name: String
    /// The budget that was in force.
    public let value: Int

    /// A budget that was exceeded.
    public init(name: String, value: Int) {
        self.name = name
        self.value = value
    }
}

/// An error that can say it is a budget going over, so callers recognise limit errors by type
/// rather than by their wording. Wrapping errors forward the question to the error they wrap.
public protocol LimitReporting: Error {
    /// The budget this error reports going over, or `nil` when it is some other fault.
    var exceededLimit: ExceededLimit? { get }
}

extension ExceededLimit {
    /// The exceeded budget behind `error`, looking through wrappers that report it, or `nil`.
    public static func of(_ error: Error) -> ExceededLimit? {
        (error as? LimitReporting)?.exceededLimit
    }
}
