#if canImport(Glibc)
import Glibc
#endif
import Synchronization

// The input is never the output (docs/security.md, "Writing"). Every file a command reads is
// claimed while it is in use: ``MappedFile`` claims what it maps, and workflows claim the paths
// they were given for as long as they run. ``OutputFile`` — which every writer uses — refuses a
// destination that is the same file as a claimed input (same device and inode, so a hard link or a
// symbolic link to it is caught too), and ``OutputTarget/checkFolder(_:)`` refuses to write into a
// folder that holds one. Both refusals come before anything is created, `--force` or not.

/// A file's identity: its device and inode, as `stat(2)` reports them.
public struct FileIdentity: Hashable, Sendable {
    /// `st_dev`.
    public let device: UInt64
    /// `st_ino`.
    public let inode: UInt64

    /// The identity in `status`.
    public init(_ status: stat) {
        device = UInt64(truncatingIfNeeded: status.st_dev)
        inode = UInt64(truncatingIfNeeded: status.st_ino)
    }

    /// The identity of what `path` names (following symbolic links), or `nil` when nothing is there.
    public init?(path: String) {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        self.init(info)
    }
}

/// Marks a file as an input of the running work for as long as the claim lives.
public final class InputClaim: Sendable {
    /// The path the input was named by (for messages).
    public let path: String
    /// The file itself.
    public let identity: FileIdentity
    /// The folders that hold it: the folder its path names and, when that path is a symbolic
    /// link, the folder of the file the link leads to.
    public let folders: [FileIdentity]
    private let slot: Int

    /// Claims the file `status` describes, found at `path`.
    public init(path: String, status: stat) {
        self.path = path
        identity = FileIdentity(status)
        var folders: [FileIdentity] = []
        if let folder = FileIdentity(path: OutputTarget.folder(of: path)) { folders.append(folder) }
        if let resolved = realpath(path, nil) {
            if let folder = FileIdentity(path: OutputTarget.folder(of: String(cString: resolved))), !folders.contains(folder) {
                folders.append(folder)
            }
            free(resolved)
        }
        self.folders = folders
        slot = OpenInputs.register(path: path, identity: identity, folders: folders)
    }

    /// Claims whatever `path` names (a file or a folder), or returns `nil` when nothing is there.
    public convenience init?(path: String) {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        self.init(path: path, status: info)
    }

    deinit { OpenInputs.unregister(slot) }
}

/// The inputs claimed in this process.
public enum OpenInputs {
    private struct Entry {
        let path: String
        let identity: FileIdentity
        let folders: [FileIdentity]
    }

    private static let table = Mutex<(next: Int, entries: [Int: Entry])>((0, [:]))

    static func register(path: String, identity: FileIdentity, folders: [FileIdentity]) -> Int {
        table.withLock { state in
            let slot = state.next
            state.next += 1
            state.entries[slot] = Entry(path: path, identity: identity, folders: folders)
            return slot
        }
    }

    static func unregister(_ slot: Int) {
        _ = table.withLock { $0.entries.removeValue(forKey: slot) }
    }

    /// The path of a claimed input that is the file `identity` names, if any (the earliest claimed).
    public static func input(sameAs identity: FileIdentity) -> String? {
        table.withLock { state in state.entries.sorted { $0.key < $1.key }.first { $0.value.identity == identity }?.value.path }
    }

    /// The path of a claimed input that is the folder `identity` names or lies directly in it, if
    /// any (the earliest claimed).
    public static func input(inOrAt identity: FileIdentity) -> String? {
        table.withLock { state in
            state.entries.sorted { $0.key < $1.key }.first { $0.value.identity == identity || $0.value.folders.contains(identity) }?.value.path
        }
    }
}

/// Checks on where a writer may write.
public enum OutputTarget {
    /// Refuses `path` when it names a claimed input (the same file, or a link to it).
    ///
    /// - Throws: `FileError` naming the input.
    public static func check(_ path: String) throws(FileError) {
        guard let identity = FileIdentity(path: path), let input = OpenInputs.input(sameAs: identity) else { return }
        throw FileError(path: path, operation: "write", message: sameFileMessage(output: path, input: input))
    }

    /// Refuses to write into `folder` when it is a claimed input or holds one (a shard of the
    /// input, the input file itself).
    ///
    /// - Throws: `FileError` naming the input.
    public static func checkFolder(_ folder: String) throws(FileError) {
        guard let identity = FileIdentity(path: folder), let input = OpenInputs.input(inOrAt: identity) else { return }
        throw FileError(path: folder, operation: "write", message: input == folder
            ? "is an input of this command; the input is never the output (choose another folder)"
            : "holds the input \(input); the input is never the output (choose another folder)")
    }

    static func sameFileMessage(output: String, input: String) -> String {
        input == output
            ? "is an input of this command; the input is never the output, even with --force (choose another path)"
            : "is the same file as the input \(input); the input is never the output, even with --force (choose another path)"
    }

    /// The folder part of `path` (`.` when there is none).
    public static func folder(of path: String) -> String {
        var trimmed = Substring(path)
        while trimmed.count > 1, trimmed.hasSuffix("/") { trimmed.removeLast() }
        guard let slash = trimmed.lastIndex(of: "/") else { return "." }
        let folder = trimmed[..<slash]
        return folder.isEmpty ? "/" : String(folder)
    }
}
