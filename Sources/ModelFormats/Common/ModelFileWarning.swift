import PickleVM

// Non-fatal observations are values, never text for other code to match on: each case carries the
// facts it concerns, `code` names the kind for programs, and `message` is the one-line wording a
// program may show. Text in the associated values comes from the file and is unescaped; whoever
// shows a message on a terminal escapes it once (docs/security.md).

/// Something noticed while reading or converting a file that did not stop the work, as a typed
/// value. Readers and workflows share this one type, so every `warnings` list in the library is the same.
public enum ModelFileWarning: Sendable, Hashable, CustomStringConvertible {
    /// A tensor whose torch dtype has no stored equivalent here; it is left out of the entries.
    case unreadableDType(tensor: String, torchDType: String)
    /// A zip archive written on a big-endian machine: storages are byte-swapped as they are read.
    case bigEndianArchive
    /// A legacy file whose system record says big-endian (its storages are little-endian anyway).
    case legacyBigEndianSystem
    /// Storages were saved on devices other than the CPU; they are read to the CPU.
    case storagesOnDevices([String])
    /// The unpickler noted something in the pickle `record`.
    case pickle(record: String, PickleWarning)
    /// `count` bytes follow the STOP of `record` and are ignored (torch never reads them).
    case bytesAfterPickle(record: String, count: Int)
    /// `count` bytes follow the last storage of a legacy file and are ignored.
    case bytesAfterLastStorage(count: Int)
    /// A sharded index's `metadata.total_size` disagrees with the shards.
    case indexTotalSizeMismatch(declared: Int, actual: Int)
    /// `convert --dtype` leaves these tensors (floating types it does not cast) unchanged.
    case castLeavesTensorsUnchanged(names: [String])
    /// A quantized tensor is read as its integers, with its parameters in separate tensors.
    case quantizedAsIntegers(tensor: String, torchDType: String, scheme: String, parameterTensors: [String])
    /// A resumed checkpoint holds learning-rate schedulers of these kinds, which are not applied.
    case schedulersNotApplied(kinds: [String])
    /// A TorchScript archive whose code does not declare the class of its top-level module, so
    /// which attributes are parameters or buffers is unknown: every tensor attribute is listed.
    case torchScriptUndeclaredClass(String)
    /// `strip` left out the top-level value `key`, which holds `global`, an object that was never
    /// loaded and so cannot be written back.
    case inertValueLeftOut(key: String, global: String)
    /// A GGUF file (read or written) holds tensor names of 64 bytes or more, which llama.cpp does
    /// not read (gguf-py does).
    case ggufNamesTooLongForLlamaCpp(names: [String])
    /// A GGUF file (read or written) holds tensors of more than four dimensions, which llama.cpp
    /// does not read (gguf-py does).
    case ggufTooManyDimensionsForLlamaCpp(names: [String])
    /// A GGUF file's tensors are not laid out one after another in info order, as llama.cpp
    /// requires (gguf-py reads them by their offsets): the first out of place, where it is and
    /// where llama.cpp expects it.
    case ggufLayoutNotLlamaCpp(tensor: String, offset: Int, expected: Int, alignment: Int)
    /// A GGUF metadata value is an array of arrays, which llama.cpp does not read (gguf-py does).
    case ggufNestedArrayForLlamaCpp(key: String)

    /// The kind of warning, for programs that act on it.
    public enum Code: String, Sendable, CaseIterable {
        /// The code of ``ModelFileWarning/unreadableDType(tensor:torchDType:)``.
        case unreadableDType = "unreadable_dtype"
        /// The code of ``ModelFileWarning/bigEndianArchive``.
        case bigEndianArchive = "big_endian_archive"
        /// The code of ``ModelFileWarning/legacyBigEndianSystem``.
        case legacyBigEndianSystem = "legacy_big_endian_system"
        /// The code of ``ModelFileWarning/storagesOnDevices(_:)``.
        case storagesOnDevices = "storages_on_devices"
        /// The code of ``ModelFileWarning/pickle(record:_:)``.
        case pickle
        /// The code of ``ModelFileWarning/bytesAfterPickle(record:count:)``.
        case bytesAfterPickle = "bytes_after_pickle"
        /// The code of ``ModelFileWarning/bytesAfterLastStorage(count:)``.
        case bytesAfterLastStorage = "bytes_after_last_storage"
        /// The code of ``ModelFileWarning/indexTotalSizeMismatch(declared:actual:)``.
        case indexTotalSizeMismatch = "index_total_size_mismatch"
        /// The code of ``ModelFileWarning/castLeavesTensorsUnchanged(names:)``.
        case castLeavesTensorsUnchanged = "cast_leaves_tensors_unchanged"
        /// The code of ``ModelFileWarning/schedulersNotApplied(kinds:)``.
        case schedulersNotApplied = "schedulers_not_applied"
        /// The code of ``ModelFileWarning/torchScriptUndeclaredClass(_:)``.
        case torchScriptUndeclaredClass = "torchscript_undeclared_class"
        /// The code of ``ModelFileWarning/inertValueLeftOut(key:global:)``.
        case inertValueLeftOut = "inert_value_left_out"
        /// The code of ``ModelFileWarning/ggufNamesTooLongForLlamaCpp(names:)``.
        case ggufNamesTooLongForLlamaCpp = "gguf_names_too_long_for_llama_cpp"
        /// The code of ``ModelFileWarning/ggufTooManyDimensionsForLlamaCpp(names:)``.
        case ggufTooManyDimensionsForLlamaCpp = "gguf_too_many_dimensions_for_llama_cpp"
        /// The code of ``ModelFileWarning/ggufLayoutNotLlamaCpp(tensor:offset:expected:alignment:)``.
        case ggufLayoutNotLlamaCpp = "gguf_layout_not_llama_cpp"
        /// The code of ``ModelFileWarning/ggufNestedArrayForLlamaCpp(key:)``.
        case ggufNestedArrayForLlamaCpp = "gguf_nested_array_for_llama_cpp"
        /// The code of ``ModelFileWarning/quantizedAsIntegers(tensor:torchDType:scheme:parameterTensors:)``.
        case quantizedAsIntegers = "quantized_as_integers"
    }

