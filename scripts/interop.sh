#!/usr/bin/env bash
# Checks modelfile's outputs with the real libraries (torch, safetensors, huggingface_hub,
# pytorch-lightning). Creates a virtual environment OUTSIDE the repository on first use
# (torch from PyPI brings about 5 GB of CUDA libraries; it runs on CPU):
#
#   scripts/interop.sh                 # venv in ~/.cache/modelfile-interop (or $MODELFILE_VENV)
#   MODELFILE_VENV=/path/venv scripts/interop.sh
#
# A local CPU wheel of torch is used when one is found in $TORCH_WHEEL_DIR (default /opt/wheels).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${MODELFILE_VENV:-$HOME/.cache/modelfile-interop}
PINS=(torch==2.13.0 safetensors==0.8.0 pytorch-lightning==2.6.6 huggingface_hub==2.4.0 transformers==5.25.0 peft==0.21.2
      numpy==2.4.6 gguf==0.19.0 omegaconf==2.3.1)
if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
    FIND=()
    [ -d "${TORCH_WHEEL_DIR:-/opt/wheels}" ] && FIND=(--find-links "${TORCH_WHEEL_DIR:-/opt/wheels}")
    "$VENV/bin/pip" install -q "${FIND[@]}" "${PINS[@]}"
fi
bash scripts/install-deps.sh
swift build -c release --product modelfile --static-swift-stdlib
exec "$VENV/bin/python" scripts/interop.py --modelfile .build/release/modelfile "$@"
