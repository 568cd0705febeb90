import BinaryIO

#if canImport(Glibc)
import Glibc
#endif

// A model folder's files must be the folder's own: a shard or weights file that is a symbolic link
// to a place outside the folder is refused, so a folder cannot pull in a file its owner never
// looked at (docs/security.md, "Folders"). The one exception is the Hugging Face hub cache, whose
// snapshot files are links into the same repository's `blobs/` folder:
// `models--org--name/snapshots/<revision>/config.json` → `../../blobs/<hash>`.

/// Where the files of one folder may resolve to: the folder itself, and for a hub-cache snapshot
/// the `blobs/` folder of the same repository.
public struct FolderContainment: Sendable {
    /// The folder as given.
    public let folder: String
    /// Resolved paths (no symbolic links) under which the folder's files may lie.
    public let allowedRoots: [String]

    /// The rules for `folder`.
    ///
    /// - Throws: `FileError` when the folder cannot be resolved (missing, a link loop).
    public init(folder: String) throws {
        self.folder = folder
        let resolved = try FolderContainment.resolve(folder)
        var roots = [resolved]
        if let blobs = FolderContainment.hubBlobsFolder(of: resolved) { roots.append(blobs) }
        allowedRoots = roots
    }

    /// The path `path` resolves to, after checking that it lies inside the folder (or the hub
    /// cache's blobs of the same repository).
    ///
    /// - Throws: `FileError` when it cannot be resolved (missing, dangling link, link loop),
    ///   ``FolderEscapeError`` when it lies outside.
    @discardableResult
    public func check(_ path: String) throws -> String {
        let resolved = try FolderContainment.resolve(path)
        for root in allowedRoots where FolderContainment.isInside(resolved, root) { return resolved }
        throw FolderEscapeError(file: path, target: resolved, folder: folder)
    }

    /// `path` with every symbolic link resolved (`realpath`).
    ///
    /// - Throws: `FileError` naming the path and the system's reason.
    public static func resolve(_ path: String) throws -> String {
        guard let pointer = realpath(path, nil) else { throw FileError(path: path, operation: "resolve", errno: errno) }
        defer { free(pointer) }
        return String(cString: pointer)
    }

    /// Whether the resolved path `path` is `root` or lies below it.
    static func isInside(_ path: String, _ root: String) -> Bool {
        if path == root { return true }
        let prefix = root.hasSuffix("/") ? root : root + "/"
        return path.utf8.starts(with: prefix.utf8)
    }

    /// For a resolved folder at or below `…/models--org--name/snapshots/<revision>`, the path
    /// `…/models--org--name/blobs`; otherwise `nil`.
    static func hubBlobsFolder(of resolved: String) -> String? {
        let components = resolved.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard components.count >= 3 else { return nil }
        for index in stride(from: components.count - 2, through: 1, by: -1) where components[index] == "snapshots" {
            let repository = components[index - 1]
            guard ["models--", "datasets--", "spaces--"].contains(where: { repository.hasPrefix($0) }) else { continue }
            return (components[..<index] + ["blobs"]).joined(separator: "/")
        }
        return nil
    }
}

/// A file of a folder that is a link to somewhere outside the folder; refused.
public struct FolderEscapeError: Error, Equatable, CustomStringConvertible {
    /// The file as the folder names it.
    public let file: String
    /// Where it leads.
    public let target: String
    /// The folder it should lie in.
    public let folder: String

    public var description: String {
        "\(file) is a link to \(target), outside the folder \(folder); refused (only a hub cache's links into its own blobs/ are followed)"
    }
}
