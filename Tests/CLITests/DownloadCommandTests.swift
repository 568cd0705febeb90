import Foundation
import Testing
import TestSupport

/// Runs the built binary with `environment` added to (and `HF_*` variables of the test process removed from) its environment.
func modelfileWithEnvironment(_ arguments: [String], environment: [String: String]) throws -> CLIResult {
    let process = Process()
    process.executableURL = CLIBinary.url
    process.arguments = arguments
    var merged = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("HF_") }
    merged["NO_COLOR"] = "1"
    merged["MODELFILE_HUB_RETRY_DELAY"] = "0.05"
    for (key, value) in environment { merged[key] = value }
    process.environment = merged
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    let stdout = out.fileHandleForReading.readDataToEndOfFile()
    let stderr = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return CLIResult(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self), stderr: String(decoding: stderr, as: UTF8.self))
}

private func repositoryFiles() throws -> [FakeHub.File] {
    [
        FakeHub.File(path: "config.json", bytes: Array("{\"hidden_size\": 8}\n".utf8), isLFS: false),
        FakeHub.File(path: "model.safetensors", bytes: try Fixture.bytes("safetensors/mlp.safetensors"), isLFS: true),
        FakeHub.File(path: "docs/evil\u{1B}[31m\u{202E}.txt", bytes: Array("x".utf8), isLFS: false),
    ]
}

@Suite("modelfile download and hf:// through the command line")
struct DownloadCommandTests {
    @Test("download prints the snapshot folder; the cache holds the files; --quiet leaves stderr empty")
    func download() throws {
        let hub = try FakeHub(files: try repositoryFiles())
        let cache = try Fixture.temporaryFolder().path
        let result = try modelfileWithEnvironment(["download", "org/model", "--quiet"], environment: ["HF_ENDPOINT": hub.endpoint, "HF_HUB_CACHE": cache])
        #expect(result.status == 0)
        #expect(result.stdout == cache + "/models--org--model/snapshots/" + hub.commit + "\n")
        #expect(result.stderr.isEmpty)
        #expect(FileManager.default.contents(atPath: cache + "/models--org--model/snapshots/" + hub.commit + "/config.json") == Data("{\"hidden_size\": 8}\n".utf8))
    }

    @Test("--endpoint and --token win over HF_ENDPOINT and HF_TOKEN; the token file is read last")
    func endpointAndTokenOrder() throws {
        let hub = try FakeHub(files: try repositoryFiles())
        hub.setFaults { $0.token = "right" }
        let cache = try Fixture.temporaryFolder().path
        let home = try Fixture.temporaryFolder().path
        FileManager.default.createFile(atPath: home + "/token", contents: Data("right\n".utf8))
        let fromFile = try modelfileWithEnvironment(["download", "org/model", "config.json"],
                                                    environment: ["HF_ENDPOINT": hub.endpoint, "HF_HUB_CACHE": cache, "HF_HOME": home])
        #expect(fromFile.status == 0)
        let envWins = try modelfileWithEnvironment(["download", "org/model", "config.json"],
                                                   environment: ["HF_ENDPOINT": hub.endpoint, "HF_HUB_CACHE": cache, "HF_HOME": home, "HF_TOKEN": "wrong"])
        #expect(envWins.status == 2 && envWins.stderr.contains("the token was refused"))
        let optionWins = try modelfileWithEnvironment(["download", "org/model", "config.json", "--endpoint", hub.endpoint, "--token", "right"],
                                                      environment: ["HF_ENDPOINT": "http://127.0.0.1:9", "HF_HUB_CACHE": cache, "HF_TOKEN": "wrong"])
        #expect(optionWins.status == 0)
    }

