"""Interop checks for `scan`, for what a file is said to be, and for showing text from files,
on files made by the real libraries (torch, transformers, numpy, safetensors).

Sections (run with `scripts/interop.sh scan naming display`):
- scan: every file of real training and model folders gets the verdict torch.load(weights_only=True)
  gives it (clean exactly when torch loads it); a folder's verdict covers its .bin shards named by
  pytorch_model.bin.index.json; bytes hidden in a zip comment are reported while torch still loads.
- naming: wheels, JSON configs and HTML pages are refused by every command, by name (GGUF files are
  read as a format: interop_gguf.py).
- display: names with escape sequences, line breaks and bidirectional overrides, as torch and
  safetensors save them, are shown escaped and bounded; --json carries them exactly.
"""
import json
import os
import random
import subprocess
import zipfile

import numpy as np
import torch
from safetensors.torch import save_file

from interop_support import check, run


def modelfile_result(modelfile, *args):
    return subprocess.run([modelfile, *args], capture_output=True, text=True)


def torch_loads(path):
    try:
        torch.load(path, weights_only=True)
        return True
    except Exception:
        return False


class Evil:
    """An object whose pickle calls os.system when loaded without weights_only (never loaded here)."""

    def __reduce__(self):
        return (os.system, ("touch /tmp/modelfile-interop-canary",))


