"""Real third-party files: what modelfile reads and converts from them equals what torch (and
omegaconf) load, bit for bit. Runs over the committed fixtures (Fixtures/real) and over fresh files
made here with other seeds and shapes: Lightning checkpoints holding Hydra/OmegaConf configs,
whole pickled nn.Modules, training checkpoints of each key layout, TorchScript archives."""
import collections
import json
import os
import random
import subprocess
import sys
import warnings

import torch
from safetensors.torch import load_file

from interop_support import FIXTURES, check, same_tensor

warnings.filterwarnings("ignore")
sys.path.insert(0, FIXTURES)
import real_files_models as models  # noqa: E402
from generate_real_files import flatten, hydra_config, parameter_count  # noqa: E402

REAL = os.path.join(FIXTURES, "real")


def modelfile_run(modelfile, *args):
    return subprocess.run([modelfile, *args], capture_output=True, text=True)


def inspect_json(modelfile, path, *flags):
    result = modelfile_run(modelfile, "inspect", "--json", *flags, path)
    if result.returncode != 0:
        raise RuntimeError(f"inspect {path}: {result.stderr.strip()}")
    return json.loads(result.stdout)


def converted(modelfile, path, work, *flags):
    """modelfile convert PATH → safetensors: (tensors, stderr)."""
    output = os.path.join(work, os.path.basename(path) + ".safetensors")
    result = modelfile_run(modelfile, "convert", "--force", *flags, path, output)
    if result.returncode != 0:
        raise RuntimeError(f"convert {path}: {result.stderr.strip()}")
    return load_file(output), result.stderr


def same_tensors(got, want):
    """Same names (as sets and in order) and bit-identical values."""
    if list(got) != list(want) and sorted(got) != sorted(want):
        return False, f"names {sorted(got)} vs {sorted(want)}"
    for name, tensor in want.items():
        if not same_tensor(got[name], tensor.contiguous()):
            return False, f"{name} differs"
    return True, ""


def refused_naming(modelfile, path, global_name):
    result = modelfile_run(modelfile, "inspect", path)
    return (result.returncode == 2 and f"unsupported global {global_name}" in result.stderr
            and "--allow-unknown-objects" in result.stderr), result.stderr.strip()


# --------------------------------------------------------------------------------------------