    @Test("errors are one line with exit 2: needs a token, not found, unreachable; usage errors exit 64")
    func errors() throws {
        let hub = try FakeHub(files: try repositoryFiles())
        let cache = try Fixture.temporaryFolder().path
        hub.setFaults { $0.token = "t" }
        let gated = try modelfileWithEnvironment(["download", "org/model"], environment: ["HF_ENDPOINT": hub.endpoint, "HF_HUB_CACHE": cache])
        #expect(gated.status == 2)
        #expect(gated.stderr == "modelfile: error: org/model is gated or private: it needs a token (HTTP 401); pass --token or set HF_TOKEN\n")
        hub.setFaults { $0.token = nil; $0.missing = ["api"] }
        let missing = try modelfileWithEnvironment(["download", "org/model"], environment: ["HF_ENDPOINT": hub.endpoint, "HF_HUB_CACHE": cache])
        #expect(missing.status == 2)
        #expect(missing.stderr == "modelfile: error: repository org/model (revision main) not found on \(hub.endpoint) (404)\n")
        hub.hub.stop()
        let unreachable = try modelfileWithEnvironment(["download", "org/model"], environment: ["HF_ENDPOINT": hub.endpoint, "HF_HUB_CACHE": cache])
        #expect(unreachable.status == 2)
        #expect(unreachable.stderr.hasPrefix("modelfile: error: endpoint \(hub.endpoint) is unreachable: "))
        #expect(unreachable.stderr.filter { $0 == "\n" }.count == 1)
        let usage = try modelfileWithEnvironment(["download", "org/model", "--jobs", "0"], environment: [:])
        #expect(usage.status == 64)
        let badRepo = try modelfileWithEnvironment(["download", "../etc"], environment: [:])
        #expect(badRepo.status == 64)
    }

    @Test("HF_HUB_OFFLINE=1: a cached repository exits 0, an uncached one exits 2, and no request is made")
    func offline() throws {
        let hub = try FakeHub(files: try repositoryFiles())
        let cache = try Fixture.temporaryFolder().path
        let environment = ["HF_ENDPOINT": hub.endpoint, "HF_HUB_CACHE": cache]
        #expect(try modelfileWithEnvironment(["download", "org/model"], environment: environment).status == 0)
        hub.hub.resetCounts()
        let cached = try modelfileWithEnvironment(["download", "org/model"], environment: environment.merging(["HF_HUB_OFFLINE": "1"]) { $1 })
        #expect(cached.status == 0)
        #expect(cached.stdout == cache + "/models--org--model/snapshots/" + hub.commit + "\n")
        let uncached = try modelfileWithEnvironment(["download", "org/other"], environment: environment.merging(["HF_HUB_OFFLINE": "1"]) { $1 })
        #expect(uncached.status == 2)
        #expect(uncached.stderr == "modelfile: error: HF_HUB_OFFLINE is set and org/other (revision main) is not fully in the cache\n")
        #expect(hub.hub.requests.isEmpty)
    }

    @Test("--dry-run lists files and sizes with names escaped; --json is one document whose first key is schema")
    func dryRunAndJSON() throws {
        let hub = try FakeHub(files: try repositoryFiles())
        let cache = try Fixture.temporaryFolder().path
        let environment = ["HF_ENDPOINT": hub.endpoint, "HF_HUB_CACHE": cache]
        let dry = try modelfileWithEnvironment(["download", "org/model", "--dry-run"], environment: environment)
        #expect(dry.status == 0)
        #expect(dry.stdout.contains("config.json"))
        #expect(dry.stdout.contains("docs/evil\\x1b[31m\\u202e.txt"))
        #expect(!dry.stdout.contains("\u{1B}") && !dry.stdout.contains("\u{202E}"))
        #expect(dry.stdout.contains("3 of 3 files to download (1000 B)"))
        #expect(!FileManager.default.fileExists(atPath: cache + "/models--org--model"))
        let json = try modelfileWithEnvironment(["download", "org/model", "--json"], environment: environment)
        #expect(json.status == 0)
        #expect(json.stdout.hasPrefix("{\n  \"schema\": \"modelfile.download/1\""))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        #expect(object["commit"] as? String == hub.commit)
        let files = try #require(object["files"] as? [[String: Any]])
        #expect(files.map { $0["path"] as? String } == ["config.json", "model.safetensors", "docs/evil\u{1B}[31m\u{202E}.txt"])
        #expect(files.map { $0["status"] as? String } == ["downloaded", "downloaded", "downloaded"])
        let again = try modelfileWithEnvironment(["download", "org/model", "--json"], environment: environment)
        let second = try #require(try JSONSerialization.jsonObject(with: Data(again.stdout.utf8)) as? [String: Any])
        #expect((second["totals"] as? [String: Any])?["transferred_bytes"] as? Int == 0)
    }

