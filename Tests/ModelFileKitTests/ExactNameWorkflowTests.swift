import ModelFileKit
import ModelFormats
import TensorData
import Testing
import TestSupport

/// Workflows compare names by their bytes: the canonically equivalent pairs of
/// Fixtures/exact_strings survive inspect, convert (to safetensors and .pth), diff, --select,
/// --strip-prefix and --filter as two names.
@Suite("workflows: exact names")
struct ExactNameWorkflowTests {
    static let pair = Fixture.path("exact_strings/normalization_pair.safetensors")
    static let pairNames: [[UInt8]] = [[0x6C, 0x61, 0x79, 0x65, 0x72, 0x2E, 0x4B], [0x6C, 0x61, 0x79, 0x65, 0x72, 0x2E, 0xE2, 0x84, 0xAA],
                                       [0x65, 0xCC, 0x81], [0xC3, 0xA9]]

    static func names(_ source: TensorSource) -> [[UInt8]] { source.entries.map { Array($0.name.utf8) } }

    @Test("inspect lists both spellings of each pair")
    func inspect() throws {
        let inspection = try Inspection.inspect(path: Self.pair)
        #expect(inspection.tensors.count == 4)
        #expect(Set(inspection.tensors.map { Array($0.name.utf8) }) == Set(Self.pairNames))
        #expect(inspection.metadata?.count == 2)
    }

    @Test("convert to safetensors and to .pth keeps both names and their bytes", arguments: ["out.safetensors", "out.pth"])
    func convert(output: String) throws {
        let folder = try Fixture.temporaryFolder()
        let path = folder.appendingPathComponent(output).path
        let result = try Conversion.convert(input: Self.pair, output: path, options: ConversionOptions())
        #expect(result.tensorCount == 4)
        let source = try ModelFile.open(Self.pair)
        let converted = try ModelFile.open(path)
        #expect(Set(Self.names(converted)) == Set(Self.pairNames))
        for (index, entry) in source.entries.enumerated() {
            let other = try #require(converted.index(of: entry.name))
            #expect(try converted.tensor(at: other) == source.tensor(at: index), "\(Array(entry.name.utf8))")
        }
    }

    @Test("a NUL inside a name survives convert both ways")
    func nulRoundTrip() throws {
        let folder = try Fixture.temporaryFolder()
        let pth = folder.appendingPathComponent("nul.pth").path
        let back = folder.appendingPathComponent("nul.safetensors").path
        _ = try Conversion.convert(input: Fixture.path("exact_strings/nul_in_key.safetensors"), output: pth, options: ConversionOptions())
        _ = try Conversion.convert(input: pth, output: back, options: ConversionOptions())
        let file = try SafetensorsFile(path: back)
        #expect(Set(Self.names(file)) == [[0x61, 0x00, 0x62], [0x61]])
        #expect(try file.tensor(at: try #require(file.index(of: "a\u{0}b"))).bytes.array == [0, 1])
    }

