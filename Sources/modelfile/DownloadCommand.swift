import ArgumentParser
import BinaryIO
import HubClient
import ModelFileKit
import Synchronization

struct DownloadCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "download",
        abstract: "Download a model repository from the Hugging Face hub or a mirror into the shared cache.",
        discussion: """
            Endpoint: --endpoint, else HF_ENDPOINT, else https://huggingface.co. Token: --token, else HF_TOKEN,
            else the file $HF_HOME/token. Cache: HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub,
            in huggingface_hub's layout, so both tools share it. HF_HUB_OFFLINE=1 never touches the network.
            Prints the folder holding the files.
            """)

    @Argument(help: "The repository: org/name.")
    var repository: String

    @Argument(help: "Only files matching these globs, as huggingface_hub's allow_patterns ('*.safetensors', 'config.json', 'subfolder/').")
    var patterns: [String] = []

    @Option(name: .long, help: "Branch, tag or commit (default main).")
    var revision = "main"

    @Option(name: .customLong("local-dir"), help: "Write plain files into this folder instead of the cache.")
    var localDir: String?

    @Option(name: .long, help: "The hub or mirror URL (default: HF_ENDPOINT, else https://huggingface.co).")
    var endpoint: String?

    @Option(name: .long, help: "Access token for gated or private repositories (default: HF_TOKEN, else $HF_HOME/token).")
    var token: String?

    @Option(name: .long, help: "Files downloaded at once (1-64, default 8).")
    var jobs = 8

    @Flag(name: .customLong("dry-run"), help: "List the files and sizes that would be fetched; fetch nothing.")
    var dryRun = false

    @OptionGroup var output: OutputOptions

    func validate() throws {
        guard (1...64).contains(jobs) else { throw ValidationError("--jobs \(jobs): expected a number from 1 to 64") }
        do { _ = try RepositoryID(repository) } catch { throw ValidationError("\(error)") }
    }

    func run() throws {
        try Terminal.run {
            let configuration = try HubConfiguration.fromEnvironment(endpoint: endpoint, token: token)
            var plan = DownloadPlan(repository: try RepositoryID(repository))
            plan.revision = revision
            plan.patterns = patterns
            plan.localFolder = localDir
            plan.jobs = jobs
            plan.dryRun = dryRun
            let display = DownloadDisplay(enabled: !Terminal.isQuiet && !dryRun && Terminal.stderrIsTerminal)
            let started = Clock.now()
            let result = try HubSession(configuration: configuration).download(plan, progress: display)
            display.close()
            if output.json {
                Terminal.out(json: DownloadCommand.document(result, endpoint: configuration.endpoint, dryRun: dryRun))
            } else if dryRun {
                Terminal.out(DownloadCommand.listing(result))
            } else {
                Terminal.out("\(result.folder)")
            }
            if !dryRun && !output.json {
                let fetched = result.files.filter { $0.status == .downloaded }
                let seconds = DecimalText.fixed(Clock.now() - started, digits: 1)
                Terminal.note(result.isOffline
                    ? "offline: \(result.files.count) files in the cache"
                    : "\(fetched.count) of \(result.files.count) files downloaded (\(Formatting.bytes(result.transferredBytes)) in \(seconds) s)")
            }
            return 0
        }
    }

    /// The `modelfile.download/1` document.
    static func document(_ result: DownloadResult, endpoint: String, dryRun: Bool) -> JSONValue {
        let files: [JSONValue] = result.files.map { file in
            .object([
                ("path", .string(file.path)),
                ("bytes", file.byteCount.map { .int($0) } ?? .null),
                ("blob", file.blobID.map { .string($0) } ?? .null),
                ("status", .string(file.status.rawValue)),
            ])
        }
        let known = result.files.compactMap(\.byteCount)
        return .object([
            ("schema", "modelfile.download/1"),
            ("repository", .string(result.repository.text)),
            ("revision", .string(result.revision)),
            ("commit", .string(result.commit)),
            ("endpoint", .string(endpoint)),
            ("folder", .string(result.folder)),
            ("dry_run", .bool(dryRun)),
            ("offline", .bool(result.isOffline)),
            ("files", .array(files)),
            ("totals", .object([
                ("files", .int(result.files.count)),
                ("bytes", .int(known.saturatingSum { $0 })),
                ("downloaded_files", .int(result.files.filter { $0.status == .downloaded }.count)),
                ("cached_files", .int(result.files.filter { $0.status == .cached }.count)),
                ("transferred_bytes", .int(result.transferredBytes)),
            ])),
        ])
    }

    /// The `--dry-run` table: each file, its size and whether it is already there.
    static func listing(_ result: DownloadResult) -> Shown {
        var rows: [[Shown]] = [["PATH", "SIZE", "STATUS"]]
        for file in result.files {
            rows.append([Shown(name: file.path), "\(file.byteCount.map(Formatting.bytes) ?? "?")", file.status == .cached ? "cached" : "download"])
        }
        var lines = Formatting.table(rows)
        let planned = result.files.filter { $0.status == .planned }
        let bytes = planned.compactMap(\.byteCount).saturatingSum { $0 }
        lines.append("")
        lines.append("\(planned.count) of \(result.files.count) files to download (\(Formatting.bytes(bytes))) into \(name: result.folder)")
        return Shown.lines(lines)
    }
}