    @Test("--local-dir puts plain files in the folder")
    func localDir() throws {
        let hub = try FakeHub(files: try repositoryFiles())
        let folder = try Fixture.temporaryFolder().path + "/out"
        let result = try modelfileWithEnvironment(["download", "org/model", "*.safetensors", "--local-dir", folder],
                                                  environment: ["HF_ENDPOINT": hub.endpoint, "HF_HUB_CACHE": folder + "-cache"])
        #expect(result.status == 0 && result.stdout == folder + "\n")
        #expect(FileManager.default.contents(atPath: folder + "/model.safetensors") == Data(try Fixture.bytes("safetensors/mlp.safetensors")))
        #expect(!FileManager.default.fileExists(atPath: folder + "/config.json"))
    }

    @Test("inspect hf:// prints what a local inspect prints, and a cached org/name is a path for every command")
    func remoteAndCachedInspect() throws {
        let hub = try FakeHub(files: try repositoryFiles())
        let cache = try Fixture.temporaryFolder().path
        let environment = ["HF_ENDPOINT": hub.endpoint, "HF_HUB_CACHE": cache]
        let local = try modelfileWithEnvironment(["inspect", "--json", Fixture.path("safetensors/mlp.safetensors")], environment: environment)
        let remote = try modelfileWithEnvironment(["inspect", "--json", "hf://org/model/model.safetensors"], environment: environment)
        #expect(remote.status == 0)
        let strip: (String) -> String = { $0.split(separator: "\n").filter { !$0.contains("\"path\"") }.joined(separator: "\n") }
        #expect(strip(remote.stdout) == strip(local.stdout))
        #expect(remote.stdout.contains("\"path\": \"hf://org/model/model.safetensors\""))
        let table = try modelfileWithEnvironment(["inspect", "hf://org/model/model.safetensors"], environment: environment)
        #expect(table.stdout.contains("linear1.weight  F32    [6, 8]"))
        #expect(hub.cdn.requests.allSatisfy { $0.headers["range"] == "bytes=0-99999" })

        #expect(try modelfileWithEnvironment(["download", "org/model"], environment: environment).status == 0)
        let cached = try modelfileWithEnvironment(["inspect", "org/model"], environment: environment)
        #expect(cached.status == 0)
        #expect(cached.stdout.hasPrefix(cache + "/models--org--model/snapshots/" + hub.commit + "/model.safetensors\n"))
        #expect(try modelfileWithEnvironment(["verify", "org/model"], environment: environment).status == 0)
        #expect(try modelfileWithEnvironment(["scan", "org/model"], environment: environment).status == 0)
        #expect(try modelfileWithEnvironment(["diff", "org/model", Fixture.path("safetensors/mlp.safetensors")], environment: environment).status == 0)
        let output = try Fixture.temporaryFolder().path + "/copy.safetensors"
        #expect(try modelfileWithEnvironment(["convert", "org/model", output], environment: environment).status == 0)
        let offline = try modelfileWithEnvironment(["inspect", "hf://org/model/model.safetensors"], environment: environment.merging(["HF_HUB_OFFLINE": "1"]) { $1 })
        #expect(offline.status == 2 && offline.stderr.contains("HF_HUB_OFFLINE is set"))
    }
}
