import BinaryIO

#if canImport(Glibc)
import Glibc
#endif

// Small file-system steps the cache needs: folders, links, renames, and the partial files that
// downloads append to. A partial file is deliberately not an OutputFile: it must survive the
// process (a killed transfer resumes from it), and it becomes final by one rename.

enum FileSystem {
    /// Whether `path` exists (links followed) and is a regular file.
    static func isRegularFile(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG
    }

    /// Whether `path` exists (links followed) and is a folder.
    static func isFolder(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }

    /// Size of the regular file at `path` (links followed), or `nil`.
    static func fileSize(_ path: String) -> Int? {
        var info = stat()
        guard stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return nil }
        return Int(info.st_size)
    }

    /// Modification time of `path` in seconds, or `nil`.
    static func modificationTime(_ path: String) -> Double? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return Double(info.st_mtim.tv_sec) + Double(info.st_mtim.tv_nsec) / 1e9
    }

    /// Creates `path` and its missing parents.
    static func makeFolders(_ path: String) throws {
        if isFolder(path) { return }
        var prefix = path.hasPrefix("/") ? "" : "."
        for part in path.split(separator: "/") {
            prefix += "/" + part
            if mkdir(prefix, 0o777) != 0 && errno != EEXIST {
                throw error(path: prefix, operation: "create folder", errno: errno)
            }
        }
        guard isFolder(path) else { throw HubError.fileSystem(path: path, operation: "create folder", reason: "a file is in the way") }
    }

    /// The folder part of `path` (`.` when there is none).
    static func folder(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    /// Makes `path` a symbolic link to `target`, replacing what is there, in one rename.
    static func replaceWithLink(_ path: String, target: String) throws {
        try makeFolders(folder(of: path))
        let temporary = path + ".tmp-link-\(getpid())"
        unlink(temporary)
        guard symlink(target, temporary) == 0 else { throw error(path: path, operation: "create link", errno: errno) }
        guard rename(temporary, path) == 0 else {
            let code = errno
            unlink(temporary)
            throw error(path: path, operation: "create link", errno: code)
        }
    }

    /// Renames `from` to `to` (same file system).
    static func move(_ from: String, to: String) throws {
        guard rename(from, to) == 0 else { throw error(path: to, operation: "rename \(from) to", errno: errno) }
    }

    /// Removes the file at `path` if there is one.
    static func remove(_ path: String) { unlink(path) }

    /// Writes `text` to `path` atomically (through OutputFile), replacing any file there.
    static func writeText(_ text: String, to path: String) throws {
        try makeFolders(folder(of: path))
        do {
            let output = try OutputFile(path: path, overwrite: true)
            try output.write(text)
            try output.commit()
        } catch let failure as FileError where failure.message == String(cString: strerror(ENOSPC)) {
            throw HubError.diskFull(path: path)
        } catch let failure as FileError {
            throw HubError.fileSystem(path: path, operation: failure.operation, reason: failure.message)
        }
    }

    /// Reads a small text file (at most `limit` bytes), or `nil`.
    static func readText(_ path: String, limit: Int = 4096) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes = [UInt8](repeating: 0, count: limit)
        var total = 0
        while total < limit {
            let n = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress! + total, limit - total) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            total += n
        }
        return String(decoding: bytes.prefix(total), as: UTF8.self)
    }

    /// The names in folder `path`, without `.` and `..`.
    static func list(_ path: String) -> [String] {
        guard let folder = opendir(path) else { return [] }
        defer { closedir(folder) }
        var names: [String] = []
        while let entry = readdir(folder) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    /// Every regular file under `root` (links followed, folders not), as paths relative to it.
    static func files(under root: String, skippingHidden: Bool = false) -> [String] {
        var result: [String] = []
        var pending = [""]
        var visited = 0
        while let relative = pending.popLast(), visited < 1_000_000 {
            visited += 1
            let folder = relative.isEmpty ? root : root + "/" + relative
            for name in list(folder) {
                if skippingHidden && relative.isEmpty && name == ".cache" { continue }
                let child = relative.isEmpty ? name : relative + "/" + name
                var info = stat()
                guard lstat(root + "/" + child, &info) == 0 else { continue }
                if (info.st_mode & S_IFMT) == S_IFDIR {
                    pending.append(child)
                } else if isRegularFile(root + "/" + child) {
                    result.append(child)
                }
            }
        }
        return result.sorted()
    }

    static func error(path: String, operation: String, errno code: Int32) -> HubError {
        code == ENOSPC ? .diskFull(path: path) : .fileSystem(path: path, operation: operation, reason: String(cString: strerror(code)))
    }
}

/// An exclusive advisory lock (flock) on a lock file, held until released or the process ends:
/// two downloads of the same file (ours or huggingface_hub's) never write it at once.
final class FileLock {
    private var fd: Int32

    /// Waits for the lock on `path`, creating the file and its folders if needed.
    init(path: String) throws {
        try FileSystem.makeFolders(FileSystem.folder(of: path))
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw FileSystem.error(path: path, operation: "create lock file", errno: errno) }
        while flock(fd, LOCK_EX) != 0 {
            guard errno == EINTR else { throw FileSystem.error(path: path, operation: "lock", errno: errno) }
        }
    }

    deinit { if fd >= 0 { _ = Glibc.close(fd) } }
}

/// A file that a download appends to, kept when the process dies so a later run can resume.
final class PartialFile {
    let path: String
    private var fd: Int32
    /// Bytes in the file.
    private(set) var size: Int

    /// Opens (creating if needed) `path` for appending; with `truncate`, empties it first.
    init(path: String, truncate: Bool) throws {
        self.path = path
        try FileSystem.makeFolders(FileSystem.folder(of: path))
        let flags = O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | (truncate ? O_TRUNC : 0)
        fd = open(path, flags, 0o644)
        guard fd >= 0 else { throw FileSystem.error(path: path, operation: "create", errno: errno) }
        var info = stat()
        fstat(fd, &info)
        size = Int(info.st_size)
    }

    deinit { if fd >= 0 { _ = Glibc.close(fd) } }

    /// Appends `bytes`.
    ///
    /// - Throws: `HubError.diskFull` when the disk is full, `HubError.fileSystem` otherwise.
    func append(_ bytes: UnsafeRawBufferPointer) throws {
        guard let base = bytes.baseAddress else { return }
        var done = 0
        while done < bytes.count {
            let n = write(fd, base + done, bytes.count - done)
            if n < 0 {
                if errno == EINTR { continue }
                throw FileSystem.error(path: path, operation: "write", errno: errno)
            }
            done += n
        }
        size += bytes.count
    }

    /// Closes the file, reporting a failed close (a full disk can show up only here on some
    /// file systems).
    func close() throws {
        guard fd >= 0 else { return }
        let result = Glibc.close(fd)
        fd = -1
        if result != 0 { throw FileSystem.error(path: path, operation: "close", errno: errno) }
    }

    /// Hashes the first `count` bytes of the file at `path` into `digest`.
    static func hashPrefix(of path: String, count: Int, into digest: Digest) throws {
        guard count > 0 else { return }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw FileSystem.error(path: path, operation: "open", errno: errno) }
        defer { _ = Glibc.close(fd) }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buffer.deallocate() }
        var remaining = count
        while remaining > 0 {
            let n = read(fd, buffer.baseAddress!, min(buffer.count, remaining))
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw HubError.fileSystem(path: path, operation: "read", reason: "file shorter than expected") }
            digest.update(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
            remaining -= n
        }
    }
}
