#!/usr/bin/env python3
"""Generates the GGUF fixtures under Fixtures/gguf/ with the real gguf-py.

Pinned versions (the script refuses to run with others): gguf 0.19.0, numpy 2.4.6.
Seed: numpy.random.default_rng(20240611) for everything.

    /work/venv/bin/python Fixtures/generate_gguf.py

Each file gets `<name>.json` beside it with what gguf-py reads back and computes:
- the version, alignment, data offset and file size;
- every metadata entry in order, with its exact type and value: integers as decimal text, floats
  as bit patterns, strings as UTF-8 hex, arrays item by item;
- every tensor: name, ggml type, shape in PyTorch order, GGUF dimensions, absolute offset, stored
  size and SHA-256, and the values `gguf.quants.dequantize` returns (SHA-256 of the float32 bytes
  and the first 8 values as bit patterns); plain integer and F64 tensors as stored.

Files:
- types.gguf: one tensor per ggml type gguf-py 0.19.0 knows, two rows each (row 0: realistic
  blocks, made by gguf.quants.quantize where gguf-py can quantize the type, else random bytes with
  normal f16 scales; row 1: random bytes, scales included, so NaN, infinite and subnormal scales
  are pinned too); float32 sources with special values and their F16, BF16 and Q8_0 encodings by
  gguf.quants.quantize.
- metadata.gguf: every metadata value type (integer extremes, NaN and infinite floats, empty,
  Unicode and control-character strings, arrays of every type, nested arrays, a 100-item array),
  general.alignment = 64.
- tiny_llama.gguf: a llama-shaped file (tokenizer arrays, chat template, F16/Q8_0/Q4_K/F32 tensors).
- tiny_llama_v2.gguf: the same bytes with the version field set to 2 (GGUF v2 and v3 share a
  layout; gguf-py 0.19.0 writes only v3). gguf-py reads it.
- chat_template_injection.gguf: a chat template that walks to os.popen (the CVE-2024-34359 pattern).
- bad_big_endian.gguf: written by GGUFWriter(endianess=BIG); gguf-py reads it, modelfile refuses it.
"""
import hashlib
import json
import os
import struct
import sys

import numpy as np

PINNED = {"gguf": "0.19.0", "numpy": "2.4.6"}
HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "gguf")


def check_versions():
    from importlib.metadata import version
    found = {name: version(name) for name in PINNED}
    if found != PINNED:
        sys.exit(f"generate_gguf.py needs {PINNED}; found {found}")


check_versions()
import gguf  # noqa: E402
from gguf import GGMLQuantizationType as T, GGML_QUANT_SIZES, GGUFValueType as V, quants  # noqa: E402

RNG = np.random.default_rng(20240611)
PLAIN = {T.F32: np.float32, T.F16: np.float16, T.F64: np.float64, T.I8: np.int8, T.I16: np.int16,
         T.I32: np.int32, T.I64: np.int64}
# Where each block type keeps its f16 scales (row 0 gets normal values there).
F16_FIELDS = {
    T.Q4_0: [0], T.Q4_1: [0, 2], T.Q5_0: [0], T.Q5_1: [0, 2], T.Q8_0: [0], T.Q8_1: [0, 2], T.Q2_K: [80, 82],
    T.Q3_K: [108], T.Q4_K: [0, 2], T.Q5_K: [0, 2], T.Q6_K: [208], T.IQ2_XXS: [0], T.IQ2_XS: [0], T.IQ2_S: [0],
    T.IQ3_XXS: [0], T.IQ3_S: [0], T.IQ1_S: [0], T.IQ4_NL: [0], T.IQ4_XS: [0], T.TQ1_0: [52], T.TQ2_0: [64],
    T.Q1_0: [0],
}
QUANTIZABLE = [T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1, T.Q8_0, T.BF16, T.TQ1_0, T.TQ2_0, T.MXFP4]


def path(name):
    os.makedirs(HERE, exist_ok=True)
    return os.path.join(HERE, name)


def write_json(name, value):
    with open(path(name), "w") as f:
        json.dump(value, f, indent=1)
        f.write("\n")


def sha(data):
    return hashlib.sha256(bytes(data)).hexdigest()


def bits32(values):
    return ["%08x" % v for v in np.asarray(values, dtype=np.float32).view(np.uint32).reshape(-1)[:8]]


