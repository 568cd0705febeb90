#if canImport(Glibc)
import Glibc
#endif
import BinaryIO
import ExactText
import HubClient
import ModelFormats

/// Names that refer to a stored tensor without a tensor of their own (docs/cli.md, "Tied tensors").
enum TiedTensors {
    /// safetensors aliases: a `__metadata__` entry (or a sharded index's `metadata` entry) whose key
    /// names no stored tensor and whose value names a stored tensor, as `safetensors.torch.save_model`
    /// and `huggingface_hub` record the tied weights they drop. Keyed by the stored tensor's index;
    /// each list sorted by bytes. Empty for pickle formats, whose ties are shared storages.
    static func aliases(of source: TensorSource) -> [Int: [String]] {
        let inner = (source as? FolderSource)?.weights ?? source
        var metadata: [ExactString: String] = [:]
        switch inner {
        case let sharded as ShardedModel:
            metadata = sharded.index.metadata
            for shard in sharded.shards { metadata.merge(shard.source.metadata ?? [:]) { first, _ in first } }
        case let file as SafetensorsFile:
            metadata = file.metadata ?? [:]
        default:
            return [:]
        }
        guard !metadata.isEmpty else { return [:] }
        // Only names a metadata entry mentions are looked up (metadata is small, entries many; a
        // plain inspect of 10,000 tensors stays as fast as without this).
        let keys = Set(metadata.keys), values = Set(metadata.values.map { ExactString($0) })
        let lengths = Set(keys.map(\.string.utf8.count) + values.map(\.string.utf8.count))
        var indexOf: [ExactString: Int] = [:]
        for (index, entry) in inner.entries.enumerated() where lengths.contains(entry.name.utf8.count) {
            let name = ExactString(entry.name)
            if keys.contains(name) || values.contains(name) { indexOf[name] = index }
        }
        var result: [Int: [String]] = [:]
        for (key, value) in metadata where indexOf[key] == nil {
            guard let target = indexOf[ExactString(value)] else { continue }
            result[target, default: []].append(key.string)
        }
        return result.mapValues { $0.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) } }
    }
}

/// Whole-file SHA-256, as `sha256sum` and the Hugging Face hub show it.
enum FileChecksum {
    /// The SHA-256 of every byte of `path`, lower-case hex, read 1 MiB at a time.
    ///
    /// - Throws: `FileError` when the file cannot be opened or read.
    static func sha256(path: String) throws -> String {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw FileError(path: path, operation: "open", errno: errno) }
        defer { close(descriptor) }
        let digest = Digest(.sha256)
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw FileError(path: path, operation: "read", errno: errno)
            }
            if count == 0 { break }
            buffer.withUnsafeBytes { digest.update(UnsafeRawBufferPointer(rebasing: $0[..<count])) }
        }
        return Digest.hex(digest.finish())
    }

    /// The size of the file at `path`, or `nil` when it cannot be examined.
    static func size(path: String) -> Int? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return Int(info.st_size)
    }
}
