import Foundation
import Testing
import TestSupport

@Suite("modelfile command on GGUF files")
struct GGUFCLITests {
    @Test("inspect prints version, alignment, typed metadata, ggml types and totals by type")
    func inspectTable() throws {
        let result = try modelfile("inspect", Fixture.path("gguf/tiny_llama.gguf"))
        #expect(result.status == 0)
        #expect(result.stdout.contains("  format     gguf\n"))
        #expect(result.stdout.contains("  version    GGUF 3\n"))
        #expect(result.stdout.contains("  alignment  32 bytes"))
        #expect(result.stdout.contains("general.name                            STRING          \"tiny-llama\""))
        #expect(result.stdout.contains("tokenizer.ggml.tokens                   ARRAY[STRING]   100 items: [\"<unk>\", \"<s>\", \"</s>\", \"<0x00>\""))
        #expect(result.stdout.contains("blk.0.attn_q.weight     Q8_0  [32, 32]   1.06 KiB"))
        #expect(result.stdout.contains("5 tensors, 5,312 parameters, 8.13 KiB"))
        #expect(result.stdout.contains("  Q8_0  1 tensors  1.06 KiB"))
        #expect(result.stderr.isEmpty)
    }

    @Test("the table escapes control characters and bidirectional overrides in metadata")
    func escaping() throws {
        let result = try modelfile("inspect", Fixture.path("gguf/metadata.gguf"))
        #expect(result.status == 0)
        #expect(result.stdout.contains(#""line1\nline2\t\x1b[31mred\x1b[0m \u202egnp.exe\r""#))
        #expect(!result.stdout.contains("\u{1b}"))
        #expect(!result.stdout.contains("\u{202E}"))
    }

    @Test("inspect --json summarises long arrays; --full gives them whole; integers are exact")
    func inspectJSON() throws {
        let result = try modelfile("inspect", "--json", Fixture.path("gguf/metadata.gguf"))
        #expect(result.status == 0)
        #expect(result.stdout.contains(#""u64.max": {"#))
        #expect(result.stdout.contains(#""value": 18446744073709551615"#))
        #expect(result.stdout.contains(#""value": -9223372036854775808"#))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(object["version"] as? Int == 3)
        #expect(object["alignment"] as? Int == 64)
        let metadata = try #require(object["metadata"] as? [String: [String: Any]])
        #expect(metadata["array.long"]?["length"] as? Int == 100)
        #expect((metadata["array.long"]?["first"] as? [String])?.count == 8)
        #expect(metadata["array.long"]?["value"] == nil)
        #expect(metadata["f32.nan"]?["value"] as? String == "nan")
        let tensors = try #require(object["tensors"] as? [[String: Any]])
        #expect(tensors.map { $0["ggml_type"] as? String } == ["F32", "Q8_0"])
        #expect(tensors.map { $0["offset"] as? Int } == [3392, 3456])
        let full = try modelfile("inspect", "--json", "--full", Fixture.path("gguf/metadata.gguf"))
        let fullObject = try #require(try JSONSerialization.jsonObject(with: Data(full.stdout.utf8)) as? [String: Any])
        let fullMetadata = try #require(fullObject["metadata"] as? [String: [String: Any]])
        #expect((fullMetadata["array.long"]?["value"] as? [String])?.count == 100)
    }

    @Test("convert to safetensors, back to GGUF with --dtype q8_0, and the usage checks")
    func convert() throws {
        let folder = try Fixture.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let safetensors = folder.appendingPathComponent("tiny.safetensors").path
        let converted = try modelfile("convert", "--quiet", Fixture.path("gguf/tiny_llama.gguf"), safetensors)
        #expect(converted.status == 0)
        // An extension outside convert's list is fine with --to (`.bin` names .pth: a usage error).
        let gguf = folder.appendingPathComponent("tiny.q8").path
        let back = try modelfile("convert", safetensors, gguf, "--to", "gguf", "--dtype", "q8_0")
        #expect(back.status == 0, "\(back.stderr)")
        let inspected = try modelfile("inspect", gguf)
        #expect(inspected.stdout.contains("token_embd.weight       Q8_0  [100, 32]"))
        #expect(inspected.stdout.contains("blk.0.attn_norm.weight  F32   [32]"))
        let wrong = try modelfile("convert", safetensors, folder.appendingPathComponent("x.safetensors").path, "--dtype", "q8_0")
        #expect(wrong.status == 64)
        #expect(wrong.stderr.contains("--dtype q8_0 writes GGUF blocks"))
        let spelled = try modelfile("convert", "gguf-to-safetensors", Fixture.path("gguf/tiny_llama.gguf"), folder.appendingPathComponent("y.safetensors").path)
        #expect(spelled.status == 0)
    }

