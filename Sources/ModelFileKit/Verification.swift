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
    /// Problems found, as typed values (``VerificationFinding``: a `code` and a `message`).
    public let findings: [VerificationFinding]
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
        var findings: [VerificationFinding] = []
        if let named = OutputFormat(pathExtensionOf: path), !named.accepts(source.contentSource.format) {
            findings.append(.extensionMismatch(extension: named, content: source.format))
        }
        if let sharded = source.contentSource as? ShardedModel {
            findings += sharded.disagreements.map { .shardDisagreement($0) }
        }
        // What llama.cpp refuses but gguf-py reads is a warning; faults in the file are findings.
        var warnings = source.warnings
        if let gguf = source as? GGUFFile { warnings += gguf.header.llamaCppIncompatibilities }
        if let torch = source.contentSource as? TorchFile, torch.hasBytesAfterPickle {
            findings.append(.bytesAfterPickle)
        }
        var checks: [TensorCheck] = []
        // In a folder or a sharded set, every finding about a tensor names its file (docs/cli.md).
        let files = Inspection.fileLayout(of: source)?.fileOfTensor
        func named(_ finding: VerificationFinding, _ index: Int) -> VerificationFinding {
            files.map { .inFile(file: $0[index], finding) } ?? finding
        }
        for (index, entry) in source.entries.enumerated() {
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
                if check.nonFinite > 0 { findings.append(named(.nonFiniteValues(tensor: entry.name, count: check.nonFinite, elementCount: entry.elementCount), index)) }
                if check.invalidBools > 0 { findings.append(named(.invalidBools(tensor: entry.name, count: check.invalidBools), index)) }
                checks.append(check)
            } catch let error as ReadBudgetExceeded {
                // Every later tensor would fail the same way: one finding, and stop reading.
                findings.append(named(.readBudgetExceeded(tensor: entry.name, error: error, unreadTensors: source.entries.count - index,
                                                          tensorCount: source.entries.count), index))
                break
            } catch {
                findings.append(named(.unreadableTensor(tensor: entry.name, error: error), index))
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

    /// A reading error as a finding: a zip archive whose end is missing is what an interrupted
    /// download leaves.
    static func explain(_ error: Error, path: String) -> VerificationFinding {
        guard case .zip(let zipError)? = error as? TorchFormatError else { return .unreadable(error: error) }
        switch zipError {
        case .endRecordNotFound, .centralDirectoryOutsideFile, .entryDataOutsideFile, .localHeaderOutsideFile, .truncated:
            return .truncatedArchive(fileByteCount: (try? MappedFile(path: path).count) ?? 0, error: error)
        default:
            return .unreadable(error: error)
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
            ("findings", .array(findings.map { .string($0.message) })),
            ("warnings", .array(warnings.map { .string($0.message) })),
        ])
    }
}

/// Something `verify` found, with the facts it concerns. `code` names the kind for programs;
/// `message` is the one line the command shows (text from the file in it unescaped).
public enum VerificationFinding: CustomStringConvertible {
    /// The file could not be read as its format (the reader's error says where and why).
    case unreadable(error: any Error)
    /// A zip archive whose end is missing, as an interrupted download leaves it.
    case truncatedArchive(fileByteCount: Int, error: any Error)
    /// The extension names one format and the content is another.
    case extensionMismatch(extension: OutputFormat, content: ModelFormat)
    /// A sharded set's index and shards disagree.
    case shardDisagreement(ShardedSafetensorsError)
    /// `data.pkl` holds bytes after its STOP, which torch never reads.
    case bytesAfterPickle
    /// `count` of the tensor's `elementCount` values are NaN or infinite.
    case nonFiniteValues(tensor: String, count: Int, elementCount: Int)
    /// `count` bytes of a bool tensor are neither 0 nor 1.
    case invalidBools(tensor: String, count: Int)
    /// Reading the tensor would go over the read budget; it and the tensors after it
    /// (`unreadTensors` of `tensorCount`) were not read.
    case readBudgetExceeded(tensor: String, error: ReadBudgetExceeded, unreadTensors: Int, tensorCount: Int)
    /// The tensor's bytes could not be read (missing, out of bounds, inconsistent).
    case unreadableTensor(tensor: String, error: any Error)
    /// A finding about a tensor of one file of a folder or sharded set, naming the file.
    indirect case inFile(file: String, VerificationFinding)

    /// The kind of finding, for programs.
    public var code: String {
        switch self {
        case .unreadable: return "unreadable"
        case .truncatedArchive: return "truncated_archive"
        case .extensionMismatch: return "extension_mismatch"
        case .shardDisagreement: return "shard_disagreement"
        case .bytesAfterPickle: return "bytes_after_pickle"
        case .nonFiniteValues: return "non_finite_values"
        case .invalidBools: return "invalid_bools"
        case .readBudgetExceeded: return "read_budget_exceeded"
        case .unreadableTensor: return "unreadable_tensor"
        case .inFile(_, let finding): return finding.code
        }
    }

    /// The tensor the finding is about, if it is about one.
    public var tensor: String? {
        switch self {
        case .nonFiniteValues(let tensor, _, _), .invalidBools(let tensor, _), .readBudgetExceeded(let tensor, _, _, _),
             .unreadableTensor(let tensor, _):
            return tensor
        case .inFile(_, let finding):
            return finding.tensor
        default:
            return nil
        }
    }

    /// One line (text from the file unescaped: a terminal shows it escaped).
    public var message: String {
        switch self {
        case .unreadable(let error):
            return "\(error)"
        case .truncatedArchive(let size, let error):
            return "truncated: the file (\(size) bytes) starts as a zip archive but its end is missing, as after an interrupted download (\(error))"
        case .extensionMismatch(let named, let content):
            return "the extension says \(named.rawValue), but the content is \(content.rawValue)"
        case .shardDisagreement(let problem):
            return problem.description
        case .bytesAfterPickle:
            return "data.pkl holds bytes after its STOP, which torch never reads (run modelfile scan to see what they are)"
        case .nonFiniteValues(let tensor, let count, let elementCount):
            return "tensor \"\(tensor)\": \(count) of \(elementCount) values are NaN or infinite"
        case .invalidBools(let tensor, let count):
            return "tensor \"\(tensor)\": \(count) bool bytes are neither 0 nor 1"
        case .readBudgetExceeded(let tensor, let error, let unread, let total):
            // The budget error names the tensor itself when the bytes were the tensor's.
            let place = error.tensor.map { $0.isByteEqual(to: tensor) } == true ? "" : "tensor \"\(tensor)\": "
            return "\(place)\(error); \(unread) of \(total) tensors not read"
        case .unreadableTensor(let tensor, let error):
            // A GGUF error names the tensor itself.
            let place = (error as? GGUFError)?.tensor.map { $0.isByteEqual(to: tensor) } == true ? "" : "tensor \"\(tensor)\": "
            return place + "\(error)"
        case .inFile(let file, let finding):
            return "\(file): \(finding.message)"
        }
    }

    /// ``message``.
    public var description: String { message }
}
