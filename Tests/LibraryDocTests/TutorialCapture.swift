import Synchronization

/// What the tutorial prints, block by block, while it runs under ``TutorialCapture/current``.
final class TutorialCapture: Sendable {
    private let state = Mutex<(block: Int, outputs: [Int: String])>((0, [:]))

    /// The capture of the running tutorial, if any.
    @TaskLocal static var current: TutorialCapture?

    /// Text printed from here on belongs to block `number`.
    func begin(_ number: Int) {
        state.withLock { $0.block = number }
    }

    /// Adds `text` to the current block's output.
    func append(_ text: String) {
        state.withLock { $0.outputs[$0.block, default: ""] += text }
    }

    /// The number of the block running (0 before the first).
    var currentBlock: Int { state.withLock { $0.block } }

    /// Each block's output, by block number.
    var outputs: [Int: String] { state.withLock { $0.outputs } }
}

/// `print` as the tutorial calls it: captured while a ``TutorialCapture`` is current, else
/// written to standard output as the standard library's `print` writes it.
func print(_ items: Any..., separator: String = " ", terminator: String = "\n") {
    let text = items.map { String(describing: $0) }.joined(separator: separator) + terminator
    if let capture = TutorialCapture.current {
        capture.append(text)
    } else {
        Swift.print(text, terminator: "")
    }
}
