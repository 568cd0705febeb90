// swift-tools-version: 6.1
//
// Training and inference benchmarks of the tensor runtime, run beside `train_bench_torch.py`, and
// the tensor basics of the library contract, run beside `tensor_bench_torch.py` (the same work in
// PyTorch). Build in release:  swift run -c release TrainBench  /  swift run -c release TensorBench
import PackageDescription

let package = Package(
    name: "Benchmarks",
    dependencies: [
        .package(name: "modelfile", path: ".."),
    ],
    targets: [
        .executableTarget(
            name: "TrainBench",
            dependencies: [.product(name: "ModelFileKit", package: "modelfile")]),
        .executableTarget(
            name: "TensorBench",
            dependencies: [.product(name: "ModelFile", package: "modelfile")]),
    ]
)
