import Foundation
@testable import HubClient
import ModelFormats
import Testing
import TestSupport

@Suite("inspect hf:// reads only headers over Range requests")
struct RemoteInspectionTests {
    @Test("a small safetensors file: the same entries and metadata as the local file, in 2 requests (redirect + blob)")
    func smallFile() throws {
        let files = try sampleFiles()
        let hub = try FakeHub(files: files)
        let source = try RemoteInspection.open("hf://org/model/model.safetensors", configuration: configuration(hub, cache: try temporaryPath()))
        let local = try SafetensorsFile(path: Fixture.path("safetensors/mlp.safetensors"))
        #expect(source.path == "hf://org/model/model.safetensors")
        #expect(source.format == .safetensors)
        #expect(source.entries == local.entries)
        #expect(source.metadata == local.metadata)
        #expect(source.fileByteCount == local.fileByteCount)
        #expect(hub.hub.requests.count + hub.cdn.requests.count == 2)
        #expect(hub.cdn.requests.first?.headers["range"] == "bytes=0-99999")
    }

    @Test("a header longer than the first request: 3 requests, under 1 MB, never the weights")
    func longHeader() throws {
        let bytes = safetensorsBytes(count: 4000, bigElements: 1_000_000)
        let hub = try FakeHub(files: [FakeHub.File(path: "model.safetensors", bytes: bytes, isLFS: true)])
        let source = try RemoteInspection.open("hf://org/model/model.safetensors", configuration: configuration(hub, cache: try temporaryPath()))
        #expect(source.entries.count == 4001)
        #expect(source.fileByteCount == bytes.count)
        let requests = hub.hub.requests.count + hub.cdn.requests.count
        #expect(requests == 3)
        #expect(hub.hub.bytesSent + hub.cdn.bytesSent < 1_000_000)
        let headerEnd = 8 + Int(bytes[0]) + Int(bytes[1]) << 8 + Int(bytes[2]) << 16
        let ranges = hub.cdn.requests.compactMap { $0.headers["range"] }
        #expect(ranges == ["bytes=0-99999", "bytes=100000-\(headerEnd - 1)"])
    }

    @Test("a server that ignores Range: the transfer stops after the header, not the weights")
    func ignoredRange() throws {
        let bytes = safetensorsBytes(count: 10, bigElements: 2_000_000)
        let hub = try FakeHub(files: [FakeHub.File(path: "model.safetensors", bytes: bytes, isLFS: true)])
        hub.setFaults { $0.ignoreRange = true }
        let source = try RemoteInspection.open("hf://org/model/model.safetensors", configuration: configuration(hub, cache: try temporaryPath()))
        #expect(source.entries.count == 11)
        #expect(source.fileByteCount == bytes.count)
    }

    @Test("a sharded index: the index, then each shard's header, at most 3 requests per file")
    func shardedIndex() throws {
        let first = safetensorsBytes(count: 3, bigElements: 10)
        let secondRenamed = safetensorsBytes(count: 0, bigElements: 20, bigName: "tail")
        let index = """
            {"metadata": {"total_size": \(3 * 16 + 40 + 80)}, "weight_map": {"layer.0.weight": "model-00001-of-00002.safetensors",
            "layer.1.weight": "model-00001-of-00002.safetensors", "layer.2.weight": "model-00001-of-00002.safetensors",
            "big": "model-00001-of-00002.safetensors", "tail": "model-00002-of-00002.safetensors"}}
            """
        let hub = try FakeHub(files: [
            FakeHub.File(path: "model.safetensors.index.json", bytes: Array(index.utf8), isLFS: false),
            FakeHub.File(path: "model-00001-of-00002.safetensors", bytes: first, isLFS: true),
            FakeHub.File(path: "model-00002-of-00002.safetensors", bytes: secondRenamed, isLFS: true),
        ])
        let source = try RemoteInspection.open("hf://org/model@main/model.safetensors.index.json", configuration: configuration(hub, cache: try temporaryPath()))
        #expect(source.format == .safetensorsSharded)
        #expect(source.entries.map(\.name) == ["layer.0.weight", "layer.1.weight", "layer.2.weight", "big", "tail"])
        #expect(source.fileByteCount == first.count + secondRenamed.count)
        #expect((source as? ShardedModel)?.shardName(ofTensorAt: 4) == "model-00002-of-00002.safetensors")
        #expect(hub.hub.requests.count + hub.cdn.requests.count == 5)
    }

