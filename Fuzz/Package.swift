// swift-tools-version: 6.1
//
// libFuzzer targets for every reader, built with AddressSanitizer. Separate from the main package
// because a target with only LLVMFuzzerTestOneInput (no main) breaks a plain `swift build`.
//
//   Fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]      builds and runs them, seeded from Fixtures/
import PackageDescription

let targets = ["FuzzSafetensorsHeader", "FuzzJSON", "FuzzUnpickler", "FuzzZipArchive", "FuzzLegacyTorch", "FuzzInspect", "FuzzGGUFHeader"]

let package = Package(
    name: "modelfile-fuzz",
    dependencies: [.package(name: "modelfile", path: "..")],
    targets: targets.map { name in
        .executableTarget(name: name, dependencies: [.product(name: "ModelFileKit", package: "modelfile")])
    }
)
