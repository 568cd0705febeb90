#if canImport(Glibc)
import Glibc
#endif
import BinaryIO
import ExactText
import JSONReader
import TensorData

// Sharded sets as Hugging Face writes them (docs/formats.md, "Sharded sets"): an index file
// `model.safetensors.index.json` = {"metadata": {"total_size": N, …}, "weight_map": {tensor: shard}}
// next to shards named `model-00001-of-00003.safetensors`, each a complete safetensors file.

/// The parsed index of a sharded set.
public struct SafetensorsIndex: Sendable, Equatable {
    /// The largest index read (a weight map of a million tensors is about 80 MB).
    public static let maxIndexBytes = 100_000_000

    /// The index's `metadata` object, values rendered as text (`total_size` is a number there).
    public let metadata: [ExactString: String]
    /// Tensor name → shard file name, in index order.
    public let weightMap: [(tensor: String, shard: String)]

    public static func == (lhs: SafetensorsIndex, rhs: SafetensorsIndex) -> Bool {
        lhs.metadata == rhs.metadata
            && lhs.weightMap.elementsEqual(rhs.weightMap) { $0.tensor.isByteEqual(to: $1.tensor) && $0.shard.isByteEqual(to: $1.shard) }
    }

    /// Shard file names in order of first appearance.
    public var shardNames: [String] {
        var seen = Set<ExactString>()
        return weightMap.map(\.shard).filter { seen.insert(ExactString($0)).inserted }
    }

    /// Parses index JSON (strict and exact, docs/formats.md "Sharded sets"): tensor names and
    /// shard names are kept byte for byte, and a name that appears twice is refused.
    ///
    /// - Throws: `ShardedSafetensorsError` if it is not an index (no `weight_map` object of strings)
    ///   or a shard name is not a plain file name.
    public static func parse(_ bytes: UnsafeRawBufferPointer) throws -> SafetensorsIndex {
        guard bytes.count <= maxIndexBytes else {
            throw ShardedSafetensorsError.invalidIndex("\(bytes.count) bytes is more than the \(maxIndexBytes) an index may have")
        }
        let document: JSONNode
        do {
            document = try JSONNode.parse(bytes)
        } catch {
            throw ShardedSafetensorsError.invalidIndex(error.description)
        }
        guard let root = document.objectValue else {
            throw ShardedSafetensorsError.invalidIndex("top level is a JSON \(document.kind.name); expected an object")
        }
        var metadata: [ExactString: String] = [:]
        if let object = root["metadata"]?.objectValue {
            for member in object.members {
                metadata[ExactString(member.key)] = member.value.stringValue ?? member.value.summary
            }
        }
        guard let map = root.member("weight_map"), let entries = map.value.objectValue else {
            let found = root.member("weight_map").map { "a JSON " + $0.value.kind.name } ?? "missing"
            throw ShardedSafetensorsError.invalidIndex("\"weight_map\" is \(found); expected an object of tensor name to shard file")
        }
        var weightMap: [(String, String)] = []
        weightMap.reserveCapacity(entries.count)
        for member in entries.members {
            guard let shard = member.value.stringValue else {
                throw ShardedSafetensorsError.invalidIndex(
                    "at byte \(member.offset): weight_map[\(member.key.quotedForMessage)] is a JSON \(member.value.kind.name); expected a file name")
            }
            guard isPlainFileName(shard) else { throw ShardedSafetensorsError.unsafeShardName(shard) }
            weightMap.append((member.key, shard))
        }
        return SafetensorsIndex(metadata: metadata, weightMap: weightMap)
    }

    /// A name that stays inside the index's folder: no separators, no `..`, not hidden, no NUL.
    static func isPlainFileName(_ name: String) -> Bool {
        !name.isEmpty && !name.hasBytePrefix(".") && !name.utf8.contains(UInt8(ascii: "/")) && !name.utf8.contains(UInt8(ascii: "\\"))
            && !name.utf8.contains(0)
    }
}

