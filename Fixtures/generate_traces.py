"""Writes the PyTorch parity traces in Fixtures/traces/ that TensorNN's tests replay.

Pinned versions: torch 2.13.0 (CPU wheel), Python 3.11. Seeds are fixed below; the output is
deterministic on one machine (float32 results can differ in the last bit between CPUs, which the
tests' tolerance of 1e-5 relative absorbs). Swift tests never run this script; rerun it by hand:

    /work/venv/bin/python Fixtures/generate_traces.py

Files written (JSON, float32 values printed with 9 significant digits):

  traces/fnn_data.json       96 rows x 8 features of N(0,1) data with 0/1 labels from a fixed
                             linear rule, the initial weights of the reference network FNNModel
                             (linear1..linear4 = 8->6->4->2->1, sigmoid after every layer), and for
                             each of 100 steps the 32 row indices of the batch (one shuffled pass of
                             the 96 rows per 3 steps).
  traces/sgd_momentum.json   SGD(lr=0.01, momentum=0.9) with BCELoss: per step the loss, every
                             gradient and every weight after the step; the optimizer state_dict at
                             step 50 and at the end.
  traces/adam.json           Adam(lr=0.01), the same records.
  traces/variants.json       compact traces (loss every step, weights every 10 steps, final
                             optimizer state) for SGD with nesterov + weight decay, SGD with
                             dampening + weight decay + maximize, AdamW with amsgrad, and Adam with
                             coupled weight decay + maximize.
  traces/ops.json            single expressions (broadcasting, matmul, reductions, softmax, the three
                             losses, ...) with their values and input gradients, computed in float64
                             from float32 inputs, for micrograd-style checks of each backward rule.
"""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from generate_fixtures import FNNModel  # noqa: E402  (the reference network, one definition)
from torch import nn

EXPECTED_TORCH = "2.13.0"
if not torch.__version__.startswith(EXPECTED_TORCH):
    sys.exit(f"this script pins torch {EXPECTED_TORCH}; found {torch.__version__}")

torch.set_num_threads(1)
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "traces")
STEPS = 100
ROWS = 96
BATCH = 32


def f32(values):
    """Float32 values as JSON numbers with 9 significant digits (enough to round-trip float32)."""
    return [float(f"{float(v):.9g}") for v in torch.as_tensor(values).detach().reshape(-1).tolist()]


def tensor_record(t):
    return {"shape": list(t.shape), "values": f32(t)}


def make_data():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(ROWS, 8, generator=g)
    rule = torch.randn(8, generator=g)
    y = ((x @ rule + 0.5 * torch.randn(ROWS, generator=g)) > 0).float().unsqueeze(1)
    batches = []
    while len(batches) < STEPS:
        perm = torch.randperm(ROWS, generator=g)
        for i in range(0, ROWS, BATCH):
            batches.append(perm[i:i + BATCH].tolist())
    torch.manual_seed(1)
    model = FNNModel()
    initial = {name: tensor_record(p) for name, p in model.state_dict().items()}
    return x, y, batches[:STEPS], initial, model.state_dict()


def optimizer_state(opt, names):
    """optimizer.state_dict() as JSON: state by index (tensors as records), param_groups as values."""
    sd = opt.state_dict()
    state = {}
    for index, entries in sd["state"].items():
        state[str(index)] = {key: tensor_record(value) for key, value in entries.items()}
    groups = []
    for group in sd["param_groups"]:
        record = {}
        for key, value in group.items():
            if isinstance(value, tuple):
                record[key] = {"tuple": list(value)}
            elif isinstance(value, bool) or value is None:
                record[key] = value
            elif isinstance(value, int):
                record[key] = {"int": value}
            elif isinstance(value, float):
                record[key] = {"float": value}
            else:
                record[key] = value
        groups.append(record)
    return {"state": state, "param_groups": groups, "parameter_names": names}


def run(make_optimizer, x, y, batches, initial_state, full, checkpoints=(50,)):
    model = FNNModel()
    model.load_state_dict(initial_state)
    names = [name for name, _ in model.named_parameters()]
    opt = make_optimizer(model.parameters())
    loss_fn = nn.BCELoss()
    steps = []
    states = {}
    for step, indices in enumerate(batches, start=1):
        xb, yb = x[indices], y[indices]
        opt.zero_grad()
        loss = loss_fn(model(xb), yb)
        loss.backward()
        record = {"loss": f32([loss.item()])[0]}
        if full:
            record["grads"] = {n: f32(p.grad) for n, p in model.named_parameters()}
        opt.step()
        if full or step % 10 == 0 or step == len(batches):
            record["weights"] = {n: f32(p) for n, p in model.named_parameters()}
        steps.append(record)
        if step in checkpoints:
            states[str(step)] = optimizer_state(opt, names)
    states[str(len(batches))] = optimizer_state(opt, names)
    return {"steps": steps, "optimizer_states": states}


