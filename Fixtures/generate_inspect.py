#!/usr/bin/env python3
"""Generates the fixtures of `inspect` and `convert` under Fixtures/inspect/ with the real libraries.

Pinned versions (checked by generate_fixtures.check_versions; the script refuses others):
    torch 2.13.0, safetensors 0.8.0, pytorch_lightning 2.6.6, huggingface_hub 2.4.0
Seeds: torch.manual_seed(31) for the tied model, 32 for the nested model, pl.seed_everything(33) for
the Lightning run, torch.manual_seed(34) for the plain training checkpoint.

    /work/venv/bin/python Fixtures/generate_inspect.py

Files:
- tied.pth: torch.save(model.state_dict()) of a model whose lm_head.weight is embed.weight.
- tied.safetensors: safetensors.torch.save_model of the same model (the alias in __metadata__).
- tied_sharded/: huggingface_hub.save_torch_model of the same model in shards of at most 200 bytes
  (the alias in each shard's metadata and in the index's).
- nested_folder/: a Hugging Face style folder (config.json + model.safetensors) of a model with
  nested Sequential modules, for --tree.
- adam_training.pth: {"model": state_dict, "optimizer": Adam state_dict, "epoch": 3} after 3 steps.
- lit_tied.ckpt: Trainer.save_checkpoint of a LightningModule holding the tied model, trained 2
  epochs with Adam, a StepLR scheduler, ModelCheckpoint and EarlyStopping callbacks.

Beside each, `<name>.json` holds what the libraries say: the file's sha256 and size (per file for a
folder), the stored tensor names, the tied groups, sum(p.numel() for p in model.parameters()) and the
per-module parameter counts (each distinct tensor once per module prefix).
"""
import hashlib
import json
import logging
import os
import shutil
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from generate_fixtures import check_versions, write_json  # noqa: E402

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "inspect")


class Tied(torch.nn.Module):
    """An embedding whose weight is also the output projection (as language models tie them)."""

    def __init__(self):
        super().__init__()
        self.embed = torch.nn.Embedding(10, 4)
        self.body = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.Tanh())
        self.lm_head = torch.nn.Linear(4, 10, bias=False)
        self.lm_head.weight = self.embed.weight

    def forward(self, x):
        return self.lm_head(self.body(self.embed(x)))


class Nested(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.ReLU(), torch.nn.Sequential(torch.nn.Linear(5, 2)))
        self.head = torch.nn.Linear(2, 1)


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def file_facts(path):
    return {"sha256": sha256(path), "bytes": os.path.getsize(path)}


def folder_facts(folder):
    return [{"path": name, **file_facts(os.path.join(folder, name))} for name in sorted(os.listdir(folder))]


def model_facts(model):
    """What the model's author quotes: parameters once each; tied groups; per-module counts."""
    state = model.state_dict(keep_vars=True)
    by_tensor = {}
    for name, t in state.items():
        by_tensor.setdefault((t.untyped_storage().data_ptr(), t.storage_offset(), tuple(t.shape), t.stride()), []).append(name)
    tied = sorted(sorted(group) for group in by_tensor.values() if len(group) > 1)
    modules = {}
    for key, names in by_tensor.items():
        numel = state[names[0]].numel()
        prefixes = {".".join(n.split(".")[:i]) for n in names for i in range(1, len(n.split(".")))}
        for prefix in prefixes:
            entry = modules.setdefault(prefix, {"tensors": 0, "parameters": 0})
            entry["parameters"] += numel
    for name in state:
        parts = name.split(".")
        for i in range(1, len(parts)):
            modules[".".join(parts[:i])]["tensors"] += 1
    return {"parameters": sum(p.numel() for p in model.parameters()), "tied": tied,
            "state_dict": list(state), "modules": dict(sorted(modules.items()))}


def fresh(path):
    if os.path.isdir(path):
        shutil.rmtree(path)
    elif os.path.exists(path):
        os.remove(path)
    return path


def gen_tied():
    from huggingface_hub import save_torch_model
    from safetensors import safe_open
    from safetensors.torch import save_model
    torch.manual_seed(31)
    model = Tied()
    facts = model_facts(model)

    path = fresh(os.path.join(HERE, "tied.pth"))
    torch.save(model.state_dict(), path)
    loaded = torch.load(path, weights_only=True)
    write_json(path + ".json", {"made_by": "torch.save(model.state_dict())", "names": list(loaded), **facts, **file_facts(path)})

    path = fresh(os.path.join(HERE, "tied.safetensors"))
    save_model(model, path)
    with safe_open(path, "pt") as f:
        stored, metadata = list(f.keys()), f.metadata()
    write_json(path + ".json", {"made_by": "safetensors.torch.save_model", "names": stored, "metadata": metadata,
                                **facts, **file_facts(path)})

    folder = fresh(os.path.join(HERE, "tied_sharded"))
    os.makedirs(folder)
    save_torch_model(model, folder, max_shard_size=200)
    with open(os.path.join(folder, "model.safetensors.index.json")) as f:
        index = json.load(f)
    write_json(folder + ".json", {"made_by": "huggingface_hub.save_torch_model(max_shard_size=200)", "index": index,
                                  **facts, "files": folder_facts(folder)})


