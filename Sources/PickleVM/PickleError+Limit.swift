import BinaryIO

extension PickleError: LimitReporting {
    /// The ``PickleLimits`` budget this error reports going over, by the name `--limits` takes.
    public var exceededLimit: ExceededLimit? {
        guard case .limitExceeded(let limit, let value, _, _) = self else { return nil }
        return ExceededLimit(name: limit.rawValue, value: value)
    }
}
