#!/usr/bin/env python3
"""Generates the fixtures of the command-line checks under Fixtures/cli/ with the real libraries.

Pinned versions (checked by generate_fixtures.check_versions): torch 2.13.0, safetensors 0.8.0,
pytorch-lightning 2.6.6, huggingface_hub 2.4.0. No randomness: the weights are those of the
committed Lightning checkpoint Fixtures/lightning/adam_steplr.ckpt.

    /work/venv/bin/python Fixtures/generate_cli_commands.py

What a user gets after `convert last.ckpt model.safetensors --dtype f16` in a project whose
LightningModule holds the network as `self.model`: the checkpoint's weights, named with a
`model.` prefix, cast to half precision.
- adam_steplr_f16.safetensors: safetensors.torch.save_file of the weights as float16;
- adam_steplr_bf16.pth: torch.save of the weights as bfloat16.
Beside each, `<name>.json` holds what torch computes for `diff --cast`: per tensor (named without
the prefix) the dtypes and the largest |a - b| with both widened to float64.
"""
import json
import os
import sys

import torch
from safetensors.torch import save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from generate_fixtures import ST_NAME, check_versions  # noqa: E402

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "cli")
SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "lightning", "adam_steplr.ckpt")


def expectation(weights, cast, made_by):
    tensors = []
    for name, a in weights.items():
        b = cast[name]
        diff = (a.double() - b.double()).abs().max().item()
        tensors.append({"name": name, "dtype": [ST_NAME[a.dtype], ST_NAME[b.dtype]], "shape": list(a.shape),
                        "max_abs_diff": diff})
    return {"made_by": made_by, "source": "Fixtures/lightning/adam_steplr.ckpt state_dict", "prefix": "model.",
            "tensors": tensors}


def main():
    check_versions()
    os.makedirs(HERE, exist_ok=True)
    weights = torch.load(SOURCE, weights_only=True)["state_dict"]
    for name, dtype, suffix in [("adam_steplr_f16.safetensors", torch.float16, "safetensors.torch.save_file"),
                                ("adam_steplr_bf16.pth", torch.bfloat16, "torch.save")]:
        cast = {k: v.to(dtype) for k, v in weights.items()}
        path = os.path.join(HERE, name)
        prefixed = {"model." + k: v.contiguous() for k, v in cast.items()}
        if name.endswith(".safetensors"):
            save_file(prefixed, path)
        else:
            torch.save(prefixed, path)
        with open(path + ".json", "w") as f:
            json.dump(expectation(weights, cast, suffix), f, indent=1)
            f.write("\n")
        print("wrote", os.path.relpath(path))


if __name__ == "__main__":
    main()