    @Test("not a safetensors file: one line saying what it is")
    func notSafetensors() throws {
        let hub = try FakeHub(files: [FakeHub.File(path: "model.bin", bytes: [0x50, 0x4B, 0x03, 0x04] + Array(repeating: 0, count: 60), isLFS: true)])
        let error = #expect(throws: HubError.self) {
            try RemoteInspection.open("hf://org/model/model.bin", configuration: configuration(hub, cache: try temporaryPath()))
        }
        #expect(error?.description.hasPrefix("hf://org/model/model.bin: remote inspect reads safetensors files and sharded indexes") == true)
    }

    @Test("hf:// paths: org/name, @revision, nested paths; bad ones refused")
    func remotePaths() throws {
        let plain = try RemotePath("hf://org/name/model.safetensors")
        #expect(plain.repository.text == "org/name" && plain.revision == "main" && plain.path == "model.safetensors")
        let revised = try RemotePath("hf://org/name@refs%2Fpr%2F3/sub/model.safetensors")
        #expect(revised.revision == "refs/pr/3" && revised.path == "sub/model.safetensors")
        #expect(revised.text == "hf://org/name@refs%2Fpr%2F3/sub/model.safetensors")
        let bare = try RemotePath("hf://gpt2@v1/model.safetensors")
        #expect(bare.repository.text == "gpt2" && bare.revision == "v1")
        for bad in ["hf://org", "hf://org/name/../x", "hf://-bad/name/x", "http://org/name/x"] {
            #expect(throws: HubError.self) { try RemotePath(bad) }
        }
    }

    @Test("HF_HUB_OFFLINE: remote inspect refuses without touching the network")
    func offline() throws {
        let hub = try FakeHub(files: try sampleFiles())
        #expect(throws: HubError.offline(what: "inspecting hf://org/model/model.safetensors")) {
            try RemoteInspection.open("hf://org/model/model.safetensors", configuration: configuration(hub, cache: try temporaryPath(), offline: true))
        }
        #expect(hub.hub.requests.isEmpty)
    }
}

@Suite("HTTP, patterns and cache rules")
struct HubRuleTests {
    @Test("redirect targets resolve like a browser's, and another scheme, host or port is another origin")
    func urlResolution() throws {
        let base = try #require(HTTPURL("https://hub.example/org/name/resolve/main/sub/model.safetensors?x=1"))
        #expect(base.resolving("https://cdn.example/blob")?.description == "https://cdn.example/blob")
        #expect(base.resolving("//cdn.example:8443/a")?.description == "https://cdn.example:8443/a")
        #expect(base.resolving("/api/x")?.description == "https://hub.example/api/x")
        #expect(base.resolving("other.bin")?.description == "https://hub.example/org/name/resolve/main/sub/other.bin")
        #expect(base.resolving("../../../../../lfs/abc")?.description == "https://hub.example/lfs/abc")
        #expect(base.resolving("?y=2")?.description == "https://hub.example/org/name/resolve/main/sub/model.safetensors?y=2")
        #expect(base.resolving("ftp://x/y") == nil)
        let origin = base.origin
        #expect(HTTPURL("https://hub.example:443/x")?.origin == origin)
        #expect(HTTPURL("http://hub.example/x")?.origin != origin)
        #expect(HTTPURL("https://hub.example:8443/x")?.origin != origin)
        #expect(HTTPURL("https://cdn.hub.example/x")?.origin != origin)
        #expect(HTTPURL("https://user@hub.example/") == nil)
    }

    @Test("a redirect to another scheme is refused with the location")
    func badRedirect() throws {
        let server = try LoopbackHTTPServer { _ in .init(status: 302, headers: [("Location", "file:///etc/passwd")]) }
        let client = try HTTPClient()
        #expect(throws: HTTPError.badRedirect(from: server.baseURL + "/x", location: "file:///etc/passwd")) {
            try client.fetch(try #require(HTTPURL(server.baseURL + "/x")))
        }
    }

    @Test("a server that says nothing: the request times out after the stall timeout")
    func stallTimeout() throws {
        let server = try LoopbackHTTPServer { _ in
            Thread.sleep(forTimeInterval: 4)
            return .init(status: 200)
        }
        let client = try HTTPClient(timeouts: HTTPTimeouts(connect: 2, stall: 1))
        let start = Date()
        let url = try #require(HTTPURL(server.baseURL + "/slow"))
        #expect(throws: HTTPError.timedOut(url: url.description, seconds: 1)) { try client.fetch(url) }
        #expect(Date().timeIntervalSince(start) < 3.5)
        #expect(HTTPError.timedOut(url: "u", seconds: 1).isRetryable)
    }

    @Test("allow_patterns semantics: fnmatch without escapes, * across /, [!…], folder patterns")
    func patternRules() {
        #expect(Repository.matches("a/b/c.json", patterns: ["*.json"]))
        #expect(Repository.matches("sub/x.txt", patterns: ["sub/"]))
        #expect(!Repository.matches("subway/x.txt", patterns: ["sub/"]))
        #expect(Repository.matches("sub/x.txt", patterns: ["sub\\"]))
        #expect(Repository.matches("model-00001.bin", patterns: ["model-0000[0-9].bin"]))
        #expect(!Repository.matches("model-00001.bin", patterns: ["model-0000[!1].bin"]))
        #expect(Repository.matches("a[b", patterns: ["a[b"]))
        #expect(Repository.matches("a?b", patterns: ["a?b"]) && Repository.matches("axb", patterns: ["a?b"]))
        #expect(!Repository.matches("README.md", patterns: ["*.json", "*.safetensors"]))
        #expect(Repository.matches("anything", patterns: []))
    }