def omegaconf_checks(modelfile, work):
    """Lightning checkpoints with OmegaConf/Hydra hyper-parameters."""
    import logging
    import pytorch_lightning as pl
    from omegaconf import OmegaConf
    from torch.utils.data import DataLoader, TensorDataset
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)

    class Module(pl.LightningModule):
        def __init__(self, cfg):
            super().__init__()
            self.save_hyperparameters(cfg)
            self.body = torch.nn.Sequential(torch.nn.Linear(3, cfg.hidden), torch.nn.Tanh(), torch.nn.Linear(cfg.hidden, 1))

        def training_step(self, batch, index):
            return self.body(batch[0]).pow(2).mean()

        def configure_optimizers(self):
            return torch.optim.Adam(self.parameters(), lr=self.hparams.lr)

    paths = [os.path.join(REAL, "lightning_omegaconf.ckpt")]
    configs = [
        OmegaConf.create({"hidden": 5, "lr": 0.01, "layers": [[1, 2], {"a": None}], "path": "${hidden}", "later": {"m": "???"}}),
        OmegaConf.create({"hidden": 3, "lr": 0.1, "nested": {"deep": {"deeper": [True, False, 1.5]}}, "name": "x\u00e9"}),
    ]
    hydra = hydra_config()
    OmegaConf.set_struct(hydra, False)
    hydra.hidden = 4
    configs.append(hydra)
    for i, cfg in enumerate(configs):
        pl.seed_everything(100 + i, verbose=False)
        trainer = pl.Trainer(max_epochs=1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                             enable_model_summary=False, accelerator="cpu")
        trainer.fit(Module(cfg), DataLoader(TensorDataset(torch.randn(6, 3)), batch_size=3))
        path = os.path.join(work, f"omegaconf_{i}.ckpt")
        trainer.save_checkpoint(path)
        paths.append(path)

    for path in paths:
        name = os.path.basename(path)
        loaded = torch.load(path, weights_only=False)
        ok, detail = refused_naming(modelfile, path, "omegaconf.dictconfig.DictConfig")
        check(f"{name}: refused by default, naming omegaconf.dictconfig.DictConfig and the flag", ok, detail)
        document = inspect_json(modelfile, path, "--allow-unknown-objects")
        want = OmegaConf.to_container(loaded["hyper_parameters"], resolve=False)
        check(f"{name}: inspect shows hyper_parameters as OmegaConf.to_container gives them",
              document["checkpoint"]["hyper_parameters"] == want, f"{document['checkpoint']['hyper_parameters']} vs {want}")
        check(f"{name}: epoch and global_step", (document["checkpoint"]["epoch"], document["checkpoint"]["global_step"])
              == (loaded["epoch"], loaded["global_step"]))
        tensors, stderr = converted(modelfile, path, work, "--allow-unknown-objects")
        ok, detail = same_tensors(tensors, loaded["state_dict"])
        check(f"{name}: convert gives state_dict bit for bit", ok, detail)
        check(f"{name}: convert names the part it took", 'converting "state_dict"' in stderr, stderr)
        check(f"{name}: totals.parameters", document["totals"]["parameters"] == parameter_count(loaded, flatten(loaded)))

        small = os.path.join(work, "stripped_" + name)
        result = modelfile_run(modelfile, "strip", "--force", "--allow-unknown-objects", path, small)
        check(f"{name}: strip succeeds and warns that hyper_parameters is left out",
              result.returncode == 0 and "hyper_parameters left out" in result.stderr, result.stderr)
        try:
            reloaded = torch.load(small, weights_only=True)
            ok = (not any(k in reloaded for k in ["optimizer_states", "lr_schedulers", "loops", "callbacks", "hyper_parameters"])
                  and same_tensors(reloaded["state_dict"], loaded["state_dict"])[0])
            check(f"{name}: the stripped checkpoint loads with torch.load(weights_only=True), weights intact", ok, list(reloaded))
        except Exception as error:  # noqa: BLE001
            check(f"{name}: the stripped checkpoint loads with torch.load(weights_only=True)", False, str(error)[:200])


# --------------------------------------------------------------------------------------------

def module_checks(modelfile, work):
    """Whole pickled nn.Modules: modelfile's tensors are model.state_dict(), exactly."""
    made = []
    for name in sorted(n for n in os.listdir(REAL) if n.startswith("module_") and not n.endswith(".json")):
        made.append(os.path.join(REAL, name))
    rng = random.Random(11)
    fresh = [
        ("linear", lambda: torch.nn.Linear(rng.randint(1, 5), rng.randint(1, 5), bias=rng.random() < 0.5)),
        ("lstm_proj", lambda: torch.nn.LSTM(3, 4, num_layers=2, bidirectional=True, proj_size=2)),
        ("gru", lambda: torch.nn.GRU(2, 3, num_layers=3, batch_first=True)),
        ("rnn", lambda: torch.nn.RNN(2, 2, nonlinearity="relu")),
        ("conv_bn", lambda: torch.nn.Sequential(torch.nn.Conv2d(2, 3, 3), torch.nn.BatchNorm2d(3), torch.nn.ReLU())),
        ("transformer", lambda: torch.nn.TransformerEncoderLayer(d_model=8, nhead=2, dim_feedforward=16)),
        ("embedding_tied", lambda: tied_module()),
        ("custom", lambda: models.Custom()),
        ("module_list", lambda: torch.nn.ModuleDict({"a": torch.nn.Linear(2, 2), "b": torch.nn.ModuleList([torch.nn.LayerNorm(3)])})),
    ]
    for i, (name, make) in enumerate(fresh):
        torch.manual_seed(200 + i)
        module = make()
        path = os.path.join(work, f"module_{name}_fresh.pt")
        torch.save(module, path)
        made.append(path)
    for path in made:
        name = os.path.basename(path)
        loaded = torch.load(path, weights_only=False)
        want = loaded.state_dict()
        cls = type(loaded).__module__ + "." + type(loaded).__qualname__
        ok, detail = refused_naming(modelfile, path, cls)
        check(f"{name}: refused by default, naming {cls}", ok, detail)
        tensors, _ = converted(modelfile, path, work, "--allow-unknown-objects")
        # Tied weights are written once per name; compare every name.
        ok, detail = same_tensors(tensors, want)
        check(f"{name}: convert gives model.state_dict() exactly ({len(want)} tensors)", ok, detail)
        listed = [t["name"] for t in inspect_json(modelfile, path, "--allow-unknown-objects")["tensors"]]
        check(f"{name}: inspect lists the state_dict names in order", listed == list(want), f"{listed} vs {list(want)}")