def q8_k_reference(blocks):
    """Q8_K (gguf-py has no dequantizer): ggml's d · q, d a float32, 256 signed bytes after it."""
    raw = blocks.reshape(-1, 292)
    d = raw[:, :4].copy().view(np.float32)
    q = raw[:, 4:260].copy().view(np.int8).astype(np.float32)
    return (d * q).reshape(-1)


def encode_value(value, vtype, item_type=None):
    """Our own exact description of a value we wrote (types are known at write time)."""
    if vtype == V.ARRAY:
        sub = item_type[0] if isinstance(item_type, tuple) else item_type
        inner = item_type[1] if isinstance(item_type, tuple) else None
        return {"type": "ARRAY", "item_type": sub.name, "items": [encode_value(v, sub, inner) for v in value]}
    if vtype == V.STRING:
        data = value.encode("utf-8") if isinstance(value, str) else bytes(value)
        return {"type": "STRING", "hex": data.hex()}
    if vtype == V.BOOL:
        return {"type": "BOOL", "value": bool(value)}
    if vtype == V.FLOAT32:
        return {"type": "FLOAT32", "bits": "%08x" % struct.unpack("<I", struct.pack("<f", value))[0]}
    if vtype == V.FLOAT64:
        return {"type": "FLOAT64", "bits": "%016x" % struct.unpack("<Q", struct.pack("<d", value))[0]}
    return {"type": vtype.name, "text": str(int(value))}


def reader_value(field):
    """gguf-py's contents() of a field, for the record (JSON-safe)."""
    value = field.contents()
    def safe(v):
        if isinstance(v, float) and (v != v or v in (float("inf"), float("-inf"))):
            return repr(v)
        if isinstance(v, list):
            return [safe(x) for x in v]
        return v
    return safe(value)


def describe_file(name, written, made_by, extra=None):
    """Reads `name` back with GGUFReader and records what it holds; `written` lists the metadata
    (key, exact value description) in file order as we wrote it, checked against the reader."""
    p = path(name)
    reader = gguf.GGUFReader(p)
    keys = [k for k in reader.fields if not k.startswith("GGUF.")]
    assert keys == [k for k, _ in written], (keys, [k for k, _ in written])
    for key, description in written:
        field = reader.fields[key]
        assert field.types[0].name == description["type"], (key, field.types, description["type"])
    tensors = []
    for t in reader.tensors:
        info = {"name": t.name, "ggml_type": t.tensor_type.name,
                "shape": [int(x) for x in reversed(t.shape.tolist())], "gguf_dimensions": [int(x) for x in t.shape.tolist()],
                "offset": int(t.data_offset), "nbytes": int(t.n_bytes), "numel": int(t.n_elements),
                "stored_sha256": sha(t.data.tobytes())}
        if t.tensor_type in (T.I8, T.I16, T.I32, T.I64, T.F64):
            info["values"] = {"read_as": {T.I8: "I8", T.I16: "I16", T.I32: "I32", T.I64: "I64", T.F64: "F64"}[t.tensor_type],
                              "sha256": sha(t.data.tobytes())}
        elif t.tensor_type == T.Q8_K:
            values = q8_k_reference(t.data)
            info["dequantized"] = {"reference": "ggml d*q (gguf-py has no Q8_K dequantizer)",
                                   "sha256": sha(values.astype(np.float32).tobytes()), "first_bits": bits32(values)}
        else:
            try:
                values = quants.dequantize(t.data, t.tensor_type)
            except NotImplementedError:
                info["dequantized"] = None
            else:
                values = np.ascontiguousarray(values, dtype=np.float32)
                assert list(values.shape) == info["shape"], (t.name, values.shape)
                info["dequantized"] = {"reference": "gguf.quants.dequantize", "sha256": sha(values.tobytes()),
                                       "first_bits": bits32(values)}
        tensors.append(info)
    document = {"file": name, "made_by": made_by, "gguf_py_reads": True,
                "version": int(reader.fields["GGUF.version"].parts[0][0]), "alignment": int(reader.alignment),
                "data_offset": int(reader.data_offset), "file_bytes": os.path.getsize(p),
                "metadata": [dict(key=k, **d) for k, d in written], "tensors": tensors}
    if extra:
        document.update(extra)
    write_json(name + ".json", document)
    return document