/// A disagreement between a sharded set's index and its shards, or an unusable index.
public enum ShardedSafetensorsError: Error, Equatable, CustomStringConvertible {
    /// The index is not the JSON a sharded set needs.
    case invalidIndex(String)
    /// A shard name that would leave the folder (`../x`, `/etc/x`, `a/b`).
    case unsafeShardName(String)
    /// A shard the index names cannot be opened.
    case missingShard(String)
    /// The index maps a tensor to a shard that does not hold it.
    case tensorMissingFromShard(tensor: String, shard: String)
    /// A shard holds a tensor the index does not list (or lists under another shard).
    case tensorNotInIndex(tensor: String, shard: String)
    /// Two shards hold the same tensor name.
    case tensorInTwoShards(tensor: String, first: String, second: String)

    public var description: String {
        switch self {
        case .invalidIndex(let reason): return "not a sharded safetensors index: \(reason)"
        case .unsafeShardName(let name): return "shard name \(name.quotedForMessage) is not a plain file name in the index's folder"
        case .missingShard(let name): return "shard \(name.quotedForMessage) named by the index is missing"
        case .tensorMissingFromShard(let tensor, let shard): return "index maps \(tensor.quotedForMessage) to \(shard.quotedForMessage), which does not hold it"
        case .tensorNotInIndex(let tensor, let shard): return "shard \(shard.quotedForMessage) holds \(tensor.quotedForMessage), which the index does not map to it"
        case .tensorInTwoShards(let tensor, let first, let second): return "tensor \(tensor.quotedForMessage) is in both \(first.quotedForMessage) and \(second.quotedForMessage)"
        }
    }
}

/// A sharded set read as one model: the index plus every shard, each validated. Shards are
/// usually safetensors (`model.safetensors.index.json`); `pytorch_model.bin.index.json` sets of
/// torch archives read the same way.
public final class ShardedModel: TensorSource {
    /// The path the source was opened from.
    public let path: String
    /// The detected format.
    public let format: ModelFormat
    /// The parsed index.
    public let index: SafetensorsIndex
    /// The shards, in order of first appearance in the index.
    public let shards: [(name: String, source: TensorSource)]
    /// Every tensor, in file order.
    public let entries: [TensorEntry]
    /// What reading the index and shards noticed.
    public private(set) var warnings: [ModelFileWarning] = []
    /// Where the index and the shards disagree (empty for a consistent set).
    public let disagreements: [ShardedSafetensorsError]
    private let locations: [(shard: Int, tensor: Int)]
    /// The index file, kept open (and so claimed as an input) as long as the set is; `nil` for a
    /// remote set.
    private let indexFile: MappedFile?

    /// Opens the index at `path` and every shard beside it.
    ///
    /// - Parameter strict: throw on the first disagreement between index and shards (the
    ///   default); when `false`, disagreements are collected in ``disagreements`` (for `verify`).
    /// - Throws: `FileError`, the shards' format errors (naming the shard), `ShardedSafetensorsError`.
    public convenience init(indexPath path: String, strict: Bool = true, options: ReadOptions = ReadOptions()) throws {
        let indexFile = try MappedFile(path: path)
        let index = try SafetensorsIndex.parse(indexFile.bytes)
        let folder = path.lastIndex(of: "/").map { String(path[..<$0]) } ?? "."
        var shards: [(String, TensorSource)] = []
        let containment = try FolderContainment(folder: folder)
        for name in index.shardNames {
            let shardPath = folder + "/" + name
            do {
                var info = stat()
                guard lstat(shardPath, &info) == 0 else { throw ShardedSafetensorsError.missingShard(name) }
                // A shard that is a link out of the folder is refused (docs/security.md, "Folders").
                try containment.check(shardPath)
                if case .shardIndex = try FormatDetector.detect(path: shardPath) { throw ShardedSafetensorsError.invalidIndex("shard \(name) is itself an index") }
                shards.append((name, try ModelFile.openFile(shardPath, options: options)))
            } catch let error as FileError where (error.operation == "open" || error.operation == "stat") && !ShardedModel.exists(shardPath) {
                throw ShardedSafetensorsError.missingShard(name)
            } catch let error as ShardedSafetensorsError {
                throw error
            } catch {
                throw ShardReadError(shard: name, underlying: error)
            }
        }
        try self.init(path: path, index: index, shards: shards, strict: strict, indexFile: indexFile)
    }

