import BinaryIO
import TensorNN

/// Any failure while working on a file, with the file's path added once, at this layer.
///
/// Its description is one line: `model.pth: archive/data.pkl at byte 211: unsupported global os.system`.
/// Text from the file appears in it as it is; whoever shows it on a terminal escapes it once.
public struct ModelFileError: Error, CustomStringConvertible, LimitReporting {
    /// The file the failure concerns.
    public let path: String
    /// The component error (`SafetensorsError`, `FileError`, …).
    public let underlying: Error

    /// Wraps `underlying` for `path`.
    public init(path: String, underlying: Error) {
        self.path = path
        self.underlying = underlying
    }

    public var description: String {
        // File-system errors (and a CSV file that cannot be read) already name their path; they
        // are not prefixed twice.
        if let file = underlying as? FileError, file.path == path { return file.description }
        if case .unreadable(let csvPath, _)? = underlying as? CSVError, csvPath == path { return "\(underlying)" }
        return "\(path): \(underlying)"
    }

    /// The budget the underlying error reports going over, if any.
    public var exceededLimit: ExceededLimit? { ExceededLimit.of(underlying) }
}

/// Runs `body`, attaching `path` to any error it throws (unless already attached).
func attributing<T>(to path: String, _ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let error as ModelFileError {
        throw error
    } catch {
        throw ModelFileError(path: path, underlying: error)
    }
}
