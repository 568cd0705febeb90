import ArgumentParser
import ModelFileKit

#if canImport(Glibc)
import Glibc
#endif

/// Output helpers: data to stdout, everything else to stderr.
enum Terminal {
    /// Whether stderr is a terminal (progress is shown only there).
    static var stderrIsTerminal: Bool { isatty(2) == 1 }

    /// Writes `text` and a newline to stdout.
    static func out(_ text: String) {
        var line = text
        line.append("\n")
        writeAll(1, line)
    }

    /// Writes `text` and a newline to stderr.
    static func err(_ text: String) {
        var line = text
        line.append("\n")
        writeAll(2, line)
    }

    private static func writeAll(_ fd: Int32, _ text: String) {
        var copy = text
        copy.withUTF8 { buffer in
            var done = 0
            while done < buffer.count {
                let n = write(fd, buffer.baseAddress! + done, buffer.count - done)
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
            var message = "\(error)"
            if message.contains("(limit max") { message += "; raise it with --limits NAME=VALUE if the file is trusted" }
            err("modelfile: error: \(message)")
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
        // Both are finite and non-negative; very large ones are shown as the largest Int.
        let rateText = byteText(rate < 9e18 ? Int(rate) : Int.max)
        let seconds = remaining < 9e18 ? String(Int(remaining.rounded())) : "∞"
        let text = "\r\(byteText(done)) / \(byteText(total))  \(rateText)/s  ETA \(seconds) s   "
        drawn = true
        var copy = text
        copy.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
    }

    func finish() {
        guard drawn else { return }
        Terminal.err("")
    }

    private func byteText(_ value: Int) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var amount = Double(value)
        var unit = 0
        while amount >= 1024 && unit < units.count - 1 { amount /= 1024; unit += 1 }
        return "\((amount * 10).rounded() / 10) \(units[unit])"
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
