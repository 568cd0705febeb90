// Arbitrary bytes after the legacy magic number, read as a legacy torch file end to end: the five
// pickles, the storage section and every tensor.
import ModelFormats
#if canImport(Glibc)
import Glibc
#endif

@inline(never) @_optimize(none) func blackHole<T>(_ value: T) {}

let magic: [UInt8] = [0x80, 0x02, 0x8A, 0x0A, 0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19, 0x2E]
let path = "/tmp/modelfile-fuzz-legacy-\(getpid()).pt"

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    // The reader works on files (it maps them), so each input is written to a scratch file.
    let file = fopen(path, "wb")
    guard let file else { return 0 }
    _ = magic.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, file) }
    _ = fwrite(data, 1, size, file)
    fclose(file)
    var options = ReadOptions(allowUnknownObjects: size % 2 == 0)
    options.maxMaterializedBytes = 1 << 24
    options.maxTreeNodes = 100_000
    if let torch = try? TorchFile(path: path, options: options) {
        for index in torch.entries.indices { blackHole(try? torch.tensor(at: index)) }
    }
    return 0
}
