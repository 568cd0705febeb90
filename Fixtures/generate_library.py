#!/usr/bin/env python3
"""Writes the fixtures of the library contract (docs/library.md): model files of every format made
by the real libraries, and the values PyTorch computes for every line of the contract, for
Tests/LibraryTests (ContractChecks.swift, which scripts/check_library_contract.sh also builds in a
fresh package outside the repository) and the tutorial's file sections.

Pinned versions (the script refuses others): torch 2.13.0 (CPU wheel), safetensors 0.8.0,
pytorch-lightning 2.6.6, huggingface_hub 2.4.0, transformers 5.25.0, numpy 2.4.6, gguf 0.19.0;
Python 3.11; one thread (torch.set_num_threads(1)). Seeds: torch.manual_seed(0) for the reference
network (the `initial` weights of runtime/training.json), pytorch_lightning.seed_everything(3) for
the Lightning run, torch.manual_seed(5) for the tiny BERT, numpy.random.default_rng(11) for the
GGUF tensors; SplitMix64 seed 42 for the random lines (the generator of
Sources/TensorCore/SplitMix64.swift, written out below). Swift tests never run this script; rerun
it by hand:

    /work/venv/bin/python Fixtures/generate_library.py

Files written under Fixtures/library/:

  fnn.safetensors      the reference network FNNModel (linear1..linear4 = 8->6->4->2->1) from
                       torch.manual_seed(0), by safetensors.torch.save_file with {"format": "pt"}
  fnn.pth              the same state dict by torch.save (zip)
  fnn_legacy.pth       the same by torch.save(_use_new_zipfile_serialization=False)
  fnn.ckpt             a LightningModule holding FNNModel as `self.model`, trained 3 steps by
                       Trainer.fit and saved by Trainer.save_checkpoint (names model.linear1.weight…)
  fnn_training.pt      a training checkpoint: {"epoch", "model_state_dict", "optimizer_state_dict"}
  fnn_sharded/         the state dict as a sharded set by huggingface_hub.save_torch_state_dict
                       (max_shard_size 200 bytes)
  bert-tiny/           a Hugging Face model folder: a 1-layer BertModel by save_pretrained
  fnn.npz              the state dict by numpy.savez; linear1_weight.npy by numpy.save
  tiny.gguf            a GGUF file by gguf.GGUFWriter: an F32, an F16 and a Q8_0 tensor
  partial.safetensors  FNNModel without linear4, plus a tensor `extra.weight`
  quantized.pth        a state dict holding a per-tensor quantized tensor (torch.quantize_per_tensor)
  evil.pth             torch.save of a dict whose `payload` reduces to os.system (a refused global)
  expected.json        what the reference libraries read from each file, and the contract values
"""
import collections
import csv
import json
import math
import os
import pickletools
import shutil
import sys
import tempfile
import zipfile

PINNED = {"torch": "2.13.0", "safetensors": "0.8.0", "pytorch-lightning": "2.6.6", "huggingface_hub": "2.4.0",
          "transformers": "5.25.0", "numpy": "2.4.6", "gguf": "0.19.0"}


def check_versions():
    from importlib.metadata import version
    found = {name: version(name).split("+")[0] for name in PINNED}
    if found != PINNED:
        sys.exit(f"generate_library.py needs {PINNED}; found {found}")


check_versions()
import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from generate_fixtures import FNNModel  # noqa: E402  (the reference network, one definition)
from torch import nn  # noqa: E402

torch.set_num_threads(1)
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "library")
DIABETES = os.path.join(HERE, "..", "data", "diabetes.csv")
MASK = (1 << 64) - 1


def path(*parts):
    p = os.path.join(OUT, *parts)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    return p


def values(t):
    """Float32 values as JSON numbers with 9 significant digits (enough to round-trip)."""
    return [float(f"{v:.9g}") for v in torch.as_tensor(t).detach().to(torch.float32).reshape(-1).tolist()]


def rec(t):
    t = torch.as_tensor(t).detach()
    return {"shape": list(t.shape), "values": values(t)}


def state(sd):
    """Names in order with dtype, shape and float32 values."""
    return [{"name": k, "dtype": str(v.dtype).replace("torch.", ""), **rec(v.float())} for k, v in sd.items()]


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

    def unit(self):
        """nextUnitFloat: 24 random bits scaled to [0, 1), a float32."""
        return np.float32((self.next() >> 40) * 2.0 ** -24)