def tied_module():
    module = torch.nn.Sequential(torch.nn.Embedding(5, 3), torch.nn.Linear(3, 5))
    module[1].weight = module[0].weight
    module.register_buffer("steps", torch.tensor(7), persistent=False)
    return module


# --------------------------------------------------------------------------------------------

def layouts(rng):
    """Fresh training checkpoints of each key layout: (filename, weights path, object)."""
    def trained(seed):
        torch.manual_seed(seed)
        model = torch.nn.Sequential(torch.nn.Linear(rng.randint(2, 5), 3), torch.nn.ReLU(), torch.nn.Linear(3, 2))
        opt = torch.optim.AdamW(model.parameters(), lr=0.01)
        model(torch.randn(4, model[0].in_features)).sum().backward()
        opt.step()
        return model, opt
    result = []
    m, o = trained(1)
    result.append(("fresh_model_state_dict.pt", "model_state_dict",
                   {"epoch": 7, "model_state_dict": m.state_dict(), "optimizer_state_dict": o.state_dict(), "loss": 1.5}))
    m, o = trained(2)
    result.append(("fresh_model.pt", "model", {"model": m.state_dict(), "optimizer": o.state_dict(), "epoch": 1}))
    m, o = trained(3)
    result.append(("fresh_state_dict.pt", "state_dict", {"state_dict": m.state_dict(), "optimizer": o.state_dict(), "step": 4}))
    m, o = trained(4)
    result.append(("fresh_module.pt", "module", {"module": m.state_dict(), "optim": o.state_dict(), "iteration": 9}))
    m, o = trained(5)
    result.append(("fresh_net.pt", "net", {"net": m.state_dict(), "optimizer": o.state_dict(), "epoch": 2,
                                           "scheduler_state_dict": {"last_epoch": 2}}))
    m, o = trained(6)
    result.append(("fresh_nested.pt", "model.state_dict", {"model": {"state_dict": m.state_dict()}, "optimizer": o.state_dict(),
                                                          "global_step": 3}))
    m, o = trained(7)
    result.append(("fresh_odd.pt", "model_state_dict", {"model_state_dict": m.state_dict(), "optimizer_state_dict": o.state_dict(),
                                                        "epoch": float("inf"), "global_step": -(2 ** 80)}))
    return result


