// Dequantization and Q8_0 quantization throughput of the GGUF kernels, on the tensors of a GGUF
// file, for gguf_bench.py (which times gguf.quants on the same tensors in the same run).
//
//   GGUFBench dequantize FILE [REPS]   one JSON line per tensor: type, elements, best seconds
//   GGUFBench quantize FILE [REPS]     Q8_0 of each tensor's float32 values (dequantized first)
//   GGUFBench inspect FILE [REPS]      opening the file (header parse), best seconds
import Foundation
import ModelFormats
import TensorData

/// This thread's CPU time: the machine is shared, so CPU time, not wall time, is compared
/// (gguf_bench.py times numpy with `time.thread_time()`).
func now() -> Double {
    var time = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
    return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
}

let arguments = CommandLine.arguments
guard arguments.count >= 3 else {
    FileHandle.standardError.write("usage: GGUFBench dequantize|quantize|inspect FILE [REPS]\n".data(using: .utf8)!)
    exit(64)
}
let mode = arguments[1], path = arguments[2]
let reps = arguments.count > 3 ? Int(arguments[3]) ?? 3 : 3

do {
    if mode == "inspect" {
        var best = Double.infinity
        var count = 0
        for _ in 0..<reps {
            let start = now()
            let file = try GGUFFile(path: path)
            count = file.entries.count + file.header.metadata.count
            best = min(best, now() - start)
        }
        print("{\"mode\": \"inspect\", \"seconds\": \(best), \"items\": \(count)}")
        exit(0)
    }
    let file = try GGUFFile(path: path)
    for (index, info) in file.header.tensors.enumerated() where info.type.isDequantizable && info.type.isQuantized || info.type == .f16 || info.type == .bf16 {
        let stored = try file.storedBytes(ofTensorAt: index)
        let output = UnsafeMutableBufferPointer<Float>.allocate(capacity: info.elementCount)
        defer { output.deallocate() }
        var best = Double.infinity
        stored.withUnsafeBytes { bytes in
            for _ in 0..<reps {
                let start = now()
                GGUFDequantizer.dequantize(bytes, type: info.type, elementCount: info.elementCount, into: output.baseAddress!)
                best = min(best, now() - start)
            }
        }
        if mode == "quantize" {
            guard info.elementCount % 32 == 0 else { continue }
            let blocks = UnsafeMutableRawBufferPointer.allocate(byteCount: info.elementCount / 32 * 34, alignment: 64)
            defer { blocks.deallocate() }
            best = .infinity
            for _ in 0..<reps {
                let start = now()
                GGUFQuantizer.quantizeQ8_0(UnsafeBufferPointer(output), into: blocks)
                best = min(best, now() - start)
            }
        }
        print("{\"mode\": \"\(mode)\", \"name\": \"\(info.name)\", \"type\": \"\(info.type.name)\", \"elements\": \(info.elementCount), \"seconds\": \(best)}")
    }
} catch {
    FileHandle.standardError.write("GGUFBench: \(error)\n".data(using: .utf8)!)
    exit(2)
}
