import BinaryIO
import ModelFormats
import PickleVM
import ZipFormat

/// Where bytes that no zip record accounts for were found.
public enum HiddenBytesPlace: Sendable, Equatable {
    /// Before the first local header.
    case beforeFirstEntry
    /// After an entry's data (and its data descriptor), before the next header.
    case afterEntry(String)
    /// After the last entry, before the central directory.
    case beforeCentralDirectory
    /// In the zip64 end record's extensible data, after the central directory.
    case zip64EndRecord
    /// In the end record's comment, after the central directory, at the end of the file.
    case archiveComment
}

/// Something `scan` reports, with the facts it concerns; every case names its file.
public enum ScanFinding: Sendable, Equatable {
    /// An import outside the weights-only allowlist (`global` nil: the name is built at run time).
    case globalOutsideAllowlist(file: String, pickle: String, offset: Int, opcode: String, global: String?)
    /// An opcode outside the set the weights-only loader executes.
    case opcodeOutsideWeightsOnly(file: String, pickle: String, opcode: String, count: Int)
    /// `EXT1/2/4`: a callable named by number.
    case extensionCode(file: String, pickle: String, offset: Int, code: Int64)
    /// The instruction stream breaks off.
    case pickleBreaksOff(file: String, pickle: String, error: PickleError)
    /// Bytes after a pickle's STOP, which torch never reads.
    case bytesAfterStop(file: String, pickle: String, count: Int)
    /// A pickle on its own, not a torch archive.
    case barePickle(file: String)
    /// A TorchScript archive: it holds code (the same detection and listing as `inspect`).
    case torchScript(file: String, archive: TorchScriptArchive)
    /// Entries outside the archive's single root folder.
    case entriesOutsideRootFolder(file: String, error: ZipError)
    /// A zip entry that nothing in a torch load reads (not a known record, not a storage the
    /// pickle names).
    case entryNotRead(file: String, entry: String)
    /// A local file header that no central directory record lists: an entry hidden from zip
    /// readers that use the directory, visible to those that stream.
    case hiddenLocalEntry(file: String, offset: Int, name: String)
    /// Bytes that no zip record accounts for.
    case hiddenBytes(file: String, offset: Int, count: Int, place: HiddenBytesPlace)
    /// A file of the folder that is a link to somewhere outside it; not read.
    case linkLeavesFolder(file: String, target: String)
    /// A `.safetensors` name over content that holds pickles.
    case pickleNamedSafetensors(file: String, content: String)
    /// A NumPy object array (`.npy` file or `.npz` member): its data is a pickle, which
    /// `numpy.load` runs with `allow_pickle=True`.
    case numpyObjectArray(file: String, place: String, descr: String)
    /// A GGUF chat template that names what Jinja template-injection attacks walk to
    /// (`__globals__`, `__subclasses__`, `popen`, …); runtimes render it.
    case chatTemplateInjection(file: String, key: String, offset: Int, markers: [String])

    /// The kind of finding, for programs.
    public var code: String {
        switch self {
        case .globalOutsideAllowlist: return "global_outside_allowlist"
        case .opcodeOutsideWeightsOnly: return "opcode_outside_weights_only"
        case .extensionCode: return "extension_code"
        case .pickleBreaksOff: return "pickle_breaks_off"
        case .bytesAfterStop: return "bytes_after_stop"
        case .barePickle: return "bare_pickle"
        case .torchScript: return "torchscript"
        case .entriesOutsideRootFolder: return "entries_outside_root_folder"
        case .entryNotRead: return "entry_not_read"
        case .hiddenLocalEntry: return "hidden_local_entry"
        case .hiddenBytes: return "hidden_bytes"
        case .linkLeavesFolder: return "link_leaves_folder"
        case .pickleNamedSafetensors: return "pickle_named_safetensors"
        case .numpyObjectArray: return "numpy_object_array"
        case .chatTemplateInjection: return "chat_template_injection"
        }
    }

