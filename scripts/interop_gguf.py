"""GGUF interop with gguf-py 0.19.0 (scripts/interop.py loads this module).

Both directions, on fresh seeded files:
- files written by gguf.GGUFWriter, every block type with random bytes (scales included, so NaN,
  infinite and subnormal scales occur), converted by modelfile to safetensors: the values equal
  gguf.quants.dequantize bit for bit (Q8_K: ggml's d·q, which gguf-py lacks);
- files written by modelfile (from safetensors, with and without --dtype f16|bf16|q8_0, and from
  GGUF) read by gguf.GGUFReader: types, shapes, metadata and values; Q8_0 blocks equal
  gguf.quants.quantize, F16 equals numpy's cast, BF16 equals gguf.quants.quantize(BF16);
- GGUF to GGUF without --dtype gives gguf-py's bytes back;
- `inspect --json` agrees with GGUFReader on offsets, sizes, types, shapes and metadata.
"""
import json
import os

import numpy as np

from interop_support import check, run

try:
    import gguf
    from gguf import GGMLQuantizationType as T, GGML_QUANT_SIZES, GGUFValueType as V, quants
except ImportError:  # the section reports itself as skipped
    gguf = None

PLAIN = {"F32": np.float32, "F16": np.float16}


def q8_k(data):
    raw = np.asarray(data, dtype=np.uint8).reshape(-1, 292)
    d = raw[:, :4].copy().view(np.float32)
    return (d * raw[:, 4:260].copy().view(np.int8).astype(np.float32)).reshape(-1)


def reference_values(tensor):
    if tensor.tensor_type == T.Q8_K:
        return q8_k(tensor.data).reshape([int(x) for x in reversed(tensor.shape.tolist())])
    return np.ascontiguousarray(quants.dequantize(tensor.data, tensor.tensor_type), dtype=np.float32)


