import ArgumentParser
import HubClient
import ModelFileKit
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

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

    @Flag(name: .long, help: "Print one JSON document instead of text.")
    var json = false

    @Flag(name: .long, help: "No progress and no summary on stderr.")
    var quiet = false

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
            let display = DownloadDisplay(enabled: !quiet && !dryRun && Terminal.stderrIsTerminal)
            let started = Clock.now()
            let result = try HubSession(configuration: configuration).download(plan, progress: display)
            display.close()
            if json {
                Terminal.out(DownloadCommand.document(result, endpoint: configuration.endpoint, dryRun: dryRun).rendered())
            } else if dryRun {
                Terminal.out(DownloadCommand.listing(result))
            } else {
                Terminal.out(result.folder)
            }
            if !quiet && !dryRun && !json {
                let fetched = result.files.filter { $0.status == .downloaded }
                let seconds = Clock.now() - started
                var line = "\(fetched.count) of \(result.files.count) files downloaded (\(DownloadDisplay.bytes(result.transferredBytes)) in \(DownloadDisplay.seconds(seconds)))"
                if result.isOffline { line = "offline: \(result.files.count) files in the cache" }
                Terminal.err(line)
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
                ("bytes", .int(known.reduce(0, +))),
                ("downloaded_files", .int(result.files.filter { $0.status == .downloaded }.count)),
                ("cached_files", .int(result.files.filter { $0.status == .cached }.count)),
                ("transferred_bytes", .int(result.transferredBytes)),
            ])),
        ])
    }

    /// The `--dry-run` table: each file, its size and whether it is already there.
    static func listing(_ result: DownloadResult) -> String {
        var rows = [["PATH", "SIZE", "STATUS"]]
        for file in result.files {
            rows.append([DownloadDisplay.escaped(file.path), file.byteCount.map(DownloadDisplay.bytes) ?? "?",
                         file.status == .cached ? "cached" : "download"])
        }
        let widths = (0..<3).map { column in rows.map { $0[column].unicodeScalars.count }.max() ?? 0 }
        var lines = rows.map { row in
            row.enumerated().map { column, text in
                column == 2 ? text : text + String(repeating: " ", count: widths[column] - text.unicodeScalars.count)
            }.joined(separator: "  ")
        }
        let planned = result.files.filter { $0.status == .planned }
        let bytes = planned.compactMap(\.byteCount).reduce(0, +)
        lines.append("")
        lines.append("\(planned.count) of \(result.files.count) files to download (\(DownloadDisplay.bytes(bytes))) into \(DownloadDisplay.escaped(result.folder))")
        return lines.joined(separator: "\n")
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
            DownloadDisplay.write(text)
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
            let total = entry.total.map { " / " + DownloadDisplay.bytes($0) } ?? ""
            let percent = entry.total.flatMap { $0 > 0 ? " \(min(100, entry.done * 100 / $0))%" : nil } ?? ""
            lines.append("  \(DownloadDisplay.shortened(DownloadDisplay.escaped(entry.file)))  \(DownloadDisplay.bytes(entry.done))\(total)\(percent)")
        }
        let done = state.finishedBytes + state.active.reduce(0) { $0 + $1.done }
        let elapsed = max(now - start, 0.001)
        lines.append("total: \(state.finishedFiles) files done, \(DownloadDisplay.bytes(done)) at \(DownloadDisplay.bytes(Int(min(Double(done) / elapsed, 1e15))))/s")
        for line in lines { text += line + "\n" }
        state.drawnLines = lines.count
        DownloadDisplay.write(text)
    }

    private static func write(_ text: String) {
        var copy = text
        copy.withUTF8 { buffer in
            var done = 0
            while done < buffer.count, let base = buffer.baseAddress {
                let n = Glibc.write(2, base + done, buffer.count - done)
                if n <= 0 { if errno == EINTR { continue }; return }
                done += n
            }
        }
    }

    /// File names from a server are shown only escaped: control characters, escape sequences,
    /// line breaks and bidirectional or invisible format characters become visible escapes.
    static func escaped(_ text: String) -> String {
        var result = ""
        for scalar in text.unicodeScalars {
            let value = scalar.value
            let invisible: Bool
            switch scalar.properties.generalCategory {
            case .control, .format, .lineSeparator, .paragraphSeparator, .unassigned, .surrogate: invisible = true
            default: invisible = false
            }
            if scalar == "\\" {
                result += "\\\\"
            } else if invisible || value < 0x20 || (0x7F..<0xA0).contains(value) {
                let digits = String(value, radix: 16)
                if value < 0x100 {
                    result += "\\x" + String(repeating: "0", count: 2 - digits.count) + digits
                } else if value < 0x10000 {
                    result += "\\u" + String(repeating: "0", count: 4 - digits.count) + digits
                } else {
                    result += "\\U" + String(repeating: "0", count: 8 - digits.count) + digits
                }
            } else {
                result.unicodeScalars.append(scalar)
            }
        }
        return result
    }

    /// At most 60 characters, the middle replaced by `…` when longer.
    static func shortened(_ text: String) -> String {
        let scalars = Array(text.unicodeScalars)
        guard scalars.count > 60 else { return text }
        return String(String.UnicodeScalarView(scalars.prefix(30))) + "…" + String(String.UnicodeScalarView(scalars.suffix(29)))
    }

    static func bytes(_ value: Int) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var amount = Double(value)
        var unit = 0
        while amount >= 1024 && unit < units.count - 1 { amount /= 1024; unit += 1 }
        return unit == 0 ? "\(value) B" : "\((amount * 10).rounded() / 10) \(units[unit])"
    }

    static func seconds(_ value: Double) -> String { "\((value * 10).rounded() / 10) s" }
}
