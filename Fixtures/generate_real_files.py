#!/usr/bin/env python3
"""Generates the real third-party file fixtures under Fixtures/real/ with the real libraries.

Pinned versions (the script refuses to run with others):
    torch 2.13.0 (CPU), pytorch-lightning 2.6.6, omegaconf 2.3.1, hydra-core 1.3.8
Seeds: torch.manual_seed(0) before each model; pytorch_lightning.seed_everything(7) for the
Trainer run.

    /work/venv/bin/python Fixtures/generate_real_files.py [SECTION ...]

Each fixture gets `<name>.json` beside it with what torch reads back (never modelfile's output):
- `tensors`: every tensor by its dotted path, as modelfile names it; a pickled nn.Module
  contributes exactly its `state_dict()` (names, dtypes, shapes, bytes);
- `weights`: the part `convert` writes by default (`path` and the tensors named relative to it);
- `parameters`: inspect's totals.parameters (docs/cli.md), computed here from the loaded objects;
- `first_unknown_global` / `first_unknown_offset`: the global `torch.load(weights_only=True)`
  refuses first and where its GLOBAL opcode sits in data.pkl (null when torch accepts the file);
- per kind: `checkpoint` (epoch, global_step as text, hyper_parameters as plain data from
  `OmegaConf.to_container`), `torchscript` (code files, constants).
Classes the pickles name live in Fixtures/real_files_models.py, so the interop checks can load the
files too (scripts/interop_real_files.py).
"""
import collections
import math
import os
import pickletools
import sys
import tempfile
import zipfile

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from generate_fixtures import describe_tensor, out, remove, write_json  # noqa: E402
import real_files_models as models  # noqa: E402

PINNED = {"torch": "2.13.0", "pytorch_lightning": "2.6.6", "omegaconf": "2.3.1", "hydra": "1.3.8"}


def check_versions():
    import hydra
    import omegaconf
    import pytorch_lightning
    found = {"torch": torch.__version__.split("+")[0], "pytorch_lightning": pytorch_lightning.__version__,
             "omegaconf": omegaconf.__version__, "hydra": hydra.__version__}
    wrong = {k: v for k, v in found.items() if v != PINNED[k]}
    if wrong:
        sys.exit(f"fixture generator needs {PINNED}; found {found}")


# --------------------------------------------------------------------------------------------
# What torch reads back

def is_optimizer_state(obj):
    return isinstance(obj, dict) and "state" in obj and "param_groups" in obj


def flatten(obj, prefix="", in_optimizer=False):
    """(name, tensor, in_optimizer) the way modelfile names tensors: dict keys and list/tuple
    indices joined with '.'; a pickled nn.Module by its state_dict()."""
    def join(key):
        return f"{prefix}.{key}" if prefix else str(key)
    found = []
    if isinstance(obj, torch.Tensor):
        found.append((prefix or "tensor", obj, in_optimizer))
    elif isinstance(obj, torch.nn.Module):
        for name, tensor in obj.state_dict().items():
            found.append((join(name), tensor, in_optimizer))
    elif isinstance(obj, dict):
        inner = in_optimizer or is_optimizer_state(obj)
        for k, v in obj.items():
            found += flatten(v, join(k), inner)
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            found += flatten(v, join(i), in_optimizer)
    return found


def identity(t):
    return (t.untyped_storage().data_ptr(), t.storage_offset(), tuple(t.shape), t.stride(), t.dtype)


def parameter_count(obj, found):
    """inspect's totals.parameters: under state_dict when the top level has one, else everything
    outside optimizer state; one tensor (same storage, offset, shape, strides) counted once."""
    under_state_dict = isinstance(obj, dict) and "state_dict" in obj
    seen, total = set(), 0
    for name, t, in_optimizer in found:
        if under_state_dict and not name.startswith("state_dict."):
            continue
        if not under_state_dict and in_optimizer:
            continue
        key = identity(t)
        if key in seen:
            continue
        seen.add(key)
        total += t.numel()
    return total


def data_pkl(path):
    with zipfile.ZipFile(path) as z:
        name = next(n for n in z.namelist() if n.endswith("/data.pkl"))
        return z.read(name)


