"""Helpers shared by scripts/interop.py and the per-area check modules (scripts/interop_*.py)."""
import json
import os
import subprocess

import torch
from safetensors.torch import load_file

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Fixtures")
failures = []


def check(name, condition, detail=""):
    print(("PASS " if condition else "FAIL ") + name + ("" if condition else f": {detail}"))
    if not condition:
        failures.append(name)


def run(modelfile, *args, expect=0):
    result = subprocess.run([modelfile, *args], capture_output=True, text=True)
    if result.returncode != expect:
        raise RuntimeError(f"modelfile {' '.join(args)} exited {result.returncode}: {result.stderr.strip()}")
    return result


def same_tensor(a, b):
    """Bit-identical: same dtype, shape and bytes."""
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    if a.numel() == 0:
        return True
    return torch.equal(a.contiguous().reshape(-1).view(torch.uint8), b.contiguous().reshape(-1).view(torch.uint8))


def load_any_safetensors(path):
    """Tensors of a file, or of every shard of a folder with an index."""
    if os.path.isdir(path):
        index_path = os.path.join(path, "model.safetensors.index.json")
        if not os.path.exists(index_path):
            return load_file(os.path.join(path, "model.safetensors"))
        with open(index_path) as f:
            index = json.load(f)
        tensors = {}
        for shard in sorted(set(index["weight_map"].values())):
            part = load_file(os.path.join(path, shard))
            for name in part:
                assert index["weight_map"][name] == shard, f"{name} not mapped to {shard}"
            tensors.update(part)
        assert set(tensors) == set(index["weight_map"]), "index and shards disagree"
        return tensors
    return load_file(path)
