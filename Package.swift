// swift-tools-version: 6.1
//
// The package graph enforces the layering:
//
//   ExactText     byte-exact strings: names and keys compared and hashed by their UTF-8 bytes
//   JSONReader    an exact, strict JSON parser (value tree, pull cursor) for every JSON modelfile reads
//   TensorData    plain values: dtypes, shapes, raw tensors, state dicts, half-precision bits
//   BinaryIO      memory-mapped files, bounds-checked byte cursors, atomic output files
//   PickleVM      an inert pickle interpreter and encoder; knows nothing about torch
//   ZipFormat     central-directory zip reader over a mapped file, aligned stored-entry writer
//   ModelFormats  safetensors, PyTorch zip and legacy files, Lightning checkpoints, detection
//   TensorCore    float32 tensors with reverse-mode autograd (OpenBLAS for matmul)
//   TensorNN      modules, losses, optimizers, datasets
//   HubClient     HTTP (libcurl), the Hugging Face hub API, its cache layout, downloads, remote headers;
//                 the format readers never import it
//   ModelFileKit  workflows: inspect, convert, verify, diff, scan, strip, train, predict
//   ModelFile     the library product: re-exports the modules above, so `import ModelFile` is enough
//   modelfile     the command-line tool (argument parsing and rendering only)
import PackageDescription

let package = Package(
    name: "modelfile",
    products: [
        .executable(name: "modelfile", targets: ["modelfile"]),
        .library(name: "ModelFile", targets: ["ModelFile"]),
        .library(name: "ModelFileKit", targets: ["ModelFileKit"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        // System libraries: module.modulemap + shim.h in Sources/<Name>/; flags come from pkg-config.
        .systemLibrary(name: "CZip", pkgConfig: "libzip", providers: [.apt(["libzip-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        .systemLibrary(name: "CCrypto", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),
        // OpenBLAS: declarations only; TensorCore opens the shared library on first use (see BLAS.swift).
        .systemLibrary(name: "COpenBLAS", providers: [.apt(["libopenblas-dev"])]),

        .target(name: "ExactText"),
        .target(name: "JSONReader", dependencies: ["ExactText"]),
        .target(name: "TensorData", dependencies: ["ExactText"]),
        .target(name: "BinaryIO"),
        .target(name: "PickleVM", dependencies: ["BinaryIO", "ExactText"]),
        .target(name: "ZipFormat", dependencies: ["BinaryIO", "ExactText", "CZlib"]),
        .target(
            name: "ModelFormats",
            dependencies: ["ExactText", "JSONReader", "TensorData", "BinaryIO", "PickleVM", "ZipFormat", "CZip", "CZlib"]),
        .target(name: "TensorCore", dependencies: ["TensorData", "COpenBLAS"]),
        .target(name: "TensorNN", dependencies: ["TensorCore"]),
        .target(name: "HubClient", dependencies: ["ModelFormats", "BinaryIO", "ExactText", "JSONReader", "CCurl", "CCrypto"]),
        .target(name: "ModelFileKit", dependencies: ["ModelFormats", "TensorNN", "HubClient"]),
        .target(name: "ModelFile", dependencies: ["TensorData", "ModelFormats", "TensorCore", "TensorNN", "ModelFileKit"]),
        .executableTarget(
            name: "modelfile",
            dependencies: [
                "ModelFileKit",
                "HubClient",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),

        // Test support: fixture lookup, tolerance helpers, hostile-byte builders.
        .target(name: "TestSupport", dependencies: ["TensorData", "JSONReader", "CCrypto"], path: "Tests/Support"),
        .testTarget(name: "ExactTextTests", dependencies: ["ExactText"]),
        .testTarget(name: "JSONReaderTests", dependencies: ["JSONReader", "ExactText", "TestSupport"]),
        .testTarget(name: "TensorDataTests", dependencies: ["TensorData", "TestSupport"]),
        .testTarget(name: "BinaryIOTests", dependencies: ["BinaryIO", "TestSupport"]),
        .testTarget(name: "PickleVMTests", dependencies: ["PickleVM", "TestSupport"]),
        .testTarget(name: "ZipFormatTests", dependencies: ["ZipFormat", "BinaryIO", "CZip", "TestSupport"]),
        .testTarget(name: "ModelFormatsTests", dependencies: ["ModelFormats", "PickleVM", "ZipFormat", "BinaryIO", "TensorData", "TestSupport"]),
        .testTarget(name: "TensorCoreTests", dependencies: ["TensorCore", "TestSupport"]),
        .testTarget(name: "TensorNNTests", dependencies: ["TensorNN", "TestSupport"]),
        .testTarget(name: "ModelFileKitTests", dependencies: ["ModelFileKit", "ModelFormats", "TensorData", "TestSupport"]),
        .testTarget(name: "HubClientTests", dependencies: ["HubClient", "ModelFormats", "TestSupport"]),
        .testTarget(name: "CLITests", dependencies: ["TestSupport", "JSONReader"]),
        // The library as a consumer sees it: `import ModelFile` only (TestSupport finds fixtures).
        .testTarget(name: "LibraryTests", dependencies: ["ModelFile", "TestSupport"]),
        // docs/library.md, compiled and run (Tutorial.swift is generated from its code blocks).
        .testTarget(name: "LibraryDocTests", dependencies: ["ModelFile", "TestSupport"]),
    ]
)
