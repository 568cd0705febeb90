#!/usr/bin/env python3
"""Benchmarks modelfile on NumPy files against numpy + safetensors, in the same run.

    python3 Benchmarks/numpy_bench.py --python /work/venv/bin/python [--runs 3] [--work DIR] [--keep]

The --python interpreter needs numpy and safetensors; it also makes the files (fixed seed, about
3.5 GB free needed in --work): the same ~1 GiB state dict (100 float32 [1024, 2621] tensors plus
float16, int64 and a scalar) as an `.npz` written by `numpy.savez` (stored members) and as a
safetensors file (`safetensors.numpy.save_file`); one 1 GiB float32 array as a `.npy`; a 256 MiB
big-endian Fortran-ordered `.npy`; and a 256 MiB `numpy.savez_compressed` archive. Each row times
modelfile and the Python way of doing the same work in fresh processes (median of N, min-max; peak
RSS from GNU time, via file_bench.measure), and prints MB/s of input (10^6 bytes per second) and
the ratio. The first row is the safetensors path, the yardstick for the NumPy rows.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from file_bench import measure  # noqa: E402

MAKE = """
import sys, numpy as np
from safetensors.numpy import save_file
work = sys.argv[1]
rng = np.random.default_rng(0)
block = rng.standard_normal(1024 * 2621).astype(np.float32).reshape(1024, 2621)
state = {f"layers.{i}.weight": block + np.float32(i) for i in range(100)}
state["embed.f16"] = rng.standard_normal((1024, 1024)).astype(np.float16)
state["positions"] = np.arange(100000, dtype=np.int64)
state["scale"] = np.array(1.5, dtype=np.float32)
np.savez(f"{work}/big.npz", **state)
save_file(state, f"{work}/big.safetensors", metadata={"format": "pt"})
np.save(f"{work}/big.npy", np.concatenate([block + np.float32(i) for i in range(100)]))
quarter = np.concatenate([block + np.float32(i) for i in range(25)])
np.save(f"{work}/fortran_be.npy", np.asfortranarray(quarter.astype(">f4")))
np.savez_compressed(f"{work}/compressed.npz", **{f"layers.{i}.weight": block + np.float32(i) for i in range(25)})
"""
PY_INSPECT_NPZ = """
import sys, zipfile
from numpy.lib import format as fmt
rows = []
with zipfile.ZipFile(sys.argv[1]) as z:
    for name in z.namelist():
        with z.open(name) as f:
            version = fmt.read_magic(f)
            rows.append((name, fmt.read_array_header_1_0(f) if version == (1, 0) else fmt.read_array_header_2_0(f)))
