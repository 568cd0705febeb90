// swift-tools-version: 6.1
//
// A program that uses this repository's library as any other package would: it depends on the
// repository by path and imports only `ModelFile`. `.ci/run` builds and runs it after the tests:
//
//   swift run --package-path Examples Diabetes . /tmp/diabetes-out
import Foundation
import PackageDescription

// A path dependency is known by its folder's name (lowercased), and that name differs between
// clones (`modelfile`, `modelfile-main`, a worktree's name), so it is read from where this file is.
let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
let identity = repository.lastPathComponent.lowercased()

let package = Package(
    name: "Examples",
    dependencies: [
        .package(path: ".."),
    ],
    targets: [
        .executableTarget(name: "Diabetes", dependencies: [.product(name: "ModelFile", package: identity)]),
    ]
)
