#!/usr/bin/env python3
"""Checks files written by modelfile with the real libraries. Run through scripts/interop.sh.

Each check prints one line, PASS or FAIL; the script exits 1 if any check fails. The checks use
fresh random tensors (seeded) as well as the committed fixtures, so they exercise the writer
beyond what the Swift tests pin.
"""
import argparse
import copy
import glob
import importlib
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from interop_support import FIXTURES, check, failures, load_any_safetensors, run, same_tensor  # noqa: F401


FLOAT_TYPES = [torch.float64, torch.float32, torch.float16, torch.bfloat16]
ALL_TYPES = FLOAT_TYPES + [torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8, torch.bool,
                           torch.uint16, torch.uint32, torch.uint64, torch.float8_e4m3fn, torch.float8_e5m2,
                           torch.complex64]


def random_state_dict(rng, count):
    tensors = {}
    for i in range(count):
        dtype = rng.choice(ALL_TYPES)
        shape = [rng.randint(0, 5) for _ in range(rng.randint(0, 3))]
        base = torch.randn(shape, generator=torch.Generator().manual_seed(rng.randint(0, 2**31))) * 100
        if dtype == torch.bool:
            t = base > 0
        elif dtype.is_floating_point or dtype.is_complex:
            t = base.to(dtype)
        else:
            info = torch.iinfo(dtype)
            t = base.abs().to(torch.int64).clamp(0, min(info.max, 2**62)).to(dtype)
        tensors[f"block.{i}.{str(dtype).split('.')[-1]}"] = t
    return tensors


def safetensors_checks(modelfile, work):
    rng = random.Random(7)
    # 1. Files written by the reference library, copied through modelfile, read back identically.
    for trial in range(5):
        source = random_state_dict(rng, rng.randint(1, 12))
        src = os.path.join(work, f"ref{trial}.safetensors")
        save_file(source, src, metadata={"format": "pt"})
        dst = os.path.join(work, f"ours{trial}.safetensors")
        run(modelfile, "convert", src, dst)
        ours = load_file(dst)
        check(f"safetensors copy {trial}: reference reads our file identically",
              set(ours) == set(source) and all(same_tensor(ours[k], source[k]) for k in source))
        with open(src, "rb") as a, open(dst, "rb") as b:
            check(f"safetensors copy {trial}: bytes equal save_file's", a.read() == b.read())
        inspected = json.loads(run(modelfile, "inspect", "--json", src).stdout)
        listed = {t["name"]: (t["dtype"], t["shape"]) for t in inspected["tensors"]}
        with safe_open(src, "pt") as f:
            reference = {k: (f.get_slice(k).get_dtype(), list(f.get_slice(k).get_shape())) for k in f.keys()}
        check(f"safetensors inspect {trial}: names, dtypes and shapes match safe_open", listed == reference,
              f"{listed} vs {reference}")

    # 2. --dtype casts equal torch's .to(dtype) bit for bit (NaN compared as NaN).
    source = {f"w{i}": torch.randn(64, 33, generator=torch.Generator().manual_seed(i)) * (10 ** (i - 3)) for i in range(7)}
    source["specials"] = torch.tensor([0.0, -0.0, float("inf"), float("-inf"), 65504.0, 65520.0, 1e-8, 3.4e38, 1.00390625])
    source["doubles"] = torch.randn(100, dtype=torch.float64)
    source["ints"] = torch.arange(10)
    src = os.path.join(work, "cast-src.safetensors")
    save_file(source, src)
    for name, dtype in (("bf16", torch.bfloat16), ("f16", torch.float16), ("f32", torch.float32)):
        dst = os.path.join(work, f"cast-{name}.safetensors")
        run(modelfile, "convert", src, dst, "--dtype", name)
        ours = load_file(dst)
        expected = {k: (v.to(dtype) if v.is_floating_point() else v) for k, v in source.items()}
        check(f"--dtype {name} equals torch .to({dtype})", all(same_tensor(ours[k], expected[k]) for k in expected),
              [k for k in expected if not same_tensor(ours[k], expected[k])])

    # 3. Shards: the reference reads every shard, and the index agrees with them.
    big = {f"layers.{i}.weight": torch.randn(32, 32, generator=torch.Generator().manual_seed(i)) for i in range(10)}
    src = os.path.join(work, "big.safetensors")
    save_file(big, src)
    shards = os.path.join(work, "shards")
    run(modelfile, "convert", src, shards, "--max-shard-size", "10KB")
    loaded = load_any_safetensors(shards)
    check("sharded output: every tensor readable and equal", set(loaded) == set(big) and all(same_tensor(loaded[k], big[k]) for k in big))
    # 10 tensors of 4096 bytes under a 10,000-byte limit: two per shard, as huggingface_hub splits.
    check("sharded output: shards follow huggingface naming and splitting",
          sorted(os.listdir(shards)) == [f"model-0000{i}-of-00005.safetensors" for i in range(1, 6)] + ["model.safetensors.index.json"],
          sorted(os.listdir(shards)))
    merged = os.path.join(work, "merged.safetensors")
    run(modelfile, "convert", shards, merged)
    check("merging shards back gives the original tensors", all(same_tensor(load_file(merged)[k], big[k]) for k in big))

    # 4. Every valid committed fixture: our copy is read back identically by the reference.
    folder = os.path.join(FIXTURES, "safetensors")
    for name in sorted(os.listdir(folder)):
        if not name.endswith(".safetensors"):
            continue
        with open(os.path.join(folder, name + ".json")) as f:
            expected = json.load(f)
        dst = os.path.join(work, "fixture-" + name)
        result = subprocess.run([modelfile, "convert", os.path.join(folder, name), dst], capture_output=True, text=True)
        if not expected["valid"]:
            check(f"fixture {name}: refused like the reference (exit 2)", result.returncode == 2 and not os.path.exists(dst),
                  result.stderr.strip())
            continue
        if result.returncode != 0:
            check(f"fixture {name}: converted", False, result.stderr.strip())
            continue
        try:
            with safe_open(dst, "pt") as f:
                names = list(f.keys())
            ok = sorted(names) == sorted(t["name"] for t in expected["tensors"])
        except Exception as e:  # F6 files cannot be mapped to torch: compare at the format level
            from safetensors._safetensors_rust import deserialize
            with open(dst, "rb") as f:
                ok = sorted(k for k, _ in deserialize(f.read())) == sorted(t["name"] for t in expected["tensors"])
        check(f"fixture {name}: our copy reads back in the reference", ok)


