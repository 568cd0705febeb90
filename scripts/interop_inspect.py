"""Interop checks of inspect's counts and convert's tied tensors (loaded by scripts/interop.py):

    inspect-tied    a tied model (lm_head.weight is embed.weight) saved with torch.save, with
                    safetensors' save_model and with huggingface_hub's save_torch_model in shards:
                    the .pth and .ckpt that convert writes load into the tied model with
                    load_state_dict(strict=True), the two names share one storage, the values are
                    the model's; inspect lists the tied group;
    inspect-counts  totals.parameters equals sum(p.numel() for p in model.parameters()) for tied,
                    nested, transformer and Adam-checkpointed models, and --tree's module counts equal
                    those of the model's own modules; --checksums equals hashlib's sha256.
"""
import hashlib
import json
import os
import sys

import torch

from interop_support import FIXTURES, check, run

sys.path.insert(0, FIXTURES)


def inspect_json(modelfile, *args):
    return json.loads(run(modelfile, "inspect", "--json", *args).stdout)


def tied_model(seed):
    from generate_inspect import Tied
    torch.manual_seed(seed)
    return Tied()


def tied_checks(modelfile, work):
    from huggingface_hub import save_torch_model
    from safetensors.torch import save_model
    model = tied_model(101)
    inputs = {
        "torch.save": os.path.join(work, "tied.pth"),
        "save_model": os.path.join(work, "tied.safetensors"),
        "save_torch_model": os.path.join(work, "tied_shards"),
    }
    torch.save(model.state_dict(), inputs["torch.save"])
    save_model(model, inputs["save_model"])
    os.makedirs(inputs["save_torch_model"], exist_ok=True)
    save_torch_model(model, inputs["save_torch_model"], max_shard_size=200)
    expected = model.state_dict()
    for made_by, path in inputs.items():
        doc = inspect_json(modelfile, path)
        check(f"inspect-tied {made_by}: tied group", doc["tied"] == [["embed.weight", "lm_head.weight"]], doc["tied"])
        for extension in ("pth", "ckpt"):
            out = os.path.join(work, f"{made_by}.{extension}")
            run(modelfile, "convert", path, out, "--force")
            loaded = torch.load(out, weights_only=True)
            state = loaded["state_dict"] if extension == "ckpt" else loaded
            target = tied_model(202)
            try:
                result = target.load_state_dict(state, strict=True)
                strict = not result.missing_keys and not result.unexpected_keys
            except RuntimeError as error:
                strict = False
                print(error)
            check(f"inspect-tied {made_by} -> .{extension}: load_state_dict(strict=True)", strict)
            shared = state["embed.weight"].untyped_storage().data_ptr() == state["lm_head.weight"].untyped_storage().data_ptr()
            check(f"inspect-tied {made_by} -> .{extension}: one storage for both names", shared)
            check(f"inspect-tied {made_by} -> .{extension}: still tied in the model", target.lm_head.weight is target.embed.weight)
            same = all(torch.equal(state[name], expected[name]) for name in expected)
            check(f"inspect-tied {made_by} -> .{extension}: values are the model's", same)


def module_counts(model, root=""):
    """Per module prefix: its distinct parameters' and buffers' elements, as modelfile counts the state dict."""
    counts = {}
    for name, module in model.named_modules(remove_duplicate=False):
        if not name:
            continue
        seen = set()
        total = 0
        for tensor in list(module.state_dict(keep_vars=True).values()):
            key = (tensor.untyped_storage().data_ptr(), tensor.storage_offset(), tuple(tensor.shape), tensor.stride())
            if key not in seen:
                seen.add(key)
                total += tensor.numel()
        if module.state_dict():
            counts[root + name] = total
    return counts


def counts_checks(modelfile, work):
    from safetensors.torch import save_model
    torch.manual_seed(303)
    models = {
        "tied": tied_model(304),
        "nested": torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.Sequential(torch.nn.Linear(5, 4), torch.nn.Linear(4, 2))),
        "transformer": torch.nn.TransformerEncoder(torch.nn.TransformerEncoderLayer(8, 2, 16, batch_first=True), 2,
                                                   enable_nested_tensor=False),
    }
    for name, model in models.items():
        parameters = sum(p.numel() for p in model.parameters())
        buffers = sum(b.numel() for b in model.buffers())
        for kind in ("pth", "safetensors"):
            path = os.path.join(work, f"{name}.{kind}")
            if kind == "pth":
                torch.save(model.state_dict(), path)
            else:
                save_model(model, path)
            doc = inspect_json(modelfile, "--tree", "--checksums", path)
            check(f"inspect-counts {name}.{kind}: parameters == sum(p.numel())", doc["totals"]["parameters"] == parameters + buffers,
                  f'{doc["totals"]["parameters"]} vs {parameters} (+{buffers} buffers)')
            with open(path, "rb") as f:
                digest = hashlib.sha256(f.read()).hexdigest()
            check(f"inspect-counts {name}.{kind}: sha256", doc["sha256"] == digest)
            want = module_counts(model)
            got = {k: v["parameters"] for k, v in doc["modules"].items()}
            check(f"inspect-counts {name}.{kind}: --tree equals the model's modules", got == want, f"{got} vs {want}")
    # A training checkpoint with Adam moments: only the model's weights count.
    model = models["tied"]
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    model(torch.tensor([[1, 2]])).sum().backward()
    optimizer.step()
    path = os.path.join(work, "adam.pth")
    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": 1}, path)
    doc = inspect_json(modelfile, path)
    check("inspect-counts adam checkpoint: moments not counted",
          doc["totals"]["parameters"] == sum(p.numel() for p in model.parameters()), doc["totals"]["parameters"])
    with open(os.path.join(FIXTURES, "inspect", "lit_tied.ckpt.json")) as f:
        facts = json.load(f)
    doc = inspect_json(modelfile, os.path.join(FIXTURES, "inspect", "lit_tied.ckpt"))
    check("inspect-counts Lightning checkpoint: parameters", doc["totals"]["parameters"] == facts["parameters"])


SECTIONS = {"inspect-tied": tied_checks, "inspect-counts": counts_checks}
