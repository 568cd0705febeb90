// Arbitrary bytes as a pickle, under torch's allowlist and with unknown globals kept inert; then
// the scanner over the same bytes.
import ModelFormats
import PickleVM

@inline(never) @_optimize(none) func blackHole<T>(_ value: T) {}

let strict = Unpickler(limits: PickleLimits(), globalPolicy: { module, name in
    TorchGlobals.meaning(module: module, name: name) != nil ? .allow : .refuse
})
let lenient = Unpickler(limits: PickleLimits(), globalPolicy: { _, _ in .keepInert })

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    blackHole(try? strict.unpickle(bytes, from: 0))
    blackHole(try? lenient.unpickle(bytes, from: 0))
    blackHole(PickleScanner.scanPartially(bytes, from: 0))
    return 0
}
