#!/usr/bin/env python3
"""Writes the expected values of the tensor runtime's contract (its tensor, autograd, module, loss
and LoRA lines) as PyTorch and PEFT compute them, for the Swift tests in
Tests/TensorCoreTests/RuntimeParityTests.swift and Tests/TensorNNTests/RuntimeTrainingTests.swift.

Pinned versions: torch 2.13.0 (CPU wheel), peft 0.21.2, Python 3.11; one thread
(torch.set_num_threads(1)). Seeds are fixed below. Swift tests never run this script; rerun it by hand:

    /work/venv/bin/python Fixtures/generate_runtime.py

Files written (JSON; float32 values printed with 9 significant digits, enough to round-trip):

  runtime/basics.json    creation from Python floats and ints and nested lists; arange lengths and
                         values; views; indexing with negative indices and slices; matmul for every
                         rank combination torch defines (values and both gradients); reductions,
                         max/argmax, softmax (values and gradients); long sums of SplitMix64 data;
                         allclose verdicts; BCELoss, BCEWithLogitsLoss (logits up to ±100), MSELoss,
                         CrossEntropyLoss (values and gradients); gradient accumulation and a no-grad
                         in-place update.
  runtime/training.json  the reference network FNNModel (linear1..linear4 = 8->6->4->2->1, sigmoid
                         after each) from torch.manual_seed(0): its initial state dict, and its state
                         dict after 2 epochs of SGD(lr=0.01) with BCELoss over data/diabetes.csv
                         (no standardisation) in batches of 32 without shuffling, with the loss of
                         every step.
  runtime/lora.json      a PEFT LoRA layer (r=2, alpha=4; and rsLoRA r=4, alpha=8): its weights,
                         output, adapter gradients and merge_and_unload weight; and 2 epochs of
                         LoRA-only training of FNNModel (targets linear1..linear3, r=2, alpha=4) from
                         the initial weights above and PEFT's adapter initialisation, the adapters and
                         losses after training.

SplitMix64 below is the generator of Sources/TensorCore/SplitMix64.swift, so that long inputs need
not be stored: both sides draw them from the same seed.
"""
import csv
import json
import math
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from generate_fixtures import FNNModel  # noqa: E402  (the reference network, one definition)
from torch import nn

EXPECTED = {"torch": "2.13.0", "peft": "0.21.2"}
if not torch.__version__.startswith(EXPECTED["torch"]):
    sys.exit(f"this script pins torch {EXPECTED['torch']}; found {torch.__version__}")
import peft  # noqa: E402

if peft.__version__ != EXPECTED["peft"]:
    sys.exit(f"this script pins peft {EXPECTED['peft']}; found {peft.__version__}")
from peft import LoraConfig, get_peft_model  # noqa: E402

torch.set_num_threads(1)
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "runtime")
DIABETES = os.path.join(HERE, "..", "data", "diabetes.csv")
MASK = (1 << 64) - 1


def f32(values):
    """Float32 values as JSON numbers with 9 significant digits (inf and nan as strings)."""
    out = []
    for v in torch.as_tensor(values).detach().to(torch.float32).reshape(-1).tolist():
        out.append(v if math.isfinite(v) else str(v))
        if math.isfinite(v):
            out[-1] = float(f"{v:.9g}")
    return out


def rec(t):
    t = torch.as_tensor(t).detach()
    return {"shape": list(t.shape), "values": f32(t)}