    /// A sharded set from its parsed index and its opened shards (in ``SafetensorsIndex/shardNames``
    /// order); remote inspect builds one from shards read over HTTP.
    ///
    /// - Throws: `ShardedSafetensorsError` for the first disagreement when `strict`.
    public convenience init(path: String, index: SafetensorsIndex, shards: [(name: String, source: TensorSource)], strict: Bool = true) throws {
        try self.init(path: path, index: index, shards: shards, strict: strict, indexFile: nil)
    }

    private init(path: String, index: SafetensorsIndex, shards: [(name: String, source: TensorSource)], strict: Bool,
                 indexFile: MappedFile?) throws {
        self.path = path
        self.index = index
        self.indexFile = indexFile
        var problems: [ShardedSafetensorsError] = []
        self.shards = shards
        format = shards.allSatisfy { $0.1.format == .safetensors } ? .safetensorsSharded : .pytorchSharded
        // Map every tensor of every shard, in shard order then file order.
        var entries: [TensorEntry] = []
        var locations: [(Int, Int)] = []
        // Names compare by their bytes: two names that differ only by Unicode normalization are
        // two tensors here, as in the index and the shards.
        var owner: [ExactString: String] = [:]
        let mapped = Dictionary(index.weightMap.map { (ExactString($0.tensor), $0.shard) }, uniquingKeysWith: { first, _ in first })
        for (shardIndex, shard) in shards.enumerated() {
            for (tensorIndex, entry) in shard.1.entries.enumerated() {
                let name = ExactString(entry.name)
                if let first = owner[name] {
                    problems.append(.tensorInTwoShards(tensor: entry.name, first: first, second: shard.0))
                    continue
                }
                owner[name] = shard.0
                if !(mapped[name]?.isByteEqual(to: shard.0) ?? false) { problems.append(.tensorNotInIndex(tensor: entry.name, shard: shard.0)) }
                entries.append(entry)
                locations.append((shardIndex, tensorIndex))
            }
        }
        for (tensor, shard) in index.weightMap where owner[ExactString(tensor)] == nil {
            problems.append(.tensorMissingFromShard(tensor: tensor, shard: shard))
        }
        if strict, let first = problems.first { throw first }
        self.disagreements = problems
        self.entries = entries
        self.locations = locations
        if let declared = index.metadata["total_size"], let total = Int(declared) {
            let actual = entries.saturatingSum(\.byteCount)
            if total != actual {
                warnings.append(.indexTotalSizeMismatch(declared: total, actual: actual))
            }
        }
    }

    /// Whether anything (even a dangling or looping link) is at `path`.
    static func exists(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0
    }

    /// Bytes on disk across every shard.
    public var fileByteCount: Int { shards.saturatingSum(\.source.fileByteCount) }

    /// The first shard's metadata (Hugging Face writes `{"format": "pt"}` in every shard).
    public var metadata: [ExactString: String]? { shards.first?.source.metadata }

    /// The bytes of tensor `index` (see ``TensorSource/tensor(at:)``).
    public func tensor(at index: Int) throws -> RawTensor {
        let location = locations[index]
        return try shards[location.shard].source.tensor(at: location.tensor)
    }

    /// Drops the mapped pages of tensor `index`'s bytes.
    public func releaseMemory(forTensorAt index: Int) {
        let location = locations[index]
        shards[location.shard].source.releaseMemory(forTensorAt: location.tensor)
    }

    /// The shard file name holding tensor `index`.
    public func shardName(ofTensorAt index: Int) -> String { shards[locations[index].shard].name }
}

/// An error inside one shard of a sharded set, naming the shard.
public struct ShardReadError: Error, CustomStringConvertible {
    /// The shard's file name.
    public let shard: String
    /// What went wrong in it.
    public let underlying: Error
    public var description: String { "shard \(shard): \(underlying)" }
}