def realistic_blocks(qtype, rows, per_row):
    """Blocks of `qtype` for `rows` rows of `per_row` values: row 0 quantized by gguf-py or random
    with normal scales, the rest random bytes."""
    block, size = GGML_QUANT_SIZES[qtype]
    raw = RNG.integers(0, 256, size=(rows, per_row // block * size), dtype=np.uint8)
    if qtype in QUANTIZABLE:
        values = RNG.standard_normal((1, per_row), dtype=np.float32)
        raw[0] = quants.quantize(values, qtype).reshape(-1)
    else:
        first = raw[0].reshape(-1, size)
        for offset in F16_FIELDS.get(qtype, []):
            scales = (RNG.random(first.shape[0], dtype=np.float32) * 0.02 + 0.001).astype(np.float16)
            first[:, offset:offset + 2] = scales.view(np.uint8).reshape(-1, 2)
        if qtype == T.Q8_K:
            first[:, 0:4] = (RNG.random(first.shape[0], dtype=np.float32) * 0.02).view(np.uint8).reshape(-1, 4)
        raw[0] = first.reshape(-1)
    return raw


def types_file():
    name = "types.gguf"
    w = gguf.GGUFWriter(path(name), "fixture")
    written = [("general.architecture", encode_value("fixture", V.STRING))]
    for qtype in T:
        if qtype in PLAIN:
            dtype = PLAIN[qtype]
            if np.issubdtype(dtype, np.integer):
                info = np.iinfo(dtype)
                data = np.array([[info.min, -1, 0, 1, info.max, 7], [2, 3, 5, 8, 13, 21]], dtype=dtype)
            else:
                data = RNG.standard_normal((2, 6)).astype(dtype)
            w.add_tensor(f"type.{qtype.name}", data)
        else:
            block = GGML_QUANT_SIZES[qtype][0]
            per_row = max(block, 64)
            w.add_tensor(f"type.{qtype.name}", realistic_blocks(qtype, 2, per_row), raw_dtype=qtype)
    # Encoders: float32 sources and gguf-py's encodings of them.
    special = np.array([np.nan, np.inf, -np.inf, -0.0, 0.0, 1e-45, -1e-45, 1.5e-8, 65504.0, 65520.0, -65536.0,
                        3.4e38, -3.4e38, 0.5, -0.5, 1.0, 1 / 3, 2.5, -2.5, 126.5, 127.49, -127.5, 1e-20, 6.1e-5],
                       dtype=np.float32)
    special = np.concatenate([special, RNG.standard_normal(8, dtype=np.float32) * 10]).reshape(1, 32)
    nan_payload = np.array([0x7F800001, 0xFFC12345, 0x7FBFFFFF, 0x7F802000], dtype=np.uint32).view(np.float32)
    special_rows = np.concatenate([special, np.tile(nan_payload, 8).reshape(1, 32),
                                   np.zeros((1, 32), dtype=np.float32), RNG.standard_normal((1, 32), dtype=np.float32) * 1e-30])
    normal = RNG.standard_normal((4, 64), dtype=np.float32)
    for label, source in (("special", special_rows), ("normal", normal)):
        w.add_tensor(f"source.{label}.F32", source)
        w.add_tensor(f"encoded.{label}.F16", quants.quantize(source, T.F16))
        w.add_tensor(f"encoded.{label}.BF16", quants.quantize(source, T.BF16), raw_dtype=T.BF16)
        w.add_tensor(f"encoded.{label}.Q8_0", quants.quantize(source, T.Q8_0), raw_dtype=T.Q8_0)
    w.write_header_to_file(); w.write_kv_data_to_file(); w.write_tensors_to_file(); w.close()
    tables = {"ggml_types": {t.name: [int(t.value), *GGML_QUANT_SIZES[t]] for t in T},
              "value_types": {v.name: int(v.value) for v in V}}
    describe_file(name, written, "gguf.GGUFWriter, gguf.quants.quantize (gguf 0.19.0)", extra=tables)


METADATA = [
    ("general.architecture", "fixture", V.STRING, None),
    ("general.alignment", 64, V.UINT32, None),
    ("u8.min", 0, V.UINT8, None), ("u8.max", 255, V.UINT8, None),
    ("i8.min", -128, V.INT8, None), ("i8.max", 127, V.INT8, None),
    ("u16.max", 65535, V.UINT16, None), ("i16.min", -32768, V.INT16, None),
    ("u32.max", 4294967295, V.UINT32, None), ("i32.min", -2147483648, V.INT32, None),
    ("u64.max", 18446744073709551615, V.UINT64, None), ("u64.big", 9223372036854775808, V.UINT64, None),
    ("i64.min", -9223372036854775808, V.INT64, None), ("i64.max", 9223372036854775807, V.INT64, None),
    ("f32.tenth", 0.1, V.FLOAT32, None), ("f32.nan", float("nan"), V.FLOAT32, None),
    ("f32.inf", float("inf"), V.FLOAT32, None), ("f32.negative_zero", -0.0, V.FLOAT32, None),
    ("f32.tiny", 1e-45, V.FLOAT32, None),
    ("f64.pi", 3.141592653589793, V.FLOAT64, None), ("f64.minus_inf", float("-inf"), V.FLOAT64, None),
    ("f64.huge", 1.7976931348623157e308, V.FLOAT64, None),
    ("bool.true", True, V.BOOL, None), ("bool.false", False, V.BOOL, None),
    ("string.empty", "", V.STRING, None), ("string.unicode", "żółw 🐢 e\u0301", V.STRING, None),
    ("string.controls", "line1\nline2\t\x1b[31mred\x1b[0m \u202egnp.exe\r", V.STRING, None),
    ("array.u8", [0, 1, 255], V.ARRAY, V.UINT8), ("array.i8", [-128, 0, 127], V.ARRAY, V.INT8),
    ("array.u16", [0, 65535], V.ARRAY, V.UINT16), ("array.i16", [-32768, 32767], V.ARRAY, V.INT16),
    ("array.u32", [0, 4294967295], V.ARRAY, V.UINT32), ("array.i32", [-2147483648, 5], V.ARRAY, V.INT32),
    ("array.u64", [0, 18446744073709551615], V.ARRAY, V.UINT64),
    ("array.i64", [-9223372036854775808, 9223372036854775807], V.ARRAY, V.INT64),
    ("array.f32", [0.5, float("nan"), -float("inf")], V.ARRAY, V.FLOAT32),
    ("array.f64", [0.1, -0.0], V.ARRAY, V.FLOAT64),
    ("array.bool", [True, False, True], V.ARRAY, V.BOOL),
    ("array.string", ["a", "", "ü\n"], V.ARRAY, V.STRING),
    ("array.nested", [[1, 2], [3]], V.ARRAY, (V.ARRAY, V.INT32)),
    ("array.nested_strings", [["x", "y"], ["z"]], V.ARRAY, (V.ARRAY, V.STRING)),
    ("array.long", [f"token{i}" for i in range(100)], V.ARRAY, V.STRING),
    ("array.long_i32", list(range(65)), V.ARRAY, V.INT32),
]


def metadata_file():
    name = "metadata.gguf"
    w = gguf.GGUFWriter(path(name), "fixture")
    written = [("general.architecture", encode_value("fixture", V.STRING))]
    for key, value, vtype, item_type in METADATA[1:]:
        if key == "general.alignment":
            w.add_custom_alignment(value)
        elif vtype == V.ARRAY:
            sub = item_type[0] if isinstance(item_type, tuple) else item_type
            w.add_key_value(key, value, V.ARRAY, sub_type=sub)
        else:
            w.add_key_value(key, value, vtype)
        written.append((key, encode_value(value, vtype, item_type)))
    w.add_tensor("norm.weight", np.arange(3, dtype=np.float32))
    w.add_tensor("proj.weight", quants.quantize(RNG.standard_normal((2, 32), dtype=np.float32), T.Q8_0), raw_dtype=T.Q8_0)
    w.write_header_to_file(); w.write_kv_data_to_file(); w.write_tensors_to_file(); w.close()
    doc = describe_file(name, written, "gguf.GGUFWriter (gguf 0.19.0)")
    reader = gguf.GGUFReader(path(name))
    doc["gguf_py_contents"] = {k: reader_value(f) for k, f in reader.fields.items() if not k.startswith("GGUF.")}
    write_json(name + ".json", doc)


def llama_like(name, template=None):
    w = gguf.GGUFWriter(path(name), "llama")
    written = [("general.architecture", encode_value("llama", V.STRING))]
    def add(key, value, vtype, item_type=None):
        if vtype == V.ARRAY:
            w.add_key_value(key, value, V.ARRAY, sub_type=item_type)
        else:
            w.add_key_value(key, value, vtype)
        written.append((key, encode_value(value, vtype, item_type)))
    tokens = ["<unk>", "<s>", "</s>"] + [f"<0x{i:02X}>" for i in range(16)] + [f"▁w{i}" for i in range(81)]
    add("general.name", "tiny-llama", V.STRING)
    add("general.file_type", 7, V.UINT32)
    add("llama.block_count", 1, V.UINT32)
    add("llama.context_length", 128, V.UINT32)
    add("llama.embedding_length", 32, V.UINT32)
    add("llama.attention.layer_norm_rms_epsilon", 1e-5, V.FLOAT32)
    add("tokenizer.ggml.model", "llama", V.STRING)
    add("tokenizer.ggml.tokens", tokens, V.ARRAY, V.STRING)
    add("tokenizer.ggml.scores", [float(-i) for i in range(100)], V.ARRAY, V.FLOAT32)
    add("tokenizer.ggml.token_type", [3, 3, 3] + [6] * 16 + [1] * 81, V.ARRAY, V.INT32)
    add("tokenizer.ggml.bos_token_id", 1, V.UINT32)
    add("tokenizer.chat_template", template or "{% for m in messages %}<|{{ m.role }}|>{{ m.content }}{% endfor %}", V.STRING)
    add("general.quantization_version", 2, V.UINT32)
    w.add_tensor("token_embd.weight", RNG.standard_normal((100, 32), dtype=np.float32).astype(np.float16))
    w.add_tensor("blk.0.attn_norm.weight", np.ones(32, dtype=np.float32))
    w.add_tensor("blk.0.attn_q.weight", quants.quantize(RNG.standard_normal((32, 32), dtype=np.float32), T.Q8_0), raw_dtype=T.Q8_0)
    w.add_tensor("blk.0.ffn_down.weight", realistic_blocks(T.Q4_K, 4, 256)[:1].repeat(4, axis=0), raw_dtype=T.Q4_K)
    w.add_tensor("output_norm.weight", np.full(32, 0.5, dtype=np.float32))
    w.write_header_to_file(); w.write_kv_data_to_file(); w.write_tensors_to_file(); w.close()
    return written


def tiny_files():
    written = llama_like("tiny_llama.gguf")
    describe_file("tiny_llama.gguf", written, "gguf.GGUFWriter (gguf 0.19.0)")
    with open(path("tiny_llama.gguf"), "rb") as f:
        data = bytearray(f.read())
    data[4:8] = struct.pack("<I", 2)
    with open(path("tiny_llama_v2.gguf"), "wb") as f:
        f.write(data)
    describe_file("tiny_llama_v2.gguf", written, "gguf.GGUFWriter (gguf 0.19.0), version field set to 2")
    payload = "{{ cycler.__init__.__globals__.os.popen('id').read() }}{% for m in messages %}{{ m.content }}{% endfor %}"
    written = llama_like("chat_template_injection.gguf", template=payload)
    describe_file("chat_template_injection.gguf", written, "gguf.GGUFWriter (gguf 0.19.0)")


def big_endian_file():
    name = "bad_big_endian.gguf"
    w = gguf.GGUFWriter(path(name), "fixture", endianess=gguf.GGUFEndian.BIG)
    w.add_uint32("answer", 42)
    w.add_tensor("x", np.arange(4, dtype=np.float32))
    w.write_header_to_file(); w.write_kv_data_to_file(); w.write_tensors_to_file(); w.close()
    reader = gguf.GGUFReader(path(name))
    with open(path(name), "rb") as f:
        head = f.read(8)
    write_json(name + ".json", {"file": name, "made_by": "gguf.GGUFWriter(endianess=BIG) (gguf 0.19.0)",
                                "gguf_py_reads": True, "gguf_py_byte_order": reader.byte_order,
                                "version_field_hex": head[4:8].hex(), "modelfile_refuses": True,
                                "answer": int(reader.fields["answer"].contents())})


def main():
    types_file()
    metadata_file()
    tiny_files()
    big_endian_file()
    for name in sorted(os.listdir(HERE)):
        print(f"{os.path.getsize(os.path.join(HERE, name)):7d}  gguf/{name}")


if __name__ == "__main__":
    main()