def diabetes():
    with open(DIABETES) as f:
        rows = list(csv.reader(f))
    data = torch.tensor([[float(v) for v in row] for row in rows[1:]], dtype=torch.float32)
    return data[:, :-1], data[:, -1:]


def reference():
    torch.manual_seed(0)
    return FNNModel()


def pickle_globals(file):
    """The globals of a torch zip's data.pkl, once each in order, as (module, name)."""
    with zipfile.ZipFile(file) as z:
        data = z.read(next(n for n in z.namelist() if n.endswith("/data.pkl")))
    seen, strings = [], []
    for op, arg, _ in pickletools.genops(data):
        if op.name in ("SHORT_BINUNICODE", "BINUNICODE", "UNICODE"):
            strings.append(arg)
        if op.name == "GLOBAL":
            module, name = arg.split(" ", 1)
        elif op.name == "STACK_GLOBAL":
            module, name = strings[-2], strings[-1]
        else:
            continue
        if [module, name] not in seen:
            seen.append([module, name])
    return seen


# ------------------------------------------------------------------------------------------ files

def files():
    from safetensors.torch import save_file
    expected = {}
    model = reference()
    sd = model.state_dict()
    x, y = diabetes()

    save_file(sd, path("fnn.safetensors"), metadata={"format": "pt"})
    torch.save(sd, path("fnn.pth"))
    torch.save(sd, path("fnn_legacy.pth"), _use_new_zipfile_serialization=False)
    with torch.no_grad():
        predictions = model(x[:5])
    expected["fnn"] = {"state": state(sd), "parameters": sum(v.numel() for v in sd.values()),
                       "predictions_first_5_rows": values(predictions),
                       "globals": pickle_globals(path("fnn.pth"))}

    # Lightning: the network as `self.model`, three steps of SGD.
    import logging
    import pytorch_lightning as pl
    logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)

    class LitFNN(pl.LightningModule):
        def __init__(self):
            super().__init__()
            self.model = FNNModel()

        def forward(self, inputs):
            return self.model(inputs)

        def training_step(self, batch, index):
            inputs, targets = batch
            return nn.functional.binary_cross_entropy(self(inputs), targets)

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.1)

    pl.seed_everything(3, verbose=False)
    lit = LitFNN()
    trainer = pl.Trainer(max_steps=3, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, accelerator="cpu", deterministic=True,
                         default_root_dir=tempfile.mkdtemp())
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=32)
    trainer.fit(lit, loader)
    if os.path.exists(path("fnn.ckpt")):
        os.remove(path("fnn.ckpt"))
    trainer.save_checkpoint(path("fnn.ckpt"))
    saved = torch.load(path("fnn.ckpt"), weights_only=True)
    expected["ckpt"] = {"state": state(saved["state_dict"]), "keys": list(saved.keys())}

    # A training checkpoint as many scripts write one.
    trained = reference()
    optimizer = torch.optim.Adam(trained.parameters(), lr=0.01)
    for _ in range(2):
        optimizer.zero_grad()
        nn.functional.binary_cross_entropy(trained(x[:32]), y[:32]).backward()
        optimizer.step()
    torch.save({"epoch": 2, "model_state_dict": trained.state_dict(), "optimizer_state_dict": optimizer.state_dict()},
               path("fnn_training.pt"))
    expected["training_checkpoint"] = {"state": state(trained.state_dict())}

    # A sharded set.
    from huggingface_hub import save_torch_state_dict
    shutil.rmtree(path("fnn_sharded", "x").rsplit("/", 1)[0], ignore_errors=True)
    save_torch_state_dict(sd, path("fnn_sharded", "x").rsplit("/", 1)[0], max_shard_size=200)
    expected["sharded"] = {"files": sorted(os.listdir(os.path.join(OUT, "fnn_sharded")))}

    # A Hugging Face model folder.
    from transformers import BertConfig, BertModel
    torch.manual_seed(5)
    config = BertConfig(vocab_size=32, hidden_size=8, num_hidden_layers=1, num_attention_heads=2, intermediate_size=16,
                        max_position_embeddings=16, type_vocab_size=2)
    bert = BertModel(config)
    folder = os.path.join(OUT, "bert-tiny")
    shutil.rmtree(folder, ignore_errors=True)
    bert.save_pretrained(folder)
    from safetensors import safe_open
    with safe_open(os.path.join(folder, "model.safetensors"), "pt") as f:
        names = list(f.keys())
        embeddings = f.get_tensor("embeddings.word_embeddings.weight")
        metadata = f.metadata()
    expected["bert"] = {"files": sorted(os.listdir(folder)), "names_sorted": sorted(names), "tensors": len(names),
                        "parameters": sum(p.numel() for p in bert.state_dict().values()),
                        "word_embeddings_shape": list(embeddings.shape), "word_embeddings_row_0": values(embeddings[0]),
                        "metadata": metadata}

    # NumPy.
    np.savez(path("fnn.npz"), **{k: v.numpy() for k, v in sd.items()})
    np.save(path("linear1_weight.npy"), sd["linear1.weight"].numpy())
    loaded = np.load(path("fnn.npz"))
    expected["npz"] = {"names": list(loaded.files), "linear1_weight": rec(torch.from_numpy(loaded["linear1.weight"]))}

    # GGUF.
    import gguf
    from gguf import GGMLQuantizationType as T, quants
    rng = np.random.default_rng(11)
    embed = rng.standard_normal((4, 64), dtype=np.float32)
    norm = rng.standard_normal(64, dtype=np.float32)
    proj = rng.standard_normal((2, 64), dtype=np.float32)
    writer = gguf.GGUFWriter(path("tiny.gguf"), "fixture")
    writer.add_tensor("token_embd.weight", quants.quantize(embed, T.Q8_0), raw_dtype=T.Q8_0)
    writer.add_tensor("output_norm.weight", norm.astype(np.float16))
    writer.add_tensor("output.weight", proj)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    reader = gguf.GGUFReader(path("tiny.gguf"))
    tensors = []
    for t in reader.tensors:
        dequantized = quants.dequantize(t.data, t.tensor_type).astype(np.float32)
        shape = [int(d) for d in reversed(t.shape.tolist())]
        tensors.append({"name": t.name, "type": t.tensor_type.name, "shape": shape,
                        "values": values(torch.from_numpy(np.ascontiguousarray(dequantized)).reshape(shape))})
    expected["gguf"] = {"tensors": tensors}

    # A file that misses a layer and has one more tensor.
    partial = collections.OrderedDict((k, v) for k, v in sd.items() if not k.startswith("linear4."))
    partial["extra.weight"] = torch.zeros(3)
    save_file(partial, path("partial.safetensors"))

    # A quantized tensor: inspect reads it as its integers and says so.
    q = torch.quantize_per_tensor(torch.tensor([0.5, -1.0, 2.0, 0.25]), scale=0.25, zero_point=3, dtype=torch.qint8)
    torch.save({"weight": q}, path("quantized.pth"))

    # A refused global.
    class Payload:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    torch.save({"weight": torch.ones(2), "payload": Payload()}, path("evil.pth"))
    expected["evil"] = {"globals": pickle_globals(path("evil.pth"))}
    return expected