def flatten(obj, prefix=""):
    """(name, tensor) pairs named as modelfile names them."""
    out = []
    if isinstance(obj, torch.Tensor):
        out.append((prefix or "tensor", obj))
    elif isinstance(obj, dict):
        for k, v in obj.items():
            out += flatten(v, f"{prefix}.{k}" if prefix else str(k))
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            out += flatten(v, f"{prefix}.{i}" if prefix else str(i))
    return out


def torch_checks(modelfile, work):
    rng = random.Random(11)
    # 1. Files torch writes (zip and legacy, state dicts, checkpoints, views, all dtypes) convert
    #    to safetensors with bit-identical values under the same names.
    cases = {}
    for trial in range(4):
        sd = random_state_dict(rng, rng.randint(1, 10))
        base = torch.arange(30, dtype=torch.float32)
        sd["view.t"] = base.view(5, 6).t()
        sd["view.slice"] = base[7:19:3]
        sd["view.expand"] = torch.arange(3.0).expand(2, 3)
        cases[f"sd{trial}"] = sd
    cases["checkpoint"] = {"model": cases["sd0"], "epoch": 4, "optimizer": {"state": {0: {"step": torch.tensor(3.0)}}, "param_groups": [{"lr": 0.1, "params": [0]}]}}
    cases["dtypes_v3"] = {"u16": torch.tensor([1, 65535], dtype=torch.uint16), "f8": torch.tensor([1.0, -2.0], dtype=torch.float8_e4m3fn),
                          "u64": torch.tensor([2**63], dtype=torch.uint64), "f8b": torch.tensor([0.5], dtype=torch.float8_e5m2)}
    for name, obj in cases.items():
        for legacy in (False, True):
            if legacy and name == "dtypes_v3":
                continue  # the legacy format cannot hold these dtypes
            src = os.path.join(work, f"{name}{'-legacy' if legacy else ''}.pth")
            if legacy:  # the legacy format has no storage class for the newer dtypes
                v3 = (torch.uint16, torch.uint32, torch.uint64, torch.float8_e4m3fn, torch.float8_e5m2)
                strip = lambda o: {k: strip(v) for k, v in o.items() if not (isinstance(v, torch.Tensor) and v.dtype in v3)} if isinstance(o, dict) else o
                obj = strip(obj)
            torch.save(obj, src, _use_new_zipfile_serialization=not legacy)
            dst = src + ".safetensors"
            run(modelfile, "convert", "pth-to-safetensors", src, dst)
            ours = load_file(dst)
            expected = dict(flatten(torch.load(src, weights_only=True)))
            same = set(ours) == set(expected) and all(same_tensor(ours[k], expected[k].contiguous()) for k in expected)
            check(f"pth-to-safetensors {os.path.basename(src)}: names and bits equal torch.load", same,
                  sorted(set(ours) ^ set(expected)) or [k for k in expected if not same_tensor(ours[k], expected[k].contiguous())])
            # 2. And back: safetensors to .pth, read by torch.load(weights_only=True).
            back = src + ".back.pth"
            run(modelfile, "convert", "safetensors-to-pth", dst, back)
            loaded = torch.load(back, weights_only=True)
            check(f"safetensors-to-pth {os.path.basename(src)}: torch.load(weights_only=True) reads it identically",
                  isinstance(loaded, dict) and set(loaded) == set(ours) and all(same_tensor(loaded[k], ours[k]) for k in ours))
            # 3. pth to pth (also legacy to zip), then diff says equal.
            again = src + ".again.pth"
            run(modelfile, "convert", src, again)
            check(f"pth-to-pth {os.path.basename(src)}: equal by modelfile diff", run(modelfile, "diff", src, again).returncode == 0)
    # 4. mmap=True reads our .pth too (records stored and aligned).
    loaded = torch.load(os.path.join(work, "sd0.pth.back.pth"), weights_only=True, mmap=True)
    check("torch.load(mmap=True) reads our .pth", len(loaded) > 0)
    # 5. Every torch fixture converts to what torch.load reads.
    folder = os.path.join(FIXTURES, "torch")
    for name in sorted(os.listdir(folder)):
        if not name.endswith((".pth", ".pt")):
            continue
        with open(os.path.join(folder, name + ".json")) as f:
            expected = json.load(f)
        dst = os.path.join(work, "fixture-" + name + ".safetensors")
        result = subprocess.run([modelfile, "convert", os.path.join(folder, name), dst], capture_output=True, text=True)
        dense = expected["valid"] and all("layout" not in t for t in expected["tensors"])
        unrepresentable = expected["valid"] and any(t["dtype"] in ("C128", "C32") for t in expected["tensors"])
        if unrepresentable:
            # safetensors has no complex128/complex32: refused, naming the tensor; .pth keeps them.
            check(f"fixture {name}: safetensors output refused for complex128/complex32 (exit 2)",
                  result.returncode == 2 and "has no safetensors dtype" in result.stderr, result.stderr)
            pth = dst + ".pth"
            run(modelfile, "convert", os.path.join(folder, name), pth)
            ours = torch.load(pth, weights_only=True)
            reference = dict(flatten(torch.load(os.path.join(folder, name), weights_only=True, map_location="cpu")))
            check(f"fixture {name}: .pth output keeps every dtype bit for bit", set(ours) == set(reference)
                  and all(same_tensor(ours[k], reference[k].contiguous()) for k in reference))
            continue
        if not dense:
            check(f"fixture {name}: refused with a message (exit 2), nothing written",
                  result.returncode == 2 and not os.path.exists(dst) and result.stderr.count("\n") == 1, result.stderr)
            continue
        if result.returncode != 0:
            check(f"fixture {name}: converts", False, result.stderr.strip())
            continue
        ours = load_file(dst)
        reference = dict(flatten(torch.load(os.path.join(folder, name), weights_only=True, map_location="cpu")))
        check(f"fixture {name}: values equal torch.load's", set(ours) == set(reference)
              and all(same_tensor(ours[k], reference[k].contiguous()) for k in reference))
    # 6. scan agrees with torch about what a weights-only load refuses.
    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))
    evil = os.path.join(work, "evil.pth")
    torch.save({"w": torch.ones(2), "x": Evil()}, evil)
    result = subprocess.run([modelfile, "scan", evil], capture_output=True, text=True)
    check("scan flags os.system (exit 1)", result.returncode == 1 and ("posix.system" in result.stdout or "os.system" in result.stdout), result.stdout)
    result = subprocess.run([modelfile, "inspect", evil], capture_output=True, text=True)
    check("inspect refuses the payload (exit 2) naming the global", result.returncode == 2 and "system" in result.stderr, result.stderr)
    try:
        torch.load(evil, weights_only=True)
        check("torch also refuses it", False)
    except Exception:
        check("torch also refuses it", True)