class SplitMix64:
    """Sources/TensorCore/SplitMix64.swift in Python."""

    def __init__(self, seed):
        self.state = seed & MASK

    def next(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        return z ^ (z >> 31)

    def rand(self, n):
        """Tensor.rand: 24 random bits scaled to [0, 1)."""
        return torch.tensor([(self.next() >> 40) * 2.0 ** -24 for _ in range(n)], dtype=torch.float32)


def seeded(seed, *shape):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(tuple(shape), generator=g)


# ---------------------------------------------------------------------------------------- basics

def creation():
    doubles = [0.1, 0.2, 1e-40, 3.4e38, 1 / 3, -2.675, 16777217.0]
    ints = [1, -2, 16777217, 123456789]
    nested = [[[1.5, 2], [3, 4]], [[5, 6], [7, 8.25]]]
    return {
        "doubles": {"input": doubles, **rec(torch.tensor(doubles, dtype=torch.float32))},
        "ints": {"input": ints, **rec(torch.tensor(ints, dtype=torch.float32))},
        "nested": {"input": nested, **rec(torch.tensor(nested, dtype=torch.float32))},
        "eye3": rec(torch.eye(3)),
        "full": rec(torch.full((2, 3), 7.0)),
        "zeros": rec(torch.zeros(2, 3)),
    }


ARANGE_CASES = [
    (1, 1.3, 0.1), (0, 1, 0.25), (0, 1, 0.1), (-1, 1, 0.1), (0.1, 10.7, 0.3), (1e7, 1e7 + 100, 3.3),
    (0.1, 1000.3, 0.7), (-3.3, 5.9, 0.013), (10, 0, -1.5), (5, 5, 1), (0, 5, 1), (2.5, -7.25, -0.3),
]


def arange():
    cases = [{"start": s, "end": e, "step": st, **rec(torch.arange(s, e, st, dtype=torch.float32))}
             for s, e, st in ARANGE_CASES]
    cases.append({"count": 5, **rec(torch.arange(5).float())})
    return cases


def views():
    x = torch.arange(24, dtype=torch.float32).reshape(2, 3, 4)
    u = torch.arange(6, dtype=torch.float32).reshape(1, 2, 1, 3)
    return {
        "x": rec(x),
        "reshape_-1": rec(x.view(-1)), "reshape_4_-1": rec(x.view(4, -1)),
        "u": rec(u), "squeeze": rec(u.squeeze()), "squeeze_2": rec(u.squeeze(2)), "unsqueeze_0": rec(u.squeeze().unsqueeze(0)),
        "unsqueeze_-1": rec(u.squeeze().unsqueeze(-1)),
        "t": rec(x[0].t()), "transpose_0_2": rec(x.transpose(0, 2)), "transpose_-1_0": rec(x.transpose(-1, 0)),
        "stack_0": rec(torch.stack([x[0], x[1]], 0)), "stack_1": rec(torch.stack([x[0], x[1]], 1)),
        "cat_0": rec(torch.cat([x[0], x[1]], 0)), "cat_1": rec(torch.cat([x[0], x[1][:, :2]], 1)),
    }


INDEX_CASES = {
    "x[1]": lambda x: x[1], "x[-1]": lambda x: x[-1], "x[1:3]": lambda x: x[1:3], "x[:,0]": lambda x: x[:, 0],
    "x[:,-1]": lambda x: x[:, -1], "x[-3:-1]": lambda x: x[-3:-1], "x[1,2]": lambda x: x[1, 2],
    "x[1:,-2:]": lambda x: x[1:, -2:], "x[5:9]": lambda x: x[5:9], "x[:,1:100]": lambda x: x[:, 1:100],
    "x[-1,:,2]": lambda x: x[-1, :, 2], "x[:2]": lambda x: x[:2], "x[-2:]": lambda x: x[-2:],
    "x[1:-1]": lambda x: x[1:-1], "x[2:1]": lambda x: x[2:1],
}


def indexing():
    x = seeded(1, 4, 5)
    x3 = seeded(2, 4, 3, 5)
    cases = {}
    for name, f in INDEX_CASES.items():
        source = x3 if name.count(",") == 2 else x
        leaf = source.clone().requires_grad_()
        out = f(leaf)
        w = seeded(3, *out.shape) if out.numel() else torch.zeros(out.shape)
        (out * w).sum().backward()
        cases[name] = {**rec(out), "weights": rec(w), "grad": rec(leaf.grad)}
    return {"x": rec(x), "x3": rec(x3), "cases": cases}


MATMUL_SHAPES = [
    ([5], [5]), ([3], [3, 4]), ([3, 4], [4]), ([2, 3], [3, 4]), ([2, 3, 4], [4, 5]), ([4], [2, 4, 3]),
    ([2, 3, 4], [4]), ([3, 4], [2, 4, 5]), ([2, 1, 3, 4], [5, 4, 2]), ([2, 3, 4], [2, 4, 5]), ([1, 3, 4], [3, 4, 2]),
]


def matmul():
    cases = []
    for index, (sa, sb) in enumerate(MATMUL_SHAPES):
        a = seeded(10 + index, *sa).requires_grad_()
        b = seeded(50 + index, *sb).requires_grad_()
        out = torch.matmul(a, b)
        w = seeded(90 + index, *out.shape)
        (out * w).sum().backward()
        cases.append({"a": rec(a), "b": rec(b), "weights": rec(w), "out": rec(out), "grad_a": rec(a.grad), "grad_b": rec(b.grad)})
    return cases


def reductions():
    x = seeded(4, 3, 4, 5)
    results = {"x": rec(x)}
    ops = {
        "sum": lambda v: v.sum(), "sum_0": lambda v: v.sum(0), "sum_-1": lambda v: v.sum(-1), "mean": lambda v: v.mean(),
        "mean_1": lambda v: v.mean(1), "max_1": lambda v: v.max(1).values, "max_-1": lambda v: v.max(-1).values,
        "softmax_1": lambda v: v.softmax(1), "softmax_-1": lambda v: v.softmax(-1), "max": lambda v: v.max(),
    }
    for name, f in ops.items():
        leaf = x.clone().requires_grad_()
        out = f(leaf)
        w = seeded(5, *out.shape)
        (out * w).sum().backward()
        results[name] = {**rec(out), "weights": rec(w), "grad": rec(leaf.grad)}
    results["argmax_1"] = rec(x.argmax(1).float())
    results["argmax_-1"] = rec(x.argmax(-1).float())
    results["argmax"] = rec(x.argmax().float())
    # Long inputs drawn from SplitMix64 on both sides.
    n = 1_000_000
    long = SplitMix64(7).rand(n)
    columns = SplitMix64(8).rand(300_000 * 3).reshape(300_000, 3)
    row = SplitMix64(9).rand(100_000) * 20 - 10
    results["long"] = {
        "seed": 7, "count": n, "sum": f32(long.sum())[0], "mean": f32(long.mean())[0],
        "exact_sum": math.fsum(long.double().tolist()),
        "columns_seed": 8, "column_sums": f32(columns.sum(0)), "exact_column_sums": [math.fsum(c) for c in columns.double().t().tolist()],
        "row_seed": 9, "softmax_head": f32(row.softmax(0)[:8]), "log_softmax_head": f32(row.log_softmax(0)[:8]),
    }
    return results


def allclose():
    inf, nan = float("inf"), float("nan")
    pairs = [
        ([1.0, 2.0], [1.0, 2.00001], 1e-5, 1e-8), ([1.0, 2.0], [1.0, 2.0001], 1e-5, 1e-8),
        ([0.0], [1e-9], 1e-5, 1e-8), ([0.0], [1e-7], 1e-5, 1e-8), ([inf, 1.0], [inf, 1.0], 1e-5, 1e-8),
        ([inf], [-inf], 1e-5, 1e-8), ([nan], [nan], 1e-5, 1e-8), ([1e10], [1.00001e10], 1e-5, 1e-8),
        ([100.0], [101.0], 0.0, 1.0), ([100.0], [101.5], 0.0, 1.0), ([[1.0, 2.0], [1.0, 2.0]], [1.0, 2.0], 1e-5, 1e-8),
        ([1.0, 5.0], [1.1, 5.5], 0.1, 0.0), ([1.1, 5.5], [1.0, 5.0], 0.1, 0.0),
    ]
    return [{"a": [str(v) if not math.isfinite(v) else v for v in torch.tensor(a).reshape(-1).tolist()], "a_shape": list(torch.tensor(a).shape),
             "b": [str(v) if not math.isfinite(v) else v for v in b], "rtol": rtol, "atol": atol,
             "expected": bool(torch.allclose(torch.tensor(a), torch.tensor(b), rtol=rtol, atol=atol))}
            for a, b, rtol, atol in pairs]


def losses():
    out = {}

    def case(name, loss, prediction, target, target_grad=False):
        p = prediction.clone().requires_grad_()
        t = target.clone().requires_grad_(target_grad)
        value = loss(p, t)
        value.backward()
        out[name] = {"prediction": rec(prediction), "target": rec(target), "value": f32(value)[0], "grad": rec(p.grad)}
        if target_grad:
            out[name]["target_grad"] = rec(t.grad)

    probabilities = torch.sigmoid(seeded(20, 6, 1))
    labels = (seeded(21, 6, 1) > 0).float()
    case("bce", nn.BCELoss(), probabilities, labels)
    case("bce_edges", nn.BCELoss(), torch.tensor([0.0, 1.0, 1e-30, 0.5]), torch.tensor([1.0, 0.0, 1.0, 0.5]))
    logits = torch.tensor([-100.0, -30.0, -5.0, -0.5, 0.0, 0.5, 5.0, 30.0, 100.0, 100.0, -100.0, 2.0])
    targets = torch.tensor([1.0, 0.0, 1.0, 0.3, 1.0, 0.0, 0.0, 1.0, 0.0, 1.0, 0.0, 0.7])
    case("bce_with_logits", nn.BCEWithLogitsLoss(), logits, targets, target_grad=True)
    case("bce_with_logits_2d", nn.BCEWithLogitsLoss(), seeded(22, 4, 3) * 4, torch.sigmoid(seeded(23, 4, 3)))
    case("mse", nn.MSELoss(), seeded(24, 3, 4), seeded(25, 3, 4), target_grad=True)
    scores = seeded(26, 5, 4) * 3
    classes = torch.tensor([0, 3, 1, 1, 2])
    p = scores.clone().requires_grad_()
    value = nn.CrossEntropyLoss()(p, classes)
    value.backward()
    out["cross_entropy"] = {"prediction": rec(scores), "target": rec(classes.float()), "value": f32(value)[0], "grad": rec(p.grad)}
    return out


def autograd():
    x = torch.tensor([0.5, -1.5, 2.0], requires_grad=True)
    (x * x).sum().backward()
    first = x.grad.clone()
    (x * 3).sum().backward()
    second = x.grad.clone()
    w = torch.tensor([1.0, -2.0, 0.5], requires_grad=True)
    loss = ((w * torch.tensor([3.0, 1.0, -2.0])).sum() - 1) ** 2
    loss.backward()
    with torch.no_grad():
        w -= 0.1 * w.grad
    return {"x": f32(x), "grad_after_first": f32(first), "grad_after_second": f32(second),
            "w_after_update": f32(w), "w_grad": f32(w.grad), "w_is_leaf": w.is_leaf, "w_requires_grad": w.requires_grad}


# -------------------------------------------------------------------------------------- training

def diabetes():
    with open(DIABETES) as f:
        rows = list(csv.reader(f))
    values = torch.tensor([[float(v) for v in row] for row in rows[1:]], dtype=torch.float32)
    return values[:, :-1], values[:, -1:]


def state(model):
    return {name: rec(t) for name, t in model.state_dict().items()}


def train(model, parameters, epochs=2, lr=0.01):
    x, y = diabetes()
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=32, shuffle=False)
    optimizer = torch.optim.SGD(parameters, lr=lr)
    loss_fn = nn.BCELoss()
    losses = []
    for _ in range(epochs):
        for inputs, targets in loader:
            optimizer.zero_grad()
            loss = loss_fn(model(inputs), targets)
            loss.backward()
            optimizer.step()
            losses.append(f32(loss)[0])
    return losses


