import Foundation
import TestSupport
import Testing

/// The library targets leave words and output to the command: nothing under Sources/ but the
/// command-line tool (Sources/modelfile) writes to standard output or standard error.
@Suite("Library hygiene")
struct LibraryHygieneTests {
    @Test("no library source prints or writes to stdout or stderr")
    func libraryNeverPrints() throws {
        let sources = Fixture.packageRoot.appendingPathComponent("Sources")
        let forbidden = try NSRegularExpression(pattern: #"(^|[^\w.])(print|debugPrint|dump|fputs|putchar|puts)\(|FileHandle\.standard(Output|Error)|\bstdout\b|\bstderr\b"#)
        var offenders: [String] = []
        var checked = 0
        let files = FileManager.default.enumerator(at: sources, includingPropertiesForKeys: nil)
        while let url = files?.nextObject() as? URL {
            guard url.pathExtension == "swift", !url.path.contains("/Sources/modelfile/") else { continue }
            checked += 1
            let lines = try String(contentsOf: url, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
            for (number, line) in lines.enumerated() {
                let code = line.split(separator: "//", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
                if forbidden.firstMatch(in: code, range: NSRange(code.startIndex..., in: code)) != nil {
                    offenders.append("\(url.lastPathComponent):\(number + 1): \(line)")
                }
            }
        }
        #expect(checked > 100)
        #expect(offenders == [])
    }
}
