import ExactText
import Testing

@Suite("exact strings")
struct ExactStringTests {
    @Test("canonically equivalent spellings are different exact strings, as in Python")
    func canonicalPairs() {
        let pairs: [(String, String)] = [("\u{E9}", "e\u{301}"), ("\u{212A}", "K"), ("\u{37E}", ";"), ("\u{2126}", "\u{3A9}"), ("\u{1E9B}\u{323}", "\u{17F}\u{323}\u{307}")]
        for (a, b) in pairs {
            #expect(a == b, "Swift's String == merges \(Array(a.unicodeScalars)) and \(Array(b.unicodeScalars))")
            #expect(ExactString(a) != ExactString(b))
            #expect(!a.isByteEqual(to: b))
            #expect(Set([ExactString(a), ExactString(b)]).count == 2)
            #expect([ExactString(a): 1, ExactString(b): 2].count == 2)
        }
        #expect(Set(["\u{E9}", "e\u{301}"]).count == 1, "the merge ExactString exists to avoid")
    }

    @Test("equal bytes are equal, including NUL")
    func equal() {
        #expect(ExactString("a\u{0}b") == ExactString("a\u{0}b"))
        #expect(ExactString("a\u{0}b") != ExactString("a"))
        #expect(ExactString("a\u{0}b").hashValue == ExactString("a\u{0}b").hashValue)
    }

    @Test("order is byte order")
    func order() {
        let sorted = ["b", "\u{E9}", "e\u{301}", "a", "B", "\u{212A}", "K"].map { ExactString($0) }.sorted().map(\.string)
        #expect(sorted.map { Array($0.utf8) } == [[0x42], [0x4B], [0x61], [0x62], [0x65, 0xCC, 0x81], [0xC3, 0xA9], [0xE2, 0x84, 0xAA]])
    }

    @Test("byte prefixes follow the bytes, not the characters")
    func prefixes() {
        #expect("e\u{301}x".hasBytePrefix("e"))
        #expect(!"e\u{301}x".hasPrefix("e"), "Swift's hasPrefix compares characters")
        #expect(!"\u{E9}x".hasBytePrefix("e\u{301}"))
        #expect("\u{E9}x".hasPrefix("e\u{301}"), "... under canonical equivalence")
        #expect("e\u{301}x".droppingBytePrefix("e").map { Array($0.unicodeScalars) } == ["\u{301}", "x"])
        #expect("model.a".droppingBytePrefix("model.") == "a")
        #expect("mod".droppingBytePrefix("model.") == nil)
        #expect("a\u{0}b".droppingBytePrefix("a\u{0}") == "b")
    }

    @Test("messages quote text in plain double quotes and keep it exactly (the command escapes it once)")
    func quoting() {
        #expect("fc.weight".quotedForMessage == #""fc.weight""#)
        #expect("a\"b\\c".quotedForMessage == "\"a\"b\\c\"")
        #expect("a\nb\r\t\u{0}\u{1B}[31m".quotedForMessage == "\"a\nb\r\t\u{0}\u{1B}[31m\"")
        let hostile = "x\u{202E}y\u{2028}\u{85}\u{7F}\u{200B}\u{FEFF}\u{E0001}"
        #expect(hostile.quotedForMessage.utf8.elementsEqual(("\"" + hostile + "\"").utf8), "byte for byte, nothing escaped")
        #expect(!hostile.quotedForMessage.contains("\\u"))
        #expect("\u{E9} e\u{301} \u{1F600}".quotedForMessage == "\"\u{E9} e\u{301} \u{1F600}\"")
    }

    @Test("globs match scalar by scalar, in the shell's syntax and in Python's fnmatch")
    func globs() {
        #expect(ScalarGlob("encoder.*.weight").matches("encoder.layers.0.weight"), "* crosses dots")
        #expect(ScalarGlob("*.bin").matches("sub/folder/model.bin"), "and slashes")
        #expect(ScalarGlob("layer.?").matches("layer.\u{212A}") && !ScalarGlob("layer.K").matches("layer.\u{212A}"), "never normalized")
        #expect(ScalarGlob("a*").matches("a\u{0}b"), "a NUL is matched whole")
        #expect(ScalarGlob("w[!0-9]").matches("wx") && !ScalarGlob("w[!0-9]").matches("w5"))
        #expect(ScalarGlob("[]x]").matches("]") && ScalarGlob("[").matches("["), "a leading ] is a member; an unclosed [ is itself")
        // The shell's: backslash escapes and [^x] negates.
        #expect(ScalarGlob("a\\*").matches("a*") && !ScalarGlob("a\\*").matches("ab"))
        #expect(ScalarGlob("[^x]").matches("y") && !ScalarGlob("[^x]").matches("x"))
        // Python's fnmatch: no escape character, and ^ is an ordinary member.
        #expect(ScalarGlob("a\\*", syntax: .pythonFnmatch).matches("a\\bc"))
        #expect(ScalarGlob("[^x]", syntax: .pythonFnmatch).matches("^") && !ScalarGlob("[^x]", syntax: .pythonFnmatch).matches("y"))
    }
}
