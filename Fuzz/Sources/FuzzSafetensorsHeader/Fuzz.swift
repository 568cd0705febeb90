// Arbitrary bytes as a whole safetensors file: header length, JSON, layout checks.
import ModelFormats

@inline(never) @_optimize(none) func blackHole<T>(_ value: T) {}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    blackHole(try? SafetensorsHeader.parse(file: UnsafeRawBufferPointer(start: data, count: size)))
    return 0
}
