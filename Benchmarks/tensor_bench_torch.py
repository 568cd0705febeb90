"""The TensorBench cases in PyTorch, and a driver that runs both in one session and compares them.

usage:
  python tensor_bench_torch.py --case THREADS          the cases in this process; prints one JSON line
  python tensor_bench_torch.py --compare [--threads N] [--reps R]
                                                      runs .build/release/TensorBench and this script
                                                      alternately in fresh processes under GNU time, and
                                                      prints medians, ratios and peak RSS

The cases are listed in Sources/TensorBench/main.swift; each is the same work on both sides, timed
the same way (median of 15 batches of calls, after one warm-up batch), with the same thread count
(torch.set_num_threads and ComputeThreads.set).

Run the Swift side first with:  swift build -c release --product TensorBench  (in Benchmarks/)
"""
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CASES = ["tensor_4x4", "from_array_1m", "zeros_1m", "rand_1m", "randn_1m", "arange_1m", "add_1m", "sum_1m",
         "matmul_512", "matmul_512_grad", "mlp_step"]


def measure(body, repetitions, batches=15):
    for _ in range(repetitions):
        body()
    times = []
    for _ in range(batches):
        start = time.perf_counter()
        for _ in range(repetitions):
            body()
        times.append((time.perf_counter() - start) / repetitions * 1e6)
    return statistics.median(times)


def run_cases(threads):
    import numpy as np
    import torch
    from torch import nn

    torch.set_num_threads(threads)
    g = torch.Generator().manual_seed(0)
    results = {}
    small = [i * 0.5 for i in range(16)]
    results["tensor_4x4"] = measure(lambda: torch.tensor(small, dtype=torch.float32).view(4, 4)[1, 1].item(), 20_000)
    million = (np.arange(1_048_576) % 1000).astype(np.float32) * np.float32(0.001)
    results["from_array_1m"] = measure(lambda: torch.tensor(million).view(1024, 1024), 50)
    results["zeros_1m"] = measure(lambda: torch.zeros(1024, 1024), 50)
    results["rand_1m"] = measure(lambda: torch.rand(1024, 1024, generator=g), 5)
    results["randn_1m"] = measure(lambda: torch.randn(1024, 1024, generator=g), 5)
    results["arange_1m"] = measure(lambda: torch.arange(0.0, 1048576.0), 20)
    a1m, b1m = torch.randn(1024, 1024, generator=g), torch.randn(1024, 1024, generator=g)
    results["add_1m"] = measure(lambda: a1m + b1m, 50)
    results["sum_1m"] = measure(lambda: a1m.sum().item(), 100)
    a512, b512 = torch.randn(512, 512, generator=g), torch.randn(512, 512, generator=g)
    results["matmul_512"] = measure(lambda: a512 @ b512, 20)

    def matmul_grad():
        a, b = a512.clone().requires_grad_(), b512.clone().requires_grad_()
        (a @ b).sum().backward()
        return a.grad

    results["matmul_512_grad"] = measure(matmul_grad, 10)

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    inputs = torch.randn(128, 784, generator=g)
    labels = torch.arange(128) % 10

    def step():
        optimizer.zero_grad()
        loss = loss_fn(model(inputs), labels)
        loss.backward()
        optimizer.step()
        return loss.item()

    results["mlp_step"] = measure(step, 10)
    fields = {"tool": "torch " + torch.__version__, "threads": threads}
    fields.update({name + "_us": value for name, value in results.items()})
    print(json.dumps(fields, sort_keys=True))


def timed(command):
    """Runs `command` under GNU time; returns its JSON line and peak RSS in MiB."""
    result = subprocess.run(["/usr/bin/time", "-v", *command], capture_output=True, text=True, check=True)
    rss = next(int(line.split(":")[1]) for line in result.stderr.splitlines() if "Maximum resident set size" in line)
    return json.loads(result.stdout.strip().splitlines()[-1]), rss / 1024


def compare(threads, reps):
    swift = os.path.join(HERE, ".build", "release", "TensorBench")
    if not os.path.exists(swift):
        sys.exit(f"build the Swift side first: (cd {HERE} && swift build -c release --product TensorBench)")
    runs = {"modelfile": [], "torch": []}
    rss = {"modelfile": [], "torch": []}
    for _ in range(reps):
        for tool, command in (("modelfile", [swift, str(threads)]),
                              ("torch", [sys.executable, os.path.abspath(__file__), "--case", str(threads)])):
            fields, peak = timed(command)
            runs[tool].append(fields)
            rss[tool].append(peak)
    print(f"threads: {threads}; {reps} runs of each, alternating; medians of the runs' medians (µs per operation)")
    print(f"{'case':<18}{'modelfile':>12}{'torch':>12}{'torch/modelfile':>18}")
    for case in CASES:
        ours = statistics.median(run[case + "_us"] for run in runs["modelfile"])
        theirs = statistics.median(run[case + "_us"] for run in runs["torch"])
        print(f"{case:<18}{ours:>12.2f}{theirs:>12.2f}{theirs / ours:>17.2f}x")
    print(f"peak RSS (MiB): modelfile {statistics.median(rss['modelfile']):.0f}, torch {statistics.median(rss['torch']):.0f}")


def main():
    args = sys.argv[1:]
    if args[:1] == ["--case"] and len(args) == 2:
        run_cases(int(args[1]))
    elif args[:1] == ["--compare"]:
        threads = int(args[args.index("--threads") + 1]) if "--threads" in args else 1
        reps = int(args[args.index("--reps") + 1]) if "--reps" in args else 3
        compare(threads, reps)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
