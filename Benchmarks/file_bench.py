#!/usr/bin/env python3
"""Benchmarks modelfile's file commands against the Python tools, in the same run.

    python3 Benchmarks/file_bench.py [--work DIR] [--runs N] [--modelfile PATH] [--python PATH]
                                     [--only inspect] [--baseline PATH]

--only inspect runs just the inspect rows (seconds instead of minutes); --baseline PATH times
another modelfile binary (an earlier build) on the same inspect rows, in the same run.

Needs only the Python standard library for modelfile's side. The reference side runs when the
interpreter given by --python (default: this one) can import safetensors (numpy backend) and,
for the bf16 and PyTorch-file rows, torch. Every figure is a fresh process per run: the median of
N runs with min-max, wall time from fork to reap, peak RSS from the child's rusage (the same
number `/usr/bin/time -v` prints). Runs of the two sides alternate so that machine noise hits
both. Files are made once with a fixed seed in --work (about 4 GB free needed) and removed at
the end unless --keep.
"""
import argparse
import json
import os
import random
import shutil
import statistics
import struct
import subprocess
import sys
import time

MiB = 1 << 20


def make_safetensors(path, tensors, block):
    """Writes a safetensors file (reference layout: sorted, padded) filled by repeating `block`."""
    header, offset = {"__metadata__": {"format": "pt"}}, 0
    for name, dtype, shape, itemsize in tensors:
        n = itemsize
        for d in shape:
            n *= d
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + n]}
        offset += n
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text)
        remaining = offset
        while remaining > 0:
            chunk = block[: min(len(block), remaining)]
            f.write(chunk)
            remaining -= len(chunk)


