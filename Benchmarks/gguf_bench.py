#!/usr/bin/env python3
"""Benchmarks modelfile's GGUF support against gguf-py (0.19.0), in the same run.

    python Benchmarks/gguf_bench.py [--work DIR] [--gib 2] [--elements 16777216] [--reps 3]
                                    [--modelfile PATH] [--bench PATH] [--keep]

Run it with the Python that has gguf and numpy (e.g. /work/venv/bin/python); build first:
`swift build -c release --product modelfile` and, in Benchmarks/, `swift build -c release --product GGUFBench`.

1. inspect: a GGUF file of about --gib GiB (a 128,000-token vocabulary with scores, types and
   280,000 merges, 290 tensors of several types) read by `modelfile inspect --json` (a fresh
   process) and by `gguf.GGUFReader` (in process, and as a fresh process), medians of --reps.
2. dequantize: one tensor of --elements values per type gguf-py dequantizes (blocks with normal
   f16 scales), timed in process: GGUFBench (the Swift kernels) against gguf.quants.dequantize;
   throughput in GB/s of float32 output, best of --reps.
3. quantize: Q8_0 of the same float32 values, GGUFBench against gguf.quants.quantize.
4. convert: the types file to safetensors with `modelfile convert` against GGUFReader +
   dequantize + safetensors save_file, fresh processes, peak RSS from GNU time.

Peak RSS comes from `/usr/bin/time -v` for every fresh process; the in-process timings report the
benchmark process's peak RSS. Figures depend on machine load: say so when reporting them.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

import numpy as np
import gguf
from gguf import GGMLQuantizationType as T, GGML_QUANT_SIZES, quants

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

# Where each block type keeps its f16 scales (set to normal values so no timing sees subnormals).
F16_FIELDS = {
    T.Q4_0: [0], T.Q4_1: [0, 2], T.Q5_0: [0], T.Q5_1: [0, 2], T.Q8_0: [0], T.Q2_K: [80, 82], T.Q3_K: [108],
    T.Q4_K: [0, 2], T.Q5_K: [0, 2], T.Q6_K: [208], T.IQ2_XXS: [0], T.IQ2_XS: [0], T.IQ2_S: [0], T.IQ3_XXS: [0],
    T.IQ3_S: [0], T.IQ1_S: [0], T.IQ4_NL: [0], T.IQ4_XS: [0], T.TQ1_0: [52], T.TQ2_0: [64],
}
DEQUANT_TYPES = [T.F16, T.BF16, T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1, T.Q8_0, T.Q2_K, T.Q3_K, T.Q4_K, T.Q5_K, T.Q6_K,
                 T.IQ2_XXS, T.IQ2_XS, T.IQ2_S, T.IQ3_XXS, T.IQ3_S, T.IQ1_S, T.IQ1_M, T.IQ4_NL, T.IQ4_XS,
                 T.TQ1_0, T.TQ2_0, T.MXFP4, T.NVFP4]


def blocks(qtype, elements, rng):
    """Random blocks of `qtype` holding `elements` values, with normal f16 scales."""
    if qtype == T.F16:
        return rng.standard_normal(elements, dtype=np.float32).astype(np.float16).view(np.uint8)
    if qtype == T.BF16:
        return (rng.standard_normal(elements, dtype=np.float32).view(np.uint32) >> 16).astype(np.uint16).view(np.uint8)
    block, size = GGML_QUANT_SIZES[qtype]
    raw = rng.integers(0, 256, size=(elements // block, size), dtype=np.uint8)
    for offset in F16_FIELDS.get(qtype, []):
        scales = (rng.random(raw.shape[0], dtype=np.float32) * 0.01 + 0.001).astype(np.float16)
        raw[:, offset:offset + 2] = scales.view(np.uint8).reshape(-1, 2)
    return raw.reshape(-1)


def write_types_file(path, elements, rng):
    w = gguf.GGUFWriter(path, "bench")
    for qtype in DEQUANT_TYPES:
        data = blocks(qtype, elements, rng)
        rows = 64
        w.add_tensor(f"t.{qtype.name}", data.reshape(rows, -1), raw_dtype=qtype)
    w.write_header_to_file(); w.write_kv_data_to_file(); w.write_tensors_to_file(); w.close()


def write_big_file(path, gib, rng):
    """A llama-like file: big vocabulary metadata, then about `gib` GiB of mixed-type tensors."""
    w = gguf.GGUFWriter(path, "llama")
    vocab = [f"tok{i}" for i in range(128000)]
    w.add_token_list(vocab)
    w.add_token_scores([float(i) for i in range(128000)])
    w.add_token_types([1] * 128000)
    w.add_token_merges([f"t{i} o{i}" for i in range(280000)])
    w.add_uint32("llama.block_count", 32)
    w.add_string("tokenizer.chat_template", "{% for m in messages %}{{ m.content }}{% endfor %}")
    layer = rng.integers(0, 256, size=1 << 20, dtype=np.uint8)  # reused block bytes
    per_tensor = int(gib * (1 << 30)) // 288
    kinds = [T.Q4_K, T.Q6_K, T.Q8_0, T.F16]
    for i in range(288):
        qtype = kinds[i % len(kinds)]
        block, size = GGML_QUANT_SIZES[qtype]
        row_bytes = 4096 // block * size
        rows = max(1, per_tensor // row_bytes)
        data = np.resize(layer, rows * row_bytes).reshape(rows, row_bytes)
        w.add_tensor(f"blk.{i // 9}.t{i % 9}.weight", data, raw_dtype=qtype)
    w.add_tensor("output_norm.weight", np.ones(4096, dtype=np.float32))
    w.add_tensor("rope_freqs", np.ones(64, dtype=np.float32))
    w.write_header_to_file(); w.write_kv_data_to_file(); w.write_tensors_to_file(); w.close()


def timed_process(command):
    """Wall seconds and peak RSS (KiB) of a fresh process, from GNU time."""
    start = time.perf_counter()
    result = subprocess.run(["/usr/bin/time", "-v", *command], capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited {result.returncode}: {result.stderr[-2000:]}")
    rss = next(int(line.split(":")[1]) for line in result.stderr.splitlines() if "Maximum resident set size" in line)
    return seconds, rss, result.stdout


def median_process(command, reps):
    runs = [timed_process(command) for _ in range(reps)]
    return statistics.median(r[0] for r in runs), max(r[1] for r in runs), runs[-1][2]


def best(function, reps):
    """Least thread CPU time of `reps` calls (the machine may be shared; GGUFBench measures the same way)."""
    times = []
    for _ in range(reps):
        start = time.thread_time()
        function()
        times.append(time.thread_time() - start)
    return min(times)


def peak_rss_kib():
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--work", default="/tmp/modelfile-gguf-bench")
    parser.add_argument("--gib", type=float, default=2)
    parser.add_argument("--elements", type=int, default=1 << 24)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--modelfile", default=os.path.join(ROOT, ".build", "release", "modelfile"))
    parser.add_argument("--bench", default=os.path.join(HERE, ".build", "release", "GGUFBench"))
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--skip", nargs="*", default=[], help="parts to skip: inspect dequantize quantize convert")
    args = parser.parse_args()
    os.makedirs(args.work, exist_ok=True)
    rng = np.random.default_rng(0)
    results = {}

    types_path = os.path.join(args.work, "types.gguf")
    if not os.path.exists(types_path):
        write_types_file(types_path, args.elements, rng)

    if "inspect" not in args.skip:
        big = os.path.join(args.work, "big.gguf")
        if not os.path.exists(big):
            write_big_file(big, args.gib, rng)
        size = os.path.getsize(big)
        ours, ours_rss, _ = median_process([args.modelfile, "inspect", "--json", big], args.reps)
        reader_in_process = best(lambda: gguf.GGUFReader(big), args.reps)
        code = f"import gguf; r = gguf.GGUFReader({big!r}); print(len(r.tensors), len(r.fields))"
        theirs, theirs_rss, _ = median_process([sys.executable, "-c", code], args.reps)
        base, base_rss, _ = median_process([sys.executable, "-c", "import gguf"], args.reps)
        results["inspect"] = {"file_bytes": size, "modelfile_s": ours, "modelfile_rss_kib": ours_rss,
                              "gguf_reader_process_s": theirs, "gguf_reader_rss_kib": theirs_rss,
                              "gguf_reader_in_process_s": reader_in_process, "python_import_gguf_s": base}
        print(f"inspect {size / (1 << 30):.2f} GiB: modelfile {ours * 1e3:.1f} ms ({ours_rss // 1024} MiB) | "
              f"GGUFReader {reader_in_process * 1e3:.1f} ms in process, {theirs * 1e3:.0f} ms as a process "
              f"({theirs_rss // 1024} MiB; `import gguf` alone {base * 1e3:.0f} ms) | "
              f"{reader_in_process / ours:.1f}x in-process, {theirs / ours:.1f}x process to process", flush=True)
        if not args.keep:
            os.remove(big)

    reader = gguf.GGUFReader(types_path)
    if "dequantize" not in args.skip or "quantize" not in args.skip:
        swift = {}
        for mode in ("dequantize", "quantize"):
            if mode in args.skip:
                continue
            seconds, rss, out = timed_process([args.bench, mode, types_path, str(args.reps)])
            swift[mode] = {json.loads(line)["type"]: json.loads(line) for line in out.splitlines()}
            swift[mode + "_rss_kib"] = rss
        for mode in ("dequantize", "quantize"):
            if mode in args.skip:
                continue
            rows = []
            what = ("dequantize: GB/s of float32 output" if mode == "dequantize"
                    else "quantize to Q8_0 the float32 values of each type's tensor: GB/s of float32 input")
            print(f"\n{what}; least thread CPU time of {args.reps}; GGUFBench peak RSS {swift[mode + '_rss_kib'] // 1024} MiB")
            for tensor in reader.tensors:
                qtype = tensor.tensor_type
                name = qtype.name
                if name not in swift[mode]:
                    continue
                n = int(tensor.n_elements)
                if mode == "dequantize":
                    theirs = best(lambda: quants.dequantize(tensor.data, qtype), args.reps)
                else:
                    values = quants.dequantize(tensor.data, qtype).astype(np.float32)
                    theirs = best(lambda: quants.quantize(values, T.Q8_0), args.reps)
                ours = swift[mode][name]["seconds"]
                gb = n * 4 / 1e9
                rows.append({"type": name, "elements": n, "modelfile_gbps": gb / ours, "numpy_gbps": gb / theirs,
                             "ratio": theirs / ours})
                print(f"  {name:8s} modelfile {gb / ours:7.2f} GB/s   gguf-py {gb / theirs:6.2f} GB/s   {theirs / ours:6.1f}x", flush=True)
            results[mode] = rows
        results["python_peak_rss_kib"] = peak_rss_kib()

    if "convert" not in args.skip:
        out = os.path.join(args.work, "out.safetensors")
        ours, ours_rss, _ = median_process([args.modelfile, "convert", "--quiet", "--force", types_path, out], args.reps)
        code = ("import gguf, numpy as np; from gguf import quants; from safetensors.numpy import save_file; "
                f"r = gguf.GGUFReader({types_path!r}); "
                "save_file({t.name: np.ascontiguousarray(quants.dequantize(t.data, t.tensor_type), dtype=np.float32) "
                f"for t in r.tensors}}, {out!r})")
        theirs, theirs_rss, _ = median_process([sys.executable, "-c", code], args.reps)
        size = os.path.getsize(out)
        results["convert"] = {"output_bytes": size, "modelfile_s": ours, "modelfile_rss_kib": ours_rss,
                              "python_s": theirs, "python_rss_kib": theirs_rss}
        print(f"\nconvert types.gguf → safetensors ({size / (1 << 20):.0f} MiB out): modelfile {ours:.2f} s, "
              f"{ours_rss // 1024} MiB | gguf-py + save_file {theirs:.2f} s, {theirs_rss // 1024} MiB | {theirs / ours:.1f}x")
        os.remove(out)

    with open(os.path.join(args.work, "results.json"), "w") as f:
        json.dump(results, f, indent=1)
    if not args.keep:
        shutil.rmtree(args.work, ignore_errors=True)


if __name__ == "__main__":
    main()
