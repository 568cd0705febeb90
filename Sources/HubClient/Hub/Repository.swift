import ExactText
import JSONReader

// Repository ids, file lists from the API, and the patterns that choose files
// (docs/cli.md, "download").

/// A model repository id: `org/name`, or a bare `name`.
public struct RepositoryID: Sendable, Hashable, CustomStringConvertible {
    /// The id as written.
    public let text: String

    /// Checks `text` as huggingface_hub's `validate_repo_id` does: one or two parts of letters,
    /// digits, `-`, `_`, `.`; at most 96 characters; no `--` or `..`; no part starting or ending
    /// with `-` or `.`.
    ///
    /// - Throws: `HubError.invalidRepositoryID`.
    public init(_ text: String) throws {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        let valid = (1...2).contains(parts.count) && text.utf8.count <= 96 && !text.contains("--") && !text.contains("..")
            && parts.allSatisfy { part in
                guard let first = part.first, let last = part.last else { return false }
                return part.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == ".") }
                    && first != "-" && first != "." && last != "-" && last != "."
            }
        guard valid else { throw HubError.invalidRepositoryID(text) }
        self.text = text
    }

    public var description: String { text }

    /// The cache folder name: `models--org--name`.
    public var cacheFolderName: String { "models--" + text.replacingSlashes(with: "--") }
}

/// One file of a repository, as the API lists it.
public struct RepositoryFile: Sendable, Equatable {
    /// Its path in the repository (`/`-separated).
    public let path: String
    /// Its size in bytes, when the API gives it.
    public let size: Int?
    /// Its blob id when known in advance: the LFS SHA-256, else the git blob id.
    public let blobID: String?
    /// Whether the API says it is stored with LFS (then `blobID` is its SHA-256).
    public let isLFS: Bool

    /// A file entry.
    public init(path: String, size: Int? = nil, blobID: String? = nil, isLFS: Bool = false) {
        self.path = path
        self.size = size
        self.blobID = blobID
        self.isLFS = isLFS
    }
}

/// What `GET {endpoint}/api/models/{repo}/revision/{rev}` says about a repository.
public struct RepositoryInfo: Sendable, Equatable {
    /// The commit the revision points to (`sha`), when given.
    public let commit: String?
    /// Every file (`siblings`), in the API's order.
    public let files: [RepositoryFile]

    /// A repository description.
    public init(commit: String?, files: [RepositoryFile]) {
        self.commit = commit
        self.files = files
    }

    /// Reads the API's JSON: `sha` and `siblings[].rfilename`, plus `size`, `blobId` and
    /// `lfs.sha256` when the endpoint sends them (`?blobs=true`).
    ///
    /// - Throws: `HubError.badAPIResponse` naming what is missing, `HubError.unsafeFileName`.
    public static func parse(_ bytes: [UInt8], url: String) throws -> RepositoryInfo {
        // The project's strict JSON reader (RFC 8259; duplicate keys refused), as for every JSON
        // modelfile reads.
        let document: JSONNode
        do {
            document = try JSONNode.parse(bytes)
        } catch {
            throw HubError.badAPIResponse(url: url, reason: "not JSON (\(error))")
        }
        guard document.objectValue != nil else { throw HubError.badAPIResponse(url: url, reason: "not a JSON object") }
        /// A non-negative integer that fits `Int`.
        func count(_ node: JSONNode?) -> Int? {
            guard let number = node?.numberValue, number.isIntegerLiteral, let value = number.unsigned else { return nil }
            return Int(exactly: value)
        }
        var commit: String?
        if let sha = document["sha"]?.stringValue {
            guard Repository.isCommitHash(sha) else { throw HubError.badAPIResponse(url: url, reason: "\"sha\" is not a commit hash") }
            commit = sha
        }
        guard let siblings = document["siblings"]?.arrayValue else {
            throw HubError.badAPIResponse(url: url, reason: "no \"siblings\" list of files")
        }
        var files: [RepositoryFile] = []
        var seen = Set<ExactString>()  // paths compare by their bytes: two spellings are two files
        for sibling in siblings {
            guard let path = sibling["rfilename"]?.stringValue else {
                throw HubError.badAPIResponse(url: url, reason: "a sibling without \"rfilename\"")
            }
            guard Repository.isSafeRelativePath(path) else { throw HubError.unsafeFileName(path) }
            guard seen.insert(ExactString(path)).inserted else { continue }
            let lfs = sibling["lfs"]
            let lfsHash = lfs?["sha256"]?.stringValue.flatMap { Digest.isSHA256($0) ? $0.lowercased() : nil }
            let blobID = lfsHash ?? sibling["blobId"]?.stringValue.flatMap { Repository.isBlobName($0) ? $0 : nil }
            files.append(RepositoryFile(path: path, size: count(lfs?["size"]) ?? count(sibling["size"]), blobID: blobID, isLFS: lfsHash != nil))
        }
        return RepositoryInfo(commit: commit, files: files)
    }
}

/// Rules shared by the download and the cache.
public enum Repository {
    /// A full commit hash: 40 lower-case hex digits.
    public static func isCommitHash(_ text: String) -> Bool {
        text.utf8.count == 40 && text.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }
    }

    /// A name usable as a blob file name: ASCII letters, digits, `-`, `_`, at most 128 characters.
    static func isBlobName(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.count <= 128 && text.utf8.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A) || byte == 0x2D || byte == 0x5F
        }
    }

    /// A repository path that stays inside its folder: not empty, not absolute, no `\`, no empty,
    /// `.` or `..` segment, no NUL; at most 4096 bytes.
    public static func isSafeRelativePath(_ path: String) -> Bool {
        guard !path.isEmpty, path.utf8.count <= 4096, !path.hasPrefix("/"), !path.contains("\\"), !path.contains("\0") else { return false }
        return path.split(separator: "/", omittingEmptySubsequences: false).allSatisfy { $0 != "" && $0 != "." && $0 != ".." }
    }

    /// A revision usable as a `refs/` file path: a safe relative path (`main`, `v1.0`, `refs/pr/1`).
    static func isSafeRevision(_ revision: String) -> Bool { isSafeRelativePath(revision) && revision.utf8.count <= 255 }

    /// Whether `path` is chosen by `patterns`, as huggingface_hub's `allow_patterns` choose: no
    /// patterns takes everything; `\` counts as `/`; a pattern ending in `/` takes that folder;
    /// otherwise Python's `fnmatch.fnmatchcase`, where `*` also crosses `/`.
    public static func matches(_ path: String, patterns: [String]) -> Bool {
        guard !patterns.isEmpty else { return true }
        let name = path.replacingBackslashes()
        return patterns.contains { pattern in
            var normalized = pattern.replacingBackslashes()
            if normalized.hasSuffix("/") { normalized += "*" }
            return ScalarGlob(normalized, syntax: .pythonFnmatch).matches(name)
        }
    }
}

extension String {
    func replacingSlashes(with replacement: String) -> String {
        split(separator: "/", omittingEmptySubsequences: false).joined(separator: replacement)
    }

    func replacingBackslashes() -> String {
        String(unicodeScalars.map { $0 == "\\" ? "/" : Character($0) })
    }
}
