"""Torch-semantics interop: every tensor modelfile reads from a torch pickle equals, bit for bit, what
torch.load(weights_only=True) gives (neg/conj bits resolved, quantized tensors as their integers plus
NAME.q_scale / NAME.q_zero_point or NAME.q_per_channel_scales / _zero_points / _axis), or modelfile
refuses the file with one line. Runs over Fixtures/torch_semantics and over fresh random files."""
import json
import os
import random
import subprocess
import warnings

import torch
from safetensors.torch import load_file

from interop_support import FIXTURES, check

warnings.filterwarnings("ignore")
SEMANTICS = os.path.join(FIXTURES, "torch_semantics")
# Files torch loads that modelfile refuses on purpose (docs/cli.md "Torch semantics").
REFUSED_BY_DESIGN = {
    "unknown_metadata_key.pt": "metadata key",
    "nonempty_hooks.pt": "backward hooks",
    "quantized_4bit.pt": "quint4x2",
    "neg_nan_half.pt": "NaN",
}


def flatten(obj, prefix=""):
    if isinstance(obj, torch.Tensor):
        return [(prefix or "tensor", obj)]
    out = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += flatten(v, f"{prefix}.{k}" if prefix else str(k))
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            out += flatten(v, f"{prefix}.{i}" if prefix else str(i))
    return out


def torch_view(path, weights_only=True):
    """name -> tensor as modelfile should write it."""
    result = {}
    for name, t in flatten(torch.load(path, weights_only=weights_only)):
        if t.is_quantized:
            result[name] = t.int_repr()
            if t.qscheme() == torch.per_tensor_affine:
                result[name + ".q_scale"] = torch.tensor(t.q_scale(), dtype=torch.float64)
                result[name + ".q_zero_point"] = torch.tensor(t.q_zero_point(), dtype=torch.int64)
            else:
                result[name + ".q_per_channel_scales"] = t.q_per_channel_scales()
                result[name + ".q_per_channel_zero_points"] = t.q_per_channel_zero_points()
                result[name + ".q_per_channel_axis"] = torch.tensor(t.q_per_channel_axis(), dtype=torch.int64)
        elif t.device.type != "meta" and t.layout == torch.strided:
            result[name] = t.resolve_conj().resolve_neg()
    return result


def convert(modelfile, source, work):
    target = os.path.join(work, os.path.basename(source) + ".safetensors")
    if os.path.exists(target):
        os.remove(target)
    return subprocess.run([modelfile, "convert", source, target], capture_output=True, text=True), target


def same_tensor(a, b):
    """Same dtype, shape and bytes (views of any stride flattened first)."""
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    if a.numel() == 0:
        return True
    return torch.equal(a.reshape(-1).contiguous().view(torch.uint8), b.reshape(-1).contiguous().view(torch.uint8))


def compare(name, expected, target):
    got = load_file(target)
    bad = sorted(k for k in expected if k not in got or not same_tensor(expected[k], got[k]))
    extra = sorted(set(got) - set(expected))
    check(f"{name}: {len(expected)} tensors bit for bit", not bad and not extra, f"differ {bad[:5]}, extra {extra[:5]}")


def one_line_error(result):
    lines = result.stderr.strip().splitlines()
    return result.returncode != 0 and len(lines) >= 1 and lines[-1].startswith("modelfile: error:")


def fixture_checks(modelfile, work):
    names = sorted(n for n in os.listdir(SEMANTICS) if n.endswith(".pt"))
    check("torch-semantics fixtures present", len(names) >= 17, names)
    for name in names:
        path = os.path.join(SEMANTICS, name)
        with open(path + ".json") as f:
            expected = json.load(f)
        result, target = convert(modelfile, path, work)
        if name in REFUSED_BY_DESIGN:
            check(f"{name}: refused naming {REFUSED_BY_DESIGN[name]}",
                  one_line_error(result) and REFUSED_BY_DESIGN[name] in result.stderr, result.stderr.strip())
            continue
        if not expected["valid"]:
            check(f"{name}: refused like torch ({expected['reference_error'][:60]})", one_line_error(result), result.stderr.strip())
            continue
        if result.returncode != 0:
            check(f"{name}: converts", False, result.stderr.strip())
            continue
        compare(name, torch_view(path, weights_only=expected.get("reference") is None), target)


DTYPES = [torch.float32, torch.float64, torch.float16, torch.bfloat16, torch.int8, torch.int16, torch.int32,
          torch.int64, torch.uint8, torch.complex64]  # safetensors has no complex128