def lightning_module():
    import pytorch_lightning as pl

    class LitFNN(pl.LightningModule):
        """The reference network 8-6-4-2-1 with sigmoids, as a LightningModule (Adam + StepLR)."""

        def __init__(self, lr=0.01):
            super().__init__()
            self.save_hyperparameters()
            self.linear1, self.linear2 = torch.nn.Linear(8, 6), torch.nn.Linear(6, 4)
            self.linear3, self.linear4 = torch.nn.Linear(4, 2), torch.nn.Linear(2, 1)

        def forward(self, x):
            for layer in (self.linear1, self.linear2, self.linear3, self.linear4):
                x = torch.sigmoid(layer(x))
            return x

        def training_step(self, batch, index):
            x, y = batch
            return torch.nn.functional.binary_cross_entropy(self(x), y)

        def validation_step(self, batch, index):
            x, y = batch
            self.log("val_loss", torch.nn.functional.binary_cross_entropy(self(x), y))

        def configure_optimizers(self):
            opt = torch.optim.Adam(self.parameters(), lr=self.hparams.lr)
            return [opt], [torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)]

    return LitFNN


def lightning_trainer(max_epochs, callbacks=()):
    import logging
    import pytorch_lightning as pl
    logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    return pl.Trainer(max_epochs=max_epochs, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                      enable_model_summary=False, accelerator="cpu", callbacks=list(callbacks))


