/// Lists what a pickle would import and which kinds of opcodes it uses, without executing it
/// (the basis of a `scan` report). Built on ``PickleDisassembler``, so it accepts every opcode of
/// protocols 0–5, including those the ``Unpickler`` refuses.
public enum PickleScanner {
    /// Scans one pickle from `startOffset` to its `STOP`.
    /// - Throws: ``PickleError`` when the instruction stream itself is malformed (unknown opcode,
    ///   truncated argument, no `STOP`).
    public static func scan(
        _ bytes: UnsafeRawBufferPointer, from startOffset: Int = 0, limits: PickleLimits = PickleLimits()
    ) throws(PickleError) -> PickleScanReport {
        let (report, error) = scanPartially(bytes, from: startOffset, limits: limits)
        if let error { throw error }
        return report
    }

    /// Scans like ``scan(_:from:limits:)``, but when the instruction stream breaks off (a payload
    /// followed by garbage, a truncated file) returns what was seen up to that point together
    /// with the error, so a report can still name the imports before the break.
    public static func scanPartially(
        _ bytes: UnsafeRawBufferPointer, from startOffset: Int = 0, limits: PickleLimits = PickleLimits()
    ) -> (report: PickleScanReport, error: PickleError?) {
        var walk = PickleDisassembler(bytes, from: startOffset, limits: limits)
        var report = PickleScanReport(startOffset: startOffset)
        var tracker = StringTracker()
        while true {
            let next: PickleInstruction?
            do {
                next = try walk.next()
            } catch {
                return (report, error)
            }
            guard let instruction = next else { break }
            report.opcodeCounts[instruction.opcode, default: 0] += 1
            switch (instruction.opcode, instruction.argument) {
            case (.proto, .integer(let version)):
                if report.protocolVersion == nil { report.protocolVersion = Int(version) }
            case (.global, .linePair(let module, let name)), (.instance, .linePair(let module, let name)):
                report.imports.append(
                    PickleImportSite(
                        offset: instruction.offset, opcode: instruction.opcode, module: walk.text(module),
                        name: walk.text(name)))
            case (.stackGlobal, _):
                let (module, name) = tracker.lastTwoStrings()
                report.imports.append(
                    PickleImportSite(offset: instruction.offset, opcode: .stackGlobal, module: module, name: name))
            case (.extension1, .integer(let code)), (.extension2, .integer(let code)),
                (.extension4, .integer(let code)):
                report.extensionCodes.append(PickleExtensionSite(offset: instruction.offset, code: code))
            case (.stop, _):
                report.stopOffset = instruction.offset
                report.trailingByteCount = bytes.count - instruction.endOffset
            default:
                break
            }
            tracker.record(instruction, walk: walk)
        }
        return (report, nil)
    }