def training():
    torch.manual_seed(0)
    model = FNNModel()
    initial = state(model)
    losses = train(model, model.parameters())
    return {"initial": initial, "final": state(model), "losses": losses, "epochs": 2, "lr": 0.01, "batch_size": 32}


class OneLayer(nn.Module):
    def __init__(self, inputs, outputs):
        super().__init__()
        self.proj = nn.Linear(inputs, outputs)

    def forward(self, x):
        return self.proj(x)


def lora_layer(rank, alpha, rslora, seed):
    torch.manual_seed(seed)
    model = get_peft_model(OneLayer(5, 3), LoraConfig(r=rank, lora_alpha=alpha, target_modules=["proj"], use_rslora=rslora))
    layer = model.base_model.model.proj
    with torch.no_grad():  # a nonzero B, so that the adapter changes the output
        layer.lora_B["default"].weight.copy_(seeded(seed + 1, 3, rank) * 0.5)
    named = {name.replace("base_model.model.", "").replace(".default", ""): p for name, p in model.named_parameters()}
    weights = {name: rec(p) for name, p in named.items()}
    x = seeded(seed + 2, 4, 5)
    out = model(x)
    w = seeded(seed + 3, *out.shape)
    (out * w).sum().backward()
    grads = {name: rec(p.grad) for name, p in named.items() if p.grad is not None}
    frozen = [name for name, p in named.items() if not p.requires_grad]
    merged = model.merge_and_unload()
    return {"rank": rank, "alpha": alpha, "use_rslora": rslora, "scaling": layer.scaling["default"],
            "names": list(named.keys()), "frozen": frozen, "weights": weights, "x": rec(x), "weights_out": rec(w),
            "out": rec(out), "grads": grads, "merged_weight": rec(merged.proj.weight), "merged_bias": rec(merged.proj.bias)}


