"""Classes pickled into the real-file fixtures (Fixtures/generate_real_files.py).

They live in their own module so the pickles name them `real_files_models.<Class>`, which both the
generator and the interop checks (scripts/interop_real_files.py) can import to load the files with
`torch.load(weights_only=False)`. modelfile itself never imports anything: it reads these classes
as inert records.
"""
import dataclasses

import torch


class Custom(torch.nn.Module):
    """Parameters, a None parameter, persistent, non-persistent and None buffers, a plain tensor
    attribute (not in state_dict), and nested children."""

    def __init__(self):
        super().__init__()
        self.register_parameter("unused", None)
        self.register_buffer("running", torch.arange(3.0))
        self.register_buffer("scratch", torch.full((2,), 7.0), persistent=False)
        self.register_buffer("absent", None)
        self.fc = torch.nn.Linear(3, 2)
        self.seq = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.ReLU(), torch.nn.BatchNorm1d(2))
        self.cache = torch.ones(4)  # a plain attribute: state_dict() leaves it out
        self.scale = torch.nn.Parameter(torch.tensor([0.5, -0.25]))

    def forward(self, x):
        return self.seq(self.fc(x)) * self.scale


class Scriptable(torch.nn.Module):
    """A module for torch.jit.script: buffers (one non-persistent), a frozen parameter, a plain
    tensor attribute, a Sequential with BatchNorm, parameters declared after a buffer."""

    def __init__(self):
        super().__init__()
        self.register_buffer("scale", torch.tensor([2.0, 3.0]))
        self.register_buffer("tmp", torch.ones(1), persistent=False)
        self.fc = torch.nn.Linear(3, 2)
        self.seq = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.BatchNorm1d(2))
        self.w = torch.nn.Parameter(torch.tensor([1.5, -1.0]))
        self.frozen = torch.nn.Parameter(torch.arange(3.0), requires_grad=False)
        self.offset = torch.tensor([0.5, 0.25])  # an attribute, neither parameter nor buffer

    def forward(self, x):
        return self.seq(self.fc(x)) * self.scale * self.w + self.offset + self.frozen.sum() + self.tmp


@dataclasses.dataclass
class OptimConfig:
    """A structured OmegaConf config: its nodes are typed (IntegerNode, FloatNode, StringNode,
    BooleanNode) and its metadata names this class."""
    name: str = "adam"
    lr: float = 0.001
    warmup_steps: int = 100
    amsgrad: bool = False


class Tag:
    """A plain object with Python's default (identity) hash, used as a dict key."""

    def __init__(self, name):
        self.name = name
