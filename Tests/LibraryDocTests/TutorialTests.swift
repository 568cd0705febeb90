import Foundation
import ModelFile
import TestSupport
import Testing

/// docs/library.md runs as written: its ```swift blocks are compiled (Tutorial.swift is generated
/// from them and checked against the document), run in order from a folder that looks like the
/// repository's root, and each prints exactly the ```text block shown under it.
@Suite("The tutorial (docs/library.md)", .serialized)
struct TutorialTests {
    static let documentPath = Fixture.packageRoot.appendingPathComponent("docs/library.md")
    static let generatedPath = Fixture.packageRoot.appendingPathComponent("Tests/LibraryDocTests/Tutorial.swift")

    static func source() throws -> TutorialSource {
        TutorialSource(text: try String(contentsOf: documentPath, encoding: .utf8))
    }

    @Test("Tutorial.swift holds the document's blocks, verbatim and in order")
    func generatedSourceIsCurrent() throws {
        let generated = try Self.source().generatedSource
        if ProcessInfo.processInfo.environment["MODELFILE_UPDATE_TUTORIAL"] == "1" {
            try generated.write(to: Self.generatedPath, atomically: true, encoding: .utf8)
        }
        let committed = try String(contentsOf: Self.generatedPath, encoding: .utf8)
        #expect(committed == generated, "Tutorial.swift is out of date: run MODELFILE_UPDATE_TUTORIAL=1 swift test --filter LibraryDocTests")
    }

    @Test("the document has one package manifest, the one scripts/check_library_contract.sh builds, and runnable blocks")
    func shape() throws {
        let source = try Self.source()
        let manifests = source.blocks.filter(\.isManifest)
        #expect(manifests.count == 1)
        #expect(manifests.first?.lines.contains { $0.contains(#".product(name: "ModelFile", package: "modelfile")"#) } == true)
        #expect(source.runnable.count >= 20)
        // Every block that prints shows what it prints.
        #expect(source.runnable.filter { $0.lines.contains { $0.contains("print(") } && $0.output == nil }.map(\.line) == [])
    }

    @Test("every block prints what the document shows under it")
    func blocksPrintWhatTheDocumentShows() throws {
        let source = try Self.source()
        // The tutorial reads data/ and Fixtures/ relative to the repository's root and writes its
        // own files beside them: it runs in a fresh folder holding links to those two.
        let folder = try Fixture.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        for name in ["data", "Fixtures"] {
            try FileManager.default.createSymbolicLink(at: folder.appendingPathComponent(name),
                                                       withDestinationURL: Fixture.packageRoot.appendingPathComponent(name))
        }
        let capture = TutorialCapture()
        let previous = FileManager.default.currentDirectoryPath
        #expect(FileManager.default.changeCurrentDirectoryPath(folder.path))
        defer { _ = FileManager.default.changeCurrentDirectoryPath(previous) }
        // An error stops the tutorial; what the blocks before it printed is still compared.
        var stoppedAt = Int.max
        do {
            try TutorialCapture.$current.withValue(capture) {
                try runTutorial { capture.begin($0) }
            }
        } catch {
            stoppedAt = capture.currentBlock
            Issue.record("docs/library.md line \(source.runnable[stoppedAt - 1].line): threw \(error)")
        }
        let outputs = capture.outputs
        for (number, block) in source.runnable.enumerated() where number + 1 < stoppedAt {
            let printed = outputs[number + 1] ?? ""
            #expect(printed == block.expectedOutput, "docs/library.md line \(block.line): printed\n\(printed)")
        }
    }
}