def first_unknown_global(path):
    """The global torch.load(weights_only=True) refuses first, and its GLOBAL's offset in data.pkl."""
    try:
        torch.load(path, weights_only=True)
        return None, None
    except Exception as e:  # torch names it: "Unsupported global: GLOBAL module.name was not ..."
        text = str(e)
        marker = "GLOBAL "
        if marker not in text:
            return "(refused: " + text.splitlines()[0][:200] + ")", None
        name = text[text.index(marker) + len(marker):].split()[0]
    for op, arg, pos in pickletools.genops(data_pkl(path)):
        if op.name == "GLOBAL" and arg.replace(" ", ".") == name:
            return name, pos
    return name, None


def describe(found):
    return [describe_tensor(name, t) for name, t, _ in found]


def expectation(path, obj, made_by, fmt, weights_path=None, found=None):
    found = found if found is not None else flatten(obj)
    unknown, offset = first_unknown_global(path)
    result = {"file": os.path.basename(path), "made_by": made_by, "format": fmt,
              "first_unknown_global": unknown, "first_unknown_offset": offset,
              "tensors": describe(found), "parameters": parameter_count(obj, found)}
    if weights_path is not None:
        prefix = weights_path + "."
        result["weights"] = {"path": weights_path, "tensors": [
            describe_tensor(name[len(prefix):], t) for name, t, _ in found if name.startswith(prefix)]}
    return result


def number_text(value):
    """A progress counter as modelfile shows it (Swift's spelling of a double)."""
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    return str(value)


# --------------------------------------------------------------------------------------------
# OmegaConf / Hydra in a Lightning checkpoint

HYDRA_CONFIG = """\
defaults:
  - _self_
model:
  _target_: torch.nn.Linear
  in_features: 2
  hidden: 4
  layers: [1, 2]
  act: relu
trainer:
  max_epochs: 1
lr: 0.1
name: demo
nothing: null
ref: ${lr}
"""


def hydra_config():
    """A config composed by Hydra (struct mode on), with a structured (typed) sub-config."""
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf
    with tempfile.TemporaryDirectory() as folder:
        with open(os.path.join(folder, "config.yaml"), "w") as f:
            f.write(HYDRA_CONFIG)
        with initialize_config_dir(config_dir=folder, version_base="1.3"):
            cfg = compose(config_name="config")
    OmegaConf.set_struct(cfg, False)
    cfg.optim = OmegaConf.structured(models.OptimConfig)
    OmegaConf.set_struct(cfg, True)
    return cfg


def gen_lightning_omegaconf():
    import logging
    import pytorch_lightning as pl
    from omegaconf import OmegaConf
    from torch.utils.data import DataLoader, TensorDataset
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)

    class HydraModule(pl.LightningModule):
        def __init__(self, cfg):
            super().__init__()
            self.save_hyperparameters(cfg)
            self.layer = torch.nn.Linear(cfg.model.in_features, 1)

        def training_step(self, batch, index):
            return self.layer(batch[0]).pow(2).mean()

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=self.hparams.lr, momentum=0.9)

    pl.seed_everything(7, verbose=False)
    cfg = hydra_config()
    model = HydraModule(cfg)
    trainer = pl.Trainer(max_epochs=1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, accelerator="cpu", deterministic=True)
    trainer.fit(model, DataLoader(TensorDataset(torch.arange(8.0).view(4, 2)), batch_size=2))
    path = out("real", "lightning_omegaconf.ckpt")
    remove(path)
    trainer.save_checkpoint(path)
    c = torch.load(path, weights_only=False)
    found = flatten(c)
    expected = expectation(path, c, "Trainer.save_checkpoint of a LightningModule that called "
                           "save_hyperparameters(cfg) with a Hydra-composed DictConfig", "lightning-ckpt",
                           weights_path="state_dict", found=found)
    expected["checkpoint"] = {
        "epoch": number_text(c["epoch"]), "global_step": number_text(c["global_step"]),
        "hyper_parameters_type": type(c["hyper_parameters"]).__module__ + "." + type(c["hyper_parameters"]).__name__,
        "hyper_parameters": OmegaConf.to_container(c["hyper_parameters"], resolve=False),
        "hparams_name": c.get("hparams_name"), "keys": list(c.keys()),
    }
    with zipfile.ZipFile(path) as z:
        names = {arg.replace(" ", ".") for op, arg, _ in pickletools.genops(z.read("archive/data.pkl")) if op.name == "GLOBAL"}
    expected["omegaconf_globals"] = sorted(n for n in names if n.startswith("omegaconf."))
    write_json(path + ".json", expected)


