"""The TrainBench cases in PyTorch, and a driver that runs both in one session and compares them.

usage:
  python train_bench_torch.py --case CASE THREADS [CSV]   one case in this process; prints one JSON line
  python train_bench_torch.py --compare [--reps N] [--csv PATH]
                                                          builds nothing; runs .build/release/TrainBench
                                                          and this script alternately in fresh processes
                                                          and prints medians and ratios

cases (the same work as Sources/TrainBench/main.swift and /work/shared/anchor-bench/train_bench.py):
  fnn_manual  FNN 8->6->4->2->1 sigmoid, BCELoss(mean), SGD lr=0.01, batch 32, shuffle (randperm
              + index), 100 epochs over 760 random rows (2,400 steps)
  fnn_csv     the same loop over a CSV file (last column the 0/1 target), inputs standardised
  mlp_train   MLP 784->512->512->10 ReLU, CrossEntropyLoss, Adam lr 1e-3, batch 128, 20,000 random
              samples, 3 epochs (randperm + index)
  mlp_infer   same MLP under torch.inference_mode(): batch-1 latency, batch-256 throughput

Run the Swift side first with:  swift build -c release --product TrainBench  (in Benchmarks/)
"""
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def fnn_loop(torch, nn, x, y):
    model = nn.Sequential(nn.Linear(8, 6), nn.Sigmoid(), nn.Linear(6, 4), nn.Sigmoid(),
                          nn.Linear(4, 2), nn.Sigmoid(), nn.Linear(2, 1), nn.Sigmoid())
    loss_fn = nn.BCELoss()
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    n, bs = x.shape[0], 32
    epoch_times, steps = [], 0
    t_all, c_all, th_all = time.perf_counter(), time.process_time(), time.thread_time()
    for _ in range(100):
        t0 = time.perf_counter()
        perm = torch.randperm(n)
        for i in range(0, n, bs):
            idx = perm[i:i + bs]
            opt.zero_grad()
            loss = loss_fn(model(x[idx]), y[idx])
            loss.backward()
            opt.step()
            steps += 1
        epoch_times.append(time.perf_counter() - t0)
    total = time.perf_counter() - t_all
    return {"total_s": total, "cpu_s": time.process_time() - c_all, "thread_cpu_s": time.thread_time() - th_all,
            "epoch_s_median": statistics.median(epoch_times),
            "steps": steps, "step_us": total / steps * 1e6, "final_loss": loss.item()}


def fnn_case(threads, csv_path=None):
    import torch
    from torch import nn
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    if csv_path is None:
        x = torch.rand(760, 8)
        y = (torch.rand(760, 1) > 0.5).float()
    else:
        import csv
        with open(csv_path) as f:
            rows = [[float(v) for v in row] for row in list(csv.reader(f))[1:] if row]
        data = torch.tensor(rows)
        x, y = data[:, :-1], data[:, -1:]
        x = (x - x.mean(0)) / x.std(0, unbiased=False)
    return fnn_loop(torch, nn, x, y)


def make_mlp(nn):
    return nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10))


def mlp_train(threads):
    import torch
    from torch import nn
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    n, bs = 20000, 128
    x = torch.randn(n, 784)
    y = torch.randint(0, 10, (n,))
    model = make_mlp(nn)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    rates = []
    t_all, c_all = time.perf_counter(), time.process_time()
    for _ in range(3):
        t0 = time.perf_counter()
        perm = torch.randperm(n)
        for i in range(0, n, bs):
            idx = perm[i:i + bs]
            opt.zero_grad()
            loss = loss_fn(model(x[idx]), y[idx])
            loss.backward()
            opt.step()
        rates.append(n / (time.perf_counter() - t0))
    total = time.perf_counter() - t_all
    return {"total_s": total, "cpu_s": time.process_time() - c_all, "samples_per_s": 3 * n / total,
            "samples_per_s_epochs": rates, "final_loss": loss.item()}


