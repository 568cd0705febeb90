// The tensor basics of the library contract timed with the public API (`import ModelFile`), beside
// `tensor_bench_torch.py` (the same work in PyTorch). Prints one JSON line: for each case the median
// time of one operation in microseconds.
//
//   TensorBench THREADS
//
// Cases (float32 throughout):
//   tensor_4x4        Tensor([Float] of 16, shape: [4, 4])            torch.tensor(list, dtype=float32).view(4, 4)
//   from_array_1m     Tensor([Float] of 1,048,576, shape: [1024, 1024]) torch.tensor(numpy array) (a copy)
//   zeros_1m          Tensor.zeros([1024, 1024])                      torch.zeros(1024, 1024)
//   rand_1m           Tensor.rand([1024, 1024], using: &rng)          torch.rand(1024, 1024, generator=g)
//   randn_1m          Tensor.randn([1024, 1024], using: &rng)         torch.randn(1024, 1024, generator=g)
//   arange_1m         Tensor.arange(0, 1_048_576)                     torch.arange(0., 1048576.)
//   add_1m            a + b, [1024, 1024] each                        a + b
//   sum_1m            a.sum(), 1,048,576 elements                     a.sum()
//   matmul_512        a.matmul(b), [512, 512] each                    a @ b
//   matmul_512_grad   (a.matmul(b)).sum().backward(), both leaves     the same
//   mlp_step          one training step of 784→512→512→10 (ReLU, CrossEntropyLoss, Adam lr 1e-3,
//                     batch 128): zeroGrad, forward, loss, backward, step
//
// Build and run in release (from Benchmarks/):  swift run -c release TensorBench 1

import Foundation
import ModelFile

/// Wall-clock seconds.
func now() -> Double {
    var time = timespec()
    clock_gettime(CLOCK_MONOTONIC, &time)
    return Double(time.tv_sec) + Double(time.tv_nsec) * 1e-9
}

/// The median of `values`.
func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
}

/// The median time of one call of `body`, in microseconds: `batches` batches of `repetitions`
/// calls each, after one warm-up batch.
func measure(batches: Int = 15, repetitions: Int, _ body: () -> Void) -> Double {
    for _ in 0..<repetitions { body() }
    var times: [Double] = []
    for _ in 0..<batches {
        let start = now()
        for _ in 0..<repetitions { body() }
        times.append((now() - start) / Double(repetitions) * 1e6)
    }
    return median(times)
}

/// The MLP of the training case.
final class MLP: Module {
    let fc1: Linear, fc2: Linear, fc3: Linear
    init(using generator: inout SplitMix64) {
        fc1 = Linear(inFeatures: 784, outFeatures: 512, using: &generator)
        fc2 = Linear(inFeatures: 512, outFeatures: 512, using: &generator)
        fc3 = Linear(inFeatures: 512, outFeatures: 10, using: &generator)
    }
    func forward(_ x: Tensor) -> Tensor { fc3(fc2(fc1(x).relu()).relu()) }
}

let arguments = CommandLine.arguments
let threads = arguments.count > 1 ? Int(arguments[1]) ?? 1 : 1
ComputeThreads.set(threads)
var generator = SplitMix64(seed: 0)
var results: [String: Double] = [:]
var sink: Float = 0

let small: [Float] = (0..<16).map { Float($0) * 0.5 }
results["tensor_4x4"] = measure(repetitions: 20_000) { sink += Tensor(small, shape: [4, 4]).item(at: 5) }
let million: [Float] = (0..<1_048_576).map { Float($0 % 1000) * 0.001 }
results["from_array_1m"] = measure(repetitions: 50) { sink += Tensor(million, shape: [1024, 1024]).item(at: 7) }
results["zeros_1m"] = measure(repetitions: 50) { sink += Tensor.zeros([1024, 1024]).item(at: 7) }
results["randn_1m"] = measure(repetitions: 5) { sink += Tensor.randn([1024, 1024], using: &generator).item(at: 7) }
results["rand_1m"] = measure(repetitions: 5) { sink += Tensor.rand([1024, 1024], using: &generator).item(at: 7) }
results["arange_1m"] = measure(repetitions: 20) { sink += Tensor.arange(0, 1_048_576).item(at: 7) }
let a1m = Tensor.randn([1024, 1024], using: &generator), b1m = Tensor.randn([1024, 1024], using: &generator)
results["add_1m"] = measure(repetitions: 50) { sink += (a1m + b1m).item(at: 7) }
results["sum_1m"] = measure(repetitions: 100) { sink += a1m.sum().item() }
let a512 = Tensor.randn([512, 512], using: &generator), b512 = Tensor.randn([512, 512], using: &generator)
results["matmul_512"] = measure(repetitions: 20) { sink += a512.matmul(b512).item(at: 7) }
results["matmul_512_grad"] = measure(repetitions: 10) {
    let a = a512.requiringGrad(), b = b512.requiringGrad()
    a.matmul(b).sum().backward()
    sink += a.grad?.item(at: 3) ?? 0
}

let model = MLP(using: &generator)
let optimizer = Adam(model.parameters(), lr: 1e-3)
let lossFunction = CrossEntropyLoss()
let inputs = Tensor.randn([128, 784], using: &generator)
let labels = Tensor((0..<128).map { Float($0 % 10) })
results["mlp_step"] = measure(repetitions: 10) {
    optimizer.zeroGrad()
    let loss = lossFunction(model(inputs), labels)
    loss.backward()
    optimizer.step()
    sink += loss.item()
}

var fields: [String: Any] = ["tool": "modelfile", "threads": threads, "sink": Double(sink.isFinite ? 0 : 1)]
for (name, value) in results { fields[name + "_us"] = value }
if let data = try? JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys]),
   let text = String(data: data, encoding: .utf8) {
    print(text)
}

extension Tensor {
    /// The element at row-major position `index` (keeps the compiler from discarding the work).
    func item(at index: Int) -> Float { withUnsafeBufferPointer { $0[index % $0.count] } }
}