def gen_inert_containers():
    """Dict and list subclasses, an object as a dict key, globals as dict keys."""
    obj = {
        "state_dict": collections.OrderedDict(w=torch.arange(4.0).view(2, 2)),
        "counts": collections.defaultdict(int, {"a": 3, "b": 1}),
        "history": collections.deque([1, 2, 3]),
        "tags": {models.Tag("x"): "first", models.Tag("y"): "second"},
        "by_class": {torch.float32: "f32", int: "int"},
    }
    path = out("real", "inert_containers.pt")
    remove(path)
    torch.save(obj, path)
    expected = expectation(path, obj, "torch.save of a dict with a defaultdict, a deque, objects and classes as keys",
                           "pytorch-zip", weights_path="state_dict")
    expected["values"] = {"counts": dict(obj["counts"]), "history": list(obj["history"]),
                          "tags": [t.name for t in obj["tags"]], "by_class": list(obj["by_class"].values())}
    write_json(path + ".json", expected)


# --------------------------------------------------------------------------------------------
# Whole pickled modules (torch.save(model))

def gen_modules():
    made = []
    torch.manual_seed(0)
    made.append(("module_linear.pt", torch.nn.Linear(3, 2), "torch.save(nn.Linear(3, 2))"))
    torch.manual_seed(0)
    made.append(("module_sequential.pt", torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.Tanh(), torch.nn.Linear(3, 1)),
                 "torch.save(nn.Sequential(Linear, Tanh, Linear))"))
    torch.manual_seed(0)
    made.append(("module_lstm.pt", torch.nn.LSTM(3, 2, num_layers=2), "torch.save(nn.LSTM(3, 2, num_layers=2))"))
    torch.manual_seed(0)
    made.append(("module_gru.pt", torch.nn.GRU(2, 2, bidirectional=True), "torch.save(nn.GRU(2, 2, bidirectional=True))"))
    torch.manual_seed(0)
    custom = models.Custom()
    custom.seq[2].running_mean += 0.5  # non-default buffer values
    made.append(("module_custom.pt", custom, "torch.save(Custom()): None parameter and buffer, a non-persistent buffer, "
                 "a plain tensor attribute, nested Sequential with BatchNorm"))
    for filename, module, made_by in made:
        path = out("real", filename)
        remove(path)
        torch.save(module, path)
        loaded = torch.load(path, weights_only=False)
        write_json(path + ".json", expectation(path, loaded, made_by, "pytorch-zip"))


# --------------------------------------------------------------------------------------------
# Training checkpoints: the weights under the usual keys, beside optimizer state

def trained(layout_seed):
    """A small model and an SGD-with-momentum optimizer after two steps (so it has state)."""
    torch.manual_seed(layout_seed)
    model = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.ReLU(), torch.nn.Linear(2, 1))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    x = torch.arange(12.0).view(4, 3) / 10
    for _ in range(2):
        optimizer.zero_grad()
        model(x).pow(2).mean().backward()
        optimizer.step()
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
    return model, optimizer, scheduler