# --------------------------------------------------------------------------------------- contract

def contract():
    c = {}
    # Creation.
    c["zeros"] = rec(torch.zeros(2, 3))
    c["ones"] = rec(torch.ones(2, 3))
    c["eye"] = rec(torch.eye(3))
    c["full"] = rec(torch.full((2, 3), 7.0))
    # randn and rand from SplitMix64(seed: 42), one generator for both, in that order: fewer than 16
    # elements are drawn in pairs (u1, u2) by Box-Muller in float32, then rand takes the next six.
    rng = SplitMix64(42)
    normal = []
    for _ in range(3):
        u1 = np.float32(1) - rng.unit()
        u2 = rng.unit()
        radius = torch.sqrt(-2 * torch.log(torch.tensor(u1)))
        angle = 2 * torch.tensor(math.pi, dtype=torch.float32) * torch.tensor(u2)
        normal += [radius * torch.cos(angle), radius * torch.sin(angle)]
    c["randn_seed_42"] = rec(torch.stack(normal).reshape(2, 3))
    c["rand_after_randn"] = rec(torch.tensor([rng.unit() for _ in range(6)]).reshape(2, 3))
    c["tensor_floats"] = rec(torch.tensor([1.0, 2.0]))
    c["tensor_nested"] = rec(torch.tensor([[1.0, 2.0], [3.0, 4.0]]))
    c["tensor_shape"] = rec(torch.tensor([1.0, 2, 3, 4, 5, 6]).view(2, 3))
    c["tensor_doubles"] = rec(torch.tensor([0.1, 0.2, 1 / 3], dtype=torch.float32))
    c["tensor_ints"] = rec(torch.tensor([1, 2, 16777217]).float())
    c["arange_5"] = rec(torch.arange(5).float())
    c["arange_0_1_025"] = rec(torch.arange(0, 1, 0.25))
    c["arange_1_13_01"] = rec(torch.arange(1, 1.3, 0.1))
    x = torch.tensor([[1.0, 2, 3], [4, 5, 6]])
    c["shape_facts"] = {"shape": list(x.shape), "dim": x.dim(), "numel": x.numel(), "item": torch.tensor(3.5).item(),
                        "tolist": x.reshape(-1).tolist()}
    v = torch.arange(24.0).view(2, 3, 4)
    c["view_-1"] = rec(v.view(-1))
    c["view_2_-1"] = rec(v.view(2, -1))
    w = torch.arange(6.0).view(2, 1, 3)
    c["squeeze"] = rec(w.squeeze())
    c["squeeze_1"] = rec(w.squeeze(1))
    c["squeeze_1_noop"] = rec(torch.arange(6.0).view(2, 3).squeeze(1))
    c["unsqueeze_0"] = rec(w.unsqueeze(0))
    m = torch.arange(6.0).view(2, 3)
    c["t"] = rec(m.t())
    c["transpose_0_1"] = rec(v.transpose(0, 1))
    a = torch.arange(12.0).view(4, 3)
    c["index_1"] = rec(a[1])
    c["index_-1"] = rec(a[-1])
    c["index_1_3"] = rec(a[1:3])
    c["index_all_0"] = rec(a[:, 0])
    p, q = torch.tensor([1.0, 2, 3]), torch.tensor([4.0, 5, 6])
    c["stack_0"] = rec(torch.stack([p, q], 0))
    c["cat_0"] = rec(torch.cat([p, q], 0))
    c["matmul_1d_1d"] = rec(torch.matmul(p, q))
    c["matmul_2d_1d"] = rec(torch.matmul(m, p))
    c["matmul_batch"] = rec(torch.matmul(torch.arange(24.0).view(2, 3, 4) * 0.1, torch.arange(20.0).view(4, 5) * 0.1))
    c["matmul_broadcast"] = rec(torch.matmul(torch.arange(24.0).view(2, 1, 3, 4) * 0.1, torch.arange(40.0).view(5, 4, 2) * 0.1))
    e = torch.tensor([[0.5, -1.5, 2.0], [3.0, -0.25, 1.0]])
    f = torch.tensor([1.0, 2.0, -4.0])
    c["add"], c["sub"], c["mul"], c["div"] = rec(e + f), rec(e - f), rec(e * f), rec(e / f)
    c["exp"], c["log_abs"], c["sqrt_abs"], c["abs"] = rec(e.exp()), rec(e.abs().log()), rec(e.abs().sqrt()), rec(e.abs())
    c["pow_2"], c["sigmoid"], c["tanh"], c["relu"] = rec(e.pow(2)), rec(e.sigmoid()), rec(e.tanh()), rec(e.relu())
    c["sum"], c["sum_0"], c["mean"] = rec(e.sum()), rec(e.sum(0)), rec(e.mean())
    c["max_1"], c["argmax_1"], c["softmax_1"] = rec(e.max(1).values), rec(e.argmax(1).float()), rec(e.softmax(1))
    c["ones_17m_sum"] = torch.ones(17_000_000).sum().item()
    c["allclose"] = {"close": torch.allclose(torch.tensor([1.0, 2.0]), torch.tensor([1.0, 2.00001]), rtol=1e-5, atol=1e-8),
                     "far": torch.allclose(torch.tensor([1.0, 2.0]), torch.tensor([1.0, 2.0001]), rtol=1e-5, atol=1e-8)}

    # Autograd.
    g = torch.tensor([0.5, -1.5, 2.0], requires_grad=True)
    (g * g).sum().backward()
    first = g.grad.clone()
    (g * 3).sum().backward()
    c["grad_first"], c["grad_accumulated"] = rec(first), rec(g.grad)
    u = torch.tensor([1.0, -2.0, 0.5], requires_grad=True)
    ((u * torch.tensor([3.0, 1.0, -2.0])).sum() - 1).pow(2).backward()
    with torch.no_grad():
        u -= 0.1 * u.grad
    c["no_grad_update"] = {**rec(u), "is_leaf": u.is_leaf, "requires_grad": u.requires_grad}

    # Modules.
    c["linear_bound"] = 1 / math.sqrt(8)
    # Linear(8, 6, using: SplitMix64(seed: 42)): weight then bias, each uniform in ±1/√8 from 24-bit
    # uniforms, in float32: lower + (upper - lower) * u.
    rng = SplitMix64(42)
    bound = np.float32(1 / np.sqrt(np.float32(8)))
    drawn = [(-bound) + (bound - (-bound)) * rng.unit() for _ in range(6 * 8 + 6)]
    c["linear_seeded_42"] = {"weight": values(torch.tensor(np.array(drawn[:48], dtype=np.float32)).view(6, 8)),
                             "bias": values(torch.tensor(np.array(drawn[48:], dtype=np.float32)))}

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.linear1 = nn.Linear(8, 6)
            self.blocks = nn.ModuleList([nn.Linear(6, 6), nn.Linear(6, 6)])
            self.output = nn.Linear(6, 1)

        def forward(self, inputs):
            h = self.linear1(inputs).relu()
            for block in self.blocks:
                h = block(h).relu()
            return self.output(h).sigmoid()

    torch.manual_seed(1)
    net = Net()
    inputs = torch.arange(16.0).view(2, 8) * 0.1
    c["net"] = {"state": state(net.state_dict()), "parameters": sum(p.numel() for p in net.parameters()),
                "input": rec(inputs), "output": rec(net(inputs))}
    torch.manual_seed(2)
    sequential = nn.Sequential(nn.Linear(3, 4), nn.Sigmoid(), nn.Linear(4, 2), nn.ReLU(), nn.Linear(2, 2), nn.Tanh())
    seq_in = torch.tensor([[0.5, -1.0, 2.0]])
    c["sequential"] = {"state": state(sequential.state_dict()), "input": rec(seq_in), "output": rec(sequential(seq_in))}

    # Losses: value and gradient of the prediction.
    def loss_case(loss, prediction, target):
        leaf = prediction.clone().requires_grad_()
        value = loss(leaf, target)
        value.backward()
        return {"prediction": rec(prediction), "target": rec(target), "value": values(value)[0], "grad": rec(leaf.grad)}

    c["bce"] = loss_case(nn.BCELoss(), torch.tensor([[0.9], [0.2], [0.6]]), torch.tensor([[1.0], [0.0], [0.0]]))
    c["bce_logits"] = loss_case(nn.BCEWithLogitsLoss(), torch.tensor([100.0, -100.0, 0.5, -30.0]), torch.tensor([0.0, 1.0, 1.0, 0.0]))
    c["mse"] = loss_case(nn.MSELoss(), torch.tensor([[1.0, 2.0], [3.0, 4.5]]), torch.tensor([[1.5, 2.0], [2.0, 4.0]]))
    scores = torch.tensor([[2.0, 1.0, 0.1], [0.5, 2.5, 0.3]])
    classes = torch.tensor([0, 2])
    leaf = scores.clone().requires_grad_()
    value = nn.CrossEntropyLoss()(leaf, classes)
    value.backward()
    c["cross_entropy"] = {"prediction": rec(scores), "target": rec(classes.float()), "value": values(value)[0], "grad": rec(leaf.grad)}

    # Optimizers: three steps on Linear(3, 2) with MSELoss.
    torch.manual_seed(4)
    start = nn.Linear(3, 2).state_dict()
    batch_x = torch.tensor([[0.5, -1.0, 2.0], [1.5, 0.25, -0.5]])
    batch_y = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    steps = {}
    for name, make in [("sgd", lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9)),
                       ("adam", lambda ps: torch.optim.Adam(ps, lr=0.01)),
                       ("adamw", lambda ps: torch.optim.AdamW(ps, lr=0.01))]:
        layer = nn.Linear(3, 2)
        layer.load_state_dict(start)
        optimizer = make(layer.parameters())
        for _ in range(3):
            optimizer.zero_grad()
            nn.MSELoss()(layer(batch_x), batch_y).backward()
            optimizer.step()
        steps[name] = state(layer.state_dict())
    c["optimizers"] = {"start": state(start), "x": rec(batch_x), "y": rec(batch_y), "after_3_steps": steps}

    # Data.
    x, y = diabetes()
    c["diabetes"] = {"rows": x.shape[0], "features": x.shape[1], "input_sum": float(x.double().sum()),
                     "target_sum": float(y.double().sum()), "first_row": values(x[0]), "batches_of_32": math.ceil(x.shape[0] / 32)}
    return c


def main():
    os.makedirs(OUT, exist_ok=True)
    document = {"made_by": "Fixtures/generate_library.py with " + ", ".join(f"{k} {v}" for k, v in PINNED.items()),
                "files": files(), "contract": contract()}
    with open(path("expected.json"), "w") as f:
        json.dump(document, f, indent=1)
        f.write("\n")
    print("wrote", os.path.relpath(OUT, HERE))


if __name__ == "__main__":
    main()
