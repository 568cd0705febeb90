#!/usr/bin/env bash
# Builds the fuzz targets (libFuzzer + AddressSanitizer, release) and runs each for a while,
# seeded from the committed fixtures. Crashes are saved as Fuzz/crash-<target>-<hash>; each one
# found becomes a regression test in Tests/.
#
#   Fuzz/run.sh                      # every target for 60 s
#   Fuzz/run.sh 600 FuzzUnpickler    # one target for 10 minutes
set -euo pipefail
cd "$(dirname "$0")"
SECONDS_PER_TARGET=${1:-60}
shift || true
TARGETS=("$@")
((${#TARGETS[@]})) || TARGETS=(FuzzSafetensorsHeader FuzzJSON FuzzUnpickler FuzzZipArchive FuzzLegacyTorch FuzzInspect FuzzGGUFHeader)

swift build -c release --sanitize=fuzzer -Xswiftc -sanitize=fuzzer,address --scratch-path .build-fuzz 2>&1 \
    | grep -vE "Cannot export local symbol|^\s*$" | tail -3

seed() {  # seed a corpus folder from the fixtures
    local corpus=$1; shift
    mkdir -p "$corpus"
    for pattern in "$@"; do
        find ../Fixtures -type f -name "$pattern" -size -64k -exec cp {} "$corpus/" \; 2>/dev/null || true
    done
}
for target in "${TARGETS[@]}"; do
    corpus=corpus-$target
    case $target in
        FuzzSafetensorsHeader) seed "$corpus" '*.safetensors' ;;
        FuzzJSON)  # header texts and the JSON fixtures
            mkdir -p "$corpus"
            for f in $(find ../Fixtures -name '*.safetensors' -size -64k); do
                n=$(od -An -tu8 -N8 "$f" | tr -d ' ')
                [ -n "$n" ] && [ "$n" -lt 65536 ] && tail -c +9 "$f" | head -c "$n" > "$corpus/$(basename "$f").json" || true
            done
            seed "$corpus" '*.json' ;;
        FuzzUnpickler) seed "$corpus" '*.pkl' ;;
        FuzzZipArchive) seed "$corpus" '*.pth' '*.ckpt' '*.zip' ;;
        FuzzLegacyTorch)  # legacy files without their 15-byte magic (the harness adds it)
            mkdir -p "$corpus"
            for f in $(find ../Fixtures -name '*legacy*.pt'); do tail -c +16 "$f" > "$corpus/$(basename "$f")"; done ;;
        FuzzInspect) seed "$corpus" '*.safetensors' '*.pth' '*.pt' '*.ckpt' '*.json' '*.gguf' ;;
        FuzzGGUFHeader) seed "$corpus" '*.gguf' ;;
    esac
    echo "== $target for ${SECONDS_PER_TARGET}s ($(ls "$corpus" | wc -l) seeds)"
    SWIFT_BACKTRACE=enable=no ".build-fuzz/release/$target" "$corpus" -max_total_time="$SECONDS_PER_TARGET" \
        -rss_limit_mb=2048 -timeout=10 -artifact_prefix="crash-$target-" -print_final_stats=1 2>&1 \
        | grep -E "^#[0-9]+.*(DONE|pulse)|stat::number_of_executed_units|stat::peak_rss|ERROR|SUMMARY|Test unit written" | tail -4
done
