import Foundation

/// Locates the committed fixture files and the repository's shared data.
public enum Fixture {
    /// The package root, found from this source file's location.
    public static let packageRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// `Fixtures/<name>`.
    public static func url(_ name: String) -> URL { packageRoot.appendingPathComponent("Fixtures").appendingPathComponent(name) }

    /// The path of `Fixtures/<name>`.
    public static func path(_ name: String) -> String { url(name).path }

    /// The parsed JSON document `Fixtures/<name>`.
    public static func json(_ name: String) throws -> Any {
        try JSONSerialization.jsonObject(with: Data(contentsOf: url(name)))
    }

    /// The bytes of `Fixtures/<name>`.
    public static func bytes(_ name: String) throws -> [UInt8] { [UInt8](try Data(contentsOf: url(name))) }

    /// A fresh empty folder under the system's temporary folder, for test outputs.
    public static func temporaryFolder() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("modelfile-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}
