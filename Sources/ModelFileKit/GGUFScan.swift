import ModelFormats

// `scan` of a GGUF file: GGUF holds metadata and tensors, never code, so there is nothing to
// import or call. The structure is still checked (the whole header, as inspect reads it), and
// chat templates, which runtimes render with Jinja, are searched for the attribute walks that
// template-injection attacks use (docs/security.md).

extension ScanReport {
    /// Names a Jinja sandbox escape needs; none belongs in a chat template.
    static let templateInjectionMarkers = [
        "__class__", "__subclasses__", "__globals__", "__builtins__", "__import__", "__mro__", "__base__", "__init__",
        "popen", "subprocess", "os.system", "eval(", "exec(",
    ]

    static func scanGGUF(_ path: String) -> ScanReport {
        let kind = "gguf (no code: metadata and tensors only)"
        let file: GGUFFile
        do {
            file = try GGUFFile(path: path)
        } catch {
            return ScanReport(path: path, kind: kind, pickles: [], findings: ["structure: \(error)"])
        }
        var findings: [String] = []
        for entry in file.header.metadata where entry.key.contains("chat_template") {
            var templates: [String] = []
            if case .string(let text) = entry.value { templates.append(text.text) }
            if case .array(let array) = entry.value, array.itemType == .string {
                for case .string(let text) in array.items() { templates.append(text.text) }
            }
            for template in templates {
                let lowered = template.lowercased()
                let found = templateInjectionMarkers.filter { lowered.contains($0) }
                if !found.isEmpty {
                    findings.append("\"\(entry.key)\" at byte \(entry.fileOffset): the chat template uses \(found.joined(separator: ", ")), as Jinja template-injection attacks do (runtimes render this template)")
                }
            }
        }
        return ScanReport(path: path, kind: kind, pickles: [], findings: findings)
    }
}
