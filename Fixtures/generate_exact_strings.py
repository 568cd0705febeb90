#!/usr/bin/env python3
"""Generates the fixtures under Fixtures/exact_strings/: names and text that must be kept exactly.

Pinned versions (checked by generate_fixtures.check_versions):
    torch 2.13.0 (CPU), safetensors 0.8.0, pytorch-lightning 2.6.6, huggingface_hub 2.4.0
Values come from torch.arange (no randomness); the seed below is set anyway.

    /path/to/venv/bin/python Fixtures/generate_exact_strings.py

Every file is written by the real library and read back by it; `<name>.json` beside it records
what the reference read: tensors in header (or pickle) order with name, dtype, shape, SHA-256 and
hex bytes. Names are also given as their UTF-8 bytes in hex (`name_utf8`), and metadata as a list
of [key, value] pairs (`metadata_items`), so that no JSON reader can merge two keys that differ
only by Unicode normalization. The JSON is written with ASCII escapes (`\\u00e9`, `\\u0000`).

Files:
- normalization_pair.safetensors: "é" (U+00E9) and "e" + U+0301, "layer.K" and "layer." + U+212A
  (KELVIN SIGN, canonically equivalent to K), as four tensors; metadata keys "é" / "e\\u0301".
- nul_in_key.safetensors: "a\\u0000b" beside "a" (a NUL inside a name is kept, never cut).
- escaped_keys.safetensors: hand-made header whose keys are written with JSON escapes
  ("\\u00e9", "e\\u0301", "\\ud83d\\ude00"); the reference reads them as the decoded names.
- escaped_duplicate.safetensors: "é" written raw and again as "\\u00e9": one key twice. The
  reference keeps the last one; modelfile refuses the file (duplicate key), on purpose.
- normalization_pair.pth: torch.save of an OrderedDict with the same four names.
- sharded/: huggingface_hub.save_torch_state_dict split into two shards, "é" in one and
  "e\\u0301" in the other, with model.safetensors.index.json (keys \\u-escaped, as the hub writes).
"""
import collections
import json
import os
import shutil
import struct
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import generate_fixtures as base  # noqa: E402

SEED = 0
FOLDER = "exact_strings"
PRECOMPOSED = "\u00e9"
DECOMPOSED = "e\u0301"
KELVIN = "layer.\u212a"
LATIN_K = "layer.K"


def describe(name, tensor):
    entry = base.describe_tensor(name, tensor)
    entry["name_utf8"] = name.encode("utf-8").hex()
    return entry


def expectation_safetensors(path, made_by):
    from safetensors import safe_open
    try:
        with safe_open(path, "pt") as f:
            metadata = f.metadata()
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as error:  # the reference refuses it
        return {"file": os.path.basename(path), "made_by": made_by, "valid": False,
                "reference_error": str(error).splitlines()[0]}
    order = header_order(path)
    return {
        "file": os.path.basename(path), "made_by": made_by, "valid": True,
        "metadata_items": None if metadata is None else sorted([k, v] for k, v in metadata.items()),
        "tensors": [describe(name, tensors[name]) for name in order if name in tensors],
        "reference_keys": sorted(tensors),
    }


