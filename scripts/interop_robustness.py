"""Robustness interop (docs/security.md): files torch writes whose trees share subtrees, whose
tensors are tied or expanded, and whose progress counters are not counts, checked against what
torch.load(weights_only=True) reads back from modelfile's rewrites; and outputs that are inputs.
Versions as scripts/interop.sh pins them (torch 2.13.0, pytorch-lightning 2.6.6)."""
import hashlib
import os
import subprocess
import time

import torch
from safetensors.torch import load_file

from interop_support import check, run, same_tensor


def modelfile_result(modelfile, *args):
    return subprocess.run([modelfile, *args], capture_output=True, text=True)


def digest(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def shared_tree_checks(modelfile, work):
    """strip and convert to .ckpt keep shared subtrees shared and tied tensors tied, in time and
    size linear in the input, and torch reads the result with the same values. (Views are written
    as tensors of their own, as docs/cli.md says, so expanded views are left to budget_checks.)"""
    torch.manual_seed(0)
    level = [0.5]
    for _ in range(60):
        level = [level, level]  # 61 lists, 2^60 paths
    weight = torch.randn(4, 3)
    checkpoint = {
        "epoch": 1, "global_step": 3, "pytorch-lightning_version": "2.6.6",
        "state_dict": {"linear1.weight": weight, "linear2.weight": weight, "linear1.bias": torch.randn(4),
                       "view": weight[1:]},
        "optimizer_states": [], "lr_schedulers": [],
        "hyper_parameters": {"tree": level, "again": level},
    }
    source = os.path.join(work, "shared.ckpt")
    torch.save(checkpoint, source)
    size = os.path.getsize(source)
    for command, name in [("strip", "stripped.ckpt"), ("convert", "converted.ckpt")]:
        output = os.path.join(work, name)
        start = time.monotonic()
        run(modelfile, command, source, output)
        seconds = time.monotonic() - start
        written = os.path.getsize(output)
        check(f"{command}: a tree of 2^60 paths is rewritten in linear time ({seconds:.2f} s)", seconds < 10, seconds)
        check(f"{command}: at most about twice the input ({written} bytes from {size})", written <= 2 * size, (written, size))
        back = torch.load(output, weights_only=True)
        tree = back["hyper_parameters"]["tree"]
        check(f"{command}: the shared lists are one object in torch's result",
              tree[0] is tree[1] and tree[0][0] is tree[0][1] and back["hyper_parameters"]["again"] is tree, type(tree))
        depth, node = 0, tree
        while isinstance(node, list) and len(node) == 2:
            node, depth = node[0], depth + 1
        check(f"{command}: the tree keeps its 60 levels and its leaf", depth == 60 and node == [0.5], (depth, node))
        state = back["state_dict"]
        check(f"{command}: every tensor equals torch's original",
              all(same_tensor(state[k], checkpoint["state_dict"][k].contiguous()) for k in checkpoint["state_dict"]),
              sorted(state))
        check(f"{command}: tied weights stay one storage",
              state["linear1.weight"].untyped_storage().data_ptr() == state["linear2.weight"].untyped_storage().data_ptr())


def budget_checks(modelfile, work):
    """A zero-stride expansion torch saves lazily: converted bit for bit within the budget,
    refused with the budget's name beyond it."""
    small = os.path.join(work, "expand_small.pt")
    torch.save({"w": torch.full((1,), 3.0).expand(1 << 16)}, small)
    out = os.path.join(work, "expand_small.safetensors")
    run(modelfile, "convert", small, out)
    check("a small expansion converts to what torch reads", same_tensor(load_file(out)["w"], torch.full((1 << 16,), 3.0)))
    big = os.path.join(work, "expand_big.pt")
    torch.save({"w": torch.zeros(1).expand(1 << 30)}, big)  # 4 GiB once expanded, 1.5 KB on disk
    target = os.path.join(work, "expand_big.safetensors")
    result = modelfile_result(modelfile, "convert", big, target)
    check("a 4 GiB expansion is refused by the read budget, naming it",
          result.returncode == 2 and "over the read budget" in result.stderr and "maxMaterializedBytes" in result.stderr
          and result.stderr.count("\n") == 1 and not os.path.exists(target), (result.returncode, result.stderr))


def progress_checks(modelfile, work):
    """Progress counters torch can save but that are not counts: train --resume names them."""
    for label, value in [("nan", float("nan")), ("inf", float("inf")), ("huge", 1e300), ("negative", -5), ("big", 2 ** 70)]:
        path = os.path.join(work, f"progress_{label}.ckpt")
        torch.save({"epoch": 0, "global_step": value, "pytorch-lightning_version": "2.6.6",
                    "state_dict": {"linear1.weight": torch.zeros(1, 8), "linear1.bias": torch.zeros(1)},
                    "optimizer_states": [{"state": {}, "param_groups": [{"lr": 0.01, "momentum": 0, "dampening": 0,
                                                                          "weight_decay": 0, "nesterov": False, "params": [0, 1]}]}]}, path)
        inspected = modelfile_result(modelfile, "inspect", path)
        check(f"inspect lists a checkpoint whose global_step is {value!r}", inspected.returncode == 0, inspected.stderr)
        resumed = modelfile_result(modelfile, "train", "--resume", path, "--epochs", "1")
        check(f"train --resume refuses global_step {value!r} by name",
              resumed.returncode == 2 and resumed.stderr.startswith(f"modelfile: error: {path}: global_step is ")
              and resumed.stderr.count("\n") == 1, (resumed.returncode, resumed.stderr))


def same_file_checks(modelfile, work):
    """An output that is an input is refused even with --force, and the input is untouched."""
    path = os.path.join(work, "same.pth")
    torch.save({"w": torch.arange(6.0)}, path)
    link = os.path.join(work, "same_link.pth")
    os.symlink(path, link)
    before = digest(path)
    for output in (path, link):
        result = modelfile_result(modelfile, "convert", path, output, "--force", "--to", "pth")
        check(f"convert refuses {os.path.basename(output)} as the output of {os.path.basename(path)}",
              result.returncode == 2 and "the input is never the output" in result.stderr, (result.returncode, result.stderr))
    check("the input is unchanged", digest(path) == before and same_tensor(torch.load(path, weights_only=True)["w"], torch.arange(6.0)))


SECTIONS = {
    "robustness-shared": shared_tree_checks,
    "robustness-budget": budget_checks,
    "robustness-progress": progress_checks,
    "robustness-same-file": same_file_checks,
}