    @Test("verify: clean for a good file; each missing tensor of a truncated one is a finding")
    func verify() throws {
        #expect(try modelfile("verify", Fixture.path("gguf/tiny_llama.gguf")).status == 0)
        let folder = try Fixture.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let cut = folder.appendingPathComponent("cut.gguf")
        let bytes = try Fixture.bytes("gguf/tiny_llama.gguf")
        try Data(bytes.prefix(bytes.count - 100)).write(to: cut)
        let result = try modelfile("verify", cut.path)
        #expect(result.status == 1)
        #expect(result.stdout.contains("finding: tensor \"output_norm.weight\": 128 bytes at byte 11360 run past the end of the 11388-byte file"))
        // What llama.cpp refuses but gguf-py reads is a warning on stderr: the file verifies clean.
        let metadata = try modelfile("verify", Fixture.path("gguf/metadata.gguf"))
        #expect(metadata.status == 0, "nested arrays: gguf-py reads them; only llama.cpp would refuse the file")
        #expect(metadata.stdout.contains("\nclean\n"))
        #expect(metadata.stderr.contains("modelfile: warning: \"array.nested\" is an array of arrays, which llama.cpp does not read (gguf-py reads it)\n"))
        let quiet = try modelfile("verify", "--quiet", Fixture.path("gguf/metadata.gguf"))
        #expect(quiet.status == 0 && quiet.stderr.isEmpty)
    }

    @Test("scan says GGUF holds no code, and flags a template-injection chat template")
    func scan() throws {
        let clean = try modelfile("scan", Fixture.path("gguf/tiny_llama.gguf"))
        #expect(clean.status == 0)
        #expect(clean.stdout.contains("gguf (no code: metadata and tensors only)"))
        let injected = try modelfile("scan", Fixture.path("gguf/chat_template_injection.gguf"))
        #expect(injected.status == 1)
        #expect(injected.stdout.contains("\"tokenizer.chat_template\" at byte 2716: the chat template uses __globals__, __init__, popen"))
    }

    @Test("a hostile GGUF is one error line and exit 2; a big-endian file is refused by name")
    func refusals() throws {
        let folder = try Fixture.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        var b = GGUFBytes.header(tensors: .max, entries: 0)
        b.data(8)
        let path = folder.appendingPathComponent("hostile.gguf")
        try Data(b.bytes).write(to: path)
        let result = try modelfile("inspect", path.path)
        #expect(result.status == 2)
        #expect(result.stderr == "modelfile: error: \(path.path): at byte 8: tensor count 18446744073709551615 cannot fit in the 8 bytes that follow (each takes at least 24)\n")
        let big = try modelfile("inspect", Fixture.path("gguf/bad_big_endian.gguf"))
        #expect(big.status == 2)
        #expect(big.stderr.contains("big-endian GGUF file, which modelfile does not read"))
    }

    @Test("diff compares a GGUF file with its conversion")
    func diff() throws {
        let folder = try Fixture.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let copy = folder.appendingPathComponent("copy.gguf").path
        #expect(try modelfile("convert", "--quiet", Fixture.path("gguf/tiny_llama.gguf"), copy).status == 0)
        let result = try modelfile("diff", Fixture.path("gguf/tiny_llama.gguf"), copy)
        #expect(result.status == 0)
        #expect(result.stdout.contains("5 common tensors (5 identical), 0 only in A, 0 only in B: equal"))
    }
}