def expression_cases():
    """Expressions whose value and input gradients the Swift tests recompute with TensorCore."""
    g = torch.Generator().manual_seed(7)

    def leaf(*shape, positive=False, low=None):
        t = torch.randn(*shape, generator=g)
        if positive:
            t = t.abs() + 0.5
        if low is not None:
            t = torch.rand(*shape, generator=g) * (1 - 2 * low) + low
        return t

    cases = []

    def add(name, inputs, fn, extra=None):
        leaves = {k: v.double().requires_grad_() for k, v in inputs.items()}
        out = fn(**leaves)
        out.backward()
        case = {
            "name": name,
            "inputs": {k: tensor_record(v) for k, v in inputs.items()},
            "value": float(out.item()),
            "grads": {k: f32(v.grad) for k, v in leaves.items()},
        }
        if extra:
            case.update(extra)
        cases.append(case)

    add("broadcast_arithmetic", {"a": leaf(2, 1, 3), "b": leaf(4, 1), "c": leaf(3), "d": leaf(4, 3, positive=True)},
        lambda a, b, c, d: ((a + b * c - c) / d).pow(2).sum())
    add("linear_tanh_softmax", {"x": leaf(3, 4), "w": leaf(5, 4), "b": leaf(5), "t": leaf(3, 5)},
        lambda x, w, b, t: ((torch.tanh(x @ w.T + b).softmax(dim=1) * t).sum()
                            + torch.tanh(x @ w.T + b).log_softmax(dim=1).mean()))
    add("matmul_transposes", {"a": leaf(4, 3), "b": leaf(5, 4), "c": leaf(2, 3, 4), "d": leaf(2, 4, 2)},
        lambda a, b, c, d: (a.T @ b.T).sigmoid().sum() + (c @ d).relu().sum() * 0.5)
    add("reductions", {"x": leaf(3, 4, 5)},
        lambda x: (x.sum(dim=1).exp().mean() + x.mean(dim=-1, keepdim=True).abs().sum()
                   + x.amax(dim=2).sum() * 2))
    add("unary_chain", {"x": leaf(6, positive=True)},
        lambda x: (x.log() * x.sqrt() + x.clamp(0.7, 1.5) - 1 / x + x.exp().tanh()).sum())
    add("shapes", {"x": leaf(2, 3, 4), "y": leaf(3, 2)},
        lambda x, y: (x.transpose(0, 2).reshape(4, 6)[:, 1:4].sum(dim=0)
                      * torch.cat([y, y * 2], dim=1).sum(dim=1)).sum()
        + torch.stack([y, y.T.T], dim=0)[1].pow(3).sum())
    idx = [2, 0, 2, 1]
    add("gather_rows", {"x": leaf(3, 5)}, lambda x: (x[idx] * torch.arange(20.0).reshape(4, 5).double()).sum(),
        {"indices": idx})
    targets = [2, 0, 1, 2]
    add("cross_entropy", {"logits": leaf(4, 3)},
        lambda logits: nn.functional.cross_entropy(logits, torch.tensor(targets)), {"targets": targets})
    add("mse", {"p": leaf(3, 2), "y": leaf(3, 2)}, lambda p, y: nn.functional.mse_loss(p, y))
    add("bce", {"p": leaf(5, 1, low=0.05)},
        lambda p: nn.functional.binary_cross_entropy(p, torch.tensor([[1.0], [0.0], [1.0], [0.0], [1.0]]).double()),
        {"targets": [1.0, 0.0, 1.0, 0.0, 1.0]})
    # BCE at the clamp: p = 0 with y = 1 gives log(0) -> -100, and p = 1 with y = 1 gives 0.
    p = torch.tensor([[0.0], [0.3], [1.0]], requires_grad=True)
    loss = nn.functional.binary_cross_entropy(p, torch.tensor([[1.0], [0.0], [1.0]]))
    loss.backward()
    cases.append({"name": "bce_clamped", "inputs": {"p": tensor_record(p)}, "targets": [1.0, 0.0, 1.0],
                  "value": float(loss.item()), "grads": {"p": f32(p.grad)}})
    return cases


def dump(name, obj):
    path = os.path.join(OUT, name)
    with open(path, "w") as f:
        json.dump(obj, f, separators=(",", ":"))
    print(f"{path}: {os.path.getsize(path)} bytes")


def main():
    os.makedirs(OUT, exist_ok=True)
    x, y, batches, initial, initial_state = make_data()
    meta = {"torch": torch.__version__, "steps": STEPS, "batch_size": BATCH}
    dump("fnn_data.json", {**meta, "inputs": tensor_record(x), "targets": tensor_record(y),
                           "batches": batches, "initial_state": initial})
    sgd = run(lambda p: torch.optim.SGD(p, lr=0.01, momentum=0.9), x, y, batches, initial_state, full=True)
    dump("sgd_momentum.json", {**meta, "optimizer": "SGD", "hyper_parameters": {"lr": 0.01, "momentum": 0.9}, **sgd})
    adam = run(lambda p: torch.optim.Adam(p, lr=0.01), x, y, batches, initial_state, full=True)
    dump("adam.json", {**meta, "optimizer": "Adam", "hyper_parameters": {"lr": 0.01}, **adam})
    variants = {}
    specs = {
        "sgd_nesterov_weight_decay": ("SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 1e-3},
                                      lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-3)),
        "sgd_dampening_maximize": ("SGD", {"lr": 0.02, "momentum": 0.8, "dampening": 0.25, "weight_decay": 0.01, "maximize": True},
                                   lambda p: torch.optim.SGD(p, lr=0.02, momentum=0.8, dampening=0.25, weight_decay=0.01, maximize=True)),
        "adamw_amsgrad": ("AdamW", {"lr": 0.01, "betas": [0.8, 0.99], "weight_decay": 0.05, "amsgrad": True},
                          lambda p: torch.optim.AdamW(p, lr=0.01, betas=(0.8, 0.99), weight_decay=0.05, amsgrad=True)),
        "adam_weight_decay_maximize": ("Adam", {"lr": 0.002, "eps": 1e-6, "weight_decay": 0.01, "maximize": True},
                                       lambda p: torch.optim.Adam(p, lr=0.002, eps=1e-6, weight_decay=0.01, maximize=True)),
    }
    for name, (kind, hyper, make) in specs.items():
        variants[name] = {"optimizer": kind, "hyper_parameters": hyper,
                          **run(make, x, y, batches, initial_state, full=False, checkpoints=())}
    dump("variants.json", {**meta, "variants": variants})
    dump("ops.json", {"torch": torch.__version__, "cases": expression_cases()})


if __name__ == "__main__":
    main()
