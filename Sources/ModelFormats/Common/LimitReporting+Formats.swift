import BinaryIO
import PickleVM
import ZipFormat

// Limit errors are recognised by type: each error that can report a budget going over says which
// one, and wrappers ask the error they wrap.

extension TorchFormatError: LimitReporting {
    /// The budget this error reports going over, looking into the pickle and zip errors it wraps.
    public var exceededLimit: ExceededLimit? {
        switch self {
        case .pickle(_, let error): return error.exceededLimit
        case .zip(let error): return error.exceededLimit
        case .invalidGeometry(_, _, let error): return error.exceededLimit
        case .tooManyNodes(let limit): return ExceededLimit(name: "maxTreeNodes", value: limit)
        default: return nil
        }
    }
}

extension TensorGeometryError: LimitReporting {
    /// `maxTensorRank` for a rank over the limit.
    public var exceededLimit: ExceededLimit? {
        guard case .rankTooHigh(_, let limit) = self else { return nil }
        return ExceededLimit(name: "maxTensorRank", value: limit)
    }
}

extension ShardReadError: LimitReporting {
    /// The budget the shard's error reports going over.
    public var exceededLimit: ExceededLimit? { ExceededLimit.of(underlying) }
}

extension NumPyError: LimitReporting {
    /// `maxTensorRank` for a shape over the limit; the zip reader's budgets for an archive.
    public var exceededLimit: ExceededLimit? {
        switch problem {
        case .rankTooHigh(_, let limit): return ExceededLimit(name: "maxTensorRank", value: limit)
        case .zip(let error): return error.exceededLimit
        default: return nil
        }
    }
}
