"""Interop checks with the real numpy (loaded by scripts/interop.py; run through scripts/interop.sh):

    numpy-read   modelfile reads numpy's own files (the committed fixtures and fresh random ones:
                 every numeric dtype, both byte orders, Fortran order, 0-d and empty arrays, format
                 versions 1.0/2.0/3.0, savez and savez_compressed) exactly as numpy.load does;
    numpy-write  numpy.load(allow_pickle=False) reads modelfile's .npz and .npy with the same names,
                 dtypes and values, and a .npy equals numpy.save's bytes;
    numpy-scan   scan lists an object array's imports (numpy's pickle, never loaded) and exits 1.
"""
import glob
import io
import json
import os
import random
import subprocess

import numpy as np
import torch
from safetensors.numpy import load_file, save_file
from safetensors.torch import save_file as torch_save_file

from interop_support import FIXTURES, check, run

# What modelfile calls each numpy kind and item size.
ST_NAME = {("b", 1): "BOOL", ("i", 1): "I8", ("i", 2): "I16", ("i", 4): "I32", ("i", 8): "I64",
           ("u", 1): "U8", ("u", 2): "U16", ("u", 4): "U32", ("u", 8): "U64",
           ("f", 2): "F16", ("f", 4): "F32", ("f", 8): "F64", ("c", 8): "C64", ("c", 16): "C128"}
CODES = ["b1", "i1", "u1", "i2", "i4", "i8", "u2", "u4", "u8", "f2", "f4", "f8", "c8", "c16"]


def little(array):
    """The array with its dtype little-endian and its bytes row-major (what modelfile hands out)."""
    return array.astype(array.dtype.newbyteorder("<"), order="C")  # keeps 0-d arrays 0-d


def same(a, b):
    """Same shape, same little-endian dtype, same bytes (NaN payloads included)."""
    a, b = little(np.asarray(a)), little(np.asarray(b))
    return a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()


def load_all(path):
    """{name: array} as numpy.load(allow_pickle=False) reads a .npy or .npz."""
    loaded = np.load(path, allow_pickle=False)
    if isinstance(loaded, np.ndarray):
        return {os.path.splitext(os.path.basename(path))[0]: loaded}
    with loaded:
        return {key: loaded[key] for key in loaded.files}


def random_array(rng):
    code = rng.choice(CODES)
    order = "|" if code[1:] == "1" else rng.choice("<>")
    dtype = np.dtype(order + code)
    shape = tuple(rng.randint(0, 5) for _ in range(rng.randint(0, 4)))
    generator = np.random.default_rng(rng.randint(0, 2**31))
    if dtype.kind == "b":
        values = generator.random(shape) > 0.5
    elif dtype.kind in "iu":
        info = np.iinfo(dtype)
        values = generator.integers(info.min, info.max, size=shape, dtype=dtype.newbyteorder("="), endpoint=True)
    elif dtype.kind == "f":
        values = generator.standard_normal(shape) * 100
    else:
        values = generator.standard_normal(shape) + 1j * generator.standard_normal(shape)
    array = np.asarray(values).astype(dtype)
    if array.ndim >= 2 and rng.random() < 0.5:
        array = np.asfortranarray(array)
    return array


def read_checks(modelfile, path, label):
    """inspect lists what numpy lists; .npz and (when possible) safetensors copies hold numpy.load's values."""
    arrays = load_all(path)
    listed = json.loads(run(modelfile, "inspect", "--json", path).stdout)
    expected = [{"name": k, "dtype": ST_NAME[(v.dtype.kind, v.dtype.itemsize)], "shape": list(v.shape)} for k, v in arrays.items()]
    got = [{"name": t["name"], "dtype": t["dtype"], "shape": t["shape"]} for t in listed["tensors"]]
    check(f"{label}: inspect lists numpy.load's names, dtypes and shapes", got == expected, f"{got} vs {expected}")
    copy = path + ".copy.npz"
    run(modelfile, "convert", path, copy, "--force")
    ours = load_all(copy)
    check(f"{label}: convert to .npz, numpy.load reads numpy.load's values", list(ours) == list(arrays)
          and all(same(ours[k], arrays[k]) for k in arrays), f"{list(ours)} vs {list(arrays)}")
    if all(v.dtype.itemsize != 16 or v.dtype.kind != "c" for v in arrays.values()):
        st = path + ".copy.safetensors"
        run(modelfile, "convert", path, st, "--force")
        loaded = load_file(st)
        check(f"{label}: convert to safetensors holds numpy.load's values",
              set(loaded) == set(arrays) and all(same(loaded[k], arrays[k]) for k in arrays))
        reference = path + ".reference.safetensors"
        save_file({k: little(v) for k, v in arrays.items()}, reference, metadata={"format": "pt"})
        with open(st, "rb") as a, open(reference, "rb") as b:
            check(f"{label}: the safetensors bytes equal safetensors.numpy.save_file's", a.read() == b.read())


