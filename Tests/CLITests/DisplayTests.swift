import Foundation
import Testing
import TestSupport

/// Hostile text a file can carry in its names: colour codes, a carriage return that would
/// overwrite the start of a line, a line break followed by a forged table row, a right-to-left
/// override, and the title-setting OSC sequence.
enum HostileText {
    static let colour = "a\u{1b}[31mred\u{1b}[0m"
    static let carriageReturn = "b\rmodelfile: clean"
    static let fakeRow = "c\nfake.weight  F32    [1]     4 B"
    static let bidi = "d\u{202E}thgir"
    static let title = "k\u{1b}]0;owned\u{07}"
    static let backslash = "e\\x1b"
    static let long = String(repeating: "n", count: 100_000)

    static let colourShown = #"a\x1b[31mred\x1b[0m"#
    static let carriageReturnShown = #"b\rmodelfile: clean"#
    static let fakeRowShown = #"c\nfake.weight  F32    [1]     4 B"#
    static let bidiShown = #"d\u202ethgir"#
    static let titleShown = #"k\x1b]0;owned\x07"#
    static let backslashShown = #"e\\x1b"#
}

/// Every line of `text` is at most 1024 Unicode scalars, and no raw control or format character
/// other than the line breaks the tool writes reaches the output.
func expectSafeLines(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) {
    for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
        #expect(line.unicodeScalars.count <= 1024, "a line of \(line.unicodeScalars.count) characters", sourceLocation: sourceLocation)
        let raw = line.unicodeScalars.first { $0.value < 0x20 || (0x7F..<0xA0).contains($0.value) || $0.properties.generalCategory == .format }
        #expect(raw == nil, "raw U+\(String(raw?.value ?? 0, radix: 16)) in \(line.prefix(80))", sourceLocation: sourceLocation)
    }
}

@Suite("showing text from files: one escaping step, bounded lines")
struct DisplayTests {
    let folder: URL

    init() throws { folder = try Fixture.temporaryFolder() }