def write_bin_shards(folder, state_dict, evil_shard=None):
    """A pytorch_model.bin.index.json set as transformers 4 wrote it: two torch.save shards."""
    names = list(state_dict)
    parts = [names[: len(names) // 2], names[len(names) // 2:]]
    weight_map = {}
    for i, part in enumerate(parts):
        shard = f"pytorch_model-{i + 1:05d}-of-00002.bin"
        obj = {name: state_dict[name] for name in part}
        if evil_shard == i:
            obj["extra"] = Evil()
        torch.save(obj, os.path.join(folder, shard))
        weight_map.update({name: shard for name in part})
    total = sum(t.numel() * t.element_size() for t in state_dict.values())
    with open(os.path.join(folder, "pytorch_model.bin.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2, sort_keys=True)


def scan_checks(modelfile, work):
    from transformers import BertConfig, BertModel, TrainingArguments

    torch.manual_seed(0)
    config = BertConfig(vocab_size=64, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=32, max_position_embeddings=32)
    model = BertModel(config)

    # A training output folder: weights, a sharded .bin set, optimizer/scheduler/rng state, args.
    run_dir = os.path.join(work, "scan-run")
    checkpoint = os.path.join(run_dir, "checkpoint-10")
    os.makedirs(checkpoint)
    model.save_pretrained(run_dir)
    write_bin_shards(checkpoint, model.state_dict())
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model(torch.randint(0, 64, (2, 8))).last_hidden_state.sum().backward()
    optimizer.step()
    torch.save(optimizer.state_dict(), os.path.join(checkpoint, "optimizer.pt"))
    scheduler = torch.optim.lr_scheduler.LinearLR(optimizer)
    torch.save(scheduler.state_dict(), os.path.join(checkpoint, "scheduler.pt"))
    torch.save({"python": random.getstate(), "numpy": np.random.get_state(), "cpu": torch.random.get_rng_state()},
               os.path.join(checkpoint, "rng_state.pth"))
    torch.save(TrainingArguments(output_dir=run_dir, report_to=[]), os.path.join(checkpoint, "training_args.bin"))

    result = modelfile_result(modelfile, "scan", "--json", run_dir)
    document = json.loads(result.stdout)
    flagged = {detail["file"] for detail in document["finding_details"]}
    scanned = [entry["path"] for entry in document["files"]]
    expected_files = ["checkpoint-10/optimizer.pt", "checkpoint-10/pytorch_model-00001-of-00002.bin",
                      "checkpoint-10/pytorch_model-00002-of-00002.bin", "checkpoint-10/rng_state.pth",
                      "checkpoint-10/scheduler.pt", "checkpoint-10/training_args.bin", "model.safetensors"]
    check("scan: a training folder's pickle-bearing files and shards are all scanned", scanned == expected_files, scanned)
    for name in expected_files:
        if name.endswith(".safetensors"):
            continue
        loads = torch_loads(os.path.join(run_dir, name))
        check(f"scan: {name} is clean exactly when torch.load(weights_only=True) loads it",
              (name not in flagged) == loads, f"flagged={name in flagged} torch_loads={loads}")
    check("scan: the folder's exit is 1 (training_args.bin and rng_state.pth hold objects torch refuses)",
          result.returncode == 1, result.returncode)

    # A model folder whose second .bin shard calls os.system: the folder's verdict names it.
    evil_dir = os.path.join(work, "scan-evil")
    os.makedirs(evil_dir)
    config.save_pretrained(evil_dir)
    write_bin_shards(evil_dir, model.state_dict(), evil_shard=1)
    result = modelfile_result(modelfile, "scan", evil_dir)
    findings = [line for line in result.stdout.splitlines() if line.startswith("finding: ")]
    check("scan: a shard of pytorch_model.bin.index.json calling posix.system makes the folder's verdict",
          result.returncode == 1 and len(findings) == 1
          and findings[0].startswith("finding: pytorch_model-00002-of-00002.bin: ")
          and "GLOBAL posix.system is outside the weights-only allowlist" in findings[0], result.stdout)
    check("scan: torch.load(weights_only=True) refuses the same shard",
          not torch_loads(os.path.join(evil_dir, "pytorch_model-00002-of-00002.bin")))
    check("scan: the index alone gives the same verdict",
          modelfile_result(modelfile, "scan", os.path.join(evil_dir, "pytorch_model.bin.index.json")).returncode == 1)
    clean_dir = os.path.join(work, "scan-clean")
    os.makedirs(clean_dir)
    write_bin_shards(clean_dir, model.state_dict())
    check("scan: the same set without the object is clean", modelfile_result(modelfile, "scan", clean_dir).returncode == 0)

    # A comment after the central directory: torch loads the file, scan reports the bytes.
    commented = os.path.join(work, "scan-comment.pth")
    torch.save(model.state_dict(), commented)
    with zipfile.ZipFile(commented, "a") as archive:
        archive.comment = b"#!/bin/sh\necho hidden\n"
    result = modelfile_result(modelfile, "scan", commented)
    check("scan: an archive comment is reported as bytes that belong to no entry",
          result.returncode == 1 and "in the archive comment, after the central directory belong to no entry" in result.stdout,
          result.stdout[-300:])
    check("scan: torch.load still reads the commented archive", torch_loads(commented))

    # NumPy: an object array holds a pickle; a numeric array does not.
    objects = os.path.join(work, "scan-objects.npy")
    np.save(objects, np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    numbers = os.path.join(work, "scan-numbers.npy")
    np.save(numbers, np.arange(4, dtype=np.float32))
    result = modelfile_result(modelfile, "scan", objects)
    check("scan: a NumPy object array is scanned through its pickle, whose numpy globals torch refuses",
          result.returncode == 1 and "numpy._core.multiarray._reconstruct is outside the weights-only allowlist" in result.stdout,
          result.stdout[-400:])
    check("scan: a numeric .npy is clean", modelfile_result(modelfile, "scan", numbers).returncode == 0)


def naming_checks(modelfile, work):
    from transformers import BertConfig

    files = {}
    wheel = os.path.join(work, "naming-tiny-1.0-py3-none-any.whl")
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("tiny/__init__.py", "x = 1\n")
        archive.writestr("tiny-1.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: tiny\nVersion: 1.0\n")
        archive.writestr("tiny-1.0.dist-info/WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        archive.writestr("tiny-1.0.dist-info/RECORD", "")
    files[wheel] = "wheel"
    config_dir = os.path.join(work, "naming-config")
    BertConfig(hidden_size=16).save_pretrained(config_dir)
    files[os.path.join(config_dir, "config.json")] = "JSON"
    html = os.path.join(work, "naming-pytorch_model.bin")
    with open(html, "w") as f:
        f.write("<!DOCTYPE html>\n<html><head><title>404</title></head><body>Not Found</body></html>\n")
    files[html] = "HTML"
    other = os.path.join(work, "naming-other.safetensors")
    save_file({"w": torch.zeros(2)}, other)
    for path, word in files.items():
        for arguments in (["inspect", path], ["verify", path], ["scan", path], ["diff", other, path],
                          ["convert", path, os.path.join(work, "naming-out.safetensors")]):
            result = modelfile_result(modelfile, *arguments)
            lines = result.stderr.splitlines()
            check(f"naming: {arguments[0]} {os.path.basename(path)} exits 2 with one error line naming {word}",
                  result.returncode == 2 and len(lines) == 1 and lines[0].startswith("modelfile: error: ") and word in lines[0],
                  f"{result.returncode} {result.stderr!r}")


def display_checks(modelfile, work):
    names = ["a\x1b[31mred\x1b[0m", "b\rmodelfile: clean", "c\nfake.weight  F32    [1]     4 B", "d\u202ethgir", "n" * 100_000]
    tensors = {name: torch.ones(1) for name in names}
    for kind, path in (("safetensors", os.path.join(work, "display.safetensors")), ("torch", os.path.join(work, "display.pth"))):
        if kind == "safetensors":
            save_file(tensors, path)
        else:
            torch.save(tensors, path)
        table = run(modelfile, "inspect", path).stdout
        lines = table.split("\n")
        check(f"display: {kind} names are shown without a raw control or format character",
              not any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 or c in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
                      for line in lines for c in line))
        check(f"display: {kind} inspect prints no line over 1024 characters", max(len(line) for line in lines) <= 1024,
              max(len(line) for line in lines))
        check(f"display: {kind} escapes are visible",
              "a\\x1b[31mred\\x1b[0m" in table and "b\\rmodelfile: clean" in table and "d\\u202ethgir" in table
              and "…[100,000 characters]…" in table)
        document = json.loads(run(modelfile, "inspect", "--json", path).stdout)
        loaded = torch.load(path, weights_only=True) if kind == "torch" else None
        expected = list(loaded) if loaded is not None else names
        check(f"display: {kind} --json carries the exact names",
              sorted(t["name"] for t in document["tensors"]) == sorted(expected))


SECTIONS = {"scan": scan_checks, "naming": naming_checks, "display": display_checks}