def resume_state(LitFNN, ckpt, loader, max_epochs):
    """Resumes fit from `ckpt`; returns what Lightning restored (epoch, step, optimizer, scheduler)."""
    import pytorch_lightning as pl
    seen = {}

    class Capture(pl.Callback):
        def on_train_start(self, trainer, module):
            seen["epoch"], seen["global_step"] = trainer.current_epoch, trainer.global_step
            # deep copies: state_dict() hands out the live tensors, which training then updates
            seen["optimizer"] = copy.deepcopy(trainer.optimizers[0].state_dict())
            seen["scheduler"] = copy.deepcopy(trainer.lr_scheduler_configs[0].scheduler.state_dict())
            seen["weights"] = {k: v.clone() for k, v in module.state_dict().items()}

    trainer = lightning_trainer(max_epochs, [Capture()])
    trainer.fit(LitFNN(), loader, ckpt_path=ckpt)
    seen["final_epoch"], seen["final_step"] = trainer.current_epoch, trainer.global_step
    return seen


def lightning_checks(modelfile, work):
    import pytorch_lightning as pl
    from torch.utils.data import DataLoader, TensorDataset
    LitFNN = lightning_module()
    g = torch.Generator().manual_seed(3)
    x, y = torch.randn(64, 8, generator=g), (torch.rand(64, 1, generator=g) > 0.5).float()
    loader = DataLoader(TensorDataset(x, y), batch_size=16)
    pl.seed_everything(1, verbose=False)
    trainer = lightning_trainer(2)
    trainer.fit(LitFNN(), loader)
    real = os.path.join(work, "real.ckpt")
    trainer.save_checkpoint(real)
    reference = torch.load(real, weights_only=True)

    # 1. Rewritten by modelfile (the whole tree through our writer), then resumed by Lightning.
    ours = os.path.join(work, "ours.ckpt")
    run(modelfile, "convert", real, ours)
    seen = resume_state(LitFNN, ours, loader, 4)
    wrote = torch.load(ours, weights_only=True)
    check("Lightning resumes our .ckpt at the saved epoch and step", (seen["epoch"], seen["global_step"]) == (2, 8), seen)
    opt = seen["optimizer"]
    same_moments = all(same_tensor(opt["state"][i][k], wrote["optimizer_states"][0]["state"][i][k])
                       for i in wrote["optimizer_states"][0]["state"] for k in ("step", "exp_avg", "exp_avg_sq"))
    check("the restored Adam moments and step counts are the ones we wrote", same_moments)
    check("the restored learning rate and scheduler are the ones we wrote",
          opt["param_groups"][0]["lr"] == wrote["optimizer_states"][0]["param_groups"][0]["lr"]
          and seen["scheduler"]["last_epoch"] == wrote["lr_schedulers"][0]["last_epoch"], (opt["param_groups"][0], seen["scheduler"]))
    check("the restored weights are the ones we wrote", all(same_tensor(seen["weights"][k], wrote["state_dict"][k]) for k in wrote["state_dict"]))
    check("training then continues to the new max_epochs", (seen["final_epoch"], seen["final_step"]) == (4, 16), seen)

    # 2. strip: about a third of the tensor bytes, loads with weights_only, load_from_checkpoint works.
    small = os.path.join(work, "small.ckpt")
    run(modelfile, "strip", real, small)
    stripped = torch.load(small, weights_only=True)
    check("strip keeps the weights and plain values only",
          sorted(stripped) == sorted(["epoch", "global_step", "pytorch-lightning_version", "state_dict", "hparams_name", "hyper_parameters"]),
          list(stripped))
    model = LitFNN.load_from_checkpoint(small)
    check("LightningModule.load_from_checkpoint reads the stripped file",
          all(same_tensor(model.state_dict()[k], reference["state_dict"][k]) for k in reference["state_dict"]))
    tensor_bytes = lambda c: sum(t.numel() * t.element_size() for _, t in flatten(c))
    check("stripped tensors are about a third of Adam's (weights vs weights + 2 moments)",
          abs(tensor_bytes(stripped) * 3 - tensor_bytes(reference)) <= 16 * 8, (tensor_bytes(stripped), tensor_bytes(reference)))

    # 3. ckpt-to-safetensors equals torch.load(path)["state_dict"], with the prefix stripped on request.
    weights = os.path.join(work, "weights.safetensors")
    run(modelfile, "convert", "ckpt-to-safetensors", real, weights)
    extracted = load_file(weights)
    check("ckpt-to-safetensors equals torch.load(ckpt)['state_dict'] bit for bit",
          set(extracted) == set(reference["state_dict"]) and all(same_tensor(extracted[k], reference["state_dict"][k]) for k in extracted))

    # 4. Weights (any format) to a .ckpt Lightning accepts for validation and load_from_checkpoint.
    as_ckpt = os.path.join(work, "from-weights.ckpt")
    run(modelfile, "convert", weights, as_ckpt)
    model = LitFNN.load_from_checkpoint(as_ckpt, lr=0.01)
    check("load_from_checkpoint reads a .ckpt made from safetensors weights",
          all(same_tensor(model.state_dict()[k], extracted[k]) for k in extracted))
    results = lightning_trainer(1).validate(LitFNN(), DataLoader(TensorDataset(x, y), batch_size=16), ckpt_path=as_ckpt, verbose=False)
    check("trainer.validate(ckpt_path=…) accepts it", len(results) == 1 and "val_loss" in results[0], results)

    # 5. Real checkpoints of every optimizer kind round-trip through modelfile and still resume.
    fixtures = os.path.join(FIXTURES, "lightning")
    for name in ("adam_steplr.ckpt", "sgd_momentum.ckpt", "adamw_amsgrad.ckpt", "minimal_resume.ckpt"):
        copy = os.path.join(work, "copy-" + name)
        run(modelfile, "convert", os.path.join(fixtures, name), copy)
        a, b = torch.load(os.path.join(fixtures, name), weights_only=True), torch.load(copy, weights_only=True)
        fa, fb = dict(flatten(a)), dict(flatten(b))
        check(f"{name}: every tensor and key survives our writer", list(a) == list(b) and set(fa) == set(fb)
              and all(same_tensor(fa[k], fb[k]) for k in fa))


