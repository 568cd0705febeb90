"""The library as outside programs use it: the Examples package (Examples/, `import ModelFile`
only) trains the reference network and saves it with `model.save(to:)`; PyTorch loads each file
into its own FNNModel class with `load_state_dict(strict=True)` and predicts as the Swift program
did."""
import csv
import os
import re
import subprocess

import torch
from safetensors.torch import load_file

from interop_support import FIXTURES, check

ROOT = os.path.abspath(os.path.join(FIXTURES, ".."))


class FNNModel(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.linear1 = torch.nn.Linear(8, 6)
        self.linear2 = torch.nn.Linear(6, 4)
        self.linear3 = torch.nn.Linear(4, 2)
        self.linear4 = torch.nn.Linear(2, 1)

    def forward(self, x):
        for layer in (self.linear1, self.linear2, self.linear3, self.linear4):
            x = torch.sigmoid(layer(x))
        return x


def diabetes_standardised():
    with open(os.path.join(ROOT, "data", "diabetes.csv")) as f:
        rows = [[float(v) for v in row] for row in list(csv.reader(f))[1:]]
    data = torch.tensor(rows, dtype=torch.float32)
    x, y = data[:, :-1], data[:, -1:]
    return (x - x.mean(0)) / x.std(0, unbiased=False), y


def library_checks(modelfile, work):
    out = os.path.join(work, "library")
    os.makedirs(out, exist_ok=True)
    build = subprocess.run(["swift", "build", "-c", "release", "--package-path", os.path.join(ROOT, "Examples")],
                           capture_output=True, text=True)
    check("library: the Examples package builds", build.returncode == 0, build.stderr[-2000:])
    if build.returncode != 0:
        return
    binary = os.path.join(ROOT, "Examples", ".build", "release", "Diabetes")
    result = subprocess.run([binary, ROOT, out], capture_output=True, text=True)
    check("library: the Examples program runs", result.returncode == 0, result.stdout + result.stderr)
    if result.returncode != 0:
        return
    swift_accuracy = float(re.search(r"accuracy after training: ([0-9.]+)%", result.stdout).group(1))
    x, y = diabetes_standardised()
    states = {}
    for name, read in [("diabetes.safetensors", load_file),
                       ("diabetes.pth", lambda p: torch.load(p, weights_only=True))]:
        state = read(os.path.join(out, name))
        model = FNNModel()
        try:
            model.load_state_dict(state, strict=True)
            loaded = True
        except RuntimeError as error:
            loaded, detail = False, str(error)
        check(f"library: torch loads {name} into FNNModel with strict=True", loaded, "" if loaded else detail)
        if not loaded:
            continue
        states[name] = state
        with torch.no_grad():
            accuracy = ((model(x) > 0.5).float() == y).float().mean().item() * 100
        check(f"library: {name} predicts in torch as it did in Swift ({accuracy:.1f}%)",
              abs(accuracy - swift_accuracy) < 0.2, f"torch {accuracy:.2f}%, Swift {swift_accuracy}%")
    if len(states) == 2:
        a, b = states["diabetes.safetensors"], states["diabetes.pth"]
        check("library: the two files hold the same tensors, bit for bit",
              set(a) == set(b) and all(torch.equal(a[k], b[k]) for k in a))


SECTIONS = {"library": library_checks}
