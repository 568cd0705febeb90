#if canImport(Glibc)
import Glibc
#endif

// Opening a path that should be a file, when anyone may have put something else there
// (docs/security.md, "Paths"). A FIFO or a character device blocks `open(2)` or `read(2)` forever
// (or, like /dev/zero, never ends), a socket cannot be opened at all, and a folder is not data, so
// the path is checked with `stat(2)` before it is opened. It is then opened with O_NONBLOCK, so
// that even a FIFO swapped in between the two calls cannot block, and the descriptor is checked
// with `fstat(2)` to be the very file `stat` saw. A symbolic link loop is one message.

/// What is at a path, as `stat(2)` reports its type.
public enum FileKind: Equatable, Sendable {
    /// A regular file, a directory, a FIFO, a socket, a character or block device, a symbolic link
    /// (seen only by `lstat`), or anything else.
    case regular, directory, fifo, socket, characterDevice, blockDevice, symbolicLink, other

    /// The kind of `mode` (`st_mode`).
    public init(mode: mode_t) {
        switch mode & S_IFMT {
        case S_IFREG: self = .regular
        case S_IFDIR: self = .directory
        case S_IFIFO: self = .fifo
        case S_IFSOCK: self = .socket
        case S_IFCHR: self = .characterDevice
        case S_IFBLK: self = .blockDevice
        case S_IFLNK: self = .symbolicLink
        default: self = .other
        }
    }

    /// Why a path of this kind cannot be read as a file, or `nil` for a regular file.
    public var refusal: String? {
        switch self {
        case .regular: return nil
        case .directory: return "is a directory, not a file"
        case .fifo: return "is a FIFO (named pipe), not a regular file"
        case .socket: return "is a socket, not a regular file"
        case .characterDevice: return "is a character device, not a regular file"
        case .blockDevice: return "is a block device, not a regular file"
        case .symbolicLink: return "is a symbolic link, not a regular file"
        case .other: return "is not a regular file"
        }
    }
}

/// Opening regular files for reading, refusing everything else before it is opened.
public enum RegularFile {
    /// The message for a failed `stat` or `open` of `path`: a symbolic link loop (ELOOP) is named
    /// as such, other errors by the system's text.
    public static func openError(_ path: String, errno code: Int32) -> FileError {
        if code == ELOOP {
            return FileError(path: path, operation: "open", message: "a symbolic link loop (too many levels of symbolic links)")
        }
        return FileError(path: path, operation: "open", errno: code)
    }

    /// `stat(2)` of `path` (following links), or the error that names why it failed.
    public static func status(_ path: String) throws(FileError) -> stat {
        var info = stat()
        guard stat(path, &info) == 0 else { throw openError(path, errno: errno) }
        return info
    }

    /// Opens `path` for reading if it is a regular file (a symbolic link to one is fine).
    ///
    /// - Returns: the descriptor (close-on-exec, the caller closes it) and its `fstat`.
    /// - Throws: `FileError` naming what the path is when it is not a regular file (a directory, a
    ///   FIFO, a socket, a device), a symbolic link loop, or the system's error.
    public static func openForReading(_ path: String) throws(FileError) -> (descriptor: Int32, status: stat) {
        let before = try status(path)
        if let refusal = FileKind(mode: before.st_mode).refusal { throw FileError(path: path, operation: "open", message: refusal) }
        let fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC)
        guard fd >= 0 else { throw openError(path, errno: errno) }
        var after = stat()
        guard fstat(fd, &after) == 0 else {
            let code = errno
            close(fd)
            throw FileError(path: path, operation: "stat", errno: code)
        }
        if let refusal = FileKind(mode: after.st_mode).refusal {
            close(fd)
            throw FileError(path: path, operation: "open", message: refusal)
        }
        guard after.st_dev == before.st_dev, after.st_ino == before.st_ino else {
            close(fd)
            throw FileError(path: path, operation: "open", message: "the file was replaced while it was being opened")
        }
        return (fd, after)
    }

    /// The whole contents of the regular file at `path`, at most `maxByteCount` bytes.
    ///
    /// - Throws: `FileError` as ``openForReading(_:)``, for a read error, or when the file is
    ///   larger than `maxByteCount`.
    public static func contents(of path: String, maxByteCount: Int = Int.max) throws(FileError) -> [UInt8] {
        let (fd, info) = try openForReading(path)
        defer { close(fd) }
        let size = Int(clamping: info.st_size)
        guard size <= maxByteCount else {
            throw FileError(path: path, operation: "read", message: "the file has \(size) bytes; at most \(maxByteCount) are read")
        }
        var bytes = [UInt8](repeating: 0, count: size)
        var done = 0
        while done < size {
            let n = bytes.withUnsafeMutableBytes { buffer -> Int in
                guard let base = buffer.baseAddress else { return 0 }
                return read(fd, base + done, size - done)
            }
            if n < 0 {
                if errno == EINTR { continue }
                throw FileError(path: path, operation: "read", errno: errno)
            }
            if n == 0 { break }
            done += n
        }
        // A file that shrank while it was read ends where it ended.
        if done < size { bytes.removeSubrange(done...) }
        return bytes
    }
}
