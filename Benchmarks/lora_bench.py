#!/usr/bin/env python3
"""Benchmarks `modelfile lora merge` beside `modelfile convert` of the same base and beside PEFT's
merge_and_unload + save_file in Python, in the same run (docs/cli.md, "LoRA").

    python3 Benchmarks/lora_bench.py [--work DIR] [--runs N] [--modelfile PATH]
                                                   [--layers 32] [--hidden 4096] [--dtype bf16|f32]
                                                   [--rank 16] [--keep]

The base is generated here (never committed): a Llama-shaped bfloat16 (or float32) safetensors
file of `--layers` blocks of four [H, H] projections (q, k, v, o) plus a [32000, H] embedding —
4.25 GiB and 129 tensors for 32 layers at H = 4096; `--layers 28 --hidden 3072` gives 2.15 GiB in
113 tensors. The adapter is a PEFT folder with rank `--rank` float32
A/B on q_proj, k_proj and v_proj of every block (96 modules at 32 layers, 48 MiB at rank 16).

Every figure is a fresh process per run: the median of N runs (min-max) of wall time, and the
largest peak RSS from `/usr/bin/time -f %M` (measure() from Benchmarks/file_bench.py). The first run
of each command warms the page cache and is not counted. Outputs are deleted between runs.
The PEFT side loads the base into an nn.Module of Linear/Embedding layers built from the file's
names (`load_state_dict(assign=True)`, so weights are not copied twice), then
`PeftModel.from_pretrained`, `merge_and_unload()` and `safetensors.torch.save_file`.
"""
import argparse
import json
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from file_bench import float_block, make_safetensors, measure  # noqa: E402

HIDDEN, VOCAB = 4096, 32000

PY_PEFT_MERGE = """
import sys, torch
from torch import nn
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from peft import PeftModel
base_path, adapter, out = sys.argv[1:4]
state = load_file(base_path)
root = nn.Module()
for name, tensor in state.items():
    parts = name.split(".")[:-1]
    module = root
    for part in parts[:-1]:
        if not hasattr(module, part):
            module.add_module(part, nn.Module())
        module = getattr(module, part)
    if "embed" in parts[-1]:
        layer = nn.Embedding(tensor.shape[0], tensor.shape[1], device="meta")
    else:
        layer = nn.Linear(tensor.shape[1], tensor.shape[0], bias=False, device="meta")
    module.add_module(parts[-1], layer)
root.load_state_dict(state, assign=True)
del state
merged = PeftModel.from_pretrained(root, adapter).merge_and_unload()
save_file({k: v.contiguous() for k, v in merged.state_dict().items()}, out, metadata={"format": "pt"})
"""


def bf16_block():
    """1 MiB of bfloat16 values: the high halves of float32 normal samples."""
    floats = float_block(1)
    return b"".join(floats[i + 2:i + 4] for i in range(0, len(floats), 4)) * 2


def make_base(path, layers, dtype):
    name, size, block = ("BF16", 2, bf16_block()) if dtype == "bf16" else ("F32", 4, float_block(1))
    tensors = [("model.embed_tokens.weight", name, [VOCAB, HIDDEN], size)]
    for i in range(layers):
        for proj in ("q_proj", "k_proj", "v_proj", "o_proj"):
            tensors.append((f"model.layers.{i}.self_attn.{proj}.weight", name, [HIDDEN, HIDDEN], size))
    tensors.sort(key=lambda t: t[0])
    make_safetensors(path, tensors, block)


