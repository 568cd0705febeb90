#!/usr/bin/env bash
# The tool at its best in under a minute: the reference run (which learns nothing in 100 epochs),
# a run that learns, its loss plot, the checkpoint read top down, a half-precision conversion
# checked with diff, and predictions with class names. Outputs go to a fresh folder, .build/demo.
set -euo pipefail
cd "$(dirname "$0")/.."
MF=${1:-.build/release/modelfile}
OUT=.build/demo
rm -rf "$OUT" && mkdir -p "$OUT"
bold() { printf '\n\033[1m%s\033[0m\n' "$*"; }
step() { bold "\$ $*"; "$@"; }
# A long listing, its first and last lines.
shown() { bold "\$ $* | (first 3 and last 3 lines)"; "$@" > "$OUT/listing.txt"; head -3 "$OUT/listing.txt"; echo "  ..."; tail -3 "$OUT/listing.txt"; }

echo "modelfile demo: outputs in $OUT"

bold "1. The reference run: 8-6-4-2-1, sigmoids, BCE, SGD lr 0.01, batch 32, 100 epochs."
echo "   The loss barely moves and the accuracy is the share of the larger class: it learns nothing."
shown "$MF" train --plot "$OUT/seed-loss.svg"

bold "2. The same network with Adam on standardised inputs, a 20% validation split: it learns."
shown "$MF" train --optimizer adam --standardize --validation-split 0.2 --out "$OUT/fnn.ckpt" --plot "$OUT/loss.svg"
echo "   loss curves: $OUT/loss.svg (training and validation), $OUT/seed-loss.svg (the reference run)"

bold "3. The checkpoint, read from its headers and pickle alone."
step "$MF" inspect "$OUT/fnn.ckpt"

bold "4. Its weights in half precision as safetensors, then compared with the checkpoint by value."
step "$MF" convert "$OUT/fnn.ckpt" "$OUT/fnn-f16.safetensors" --dtype f16
step "$MF" diff "$OUT/fnn.ckpt" "$OUT/fnn-f16.safetensors" --select state_dict --cast --atol 0.001
bold "   Without --cast, the dtype change itself is a difference (exit 1):"
"$MF" diff "$OUT/fnn.ckpt" "$OUT/fnn-f16.safetensors" --select state_dict --atol 0.001 | tail -1 || echo "   (exit $?)"

bold "5. Predictions of the converted file, with class names."
shown "$MF" predict --model "$OUT/fnn-f16.safetensors" --labels healthy,diabetic

bold "6. What it refuses: a pickled nn.Module names a class outside the allowlist (exit 2)."
"$MF" inspect Fixtures/torch/whole_module.pth || echo "   (exit $?)"