def header_order(path):
    """Names in header order, decoded, duplicates kept (the reference keeps only the last)."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        pairs = json.loads(f.read(n), object_pairs_hook=list)
    seen, order = set(), []
    for key, _ in pairs:
        if key != "__metadata__" and key not in seen:
            seen.add(key)
            order.append(key)
    return order


def write(path, value):
    with open(path, "w") as f:
        json.dump(value, f, indent=1, ensure_ascii=True)
        f.write("\n")


def four_tensors():
    return collections.OrderedDict([
        (PRECOMPOSED, torch.arange(0, 4, dtype=torch.float32)),
        (DECOMPOSED, torch.arange(10, 16, dtype=torch.float32).reshape(2, 3)),
        (LATIN_K, torch.arange(0, 3, dtype=torch.int64)),
        (KELVIN, torch.arange(100, 102, dtype=torch.int16)),
    ])


def raw_header_file(path, header_text, data):
    header = header_text.encode("utf-8")
    header += b" " * ((8 - len(header) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(header)) + header + data)


def main():
    base.check_versions()
    torch.manual_seed(SEED)
    from huggingface_hub import save_torch_state_dict
    from safetensors.torch import save_file

    folder = base.out(FOLDER, "x")
    folder = os.path.dirname(folder)

    # The canonically equivalent pairs, as the real writer lays them out.
    path = os.path.join(folder, "normalization_pair.safetensors")
    base.remove(path)
    save_file(four_tensors(), path, metadata={PRECOMPOSED: "precomposed", DECOMPOSED: "decomposed"})
    write(path + ".json", expectation_safetensors(path, "safetensors.torch.save_file"))

    # A NUL inside a name.
    path = os.path.join(folder, "nul_in_key.safetensors")
    base.remove(path)
    save_file({"a\u0000b": torch.arange(0, 2, dtype=torch.uint8), "a": torch.arange(5, 6, dtype=torch.uint8)}, path)
    write(path + ".json", expectation_safetensors(path, "safetensors.torch.save_file"))

    # Keys spelled with JSON escapes (the writer never escapes them; readers must decode them).
    path = os.path.join(folder, "escaped_keys.safetensors")
    header = ('{"\\u00e9":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},'
              '"e\\u0301":{"dtype":"U8","shape":[1],"data_offsets":[1,2]},'
              '"\\ud83d\\ude00":{"dtype":"U8","shape":[1],"data_offsets":[2,3]}}')
    raw_header_file(path, header, bytes([1, 2, 3]))
    write(path + ".json", expectation_safetensors(path, "hand-made: keys written as \\u escapes"))

    # The same key twice, once raw and once escaped: the reference keeps the last.
    path = os.path.join(folder, "escaped_duplicate.safetensors")
    header = ('{"\u00e9":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},'
              '"\\u00e9":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}')
    raw_header_file(path, header, bytes([7]))
    expected = expectation_safetensors(path, "hand-made: one key written raw and escaped")
    expected["modelfile"] = {"refuses": "duplicateKey", "key_utf8": PRECOMPOSED.encode("utf-8").hex(),
                             "offset": 8 + len(header.encode("utf-8").split(b"},")[0]) + 2}
    write(path + ".json", expected)

    # The same names in a torch.save pickle (BINUNICODE strings).
    path = os.path.join(folder, "normalization_pair.pth")
    base.remove(path)
    tensors = four_tensors()
    torch.save(tensors, path)
    loaded = torch.load(path, weights_only=True)
    write(path + ".json", {
        "file": os.path.basename(path), "made_by": "torch.save", "valid": True,
        "tensors": [describe(name, value) for name, value in loaded.items()],
    })

    # A sharded set whose two spellings live in different shards.
    shard_folder = os.path.join(folder, "sharded")
    shutil.rmtree(shard_folder, ignore_errors=True)
    os.makedirs(shard_folder)
    sharded = collections.OrderedDict([
        (PRECOMPOSED, torch.arange(0, 64, dtype=torch.float32)),
        (DECOMPOSED, torch.arange(64, 128, dtype=torch.float32)),
    ])
    save_torch_state_dict(sharded, shard_folder, max_shard_size=300)
    with open(os.path.join(shard_folder, "model.safetensors.index.json"), "rb") as f:
        index = json.loads(f.read(), object_pairs_hook=list)
    weight_map = dict(index)["weight_map"]
    from safetensors import safe_open
    tensors = []
    for name, shard in weight_map:
        with safe_open(os.path.join(shard_folder, shard), "pt") as f:
            tensors.append(dict(describe(name, f.get_tensor(name)), shard=shard))
    write(os.path.join(shard_folder, "expected.json"), {
        "made_by": "huggingface_hub.save_torch_state_dict(max_shard_size=300)", "valid": True, "tensors": tensors,
    })
    print("wrote", sorted(os.listdir(folder)), sorted(os.listdir(shard_folder)))


if __name__ == "__main__":
    main()