    func write(_ name: String, _ bytes: [UInt8]) throws -> String {
        let path = folder.appendingPathComponent(name).path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    /// A safetensors file whose names and metadata are hostile.
    func hostileSafetensors() throws -> String {
        let one = SafetensorsBytes.floats([1])
        return try write("hostile.safetensors", SafetensorsBytes.file([
            (HostileText.colour, "F32", [1], one), (HostileText.carriageReturn, "F32", [1], SafetensorsBytes.floats([.nan])),
            (HostileText.fakeRow, "F32", [1], one), (HostileText.bidi, "F32", [1], one), (HostileText.backslash, "I32", [1], one),
        ], metadata: [(HostileText.title, "v\nw")]))
    }

    @Test("inspect shows every name and metadata entry escaped, one row per tensor")
    func inspect() throws {
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = try hostileSafetensors()
        let result = try modelfile("inspect", path)
        #expect(result.status == 0)
        #expect(result.stdout == """
            \(path)
              format    safetensors
              size      452 bytes (452 B)
              metadata  \(HostileText.titleShown)=v\\nw

            NAME                                DTYPE  SHAPE  SIZE
            \(HostileText.colourShown)                 F32    [1]    4 B
            \(HostileText.carriageReturnShown)                 F32    [1]    4 B
            \(HostileText.fakeRowShown)  F32    [1]    4 B
            \(HostileText.bidiShown)                        F32    [1]    4 B
            \(HostileText.backslashShown)                              I32    [1]    4 B

            5 tensors, 5 parameters, 20 B
              F32  4 tensors  16 B
              I32  1 tensors   4 B

            """)
        expectSafeLines(result.stdout)
    }

    @Test("--json carries the exact strings, escaped by JSON's rules")
    func json() throws {
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = try hostileSafetensors()
        let result = try modelfile("inspect", "--json", path)
        #expect(result.status == 0)
        #expect(result.stdout.contains(#""name": "d\u202ethgir""#), "format characters are \\u escapes in JSON")
        #expect(result.stdout.contains(#""k\u001b]0;owned\u0007": "v\nw""#))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let names = (object["tensors"] as? [[String: Any]])?.compactMap { $0["name"] as? String }
        #expect(names == [HostileText.colour, HostileText.carriageReturn, HostileText.fakeRow, HostileText.bidi, HostileText.backslash])
        #expect((object["metadata"] as? [String: String]) == [HostileText.title: "v\nw"])
    }

    @Test("verify: the finding and the non-finite row name the tensor escaped")
    func verify() throws {
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = try hostileSafetensors()
        let result = try modelfile("verify", path)
        #expect(result.status == 1)
        #expect(result.stdout == """
            \(path): safetensors, 5 tensors read
            NAME                 DTYPE  NON-FINITE
            \(HostileText.carriageReturnShown)  F32    1
            finding: tensor "\(HostileText.carriageReturnShown)": 1 of 1 values are NaN or infinite
            1 finding(s)

            """)
    }

    @Test("diff: names only in one file and changed tensors are escaped")
    func diff() throws {
        defer { try? FileManager.default.removeItem(at: folder) }
        let a = try write("a.safetensors", SafetensorsBytes.file([
            (HostileText.colour, "F32", [1], SafetensorsBytes.floats([1])), (HostileText.fakeRow, "F32", [1], SafetensorsBytes.floats([1])),
        ]))
        let b = try write("b.safetensors", SafetensorsBytes.file([
            (HostileText.bidi, "F32", [1], SafetensorsBytes.floats([1])), (HostileText.fakeRow, "F32", [1], SafetensorsBytes.floats([2])),
        ]))
        let result = try modelfile("diff", a, b)
        #expect(result.status == 1)
        #expect(result.stdout == """
            only in A: \(HostileText.colourShown)
            only in B: \(HostileText.bidiShown)
            \(HostileText.fakeRowShown)  max |a−b| 1.0  DIFFERENT
            1 common tensors (0 identical), 1 only in A, 1 only in B: different

            """)
    }

    @Test("scan: imports spelled with control characters cannot forge a verdict line")
    func scan() throws {
        defer { try? FileManager.default.removeItem(at: folder) }
        // STACK_GLOBAL over two strings: a module carrying a line break and a fake verdict.
        let module = "posix\nclean"
        let pickle = [0x80, 0x04] + P.string(module) + P.string("system\u{1b}[2K") + P.stackGlobal + P.tuple([P.string("true")]) + P.reduce + P.stop
        let path = try write("stack.pth", TorchZip(pickle: pickle).bytes)
        let result = try modelfile("scan", path)
        #expect(result.status == 1)
        #expect(result.stdout.contains(#"    REFUSED  posix\nclean.system\x1b[2K"#))
        #expect(result.stdout.contains(#"finding: \#(path): archive/data.pkl at byte 33: STACK_GLOBAL posix\nclean.system\x1b[2K is outside the weights-only allowlist"#))
        #expect(!result.stdout.split(separator: "\n").contains("clean"), "no line reads as a clean verdict")
        #expect(result.stdout.hasSuffix("finding(s)\n"))
        expectSafeLines(result.stdout)
        let json = try modelfile("scan", "--json", path)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        let globals = ((object["pickles"] as? [[String: Any]])?.first?["globals"] as? [[String: Any]])?.compactMap { $0["name"] as? String }
        #expect(globals == ["posix\nclean.system\u{1b}[2K", "?"] || globals?.first == "posix\nclean.system\u{1b}[2K")
    }

    @Test("errors are one line starting modelfile: error:, the file's text escaped")
    func errors() throws {
        defer { try? FileManager.default.removeItem(at: folder) }
        // A view that reaches past its storage, under a name that tries to clear the screen and start a new line.
        let name = "w\u{1b}[2J\nmodelfile: wrote 1 tensors"
        let tensor = P.rebuildV2(P.storage(numel: 4), offset: 2, size: [4], stride: [1])
        let path = try write("geometry.pth", TorchZip(pickle: P.pickle(P.stateDict([(name, tensor)])), storages: [float32Bytes([1, 2, 3, 4])]).bytes)
        let output = folder.appendingPathComponent("out.safetensors").path
        for arguments in [["inspect", path], ["convert", path, output]] {
            let result = try modelfile(arguments)
            #expect(result.status == 2)
            #expect(result.stdout.isEmpty)
            #expect(result.stderr == #"modelfile: error: \#(path): tensor "w\x1b[2J\nmodelfile: wrote 1 tensors" in data/0 (FloatStorage, 16 bytes): view (offset 2, size [4], stride [1]) reaches element 5 of a 4-element storage"# + "\n")
        }
    }

    @Test("warnings start modelfile: warning: and show names escaped")
    func warnings() throws {
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = try write("mixed.safetensors", SafetensorsBytes.file([
            (HostileText.colour, "F64", [1], P.le(Double(1).bitPattern)), (HostileText.fakeRow, "F8_E4M3", [1], [0x38]),
        ]))
        let result = try modelfile("convert", path, folder.appendingPathComponent("half.safetensors").path, "--dtype", "f16")
        #expect(result.status == 0)
        let lines = result.stderr.split(separator: "\n")
        #expect(lines.count == 2)
        #expect(lines.first == #"modelfile: warning: --dtype leaves 1 tensor(s) of other float types unchanged: \#(HostileText.fakeRowShown)"#)
        #expect(lines.last?.hasPrefix("wrote 2 tensors to ") == true)
    }

    @Test("a 100,000-character name is shortened visibly in tables and messages; JSON keeps it whole")
    func longNames() throws {
        defer { try? FileManager.default.removeItem(at: folder) }
        let long = HostileText.long
        let path = try write("long.safetensors", SafetensorsBytes.file([
            (long, "F32", [1], SafetensorsBytes.floats([.infinity])), ("short", "F32", [1], SafetensorsBytes.floats([1])),
        ]))
        let inspect = try modelfile("inspect", path)
        #expect(inspect.status == 0)
        expectSafeLines(inspect.stdout)
        let shortened = String(repeating: "n", count: 117) + "…[100,000 characters]…" + String(repeating: "n", count: 117)
        #expect(inspect.stdout.contains("\n" + shortened + "  F32    [1]    4 B\n"))
        #expect(inspect.stdout.contains("\nshort  F32    [1]    4 B\n"), "the short name's column is not padded to the long one")
        let verify = try modelfile("verify", path)
        #expect(verify.status == 1)
        expectSafeLines(verify.stdout)
        #expect(verify.stdout.contains("[100,0"), "the finding says how long the name is")
        let json = try modelfile("inspect", "--json", path)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        #expect((object["tensors"] as? [[String: Any]])?.first?["name"] as? String == long)
        // An error naming the long tensor stays one line of at most 1024 characters.
        let tensor = P.rebuildV2(P.storage(numel: 4), offset: 2, size: [4], stride: [1])
        let broken = try write("long.pth", TorchZip(pickle: P.pickle(P.stateDict([(long, tensor)])), storages: [float32Bytes([1, 2, 3, 4])]).bytes)
        let error = try modelfile("inspect", broken)
        #expect(error.status == 2)
        #expect(error.stderr.split(separator: "\n").count == 1)
        #expect(error.stderr.hasPrefix("modelfile: error: \(broken): tensor \"nnnn"))
        #expect(error.stderr.hasSuffix("reaches element 5 of a 4-element storage\n"))
        #expect(error.stderr.unicodeScalars.count <= 1025)
    }

    @Test("warnings go to stderr as modelfile: warning: lines; --quiet silences them, never errors")
    func warningsAndQuiet() throws {
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = Fixture.path("torch/big_endian.pth")
        let loud = try modelfile("inspect", path)
        #expect(loud.status == 0 && !loud.stdout.contains("warning"))
        #expect(loud.stderr == "modelfile: warning: big-endian archive: storages are byte-swapped as they are read\n")
        let quiet = try modelfile("inspect", "--quiet", path)
        #expect(quiet.status == 0 && quiet.stderr.isEmpty && quiet.stdout == loud.stdout)
        let converted = try modelfile("convert", "--quiet", path, folder.appendingPathComponent("q.safetensors").path)
        #expect(converted.status == 0 && converted.stderr.isEmpty)
        let failed = try modelfile("inspect", "--quiet", folder.appendingPathComponent("missing.pth").path)
        #expect(failed.status == 2 && failed.stderr.hasPrefix("modelfile: error: "))
    }

    @Test("a budget that a file goes over is recognised by type and says how to raise it")
    func limitHint() throws {
        let path = Fixture.path("torch/state_dict.pth")
        let result = try modelfile("inspect", "--limits", "maxTreeNodes=2", path)
        #expect(result.status == 2)
        #expect(result.stderr == "modelfile: error: \(path): the object tree expands to more than 2 nodes, counting shared references each time they are reached (limit maxTreeNodes); raise it with --limits maxTreeNodes=VALUE if the file is trusted\n")
        let opcodes = try modelfile("inspect", "--limits", "maxOpcodeCount=5", path)
        #expect(opcodes.stderr.hasSuffix("(limit maxOpcodeCount); raise it with --limits maxOpcodeCount=VALUE if the file is trusted\n"))
        // An error whose text from the file reads like a limit gets no hint: limits are known by type.
        defer { try? FileManager.default.removeItem(at: folder) }
        let tensor = P.rebuildV2(P.storage(numel: 4), offset: 2, size: [4], stride: [1])
        let mimic = try write("mimic.pth", TorchZip(pickle: P.pickle(P.stateDict([("w (limit maxTreeNodes)", tensor)])),
                                                    storages: [float32Bytes([1, 2, 3, 4])]).bytes)
        let named = try modelfile("inspect", mimic)
        #expect(named.status == 2 && named.stderr.contains("(limit maxTreeNodes)") && !named.stderr.contains("raise it with"))
    }

    @Test("several metadata entries are listed one per row, each shortened on its own")
    func metadataRows() throws {
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = try write("meta.safetensors", SafetensorsBytes.file([("w", "F32", [1], SafetensorsBytes.floats([1]))],
                                                                       metadata: [("format", "pt"), ("ss_tag_frequency", String(repeating: "x", count: 5000)), ("a", "1")]))
        let result = try modelfile("inspect", path)
        let lines = result.stdout.split(separator: "\n").map(String.init)
        #expect(lines[3] == "  metadata  a=1")
        #expect(lines[4] == "            format=pt")
        #expect(lines[5].hasPrefix("            ss_tag_frequency=xxx") && lines[5].contains("…[5,017 characters]…"))
        #expect(lines[5].unicodeScalars.count == 12 + 256)
    }

    @Test("usage errors are one modelfile: error: line, the argument escaped, then the usage")
    func usage() throws {
        let result = try modelfile("inspect", "--filter")
        #expect(result.status == 64)
        let lines = result.stderr.split(separator: "\n")
        #expect(lines.first == "modelfile: error: Missing value for '--filter <filter>'")
        #expect(lines.dropFirst().first?.hasPrefix("Usage: modelfile inspect") == true)
        let hostile = try modelfile("frob\u{1b}[31m\nnice")
        #expect(hostile.status == 64)
        #expect(hostile.stderr.hasPrefix(#"modelfile: error: Unexpected argument 'frob\x1b[31m\nnice'"# + "\n"))
        let none = try modelfile()
        #expect(none.status == 64 && none.stdout.isEmpty && none.stderr.hasPrefix("OVERVIEW: "))
        let help = try modelfile("help", "scan")
        #expect(help.status == 0 && help.stdout.hasPrefix("OVERVIEW: ") && help.stderr.isEmpty)
    }
}