def make_adapter(folder, layers, rank):
    import torch
    from safetensors.torch import save_file
    os.makedirs(folder, exist_ok=True)
    g = torch.Generator().manual_seed(0)
    tensors = {}
    for i in range(layers):
        for proj in ("q_proj", "k_proj", "v_proj"):
            prefix = f"base_model.model.model.layers.{i}.self_attn.{proj}"
            tensors[prefix + ".lora_A.weight"] = torch.randn(rank, HIDDEN, generator=g) * 0.01
            tensors[prefix + ".lora_B.weight"] = torch.randn(HIDDEN, rank, generator=g) * 0.01
    save_file(tensors, os.path.join(folder, "adapter_model.safetensors"), metadata={"format": "pt"})
    config = {"peft_type": "LORA", "r": rank, "lora_alpha": 2 * rank, "target_modules": ["q_proj", "k_proj", "v_proj"],
              "bias": "none", "fan_in_fan_out": False, "use_rslora": False, "lora_dropout": 0.0, "task_type": None,
              "base_model_name_or_path": None, "inference_mode": True, "modules_to_save": None}
    with open(os.path.join(folder, "adapter_config.json"), "w") as f:
        json.dump(config, f, indent=2)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--work", default="/tmp/modelfile-lora-bench")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--modelfile", default=".build/release/modelfile")
    parser.add_argument("--layers", type=int, default=32)
    parser.add_argument("--hidden", type=int, default=4096)
    parser.add_argument("--dtype", choices=["bf16", "f32"], default="bf16")
    parser.add_argument("--rank", type=int, default=16)
    parser.add_argument("--no-peft", action="store_true", help="skip the Python side")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    global HIDDEN
    HIDDEN = args.hidden
    mf = os.path.abspath(args.modelfile)
    os.makedirs(args.work, exist_ok=True)
    base = os.path.join(args.work, "base.safetensors")
    adapter = os.path.join(args.work, "adapter")
    if not os.path.exists(base):
        make_base(base, args.layers, args.dtype)
    if not os.path.exists(os.path.join(adapter, "adapter_model.safetensors")):
        make_adapter(adapter, args.layers, args.rank)
    out = os.path.join(args.work, "out.safetensors")
    remove = lambda: os.path.exists(out) and os.remove(out)  # noqa: E731
    largest = VOCAB * HIDDEN * (2 if args.dtype == "bf16" else 4)
    adapter_bytes = os.path.getsize(os.path.join(adapter, "adapter_model.safetensors"))
    print(f"base: {os.path.getsize(base):,} bytes in {1 + 4 * args.layers} {args.dtype} tensors (largest {largest / 2**20:.0f} MiB); "
          f"adapter: {3 * args.layers} modules, rank {args.rank}, {adapter_bytes / 2**20:.1f} MiB", flush=True)
    rows = {}
    rows["convert"] = measure([mf, "convert", base, out, "--quiet"], args.runs, cleanup=remove)
    rows["lora merge"] = measure([mf, "lora", "merge", base, adapter, out, "--quiet"], args.runs, cleanup=remove)
    if not args.no_peft:
        rows["PEFT merge_and_unload + save_file"] = measure([sys.executable, "-c", PY_PEFT_MERGE, base, adapter, out], args.runs, cleanup=remove)
    for label, (wall, (low, high), rss) in rows.items():
        print(f"{label:36s} {wall:7.2f} s ({low:.2f}-{high:.2f})  peak RSS {rss:8.1f} MiB", flush=True)
    merge, convert = rows["lora merge"], rows["convert"]
    bound = (3 * largest + adapter_bytes) / 2**20
    print(f"lora merge / convert time: {merge[0] / convert[0]:.2f} (contract: within 2)")
    print(f"lora merge peak RSS {merge[2]:.0f} MiB vs 3 x largest tensor + adapter = {bound:.0f} MiB")
    if "PEFT merge_and_unload + save_file" in rows:
        peft = rows["PEFT merge_and_unload + save_file"]
        print(f"PEFT / lora merge: time {peft[0] / merge[0]:.2f}x, peak RSS {peft[2] / merge[2]:.1f}x")
    with open(os.path.join(args.work, "results.json"), "w") as f:
        json.dump({k: {"seconds": v[0], "range": v[1], "peak_rss_mib": v[2]} for k, v in rows.items()}, f, indent=1)
    remove()
    if not args.keep:
        shutil.rmtree(args.work, ignore_errors=True)


if __name__ == "__main__":
    main()