def gen_nested():
    from safetensors.torch import save_model
    torch.manual_seed(32)
    model = Nested()
    folder = fresh(os.path.join(HERE, "nested_folder"))
    os.makedirs(folder)
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump({"model_type": "nested", "hidden": 5}, f)
    save_model(model, os.path.join(folder, "model.safetensors"))
    write_json(folder + ".json", {"made_by": "safetensors.torch.save_model into a folder with config.json",
                                  **model_facts(model), "files": folder_facts(folder)})


def gen_training():
    torch.manual_seed(34)
    model = Tied()
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    x = torch.tensor([[1, 2, 3], [4, 5, 6]])
    for _ in range(3):
        opt.zero_grad()
        model(x).square().mean().backward()
        opt.step()
    path = fresh(os.path.join(HERE, "adam_training.pth"))
    torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": 3}, path)
    write_json(path + ".json", {"made_by": "torch.save of model and Adam state after 3 steps", **model_facts(model), **file_facts(path),
                                "optimizer_tensors": sum(len(s) for s in opt.state_dict()["state"].values())})


def gen_lightning():
    import pytorch_lightning as pl
    from torch.utils.data import DataLoader, TensorDataset
    logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)

    class LitTied(pl.LightningModule):
        def __init__(self, lr=0.01):
            super().__init__()
            self.save_hyperparameters()
            self.net = Tied()

        def training_step(self, batch, index):
            (x,) = batch
            loss = self.net(x).square().mean()
            self.log("loss", loss)
            return loss

        def configure_optimizers(self):
            opt = torch.optim.Adam(self.parameters(), lr=self.hparams.lr)
            return [opt], [torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)]

    pl.seed_everything(33, verbose=False)
    model = LitTied()
    os.chdir(HERE)  # the callback records its folder: relative, so no machine's path is in the fixture
    work = fresh("lightning_work")
    callbacks = [pl.callbacks.ModelCheckpoint(dirpath=work, monitor="loss", save_top_k=1),
                 pl.callbacks.EarlyStopping(monitor="loss", mode="min", patience=5)]
    trainer = pl.Trainer(max_epochs=2, logger=False, enable_progress_bar=False, enable_model_summary=False,
                         accelerator="cpu", callbacks=callbacks, deterministic=True)
    data = torch.randint(0, 10, (8, 3))
    trainer.fit(model, DataLoader(TensorDataset(data), batch_size=4))
    path = fresh(os.path.join(HERE, "lit_tied.ckpt"))
    trainer.save_checkpoint(path)
    shutil.rmtree(work)
    c = torch.load(path, weights_only=False)
    facts = model_facts(model)

    def count(value):
        if isinstance(value, dict):
            return sum(count(v) for v in value.values())
        if isinstance(value, (list, tuple)):
            return sum(count(v) for v in value)
        return 1

    write_json(path + ".json", {
        "made_by": "pytorch_lightning Trainer.save_checkpoint after 2 epochs x 2 steps, Adam, StepLR, ModelCheckpoint, EarlyStopping",
        "keys": list(c), "epoch": c["epoch"], "global_step": c["global_step"],
        "callbacks": list(c["callbacks"]), "loop_values": count(c["loops"]), "callback_values": count(c["callbacks"]),
        "schedulers": [s.get("step_size") for s in c["lr_schedulers"]],
        "parameters": facts["parameters"], "tied": [["state_dict." + n for n in g] for g in facts["tied"]],
        "modules": facts["modules"], **file_facts(path)})


SECTIONS = {"tied": gen_tied, "nested": gen_nested, "training": gen_training, "lightning": gen_lightning}

if __name__ == "__main__":
    check_versions()
    os.makedirs(HERE, exist_ok=True)
    for name in sys.argv[1:] or list(SECTIONS):
        SECTIONS[name]()
        print(f"generated {name}")
    for root, _, names in os.walk(HERE):
        for name in names:
            os.chmod(os.path.join(root, name), 0o644)  # save_model writes 0600
