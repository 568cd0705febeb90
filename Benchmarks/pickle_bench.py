#!/usr/bin/env python3
"""Times modelfile on PyTorch files whose pickle holds very many tensors, against torch.load.

    python3 Benchmarks/pickle_bench.py --python /work/venv/bin/python [--count 1000000] [--runs 3]
                                       [--modelfile PATH] [--baseline PATH] [--work DIR] [--keep]

Makes (with the interpreter given by --python, which needs torch) a state dict of `--count`
two-element float32 views of one storage, saved by `torch.save` once as a zip `.pt` and once in
the legacy (non-zip) format. Every tensor is its own pickled object (a `_rebuild_tensor_v2`
call with its own size and stride tuples), so the pickle is what costs, not the data. Then, in
the same run and in fresh processes (median of N after one discarded warm-up run), it times:

  zip    inspect        modelfile inspect          vs torch.load(weights_only=True)
  zip    convert        modelfile convert to .safetensors (the same load, plus writing)
  legacy inspect        modelfile inspect          vs torch.load(weights_only=True)
  legacy scan           modelfile scan (no tensors are built: the pickle is only disassembled)

--baseline PATH times another modelfile binary (an earlier build) on the same rows. Every row
reports wall seconds (median, min-max), CPU seconds (user + system, median) and peak RSS in MiB,
all from GNU time (`/usr/bin/time`), and the ratio to torch.load. CPU seconds are the steadier
figure on a busy machine. Files live in --work (default /tmp/modelfile-pickle-bench, about 250 MB
for a million tensors) and are removed at the end unless --keep. Making the million-tensor files
takes torch a few minutes.
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time

MAKE = """
import sys, torch
count, zip_path, legacy_path = int(sys.argv[1]), sys.argv[2], sys.argv[3]
base = torch.arange(count * 2, dtype=torch.float32)
state = {f"v.{i}": base[2 * i: 2 * i + 2] for i in range(count)}
torch.save(state, zip_path)
torch.save(state, legacy_path, _use_new_zipfile_serialization=False)
"""

LOAD = """
import sys, torch
state = torch.load(sys.argv[1], weights_only=True)
print(len(state))
"""


def measure(argv, runs, cleanup=None):
    """(median wall, (min, max) wall, median CPU seconds, max peak RSS MiB) over `runs` fresh
    processes, after one discarded warm-up run. Figures from GNU time, so the parent's size does
    not leak into the child's peak RSS."""
    report = "/tmp/modelfile-pickle-bench.time"
    walls, cpus, rss = [], [], []
    for _ in range(runs + 1):
        if cleanup:
            cleanup()
        start = time.perf_counter()
        proc = subprocess.run(["/usr/bin/time", "-f", "%U %S %M", "-o", report] + argv,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        wall = time.perf_counter() - start
        if proc.returncode not in (0, 1):
            raise RuntimeError(f"{' '.join(argv)} exited {proc.returncode}: {proc.stderr.decode().strip()}")
        with open(report) as f:
            user, system, peak = f.read().split()[-3:]
        walls.append(wall)
        cpus.append(float(user) + float(system))
        rss.append(int(peak) / 1024)
    os.remove(report)
    walls, cpus, rss = walls[1:], cpus[1:], rss[1:]
    return statistics.median(walls), (min(walls), max(walls)), statistics.median(cpus), max(rss)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    parser.add_argument("--python", default=sys.executable, help="an interpreter with torch")
    parser.add_argument("--modelfile", default=os.path.join(root, ".build", "release", "modelfile"))
    parser.add_argument("--baseline", help="another modelfile binary to time on the same rows")
    parser.add_argument("--count", type=int, default=1_000_000, help="tensors in the state dict")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--work", default="/tmp/modelfile-pickle-bench")
    parser.add_argument("--keep", action="store_true", help="keep the files made in --work")
    args = parser.parse_args()

    os.makedirs(args.work, exist_ok=True)
    zip_path = os.path.join(args.work, f"views{args.count}.pt")
    legacy_path = os.path.join(args.work, f"views{args.count}_legacy.pt")
    output = os.path.join(args.work, "out.safetensors")
    if not (os.path.exists(zip_path) and os.path.exists(legacy_path)):
        print(f"making {args.count} tensors with torch …", file=sys.stderr)
        subprocess.run([args.python, "-c", MAKE, str(args.count), zip_path, legacy_path], check=True)

    def remove_output():
        if os.path.exists(output):
            os.remove(output)

    binaries = [("modelfile", args.modelfile)] + ([("baseline", args.baseline)] if args.baseline else [])
    rows = []
    for label, path in (("zip", zip_path), ("legacy", legacy_path)):
        torch_row = measure([args.python, "-c", LOAD, path], args.runs)
        rows.append((f"{label} torch.load(weights_only=True)", torch_row, None))
        for name, binary in binaries:
            rows.append((f"{label} {name} inspect", measure([binary, "inspect", path], args.runs), torch_row))
            if label == "zip":
                rows.append((f"{label} {name} convert to safetensors",
                             measure([binary, "convert", "--quiet", path, output], args.runs, remove_output), torch_row))
                remove_output()
            else:
                rows.append((f"{label} {name} scan", measure([binary, "scan", path], args.runs), torch_row))

    print(f"{args.count} tensors, {args.runs} runs each (median; wall min-max); ratio = CPU seconds / torch.load's")
    print(f"{'row':48} {'wall s':>8} {'(min-max)':>15} {'CPU s':>8} {'RSS MiB':>9} {'ratio':>6}")
    for name, (wall, (low, high), cpu, rss), reference in rows:
        ratio = f"{cpu / reference[2]:.2f}" if reference and reference[2] > 0 else ""
        print(f"{name:48} {wall:8.2f} {f'({low:.2f}-{high:.2f})':>15} {cpu:8.2f} {rss:9.0f} {ratio:>6}")
    if not args.keep:
        shutil.rmtree(args.work, ignore_errors=True)


if __name__ == "__main__":
    main()
