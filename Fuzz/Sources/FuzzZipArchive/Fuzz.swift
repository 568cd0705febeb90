// Arbitrary bytes as a zip archive: index, cross-checks, then every entry read and CRC-checked.
import ZipFormat

@inline(never) @_optimize(none) func blackHole<T>(_ value: T) {}

final class Owner: Sendable {}
let owner = Owner()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let limits = ZipReadLimits(maxInflatedByteCount: 1 << 24, maxEntryCount: 1 << 16)
    guard let archive = try? ZipArchive(bytes: UnsafeRawBufferPointer(start: data, count: size), owner: owner, limits: limits) else { return 0 }
    blackHole(try? archive.checkSingleRootFolder())
    for entry in archive.entries { blackHole(try? archive.data(of: entry, verifyingCRC: true)) }
    return 0
}
