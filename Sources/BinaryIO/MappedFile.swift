#if canImport(Glibc)
import Glibc
#endif

/// A whole file mapped read-only into memory.
///
/// The mapping lives as long as this object; slices handed out as `UnsafeRawBufferPointer` must
/// not outlive it (``TensorBytes`` keeps the object alive for that reason).
public final class MappedFile: @unchecked Sendable {
    /// The path the file was opened from, for messages.
    public let path: String
    /// The mapped bytes (empty for an empty file).
    public let bytes: UnsafeRawBufferPointer
    private let mapping: UnsafeMutableRawPointer?
    /// Marks the file as an input while it is mapped.
    private let claim: InputClaim

    /// Maps `path` read-only.
    ///
    /// The path must be a regular file (or a symbolic link to one): a directory, FIFO, socket or
    /// device is refused before it is opened, so nothing blocks (``RegularFile/openForReading(_:)``).
    /// While the mapping lives, the file counts as an input of the running work, so no
    /// ``OutputFile`` replaces it (``InputClaim``).
    ///
    /// - Throws: `FileError` if the file cannot be opened, is not a regular file, or cannot be mapped.
    public init(path: String) throws {
        self.path = path
        let (fd, info) = try RegularFile.openForReading(path)
        defer { close(fd) }
        claim = InputClaim(path: path, status: info)
        guard let size = Int(exactly: info.st_size), size >= 0 else {
            throw FileError(path: path, operation: "stat", message: "reports a size of \(info.st_size) bytes")
        }
        if size == 0 {
            mapping = nil
            bytes = UnsafeRawBufferPointer(start: nil, count: 0)
            return
        }
        guard let pointer = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), pointer != MAP_FAILED else {
            throw FileError(path: path, operation: "mmap", errno: errno)
        }
        mapping = pointer
        bytes = UnsafeRawBufferPointer(start: pointer, count: size)
    }

    /// The file's size in bytes.
    public var count: Int { bytes.count }

    /// Tells the kernel `range` will be read soon and in order.
    public func adviseSequential(_ range: Range<Int>) {
        advise(range, MADV_SEQUENTIAL)
        advise(range, MADV_WILLNEED)
    }

    /// Drops the pages of `range` from this process's resident memory. The data stays readable
    /// (it is reread from the file if touched again). Converters call this after copying a tensor
    /// out, so that their resident size stays near one tensor rather than the whole file.
    public func discardPages(_ range: Range<Int>) {
        advise(range, MADV_DONTNEED)
    }

    private func advise(_ range: Range<Int>, _ advice: Int32) {
        guard let mapping, !range.isEmpty, range.lowerBound >= 0, range.upperBound <= count else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = range.lowerBound / page * page
        _ = madvise(mapping + start, range.upperBound - start, advice)
    }

    deinit {
        if let mapping { munmap(mapping, count) }
    }
}

/// A failed file-system operation.
public struct FileError: Error, Equatable, CustomStringConvertible {
    /// The file involved.
    public let path: String
    /// What was attempted (`open`, `write`, `rename`, …).
    public let operation: String
    /// The system's explanation.
    public let message: String

    /// An error with an explicit message.
    public init(path: String, operation: String, message: String) {
        self.path = path
        self.operation = operation
        self.message = message
    }

    /// An error described by `errno`.
    public init(path: String, operation: String, errno code: Int32) {
        self.init(path: path, operation: operation, message: String(cString: strerror(code)))
    }

    public var description: String { "\(path): cannot \(operation): \(message)" }
}