    @Test("diff matches tensors by the bytes of their names")
    func diff() throws {
        // The same file against itself: every name matches itself, none matches its twin.
        let same = try DiffReport.diff(Self.pair, Self.pair)
        #expect(same.isEqual && same.common.count == 4 && same.onlyInA.isEmpty && same.onlyInB.isEmpty)
        // Against the .pth torch.save wrote from the same tensors.
        let pth = try DiffReport.diff(Self.pair, Fixture.path("exact_strings/normalization_pair.pth"))
        #expect(pth.isEqual && pth.common.count == 4)
        // Against a file holding only the precomposed spelling, with the decomposed one's values:
        // "é" differs in shape, "e\u{301}" is only in A.
        let folder = try Fixture.temporaryFolder()
        let path = folder.appendingPathComponent("one.safetensors").path
        let decomposed = try ModelFile.open(Self.pair).stateDict()["e\u{301}"]
        var state = StateDict()
        try state.append("\u{E9}", try #require(decomposed))
        try SafetensorsWriter.write(state, to: path, metadata: nil, overwrite: false)
        let report = try DiffReport.diff(Self.pair, path)
        #expect(report.onlyInA.map { Array($0.utf8) } == [Self.pairNames[0], Self.pairNames[2], Self.pairNames[1]], "in A's order")
        #expect(report.onlyInB.isEmpty)
        #expect(report.common.map { Array($0.name.utf8) } == [[0xC3, 0xA9]])
        #expect(report.common.first?.shapes.0 == [4] && report.common.first?.shapes.1 == [2, 3])
    }

    @Test("--select and --strip-prefix match bytes, not characters")
    func selectAndStrip() throws {
        let folder = try Fixture.temporaryFolder()
        // --strip-prefix "layer." then "e": the bytes decide.
        var options = ConversionOptions()
        options.stripPrefix = "layer."
        let stripped = folder.appendingPathComponent("stripped.safetensors").path
        _ = try Conversion.convert(input: Self.pair, output: stripped, options: options)
        #expect(Set(Self.names(try SafetensorsFile(path: stripped))) == [[0x4B], [0xE2, 0x84, 0xAA], [0x65, 0xCC, 0x81], [0xC3, 0xA9]])
        options.stripPrefix = "e"
        let strippedE = folder.appendingPathComponent("stripped-e.safetensors").path
        _ = try Conversion.convert(input: Self.pair, output: strippedE, options: options)
        // "e\u{301}" starts with the byte "e" (Python's startswith agrees); "é" does not.
        #expect(Set(Self.names(try SafetensorsFile(path: strippedE))).contains([0xCC, 0x81]))
        #expect(Set(Self.names(try SafetensorsFile(path: strippedE))).contains([0xC3, 0xA9]))
        // --select of the Kelvin-sign spelling takes only its subtree.
        var select = ConversionOptions()
        select.select = "layer"
        let selected = folder.appendingPathComponent("selected.safetensors").path
        _ = try Conversion.convert(input: Self.pair, output: selected, options: select)
        #expect(Set(Self.names(try SafetensorsFile(path: selected))) == [[0x4B], [0xE2, 0x84, 0xAA]])
        select.select = "\u{E9}"
        let one = folder.appendingPathComponent("one.safetensors").path
        _ = try Conversion.convert(input: Self.pair, output: one, options: select)
        #expect(Self.names(try SafetensorsFile(path: one)) == [[0xC3, 0xA9]])
        // Renaming two names to the same bytes is a collision; to canonically equal ones is not.
        func file(_ names: [String]) throws -> String {
            var state = StateDict()
            for name in names { try state.append(name, try RawTensor(dtype: .u8, shape: [1], bytes: TensorBytes(copying: [1]))) }
            let path = folder.appendingPathComponent("in-\(names.count)-\(Array(names.joined().utf8).count).safetensors").path
            try SafetensorsWriter.write(state, to: path, metadata: nil, overwrite: true)
            return path
        }
        var strip = ConversionOptions()
        strip.stripPrefix = "p."
        let renamed = folder.appendingPathComponent("renamed.safetensors").path
        _ = try Conversion.convert(input: try file(["p.\u{E9}", "e\u{301}"]), output: renamed, options: strip)
        #expect(Set(Self.names(try SafetensorsFile(path: renamed))) == [[0xC3, 0xA9], [0x65, 0xCC, 0x81]])
        do {
            _ = try Conversion.convert(input: try file(["p.a", "a"]), output: folder.appendingPathComponent("c.safetensors").path, options: strip)
            Issue.record("two tensors renamed to \"a\" were written")
        } catch let error as ModelFileError {
            #expect(error.underlying as? ConversionError == .nameCollision("a"))
        }
    }

    @Test("--filter matches scalars exactly and whole names, NUL included")
    func filter() throws {
        #expect(Inspection.matches("e\u{301}", glob: "e*"))
        #expect(!Inspection.matches("\u{E9}", glob: "e*"))
        #expect(Inspection.matches("\u{E9}", glob: "?"))
        #expect(!Inspection.matches("e\u{301}", glob: "?"))
        #expect(Inspection.matches("a\u{0}b", glob: "a?b"))
        #expect(!Inspection.matches("a\u{0}b", glob: "a"), "fnmatch would stop at the NUL and match")
        #expect(Inspection.matches("layer.\u{212A}", glob: "layer.[\u{212A}]"))
        #expect(!Inspection.matches("layer.K", glob: "layer.[\u{212A}]"))
        #expect(Inspection.matches("blocks.10.attn.weight", glob: "blocks.1?.*.weight"))
        #expect(Inspection.matches("x.bias", glob: "*.[!w]*"))
        #expect(!Inspection.matches("x.weight", glob: "*.[!w]*"))
        #expect(Inspection.matches("a*b", glob: #"a\*b"#))
        #expect(!Inspection.matches("axb", glob: #"a\*b"#))
        #expect(Inspection.matches("[", glob: "["), "an unclosed bracket is a character")
        let inspection = try Inspection.inspect(path: Self.pair, filter: "e*")
        #expect(inspection.tensors.map { Array($0.name.utf8) } == [[0x65, 0xCC, 0x81]])
    }
}