def numpy_read_checks(modelfile, work):
    fixtures = sorted(glob.glob(os.path.join(FIXTURES, "numpy", "*.np[yz]")))
    readable = [p for p in fixtures if json.load(open(p + ".json"))["loads"]
                and all("dtype" in a for a in json.load(open(p + ".json"))["arrays"])]
    for path in readable:
        local = os.path.join(work, os.path.basename(path))
        with open(path, "rb") as src, open(local, "wb") as dst:
            dst.write(src.read())
        read_checks(modelfile, local, "fixture " + os.path.basename(path))

    rng = random.Random(11)
    for trial in range(12):
        arrays = {f"t{i}.{rng.choice(['w', 'b'])}": random_array(rng) for i in range(rng.randint(1, 8))}
        path = os.path.join(work, f"random{trial}.npz")
        (np.savez_compressed if trial % 2 else np.savez)(path, **arrays)
        read_checks(modelfile, path, f"random .npz {trial}")
    for trial in range(12):
        array = random_array(rng)
        path = os.path.join(work, f"single{trial}.npy")
        version = [(1, 0), (2, 0), (3, 0)][trial % 3]
        with open(path, "wb") as f:
            np.lib.format.write_array(f, array, version=version)
        read_checks(modelfile, path, f"random .npy {trial} (version {version[0]}.0, {array.dtype.str}, "
                    f"{'F' if array.flags.f_contiguous and not array.flags.c_contiguous else 'C'} order)")


def numpy_write_checks(modelfile, work):
    rng = random.Random(12)
    types = [torch.float64, torch.float32, torch.float16, torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8,
             torch.bool, torch.uint16, torch.uint32, torch.uint64, torch.complex64]
    for trial in range(6):
        tensors = {}
        for i in range(rng.randint(1, 10)):
            dtype = rng.choice(types)
            shape = [rng.randint(0, 5) for _ in range(rng.randint(0, 3))]
            base = torch.randn(shape, generator=torch.Generator().manual_seed(rng.randint(0, 2**31))) * 100
            if dtype == torch.bool:
                t = base > 0
            elif dtype.is_floating_point or dtype.is_complex:
                t = base.to(dtype)
            else:
                t = base.abs().to(torch.int64).clamp(0, 2**62).to(dtype)
            tensors[f"layer.{i}.{str(dtype).split('.')[-1]}"] = t
        src = os.path.join(work, f"w{trial}.safetensors")
        torch_save_file(tensors, src)
        npz = os.path.join(work, f"w{trial}.npz")
        run(modelfile, "convert", src, npz)
        loaded = load_all(npz)
        check(f"write {trial}: numpy.load(allow_pickle=False) reads our .npz with the same names, dtypes and values",
              set(loaded) == set(tensors) and all(same(loaded[k], tensors[k].numpy()) for k in tensors))
        name = rng.choice(sorted(tensors))
        npy = os.path.join(work, f"w{trial}.npy")
        run(modelfile, "convert", src, npy, "--select", name)
        buffer = io.BytesIO()
        np.save(buffer, tensors[name].numpy())
        with open(npy, "rb") as f:
            ours = f.read()
        check(f"write {trial}: our .npy of {name} equals numpy.save's bytes", ours == buffer.getvalue())

    # Every dtype, both byte orders, Fortran order: through modelfile to .npz and back in numpy.
    source = os.path.join(FIXTURES, "numpy", "dtypes.npz")
    out = os.path.join(work, "dtypes-copy.npz")
    run(modelfile, "convert", source, out, "--to", "npz")
    mine, theirs = load_all(out), load_all(source)
    check("write: every dtype comes back little-endian with numpy.load's values",
          list(mine) == list(theirs) and all(same(mine[k], theirs[k]) and mine[k].dtype.byteorder in "<|=" for k in theirs))
    st = os.path.join(work, "c128.safetensors")
    refused = subprocess.run([modelfile, "convert", source, st, "--select", "c16"], capture_output=True, text=True)
    check("write: complex128 to safetensors is refused by name", refused.returncode == 2 and "complex128" in refused.stderr
          and not os.path.exists(st), refused.stderr)
    bf16 = os.path.join(work, "bf16.safetensors")
    torch_save_file({"h": torch.ones(3, dtype=torch.bfloat16)}, bf16)
    refused = subprocess.run([modelfile, "convert", bf16, os.path.join(work, "bf16.npz")], capture_output=True, text=True)
    check("write: bfloat16 to .npz is refused by name", refused.returncode == 2 and "bfloat16 has no NumPy dtype" in refused.stderr,
          refused.stderr)
    many = subprocess.run([modelfile, "convert", source, os.path.join(work, "many.npy")], capture_output=True, text=True)
    check("write: several tensors to a .npy is a usage error naming the count", many.returncode == 64 and "has 25" in many.stderr,
          many.stderr)


