#!/usr/bin/env python3
"""Generates every committed fixture under Fixtures/ with the real libraries.

Pinned versions (the script refuses to run with others, since fixtures must be reproducible):
    torch 2.13.0 (CPU), safetensors 0.8.0, pytorch-lightning 2.6.6, huggingface_hub 2.4.0

Set-up (outside the repository; torch is large):
    python3 -m venv /tmp/modelfile-venv
    /tmp/modelfile-venv/bin/pip install torch==2.13.0 safetensors==0.8.0 \
        pytorch-lightning==2.6.6 huggingface_hub==2.4.0 numpy
    /tmp/modelfile-venv/bin/python Fixtures/generate_fixtures.py [SECTION ...]

Every fixture gets an expected-values file beside it, `<name>.json`, holding what the reference
library reads back: tensor names, dtypes, shapes, a SHA-256 of the bytes, and the bytes in hex
for small tensors. Invalid files record the reference library's own error text instead. Swift
tests read these JSON files; they never run Python. Seeds are fixed; values come from arange
or seeded generators.
"""
import collections
import hashlib
import json
import os
import struct
import sys

import torch

PINNED = {"torch": "2.13.0", "safetensors": "0.8.0", "pytorch_lightning": "2.6.6", "huggingface_hub": "2.4.0"}
HERE = os.path.dirname(os.path.abspath(__file__))


def check_versions():
    import huggingface_hub
    import pytorch_lightning
    import safetensors
    found = {
        "torch": torch.__version__.split("+")[0],
        "safetensors": safetensors.__version__,
        "pytorch_lightning": pytorch_lightning.__version__,
        "huggingface_hub": huggingface_hub.__version__,
    }
    wrong = {k: v for k, v in found.items() if v != PINNED[k]}
    if wrong:
        sys.exit(f"fixture generator needs {PINNED}; found {found}")


# safetensors dtype spelling of each torch dtype.
ST_NAME = {
    torch.float64: "F64", torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16",
    torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8", torch.uint8: "U8",
    torch.uint16: "U16", torch.uint32: "U32", torch.uint64: "U64", torch.bool: "BOOL",
    torch.float8_e4m3fn: "F8_E4M3", torch.float8_e5m2: "F8_E5M2", torch.float8_e8m0fnu: "F8_E8M0",
    torch.float8_e4m3fnuz: "F8_E4M3FNUZ", torch.float8_e5m2fnuz: "F8_E5M2FNUZ", torch.complex64: "C64",
    torch.float4_e2m1fn_x2: "F4", torch.complex128: "C128", torch.complex32: "C32",
}


def tensor_bytes(t):
    """The tensor's contiguous little-endian bytes, as torch holds them."""
    t = t.detach().contiguous()
    if t.numel() == 0:
        return b""
    return t.view(torch.uint8).numpy().tobytes() if t.dim() > 0 else t.reshape(1).view(torch.uint8).numpy().tobytes()


def describe_tensor(name, t):
    if t.layout != torch.strided or t.device.type == "meta":
        # No dense bytes to compare: sparse layouts and storage-less meta tensors.
        return {"name": name, "dtype": ST_NAME[t.dtype], "shape": list(t.shape),
                "layout": str(t.layout).replace("torch.", ""), "device": t.device.type}
    data = tensor_bytes(t)
    shape = list(t.shape)
    if t.dtype == torch.float4_e2m1fn_x2 and shape:
        shape[-1] *= 2  # safetensors counts logical 4-bit elements
    entry = {"name": name, "dtype": ST_NAME[t.dtype], "shape": shape, "nbytes": len(data),
             "sha256": hashlib.sha256(data).hexdigest()}
    if len(data) <= 256:
        entry["hex"] = data.hex()
    return entry


def write_json(path, value):
    with open(path, "w") as f:
        json.dump(value, f, indent=1, sort_keys=False)
        f.write("\n")


def out(*parts):
    path = os.path.join(HERE, *parts)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    return path


def remove(path):
    if os.path.exists(path):
        os.remove(path)


# --------------------------------------------------------------------------------------------
# The reference network: the classic PyTorch beginner example, 8 -> 6 -> 4 -> 2 -> 1 with sigmoids.

