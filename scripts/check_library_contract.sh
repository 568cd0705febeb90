#!/usr/bin/env bash
# The library as an outside program sees it: builds a fresh package in a temporary folder, outside
# this repository, whose manifest is the one docs/library.md shows (a dependency on this package by
# path) and whose sources import only `ModelFile` (and Foundation, to read the expected values),
# then compiles and runs every line of the library contract in it (the checks of
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
# The package manifest is the one docs/library.md shows a newcomer, verbatim: it names the
# dependency `../modelfile`, so the repository is reached through a link of that name.
ln -s "$root" "$work/modelfile"
mkdir -p "$work/MyApp/Sources/MyApp" "$work/out"
awk '/^```swift$/ { inside = 1; text = ""; next }
     inside && /^```$/ { inside = 0; if (text ~ /^\/\/ swift-tools-version/) { printf "%s", text; exit } next }
     inside { text = text $0 "\n" }' "$root/docs/library.md" > "$work/MyApp/Package.swift"
grep -q 'name: "MyApp"' "$work/MyApp/Package.swift" || { echo "docs/library.md shows no MyApp manifest" >&2; exit 1; }
cp "$root/Tests/LibraryTests/ContractChecks.swift" "$work/MyApp/Sources/MyApp/ContractChecks.swift"
cat > "$work/MyApp/Sources/MyApp/main.swift" <<'EOF'
import Foundation
import ModelFile

let arguments = CommandLine.arguments
guard arguments.count == 3 else {
    print("usage: MyApp REPOSITORY WORK-FOLDER")
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
swift build --package-path "$work/MyApp" 2>&1 | grep -v '^\[' || true
binary="$work/MyApp/.build/debug/MyApp"
[[ -x "$binary" ]] || { echo "the consumer package did not build" >&2; exit 1; }
"$binary" "$root" "$work/out"
