import Foundation

/// The code blocks of docs/library.md: each ```swift block, the ```text block that follows it
/// (what it prints), and the Swift source the tests compile from them.
struct TutorialSource {
    /// One ```swift block.
    struct Block {
        /// Its lines, as written.
        let lines: [String]
        /// The 1-based line of the document where it starts.
        let line: Int
        /// The lines of the ```text block right after it (only blank lines between), or `nil`.
        let output: [String]?

        /// Whether it is a package manifest (`// swift-tools-version` first), which
        /// scripts/check_library_contract.sh builds rather than the tests.
        var isManifest: Bool { lines.first?.hasPrefix("// swift-tools-version") == true }

        /// What it should print: the output block's lines, each ended by a newline.
        var expectedOutput: String { (output ?? []).map { $0 + "\n" }.joined() }
    }

    /// Every ```swift block, in order.
    let blocks: [Block]

    /// The blocks the tests run (every block but the manifest), in order.
    var runnable: [Block] { blocks.filter { !$0.isManifest } }

    /// Reads the blocks of `text`.
    init(text: String) {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var blocks: [Block] = []
        var index = 0
        func fenced(from start: Int) -> (lines: [String], end: Int) {
            var end = start
            while end < lines.count && lines[end] != "```" { end += 1 }
            return (Array(lines[start..<min(end, lines.count)]), end)
        }
        while index < lines.count {
            guard lines[index] == "```swift" else {
                index += 1
                continue
            }
            let (body, end) = fenced(from: index + 1)
            var next = end + 1
            while next < lines.count && lines[next].trimmingCharacters(in: .whitespaces).isEmpty { next += 1 }
            var output: [String]?
            var after = end + 1
            if next < lines.count && lines[next] == "```text" {
                let (text, textEnd) = fenced(from: next + 1)
                output = text
                after = textEnd + 1
            }
            blocks.append(Block(lines: body, line: index + 1, output: output))
            index = after
        }
        self.blocks = blocks
    }

    /// The Swift file the tests compile: the runnable blocks' `import` lines at the top, then
    /// every block verbatim, in order, in one function (so later blocks see earlier blocks'
    /// declarations, as in one `main.swift`), each preceded by a call that marks where it starts.
    var generatedSource: String {
        var imports: [String] = []
        for block in runnable {
            for line in block.lines where line.hasPrefix("import ") && !imports.contains(line) { imports.append(line) }
        }
        var text = """
            // Generated from docs/library.md by Tests/LibraryDocTests/TutorialTests.swift: the tutorial's
            // ```swift blocks, verbatim and in order (import lines moved to the top). Do not edit: after
            // changing the tutorial, run `MODELFILE_UPDATE_TUTORIAL=1 swift test --filter LibraryDocTests`.

            """
        text += imports.joined(separator: "\n") + "\n\n"
        text += "/// Runs the tutorial's blocks in order; `tutorialBlock(n)` is called as block n starts.\n"
        text += "func runTutorial(_ tutorialBlock: (Int) -> Void) throws {\n"
        for (number, block) in runnable.enumerated() {
            text += "tutorialBlock(\(number + 1))  // docs/library.md line \(block.line)\n"
            for line in block.lines where !line.hasPrefix("import ") { text += line + "\n" }
        }
        text += "}\n"
        return text
    }
}