def random_values(rng, dtype, shape, negated):
    g = torch.Generator().manual_seed(rng.randint(0, 2**31))
    if dtype.is_complex:
        t = torch.randn(shape, generator=g, dtype=dtype) * 100
    elif dtype.is_floating_point:
        t = (torch.randn(shape, generator=g) * 100).to(dtype)
    else:
        info = torch.iinfo(dtype)
        t = torch.randint(max(info.min, -2**31), min(info.max, 2**31 - 1) + 1, shape, generator=g, dtype=torch.int64).to(dtype)
    flat = t.reshape(-1)
    # torch's neg of a float16/bfloat16 NaN depends on its CPU kernel (modelfile refuses those).
    reduced = dtype in (torch.float16, torch.bfloat16) and negated
    if dtype.is_floating_point and flat.numel() >= 4 and not reduced:
        # NaNs with payloads, signed zeros and infinities.
        bits = {torch.float16: [0x7E01, 0x7C01, -0x8000, 0x7C00], torch.bfloat16: [0x7FC1, 0x7F81, -0x8000, 0x7F80],
                torch.float32: [0x7FC00001, 0x7F800001, -0x80000000, 0x7F800000],
                torch.float64: [0x7FF8000000000001, 0x7FF0000000000001, -0x8000000000000000, 0x7FF0000000000000]}[dtype]
        int_type = {2: torch.int16, 4: torch.int32, 8: torch.int64}[dtype.itemsize]
        flat.view(int_type)[:4] = torch.tensor(bits, dtype=torch.int64).to(int_type)
    if not dtype.is_floating_point and not dtype.is_complex and flat.numel() >= 1 and dtype != torch.uint8:
        flat[0] = torch.iinfo(dtype).min
    return t


def random_checks(modelfile, work):
    rng = random.Random(20260712)
    for round_index in range(6):
        state = {}
        for i in range(12):
            dtype = rng.choice(DTYPES)
            shape = [rng.randint(1, 6) for _ in range(rng.randint(1, 3))]
            negated = rng.random() < 0.7
            t = random_values(rng, dtype, shape, negated)
            if rng.random() < 0.5 and t.dim() >= 2:
                t = t.transpose(0, 1)
            if rng.random() < 0.3:
                t = t[..., ::2] if t.shape[-1] > 1 else t
            if dtype.is_complex and rng.random() < 0.6:
                t = t.conj()
            if negated:
                t = torch._neg_view(t)
            state[f"t{i}"] = t
        for i in range(3):
            x = torch.randn(rng.randint(1, 4), rng.randint(1, 4), generator=torch.Generator().manual_seed(rng.randint(0, 99)))
            qtype = rng.choice([torch.qint8, torch.quint8, torch.qint32])
            if rng.random() < 0.5:
                state[f"q{i}"] = torch.quantize_per_tensor(x, rng.uniform(0.001, 0.5), rng.randint(0, 20), qtype)
            else:
                axis = rng.randint(0, 1)
                n = x.shape[axis]
                state[f"q{i}"] = torch.quantize_per_channel(
                    x, torch.rand(n, dtype=torch.float64) + 0.01, torch.randint(0, 10, (n,)), axis, qtype)
        path = os.path.join(work, f"semantics_random_{round_index}.pt")
        torch.save(state, path, _use_new_zipfile_serialization=round_index % 3 != 2)
        result, target = convert(modelfile, path, work)
        if result.returncode != 0:
            check(f"random file {round_index}: converts", False, result.stderr.strip())
            continue
        if os.environ.get("SEMANTICS_DEBUG"):
            got = load_file(target)
            for k, v in torch_view(path).items():
                if not same_tensor(v, got[k]):
                    print(k, v.dtype, v.shape, v.stride(), v.reshape(-1).contiguous().view(torch.uint8)[:16].tolist(), got[k].reshape(-1).view(torch.uint8)[:16].tolist(), state[k].is_neg(), state[k].is_conj())
        compare(f"random file {round_index} ({'legacy' if round_index % 3 == 2 else 'zip'})", torch_view(path), target)


def nan_checks(modelfile, work):
    for dtype in (torch.float16, torch.bfloat16):
        path = os.path.join(work, f"neg_nan_{dtype}.pt".replace("torch.", ""))
        torch.save({"x": torch._neg_view(torch.tensor([1.0, float("nan")], dtype=dtype))}, path)
        result, _ = convert(modelfile, path, work)
        check(f"negative bit on {dtype} holding NaN is refused", one_line_error(result) and "NaN" in result.stderr, result.stderr.strip())


def inspect_checks(modelfile, work):
    path = os.path.join(SEMANTICS, "quantized.pt")
    report = json.loads(subprocess.run([modelfile, "inspect", "--json", path], capture_output=True, text=True).stdout)
    quantized = {t["name"]: t["quantization"] for t in report["tensors"] if "quantization" in t}
    loaded = torch.load(path, weights_only=True)
    good = all(
        quantized[name]["dtype"] == str(t.dtype).replace("torch.", "")
        and (quantized[name].get("scale") == t.q_scale() and quantized[name].get("zero_point") == t.q_zero_point()
             if t.qscheme() == torch.per_tensor_affine else quantized[name].get("axis") == t.q_per_channel_axis())
        for name, t in flatten(loaded))
    check("inspect lists each quantized tensor's dtype, scale and zero point as torch holds them",
          good and len(quantized) == len(flatten(loaded)), quantized)


def torch_semantics_checks(modelfile, work):
    fixture_checks(modelfile, work)
    random_checks(modelfile, work)
    nan_checks(modelfile, work)
    inspect_checks(modelfile, work)


SECTIONS = {"torch-semantics": torch_semantics_checks}