def gen_training():
    layouts = []
    model, opt, sched = trained(1)
    layouts.append(("train_model_state_dict.pt", "model_state_dict",
                    {"epoch": 5, "model_state_dict": model.state_dict(), "optimizer_state_dict": opt.state_dict(), "loss": 0.25},
                    "the PyTorch tutorial layout: epoch, model_state_dict, optimizer_state_dict, loss"))
    model, opt, sched = trained(2)
    layouts.append(("train_model.pt", "model",
                    {"model": model.state_dict(), "optimizer": opt.state_dict(), "scheduler": sched.state_dict(), "epoch": 3},
                    "model, optimizer, scheduler, epoch"))
    model, opt, sched = trained(3)
    layouts.append(("train_state_dict.pt", "state_dict",
                    {"state_dict": model.state_dict(), "optimizer": opt.state_dict(), "epoch": 2, "best_acc": 0.5},
                    "state_dict, optimizer, epoch"))
    model, opt, sched = trained(4)
    wrapped = collections.OrderedDict(("module." + k, v) for k, v in model.state_dict().items())
    layouts.append(("train_module.pt", "module",
                    {"module": wrapped, "optim": opt.state_dict(), "global_step": 40},
                    "module (DataParallel-style names), optim, global_step"))
    model, opt, sched = trained(5)
    layouts.append(("train_net.pt", "net",
                    {"iteration": 100, "net": model.state_dict(), "optimizer": opt.state_dict(), "ema": model.state_dict()},
                    "iteration, net, optimizer, and a second copy of the weights (ema) that is left out"))
    model, opt, sched = trained(6)
    layouts.append(("train_nested.pt", "model.state_dict",
                    {"model": {"state_dict": model.state_dict(), "config": {"hidden": 2}}, "optimizer_state_dict": opt.state_dict(),
                     "step": 10},
                    "model.state_dict nested, optimizer_state_dict, step"))
    model, opt, sched = trained(7)
    layouts.append(("train_odd_counters.pt", "model_state_dict",
                    {"model_state_dict": model.state_dict(), "optimizer_state_dict": opt.state_dict(),
                     "epoch": float("nan"), "global_step": 1e300},
                    "epoch NaN and global_step 1e300"))
    model, opt, sched = trained(8)
    layouts.append(("train_huge_counters.pt", "model_state_dict",
                    {"model_state_dict": model.state_dict(), "optimizer_state_dict": opt.state_dict(),
                     "epoch": 2 ** 70, "global_step": -5},
                    "epoch 2**70 and global_step -5"))
    torch.manual_seed(9)
    linear = torch.nn.Linear(2, 2)
    opt = torch.optim.Adam(linear.parameters(), lr=0.01)
    linear(torch.ones(1, 2)).sum().backward()
    opt.step()
    layouts.append(("train_pickled_module.pt", "model",
                    {"model": linear, "optimizer": opt.state_dict(), "epoch": 1},
                    "a whole pickled nn.Linear under model, beside an Adam state"))
    for filename, weights_path, obj, made_by in layouts:
        path = out("real", filename)
        remove(path)
        torch.save(obj, path)
        loaded = torch.load(path, weights_only=False)
        expected = expectation(path, loaded, "torch.save of a training checkpoint: " + made_by, "pytorch-zip",
                               weights_path=weights_path)
        expected["checkpoint"] = {"epoch": number_text(loaded["epoch"]) if "epoch" in loaded else None,
                                  "global_step": number_text(loaded["global_step"]) if "global_step" in loaded else None,
                                  "keys": list(loaded.keys())}
        write_json(path + ".json", expected)


# --------------------------------------------------------------------------------------------
# TorchScript

def torchscript_expectation(path, made_by, constants):
    loaded = torch.jit.load(path)
    state = loaded.state_dict()
    found = [(name, t, False) for name, t in state.items()]
    found += [(f"CONSTANTS.c{i}", t, False) for i, t in enumerate(constants)]
    with zipfile.ZipFile(path) as z:
        folder = z.namelist()[0].split("/")[0]
        code = [n[len(folder) + 1:] for n in z.namelist()
                if n.startswith(folder + "/code/") and not n.endswith("/") and not n.endswith(".debug_pkl")]
    return {"file": os.path.basename(path), "made_by": made_by, "format": "torchscript",
            "tensors": describe(found),
            "weights": {"path": None, "tensors": [describe_tensor(n, t) for n, t in state.items()]},
            "parameters": sum(t.numel() for t in state.values()),
            "torchscript": {"code_files": code, "constants": len(constants),
                            "parameters": [n for n, _ in loaded.named_parameters()],
                            "buffers": [n for n, _ in loaded.named_buffers()]}}


def gen_torchscript():
    torch.manual_seed(0)
    module = models.Scriptable()
    module.seq[1].running_var += 1.0
    scripted = torch.jit.script(module)
    path = out("real", "torchscript_module.pt")
    remove(path)
    scripted.save(path)
    write_json(path + ".json", torchscript_expectation(path, "torch.jit.script(Scriptable()).save", []))

    constant = torch.tensor([1.5, 2.5])

    class Traced(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = torch.nn.Linear(2, 2)

        def forward(self, x):
            return self.fc(x) * constant

    torch.manual_seed(0)
    traced = torch.jit.trace(Traced(), torch.ones(1, 2))
    path = out("real", "torchscript_traced.pt")
    remove(path)
    traced.save(path)
    write_json(path + ".json", torchscript_expectation(path, "torch.jit.trace(...).save with a captured constant", [constant]))


SECTIONS = {"omegaconf": gen_lightning_omegaconf, "inert": gen_inert_containers, "modules": gen_modules,
            "training": gen_training, "torchscript": gen_torchscript}

if __name__ == "__main__":
    check_versions()
    for name in sys.argv[1:] or list(SECTIONS):
        SECTIONS[name]()
        print(f"generated {name}")