    @Test("Retry-After in seconds or as an HTTP date")
    func retryAfter() {
        #expect(RetryPolicy.retryAfterSeconds("3") == 3)
        #expect(RetryPolicy.retryAfterSeconds("Sun, 06 Nov 1994 08:49:37 GMT") == 0)
        #expect(RetryPolicy.retryAfterSeconds("soon") == nil)
        let policy = RetryPolicy(retries: 5, initialDelay: 1, maximumDelay: 8)
        #expect((1...5).map { policy.delay(beforeRetry: $0, retryAfter: nil) } == [1, 2, 4, 8, 8])
        #expect(policy.delay(beforeRetry: 1, retryAfter: 600) == 60)
    }

    @Test("a full disk is named as such (ENOSPC)")
    func diskFull() throws {
        let file = try PartialFile(path: "/dev/full", truncate: false)
        #expect(throws: HubError.diskFull(path: "/dev/full")) {
            try [UInt8](repeating: 1, count: 4096).withUnsafeBytes { try file.append($0) }
        }
        #expect(HubError.diskFull(path: "/x").description == "disk full while writing /x (no space left on device)")
    }

    @Test("a cached org/name stands for model.safetensors, else the index, else the single weights file")
    func cachedModelPath() throws {
        let root = try temporaryPath()
        let commit = String(repeating: "b", count: 40)
        let snapshot = root + "/models--org--name/snapshots/" + commit
        try FileManager.default.createDirectory(atPath: snapshot, withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: root + "/models--org--name/refs/main", contents: nil)
        try FileManager.default.createDirectory(atPath: root + "/models--org--name/refs", withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: root + "/models--org--name/refs/main", contents: Data(commit.utf8))
        let cache = HubCache(root: root)
        FileManager.default.createFile(atPath: snapshot + "/pytorch_model.bin", contents: Data([1]))
        FileManager.default.createFile(atPath: snapshot + "/config.json", contents: Data([1]))
        #expect(cache.modelPath(for: "org/name") == snapshot + "/pytorch_model.bin")
        FileManager.default.createFile(atPath: snapshot + "/model.safetensors.index.json", contents: Data([1]))
        #expect(cache.modelPath(for: "org/name") == snapshot + "/model.safetensors.index.json")
        FileManager.default.createFile(atPath: snapshot + "/model.safetensors", contents: Data([1]))
        #expect(cache.modelPath(for: "org/name") == snapshot + "/model.safetensors")
        #expect(cache.modelPath(for: "org/other") == nil)
        #expect(cache.modelPath(for: "name") == nil)
    }

    @Test("the API document: sha, siblings, sizes and LFS ids; a missing list is named")
    func apiDocument() throws {
        let sha = String(repeating: "c", count: 40), lfs = String(repeating: "d", count: 64)
        let body = Array("""
            {"id":"org/m","sha":"\(sha)","siblings":[{"rfilename":"a.json","size":3,"blobId":"e69de29bb2d1d6434b8b29ae775ad8c2e48c5391"},
            {"rfilename":"w.safetensors","size":10,"blobId":"x","lfs":{"sha256":"\(lfs)","size":10,"pointerSize":134}}]}
            """.utf8)
        let info = try RepositoryInfo.parse(body, url: "u")
        #expect(info.commit == sha)
        #expect(info.files == [RepositoryFile(path: "a.json", size: 3, blobID: "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391"),
                               RepositoryFile(path: "w.safetensors", size: 10, blobID: lfs, isLFS: true)])
        #expect(throws: HubError.badAPIResponse(url: "u", reason: "no \"siblings\" list of files")) {
            try RepositoryInfo.parse(Array("{\"sha\":\"\(sha)\"}".utf8), url: "u")
        }
        // The project's JSON reader names the byte and what it expected there.
        #expect(throws: HubError.badAPIResponse(url: "u", reason: "not JSON (at byte 1: unexpected ','; expected a string key or '}')")) {
            try RepositoryInfo.parse(Array("{,}".utf8), url: "u")
        }
        // It is strict where the hub's JSON never differs: a key given twice is refused.
        #expect(throws: HubError.badAPIResponse(url: "u", reason: "not JSON (at byte 11: key \"sha\" appears twice in one object)")) {
            try RepositoryInfo.parse(Array("{\"sha\":\"a\",\"sha\":\"b\"}".utf8), url: "u")
        }
    }
}