def random_types_file(path, rng, rows):
    w = gguf.GGUFWriter(path, "interop")
    w.add_string("general.name", "random blocks")
    names = []
    for qtype in T:
        if qtype in (T.Q8_1, T.Q1_0, T.I8, T.I16, T.I32, T.I64, T.F64):
            continue
        block, size = GGML_QUANT_SIZES[qtype]
        per_row = block * int(rng.integers(1, 4)) if block > 1 else 32
        raw = rng.integers(0, 256, size=(rows, per_row // block * size), dtype=np.uint8)
        w.add_tensor(f"r.{qtype.name}", raw, raw_dtype=qtype)
        names.append(f"r.{qtype.name}")
    w.write_header_to_file(); w.write_kv_data_to_file(); w.write_tensors_to_file(); w.close()
    return names


def dequantize_checks(modelfile, work, rng):
    from safetensors.numpy import load_file
    import warnings
    warnings.simplefilter("ignore")
    for trial in range(3):
        src = os.path.join(work, f"random{trial}.gguf")
        random_types_file(src, rng, rows=int(rng.integers(1, 5)))
        out = os.path.join(work, f"random{trial}.safetensors")
        run(modelfile, "convert", "--force", src, out)
        ours = load_file(out)
        reader = gguf.GGUFReader(src)
        for tensor in reader.tensors:
            want = reference_values(tensor)
            got = ours[tensor.name]
            same = got.shape == want.shape and np.array_equal(got.view(np.uint32), want.view(np.uint32))
            check(f"dequantize trial {trial}: {tensor.tensor_type.name} equals gguf-py bit for bit", same,
                  f"{got.shape} vs {want.shape}, first differing index "
                  f"{int(np.flatnonzero(got.reshape(-1).view(np.uint32) != want.reshape(-1).view(np.uint32))[0]) if got.shape == want.shape and not same else '-'}")


def write_checks(modelfile, work, rng):
    import torch
    from safetensors.torch import save_file
    import warnings
    warnings.simplefilter("ignore")
    base = {
        "embed.weight": torch.randn(64, 96),
        "layers.0.q.weight": torch.randn(32, 64) * 3,
        "layers.0.norm.weight": torch.randn(64),
        "layers.0.odd.weight": torch.randn(5, 30),
        "head.weight": torch.randn(16, 64).to(torch.float16),
        "head.bias": torch.randn(16).to(torch.bfloat16),
        "positions": torch.arange(10, dtype=torch.int32),
        "steps": torch.tensor([1, -2, 3], dtype=torch.int64),
        "special.weight": torch.tensor([[float("nan"), float("inf"), -float("inf"), -0.0] + [1e-30] * 28,
                                        [65520.0, -1e-45, 3.4e38, 0.5] + [1.0] * 28]),
    }
    src = os.path.join(work, "base.safetensors")
    save_file(base, src, metadata={"format": "pt", "note": "interop"})
    as_float32 = {k: v.float().numpy() for k, v in base.items() if v.is_floating_point()}
    with open(src, "rb") as f:  # the tensors in the safetensors header's order
        header_length = int.from_bytes(f.read(8), "little")
        file_order = [k for k in json.loads(f.read(header_length)) if k != "__metadata__"]
    for dtype in (None, "f32", "f16", "bf16", "q8_0"):
        out = os.path.join(work, f"ours-{dtype or 'same'}.gguf")
        args = ["convert", "--force", src, out] + (["--dtype", dtype] if dtype else [])
        run(modelfile, *args)
        reader = gguf.GGUFReader(out)
        fields = {k: f.contents() for k, f in reader.fields.items() if not k.startswith("GGUF.")}
        check(f"GGUFReader reads our {dtype or 'plain'} file's metadata",
              fields.get("general.name") == "base" and fields.get("note") == "interop" and fields.get("format") == "pt"
              and fields.get("general.architecture") == "unknown", str(fields))
        tensors = {t.name: t for t in reader.tensors}
        check(f"{dtype or 'plain'}: every tensor present, in the input's order", [t.name for t in reader.tensors] == file_order, str(list(tensors)))
        for name, source in base.items():
            t = tensors[name]
            shape = [int(x) for x in reversed(t.shape.tolist())]
            ok_shape = shape == list(source.shape)
            kind = t.tensor_type.name
            if not source.is_floating_point():
                ok = kind == {torch.int32: "I32", torch.int64: "I64"}[source.dtype] and np.array_equal(t.data.reshape(-1), source.numpy().reshape(-1))
            elif dtype is None:
                expected_kind = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16"}[source.dtype]
                stored = source.contiguous().view(torch.uint8).numpy() if source.numel() else np.zeros(0, np.uint8)
                ok = kind == expected_kind and np.array_equal(t.data.reshape(-1).view(np.uint8), stored.reshape(-1))
            else:
                values = as_float32[name]
                two_d = source.dim() >= 2
                if dtype == "f32" or (dtype in ("f16", "bf16") and not two_d):
                    ok = kind == "F32" and np.array_equal(t.data.reshape(values.shape).view(np.uint32), values.view(np.uint32))
                elif dtype == "f16":
                    ok = kind == "F16" and np.array_equal(t.data.reshape(-1).view(np.uint16), quants.quantize(values, T.F16).reshape(-1).view(np.uint16))
                elif dtype == "bf16":
                    ok = kind == "BF16" and np.array_equal(t.data.reshape(-1), quants.quantize(values, T.BF16).reshape(-1))
                else:
                    if two_d and source.shape[-1] % 32 == 0:
                        ok = kind == "Q8_0" and np.array_equal(t.data.reshape(-1), quants.quantize(values, T.Q8_0).reshape(-1))
                    else:
                        keep = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16"}[source.dtype]
                        ok = kind == keep
            check(f"{dtype or 'plain'}: {name} read by GGUFReader as expected ({kind})", ok and ok_shape, f"type {kind}, shape {shape}")


def copy_checks(modelfile, work, rng):
    import warnings
    warnings.simplefilter("ignore")
    src = os.path.join(work, "theirs.gguf")
    w = gguf.GGUFWriter(src, "llama")
    w.add_custom_alignment(64)
    w.add_uint64("big", 2**64 - 1)
    w.add_int8("small", -5)
    w.add_float64("pi", 3.141592653589793)
    w.add_bool("yes", True)
    w.add_array("tokens", [f"t{i}" for i in range(300)])
    w.add_array("scores", [float(i) / 3 for i in range(300)])
    w.add_key_value("nested", [[1, 2], [3]], V.ARRAY, sub_type=V.ARRAY)
    w.add_uint32("general.file_type", 1)
    w.add_tensor("a.weight", rng.standard_normal((32, 64), dtype=np.float32).astype(np.float16))
    w.add_tensor("b.weight", quants.quantize(rng.standard_normal((8, 256), dtype=np.float32), T.Q4_0), raw_dtype=T.Q4_0)
    w.add_tensor("c.bias", rng.standard_normal(7, dtype=np.float32))
    w.write_header_to_file(); w.write_kv_data_to_file(); w.write_tensors_to_file(); w.close()
    same = os.path.join(work, "copy.gguf")
    run(modelfile, "convert", "--force", src, same)
    with open(src, "rb") as a, open(same, "rb") as b:
        check("GGUF to GGUF without --dtype gives gguf-py's bytes back", a.read() == b.read())
    q8 = os.path.join(work, "requant.gguf")
    run(modelfile, "convert", "--force", src, q8, "--dtype", "q8_0")
    theirs, ours = gguf.GGUFReader(src), gguf.GGUFReader(q8)
    keys_theirs = [(k, [t.name for t in f.types]) for k, f in theirs.fields.items()]
    keys_ours = [(k, [t.name for t in f.types]) for k, f in ours.fields.items()]
    check("requantized file keeps every key with its type, in order", keys_theirs == keys_ours)
    check("requantized file keeps every value but general.file_type (now 7)",
          all(theirs.fields[k].contents() == ours.fields[k].contents() for k in theirs.fields
              if k not in ("general.file_type", "GGUF.tensor_count", "GGUF.kv_count") and k != "scores")
          and ours.fields["general.file_type"].contents() == 7
          and np.array_equal(np.array(theirs.fields["scores"].contents(), dtype=np.float32), np.array(ours.fields["scores"].contents(), dtype=np.float32)))
    check("requantized file keeps the alignment", ours.alignment == 64 and all(t.data_offset % 64 == 0 for t in ours.tensors))
    for t_theirs, t_ours in zip(theirs.tensors, ours.tensors):
        values = reference_values(t_theirs)
        if t_ours.tensor_type == T.Q8_0:
            ok = np.array_equal(t_ours.data.reshape(-1), quants.quantize(values, T.Q8_0).reshape(-1))
        else:
            ok = t_ours.tensor_type == t_theirs.tensor_type and np.array_equal(t_ours.data, t_theirs.data)
        check(f"--dtype q8_0: {t_theirs.name} ({t_theirs.tensor_type.name} → {t_ours.tensor_type.name}) as gguf-py would write it", ok)
    # inspect --json against the reader.
    document = json.loads(run(modelfile, "inspect", "--json", src).stdout)
    check("inspect --json: version and alignment", document["version"] == 3 and document["alignment"] == 64)
    for entry, t in zip(document["tensors"], theirs.tensors):
        check(f"inspect --json: {t.name} offset, size, type and shape as GGUFReader",
              entry["offset"] == t.data_offset and entry["nbytes"] == t.n_bytes and entry["ggml_type"] == t.tensor_type.name
              and entry["shape"] == [int(x) for x in reversed(t.shape.tolist())] and entry["numel"] == t.n_elements)
    metadata = document["metadata"]
    check("inspect --json: integers exact, arrays summarised", metadata["big"] == {"type": "UINT64", "value": 2**64 - 1}
          and metadata["small"] == {"type": "INT8", "value": -5} and metadata["tokens"]["length"] == 300
          and metadata["tokens"]["first"] == [f"t{i}" for i in range(8)] and metadata["pi"]["value"] == 3.141592653589793)
    full = json.loads(run(modelfile, "inspect", "--json", "--full", src).stdout)["metadata"]
    check("inspect --json --full: whole arrays", full["tokens"]["value"] == theirs.fields["tokens"].contents()
          and full["nested"]["value"] == [[1, 2], [3]])


def gguf_checks(modelfile, work):
    if gguf is None:
        check("gguf section: gguf-py is installed", False, "pip install gguf==0.19.0")
        return
    from importlib.metadata import version
    check("gguf-py is the pinned 0.19.0", version("gguf") == "0.19.0", version("gguf"))
    rng = np.random.default_rng(11)
    dequantize_checks(modelfile, work, rng)
    write_checks(modelfile, work, rng)
    copy_checks(modelfile, work, rng)


SECTIONS = {"gguf": gguf_checks}
