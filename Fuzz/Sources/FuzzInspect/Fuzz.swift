// The whole inspect path on arbitrary file contents: detection, whichever reader the content
// selects, the inspection report, then every tensor read (as verify would).
import ModelFileKit
import ModelFormats
#if canImport(Glibc)
import Glibc
#endif

@inline(never) @_optimize(none) func blackHole<T>(_ value: T) {}

let path = "/tmp/modelfile-fuzz-inspect-\(getpid()).bin"

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let file = fopen(path, "wb")
    guard let file else { return 0 }
    _ = fwrite(data, 1, size, file)
    fclose(file)
    var options = ReadOptions(allowUnknownObjects: size % 2 == 1)
    options.maxMaterializedBytes = 1 << 24
    options.maxTreeNodes = 100_000
    if let inspection = try? Inspection.inspect(path: path, options: options) {
        blackHole(inspection.json.rendered())
        blackHole(inspection.torch?.checkpoint?.optimizers.count)
    }
    if let source = try? ModelFile.open(path, options: options) {
        for index in source.entries.indices { blackHole(try? source.tensor(at: index)) }
    }
    blackHole(try? ScanReport.scan(path: path))
    return 0
}
