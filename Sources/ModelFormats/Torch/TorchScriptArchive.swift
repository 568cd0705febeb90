import ZipFormat

// A TorchScript archive (`torch.jit.save`) is a torch zip archive that also holds the module's
// code: `code/__torch__/….py` (TorchScript source, one file per Python module), `constants.pkl`
// (a tuple of the tensors the code refers to as `CONSTANTS.c0`, `CONSTANTS.c1`, …, with their
// storages under `constants/`), and often `traced_inputs.pkl`. Its `data.pkl` pickles the module
// tree: each module is an object of a `__torch__.…` class whose BUILD state holds its attributes
// (parameters, buffers, submodules and plain values) in the class's slot order. Which attributes
// are parameters and which are buffers is written only in the code, as the class's
// `__parameters__ = […]` and `__buffers__ = […]` lines (docs/formats.md, "TorchScript archives").
//
// modelfile reads the code as text to find those two lines and nothing else; nothing in the
// archive is compiled or run.

/// What makes a zip archive TorchScript, and what it holds besides tensors: found by `inspect` and
/// `scan` alike (``detect(in:)``).
public struct TorchScriptArchive: Sendable, Equatable {
    /// The archive's folder (the text before the first `/` of its entries).
    public let folder: String
    /// The code records (`code/__torch__.py`, …), relative to the folder, in archive order.
    public let codeFiles: [String]
    /// Whether the archive holds `constants.pkl`.
    public let hasConstants: Bool
    /// Pickles besides `data.pkl` and `constants.pkl` (`traced_inputs.pkl`, `extra/…`), relative to
    /// the folder; they are not read.
    public let otherPickles: [String]

    /// The TorchScript contents of `archive`, or `nil` when it is a plain `torch.save` archive: a
    /// TorchScript archive has a `constants.pkl` or `code/` record in its folder.
    public static func detect(in archive: ZipArchive) -> TorchScriptArchive? {
        guard let folder = archive.rootFolder else { return nil }
        let prefix = folder + "/"
        var codeFiles: [String] = []
        var otherPickles: [String] = []
        var hasConstants = false
        for entry in archive.entries {
            guard let name = entry.name.droppingBytePrefix(prefix) else { continue }
            if name == "constants.pkl" {
                hasConstants = true
            } else if name.hasPrefix("code/") {
                if !name.hasSuffix("/") && !name.hasSuffix(".debug_pkl") { codeFiles.append(name) }
            } else if name.hasSuffix(".pkl") && name != "data.pkl" {
                otherPickles.append(name)
            }
        }
        guard hasConstants || !codeFiles.isEmpty else { return nil }
        return TorchScriptArchive(folder: folder, codeFiles: codeFiles, hasConstants: hasConstants, otherPickles: otherPickles)
    }

    /// One line naming what the archive holds, for reports: `a TorchScript archive (code/__torch__.py
    /// and 3 more code files, constants.pkl)`.
    public var summary: String {
        var parts: [String] = []
        if let first = codeFiles.first {
            parts.append(codeFiles.count == 1 ? first : "\(first) and \(codeFiles.count - 1) more code files")
        }
        if hasConstants { parts.append("constants.pkl") }
        return "a TorchScript archive (" + parts.joined(separator: ", ") + ")"
    }

    /// The class declarations in the archive's code: for each class, by qualified name
    /// (`__torch__.torch.nn.modules.linear.Linear`), whether it is a module and the attributes it
    /// declares as parameters and buffers.
    ///
    /// - Throws: `ZipError` if a code record cannot be read.
    public func classDeclarations(in archive: ZipArchive) throws(ZipError) -> [String: TorchScriptClass] {
        var classes: [String: TorchScriptClass] = [:]
        for file in codeFiles where file.hasSuffix(".py") {
            guard let entry = archive.entry(named: folder + "/" + file) else { continue }
            let data = try archive.data(of: entry, verifyingCRC: true)
            // code/__torch__/a/b.py holds the classes of Python module __torch__.a.b.
            let module = file.dropFirst("code/".count).dropLast(".py".count).split(separator: "/").joined(separator: ".")
            data.withUnsafeBytes { bytes in
                TorchScriptClass.parse(String(decoding: bytes, as: UTF8.self), module: module, into: &classes)
            }
        }
        return classes
    }
}

/// A class a TorchScript archive's code declares.
public struct TorchScriptClass: Sendable, Equatable {
    /// Whether the class derives from `Module`.
    public var isModule: Bool
    /// The attributes listed by `__parameters__`, in order.
    public var parameters: [String]
    /// The attributes listed by `__buffers__`, in order.
    public var buffers: [String]

    /// A declaration.
    public init(isModule: Bool, parameters: [String], buffers: [String]) {
        self.isModule = isModule
        self.parameters = parameters
        self.buffers = buffers
    }

    /// Reads the `class NAME(BASE):` headers of one code file (the classes of Python module
    /// `module`) and the `__parameters__` and `__buffers__` lines that follow each, two spaces in.
    public static func parse(_ text: String, module: String, into classes: inout [String: TorchScriptClass]) {
        var current: String?
        for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
            if line.hasPrefix("class ") {
                let header = line.dropFirst("class ".count)
                guard let open = header.firstIndex(of: "(") else {
                    current = nil
                    continue
                }
                let name = module + "." + header[..<open]
                let base = header[header.index(after: open)...].prefix { $0 != ")" }
                classes[name] = TorchScriptClass(isModule: base == "Module", parameters: [], buffers: [])
                current = name
            } else if let name = current, line.hasPrefix("  __parameters__ = [") {
                classes[name]?.parameters = quotedNames(line)
            } else if let name = current, line.hasPrefix("  __buffers__ = [") {
                classes[name]?.buffers = quotedNames(line)
            } else if !line.hasPrefix(" ") {
                current = nil
            }
        }
    }

    /// The double-quoted strings of a line such as `  __buffers__ = ["scale", "tmp", ]`.
    static func quotedNames(_ line: Substring) -> [String] {
        var names: [String] = []
        var current: String?
        var escaped = false
        for character in line {
            if var name = current {
                if escaped {
                    name.append(character)
                    escaped = false
                    current = name
                } else if character == "\\" {
                    escaped = true
                } else if character == "\"" {
                    names.append(name)
                    current = nil
                } else {
                    name.append(character)
                    current = name
                }
            } else if character == "\"" {
                current = ""
            }
        }
        return names
    }
}

/// What a TorchScript archive holds besides its module tree (``TorchFile/root``).
public struct TorchScriptContents: Sendable, Equatable {
    /// The archive's records.
    public let archive: TorchScriptArchive
    /// The classes its code declares, by qualified name.
    public let classes: [String: TorchScriptClass]
    /// The constants (`constants.pkl`): a tuple whose items the code calls `CONSTANTS.c0`, ….
    public let constants: TorchValue

    /// The name of constant `index` as the code spells it.
    public static func constantName(_ index: Int) -> String { "CONSTANTS.c\(index)" }
}
