import Foundation
import JSONReader
import Testing
import TestSupport

/// The command line keeps names exact: what `inspect --json` prints, `convert` writes and `diff`
/// matches are the names' bytes, with no Unicode normalization and no cut at a NUL.
@Suite("modelfile command: exact names")
struct ExactStringsCLITests {
    static let pair = Fixture.path("exact_strings/normalization_pair.safetensors")

    /// The `name` of every tensor in an `inspect --json` document, as UTF-8, read exactly.
    static func names(inspectJSON stdout: String) throws -> [[UInt8]] {
        let document = try JSONNode.parse(Array(stdout.utf8))
        return (document["tensors"]?.arrayValue ?? []).compactMap { $0["name"]?.stringValue.map { Array($0.utf8) } }
    }

    @Test("inspect lists two tensors for two spellings of one character, in the table and in JSON")
    func inspect() throws {
        let table = try modelfile("inspect", Self.pair)
        #expect(table.status == 0)
        #expect(table.stdout.contains("4 tensors"))
        let rows = table.stdout.split(separator: "\n").filter { $0.utf8.starts(with: [0xC3, 0xA9]) || $0.utf8.starts(with: [0x65, 0xCC, 0x81]) }
        #expect(rows.count == 2)
        let json = try modelfile("inspect", "--json", Self.pair)
        #expect(json.status == 0)
        #expect(Set(try Self.names(inspectJSON: json.stdout)) == [[0xC3, 0xA9], [0x65, 0xCC, 0x81], Array("layer.K".utf8), Array("layer.\u{212A}".utf8)])
        let metadata = try JSONNode.parse(Array(json.stdout.utf8))["metadata"]?.objectValue
        #expect(metadata?.keys.map { Array($0.utf8) } == [[0x65, 0xCC, 0x81], [0xC3, 0xA9]], "both keys, in byte order")
    }

    @Test("a NUL inside a name reaches the JSON output escaped, whole")
    func nul() throws {
        let result = try modelfile("inspect", "--json", Fixture.path("exact_strings/nul_in_key.safetensors"))
        #expect(result.status == 0)
        #expect(result.stdout.contains(#""name": "a\u0000b""#))
        #expect(Set(try Self.names(inspectJSON: result.stdout)) == [[0x61, 0x00, 0x62], [0x61]])
    }

    @Test("convert to .pth and back, then diff: both spellings survive and match by bytes")
    func convertAndDiff() throws {
        let folder = try Fixture.temporaryFolder()
        let pth = folder.appendingPathComponent("pair.pth").path
        let back = folder.appendingPathComponent("pair.safetensors").path
        #expect(try modelfile("convert", Self.pair, pth).status == 0)
        #expect(try modelfile("convert", pth, back).status == 0)
        let listed = try modelfile("inspect", "--json", back)
        #expect(Set(try Self.names(inspectJSON: listed.stdout)) == Set(try Self.names(inspectJSON: try modelfile("inspect", "--json", Self.pair).stdout)))
        let diff = try modelfile("diff", "--json", Self.pair, pth)
        #expect(diff.status == 0)
        let report = try JSONNode.parse(Array(diff.stdout.utf8))
        #expect(report["equal"] == .bool(true))
        #expect(report["tensors"]?.arrayValue?.count == 4)
        #expect(report["only_in_a"]?.arrayValue?.isEmpty == true)
    }

    @Test("a duplicate key is one error line naming the key and its offset")
    func duplicateKey() throws {
        let path = Fixture.path("exact_strings/escaped_duplicate.safetensors")
        let result = try modelfile("inspect", path)
        #expect(result.status == 2)
        #expect(result.stdout.isEmpty)
        #expect(result.stderr == "modelfile: error: \(path): at byte 62: key \"\u{E9}\" appears twice in the header; the format forbids duplicate keys\n")
    }

    @Test("a duplicate key holding a line break and a bidi override is one error line, escaped once")
    func hostileDuplicateKey() throws {
        let folder = try Fixture.temporaryFolder()
        let path = folder.appendingPathComponent("hostile_duplicate.safetensors").path
        // The key "t\n\u{202E}x", written with JSON escapes twice.
        let key = Array(#"t\n\u202ex"#.utf8)
        let bytes = ST.file(ST.object([ST.u8Entry(key: key, begin: 0, count: 1), ST.u8Entry(key: key, begin: 1, count: 1)]), data: [1, 2])
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let result = try modelfile("inspect", path)
        #expect(result.status == 2)
        #expect(result.stdout.isEmpty)
        let lines = result.stderr.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.count == 2 && lines[1].isEmpty, "one line")
        #expect(result.stderr.hasSuffix(#": key "t\n\u202ex" appears twice in the header; the format forbids duplicate keys"# + "\n"))
        #expect(!result.stderr.contains(#"\\"#), "no escape is escaped again")
        #expect(!result.stderr.unicodeScalars.contains("\u{202E}"))
    }

    @Test("a lone surrogate is named as U+D800 on one line, with no backslash to escape")
    func loneSurrogate() throws {
        let folder = try Fixture.temporaryFolder()
        let path = folder.appendingPathComponent("surrogate.safetensors").path
        let bytes = ST.file(ST.object([ST.u8Entry(key: Array(#"a\ud800"#.utf8), begin: 0, count: 1)]), data: [1])
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let result = try modelfile("inspect", path)
        #expect(result.status == 2)
        #expect(result.stderr == "modelfile: error: \(path): at byte 11: header is not valid JSON: lone surrogate U+D800 (half of a UTF-16 pair) cannot be text\n")
    }
}
