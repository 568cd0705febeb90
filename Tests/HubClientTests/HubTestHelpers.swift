import Foundation
@testable import HubClient
import TestSupport

/// A repository of small files for the fake hub: two plain files (one in a folder), a real
/// safetensors file and a 300 kB binary, both stored with LFS.
func sampleFiles() throws -> [FakeHub.File] {
    var random = SystemRandomNumberGenerator()
    var big = [UInt8](repeating: 0, count: 300_000)
    for index in big.indices { big[index] = UInt8.random(in: 0...255, using: &random) }
    return [
        FakeHub.File(path: "config.json", bytes: Array("{\"hidden_size\": 8}\n".utf8), isLFS: false),
        FakeHub.File(path: "model.safetensors", bytes: try Fixture.bytes("safetensors/mlp.safetensors"), isLFS: true),
        FakeHub.File(path: "sub/notes.txt", bytes: Array("notes\n".utf8), isLFS: false),
        FakeHub.File(path: "weights/big.bin", bytes: big, isLFS: true),
    ]
}

/// A configuration for `hub` with a fresh cache and quick retries.
func configuration(_ hub: FakeHub, cache: String, token: String? = nil, offline: Bool = false, retries: Int = 3) throws -> HubConfiguration {
    try HubConfiguration(endpoint: hub.endpoint, token: token, cacheFolder: cache, isOffline: offline,
                         timeouts: HTTPTimeouts(connect: 5, stall: 5),
                         retry: RetryPolicy(retries: retries, initialDelay: 0.05, maximumDelay: 0.2))
}

/// A fresh temporary folder path.
func temporaryPath() throws -> String { try Fixture.temporaryFolder().path }

/// The bytes of the file at `path` (links followed).
func contents(_ path: String) -> [UInt8]? { FileManager.default.contents(atPath: path).map { [UInt8]($0) } }

/// The target of the link at `path`.
func linkTarget(_ path: String) -> String? { try? FileManager.default.destinationOfSymbolicLink(atPath: path) }

/// Whether anything exists at `path` (a link is not followed).
func exists(_ path: String) -> Bool {
    var info = stat()
    return lstat(path, &info) == 0
}

/// Every name under `folder`, recursively, sorted.
func tree(_ folder: String) -> [String] {
    (FileManager.default.enumerator(atPath: folder)?.allObjects as? [String] ?? []).sorted()
}

/// A safetensors file with `count` small F32 tensors and one `bigElements`-element F32 tensor:
/// with many tensors its header is longer than the first request's 100,000 bytes.
func safetensorsBytes(count: Int, bigElements: Int, bigName: String = "big") -> [UInt8] {
    var entries: [String] = []
    var offset = 0
    for index in 0..<count {
        entries.append("\"layer.\(index).weight\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[\(offset),\(offset + 16)]}")
        offset += 16
    }
    entries.append("\"\(bigName)\":{\"dtype\":\"F32\",\"shape\":[\(bigElements)],\"data_offsets\":[\(offset),\(offset + bigElements * 4)]}")
    offset += bigElements * 4
    var header = Array(("{\"__metadata__\":{\"format\":\"pt\"}," + entries.joined(separator: ",") + "}").utf8)
    while header.count % 8 != 0 { header.append(0x20) }
    var bytes: [UInt8] = []
    withUnsafeBytes(of: UInt64(header.count).littleEndian) { bytes.append(contentsOf: $0) }
    bytes += header
    bytes += [UInt8](repeating: 0x3F, count: offset)
    return bytes
}
