/// Any failure while working on a file, with the file's path added once, at this layer.
///
/// Its description is one line: `model.pth: archive/data.pkl at byte 211: unsupported global os.system`.
public struct ModelFileError: Error, CustomStringConvertible {
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
        let message = String(describing: underlying)
        // Errors that already name the path (file-system errors) are not prefixed twice.
        return message.hasPrefix(path + ":") ? message : "\(path): \(message)"
    }
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