def training_checks(modelfile, work):
    """Training checkpoints: convert writes the weights subtree, strip keeps it loadable."""
    rng = random.Random(5)
    files = []
    for name in sorted(n for n in os.listdir(REAL) if n.startswith("train_") and not n.endswith(".json")):
        with open(os.path.join(REAL, name + ".json")) as f:
            files.append((os.path.join(REAL, name), json.load(f)["weights"]["path"]))
    for name, weights_path, obj in layouts(rng):
        path = os.path.join(work, name)
        torch.save(obj, path)
        files.append((path, weights_path))
    removable = ["optimizer_states", "optimizer", "optimizer_state_dict", "optim", "lr_schedulers", "scheduler",
                 "scheduler_state_dict", "lr_scheduler", "loops", "callbacks"]
    for path, weights_path in files:
        name = os.path.basename(path)
        loaded = torch.load(path, weights_only=False)
        weights = loaded
        for key in weights_path.split("."):
            weights = weights[key]
        want = weights.state_dict() if isinstance(weights, torch.nn.Module) else collections.OrderedDict(
            (n, t) for n, t, _ in flatten(weights))
        tensors, stderr = converted(modelfile, path, work, "--allow-unknown-objects")
        ok, detail = same_tensors(tensors, want)
        check(f"{name}: convert gives {weights_path} bit for bit", ok, detail)
        check(f"{name}: stderr names {weights_path}", f'converting "{weights_path}", the weights of a training checkpoint' in stderr, stderr)
        document = inspect_json(modelfile, path, "--allow-unknown-objects")
        check(f"{name}: totals.parameters", document["totals"]["parameters"] == parameter_count(loaded, flatten(loaded)),
              (document["totals"]["parameters"], parameter_count(loaded, flatten(loaded))))
        if any(isinstance(v, torch.nn.Module) for v in loaded.values()):
            continue  # a pickled module cannot be written back; strip refuses it (Swift tests)
        small = os.path.join(work, "stripped_" + name)
        result = modelfile_run(modelfile, "strip", "--force", path, small)
        try:
            reloaded = torch.load(small, weights_only=True)
            kept = [k for k in loaded if k not in removable]
            check(f"{name}: strip removes every listed key and loads with weights_only=True",
                  result.returncode == 0 and list(reloaded) == kept, (list(reloaded), kept, result.stderr))
            again = reloaded
            for key in weights_path.split("."):
                again = again[key]
            check(f"{name}: the stripped weights are intact", same_tensors(again, weights)[0])
        except Exception as error:  # noqa: BLE001
            check(f"{name}: strip result loads with weights_only=True", False, f"{result.stderr} {error}"[:300])


# --------------------------------------------------------------------------------------------

def torchscript_checks(modelfile, work):
    """TorchScript archives: listed and converted read-only, equal to torch.jit.load(...).state_dict()."""
    paths = [os.path.join(REAL, n) for n in sorted(os.listdir(REAL)) if n.startswith("torchscript_") and not n.endswith(".json")]
    torch.manual_seed(300)
    scripted = torch.jit.script(models.Scriptable())
    paths.append(os.path.join(work, "scripted_fresh.pt"))
    scripted.save(paths[-1])
    torch.manual_seed(301)
    traced = torch.jit.trace(torch.nn.Sequential(torch.nn.Conv1d(2, 2, 1), torch.nn.BatchNorm1d(2)), torch.randn(3, 2, 4))
    paths.append(os.path.join(work, "traced_fresh.pt"))
    traced.save(paths[-1])
    torch.manual_seed(302)
    lstm = torch.jit.script(torch.nn.LSTM(2, 3, num_layers=2))
    paths.append(os.path.join(work, "lstm_scripted.pt"))
    lstm.save(paths[-1])
    for path in paths:
        name = os.path.basename(path)
        want = torch.jit.load(path).state_dict()
        document = inspect_json(modelfile, path)
        check(f"{name}: inspect says torchscript, without any flag", document["format"] == "torchscript")
        listed = [t["name"] for t in document["tensors"] if not t["name"].startswith("CONSTANTS.")]
        check(f"{name}: inspect lists torch.jit.load(...).state_dict() names in order", listed == list(want), f"{listed} vs {list(want)}")
        tensors, stderr = converted(modelfile, path, work)
        ok, detail = same_tensors(tensors, want)
        check(f"{name}: convert gives torch.jit.load(...).state_dict() bit for bit", ok, detail)
        check(f"{name}: convert says what it took", "TorchScript module's parameters and buffers" in stderr, stderr)
        scan = modelfile_run(modelfile, "scan", "--json", path)
        report = json.loads(scan.stdout)
        check(f"{name}: scan reports kind torchscript with a finding (exit 1)",
              scan.returncode == 1 and report["kind"] == "torchscript" and "TorchScript archive" in report["findings"][0])


SECTIONS = {"real_omegaconf": omegaconf_checks, "real_modules": module_checks, "real_training": training_checks,
            "real_torchscript": torchscript_checks}
