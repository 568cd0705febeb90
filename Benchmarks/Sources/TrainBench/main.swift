// The training and inference benchmarks of `train_bench_torch.py`, written with the public API of
// TensorNN. Each case prints one JSON line, like the PyTorch script, so the two can be compared.
//
//   TrainBench fnn_manual THREADS           FNN 8→6→4→2→1 sigmoid, BCELoss, SGD lr 0.01, batch 32,
//                                           shuffle, 100 epochs over 760 random rows (2,400 steps)
//   TrainBench fnn_csv THREADS CSV          the same loop over a CSV file (e.g. 768-row diabetes data)
//   TrainBench mlp_train THREADS            MLP 784→512→512→10 ReLU, CrossEntropyLoss, Adam lr 1e-3,
//                                           batch 128, 20,000 random samples, 3 epochs
//   TrainBench mlp_infer THREADS            the same MLP: batch-1 latency, batch-256 throughput
//
// Build and run in release:  swift run -c release TrainBench fnn_manual 1

import Foundation
import TensorNN

/// Wall-clock seconds.
func now() -> Double {
    var time = timespec()
    clock_gettime(CLOCK_MONOTONIC, &time)
    return Double(time.tv_sec) + Double(time.tv_nsec) * 1e-9
}

/// CPU seconds used by this process (all threads).
func cpuTime() -> Double {
    var time = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &time)
    return Double(time.tv_sec) + Double(time.tv_nsec) * 1e-9
}

/// CPU seconds used by the calling thread (immune to waiting for a busy machine's cores).
func threadCPUTime() -> Double {
    var time = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
    return Double(time.tv_sec) + Double(time.tv_nsec) * 1e-9
}

func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
}

func printJSON(_ fields: [String: Any]) {
    if let data = try? JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys]),
       let text = String(data: data, encoding: .utf8) {
        print(text)
    }
}

/// The reference training loop: FNN 8→6→4→2→1 with sigmoids, BCELoss, SGD lr 0.01, batch 32, shuffled.
func fnnCase(inputs: Tensor, targets: Tensor, epochs: Int) -> [String: Any] {
    var generator = SplitMix64(seed: 0)
    let model = FeedForward(layerSizes: [8, 6, 4, 2, 1], activation: .sigmoid, using: &generator)
    let optimizer = SGD(parameters: model.parameters(), learningRate: 0.01)
    let lossFunction = BCELoss()
    let loader = DataLoader(TensorDataset(inputs: inputs, targets: targets), batchSize: 32, shuffle: true,
                            generator: SplitMix64(seed: 1))
    var epochTimes: [Double] = []
    var steps = 0
    var lastLoss: Float = 0
    let start = now(), cpuStart = cpuTime(), threadStart = threadCPUTime()
    for _ in 0..<epochs {
        let epochStart = now()
        for batch in loader {
            optimizer.zeroGrad()
            let loss = lossFunction(model(batch.inputs), batch.targets)
            loss.backward()
            optimizer.step()
            steps += 1
            lastLoss = loss.item()
        }
        epochTimes.append(now() - epochStart)
    }
    let total = now() - start
    return ["total_s": total, "cpu_s": cpuTime() - cpuStart, "thread_cpu_s": threadCPUTime() - threadStart,
            "epoch_s_median": median(epochTimes), "steps": steps,
            "step_us": total / Double(steps) * 1e6, "final_loss": Double(lastLoss)]
}

/// The MLP of the anchors: 784→512→512→10 with ReLU, logits out.
func makeMLP(using generator: inout SplitMix64) -> Sequential {
    Sequential([
        Linear(inFeatures: 784, outFeatures: 512, using: &generator), ReLU(),
        Linear(inFeatures: 512, outFeatures: 512, using: &generator), ReLU(),
        Linear(inFeatures: 512, outFeatures: 10, using: &generator),
    ])
}