/// Writes a sharded set the way huggingface_hub does (docs/formats.md, "Sharded sets").
public enum SafetensorsShardWriter {
    /// Splits `entries` (in order) into shards of at most `maxShardBytes` of tensor data: a new
    /// shard starts when the next tensor would not fit; a tensor larger than the limit gets a
    /// shard of its own.
    public static func plan(entries: [TensorEntry], maxShardBytes: Int) -> [[Int]] {
        var shards: [[Int]] = []
        var current: [Int] = []
        var size = 0
        for (index, entry) in entries.enumerated() {
            if !current.isEmpty && size.saturatingAdded(entry.byteCount) > maxShardBytes {
                shards.append(current)
                current = []
                size = 0
            }
            current.append(index)
            size = size.saturatingAdded(entry.byteCount)
        }
        if !current.isEmpty || shards.isEmpty { shards.append(current) }
        return shards
    }

    /// The shard file names for `count` shards: `model.safetensors` alone, or
    /// `model-00001-of-00003.safetensors` ….
    public static func shardNames(count: Int) -> [String] {
        guard count > 1 else { return ["model.safetensors"] }
        return (1...count).map { "model-\(pad5($0))-of-\(pad5(count)).safetensors" }
    }

    private static func pad5(_ n: Int) -> String {
        let digits = String(n)
        return String(repeating: "0", count: max(0, 5 - digits.count)) + digits
    }

    /// Writes the shards (and, when there is more than one, `model.safetensors.index.json`) into
    /// `folder`, which must exist. Each shard gets `metadata` (Hugging Face uses `{"format": "pt"}`).
    ///
    /// - Returns: the paths written.
    /// - Throws: as ``SafetensorsWriter/write(to:entries:metadata:overwrite:tensorBytes:didWrite:)``.
    @discardableResult
    public static func write(
        folder: String,
        entries: [TensorEntry],
        metadata: [ExactString: String]?,
        maxShardBytes: Int,
        overwrite: Bool,
        tensorBytes: (Int) throws -> TensorBytes,
        didWrite: (Int) -> Void = { _ in }
    ) throws -> [String] {
        // Never into a folder that holds an input (its shards would be replaced while being read).
        try OutputTarget.checkFolder(folder)
        let groups = plan(entries: entries, maxShardBytes: maxShardBytes)
        let names = shardNames(count: groups.count)
        var written: [String] = []
        for (group, name) in zip(groups, names) {
            let path = folder + "/" + name
            try SafetensorsWriter.write(
                to: path, entries: group.map { entries[$0] }, metadata: metadata, overwrite: overwrite,
                tensorBytes: { try tensorBytes(group[$0]) }, didWrite: { didWrite(group[$0]) })
            written.append(path)
        }
        if groups.count > 1 {
            let total = entries.saturatingSum(\.byteCount)
            var weightMap: [(String, String)] = []
            for (group, name) in zip(groups, names) { for index in group { weightMap.append((entries[index].name, name)) } }
            let indexPath = folder + "/model.safetensors.index.json"
            let output = try OutputFile(path: indexPath, overwrite: overwrite)
            try output.write(indexJSON(totalSize: total, weightMap: weightMap))
            try output.commit()
            written.append(indexPath)
        }
        return written
    }

    /// The index as transformers writes it: two-space indent, keys sorted, trailing newline.
    static func indexJSON(totalSize: Int, weightMap: [(String, String)]) -> String {
        var json: [UInt8] = []
        var text = "{\n  \"metadata\": {\n    \"total_size\": \(totalSize)\n  },\n  \"weight_map\": {\n"
        let sorted = weightMap.sorted { $0.0.utf8.lexicographicallyPrecedes($1.0.utf8) }
        for (k, (tensor, shard)) in sorted.enumerated() {
            json.removeAll(keepingCapacity: true)
            SafetensorsWriter.appendString(tensor, to: &json)
            json.append(contentsOf: Array(": ".utf8))
            SafetensorsWriter.appendString(shard, to: &json)
            text += "    " + String(decoding: json, as: UTF8.self) + (k + 1 < sorted.count ? ",\n" : "\n")
        }
        return text + "  }\n}\n"
    }
}
