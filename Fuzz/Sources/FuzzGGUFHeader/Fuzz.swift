// Arbitrary bytes as a GGUF file: header, metadata values, tensor infos and placement checks,
// then every array decoded, every value rendered as JSON text, and (for files that parse) every
// tensor dequantized from the same bytes, as inspect, verify and convert would.
import ModelFormats

@inline(never) @_optimize(none) func blackHole<T>(_ value: T) {}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    // The fuzzer's input lacks the magic most of the time: give it, so the search goes deeper.
    var file = Array("GGUF".utf8)
    file.append(contentsOf: bytes)
    file.withUnsafeBytes { whole in
        for input in [bytes, whole] {
            guard let header = try? GGUFHeader.parse(file: input, maxTensorRank: 8, allowingTruncation: size % 2 == 0) else { continue }
            for entry in header.metadata { blackHole(entry.value.jsonText) }
            blackHole(header.llamaCppIncompatibilities)
            let truncated = Set(header.truncatedTensors)
            for (index, info) in header.tensors.enumerated() where !truncated.contains(index) && info.type.isDequantizable {
                guard info.elementCount <= 1 << 20, info.type.plainDType.map({ $0 == .f32 || $0 == .f16 || $0 == .bf16 }) != false else { continue }
                let values = UnsafeMutablePointer<Float>.allocate(capacity: max(1, info.elementCount))
                GGUFDequantizer.dequantize(
                    UnsafeRawBufferPointer(rebasing: input[info.fileRange]), type: info.type, elementCount: info.elementCount, into: values)
                blackHole(values.pointee)
                values.deallocate()
            }
        }
    }
    return 0
}