def mlp_infer(threads):
    import torch
    from torch import nn
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = make_mlp(nn).eval()
    x1, x256 = torch.randn(1, 784), torch.randn(256, 784)
    with torch.inference_mode():
        for _ in range(200):
            model(x1)
        lat = []
        for _ in range(3000):
            t0 = time.perf_counter()
            model(x1)
            lat.append(time.perf_counter() - t0)
        for _ in range(20):
            model(x256)
        rates = []
        for _ in range(7):
            t0 = time.perf_counter()
            for _ in range(20):
                model(x256)
            rates.append(20 * 256 / (time.perf_counter() - t0))
    lat.sort()
    return {"b1_latency_us_median": statistics.median(lat) * 1e6, "b1_latency_us_p10": lat[len(lat) // 10] * 1e6,
            "b1_latency_us_p90": lat[len(lat) * 9 // 10] * 1e6, "b256_samples_per_s": statistics.median(rates)}


def run_case(case, threads, csv_path=None):
    if case == "fnn_manual":
        return fnn_case(threads)
    if case == "fnn_csv":
        return fnn_case(threads, csv_path)
    if case == "mlp_train":
        return mlp_train(threads)
    if case == "mlp_infer":
        return mlp_infer(threads)
    raise SystemExit("unknown case " + case)


def last_json(text):
    for line in reversed(text.strip().splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    raise RuntimeError("no JSON line in output:\n" + text)


def cli_compare(reps, csv_path):
    """The reference run through the `modelfile train` command: its in-process loop time against
    PyTorch's loop on the same data, and the whole command against `import torch` alone."""
    modelfile = os.path.join(HERE, "..", ".build", "release", "modelfile")
    if not os.path.exists(modelfile) or not csv_path:
        print(f"(skipping the modelfile train rows: build it with `make build` and pass --csv)")
        return
    whole, loop, imports, torch_loop = [], [], [], []
    for _ in range(reps):
        start = time.perf_counter()
        out = subprocess.run([modelfile, "train", "--data", csv_path, "--json"], capture_output=True, text=True, check=True)
        whole.append(time.perf_counter() - start)
        loop.append(json.loads(out.stdout)["loop_seconds"])
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import torch"], check=True)
        imports.append(time.perf_counter() - start)
        out = subprocess.run([sys.executable, os.path.abspath(__file__), "--case", "fnn_csv", "1", csv_path],
                             capture_output=True, text=True, check=True)
        torch_loop.append(last_json(out.stdout)["total_s"])
    med = statistics.median
    print(f"{'train cmd':<12} {1:>3} {'loop (s)':<22} {med(loop):>12.4g} {med(torch_loop):>12.4g} {med(torch_loop) / med(loop):>7.2f}x")
    print(f"{'train cmd':<12} {1:>3} {'whole vs import (s)':<22} {med(whole):>12.4g} {med(imports):>12.4g} {med(imports) / med(whole):>7.2f}x")


def compare(reps, csv_path):
    swift = os.path.join(HERE, ".build", "release", "TrainBench")
    if not os.path.exists(swift):
        raise SystemExit(f"{swift} not found: run `swift build -c release --product TrainBench` in {HERE} first")
    cases = [("fnn_manual", 1, "total_s", "s", False), ("mlp_train", 1, "samples_per_s", "samples/s", True),
             ("mlp_train", 2, "samples_per_s", "samples/s", True), ("mlp_infer", 1, "b1_latency_us_median", "us", False),
             ("mlp_infer", 1, "b256_samples_per_s", "samples/s", True), ("mlp_infer", 2, "b256_samples_per_s", "samples/s", True)]
    if csv_path:
        cases.insert(1, ("fnn_csv", 1, "total_s", "s", False))
    results = {}
    for case, threads, _, _, _ in cases:
        if (case, threads) in results:
            continue
        runs = {"swift": [], "torch": []}
        extra = [csv_path] if case == "fnn_csv" else []
        for _ in range(reps):  # alternate, so both see the same machine load
            out = subprocess.run([swift, case, str(threads)] + extra, capture_output=True, text=True, check=True)
            runs["swift"].append(last_json(out.stdout))
            out = subprocess.run([sys.executable, os.path.abspath(__file__), "--case", case, str(threads)] + extra,
                                 capture_output=True, text=True, check=True)
            runs["torch"].append(last_json(out.stdout))
        results[(case, threads)] = runs
    print(f"{'case':<12} {'thr':>3} {'figure':<22} {'swift':>12} {'torch':>12} {'ratio':>8}")
    for case, threads, key, unit, higher_is_better in cases:
        runs = results[(case, threads)]
        ours = statistics.median(r[key] for r in runs["swift"])
        theirs = statistics.median(r[key] for r in runs["torch"])
        ratio = ours / theirs if higher_is_better else theirs / ours
        print(f"{case:<12} {threads:>3} {key + ' (' + unit + ')':<22} {ours:>12.4g} {theirs:>12.4g} {ratio:>7.2f}x")
        if case.startswith("fnn"):
            for key in ("thread_cpu_s", "cpu_s"):
                ours_cpu = statistics.median(r[key] for r in runs["swift"])
                theirs_cpu = statistics.median(r[key] for r in runs["torch"])
                print(f"{'':<12} {'':>3} {key + ' (s)':<22} {ours_cpu:>12.4g} {theirs_cpu:>12.4g} {theirs_cpu / ours_cpu:>7.2f}x")
    cli_compare(reps, csv_path)
    print(f"(median of {reps} alternating fresh-process runs; ratio > 1 means Swift is faster. thread_cpu_s is\n"
          " the training thread's CPU time; cpu_s is the whole process's and may include OpenBLAS's idle worker,\n"
          " which yields in a loop for about 0.1 s after the library loads, longer than the Swift loop runs)")


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "--case":
        result = run_case(sys.argv[2], int(sys.argv[3]), sys.argv[4] if len(sys.argv) > 4 else None)
        result.update({"case": sys.argv[2], "threads": int(sys.argv[3]), "runtime": "torch " + __import__("torch").__version__})
        print(json.dumps(result))
    elif len(sys.argv) >= 2 and sys.argv[1] == "--compare":
        args = sys.argv[2:]
        reps = int(args[args.index("--reps") + 1]) if "--reps" in args else 3
        csv_path = args[args.index("--csv") + 1] if "--csv" in args else None
        compare(reps, csv_path)
    else:
        print(__doc__)
