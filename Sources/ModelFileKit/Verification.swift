import BinaryIO
import ModelFormats
import TensorData

nonisolated(unsafe) private var verificationSink: UInt64 = 0

/// What `modelfile verify` found: every byte read, structure checked, values counted.
public struct Verification {
    /// One tensor's check.
    public struct TensorCheck {
        /// The tensor's name.
        public let name: String
        /// Its dtype.
        public let dtype: DType
        /// NaN and infinite values (0 for types without them).
        public let nonFinite: Int
        /// Bool bytes other than 0 and 1.
        public let invalidBools: Int
        /// For a folder or a sharded set: the tensor's file, relative to the folder.
        public var file: String? = nil
    }

    /// The path verified.
    public let path: String
    /// The detected format, when the file could be classified.
    public let format: ModelFormat?
    /// Per-tensor results (empty when the file could not be read).
    public let tensors: [TensorCheck]
    /// Problems found, one line each.
    public let findings: [String]
    /// Non-fatal notes.
    public let warnings: [ModelFileWarning]

    /// Whether nothing was found.
    public var isClean: Bool { findings.isEmpty }

    /// Verifies `path`. A file that cannot be parsed is reported as a finding that explains it,
    /// rather than thrown.
    ///
    /// - Throws: `ModelFileError` when the path cannot be read at all (missing, unreadable) or is
    ///   not a model file (`UnrecognizedFormatError`: a wheel, an ONNX model, a JSON or HTML file, …).
    public static func verify(path: String, options: ReadOptions = ReadOptions()) throws -> Verification {
        let source: TensorSource
        var options = options
        options.strictShards = false
        do {
            // A GGUF file is opened with its truncated tensors listed, so each one is named below.
            if (try? FormatDetector.detect(path: path)) == .gguf {
                source = try GGUFFile(path: path, options: options, allowingTruncation: true)
            } else {
                source = try ModelFile.open(path, options: options)
            }
        } catch let error as FileError where error.operation == "open" || error.operation == "stat" {
            throw ModelFileError(path: path, underlying: error)
        } catch let error as UnrecognizedFormatError {
            // Not a model file at all (a wheel, an HTML page, …): refused, as by every command.
            throw ModelFileError(path: path, underlying: error)
        } catch let error where Verification.leavesFolder(error) {
            // A shard or weights file that links out of the folder is refused, not verified.
            throw ModelFileError(path: path, underlying: error)
        } catch {
            return Verification(path: path, format: nil, tensors: [], findings: [explain(error, path: path)], warnings: [])
        }
        var findings: [String] = []
        if let named = OutputFormat(pathExtensionOf: path), !named.accepts(source.format) {
            findings.append("the extension says \(named.rawValue), but the content is \(source.format.rawValue)")
        }
        if let sharded = ((source as? FolderSource)?.weights ?? source) as? ShardedModel { findings += sharded.disagreements.map(\.description) }
        // What llama.cpp refuses but gguf-py reads is a warning; faults in the file are findings.
        var warnings = source.warnings
        if let gguf = source as? GGUFFile { warnings += gguf.header.llamaCppIncompatibilities }
        if let torch = source as? TorchFile, torch.hasBytesAfterPickle {
            findings.append("data.pkl holds bytes after its STOP, which torch never reads (run modelfile scan to see what they are)")
        }
        var checks: [TensorCheck] = []
        // In a folder or a sharded set, every finding about a tensor names its file (docs/cli.md).
        let files = Inspection.fileLayout(of: source)?.fileOfTensor
        for (index, entry) in source.entries.enumerated() {
            let file: String = files.map { "\($0[index]): " } ?? ""
            do {
                let tensor = try source.tensor(at: index)
                var check = tensor.bytes.withUnsafeBytes { bytes in
                    TensorCheck(
                        name: entry.name, dtype: entry.dtype,
                        nonFinite: ElementCodec.nonFiniteCount(bytes, dtype: entry.dtype),
                        invalidBools: entry.dtype == .bool ? bytes.reduce(0) { $0 + ($1 > 1 ? 1 : 0) } : touch(bytes))
                }
                source.releaseMemory(forTensorAt: index)
                check.file = files?[index]
                if check.nonFinite > 0 { findings.append("\(file)tensor \"\(entry.name)\": \(check.nonFinite) of \(entry.elementCount) values are NaN or infinite") }
                if check.invalidBools > 0 { findings.append("\(file)tensor \"\(entry.name)\": \(check.invalidBools) bool bytes are neither 0 nor 1") }
                checks.append(check)
            } catch let error as ReadBudgetExceeded {
                // Every later tensor would fail the same way: one finding, and stop reading.
                let place = error.what.hasPrefix("tensor ") ? "" : "tensor \"\(entry.name)\": "
                findings.append("\(file)\(place)\(error); \(source.entries.count - index) of \(source.entries.count) tensors not read")
                break
            } catch let error as GGUFError where error.tensor != nil {
                findings.append("\(error)")  // it names its tensor
            } catch {
                findings.append("\(file)tensor \"\(entry.name)\": \(error)")
            }
        }
        return Verification(path: path, format: source.format, tensors: checks, findings: findings, warnings: warnings)
    }

    /// Whether `error` (or the shard error it is) is a link out of a model folder.
    static func leavesFolder(_ error: Error) -> Bool {
        if error is FolderEscapeError { return true }
        if let shard = error as? ShardReadError { return shard.underlying is FolderEscapeError }
        return false
    }

    /// A reading error, with what it probably means for a downloaded file.
    static func explain(_ error: Error, path: String) -> String {
        let message = String(describing: error)
        guard case .zip(let zipError)? = error as? TorchFormatError else { return message }
        let size = (try? MappedFile(path: path).count) ?? 0
        switch zipError {
        case .endRecordNotFound, .centralDirectoryOutsideFile, .entryDataOutsideFile, .localHeaderOutsideFile, .truncated:
            return "truncated: the file (\(size) bytes) starts as a zip archive but its end is missing, as after an interrupted download (\(message))"
        default:
            return message
        }
    }

    /// Reads every byte (so a missing page or I/O error surfaces); returns 0.
    private static func touch(_ bytes: UnsafeRawBufferPointer) -> Int {
        var accumulator: UInt64 = 0
        let words = bytes.count / 8
        for i in 0..<words { accumulator ^= bytes.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self) }
        for i in (words * 8)..<bytes.count { accumulator ^= UInt64(bytes[i]) }
        keepAlive(accumulator)
        return 0
    }

    /// Keeps the optimiser from dropping a read whose result is otherwise unused.
    @inline(never) private static func keepAlive(_ value: UInt64) { verificationSink = value }

    /// The `modelfile.verify/1` JSON document.
    public var json: JSONValue {
        .object([
            ("schema", "modelfile.verify/1"),
            ("path", .string(path)),
            ("format", format.map { .string($0.rawValue) } ?? .null),
            ("clean", .bool(isClean)),
            ("tensors", .array(tensors.map { check in
                var fields: [(String, JSONValue)] = [("name", .string(check.name)), ("dtype", .string(check.dtype.rawValue)), ("non_finite", .int(check.nonFinite))]
                if let file = check.file { fields.append(("file", .string(file))) }
                return .object(fields)
            })),
            ("findings", .array(findings.map { .string($0) })),
            ("warnings", .array(warnings.map { .string($0.message) })),
        ])
    }
}
