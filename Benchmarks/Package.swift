// swift-tools-version: 6.1
//
// Training and inference benchmarks of the tensor runtime, run beside `train_bench_torch.py`; the
// tensor basics of the library contract, run beside `tensor_bench_torch.py` (the same work in
// PyTorch); and the GGUF kernels, run by `gguf_bench.py` beside gguf-py. Build in release:
// swift run -c release TrainBench  /  swift run -c release TensorBench  /  swift build -c release
import Foundation
import PackageDescription

// A path dependency is known by its folder's name (lowercased), which differs between clones.
let modelfile = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().lastPathComponent.lowercased()

let package = Package(
    name: "Benchmarks",
    dependencies: [
        .package(path: ".."),
    ],
    targets: [
        .executableTarget(
            name: "TrainBench",
            dependencies: [.product(name: "ModelFileKit", package: modelfile)]),
        .executableTarget(
            name: "TensorBench",
            dependencies: [.product(name: "ModelFile", package: modelfile)]),
        .executableTarget(
            name: "GGUFBench",
            dependencies: [.product(name: "ModelFile", package: modelfile)]),
    ]
)