class FNNModel(torch.nn.Module):
    """The reference network's PyTorch class: linear1..linear4 with a sigmoid after each."""

    def __init__(self):
        super().__init__()
        self.linear1, self.linear2 = torch.nn.Linear(8, 6), torch.nn.Linear(6, 4)
        self.linear3, self.linear4 = torch.nn.Linear(4, 2), torch.nn.Linear(2, 1)
        self.sigmoid = torch.nn.Sigmoid()

    def forward(self, x):
        for layer in (self.linear1, self.linear2, self.linear3, self.linear4):
            x = self.sigmoid(layer(x))
        return x


def close(a, b, rtol=1e-5, atol=1e-6):
    return torch.allclose(a, b, rtol=rtol, atol=atol)


def training_checks(modelfile, work):
    import csv
    import pytorch_lightning as pl
    from torch.utils.data import DataLoader, TensorDataset
    data_csv = os.path.join(os.path.dirname(FIXTURES), "data", "diabetes.csv")
    with open(data_csv) as f:
        rows = [[float(v) for v in r] for r in list(csv.reader(f))[1:]]
    data = torch.tensor(rows, dtype=torch.float32)
    features, labels = data[:, :8], data[:, 8:]

    # 1. The reference run's weights load into FNNModel strictly, in all three formats, and give
    #    the predictions `modelfile predict` prints.
    for ext in ("safetensors", "pth", "ckpt"):
        out = os.path.join(work, f"ref.{ext}")
        run(modelfile, "train", "--out", out, "--optimizer", "adam", "--epochs", "20")
        state = load_file(out) if ext == "safetensors" else torch.load(out, weights_only=True)["state_dict"]
        model = FNNModel()
        missing = model.load_state_dict(state, strict=True)
        with torch.no_grad():
            ours = torch.tensor(json.loads(run(modelfile, "predict", "--model", out, "--json").stdout)["predictions"])
            theirs = model(features)
        check(f"train --out .{ext}: loads into FNNModel(strict=True) and predicts what modelfile predict prints",
              not missing.missing_keys and close(ours, theirs), (ours[:3].flatten().tolist(), theirs[:3].flatten().tolist()))

    # The same 64 standardised rows for both sides, written as CSV (float32 values printed exactly).
    x = features[:64]
    x = (x - x.mean(0)) / x.std(0, unbiased=False)
    y = labels[:64]
    rows_csv = os.path.join(work, "rows.csv")
    with open(rows_csv, "w") as f:
        f.write(",".join([f"f{i}" for i in range(8)] + ["y"]) + "\n")
        for r in torch.cat([x, y], 1).tolist():
            f.write(",".join(repr(v) for v in r) + "\n")
    loader = DataLoader(TensorDataset(x, y), batch_size=16, shuffle=False)

    class LitFNN(pl.LightningModule):
        def __init__(self):
            super().__init__()
            self.linear1, self.linear2 = torch.nn.Linear(8, 6), torch.nn.Linear(6, 4)
            self.linear3, self.linear4 = torch.nn.Linear(4, 2), torch.nn.Linear(2, 1)

        def forward(self, v):
            for layer in (self.linear1, self.linear2, self.linear3, self.linear4):
                v = torch.sigmoid(layer(v))
            return v

        def training_step(self, batch, index):
            return torch.nn.functional.binary_cross_entropy(self(batch[0]), batch[1])

        def configure_optimizers(self):
            return torch.optim.Adam(self.parameters(), lr=0.01)

    # 2. A checkpoint modelfile trains resumes in Lightning, which then takes the same steps we do.
    ours = os.path.join(work, "trained-here.ckpt")
    run(modelfile, "train", "--data", rows_csv, "--optimizer", "adam", "--lr", "0.01", "--epochs", "2",
        "--batch-size", "16", "--no-shuffle", "--out", ours)
    seen = {}

    class Capture(pl.Callback):
        def on_train_start(self, trainer, module):
            seen["start"] = (trainer.current_epoch, trainer.global_step)
            seen["state"] = copy.deepcopy(trainer.optimizers[0].state_dict())

    trainer = lightning_trainer(3, [Capture()])
    lit = LitFNN()
    trainer.fit(lit, loader, ckpt_path=ours)
    wrote = torch.load(ours, weights_only=True)
    check("Lightning resumes a checkpoint modelfile trained, at epoch 2 / step 8", seen.get("start") == (2, 8), seen.get("start"))
    check("Lightning restored the Adam state modelfile wrote", all(
        same_tensor(seen["state"]["state"][i][k], wrote["optimizer_states"][0]["state"][i][k])
        for i in range(8) for k in ("step", "exp_avg", "exp_avg_sq")))
    continued = os.path.join(work, "continued.safetensors")
    run(modelfile, "train", "--data", rows_csv, "--resume", ours, "--epochs", "3", "--batch-size", "16", "--no-shuffle", "--out", continued)
    mine = load_file(continued)
    check("the epoch Lightning trained after resuming equals the one modelfile trains (1e-5)",
          all(close(lit.state_dict()[k], mine[k]) for k in mine),
          max(float((lit.state_dict()[k] - mine[k]).abs().max()) for k in mine))

    # 3. A checkpoint Lightning trained resumes in modelfile, which then takes Lightning's steps.
    pl.seed_everything(4, verbose=False)
    trainer = lightning_trainer(2)
    lit = LitFNN()
    trainer.fit(lit, loader)
    theirs = os.path.join(work, "trained-in-lightning.ckpt")
    trainer.save_checkpoint(theirs)
    trainer = lightning_trainer(3)
    trainer.fit(lit, loader, ckpt_path=theirs)
    from_ours = os.path.join(work, "from-lightning.safetensors")
    result = run(modelfile, "train", "--data", rows_csv, "--resume", theirs, "--epochs", "3", "--batch-size", "16", "--no-shuffle",
                 "--out", from_ours, "--json")
    report = json.loads(result.stdout)
    check("modelfile resumes Lightning's checkpoint at epoch 2, step 8 (and continues to step 12)",
          report["start_epoch"] == 2 and report["global_step"] == 12, (report["start_epoch"], report["global_step"]))
    mine = load_file(from_ours)
    check("the epoch modelfile trained from Lightning's checkpoint equals Lightning's own (1e-5)",
          all(close(lit.state_dict()[k], mine[k]) for k in mine),
          max(float((lit.state_dict()[k] - mine[k]).abs().max()) for k in mine))


SECTIONS = {"safetensors": safetensors_checks, "torch": torch_checks, "lightning": lightning_checks, "training": training_checks}

# Each scripts/interop_<area>.py adds its own sections: a module-level SECTIONS dict of
# name -> function(modelfile, work), using the helpers in interop_support.
for _module_file in sorted(glob.glob(os.path.join(os.path.dirname(os.path.abspath(__file__)), "interop_*.py"))):
    _name = os.path.splitext(os.path.basename(_module_file))[0]
    if _name != "interop_support":
        SECTIONS.update(importlib.import_module(_name).SECTIONS)

if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--modelfile", required=True)
    parser.add_argument("sections", nargs="*", default=list(SECTIONS))
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="modelfile-interop-")
    try:
        for section in args.sections:
            SECTIONS[section](os.path.abspath(args.modelfile), work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"\n{len(failures)} failure(s)" if failures else "\nall interop checks passed")
    sys.exit(1 if failures else 0)
