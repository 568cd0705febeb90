#!/usr/bin/env python3
"""Download benchmark: `modelfile download` against huggingface_hub's `snapshot_download`, from the same
local stand-in for the hub (scripts/hub_server.py), in the same run.

    python3 Benchmarks/hub_bench.py --python /path/to/venv/bin/python [--runs 3] [--work /tmp/modelfile-hub-bench]

Cases: one 1 GiB file (served as an LFS file behind a redirect, as the hub does), and a repository of
100 small files (10 kB to 20 kB). Each run starts from an empty cache, in a fresh process under
/usr/bin/time -v (wall time, peak RSS); the two tools alternate. Then remote inspect: the requests and
bytes `inspect hf://` needs for the header of a 1 GiB safetensors file of 2,000 tensors.
"""
import argparse
import json
import os
import random
import re
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts"))
import hub_server  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")


def timed(command, env):
    """Wall seconds and peak RSS (MiB) of `command`, from GNU time."""
    start = time.monotonic()
    result = subprocess.run(["/usr/bin/time", "-v", *command], env=env, capture_output=True, text=True)
    wall = time.monotonic() - start
    if result.returncode != 0:
        raise RuntimeError(f"{command[0]} failed: {result.stderr[-1500:]}")
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", result.stderr).group(1)) / 1024
    return wall, rss


def make_repositories(work):
    big = os.path.join(work, "repo-big")
    small = os.path.join(work, "repo-small")
    header_repo = os.path.join(work, "repo-header")
    for folder in (big, small, header_repo):
        os.makedirs(folder, exist_ok=True)
    rng = random.Random(0)
    path = os.path.join(big, "model.bin")
    if not os.path.exists(path) or os.path.getsize(path) != 1 << 30:
        block = rng.randbytes(1 << 20)
        with open(path, "wb") as f:
            for index in range(1024):
                f.write(block[index:] + block[:index])
    for index in range(100):
        with open(os.path.join(small, f"file-{index:03d}.json"), "wb") as f:
            f.write(rng.randbytes(10_000 + rng.randrange(10_000)))
    # A safetensors header of 2,000 tensors in front of 1 GiB of (sparse) data.
    entries, offset, size = {}, 0, (1 << 30) // 2000 // 4 * 4
    for index in range(2000):
        entries[f"model.layers.{index}.weight"] = {"dtype": "F32", "shape": [size // 4], "data_offsets": [offset, offset + size]}
        offset += size
    header = json.dumps({"__metadata__": {"format": "pt"}, **entries}, separators=(",", ":")).encode()
    header += b" " * (-len(header) % 8)
    with open(os.path.join(header_repo, "model.safetensors"), "wb") as f:
        f.write(len(header).to_bytes(8, "little") + header)
        f.truncate(8 + len(header) + offset)
    return big, small, header_repo


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--python", default=sys.executable, help="a Python with huggingface_hub 2.4.0")
    parser.add_argument("--modelfile", default=os.path.join(ROOT, ".build", "release", "modelfile"))
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--work", default="/tmp/modelfile-hub-bench")
    args = parser.parse_args()
    os.makedirs(args.work, exist_ok=True)
    big, small, header_repo = make_repositories(args.work)
    servers = {"1 GiB file": hub_server.serve(big, "bench/big"), "100 small files": hub_server.serve(small, "bench/small")}
    repos = {"1 GiB file": "bench/big", "100 small files": "bench/small"}
    results = {}
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
    base_env["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
    for case, server in servers.items():
        endpoint = f"http://127.0.0.1:{server.server_address[1]}"
        times = {"modelfile": [], "huggingface_hub": []}
        for run in range(args.runs):
            for tool in (["modelfile", "huggingface_hub"] if run % 2 == 0 else ["huggingface_hub", "modelfile"]):
                cache = os.path.join(args.work, f"cache-{tool}")
                shutil.rmtree(cache, ignore_errors=True)
                env = dict(base_env, HF_ENDPOINT=endpoint, HF_HUB_CACHE=cache)
                if tool == "modelfile":
                    command = [args.modelfile, "download", repos[case], "--quiet"]
                else:
                    command = [args.python, "-c", f"from huggingface_hub import snapshot_download; snapshot_download({repos[case]!r})"]
                times[tool].append(timed(command, env))
                shutil.rmtree(cache, ignore_errors=True)
        best = {tool: min(values) for tool, values in times.items()}
        results[case] = {tool: {"seconds": round(w, 3), "peak_rss_mib": round(r, 1)} for tool, (w, r) in best.items()}
        ratio = best["huggingface_hub"][0] / best["modelfile"][0]
        print(f"{case:16s}  modelfile {best['modelfile'][0]:7.2f} s  {best['modelfile'][1]:7.1f} MiB   "
              f"huggingface_hub {best['huggingface_hub'][0]:7.2f} s  {best['huggingface_hub'][1]:7.1f} MiB   "
              f"(huggingface_hub time / modelfile time = {ratio:.2f})")
        results[case]["ratio"] = round(ratio, 2)
        server.shutdown()

    server = hub_server.serve(header_repo, "bench/header")
    endpoint = f"http://127.0.0.1:{server.server_address[1]}"
    server.log.clear()
    env = dict(base_env, HF_ENDPOINT=endpoint)
    result = subprocess.run([args.modelfile, "inspect", "--json", "hf://bench/header/model.safetensors"], env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(result.stderr)
    tensors = len(json.loads(result.stdout)["tensors"])
    requests = len(server.log)
    sent = sum(count for _, _, count in server.log)
    header_bytes = 8 + int.from_bytes(open(os.path.join(header_repo, "model.safetensors"), "rb").read(8), "little")
    print(f"remote inspect   {tensors} tensors, header {header_bytes} bytes of a {os.path.getsize(os.path.join(header_repo, 'model.safetensors'))}-byte file: "
          f"{requests} requests, {sent} body bytes")
    results["remote inspect"] = {"tensors": tensors, "header_bytes": header_bytes, "requests": requests, "body_bytes": sent}
    server.shutdown()
    with open(os.path.join(args.work, "hub_results.json"), "w") as f:
        json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
