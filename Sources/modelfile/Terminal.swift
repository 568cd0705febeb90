import ArgumentParser
import BinaryIO
import ModelFileKit
import ModelFormats

#if canImport(Glibc)
import Glibc
#endif

/// Output helpers: data to stdout, everything else to stderr. Human text arrives as `Shown`
/// (escaped once, docs/security.md) and leaves with every line bounded; JSON arrives as a rendered
/// document and leaves as it is.
enum Terminal {
    /// Whether stderr is a terminal (progress is shown only there).
    static var stderrIsTerminal: Bool { isatty(2) == 1 }

    /// `--quiet`: warnings and notes are not written (errors always are). Set once, while the
    /// command's options are validated, before any work starts.
    nonisolated(unsafe) static var isQuiet = false

    /// Writes `text` and a newline to stdout, no line longer than ``Display/maxLineLength``.
    static func out(_ text: Shown) {
        writeAll(1, Display.boundedLines(text.text))
        writeAll(1, "\n")
    }

    /// Writes a rendered JSON document and a newline to stdout.
    static func out(json: JSONValue, pretty: Bool = true) {
        writeAll(1, json.rendered(pretty: pretty))
        writeAll(1, "\n")
    }

    /// Writes `text` and a newline to stderr, no line longer than ``Display/maxLineLength``.
    static func err(_ text: Shown) {
        writeAll(2, Display.boundedLines(text.text) + "\n")  // one write: a message is one line, whole
    }

    /// `modelfile: error: MESSAGE`, one line on stderr. A budget going over (recognised by the
    /// error's type) says how to raise it.
    static func error(_ error: Error) {
        var line: Shown = "modelfile: error: \(error)"
        if let limit = ExceededLimit.of(error) {
            line = line + "; raise it with --limits \(limit.name)=VALUE if the file is trusted"
        }
        err(line)
    }

    /// `modelfile: warning: MESSAGE`, one line on stderr (not with `--quiet`).
    static func warning(_ warning: ModelFileWarning) {
        guard !isQuiet else { return }
        err("modelfile: warning: \(warning.message)")
    }

    /// A line about what was done (`wrote …`) on stderr (not with `--quiet`).
    static func note(_ text: Shown) {
        guard !isQuiet else { return }
        err(text)
    }

    /// Writes progress drawing to stderr as it is: the tool's own cursor movements and numbers,
    /// with any file name in it already escaped (ProgressLine, DownloadDisplay).
    static func progress(_ text: String) {
        writeAll(2, text)
    }

    /// Writes all of `text` (without copying a native string), retrying after signals.
    private static func writeAll(_ fd: Int32, _ text: String) {
        var text = text
        text.withUTF8 { buffer in
            guard let base = buffer.baseAddress else { return }
            var done = 0
            while done < buffer.count {
                let n = write(fd, base + done, buffer.count - done)
                if n <= 0 { if errno == EINTR { continue }; return }
                done += n
            }
        }
    }

    /// Runs a command body: errors become one line on stderr and exit code 2.
    static func run(_ body: () throws -> Int32) throws {
        let code: Int32
        do {
            code = try body()
        } catch let exit as ExitCode {
            throw exit
        } catch let error as ValidationError {
            throw error
        } catch {
            self.error(error)
            throw ExitCode(2)
        }
        if code != 0 { throw ExitCode(code) }
    }
}

/// Shows bytes done, rate and time left on stderr, on a terminal only, once work has run for
/// about a second.
final class ProgressLine {
    private let enabled: Bool
    private let start = Clock.now()
    private var lastDraw = 0.0
    private var drawn = false

    init(quiet: Bool) { enabled = !quiet && Terminal.stderrIsTerminal }

    func update(done: Int, total: Int) {
        guard enabled else { return }
        let elapsed = Clock.now() - start
        guard elapsed > 1, elapsed - lastDraw > 0.1 || done == total else { return }
        lastDraw = elapsed
        let rate = Double(done) / elapsed
        let remaining = rate > 0 ? Double(total - done) / rate : 0
        // Both are finite and small here; clamp anyway so no conversion can trap.
        func whole(_ value: Double) -> Int { value.isFinite ? Int(max(0, min(value.rounded(), 1e15))) : 0 }
        drawn = true
        Terminal.progress("\r\(Formatting.bytes(done)) / \(Formatting.bytes(total))  \(Formatting.bytes(whole(rate)))/s  ETA \(whole(remaining)) s   ")
    }

    func finish() {
        guard drawn else { return }
        Terminal.err("")
    }
}

/// Monotonic seconds.
enum Clock {
    static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }
}
