#if canImport(Glibc)
import Glibc
#endif

/// A file written under a temporary name in the destination folder and renamed into place only
/// by ``commit()``.
///
/// If the writer is dropped without committing, or the process is interrupted by SIGINT, SIGTERM
/// or SIGHUP, the temporary file is removed and the destination is left as it was. (After SIGKILL
/// or a power cut the destination is still intact; only a `.name.tmp-XXXXXX` file may remain.)
/// Small writes are gathered in a 1 MiB buffer; large ones go straight to `write(2)`.
public final class OutputFile {
    /// The final path.
    public let path: String
    /// The temporary file's path until commit.
    public let temporaryPath: String
    /// Bytes written so far.
    public private(set) var position: Int = 0

    private var fd: Int32
    private let buffer: UnsafeMutableRawBufferPointer
    private var buffered = 0
    private var committed = false
    private let signalSlot: Int?

    private static let bufferSize = 1 << 20

    /// Creates the temporary file for `path`.
    ///
    /// - Parameter overwrite: when `false`, refuses if `path` already exists.
    /// - Throws: `FileError` if the destination is an input of the running work (the same file, or
    ///   a link to it; see ``OutputTarget/check(_:)``, whatever `overwrite` says), exists (and
    ///   `overwrite` is false), its folder is missing or the temporary file cannot be created.
    public init(path: String, overwrite: Bool) throws {
        self.path = path
        try OutputTarget.check(path)
        var info = stat()
        if stat(path, &info) == 0 {
            if (info.st_mode & S_IFMT) == S_IFDIR {
                throw FileError(path: path, operation: "write", message: "is a directory")
            }
            if !overwrite {
                throw FileError(path: path, operation: "write", message: "file exists (use --force to overwrite)")
            }
        }
        let (folder, name) = OutputFile.split(path)
        var template = Array("\(folder)/.\(name).tmp-XXXXXX".utf8CString)
        // The file must be registered for removal before a signal can arrive: hold the handled
        // signals back from creation until registration.
        let held = TemporaryFileRegistry.holdSignals()
        let descriptor = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard descriptor >= 0 else {
            let code = errno
            TemporaryFileRegistry.release(held)
            throw FileError(path: path, operation: "create a temporary file in \(folder) for", errno: code)
        }
        fd = descriptor
        _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC)
        temporaryPath = String(cString: template.map { UInt8(bitPattern: $0) })
        // mkstemp creates 0600; give the file the usual permissions (0666 minus the umask).
        let mask = umask(0)
        umask(mask)
        fchmod(descriptor, 0o666 & ~mask)
        buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: OutputFile.bufferSize, alignment: 4096)
        signalSlot = TemporaryFileRegistry.register(temporaryPath)
        TemporaryFileRegistry.release(held)
    }

    /// Appends `bytes`.
    ///
    /// - Throws: `FileError` on a write failure (for example a full disk).
    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard bytes.count > 0, let source = bytes.baseAddress else { return }
        if buffered + bytes.count <= buffer.count {
            (buffer.baseAddress! + buffered).copyMemory(from: source, byteCount: bytes.count)
            buffered += bytes.count
        } else {
            try flush()
            if bytes.count >= buffer.count / 2 {
                try writeFully(source, bytes.count)
            } else {
                buffer.baseAddress!.copyMemory(from: source, byteCount: bytes.count)
                buffered = bytes.count
            }
        }
        position += bytes.count
    }

    /// Appends `bytes`.
    public func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try write($0) }
    }

    /// Appends the UTF-8 bytes of `text`.
    public func write(_ text: String) throws {
        var copy = text
        try copy.withUTF8 { try write(UnsafeRawBufferPointer($0)) }
    }

    /// Appends `count` copies of `byte`.
    public func write(repeating byte: UInt8, count: Int) throws {
        guard count > 0 else { return }
        try write([UInt8](repeating: byte, count: count))
    }

    /// Writes out buffered bytes and renames the file into place.
    ///
    /// - Throws: `FileError` if the final write, close or rename fails; the temporary file is
    ///   removed in that case.
    public func commit() throws {
        precondition(!committed, "OutputFile committed twice")
        try flush()
        let closeResult = close(fd)
        fd = -1
        guard closeResult == 0 else { throw FileError(path: path, operation: "close", errno: errno) }
        guard rename(temporaryPath, path) == 0 else { throw FileError(path: path, operation: "rename into place", errno: errno) }
        committed = true
        TemporaryFileRegistry.unregister(signalSlot)
    }

    private func flush() throws {
        guard buffered > 0 else { return }
        try writeFully(UnsafeRawPointer(buffer.baseAddress!), buffered)
        buffered = 0
    }

    private func writeFully(_ start: UnsafeRawPointer, _ count: Int) throws {
        var done = 0
        while done < count {
            let n = Glibc.write(fd, start + done, count - done)
            if n < 0 {
                if errno == EINTR { continue }
                throw FileError(path: path, operation: "write", errno: errno)
            }
            done += n
        }
    }

    deinit {
        if fd >= 0 { close(fd) }
        if !committed {
            unlink(temporaryPath)
            TemporaryFileRegistry.unregister(signalSlot)
        }
        buffer.deallocate()
    }

    /// Splits a path into its folder (`.` when none) and last component.
    static func split(_ path: String) -> (folder: String, name: String) {
        guard let slash = path.lastIndex(of: "/") else { return (".", path) }
        let folder = String(path[..<slash])
        return (folder.isEmpty ? "/" : folder, String(path[path.index(after: slash)...]))
    }
}

