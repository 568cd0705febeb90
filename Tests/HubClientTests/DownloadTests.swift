import Foundation
@testable import HubClient
import Testing
import TestSupport

@Suite("download into the huggingface_hub cache, against a local hub")
struct DownloadTests {
    @Test("every file lands in the cache layout: blobs by etag, relative snapshot links, refs/main holding exactly the commit")
    func cacheLayout() throws {
        let files = try sampleFiles()
        let hub = try FakeHub(files: files)
        let cache = try temporaryPath()
        let result = try HubSession(configuration: configuration(hub, cache: cache)).download(DownloadPlan(repository: RepositoryID("org/model")))
        let repo = cache + "/models--org--model"
        #expect(result.commit == hub.commit)
        #expect(result.folder == repo + "/snapshots/" + hub.commit)
        #expect(contents(repo + "/refs/main") == Array(hub.commit.utf8))
        for file in files {
            let blob = file.isLFS ? file.sha256 : file.gitBlobID
            #expect(contents(repo + "/blobs/" + blob) == file.bytes)
            let depth = file.path.split(separator: "/").count
            #expect(linkTarget(result.folder + "/" + file.path) == String(repeating: "../", count: depth + 1) + "blobs/" + blob)
            #expect(contents(result.folder + "/" + file.path) == file.bytes)
        }
        // The redirect's own ETag never names a blob.
        #expect(!tree(repo).contains { $0.contains("redirect-etag") })
        #expect(result.files.map(\.status) == [.downloaded, .downloaded, .downloaded, .downloaded])
        #expect(result.transferredBytes == files.reduce(0) { $0 + $1.bytes.count })
        #expect(!tree(repo).contains { $0.hasSuffix(".incomplete") })
    }

    @Test("a second run fetches nothing: only the API is asked")
    func completeFilesNotFetchedAgain() throws {
        let hub = try FakeHub(files: try sampleFiles())
        let cache = try temporaryPath()
        let session = HubSession(configuration: try configuration(hub, cache: cache))
        _ = try session.download(DownloadPlan(repository: RepositoryID("org/model")))
        hub.hub.resetCounts()
        hub.cdn.resetCounts()
        let again = try session.download(DownloadPlan(repository: RepositoryID("org/model")))
        #expect(hub.hub.requests.map(\.path) == ["/api/models/org/model/revision/main"])
        #expect(hub.cdn.requests.isEmpty)
        #expect(again.files.allSatisfy { $0.status == .cached })
        #expect(again.transferredBytes == 0)
    }

    @Test("a blob already in the cache is linked, not fetched, when the API names it")
    func existingBlobLinked() throws {
        let files = try sampleFiles()
        let hub = try FakeHub(files: files)
        let cache = try temporaryPath()
        let session = HubSession(configuration: try configuration(hub, cache: cache))
        _ = try session.download(DownloadPlan(repository: RepositoryID("org/model")))
        let snapshot = cache + "/models--org--model/snapshots/" + hub.commit
        try FileManager.default.removeItem(atPath: snapshot + "/model.safetensors")
        hub.cdn.resetCounts()
        let again = try session.download(DownloadPlan(repository: RepositoryID("org/model")))
        #expect(hub.cdn.requests.isEmpty)
        #expect(contents(snapshot + "/model.safetensors") == files[1].bytes)
        #expect(again.files[1].status == .cached)
    }

    @Test("patterns choose files as allow_patterns: * crosses /, a trailing / takes the folder")
    func patterns() throws {
        let hub = try FakeHub(files: try sampleFiles())
        let session = HubSession(configuration: try configuration(hub, cache: try temporaryPath()))
        var plan = DownloadPlan(repository: try RepositoryID("org/model"))
        plan.patterns = ["*.txt"]
        #expect(try session.download(plan).files.map(\.path) == ["sub/notes.txt"])
        plan.patterns = ["weights/", "*.json"]
        #expect(try session.download(plan).files.map(\.path) == ["config.json", "weights/big.bin"])
    }