func mlpTrain() -> [String: Any] {
    var generator = SplitMix64(seed: 0)
    let n = 20_000, batchSize = 128
    let x = Tensor.randn([n, 784], using: &generator)
    let y = Tensor((0..<n).map { _ in Float(generator.next(upperBound: 10 as UInt64)) })
    let model = makeMLP(using: &generator)
    let optimizer = Adam(parameters: model.parameters(), learningRate: 1e-3)
    let lossFunction = CrossEntropyLoss()
    var epochRates: [Double] = []
    var lastLoss: Float = 0
    let start = now(), cpuStart = cpuTime()
    for _ in 0..<3 {
        let epochStart = now()
        let permutation = randomPermutation(n, using: &generator)
        for first in stride(from: 0, to: n, by: batchSize) {
            let indices = Array(permutation[first..<min(first + batchSize, n)])
            optimizer.zeroGrad()
            let loss = lossFunction(model(x.rows(at: indices)), y.rows(at: indices))
            loss.backward()
            optimizer.step()
            lastLoss = loss.item()
        }
        epochRates.append(Double(n) / (now() - epochStart))
    }
    let total = now() - start
    return ["total_s": total, "cpu_s": cpuTime() - cpuStart, "samples_per_s": Double(3 * n) / total,
            "samples_per_s_epochs": epochRates, "final_loss": Double(lastLoss)]
}

func mlpInfer() -> [String: Any] {
    var generator = SplitMix64(seed: 0)
    let model = makeMLP(using: &generator)
    let x1 = Tensor.randn([1, 784], using: &generator)
    let x256 = Tensor.randn([256, 784], using: &generator)
    return withNoGrad {
        for _ in 0..<200 { _ = model(x1) }
        var latencies: [Double] = []
        for _ in 0..<3000 {
            let t0 = now()
            _ = model(x1)
            latencies.append(now() - t0)
        }
        for _ in 0..<20 { _ = model(x256) }
        var rates: [Double] = []
        for _ in 0..<7 {
            let t0 = now()
            for _ in 0..<20 { _ = model(x256) }
            rates.append(20 * 256 / (now() - t0))
        }
        let sorted = latencies.sorted()
        return ["b1_latency_us_median": median(latencies) * 1e6, "b1_latency_us_p10": sorted[sorted.count / 10] * 1e6,
                "b1_latency_us_p90": sorted[sorted.count * 9 / 10] * 1e6, "b256_samples_per_s": median(rates)]
    }
}

let arguments = CommandLine.arguments
guard arguments.count >= 3, let threads = Int(arguments[2]) else {
    print("usage: TrainBench fnn_manual|fnn_csv|mlp_train|mlp_infer THREADS [CSV]")
    exit(64)
}
ComputeThreads.set(threads)
var result: [String: Any]
switch arguments[1] {
case "fnn_manual":
    // 760 random rows and 0/1 labels, as the PyTorch anchor uses.
    var generator = SplitMix64(seed: 0)
    let inputs = Tensor.rand([760, 8], using: &generator)
    let targets = Tensor.rand([760, 1], using: &generator) .> 0.5
    let epochs = Int(ProcessInfo.processInfo.environment["TRAINBENCH_EPOCHS"] ?? "") ?? 100
    result = fnnCase(inputs: inputs, targets: targets, epochs: epochs)
case "fnn_csv":
    guard arguments.count >= 4 else { print("fnn_csv needs a CSV path"); exit(64) }
    do {
        let data = try CSVDataset(contentsOfFile: arguments[3], standardize: true)
        result = fnnCase(inputs: data.inputs, targets: data.targets, epochs: 100)
    } catch {
        print("error: \(error)")
        exit(1)
    }
case "mlp_train":
    result = mlpTrain()
case "mlp_infer":
    result = mlpInfer()
default:
    print("unknown case \(arguments[1])")
    exit(64)
}
result["case"] = arguments[1]
result["threads"] = threads
result["runtime"] = "swift"
printJSON(result)