def lora_training(initial):
    torch.manual_seed(0)
    base = FNNModel()
    base.load_state_dict({name: torch.tensor(r["values"]).reshape(r["shape"]) for name, r in initial.items()})
    torch.manual_seed(1)
    model = get_peft_model(base, LoraConfig(r=2, lora_alpha=4, target_modules=["linear1", "linear2", "linear3"]))
    start = {name.replace("base_model.model.", "").replace(".default", ""): rec(p)
             for name, p in model.named_parameters()}
    losses = train(model, [p for p in model.parameters() if p.requires_grad])
    final = {name.replace("base_model.model.", "").replace(".default", ""): rec(p) for name, p in model.named_parameters()}
    merged = model.merge_and_unload()
    return {"targets": ["linear1", "linear2", "linear3"], "rank": 2, "alpha": 4, "start": start, "final": final,
            "losses": losses, "merged": state(merged)}


def write(name, content):
    os.makedirs(OUT, exist_ok=True)
    path = os.path.join(OUT, name)
    with open(path, "w") as f:
        json.dump({"made_by": f"torch {torch.__version__}, peft {peft.__version__} (Fixtures/generate_runtime.py)", **content}, f)
    print("wrote", os.path.relpath(path, HERE))


def main():
    write("basics.json", {
        "creation": creation(), "arange": arange(), "views": views(), "indexing": indexing(), "matmul": matmul(),
        "reductions": reductions(), "allclose": allclose(), "losses": losses(), "autograd": autograd(),
    })
    trained = training()
    write("training.json", trained)
    write("lora.json", {
        "layer": lora_layer(2, 4, False, 30), "rslora_layer": lora_layer(4, 8, True, 40),
        "training": lora_training(trained["initial"]),
    })


if __name__ == "__main__":
    main()