class _Stub:
    def __init__(self, *args, **kwargs):
        pass

    def __setstate__(self, state):
        pass


def pickle_globals(data):
    """The globals a pickle names, in order, with every global an inert stub (nothing runs)."""
    import pickle

    class Recording(pickle.Unpickler):
        seen = []

        def find_class(self, module, name):
            self.seen.append(f"{module}.{name}")
            return _Stub
    unpickler = Recording(io.BytesIO(data))
    unpickler.seen = []
    unpickler.load()
    return unpickler.seen


class Payload:
    def __reduce__(self):
        return (os.system, ("echo never run",))


def numpy_scan_checks(modelfile, work):
    objects = np.empty(3, dtype=object)
    objects[:] = [Payload(), {"a": 1}, None]
    path = os.path.join(work, "objects.npz")
    np.savez_compressed(path, weights=np.ones(4, np.float32), payload=objects)
    import zipfile
    with zipfile.ZipFile(path) as z:
        raw = z.read("payload.npy")
    header_end = 10 + (raw[8] | raw[9] << 8)
    expected = pickle_globals(raw[header_end:])
    result = subprocess.run([modelfile, "scan", "--json", path], capture_output=True, text=True)
    report = json.loads(result.stdout)
    names = [g["name"] for section in report["pickles"] for g in section["globals"]]
    check("scan: exit 1 for an object array", result.returncode == 1, result.returncode)
    check("scan: an object array's globals, in order, as the pickle names them", names == expected, f"{names} vs {expected}")
    check("scan: posix.system is reported as outside the allowlist",
          any(g["name"] == "posix.system" and not g["allowed"] for s in report["pickles"] for g in s["globals"]))
    inspect = subprocess.run([modelfile, "inspect", path], capture_output=True, text=True)
    check("scan: inspect refuses the object array, naming the member", inspect.returncode == 2 and '"payload.npy"' in inspect.stderr,
          inspect.stderr)
    for fixture in ("object_array.npz", "object_array.npy", "stringdtype.npy"):
        fixture_path = os.path.join(FIXTURES, "numpy", fixture)
        expected = [g for a in json.load(open(fixture_path + ".json"))["arrays"] for g in a.get("globals", [])]
        report = json.loads(run(modelfile, "scan", "--json", fixture_path, expect=1).stdout)
        names = [g["name"] for section in report["pickles"] for g in section["globals"]]
        check(f"scan: {fixture} globals match the pickle's", names == expected, f"{names} vs {expected}")


SECTIONS = {"numpy-read": numpy_read_checks, "numpy-write": numpy_write_checks, "numpy-scan": numpy_scan_checks}