print(len(rows))
"""
PY_READ = """
import sys, numpy as np
loaded = np.load(sys.argv[1], allow_pickle=False)
arrays = {k: loaded[k] for k in loaded.files} if hasattr(loaded, "files") else {"a": loaded}
print(sum(int(np.ascontiguousarray(v).nbytes) for v in arrays.values()))
"""
PY_TO_SAFETENSORS = """
import sys, numpy as np
from safetensors.numpy import save_file
loaded = np.load(sys.argv[1], allow_pickle=False)
arrays = {k: loaded[k] for k in loaded.files} if hasattr(loaded, "files") else {sys.argv[3]: loaded}
arrays = {k: np.ascontiguousarray(v.astype(v.dtype.newbyteorder("<"), copy=False)) for k, v in arrays.items()}
save_file(arrays, sys.argv[2], metadata={"format": "pt"})
"""
PY_ST_TO_SAFETENSORS = """
import sys
from safetensors.numpy import load_file, save_file
save_file(load_file(sys.argv[1]), sys.argv[2], metadata={"format": "pt"})
"""
PY_ST_TO_NPZ = """
import sys, numpy as np
from safetensors.numpy import load_file
np.savez(sys.argv[2], **load_file(sys.argv[1]))
"""


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--work", default="/tmp/modelfile-numpy-bench")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--modelfile", default=".build/release/modelfile")
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    mf = os.path.abspath(args.modelfile)
    work = args.work
    os.makedirs(work, exist_ok=True)
    names = ["big.npz", "big.safetensors", "big.npy", "fortran_be.npy", "compressed.npz"]
    if not all(os.path.exists(os.path.join(work, n)) for n in names):
        subprocess.run([args.python, "-c", MAKE, work], check=True)
    path = {n: os.path.join(work, n) for n in names}
    for n in names:
        print(f"{n}: {os.path.getsize(path[n]):,} bytes")
    out_st, out_npz = os.path.join(work, "out.safetensors"), os.path.join(work, "out.npz")

    def clean():
        for p in (out_st, out_npz):
            if os.path.exists(p):
                os.remove(p)

    rows = []

    def row(label, source, ours, theirs, theirs_label):
        size = os.path.getsize(source)
        line = {"what": label, "input_bytes": size, "modelfile_s": ours[0], "modelfile_range": ours[1],
                "modelfile_rss_mib": ours[2], "modelfile_mb_s": size / ours[0] / 1e6, "reference": theirs_label,
                "reference_s": theirs[0], "reference_range": theirs[1], "reference_rss_mib": theirs[2],
                "reference_mb_s": size / theirs[0] / 1e6, "speedup": theirs[0] / ours[0]}
        rows.append(line)
        print(f"{label:46s} modelfile {ours[0]*1000:8.1f} ms {line['modelfile_mb_s']:7.0f} MB/s {ours[2]:7.1f} MiB"
              f" | {theirs_label} {theirs[0]*1000:8.1f} ms {line['reference_mb_s']:6.0f} MB/s {theirs[2]:7.1f} MiB"
              f" | {line['speedup']:5.1f}x", flush=True)

    r = args.runs
    row("convert safetensors -> safetensors (yardstick)", path["big.safetensors"],
        measure([mf, "convert", path["big.safetensors"], out_st], r, cleanup=clean),
        measure([args.python, "-c", PY_ST_TO_SAFETENSORS, path["big.safetensors"], out_st], r, cleanup=clean), "load_file+save_file")
    row("inspect .npz (headers only)", path["big.npz"], measure([mf, "inspect", path["big.npz"]], r),
        measure([args.python, "-c", PY_INSPECT_NPZ, path["big.npz"]], r), "zipfile+read_array_header")
    row("read every array of .npz (verify)", path["big.npz"], measure([mf, "verify", path["big.npz"]], r),
        measure([args.python, "-c", PY_READ, path["big.npz"]], r), "numpy.load")
    row("convert .npz -> safetensors", path["big.npz"], measure([mf, "convert", path["big.npz"], out_st], r, cleanup=clean),
        measure([args.python, "-c", PY_TO_SAFETENSORS, path["big.npz"], out_st], r, cleanup=clean), "numpy.load+save_file")
    row("convert .npy (1 GiB array) -> safetensors", path["big.npy"], measure([mf, "convert", path["big.npy"], out_st], r, cleanup=clean),
        measure([args.python, "-c", PY_TO_SAFETENSORS, path["big.npy"], out_st, "big"], r, cleanup=clean), "numpy.load+save_file")
    row("convert big-endian Fortran .npy -> safetensors", path["fortran_be.npy"],
        measure([mf, "convert", path["fortran_be.npy"], out_st], r, cleanup=clean),
        measure([args.python, "-c", PY_TO_SAFETENSORS, path["fortran_be.npy"], out_st, "fortran_be"], r, cleanup=clean),
        "numpy.load+save_file")
    row("convert savez_compressed .npz -> safetensors", path["compressed.npz"],
        measure([mf, "convert", path["compressed.npz"], out_st], r, cleanup=clean),
        measure([args.python, "-c", PY_TO_SAFETENSORS, path["compressed.npz"], out_st], r, cleanup=clean), "numpy.load+save_file")
    row("convert safetensors -> .npz", path["big.safetensors"], measure([mf, "convert", path["big.safetensors"], out_npz], r, cleanup=clean),
        measure([args.python, "-c", PY_ST_TO_NPZ, path["big.safetensors"], out_npz], r, cleanup=clean), "load_file+numpy.savez")
    clean()
    with open(os.path.join(work, "numpy_results.json"), "w") as f:
        json.dump(rows, f, indent=1)
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