    /// Scans one pickle in `bytes`, as the buffer-pointer variant does.
    /// - Throws: ``PickleError``.
    public static func scan(_ bytes: [UInt8], from startOffset: Int = 0, limits: PickleLimits = PickleLimits())
        throws(PickleError) -> PickleScanReport
    {
        let result: Result<PickleScanReport, PickleError> = bytes.withUnsafeBytes { buffer in
            do throws(PickleError) {
                return .success(try scan(buffer, from: startOffset, limits: limits))
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }
}

/// What ``PickleScanner`` found in one pickle.
public struct PickleScanReport: Hashable, Sendable {
    /// Where the pickle starts.
    public var startOffset: Int
    /// The argument of the first `PROTO`, if any.
    public var protocolVersion: Int?
    /// How often each opcode occurs.
    public var opcodeCounts: [PickleOpcode: Int] = [:]
    /// Every `GLOBAL`, `INST` and `STACK_GLOBAL`, in order.
    public var imports: [PickleImportSite] = []
    /// Every `EXT1`/`EXT2`/`EXT4`, in order.
    public var extensionCodes: [PickleExtensionSite] = []
    /// The offset of `STOP`.
    public var stopOffset = 0
    /// The number of bytes after `STOP`.
    public var trailingByteCount = 0

    /// An empty report for a pickle starting at `startOffset`.
    public init(startOffset: Int) {
        self.startOffset = startOffset
    }

    /// The opcodes present that ``Unpickler`` refuses, ordered by byte value.
    public var unsupportedOpcodes: [PickleOpcode] {
        opcodeCounts.keys.filter { !$0.isExecutedByUnpickler }.sorted { $0.rawValue < $1.rawValue }
    }

    /// The categories of the opcodes present.
    public var categories: Set<PickleOpcodeCategory> { Set(opcodeCounts.keys.map(\.category)) }
}

/// One place where a pickle names a module attribute.
public struct PickleImportSite: Hashable, Sendable {
    /// The offset of the opcode.
    public let offset: Int
    /// `GLOBAL`, `INST` or `STACK_GLOBAL`.
    public let opcode: PickleOpcode
    /// The module as written, or `nil` for a `STACK_GLOBAL` whose operands are not statically
    /// visible (not pushed as string constants or memo copies of them right before it).
    public let module: String?
    /// The name as written, or `nil` as for ``module``.
    public let name: String?

    /// An import site.
    public init(offset: Int, opcode: PickleOpcode, module: String?, name: String?) {
        self.offset = offset
        self.opcode = opcode
        self.module = module
        self.name = name
    }

    /// The global after the Python-2 name mapping, when both parts are known.
    public var global: PickleGlobal? {
        guard let module, let name else { return nil }
        let mapped = PickleGlobal.python3Spelling(module: module, name: name)
        return PickleGlobal(module: mapped.module, name: mapped.name)
    }
}

/// One `EXT1`/`EXT2`/`EXT4`: a callable looked up by number in the copyreg extension registry.
public struct PickleExtensionSite: Hashable, Sendable {
    /// The offset of the opcode.
    public let offset: Int
    /// The registry code.
    public let code: Int64

    /// An extension site.
    public init(offset: Int, code: Int64) {
        self.offset = offset
        self.code = code
    }
}

/// Follows string constants just far enough to name the operands of `STACK_GLOBAL`: the last two
/// value-pushing instructions (memo stores and framing ignored), and strings copied through the
/// memo.
private struct StringTracker {
    /// The strings pushed by the last two value-producing instructions (`nil` = not a string).
    private var recent: [String?] = [nil, nil]
    private var memoStrings: [Int64: String] = [:]
    private var memoIndices = Set<Int64>()

    func lastTwoStrings() -> (String?, String?) {
        guard let module = recent[0], let name = recent[1] else { return (nil, nil) }
        return (module, name)
    }

    mutating func record(_ instruction: PickleInstruction, walk: PickleDisassembler) {
        switch (instruction.opcode, instruction.argument) {
        case (.shortBinaryUnicode, .bytes(let range)), (.binaryUnicode, .bytes(let range)),
            (.binaryUnicode8, .bytes(let range)), (.shortBinaryString, .bytes(let range)),
            (.binaryString, .bytes(let range)), (.shortBinaryBytes, .bytes(let range)),
            (.binaryBytes, .bytes(let range)):
            pushed(walk.text(range))
        case (.unicode, .line(let range)):
            pushed(walk.text(range))
        case (.binaryPut, .integer(let index)), (.longBinaryPut, .integer(let index)):
            store(at: index)
        case (.put, .line(let range)):
            if let index = Int64(walk.text(range)) { store(at: index) }
        case (.memoize, _):
            store(at: Int64(memoIndices.count))
        case (.binaryGet, .integer(let index)), (.longBinaryGet, .integer(let index)):
            pushed(memoStrings[index])
        case (.get, .line(let range)):
            pushed(Int64(walk.text(range)).flatMap { memoStrings[$0] })
        case (.frame, _), (.proto, _):
            break
        default:
            pushed(nil)
        }
    }

    private mutating func pushed(_ string: String?) {
        recent = [recent[1], string]
    }

    private mutating func store(at index: Int64) {
        memoIndices.insert(index)
        memoStrings[index] = recent[1]  // nil removes a stale string
    }
}
