import BinaryIO
import ModelFormats

// `scan` of a GGUF file: GGUF holds metadata and tensors, never code, so there is nothing to
// import or call. The whole header is still read (as inspect reads it; a fault refuses the file),
// and chat templates, which runtimes render with Jinja, are searched for the attribute walks that
// template-injection attacks use (docs/security.md, "What scan covers").

enum GGUFScan {
    /// Names a Jinja sandbox escape needs; none belongs in a chat template.
    static let templateInjectionMarkers = [
        "__class__", "__subclasses__", "__globals__", "__builtins__", "__import__", "__mro__", "__base__", "__init__",
        "popen", "subprocess", "os.system", "eval(", "exec(",
    ]

    /// Scans the GGUF file in `bytes`.
    ///
    /// - Throws: `GGUFError` when the header is not valid GGUF.
    static func scan(_ bytes: UnsafeRawBufferPointer, name: String, options: ReadOptions, findings: inout [ScanFinding]) throws -> ScannedFile {
        let header = try GGUFHeader.parse(file: bytes, maxTensorRank: options.maxTensorRank)
        for entry in header.metadata where entry.key.contains("chat_template") {
            var templates: [String] = []
            if case .string(let text) = entry.value { templates.append(text.text) }
            if case .array(let array) = entry.value, array.itemType == .string {
                for case .string(let text) in array.items() { templates.append(text.text) }
            }
            for template in templates {
                let lowered = template.lowercased()
                let found = templateInjectionMarkers.filter { lowered.contains($0) }
                if !found.isEmpty {
                    findings.append(.chatTemplateInjection(file: name, key: entry.key, offset: entry.fileOffset, markers: found))
                }
            }
        }
        return ScannedFile(path: name, content: .gguf, pickles: [])
    }
}
