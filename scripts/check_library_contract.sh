#!/usr/bin/env bash
# The library as an outside program sees it: builds a fresh package in a temporary folder, outside
# this repository, that depends on this package by path and writes only `import ModelFile`, then
# compiles and runs every line of the library contract in it (the checks of
# Tests/LibraryTests/ContractChecks.swift, compared with the values torch and the reference
# libraries produced in Fixtures/library/expected.json). Exits 1 when a line does not hold.
#
#   bash scripts/check_library_contract.sh [--keep]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/modelfile-consumer.XXXXXX")
if [[ "${1:-}" == "--keep" ]]; then
    echo "consumer package kept in $work"
else
    trap 'rm -rf "$work"' EXIT
fi
# A path dependency's package identity is its folder's name, lowercased.
identity=$(basename "$root" | tr '[:upper:]' '[:lower:]')
mkdir -p "$work/Consumer/Sources/Consumer" "$work/out"
cat > "$work/Consumer/Package.swift" <<EOF
// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "Consumer",
    dependencies: [.package(path: "$root")],
    targets: [.executableTarget(name: "Consumer", dependencies: [.product(name: "ModelFile", package: "$identity")])]
)
EOF
cp "$root/Tests/LibraryTests/ContractChecks.swift" "$work/Consumer/Sources/Consumer/ContractChecks.swift"
cat > "$work/Consumer/Sources/Consumer/main.swift" <<'EOF'
import Foundation
import ModelFile

let arguments = CommandLine.arguments
guard arguments.count == 3 else {
    print("usage: Consumer REPOSITORY WORK-FOLDER")
    exit(64)
}
let run = try ContractRun(root: arguments[1], work: arguments[2])
run.runAll()
for line in run.lines {
    print((line.failures.isEmpty ? "ok    " : "FAILED") + " " + line.line)
    for failure in line.failures { print("         " + failure) }
}
let failed = run.lines.filter { !$0.failures.isEmpty }.count
print("\(run.lines.count - failed) of \(run.lines.count) contract lines hold")
exit(failed == 0 ? 0 : 1)
EOF
swift build --package-path "$work/Consumer" 2>&1 | grep -v '^\[' || true
binary="$work/Consumer/.build/debug/Consumer"
[[ -x "$binary" ]] || { echo "the consumer package did not build" >&2; exit 1; }
"$binary" "$root" "$work/out"
