#!/usr/bin/env bash
# The main job: train the reference network on the bundled diabetes data, save it in all three
# formats, then inspect, convert, compare, strip and scan the results. Outputs go to a fresh
# folder, .build/demo.
set -euo pipefail
cd "$(dirname "$0")/.."
MF=${1:-.build/release/modelfile}
OUT=.build/demo
rm -rf "$OUT" && mkdir -p "$OUT"
step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }

echo "modelfile demo: outputs in $OUT"

# 1. The reference run (8-6-4-2-1, sigmoids, BCE, SGD lr 0.01, batch 32, shuffled, 100 epochs),
#    saved as safetensors, with the loss curve.
step "$MF" train --out "$OUT/fnn.safetensors" --plot "$OUT/loss.svg"

# 2. The same network trained with Adam and saved as a resumable Lightning checkpoint and as .pth.
step "$MF" train --optimizer adam --epochs 50 --standardize --out "$OUT/fnn.ckpt" --json
step "$MF" train --resume "$OUT/fnn.ckpt" --epochs 60 --out "$OUT/fnn.pth"

# 3. What is in each file, from the headers alone.
step "$MF" inspect "$OUT/fnn.safetensors"
step "$MF" inspect "$OUT/fnn.ckpt"
step "$MF" inspect "$OUT/fnn.pth" --json

# 4. Conversions in every direction, checked with diff.
step "$MF" convert ckpt-to-safetensors "$OUT/fnn.ckpt" "$OUT/from-ckpt.safetensors"
step "$MF" convert "$OUT/fnn.pth" "$OUT/from-pth.safetensors"
step "$MF" convert safetensors-to-pth "$OUT/fnn.safetensors" "$OUT/from-safetensors.pth"
step "$MF" convert "$OUT/fnn.safetensors" "$OUT/fnn-bf16.safetensors" --dtype bf16
step "$MF" diff "$OUT/fnn.safetensors" "$OUT/from-safetensors.pth"
step "$MF" diff "$OUT/fnn.safetensors" "$OUT/fnn-bf16.safetensors" --atol 0.01 || echo "(exit $?: the dtypes differ, so diff reports them)"
step "$MF" strip "$OUT/fnn.ckpt" "$OUT/fnn-weights-only.ckpt"
step "$MF" verify "$OUT/fnn-weights-only.ckpt"

# 5. Predictions from a saved network, and a security scan of the pickles.
printf '\n\033[1m$ %s\033[0m\n' "$MF predict --model $OUT/fnn.pth | tail -4"
"$MF" predict --model "$OUT/fnn.pth" | tail -4
step "$MF" scan "$OUT/fnn.ckpt" "$OUT/fnn.pth" Fixtures/torch/state_dict_legacy.pt
echo
echo "refused as expected (a pickled nn.Module names a class outside the allowlist):"
"$MF" inspect Fixtures/torch/whole_module.pth || echo "(exit $?)"