    @Test("the token goes to the endpoint and never to the host a redirect leads to")
    func tokenNotForwarded() throws {
        let hub = try FakeHub(files: try sampleFiles())
        hub.setFaults { $0.token = "secret" }
        let cache = try temporaryPath()
        _ = try HubSession(configuration: configuration(hub, cache: cache, token: "secret")).download(DownloadPlan(repository: RepositoryID("org/model")))
        #expect(!hub.hub.requests.isEmpty && hub.hub.requests.allSatisfy { $0.headers["authorization"] == "Bearer secret" })
        #expect(hub.cdn.requests.count == 2)
        #expect(hub.cdn.requests.allSatisfy { $0.headers["authorization"] == nil })
    }

    @Test("401 without a token: needs a token; with a refused token: the token was refused")
    func needsToken() throws {
        let hub = try FakeHub(files: try sampleFiles())
        hub.setFaults { $0.token = "secret" }
        let plan = DownloadPlan(repository: try RepositoryID("org/model"))
        let error = #expect(throws: HubError.self) {
            try HubSession(configuration: configuration(hub, cache: try temporaryPath())).download(plan)
        }
        #expect(error == .needsToken(repository: "org/model", status: 401))
        #expect(error?.description == "org/model is gated or private: it needs a token (HTTP 401); pass --token or set HF_TOKEN")
        let refused = #expect(throws: HubError.self) {
            try HubSession(configuration: configuration(hub, cache: try temporaryPath(), token: "wrong")).download(plan)
        }
        #expect(refused == .tokenRefused(repository: "org/model", status: 401))
        hub.setFaults { $0.token = nil; $0.gated = true }
        let gated = #expect(throws: HubError.self) {
            try HubSession(configuration: configuration(hub, cache: try temporaryPath())).download(plan)
        }
        #expect(gated == .needsToken(repository: "org/model", status: 403))
    }

    @Test("a connection dropped mid-file is resumed with a Range request")
    func droppedConnectionResumes() throws {
        let files = try sampleFiles()
        let hub = try FakeHub(files: files)
        hub.setFaults { $0.dropAfter["weights/big.bin"] = 100_000 }
        let cache = try temporaryPath()
        var plan = DownloadPlan(repository: try RepositoryID("org/model"))
        plan.patterns = ["weights/big.bin"]
        let result = try HubSession(configuration: configuration(hub, cache: cache)).download(plan)
        #expect(contents(result.folder + "/weights/big.bin") == files[3].bytes)
        let ranges = hub.cdn.requests.map { $0.headers["range"] }
        #expect(ranges == [nil, "bytes=100000-"])
        #expect(result.transferredBytes == 300_000)
    }

    @Test("a partial file left by a killed run is resumed from blobs/{etag}.incomplete")
    func resumesIncompleteFile() throws {
        let files = try sampleFiles()
        let hub = try FakeHub(files: files)
        let cache = try temporaryPath()
        let blobs = cache + "/models--org--model/blobs"
        try FileManager.default.createDirectory(atPath: blobs, withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: blobs + "/" + files[3].sha256 + ".incomplete", contents: Data(files[3].bytes.prefix(1234)))
        var plan = DownloadPlan(repository: try RepositoryID("org/model"))
        plan.patterns = ["weights/"]
        let result = try HubSession(configuration: configuration(hub, cache: cache)).download(plan)
        #expect(hub.cdn.requests.map { $0.headers["range"] } == ["bytes=1234-"])
        #expect(contents(result.folder + "/weights/big.bin") == files[3].bytes)
        #expect(result.transferredBytes == 300_000 - 1234)
        #expect(!exists(blobs + "/" + files[3].sha256 + ".incomplete"))
    }

    @Test("a server that ignores Range sends the whole file again, and it is still right")
    func ignoredRangeRestarts() throws {
        let files = try sampleFiles()
        let hub = try FakeHub(files: files)
        hub.setFaults { $0.ignoreRange = true; $0.dropAfter["weights/big.bin"] = 50_000 }
        var plan = DownloadPlan(repository: try RepositoryID("org/model"))
        plan.patterns = ["weights/"]
        let result = try HubSession(configuration: configuration(hub, cache: try temporaryPath())).download(plan)
        #expect(contents(result.folder + "/weights/big.bin") == files[3].bytes)
    }

    @Test("an LFS blob whose bytes do not match its sha256 is an error and nothing is kept")
    func checksumMismatch() throws {
        let files = try sampleFiles()
        let hub = try FakeHub(files: files)
        hub.setFaults { $0.corrupt = ["weights/big.bin"] }
        let cache = try temporaryPath()
        var plan = DownloadPlan(repository: try RepositoryID("org/model"))
        plan.patterns = ["weights/"]
        let error = #expect(throws: HubError.self) { try HubSession(configuration: configuration(hub, cache: cache)).download(plan) }
        guard case .checksumMismatch(let path, let expected, _) = error else {
            Issue.record("expected a checksum mismatch, got \(String(describing: error))")
            return
        }
        #expect(path == "weights/big.bin" && expected == files[3].sha256)
        #expect(error?.description.hasSuffix("; nothing was kept") == true)
        let repo = cache + "/models--org--model"
        #expect(!tree(repo).contains { $0.contains(files[3].sha256) })
        #expect(!exists(repo + "/snapshots/" + hub.commit + "/weights/big.bin"))
    }

    @Test("429 with Retry-After on the API is waited out, then the download goes on")
    func retryAfter429() throws {
        let hub = try FakeHub(files: try sampleFiles())
        hub.setFaults { $0.statusesBefore["api"] = [(429, "1")] }
        let start = Date()
        let result = try HubSession(configuration: configuration(hub, cache: try temporaryPath())).download(DownloadPlan(repository: RepositoryID("org/model")))
        #expect(Date().timeIntervalSince(start) >= 1)
        #expect(result.files.count == 4)
        #expect(hub.hub.requests.filter { $0.path.hasPrefix("/api/") }.count == 2)
    }

    @Test("5xx on a file, then success: retried with backoff")
    func serverErrorRetried() throws {
        let files = try sampleFiles()
        let hub = try FakeHub(files: files)
        hub.setFaults { $0.statusesBefore["config.json"] = [(500, nil), (503, "0")] }
        let result = try HubSession(configuration: configuration(hub, cache: try temporaryPath())).download(DownloadPlan(repository: RepositoryID("org/model")))
        #expect(contents(result.folder + "/config.json") == files[0].bytes)
        #expect(hub.hub.requests.filter { $0.path.hasSuffix("/config.json") }.count == 3)
    }

    @Test("5xx that never stops: an error naming the status after the retries")
    func serverErrorGivesUp() throws {
        let hub = try FakeHub(files: try sampleFiles())
        hub.setFaults { $0.statusesBefore["api"] = Array(repeating: (502, "0"), count: 10) }
        let error = #expect(throws: HubError.self) {
            try HubSession(configuration: configuration(hub, cache: try temporaryPath(), retries: 2)).download(DownloadPlan(repository: RepositoryID("org/model")))
        }
        #expect(error == .badStatus(url: hub.endpoint + "/api/models/org/model/revision/main?blobs=true", status: 502))
        #expect(hub.hub.requests.count == 3)
    }

    @Test("a mirror without X-Repo-Commit, ETag, Content-Length or sizes still works: commit from sha, blob ids from the content")
    func mirrorWithoutHeaders() throws {
        let files = try sampleFiles()
        let hub = try FakeHub(files: files)
        hub.setFaults { $0.mirror = true }
        let cache = try temporaryPath()
        let result = try HubSession(configuration: configuration(hub, cache: cache)).download(DownloadPlan(repository: RepositoryID("org/model")))
        let repo = cache + "/models--org--model"
        #expect(contents(repo + "/refs/main") == Array(hub.commit.utf8))
        for file in files {
            #expect(contents(repo + "/blobs/" + file.sha256) == file.bytes)
            #expect(contents(result.folder + "/" + file.path) == file.bytes)
        }
        #expect(hub.cdn.requests.isEmpty)
    }

    @Test("relative redirects are followed against the URL that sent them")
    func relativeRedirect() throws {
        let files = try sampleFiles()
        let hub = try FakeHub(files: files)
        hub.setFaults { $0.relativeRedirect = true }
        let result = try HubSession(configuration: configuration(hub, cache: try temporaryPath())).download(DownloadPlan(repository: RepositoryID("org/model")))
        #expect(contents(result.folder + "/weights/big.bin") == files[3].bytes)
        #expect(hub.hub.requests.filter { $0.path.hasPrefix("/lfs/") }.count == 2)
        #expect(hub.cdn.requests.isEmpty)
    }

    @Test("HF_HUB_OFFLINE: a cached repository succeeds without a request; an uncached one is an error")
    func offline() throws {
        let hub = try FakeHub(files: try sampleFiles())
        let cache = try temporaryPath()
        _ = try HubSession(configuration: configuration(hub, cache: cache)).download(DownloadPlan(repository: RepositoryID("org/model")))
        hub.hub.resetCounts()
        let result = try HubSession(configuration: configuration(hub, cache: cache, offline: true)).download(DownloadPlan(repository: RepositoryID("org/model")))
        #expect(result.isOffline && result.files.count == 4 && result.commit == hub.commit)
        #expect(hub.hub.requests.isEmpty)
        let error = #expect(throws: HubError.self) {
            try HubSession(configuration: configuration(hub, cache: try temporaryPath(), offline: true)).download(DownloadPlan(repository: RepositoryID("org/model")))
        }
        #expect(error == .offlineNotCached(repository: "org/model", revision: "main"))
        #expect(hub.hub.requests.isEmpty)
    }

    @Test("--dry-run lists files and sizes and writes nothing")
    func dryRun() throws {
        let files = try sampleFiles()
        let hub = try FakeHub(files: files)
        let cache = try temporaryPath() + "/cache"
        var plan = DownloadPlan(repository: try RepositoryID("org/model"))
        plan.dryRun = true
        let result = try HubSession(configuration: configuration(hub, cache: cache)).download(plan)
        #expect(result.files.map(\.byteCount) == files.map { $0.bytes.count })
        #expect(result.files.allSatisfy { $0.status == .planned })
        #expect(!exists(cache))
        #expect(hub.cdn.requests.isEmpty)
    }

    @Test("--dry-run through a mirror without sizes asks for the headers only")
    func dryRunMirror() throws {
        let files = try sampleFiles()
        let hub = try FakeHub(files: files)
        hub.setFaults { $0.mirror = true }
        var plan = DownloadPlan(repository: try RepositoryID("org/model"))
        plan.dryRun = true
        _ = try HubSession(configuration: configuration(hub, cache: try temporaryPath())).download(plan)
        #expect(hub.hub.requests.filter { $0.method == "GET" }.map(\.path) == ["/api/models/org/model/revision/main"])
    }

    @Test("not found: the repository (404) and a file (404) are named")
    func notFound() throws {
        let hub = try FakeHub(files: try sampleFiles())
        hub.setFaults { $0.missing = ["api"] }
        let plan = DownloadPlan(repository: try RepositoryID("org/model"))
        let error = #expect(throws: HubError.self) { try HubSession(configuration: configuration(hub, cache: try temporaryPath())).download(plan) }
        #expect(error == .repositoryNotFound(repository: "org/model", revision: "main", endpoint: hub.endpoint))
        #expect(error?.description == "repository org/model (revision main) not found on \(hub.endpoint) (404)")
        hub.setFaults { $0.missing = ["config.json"] }
        let fileError = #expect(throws: HubError.self) { try HubSession(configuration: configuration(hub, cache: try temporaryPath())).download(plan) }
        #expect(fileError == .fileNotFound(repository: "org/model", revision: hub.commit, path: "config.json"))
    }

    @Test("an endpoint nobody listens on: endpoint unreachable, after the retries")
    func unreachable() throws {
        let hub = try FakeHub(files: [])
        hub.hub.stop()
        let error = #expect(throws: HubError.self) {
            try HubSession(configuration: configuration(hub, cache: try temporaryPath(), retries: 1)).download(DownloadPlan(repository: RepositoryID("org/model")))
        }
        guard case .unreachable(let endpoint, _) = error else {
            Issue.record("expected unreachable, got \(String(describing: error))")
            return
        }
        #expect(endpoint == hub.endpoint)
    }

    @Test("--local-dir writes plain files and huggingface_hub's metadata; a second run fetches nothing")
    func localFolder() throws {
        let files = try sampleFiles()
        let hub = try FakeHub(files: files)
        let folder = try temporaryPath()
        var plan = DownloadPlan(repository: try RepositoryID("org/model"))
        plan.localFolder = folder
        let session = HubSession(configuration: try configuration(hub, cache: try temporaryPath()))
        let result = try session.download(plan)
        #expect(result.folder == folder)
        for file in files {
            #expect(contents(folder + "/" + file.path) == file.bytes)
            #expect(linkTarget(folder + "/" + file.path) == nil)
            let metadata = String(decoding: contents(folder + "/.cache/huggingface/download/" + file.path + ".metadata") ?? [], as: UTF8.self)
            let lines = metadata.split(separator: "\n", omittingEmptySubsequences: false)
            #expect(lines.count == 4 && lines[0] == hub.commit && lines[1] == (file.isLFS ? file.sha256 : file.gitBlobID) && Double(lines[2]) != nil)
        }
        #expect(contents(folder + "/.cache/huggingface/.gitignore") == Array("*".utf8))
        hub.hub.resetCounts()
        hub.cdn.resetCounts()
        let again = try session.download(plan)
        #expect(hub.hub.requests.count == 1 && hub.cdn.requests.isEmpty)
        #expect(again.files.allSatisfy { $0.status == .cached })
    }

    @Test("--jobs fetches several files at once and every file is right")
    func parallelJobs() throws {
        var files: [FakeHub.File] = []
        for index in 0..<20 { files.append(FakeHub.File(path: "part-\(index).bin", bytes: Array(repeating: UInt8(index), count: 10_000 + index), isLFS: index % 2 == 0)) }
        let hub = try FakeHub(files: files)
        var plan = DownloadPlan(repository: try RepositoryID("org/model"))
        plan.jobs = 6
        let result = try HubSession(configuration: configuration(hub, cache: try temporaryPath())).download(plan)
        #expect(result.files.map(\.path) == files.map(\.path))
        for file in files { #expect(contents(result.folder + "/" + file.path) == file.bytes) }
    }

    @Test("two downloads of one repository at once share the cache without corrupting it (a lock per blob)")
    func concurrentDownloads() throws {
        let files = try sampleFiles()
        let hub = try FakeHub(files: files)
        let cache = try temporaryPath()
        let session = HubSession(configuration: try configuration(hub, cache: cache))
        let errors = NSLock()
        nonisolated(unsafe) var failures: [Error] = []
        DispatchQueue.concurrentPerform(iterations: 2) { _ in
            do { _ = try session.download(DownloadPlan(repository: RepositoryID("org/model"))) } catch {
                errors.withLock { failures.append(error) }
            }
        }
        #expect(failures.isEmpty)
        let snapshot = cache + "/models--org--model/snapshots/" + hub.commit
        for file in files { #expect(contents(snapshot + "/" + file.path) == file.bytes) }
        #expect(exists(cache + "/.locks/models--org--model/" + files[3].sha256 + ".lock"))
    }

    @Test("a file name from the API that would leave the folder is refused")
    func unsafeNames() throws {
        for name in ["../escape", "/etc/passwd", "a/../../b", "a\\b", "a//b", ""] {
            let body = Array("{\"sha\":\"\(String(repeating: "a", count: 40))\",\"siblings\":[{\"rfilename\":\"\(name.replacingOccurrences(of: "\\", with: "\\\\"))\"}]}".utf8)
            #expect(throws: HubError.unsafeFileName(name)) { try RepositoryInfo.parse(body, url: "u") }
        }
    }
}
