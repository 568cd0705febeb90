#!/usr/bin/env python3
"""Generates model folders whose weights are torch.save files, under Fixtures/folders/, with the real libraries.

Pinned versions (checked by generate_fixtures.check_versions; the script refuses others):
    torch 2.13.0, safetensors 0.8.0, pytorch_lightning 2.6.6, huggingface_hub 2.4.0
Seed: torch.manual_seed(35) for the model.

    /work/venv/bin/python Fixtures/generate_folder_formats.py

Files:
- pytorch_sharded/: a Hugging Face folder (config.json) whose weights are a pytorch_model.bin.index.json
  set, as transformers 4 wrote it with safe_serialization=False: huggingface_hub's
  split_torch_state_dict_into_shards(filename_pattern="pytorch_model{suffix}.bin", max_shard_size=100),
  each shard a torch.save of its tensors, the index as json.dumps(indent=2, sort_keys=True).
- pytorch_single/: the same model as one pytorch_model.bin beside config.json.

Beside each, `<name>.json` holds what the libraries say: the index (for the set), the tensor names
torch.load gives for each file, and each file's size.
"""
import json
import os
import shutil
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from generate_fixtures import check_versions, write_json  # noqa: E402

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "folders")


class Small(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.ReLU(), torch.nn.Linear(5, 4))
        self.head = torch.nn.Linear(4, 2)


def fresh(path):
    if os.path.isdir(path):
        shutil.rmtree(path)
    os.makedirs(path)
    with open(os.path.join(path, "config.json"), "w") as f:
        json.dump({"model_type": "small", "hidden": 5}, f)
    return path


def files_facts(folder):
    facts = []
    for name in sorted(os.listdir(folder)):
        path = os.path.join(folder, name)
        entry = {"path": name, "bytes": os.path.getsize(path)}
        if name.endswith(".bin"):
            entry["names"] = list(torch.load(path, weights_only=True))
        facts.append(entry)
    return facts


def gen_folders():
    from huggingface_hub import split_torch_state_dict_into_shards
    torch.manual_seed(35)
    state = Small().state_dict()

    folder = fresh(os.path.join(HERE, "pytorch_sharded"))
    split = split_torch_state_dict_into_shards(state, filename_pattern="pytorch_model{suffix}.bin", max_shard_size=100)
    assert split.is_sharded and len(split.filename_to_tensors) > 1
    for shard, names in split.filename_to_tensors.items():
        torch.save({name: state[name].contiguous() for name in names}, os.path.join(folder, shard))
    index = {"metadata": split.metadata, "weight_map": split.tensor_to_filename}
    with open(os.path.join(folder, "pytorch_model.bin.index.json"), "w") as f:
        f.write(json.dumps(index, indent=2, sort_keys=True) + "\n")
    write_json(folder + ".json", {
        "made_by": "huggingface_hub.split_torch_state_dict_into_shards(pytorch_model{suffix}.bin, 100) + torch.save per shard",
        "index": index, "state_dict": list(state), "files": files_facts(folder)})

    folder = fresh(os.path.join(HERE, "pytorch_single"))
    torch.save(state, os.path.join(folder, "pytorch_model.bin"))
    write_json(folder + ".json", {"made_by": "torch.save(model.state_dict()) as pytorch_model.bin",
                                  "state_dict": list(state), "files": files_facts(folder)})


if __name__ == "__main__":
    check_versions()
    os.makedirs(HERE, exist_ok=True)
    gen_folders()
    for root, _, names in os.walk(HERE):
        for name in names:
            os.chmod(os.path.join(root, name), 0o644)
    print("generated folders")
