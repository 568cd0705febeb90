#!/usr/bin/env bash
# The main job: a tour of modelfile on the bundled files. Outputs go to a fresh folder under
# .build/demo (removed and recreated on each run).
set -euo pipefail
cd "$(dirname "$0")/.."
MF=${1:-.build/release/modelfile}
OUT=.build/demo
rm -rf "$OUT" && mkdir -p "$OUT"
step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }

echo "modelfile demo: outputs in $OUT"
step "$MF" inspect Fixtures/safetensors/mlp.safetensors
step "$MF" inspect Fixtures/safetensors/sharded --filter 'layers.*'
step "$MF" convert Fixtures/safetensors/mlp.safetensors "$OUT/mlp-bf16.safetensors" --dtype bf16
step "$MF" inspect "$OUT/mlp-bf16.safetensors" --json
step "$MF" convert Fixtures/safetensors/sharded "$OUT/resharded" --max-shard-size 3KB
step "$MF" verify "$OUT/resharded"
step "$MF" verify Fixtures/safetensors/dtypes.safetensors
echo
echo "refused as expected:"
"$MF" inspect Fixtures/safetensors/bad_overlap.safetensors || echo "(exit $?)"