    /// The file the finding is about.
    public var file: String {
        switch self {
        case .globalOutsideAllowlist(let file, _, _, _, _), .opcodeOutsideWeightsOnly(let file, _, _, _),
             .extensionCode(let file, _, _, _), .pickleBreaksOff(let file, _, _), .bytesAfterStop(let file, _, _),
             .barePickle(let file), .torchScript(let file, _), .entriesOutsideRootFolder(let file, _),
             .entryNotRead(let file, _), .hiddenLocalEntry(let file, _, _), .hiddenBytes(let file, _, _, _),
             .linkLeavesFolder(let file, _), .pickleNamedSafetensors(let file, _), .numpyObjectArray(let file, _, _),
             .chatTemplateInjection(let file, _, _, _):
            return file
        }
    }

    /// One line naming the file (text from the file unescaped: a terminal shows it escaped).
    public var message: String {
        switch self {
        case .globalOutsideAllowlist(let file, let pickle, let offset, let opcode, let global):
            let named = global.map { "\(opcode) \($0)" } ?? "\(opcode) whose name is built at run time"
            return "\(file): \(pickle) at byte \(offset): \(named) is outside the weights-only allowlist"
        case .opcodeOutsideWeightsOnly(let file, let pickle, let opcode, let count):
            return "\(file): \(pickle): opcode \(opcode) (\(count)×) is outside the weights-only set"
        case .extensionCode(let file, let pickle, let offset, let code):
            return "\(file): \(pickle) at byte \(offset): extension code \(code) names a callable by number"
        case .pickleBreaksOff(let file, let pickle, let error):
            return "\(file): \(pickle): the pickle breaks off: \(error)"
        case .bytesAfterStop(let file, let pickle, let count):
            return "\(file): \(pickle): \(count) bytes after STOP, which no load reads"
        case .barePickle(let file):
            return "\(file): a bare pickle stream, not a torch archive: torch.load refuses it"
        case .torchScript(let file, let archive):
            let files = archive.codeFiles.prefix(5).joined(separator: ", ") + (archive.codeFiles.count > 5 ? ", …" : "")
            return "\(file): \(archive.summary): its code (\(files)) is compiled and run by torch.jit.load, "
                + "and torch.load(weights_only=True) refuses it; modelfile inspect lists its tensors without running it"
        case .entriesOutsideRootFolder(let file, let error):
            return "\(file): \(error)"
        case .entryNotRead(let file, let entry):
            return "\(file): entry \"\(entry)\" is read by no torch load (no record references it)"
        case .hiddenLocalEntry(let file, let offset, let name):
            return "\(file): a local entry \"\(name)\" at byte \(offset) is listed by no central directory record (hidden from zip readers that use the directory)"
        case .hiddenBytes(let file, let offset, let count, let place):
            let where_: String
            switch place {
            case .beforeFirstEntry: where_ = "before the first entry"
            case .afterEntry(let entry): where_ = "after entry \"\(entry)\""
            case .beforeCentralDirectory: where_ = "between the last entry and the central directory"
            case .zip64EndRecord: where_ = "in the zip64 end record, after the central directory"
            case .archiveComment: where_ = "in the archive comment, after the central directory"
            }
            return "\(file): \(count) bytes at byte \(offset) \(where_) belong to no entry"
        case .linkLeavesFolder(let file, let target):
            return "\(file): a link to \(target), outside the folder; refused (not read)"
        case .pickleNamedSafetensors(let file, let content):
            return "\(file): named .safetensors but holds \(content), with pickles"
        case .numpyObjectArray(let file, let place, let descr):
            return "\(file): \(place) (descr \(descr.quotedForMessage)): an object array, whose pickle numpy.load runs only with allow_pickle=True"
        case .chatTemplateInjection(let file, let key, let offset, let markers):
            return "\(file): \(key.quotedForMessage) at byte \(offset): the chat template uses \(markers.joined(separator: ", ")), "
                + "as Jinja template-injection attacks do (runtimes render this template)"
        }
    }
}

/// A file of a folder or sharded set that could not be scanned.
public struct ScanFailure: Error, CustomStringConvertible, LimitReporting {
    /// The file, relative to the folder.
    public let file: String
    /// Why.
    public let error: Error

    public var description: String { "\(file): \(error)" }

    /// The budget the file's error reports going over, if any.
    public var exceededLimit: ExceededLimit? { ExceededLimit.of(error) }
}