def float_block(seed):
    rng = random.Random(seed)
    return struct.pack("<%df" % (MiB // 4), *(rng.gauss(0, 1) for _ in range(MiB // 4)))


def make_files(work):
    block = float_block(0)
    files = {}
    big = os.path.join(work, "big.safetensors")
    # ~1 GiB in 100 float32 tensors of [1024, 2621] plus four smaller ones, like the anchor file.
    tensors = [(f"layers.{i}.weight", "F32", [1024, 2621], 4) for i in range(100)]
    tensors += [("embed.f16", "F16", [1024, 1024], 2), ("embed.bf16", "BF16", [1024, 1024], 2),
                ("positions", "I64", [100000], 8), ("scale", "F32", [], 4)]
    tensors.sort(key=lambda t: ({"I64": 0, "F32": 1, "BF16": 2, "F16": 3}[t[1]], t[0]))
    if not os.path.exists(big):
        make_safetensors(big, tensors, block)
    files["big"] = big
    small = os.path.join(work, "small.safetensors")
    if not os.path.exists(small):
        make_safetensors(small, [(f"layers.{i}.weight", "F32", [256, 100], 4) for i in range(100)], block)
    files["small"] = small
    many = os.path.join(work, "many.safetensors")
    if not os.path.exists(many):
        make_safetensors(many, sorted((f"blocks.{i}.w", "F32", [16, 16], 4) for i in range(10000)), block)
    files["many"] = many
    return files


def measure(argv, runs, cwd=None, cleanup=None):
    """Median wall seconds, (min, max), and max peak RSS in MiB over `runs` fresh processes.

    Peak RSS comes from GNU time (`/usr/bin/time -f %M`) when present: a child forked straight
    from this Python process would report at least the parent's resident size, because Linux
    carries the pre-exec high-water mark into the child's rusage.
    """
    walls, rss = [], []
    gnu_time = "/usr/bin/time" if os.path.exists("/usr/bin/time") else None
    report = os.path.join(os.path.dirname(os.path.abspath(__file__)), ".rss-report") if gnu_time else None
    for _ in range(runs + 1):  # the first run warms the page cache and is discarded
        if cleanup:
            cleanup()
        command = [gnu_time, "-f", "%M", "-o", report] + argv if gnu_time else argv
        start = time.perf_counter()
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=cwd)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        err = proc.stderr.read().decode()
        proc.stderr.close()
        code = os.waitstatus_to_exitcode(status)
        if code not in (0, 1):
            raise RuntimeError(f"{' '.join(argv)} exited {code}: {err.strip()}")
        walls.append(wall)
        if report:
            with open(report) as f:
                rss.append(int(f.read().split()[-1]) / 1024)
        else:
            rss.append(usage.ru_maxrss / 1024)
    if report and os.path.exists(report):
        os.remove(report)
    walls, rss = walls[1:], rss[1:]
    return statistics.median(walls), (min(walls), max(walls)), max(rss)


PY_INSPECT = """
import sys
from safetensors import safe_open
with safe_open(sys.argv[1], "np") as f:
    rows = [(k, f.get_slice(k).get_dtype(), f.get_slice(k).get_shape()) for k in f.keys()]
print(len(rows))
"""
PY_READ = """
import sys
from safetensors.numpy import load_file
tensors = load_file(sys.argv[1])
print(sum(int(v.nbytes) for v in tensors.values()))
"""
PY_READ_TORCH = """
import sys
from safetensors.torch import load_file
tensors = load_file(sys.argv[1])
print(sum(float(v.float().sum()) for v in tensors.values()))
"""
PY_PTH_TO_ST = """
import sys, torch
from safetensors.torch import save_file
sd = torch.load(sys.argv[1], weights_only=True)
save_file({k: v.contiguous() for k, v in sd.items()}, sys.argv[2], metadata={"format": "pt"})
"""
PY_ST_TO_PTH = """
import sys, torch
from safetensors.torch import load_file
torch.save(load_file(sys.argv[1]), sys.argv[2])
"""
PY_PTH_INSPECT = """
import sys, torch
sd = torch.load(sys.argv[1], weights_only=True, mmap=True)
rows = [(k, v.dtype, tuple(v.shape)) for k, v in sd.items()]
print(len(rows))
"""
PY_MAKE_PTH = """
import sys, torch
from safetensors.torch import load_file
sd = load_file(sys.argv[1])
torch.save(sd, sys.argv[2])
torch.save(sd, sys.argv[3], _use_new_zipfile_serialization=False)
"""
PY_CONVERT = """
import sys
from safetensors.torch import load_file, save_file
tensors = load_file(sys.argv[1])
if len(sys.argv) > 3:
    import torch
    tensors = {k: (v.to(torch.bfloat16) if v.is_floating_point() else v) for k, v in tensors.items()}
save_file(tensors, sys.argv[2], metadata={"format": "pt"})
"""


def has(python, module):
    return subprocess.run([python, "-c", f"import {module}"], capture_output=True).returncode == 0


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--work", default="/tmp/modelfile-bench")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--modelfile", default=".build/release/modelfile")
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--only", choices=["inspect"], help="run only the inspect rows")
    parser.add_argument("--baseline", help="an earlier modelfile binary to time on the inspect rows")
    args = parser.parse_args()
    mf = os.path.abspath(args.modelfile)
    os.makedirs(args.work, exist_ok=True)
    files = make_files(args.work)
    have_st = has(args.python, "safetensors.numpy") and has(args.python, "numpy")
    have_torch = has(args.python, "torch")
    out = os.path.join(args.work, "out.safetensors")
    rm_out = lambda: os.path.exists(out) and os.remove(out)
    rows = []

    def row(label, ours, theirs=None, theirs_label=""):
        line = {"what": label, "modelfile_s": ours[0], "modelfile_range": ours[1], "modelfile_rss_mib": ours[2]}
        if theirs:
            line.update({"reference": theirs_label, "reference_s": theirs[0], "reference_range": theirs[1],
                         "reference_rss_mib": theirs[2], "speedup": theirs[0] / ours[0]})
        rows.append(line)
        text = f"{label:48s} modelfile {ours[0]*1000:8.1f} ms ({ours[1][0]*1000:.1f}-{ours[1][1]*1000:.1f}) {ours[2]:7.1f} MiB"
        if theirs:
            text += (f" | {theirs_label} {theirs[0]*1000:8.1f} ms {theirs[2]:7.1f} MiB"
                     f" | {theirs[0]/ours[0]:6.1f}x faster")
        print(text, flush=True)

    size = os.path.getsize(files["big"])
    print(f"big file: {size:,} bytes, 104 tensors; small: {os.path.getsize(files['small']):,} bytes; "
          f"many: 10,000 tensors, {os.path.getsize(files['many']):,} bytes")
    r = args.runs
    baseline = os.path.abspath(args.baseline) if args.baseline else None
    for name, label in (("big", "inspect 1 GiB (header only)"), ("small", "inspect 10 MiB"), ("many", "inspect 10,000 tensors")):
        ours = measure([mf, "inspect", files[name]], r)
        theirs = measure([args.python, "-c", PY_INSPECT, files[name]], r) if have_st else None
        row(label, ours, theirs, "safe_open(np)")
        if baseline:
            before = measure([baseline, "inspect", files[name]], r)
            row(label + " (baseline)", before, theirs, "safe_open(np)")
    ours_json = measure([mf, "inspect", "--json", files["big"]], r)
    row("inspect --json 1 GiB", ours_json)
    ours_json = measure([mf, "inspect", "--json", files["many"]], r)
    row("inspect --json 10,000 tensors", ours_json)
    if baseline:
        row("inspect --json 10,000 tensors (baseline)", measure([baseline, "inspect", "--json", files["many"]], r))
    if args.only == "inspect":
        with open(os.path.join(args.work, "results.json"), "w") as f:
            json.dump(rows, f, indent=1)
        if not args.keep:
            shutil.rmtree(args.work, ignore_errors=True)
        return
    cat = measure(["cat", files["big"]], r)
    row("cat 1 GiB > /dev/null (floor)", cat)
    ours = measure([mf, "verify", files["big"]], r)
    theirs = measure([args.python, "-c", PY_READ, files["big"]], r) if have_st else None
    row("read every tensor (verify: NaN/Inf counts)", ours, theirs, "numpy load_file")
    print(f"{'':48s} verify / cat = {ours[0] / cat[0]:.2f}")
    ours = measure([mf, "convert", files["big"], out], r, cleanup=rm_out)
    theirs = measure([args.python, "-c", PY_CONVERT, files["big"], out], r, cleanup=rm_out) if have_torch and have_st else None
    row("convert 1 GiB safetensors -> safetensors", ours, theirs, "load_file+save_file")
    ours = measure([mf, "convert", files["big"], out, "--dtype", "bf16"], r, cleanup=rm_out)
    theirs = measure([args.python, "-c", PY_CONVERT, files["big"], out, "bf16"], r, cleanup=rm_out) if have_torch and have_st else None
    row("convert 1 GiB --dtype bf16", ours, theirs, "torch .to(bf16)+save_file")
    rm_out()

    # PyTorch files: the same 1 GiB state dict saved by torch.save, zip and legacy.
    if have_torch:
        pth, legacy = os.path.join(args.work, "big.pth"), os.path.join(args.work, "big-legacy.pth")
        if not (os.path.exists(pth) and os.path.exists(legacy)):
            subprocess.run([args.python, "-c", PY_MAKE_PTH, files["big"], pth, legacy], check=True)
        print(f"big.pth: {os.path.getsize(pth):,} bytes (zip); big-legacy.pth: {os.path.getsize(legacy):,} bytes (legacy)")
        ours = measure([mf, "inspect", pth], r)
        theirs = measure([args.python, "-c", PY_PTH_INSPECT, pth], r)
        row("inspect 1 GiB .pth", ours, theirs, "torch.load(mmap=True)")
        ours = measure([mf, "inspect", legacy], r)
        row("inspect 1 GiB legacy .pth (header pickles only)", ours)
        for label, source in (("convert 1 GiB .pth -> safetensors", pth), ("convert 1 GiB legacy .pth -> safetensors", legacy)):
            ours = measure([mf, "convert", source, out], r, cleanup=rm_out)
            theirs = measure([args.python, "-c", PY_PTH_TO_ST, source, out], r, cleanup=rm_out)
            row(label, ours, theirs, "torch.load+save_file")
        out_pth = os.path.join(args.work, "out.pth")
        rm_pth = lambda: os.path.exists(out_pth) and os.remove(out_pth)
        ours = measure([mf, "convert", files["big"], out_pth], r, cleanup=rm_pth)
        theirs = measure([args.python, "-c", PY_ST_TO_PTH, files["big"], out_pth], r, cleanup=rm_pth)
        row("convert 1 GiB safetensors -> .pth", ours, theirs, "load_file+torch.save")
        rm_out()
        rm_pth()
    largest = 1024 * 2621 * 4 / MiB
    print(f"largest tensor: {largest:.1f} MiB; file: {size / MiB:.0f} MiB")
    with open(os.path.join(args.work, "results.json"), "w") as f:
        json.dump(rows, f, indent=1)
    if not args.keep:
        shutil.rmtree(args.work, ignore_errors=True)


if __name__ == "__main__":
    main()