    /// The kind of this warning.
    public var code: Code {
        switch self {
        case .unreadableDType: return .unreadableDType
        case .bigEndianArchive: return .bigEndianArchive
        case .legacyBigEndianSystem: return .legacyBigEndianSystem
        case .storagesOnDevices: return .storagesOnDevices
        case .pickle: return .pickle
        case .bytesAfterPickle: return .bytesAfterPickle
        case .bytesAfterLastStorage: return .bytesAfterLastStorage
        case .indexTotalSizeMismatch: return .indexTotalSizeMismatch
        case .castLeavesTensorsUnchanged: return .castLeavesTensorsUnchanged
        case .schedulersNotApplied: return .schedulersNotApplied
        case .torchScriptUndeclaredClass: return .torchScriptUndeclaredClass
        case .inertValueLeftOut: return .inertValueLeftOut
        case .ggufNamesTooLongForLlamaCpp: return .ggufNamesTooLongForLlamaCpp
        case .ggufTooManyDimensionsForLlamaCpp: return .ggufTooManyDimensionsForLlamaCpp
        case .ggufLayoutNotLlamaCpp: return .ggufLayoutNotLlamaCpp
        case .ggufNestedArrayForLlamaCpp: return .ggufNestedArrayForLlamaCpp
        case .quantizedAsIntegers: return .quantizedAsIntegers
        }
    }

    /// One line of text (file-derived parts unescaped).
    public var message: String {
        switch self {
        case .unreadableDType(let tensor, let torchDType):
            return "tensor \"\(tensor)\" has dtype torch.\(torchDType), which modelfile does not read; skipped"
        case .bigEndianArchive:
            return "big-endian archive: storages are byte-swapped as they are read"
        case .legacyBigEndianSystem:
            return "written on a big-endian machine; legacy storages are little-endian regardless"
        case .storagesOnDevices(let devices):
            return "storages saved on \(devices.joined(separator: ", ")) are read to the CPU"
        case .pickle(let record, let warning):
            return "\(record): \(warning)"
        case .bytesAfterPickle(let record, let count):
            return "\(record): \(count) bytes after STOP ignored"
        case .bytesAfterLastStorage(let count):
            return "\(count) bytes after the last storage ignored"
        case .indexTotalSizeMismatch(let declared, let actual):
            return "index metadata total_size is \(declared); the shards hold \(actual) bytes of tensors"
        case .castLeavesTensorsUnchanged(let names):
            let listed = names.prefix(5).joined(separator: ", ") + (names.count > 5 ? ", …" : "")
            return "--dtype leaves \(names.count) tensor(s) of other float types unchanged: \(listed)"
        case .quantizedAsIntegers(let tensor, let torchDType, let scheme, let parameters):
            return "quantized tensor \"\(tensor)\" (torch.\(torchDType), \(scheme)) is read as its integers; its parameters are in \(parameters.joined(separator: ", "))"
        case .schedulersNotApplied(let kinds):
            return "the checkpoint's learning-rate scheduler (\(kinds.joined(separator: ", "))) is not applied; training continues at the saved learning rate"
        case .torchScriptUndeclaredClass(let name):
            return "the TorchScript code does not declare class \(name); every tensor attribute is listed, parameters and buffers alike"
        case .inertValueLeftOut(let key, let global):
            return "\(key) left out: it holds \(global), which was never loaded, so it cannot be written back "
                + "for torch.load(weights_only=True)"
        case .ggufNamesTooLongForLlamaCpp(let names):
            let listed = names.prefix(3).joined(separator: ", ") + (names.count > 3 ? ", …" : "")
            return "\(names.count) tensor name(s) of 64 bytes or more, which llama.cpp refuses (gguf-py reads them): \(listed)"
        case .ggufTooManyDimensionsForLlamaCpp(let names):
            let listed = names.prefix(3).joined(separator: ", ") + (names.count > 3 ? ", …" : "")
            return "\(names.count) tensor(s) of more than 4 dimensions, which llama.cpp refuses (gguf-py reads them): \(listed)"
        case .ggufLayoutNotLlamaCpp(let tensor, let offset, let expected, let alignment):
            return "tensor \(tensor.quotedForMessage) is at data offset \(offset); llama.cpp expects \(expected) "
                + "(tensors one after another, in order, each padded to \(alignment)); gguf-py reads it"
        case .ggufNestedArrayForLlamaCpp(let key):
            return "\(key.quotedForMessage) is an array of arrays, which llama.cpp does not read (gguf-py reads it)"
        }
    }

    public var description: String { message }
}