/// Temporary output paths to remove if the process is interrupted by a signal.
///
/// The table is a fixed array of C strings so the signal handler only reads memory and calls
/// `unlink`, both safe inside a handler.
enum TemporaryFileRegistry {
    private static let capacity = 64
    nonisolated(unsafe) private static let slots: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?> = {
        let slots = UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>.allocate(capacity: capacity)
        slots.initialize(repeating: nil, count: capacity)
        // A parent may start us with these signals blocked (threads of a dispatch pool block most
        // signals, and spawned children inherit the mask): unblock them, or the handler never runs.
        var unblock = sigset_t()
        sigemptyset(&unblock)
        for signal in [SIGINT, SIGTERM, SIGHUP] { sigaddset(&unblock, signal) }
        pthread_sigmask(SIG_UNBLOCK, &unblock, nil)
        for signal in [SIGINT, SIGTERM, SIGHUP] {
            Glibc.signal(signal) { received in
                for index in 0..<TemporaryFileRegistry.capacity {
                    if let path = TemporaryFileRegistry.slots[index] { unlink(path) }
                }
                Glibc.signal(received, SIG_DFL)
                raise(received)
            }
        }
        return slots
    }()

    /// Blocks the handled signals on this thread (after installing the handlers); returns the
    /// previous mask for ``release(_:)``.
    static func holdSignals() -> sigset_t {
        _ = slots
        var hold = sigset_t(), previous = sigset_t()
        sigemptyset(&hold)
        for signal in [SIGINT, SIGTERM, SIGHUP] { sigaddset(&hold, signal) }
        pthread_sigmask(SIG_BLOCK, &hold, &previous)
        return previous
    }

    /// Restores the signal mask `holdSignals` saved; a signal that arrived meanwhile is delivered now.
    static func release(_ previous: sigset_t) {
        var mask = previous
        pthread_sigmask(SIG_SETMASK, &mask, nil)
    }

    static func register(_ path: String) -> Int? {
        for index in 0..<capacity where slots[index] == nil {
            slots[index] = strdup(path)
            return index
        }
        return nil
    }

    static func unregister(_ slot: Int?) {
        guard let slot, let path = slots[slot] else { return }
        slots[slot] = nil
        free(path)
    }
}
