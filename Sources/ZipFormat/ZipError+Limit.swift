import BinaryIO

extension ZipError: LimitReporting {
    /// The ``ZipReadLimits`` budget this error reports going over, by the name `--limits` takes.
    public var exceededLimit: ExceededLimit? {
        switch self {
        case .tooManyEntries(_, let limit): return ExceededLimit(name: "maxEntryCount", value: limit)
        case .inflationBudgetExceeded(_, _, _, let budget): return ExceededLimit(name: "maxInflatedByteCount", value: budget)
        default: return nil
        }
    }
}
