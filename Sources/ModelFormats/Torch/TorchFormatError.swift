import PickleVM
import TensorData
import ZipFormat

/// A PyTorch file (zip or legacy) that is malformed, refused, or holds something modelfile does
/// not convert. Messages are one line and name the place: the archive record, the byte offset, or
/// the tensor's dotted name.
public enum TorchFormatError: Error, Equatable, CustomStringConvertible {
    /// The pickle itself is malformed or refused; `record` is the archive record or legacy pickle.
    case pickle(record: String, PickleError)
    /// The zip container is malformed or refused.
    case zip(ZipError)
    /// A required record is missing from the archive.
    case missingRecord(String)
    /// The archive's version record is unreadable or newer than torch reads.
    case unsupportedVersion(record: String, found: String)
    /// The byteorder record is neither `little` nor `big`.
    case invalidByteOrder(String)
    /// A persistent id that is not `('storage', <storage class>, key, location, numel)`.
    case invalidPersistentID(path: String, found: String)
    /// A storage class outside the allowlist's typed storages, or a quantized one.
    case unsupportedStorage(key: String, className: String)
    /// The same storage key declared with different classes or sizes.
    case inconsistentStorage(key: String, first: String, second: String)
    /// A storage record whose size differs from what the pickle declares.
    case storageSizeMismatch(record: String, expected: Int, found: Int)
    /// A rebuild call whose arguments are not what torch writes.
    case invalidRebuildArguments(path: String, function: String, expected: String, found: String)
    /// A tensor's offset, sizes and strides do not fit its storage.
    case invalidGeometry(tensor: String, storage: String, TensorGeometryError)
    /// A tensor dtype with no equivalent here (quantized, bits, sub-byte integers).
    case unsupportedDType(tensor: String, dtype: String)
    /// A tensor that has no dense bytes to convert (sparse, meta, quantized).
    case notDense(tensor: String, kind: String)
    /// The object tree names more tensors, or expands to more nodes, than the limit allows.
    case tooManyNodes(limit: Int)
    /// A legacy file whose first pickle is not torch's magic number.
    case badMagicNumber
    /// A legacy file whose protocol-version pickle is not 1001.
    case badLegacyProtocol(found: String)
    /// A legacy file whose storage-key list is malformed.
    case invalidStorageKeyList(String)
    /// A legacy storage section that ends early or disagrees with the pickle.
    case legacyStorageMismatch(key: String, at: Int, expected: Int, found: Int)
    /// A legacy file that ends inside a storage.
    case legacyTruncated(key: String, at: Int, needed: Int, available: Int)
    /// A storage the pickle references but the file does not hold.
    case missingStorage(key: String)
    /// `torch.save(..., pickle_protocol=N)` with N > 2, or a whole module id in a legacy file.
    case unsupportedObject(path: String, description: String)
    /// The value cannot be written to a `.pth` (a dtype torch has no name for, …).
    case unwritable(path: String, reason: String)

    /// The fault in words. Text from the file (names, keys, record contents) appears exactly as
    /// the file has it; whoever shows it on a terminal escapes it once (docs/security.md).
    public var description: String {
        switch self {
        case .pickle(let record, let error):
            if case .unsupportedGlobal(let module, _, _) = error,
               !TorchGlobals.blockedModules.contains(String(module.split(separator: ".").first ?? "")) {
                return "\(record) \(error), outside the weights-only allowlist "
                    + "(--allow-unknown-objects reads it as inert data; nothing is imported or run)"
            }
            return "\(record) \(error)"
        case .zip(let error): return "\(error)"
        case .missingRecord(let name): return "archive has no \(name) record"
        case .unsupportedVersion(let record, let found): return "\(record): version \"\(found)\"; expected 1 to 10"
        case .invalidByteOrder(let found): return "byteorder record is \"\(found)\"; expected little or big"
        case .invalidPersistentID(let path, let found):
            return "\(path): persistent id is \(found); expected ('storage', <storage class>, key, location, numel)"
        case .unsupportedStorage(let key, let className): return "storage \"\(key)\": \(className) is not a supported storage class"
        case .inconsistentStorage(let key, let first, let second): return "storage \"\(key)\" is declared as \(first) and as \(second)"
        case .storageSizeMismatch(let record, let expected, let found):
            return "\(record) holds \(found) bytes; the pickle declares \(expected)"
        case .invalidRebuildArguments(let path, let function, let expected, let found):
            return "\(path): \(function) arguments are \(found); expected \(expected)"
        case .invalidGeometry(let tensor, let storage, let error): return "tensor \"\(tensor)\" in \(storage): \(error)"
        case .unsupportedDType(let tensor, let dtype): return "tensor \"\(tensor)\": dtype torch.\(dtype) is not supported"
        case .notDense(let tensor, let kind): return "tensor \"\(tensor)\" is \(kind); only dense tensors have bytes to convert"
        case .tooManyNodes(let limit): return "the object tree expands to more than \(limit) nodes, counting shared references each time they are reached (limit maxTreeNodes)"
        case .badMagicNumber: return "at byte 0: not the legacy torch magic number"
        case .badLegacyProtocol(let found): return "legacy protocol version is \(found); expected 1001"
        case .invalidStorageKeyList(let reason): return "legacy storage key list: \(reason)"
        case .legacyStorageMismatch(let key, let at, let expected, let found):
            return "at byte \(at): storage \"\(key)\" declares \(found) elements; the pickle declares \(expected)"
        case .legacyTruncated(let key, let at, let needed, let available):
            return "at byte \(at): storage \"\(key)\" needs \(needed) bytes but \(available) remain (truncated file?)"
        case .missingStorage(let key): return "storage \"\(key)\" is referenced but not in the file"
        case .unsupportedObject(let path, let description): return "\(path): \(description)"
        case .unwritable(let path, let reason): return "\(path): \(reason)"
        }
    }
}