/// Progress on stderr while files download: one line per file in flight and a total line,
/// redrawn at most ten times a second, on a terminal only.
final class DownloadDisplay: DownloadProgress, @unchecked Sendable {
    private struct State {
        var active: [(file: String, done: Int, total: Int?)] = []
        var finishedBytes = 0
        var finishedFiles = 0
        var drawnLines = 0
        var lastDraw = 0.0
    }

    private let enabled: Bool
    private let state = Mutex(State())
    private let start = Clock.now()

    init(enabled: Bool) { self.enabled = enabled }

    func started(file: String, totalBytes: Int?, resumedAt: Int) {
        guard enabled else { return }
        state.withLock { state in
            if let index = state.active.firstIndex(where: { $0.file == file }) {
                state.active[index] = (file, resumedAt, totalBytes)
            } else {
                state.active.append((file, resumedAt, totalBytes))
            }
            draw(&state, force: false)
        }
    }

    func received(file: String, byteCount: Int) {
        guard enabled else { return }
        state.withLock { state in
            if let index = state.active.firstIndex(where: { $0.file == file }) { state.active[index].done += byteCount }
            draw(&state, force: false)
        }
    }

    func finished(file: String) {
        guard enabled else { return }
        state.withLock { state in
            if let index = state.active.firstIndex(where: { $0.file == file }) {
                state.finishedBytes += state.active[index].done
                state.finishedFiles += 1
                state.active.remove(at: index)
            }
            draw(&state, force: false)
        }
    }

    /// Clears the progress lines.
    func close() {
        guard enabled else { return }
        state.withLock { state in
            var text = ""
            for _ in 0..<state.drawnLines { text += "\u{1B}[1A\u{1B}[2K" }
            state.drawnLines = 0
            Terminal.progress(text)
        }
    }

    private func draw(_ state: inout State, force: Bool) {
        let now = Clock.now()
        // Progress is for work over about a second (docs/cli.md, "General rules").
        guard now - start >= 1, force || now - state.lastDraw >= 0.1 else { return }
        state.lastDraw = now
        var text = ""
        for _ in 0..<state.drawnLines { text += "\u{1B}[1A\u{1B}[2K" }
        var lines: [String] = []
        for entry in state.active.prefix(16) {
            let total = entry.total.map { " / " + Formatting.bytes($0) } ?? ""
            let percent = entry.total.flatMap { $0 > 0 ? " \(min(100, entry.done.saturatingMultiplied(by: 100) / $0))%" : nil } ?? ""
            // A file name from the server is escaped once and kept short (Display.swift).
            let name: Shown = "\(name: entry.file)"
            lines.append("  \(name.shortened(to: 60))  \(Formatting.bytes(entry.done))\(total)\(percent)")
        }
        let done = state.active.reduce(state.finishedBytes) { $0.saturatingAdded($1.done) }
        let elapsed = max(now - start, 0.001)
        lines.append("total: \(state.finishedFiles) files done, \(Formatting.bytes(done)) at \(Formatting.bytes(Int(min(Double(done) / elapsed, 1e15))))/s")
        for line in lines { text += line + "\n" }
        state.drawnLines = lines.count
        Terminal.progress(text)
    }
}