class FNNModel(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.linear1 = torch.nn.Linear(8, 6)
        self.linear2 = torch.nn.Linear(6, 4)
        self.linear3 = torch.nn.Linear(4, 2)
        self.linear4 = torch.nn.Linear(2, 1)
        self.sigmoid = torch.nn.Sigmoid()

    def forward(self, x):
        x = self.sigmoid(self.linear1(x))
        x = self.sigmoid(self.linear2(x))
        x = self.sigmoid(self.linear3(x))
        return self.sigmoid(self.linear4(x))


def reference_state_dict():
    torch.manual_seed(0)
    return FNNModel().state_dict()


# --------------------------------------------------------------------------------------------
# safetensors

def safetensors_expectation(path, made_by):
    """What the reference reader returns for `path`."""
    from safetensors import safe_open
    name = os.path.basename(path)
    try:
        with safe_open(path, "pt") as f:
            meta = f.metadata()
            tensors = [describe_tensor(k, f.get_tensor(k)) for k in f.keys()]
            return {"file": name, "made_by": made_by, "valid": True, "metadata": meta, "tensors": tensors}
    except Exception as e:
        # safe_open(pt) cannot map some valid dtypes (F6) to torch: ask the format-level reader.
        from safetensors._safetensors_rust import deserialize
        try:
            with open(path, "rb") as f:
                items = deserialize(f.read())
        except Exception as format_error:  # the reference refuses it
            return {"file": name, "made_by": made_by, "valid": False, "reference_error": str(format_error).splitlines()[0]}
        tensors = [{"name": k, "dtype": v["dtype"], "shape": v["shape"], "nbytes": len(v["data"]),
                    "sha256": hashlib.sha256(bytes(v["data"])).hexdigest(), "hex": bytes(v["data"]).hex()} for k, v in items]
        return {"file": name, "made_by": made_by, "valid": True, "metadata": None, "tensors": tensors,
                "note": "read with safetensors deserialize: " + str(e).splitlines()[0]}


def header_order(path):
    """Tensor names in the order the JSON header lists them (file order)."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n), object_pairs_hook=list)
    return [k for k, _ in header if k != "__metadata__"]


def save_safetensors_fixture(filename, tensors, metadata, made_by="safetensors.torch.save_file"):
    from safetensors.torch import save_file
    path = out("safetensors", filename)
    remove(path)
    save_file(tensors, path, metadata=metadata)
    expected = safetensors_expectation(path, made_by)
    order = header_order(path)
    expected["tensors"].sort(key=lambda t: order.index(t["name"]))
    write_json(path + ".json", expected)


def raw_safetensors(filename, header_bytes, data, note):
    """A hand-made file: 8-byte length + header bytes exactly as given + data."""
    path = out("safetensors", filename)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(header_bytes)) + header_bytes + data)
    expected = safetensors_expectation(path, "hand-made: " + note)
    if expected["valid"]:
        order = header_order(path)
        expected["tensors"].sort(key=lambda t: order.index(t["name"]))
    write_json(path + ".json", expected)


def raw_file(filename, content, note):
    path = out("safetensors", filename)
    with open(path, "wb") as f:
        f.write(content)
    write_json(path + ".json", safetensors_expectation(path, "hand-made: " + note))


def gen_safetensors():
    save_safetensors_fixture("mlp.safetensors", dict(reference_state_dict()), {"format": "pt"})
    save_safetensors_fixture("mlp_no_metadata.safetensors", dict(reference_state_dict()), None)
    # What `convert --dtype` must reproduce byte for byte.
    for name, dt in (("bf16", torch.bfloat16), ("f16", torch.float16)):
        save_safetensors_fixture(f"mlp_{name}.safetensors", {k: v.to(dt) for k, v in reference_state_dict().items()}, {"format": "pt"},
                                 made_by=f"safetensors.torch.save_file of the state dict .to(torch.{dt})")

    g = torch.Generator().manual_seed(1)
    dtypes = {
        "f64": torch.randn(3, generator=g, dtype=torch.float64),
        "f32": torch.randn(2, 3, generator=g),
        "f32_scalar": torch.tensor(3.5),
        "f32_empty": torch.zeros(2, 0),
        "f16": torch.tensor([0.5, -2.0, 65504.0, 6e-8], dtype=torch.float16),
        "bf16": torch.tensor([1.0, -3.0, 1e38, 1e-38], dtype=torch.bfloat16),
        "i64": torch.tensor([1, -2, 2**62], dtype=torch.int64),
        "i32": torch.tensor([[1, -2], [3, 2**31 - 1]], dtype=torch.int32),
        "i16": torch.tensor([-32768, 32767], dtype=torch.int16),
        "i8": torch.tensor([-128, 127, 0], dtype=torch.int8),
        "u8": torch.tensor([0, 1, 255], dtype=torch.uint8),
        "u16": torch.tensor([1, 65535], dtype=torch.uint16),
        "u32": torch.tensor([1, 2**32 - 1], dtype=torch.uint32),
        "u64": torch.tensor([1, 2**63], dtype=torch.uint64),
        "bool": torch.tensor([True, False, True]),
        "f8_e4m3": torch.tensor([1.0, -0.5, 448.0], dtype=torch.float8_e4m3fn),
        "f8_e5m2": torch.tensor([1.0, 2.0, -57344.0], dtype=torch.float8_e5m2),
        "f8_e8m0": torch.tensor([1.0, 2.0, 0.25], dtype=torch.float8_e8m0fnu),
        "f8_e4m3fnuz": torch.tensor([1.0, -0.5], dtype=torch.float8_e4m3fnuz),
        "f8_e5m2fnuz": torch.tensor([1.0, -4.0], dtype=torch.float8_e5m2fnuz),
        "c64": torch.tensor([1 + 2j, -0.5j], dtype=torch.complex64),
        "f4": torch.tensor([0x21, 0x43], dtype=torch.uint8).view(torch.float4_e2m1fn_x2),
    }
    save_safetensors_fixture("dtypes.safetensors", dtypes, {"format": "pt"})
    save_safetensors_fixture("empty.safetensors", {}, None)
    save_safetensors_fixture("unicode_names.safetensors", {
        "caf\u00e9.weight": torch.arange(3, dtype=torch.float32),
        "quote\"back\\slash": torch.arange(2, dtype=torch.int16),
        "new\nline\ttab\u0001ctl\u007f": torch.arange(1, dtype=torch.int8),
        "\u65e5\u672c.\U0001F600": torch.ones(1, dtype=torch.bool),
    }, {"note": "d\u00e9j\u00e0 \"vu\"\n"})

    # Sharded sets written by huggingface_hub (real shard naming, index layout, per-shard metadata).
    from huggingface_hub import save_torch_state_dict
    torch.manual_seed(2)
    big = {f"layers.{i}.weight": torch.randn(16, 16) for i in range(4)}
    big["head.bias"] = torch.randn(16)
    for folder, limit in (("sharded", 2500), ("single_shard", 10_000_000)):
        target = out("safetensors", folder, "x")[:-2]
        for name in os.listdir(target) if os.path.isdir(target) else []:
            os.remove(os.path.join(target, name))
        save_torch_state_dict(big, target, max_shard_size=limit)
        listing = {}
        for name in sorted(os.listdir(target)):
            if name.endswith(".safetensors"):
                listing[name] = safetensors_expectation(os.path.join(target, name), "huggingface_hub.save_torch_state_dict")
        write_json(os.path.join(target, "expected.json"),
                   {"made_by": "huggingface_hub.save_torch_state_dict", "max_shard_size": limit, "shards": listing})

    # Hand-made headers: valid edge cases.
    T = b'"t":{"dtype":"I32","shape":[2],"data_offsets":[0,8]}'
    D = struct.pack("<ii", 1, 2)
    raw_safetensors("edge_odd_header_length.safetensors", b"{" + T + b"}", D, "54-byte header, no padding")
    raw_safetensors("edge_leading_whitespace.safetensors", b"\n \t\r{" + T + b"}", D, "JSON whitespace before {")
    raw_safetensors("edge_trailing_whitespace.safetensors", b"{" + T + b"}\n\t \r", D, "JSON whitespace after }")
    raw_safetensors("edge_reverse_order.safetensors",
                    b'{"u":{"dtype":"I32","shape":[1],"data_offsets":[4,8]},"t":{"dtype":"I32","shape":[1],"data_offsets":[0,4]}}',
                    D, "JSON order differs from buffer order")
    raw_safetensors("edge_metadata_null.safetensors", b'{"__metadata__":null,' + T + b"}", D, "__metadata__ null")
    raw_safetensors("edge_metadata_empty.safetensors", b'{"__metadata__":{},' + T + b"}", D, "__metadata__ {}")
    raw_safetensors("edge_extra_field.safetensors",
                    b'{"t":{"dtype":"I32","shape":[2],"data_offsets":[0,8],"note":[1,{"x":2}]}}', D, "unknown field ignored")
    raw_safetensors("edge_f6.safetensors", b'{"t":{"dtype":"F6_E3M2","shape":[4],"data_offsets":[0,3]}}', b"\x01\x02\x03",
                    "F6 dtype: 4 elements in 3 bytes (safe_open(pt) cannot map it to torch)")
    raw_safetensors("edge_empty_tensors_at_end.safetensors",
                    b'{"t":{"dtype":"I32","shape":[2],"data_offsets":[0,8]},"e":{"dtype":"F32","shape":[0,3],"data_offsets":[8,8]},'
                    b'"z":{"dtype":"F64","shape":[5,0],"data_offsets":[8,8]}}', D, "zero-size tensors sharing the end offset")
    raw_safetensors("edge_no_tensors.safetensors", b"{}      ", b"", "no tensors at all")

    # Hand-made headers the reference refuses. The "expect" key names our error case.
    def invalid(filename, header, data, note, expect):
        raw_safetensors(filename, header, data, note)
        path = out("safetensors", filename) + ".json"
        with open(path) as f:
            value = json.load(f)
        value["expect"] = expect
        write_json(path, value)

    invalid("bad_gap.safetensors", b'{"t":{"dtype":"I32","shape":[1],"data_offsets":[4,8]}}', D, "gap before the first tensor", "offsetsNotContiguous")
    invalid("bad_overlap.safetensors",
            b'{"t":{"dtype":"I32","shape":[2],"data_offsets":[0,8]},"u":{"dtype":"I32","shape":[1],"data_offsets":[4,8]}}', D,
            "overlapping ranges", "offsetsNotContiguous")
    invalid("bad_alias.safetensors",
            b'{"t":{"dtype":"I32","shape":[2],"data_offsets":[0,8]},"u":{"dtype":"I32","shape":[2],"data_offsets":[0,8]}}', D,
            "two names, one range", "offsetsNotContiguous")
    invalid("bad_trailing_bytes.safetensors", b"{" + T + b"}", D + b"\x00", "a byte after the data", "dataNotCovered")
    invalid("bad_truncated_data.safetensors", b"{" + T + b"}", D[:5], "data cut short", "dataNotCovered")
    invalid("bad_metadata_number.safetensors", b'{"__metadata__":{"n":1},' + T + b"}", D, "metadata value not a string", "metadataValueNotString")
    invalid("bad_metadata_array.safetensors", b'{"__metadata__":[],' + T + b"}", D, "metadata not an object", "metadataNotAnObject")
    invalid("bad_dtype_lowercase.safetensors", b'{"t":{"dtype":"i32","shape":[2],"data_offsets":[0,8]}}', D, "dtype spelled in lowercase", "unknownDType")
    invalid("bad_dtype_unknown.safetensors", b'{"t":{"dtype":"F128","shape":[1],"data_offsets":[0,8]}}', D, "dtype not in the list", "unknownDType")
    invalid("bad_shape_mismatch.safetensors", b'{"t":{"dtype":"I32","shape":[3],"data_offsets":[0,8]}}', D, "shape needs 12 bytes", "byteCountMismatch")
    invalid("bad_shape_negative.safetensors", b'{"t":{"dtype":"I32","shape":[-2],"data_offsets":[0,8]}}', D, "negative dimension", "invalidField")
    invalid("bad_shape_float.safetensors", b'{"t":{"dtype":"I32","shape":[2.0],"data_offsets":[0,8]}}', D, "float dimension", "invalidField")
    invalid("bad_offset_negative.safetensors", b'{"t":{"dtype":"I32","shape":[2],"data_offsets":[-2,8]}}', D, "negative offset", "invalidField")
    invalid("bad_offset_huge.safetensors", b'{"t":{"dtype":"I32","shape":[2],"data_offsets":[0,18446744073709551616]}}', D,
            "offset beyond u64", "invalidField")
    invalid("bad_offsets_reversed.safetensors", b'{"t":{"dtype":"I32","shape":[0],"data_offsets":[8,0]}}', D, "end before begin", "reversedOffsets")
    invalid("bad_overflow.safetensors",
            b'{"t":{"dtype":"F64","shape":[4294967296,4294967296,4],"data_offsets":[0,8]}}', D, "element count overflows", "sizeOverflow")
    invalid("bad_f4_odd.safetensors", b'{"t":{"dtype":"F4","shape":[3],"data_offsets":[0,2]}}', b"\x00\x00", "3 F4 elements", "partialByte")
    invalid("bad_missing_shape.safetensors", b'{"t":{"dtype":"I32","data_offsets":[0,8]}}', D, "no shape", "missingField")
    invalid("bad_entry_string.safetensors", b'{"t":"I32"}', b"", "entry not an object", "entryNotAnObject")
    invalid("bad_not_object.safetensors", b'[1,2]   ', b"", "header is an array", "headerNotAnObject")
    invalid("bad_not_json.safetensors", b'{"t":{"dtype":"I32",}}', D, "trailing comma", "invalidJSON")
    invalid("bad_nul_padding.safetensors", b"{" + T + b"}\x00\x00", D, "NUL padding", "invalidJSON")
    invalid("bad_utf8.safetensors", b'{"\xff\xfe":{"dtype":"I32","shape":[2],"data_offsets":[0,8]}}', D, "invalid UTF-8 in a key", "invalidUTF8")
    invalid("bad_duplicate_key.safetensors",
            b'{"t":{"dtype":"I32","shape":[1],"data_offsets":[0,4]},"t":{"dtype":"I32","shape":[1],"data_offsets":[4,8]}}', D,
            "duplicate key (the reference keeps the last one and then fails the coverage check)", "duplicateKey")
    invalid("bad_nan.safetensors", b'{"__metadata__":{"a":NaN},' + T + b"}", D, "NaN literal", "invalidJSON")

    def invalid_raw(filename, content, note, expect):
        raw_file(filename, content, note)
        path = out("safetensors", filename) + ".json"
        with open(path) as f:
            value = json.load(f)
        value["expect"] = expect
        write_json(path, value)

    invalid_raw("bad_too_small.safetensors", b"\x08\x00\x00", "3 bytes", "fileTooSmall")
    invalid_raw("bad_header_too_large.safetensors", struct.pack("<Q", 100_000_001) + b"{}", "declares a 100,000,001-byte header", "headerTooLarge")
    invalid_raw("bad_header_beyond_file.safetensors", struct.pack("<Q", 1000) + b"{}", "declares 1000 bytes, has 2", "headerBeyondFile")

    # f32 -> f16 / bf16 rounding as torch does it, for the dtype tests.
    specials = [0.0, -0.0, 1.0, -1.0, 0.1, 1 / 3, 65504.0, 65519.99, 65520.0, 1e-8, 6e-8, 5.96e-8, 2.98e-8,
                1e-40, 3.4e38, 3.39e38, float("inf"), float("-inf"), 1.00048828125, 1.001953125, 1.0009765625,
                -2.5, 1e5, 6.1e-5, 6.09e-5]
    g = torch.Generator().manual_seed(3)
    values = torch.tensor(specials, dtype=torch.float32)
    values = torch.cat([values, torch.randn(200, generator=g) * 10, torch.randn(50, generator=g) * 1e-6,
                        (torch.rand(50, generator=g) - 0.5) * 1e6])
    bits = values.view(torch.int32).tolist()
    f16 = values.to(torch.float16).view(torch.int16).tolist()
    bf16 = values.to(torch.bfloat16).view(torch.int16).tolist()
    nan_in = [0x7FC00000, 0xFFC00000, 0x7F800001, 0x7FFFFFFF]
    nan_t = torch.tensor(nan_in, dtype=torch.int64).to(torch.int32).view(torch.float32)
    write_json(out("dtypes", "rounding.json"), {
        "made_by": "torch Tensor.to(float16 / bfloat16) on CPU",
        "f32_bits": [b & 0xFFFFFFFF for b in bits],
        "f16_bits": [b & 0xFFFF for b in f16],
        "bf16_bits": [b & 0xFFFF for b in bf16],
        "nan_f32_bits": nan_in,
        "nan_f16_bits": [b & 0xFFFF for b in nan_t.to(torch.float16).view(torch.int16).tolist()],
        "nan_bf16_bits": [b & 0xFFFF for b in nan_t.to(torch.bfloat16).view(torch.int16).tolist()],
    })
    # Every 8-bit float code decoded by torch, to pin our decode tables.
    codes = torch.arange(256, dtype=torch.int32).to(torch.uint8)
    table = {}
    for dt in (torch.float8_e4m3fn, torch.float8_e5m2, torch.float8_e8m0fnu, torch.float8_e4m3fnuz, torch.float8_e5m2fnuz):
        decoded = codes.view(dt).to(torch.float32)
        table[ST_NAME[dt]] = [None if v != v else (str(v) if v in (float("inf"), float("-inf")) else v) for v in decoded.tolist()]
    write_json(out("dtypes", "float8_tables.json"), {"made_by": "torch uint8.view(dtype).to(float32)", "tables": table})


# --------------------------------------------------------------------------------------------
# PyTorch files (zip and legacy)

def flatten(obj, prefix=""):
    """(name, tensor) pairs the way modelfile names tensors: dict keys and list/tuple indices
    joined with '.', depth first in container order."""
    out = []
    if isinstance(obj, torch.Tensor):
        out.append((prefix or "tensor", obj))
    elif isinstance(obj, dict):
        for k, v in obj.items():
            out += flatten(v, f"{prefix}.{k}" if prefix else str(k))
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            out += flatten(v, f"{prefix}.{i}" if prefix else str(i))
    return out


def pickle_globals(path):
    """module.name of every GLOBAL in the file's pickle(s), in order of first appearance."""
    import pickletools
    import zipfile
    blobs = []
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as z:
            blobs = [z.read(n) for n in z.namelist() if n.endswith("data.pkl")]
    else:
        with open(path, "rb") as f:
            data = f.read()
        offset = 0
        for _ in range(5):
            for op, arg, pos in pickletools.genops(data[offset:]):
                if op.name == "STOP":
                    blobs.append(data[offset:offset + pos + 1])
                    offset += pos + 1
                    break
    seen = []
    for blob in blobs:
        for op, arg, pos in pickletools.genops(blob):
            if op.name == "GLOBAL":
                name = arg.replace(" ", ".")
                if name not in seen:
                    seen.append(name)
    return seen


def torch_expectation(path, made_by, fmt):
    name = os.path.basename(path)
    try:
        obj = torch.load(path, weights_only=True, map_location="cpu")
    except Exception as e:
        lines = [line.strip() for line in str(e).splitlines() if line.strip()]
        reason = next((line for line in lines if "Unsupported" in line or "GLOBAL" in line), lines[0] if lines else "")
        return {"file": name, "made_by": made_by, "format": fmt, "valid": False,
                "reference_error": reason[:300], "globals": pickle_globals(path)}
    tensors = [describe_tensor(n, t) for n, t in flatten(obj)]
    return {"file": name, "made_by": made_by, "format": fmt, "valid": True, "tensors": tensors,
            "globals": pickle_globals(path)}


def save_torch_fixture(filename, obj, made_by="torch.save", legacy=False):
    path = out("torch", filename)
    remove(path)
    torch.save(obj, path, _use_new_zipfile_serialization=not legacy)
    fmt = "pytorch-legacy" if legacy else "pytorch-zip"
    write_json(path + ".json", torch_expectation(path, made_by + (" (legacy format)" if legacy else ""), fmt))
    return path


class Tied(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = torch.nn.Embedding(4, 3)
        self.lin = torch.nn.Linear(3, 4)
        self.lin.weight = self.emb.weight  # tied: one storage, two names
        self.register_buffer("count", torch.tensor(3))


def all_dtypes(include_v3=True):
    g = torch.Generator().manual_seed(4)
    tensors = collections.OrderedDict()
    tensors["f64"] = torch.randn(2, 2, generator=g, dtype=torch.float64)
    tensors["f32"] = torch.randn(3, generator=g)
    tensors["f16"] = torch.tensor([0.5, -2.0, 65504.0], dtype=torch.float16)
    tensors["bf16"] = torch.tensor([1.0, -3.0, 1e38], dtype=torch.bfloat16)
    tensors["i64"] = torch.tensor([1, -2, 2**62])
    tensors["i32"] = torch.tensor([1, -2], dtype=torch.int32)
    tensors["i16"] = torch.tensor([-32768, 258], dtype=torch.int16)
    tensors["i8"] = torch.tensor([-1, 2], dtype=torch.int8)
    tensors["u8"] = torch.tensor([0, 255], dtype=torch.uint8)
    tensors["bool"] = torch.tensor([True, False])
    tensors["c64"] = torch.tensor([1 + 2j], dtype=torch.complex64)
    tensors["c128"] = torch.tensor([3 - 4j], dtype=torch.complex128)
    tensors["scalar"] = torch.tensor(7, dtype=torch.int64)
    tensors["empty"] = torch.zeros(0, 3)
    if include_v3:
        tensors["u16"] = torch.tensor([1, 65535], dtype=torch.uint16)
        tensors["u32"] = torch.tensor([1, 2**32 - 1], dtype=torch.uint32)
        tensors["u64"] = torch.tensor([1, 2**63], dtype=torch.uint64)
        tensors["f8_e4m3"] = torch.tensor([1.0, -0.5], dtype=torch.float8_e4m3fn)
        tensors["f8_e5m2"] = torch.tensor([2.0, -4.0], dtype=torch.float8_e5m2)
        tensors["f8_e8m0"] = torch.tensor([1.0, 0.25], dtype=torch.float8_e8m0fnu)
        tensors["f8_e4m3fnuz"] = torch.tensor([1.0, -2.0], dtype=torch.float8_e4m3fnuz)
        tensors["f8_e5m2fnuz"] = torch.tensor([0.5, 8.0], dtype=torch.float8_e5m2fnuz)
        tensors["c32"] = torch.tensor([1 + 1j, 0.5 - 2j], dtype=torch.complex32)
        tensors["f4"] = torch.tensor([0x21, 0x43, 0x65], dtype=torch.uint8).view(torch.float4_e2m1fn_x2)
    return tensors


def views():
    base = torch.arange(24, dtype=torch.float32)
    big = torch.arange(1000, dtype=torch.float32)
    tensors = collections.OrderedDict()
    tensors["base"] = base.view(4, 6)
    tensors["transposed"] = base.view(4, 6).t()            # stride (1, 6)
    tensors["slice"] = base[5:9]                            # storage offset 5
    tensors["every_other"] = base.view(4, 6)[:, ::2]        # stride (6, 2)
    tensors["permuted"] = base.view(2, 3, 4).permute(2, 0, 1)
    tensors["expanded"] = torch.arange(4.0).expand(3, 4)  # stride (0, 1)
    tensors["column"] = base.view(4, 6)[:, 3]
    tensors["small_view_of_big"] = big[10:14]               # the whole 4000-byte storage is saved
    tensors["int_view"] = torch.arange(12, dtype=torch.int64).view(3, 4)[1:, 1:3]
    tensors["scalar_view"] = base[7]
    return tensors


def nested():
    torch.manual_seed(5)
    return {
        "model": {"layers": [torch.randn(2, 2), (torch.randn(3), 3, "three")], "head": {"w": torch.randn(1)}},
        "step": 12, "lr": 0.125, "name": "experiment \u00e9", "done": False, "nothing": None,
        "sizes": (1, 2, 3), "ratio": -1.5e-300, "big": 2**70, "neg": -(2**40),
        "param": torch.nn.Parameter(torch.tensor([0.5, 0.25])),
    }


def optimizer_checkpoint():
    torch.manual_seed(6)
    model = FNNModel()
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    x, y = torch.randn(16, 8), torch.rand(16, 1).round()
    for _ in range(3):
        opt.zero_grad()
        torch.nn.functional.binary_cross_entropy(model(x), y).backward()
        opt.step()
    return {"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": 3}


def rewrite_zip(source, target, transform):
    """Copies a zip archive, letting `transform(record, data)` return (name, data, compress)."""
    import zipfile
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(target, "w") as zout:
        for info in zin.infolist():
            record = info.filename.split("/", 1)[1]
            name, data, method = transform(record, zin.read(info.filename))
            zout.writestr(name, data, compress_type=method)


def gen_torch():
    import zipfile
    torch.manual_seed(0)
    save_torch_fixture("state_dict.pth", reference_state_dict(), "torch.save(FNNModel().state_dict())")
    save_torch_fixture("state_dict_legacy.pt", reference_state_dict(), "torch.save(FNNModel().state_dict())", legacy=True)
    save_torch_fixture("dtypes.pth", all_dtypes())
    save_torch_fixture("dtypes_legacy.pt", all_dtypes(include_v3=False), legacy=True)
    save_torch_fixture("views.pth", views())
    save_torch_fixture("views_legacy.pt", views(), legacy=True)
    torch.manual_seed(1)
    save_torch_fixture("tied.pth", Tied().state_dict(), "torch.save(Module.state_dict()) with tied weights")
    save_torch_fixture("nested.pth", nested())
    save_torch_fixture("nested_legacy.pt", nested(), legacy=True)
    save_torch_fixture("checkpoint.pth", optimizer_checkpoint(), "torch.save({model, optimizer (Adam, 3 steps), epoch})")
    p = torch.nn.Parameter(torch.tensor([1.0, 2.0]))
    p.note = "extra attribute"
    save_torch_fixture("parameter_with_state.pth", {"p": p}, "torch.save of a Parameter with a Python attribute")
    t = torch.arange(3.0)
    t.tag = 5
    save_torch_fixture("tensor_with_attribute.pth", {"t": t}, "torch.save of a tensor with a Python attribute")
    save_torch_fixture("bare_tensor.pth", torch.arange(6, dtype=torch.int16).view(2, 3), "torch.save of one tensor")
    save_torch_fixture("tensor_list.pt", [torch.ones(2), torch.zeros(1, dtype=torch.int8)], "torch.save of a list")

    # A whole pickled nn.Module: torch.load(weights_only=True) refuses it, and so must we.
    torch.manual_seed(0)
    save_torch_fixture("whole_module.pth", FNNModel(), "torch.save(FNNModel()) (the module object, not a state dict)")

    # Storage location "cuda:0", written on a CPU-only machine by patching the tagger.
    import torch.serialization as S
    original = S.location_tag
    S.location_tag = lambda storage: "cuda:0"
    try:
        save_torch_fixture("cuda_location.pth", {"w": torch.arange(4.0)}, "torch.save with location tag cuda:0")
        save_torch_fixture("cuda_location_legacy.pt", {"w": torch.arange(4.0)}, "torch.save with location tag cuda:0", legacy=True)
    finally:
        S.location_tag = original

    # A big-endian archive: byteorder record "big", storages byte-swapped (torch.load swaps back).
    src = save_torch_fixture("little.pth", {"x": torch.tensor([1.0, 2.0, 3.0]), "y": torch.tensor([258], dtype=torch.int16),
                                            "z": torch.tensor([1.5], dtype=torch.float64)})
    widths = {"data/0": 4, "data/1": 2, "data/2": 8}
    target = out("torch", "big_endian.pth")

    def to_big(record, data):
        if record == "byteorder":
            data = b"big"
        elif record in widths:
            w = widths[record]
            data = b"".join(data[i:i + w][::-1] for i in range(0, len(data), w))
        return "big_endian/" + record, data, zipfile.ZIP_STORED
    rewrite_zip(src, target, to_big)
    write_json(target + ".json", torch_expectation(target, "little.pth rewritten with byteorder big", "pytorch-zip"))

    # DEFLATE-compressed records, another folder name, no alignment, real timestamps.
    target = out("torch", "deflated_renamed.pth")
    rewrite_zip(out("torch", "views.pth"), target, lambda r, d: ("some_other_folder/" + r, d, zipfile.ZIP_DEFLATED))
    write_json(target + ".json", torch_expectation(target, "views.pth rewritten by zipfile with DEFLATE", "pytorch-zip"))

    # Sparse and meta tensors: allowlisted, but not dense data.
    save_torch_fixture("sparse.pth", {"s": torch.eye(3).to_sparse(), "d": torch.ones(2)}, "torch.save of a sparse COO tensor")
    save_torch_fixture("meta.pth", {"m": torch.empty(4, 5, device="meta"), "d": torch.ones(2)}, "torch.save of a meta tensor")


# --------------------------------------------------------------------------------------------
# Lightning checkpoints, written by a real Trainer

def diabetes_rows(count):
    """The first `count` rows of the bundled diabetes data, standardised, as tensors."""
    import csv
    with open(os.path.join(HERE, "..", "data", "diabetes.csv")) as f:
        rows = [[float(v) for v in row] for row in list(csv.reader(f))[1:count + 1]]
    data = torch.tensor(rows, dtype=torch.float32)
    x, y = data[:, :8], data[:, 8:9]
    return (x - x.mean(0)) / x.std(0, unbiased=False), y


def lightning_module_class():
    import pytorch_lightning as pl

    class LitFNN(pl.LightningModule):
        """The reference network as a LightningModule: linear1..linear4 with sigmoids, BCE loss."""

        def __init__(self, optimizer="adam", lr=0.01, scheduler=None):
            super().__init__()
            self.save_hyperparameters()
            self.linear1 = torch.nn.Linear(8, 6)
            self.linear2 = torch.nn.Linear(6, 4)
            self.linear3 = torch.nn.Linear(4, 2)
            self.linear4 = torch.nn.Linear(2, 1)

        def forward(self, x):
            for layer in (self.linear1, self.linear2, self.linear3, self.linear4):
                x = torch.sigmoid(layer(x))
            return x

        def training_step(self, batch, index):
            x, y = batch
            loss = torch.nn.functional.binary_cross_entropy(self(x), y)
            self.log("loss", loss)
            return loss

        def configure_optimizers(self):
            p = self.parameters()
            kind = self.hparams.optimizer
            if kind == "sgd_momentum":
                opt = torch.optim.SGD(p, lr=self.hparams.lr, momentum=0.9)
            elif kind == "adamw_amsgrad":
                opt = torch.optim.AdamW(p, lr=self.hparams.lr, amsgrad=True)
            else:
                opt = torch.optim.Adam(p, lr=self.hparams.lr)
            if self.hparams.scheduler == "steplr":
                return [opt], [torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)]
            return opt

    return LitFNN


def checkpoint_summary(path):
    """What modelfile's checkpoint view must report, read with torch.load."""
    c = torch.load(path, weights_only=True)
    optimizers = []
    for opt in c.get("optimizer_states", []):
        group = opt["param_groups"][0]
        first = opt["state"].get(0, {})
        step = first.get("step")
        optimizers.append({
            "lr": group["lr"], "betas": list(group["betas"]) if "betas" in group else None,
            "momentum": group.get("momentum"), "weight_decay": group["weight_decay"], "amsgrad": group.get("amsgrad"),
            "step": float(step) if step is not None else None, "params": group["params"],
            "state_keys": sorted({k for s in opt["state"].values() for k in s}),
        })
    return {"epoch": c.get("epoch"), "global_step": c.get("global_step"), "version": c.get("pytorch-lightning_version"),
            "optimizers": optimizers, "schedulers": [dict(s) for s in c.get("lr_schedulers", [])],
            "hyper_parameters": dict(c["hyper_parameters"]) if "hyper_parameters" in c else None,
            "keys": list(c.keys())}


def gen_lightning():
    import logging
    import pytorch_lightning as pl
    from torch.utils.data import DataLoader, TensorDataset
    logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    LitFNN = lightning_module_class()
    x, y = diabetes_rows(64)
    runs = [("adam_steplr", dict(optimizer="adam", lr=0.01, scheduler="steplr"), []),
            ("sgd_momentum", dict(optimizer="sgd_momentum", lr=0.1), []),
            ("adamw_amsgrad", dict(optimizer="adamw_amsgrad", lr=0.001),
             [pl.callbacks.EarlyStopping(monitor="loss", mode="min", patience=5)])]
    for name, hparams, callbacks in runs:
        pl.seed_everything(7, verbose=False)
        model = LitFNN(**hparams)
        trainer = pl.Trainer(max_epochs=2, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                             enable_model_summary=False, accelerator="cpu", callbacks=callbacks, deterministic=True)
        trainer.fit(model, DataLoader(TensorDataset(x, y), batch_size=16))
        path = out("lightning", f"{name}.ckpt")
        remove(path)
        trainer.save_checkpoint(path)
        expected = torch_expectation(path, f"pytorch_lightning Trainer.save_checkpoint after 2 epochs x 4 steps ({name})", "pytorch-zip")
        expected["checkpoint"] = checkpoint_summary(path)
        write_json(path + ".json", expected)
        if name == "adam_steplr":
            path = out("lightning", "weights_only.ckpt")
            remove(path)
            trainer.save_checkpoint(path, weights_only=True)
            expected = torch_expectation(path, "Trainer.save_checkpoint(weights_only=True)", "pytorch-zip")
            expected["checkpoint"] = checkpoint_summary(path)
            write_json(path + ".json", expected)

    # The smallest checkpoint Trainer.fit(ckpt_path=...) accepts (docs/formats.md, "Lightning checkpoints").
    pl.seed_everything(8, verbose=False)
    fresh = LitFNN(optimizer="adam", lr=0.01, scheduler="steplr")
    minimal = {
        "pytorch-lightning_version": pl.__version__,
        "state_dict": fresh.state_dict(),
        "optimizer_states": [{"state": {}, "param_groups": [{
            "lr": 0.01, "betas": (0.9, 0.999), "eps": 1e-08, "weight_decay": 0, "amsgrad": False, "maximize": False,
            "foreach": None, "capturable": False, "differentiable": False, "fused": None, "decoupled_weight_decay": False,
            "initial_lr": 0.01, "params": list(range(8))}]}],
        "lr_schedulers": [{"step_size": 1, "gamma": 0.5, "base_lrs": [0.01], "last_epoch": 0, "_step_count": 1,
                           "_is_initial": False, "_get_lr_called_within_step": False, "_last_lr": [0.01]}],
    }
    path = out("lightning", "minimal_resume.ckpt")
    remove(path)
    torch.save(minimal, path)
    expected = torch_expectation(path, "hand-built minimal resumable checkpoint", "pytorch-zip")
    expected["checkpoint"] = checkpoint_summary(path)
    write_json(path + ".json", expected)


SECTIONS = {"safetensors": gen_safetensors, "torch": gen_torch, "lightning": gen_lightning}

if __name__ == "__main__":
    check_versions()
    wanted = sys.argv[1:] or list(SECTIONS)
    for name in wanted:
        SECTIONS[name]()
        print(f"generated {name}")
