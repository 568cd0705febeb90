import Foundation
import ModelFormats
import Testing
import TestSupport

@Suite("Format detection by content")
struct FormatDetectionTests {
    func detect(_ bytes: [UInt8]) throws -> DetectedKind {
        try bytes.withUnsafeBytes { try FormatDetector.detect(bytes: $0) }
    }

    func refusal(_ bytes: [UInt8]) -> String? {
        do { _ = try detect(bytes) } catch let error as UnrecognizedFormatError { return error.looksLike } catch {}
        return nil
    }

    @Test func modelFormats() throws {
        #expect(try detect(try Fixture.bytes("safetensors/mlp.safetensors")) == .safetensors)
        #expect(try detect(try Fixture.bytes("safetensors/edge_leading_whitespace.safetensors")) == .safetensors)
        #expect(try detect(try Fixture.bytes("safetensors/sharded/model.safetensors.index.json")) == .shardIndex)
        #expect(try detect([0x50, 0x4B, 0x03, 0x04, 0, 0]) == .zipArchive)
        #expect(try detect([0x80, 0x02, 0x8A, 0x0A, 0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19, 0x2E, 0x80]) == .legacyTorch)
        #expect(try FormatDetector.detect(path: Fixture.path("safetensors/sharded")) == .directory(weights: Fixture.path("safetensors/sharded") + "/model.safetensors.index.json"))
    }

    @Test("a truncated safetensors download is still routed to the reader, which says what is missing")
    func truncatedSafetensors() throws {
        let whole = try Fixture.bytes("safetensors/mlp.safetensors")
        #expect(try detect(Array(whole.prefix(100))) == .safetensors)
        let cut = Array(whole.prefix(whole.count - 10))
        #expect(throws: SafetensorsError.dataNotCovered(expectedFileSize: whole.count, actualFileSize: whole.count - 10)) {
            try cut.withUnsafeBytes { _ = try SafetensorsHeader.parse(file: $0) }
        }
    }

    @Test("the GGUF magic selects the GGUF reader")
    func gguf() throws {
        let bytes = Array("GGUF".utf8) + [3, 0, 0, 0, 0, 0]
        #expect(try bytes.withUnsafeBytes { try FormatDetector.detect(bytes: $0) } == .gguf)
    }

    @Test("other content is refused with what it looks like")
    func refusals() throws {
        let lfs = "version https://git-lfs.github.com/spec/v1\noid sha256:4d7a\nsize 1078565428\n"
        #expect(refusal(Array(lfs.utf8))?.contains("Git LFS pointer") == true)
        #expect(refusal(Array(lfs.utf8))?.contains("1078565428") == true)
        #expect(refusal(Array("<!DOCTYPE html><html><body>Rate limited</body></html>".utf8))?.contains("HTML page") == true)
        #expect(refusal(Array("\n  <html lang=en>".utf8))?.contains("HTML page") == true)
        #expect(refusal([])?.contains("empty file") == true)
        #expect(refusal([0x80, 0x04, 0x95, 0x10])?.contains("bare pickle") == true)
        #expect(refusal([0x80, 0x02, 0x7D, 0x71, 0x00, 0x2E])?.contains("bare pickle") == true, "a protocol-2 pickle without the legacy magic")
        #expect(refusal([0x37, 0x7A, 0xBC, 0xAF, 0x27, 0x1C, 0, 4])?.contains("7-Zip") == true)
        #expect(refusal(Array("PYTORCH1".utf8) + [0, 0])?.contains("PYTORCH1") == true)
        #expect(refusal([0x1F, 0x8B, 8, 0, 0, 0, 0, 0, 0])?.contains("gzip") == true)
        #expect(refusal(Array(#"{"architectures": ["GPT2LMHeadModel"]}"#.utf8))?.contains("config") == true)
        var tar = [UInt8](repeating: 0, count: 512)
        tar.replaceSubrange(257..<262, with: Array("ustar".utf8))
        #expect(refusal(tar)?.contains("CVE-2025-32434") == true)
        #expect(refusal([1, 2, 3])?.contains("too short") == true)
        #expect(refusal(Array(repeating: 0xAB, count: 64))?.contains("unknown content (first bytes ab ab") == true)
    }

    @Test("a folder with no weights is refused")
    func emptyFolder() throws {
        let folder = try Fixture.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        #expect(throws: UnrecognizedFormatError.self) { try FormatDetector.detect(path: folder.path) }
    }
}
