#!/usr/bin/env python3
"""Generates Fixtures/torch_semantics/: small torch files for each family of torch.load semantics
that modelfile must reproduce bit for bit (or refuse): BUILD/__setstate__ state, neg/conj bits,
storage classes that disagree with the rebuild call's dtype, rebuild arguments, Python-2-era
pickles and quantized tensors.

Pinned versions: torch 2.13.0 (CPU), safetensors 0.8.0 (as Fixtures/generate_fixtures.py).
Seeds: values come from arange, fixed literals and torch.Generator().manual_seed(0).

    /work/venv/bin/python Fixtures/generate_torch_semantics.py

Files written by torch.save are used where torch.save can express the case. The other cases are
written by torch's own archive writer (torch._C.PyTorchFileWriter) around a pickle whose calls are
the real torch functions (Python's pickler names them), so they are files torch reads, with
arguments torch.save would not choose. The Python-2 file is assembled opcode by opcode with the
opcodes Python 2's pickler emits at protocol 2.

Beside each file, <name>.json holds what torch.load(weights_only=True) returns: every tensor's name,
dtype, shape and bytes after resolving neg/conj bits (quantized tensors: their integers and the
parameter tensors modelfile names NAME.q_scale, ...), or torch's own error when it refuses.
"""
import collections
import io
import os
import pickle
import struct
import sys
import warnings
import zipfile

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from generate_fixtures import describe_tensor, flatten, pickle_globals, write_json  # noqa: E402

warnings.filterwarnings("ignore")
HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "torch_semantics")
U = torch._utils
OD = collections.OrderedDict


# ---------------------------------------------------------------------------------------------
# Crafting pickles with real torch callables


class Call:
    """Pickles as fn(*args), with a BUILD of `state` when given."""

    def __init__(self, fn, args, state=None):
        self.fn, self.args, self.state = fn, args, state

    def __reduce__(self):
        return (self.fn, self.args) if self.state is None else (self.fn, self.args, self.state)


class Storage:
    """A persistent id ('storage', cls, key, location, numel)."""

    def __init__(self, cls, key, numel, location="cpu"):
        self.cls, self.key, self.numel, self.location = cls, key, numel, location


class _Pickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, Storage):
            return ("storage", obj.cls, obj.key, obj.location, obj.numel)
        return None


def write_archive(path, obj, records):
    """A torch zip archive written by torch's own writer: data.pkl, data/<key>, byteorder, version."""
    buffer = io.BytesIO()
    _Pickler(buffer, protocol=2).dump(obj)
    data = buffer.getvalue()
    writer = torch._C.PyTorchFileWriter(path)
    writer.write_record("data.pkl", data, len(data))
    writer.write_record("byteorder", b"little", 6)
    for key, value in records.items():
        writer.write_record(f"data/{key}", value, len(value))
    writer.write_record("version", b"3\n", 2)
    writer.write_end_of_file()
    del writer


def v2(storage, offset, size, stride, requires_grad=False, hooks=None, *metadata):
    return Call(U._rebuild_tensor_v2, (storage, offset, size, stride, requires_grad, OD() if hooks is None else hooks) + metadata)


F32 = struct.pack("<4f", 1.5, -2.0, float("nan"), 0.0)


# ---------------------------------------------------------------------------------------------
# Expectations


def describe_loaded(obj):
    """Every tensor torch.load returned, by modelfile's dotted name, as modelfile reads it."""
    tensors = []
    for name, t in flatten(obj):
        if t.is_quantized:
            tensors.append(describe_tensor(name, t.int_repr()))
            if t.qscheme() == torch.per_tensor_affine:
                tensors.append(describe_tensor(name + ".q_scale", torch.tensor(t.q_scale(), dtype=torch.float64)))
                tensors.append(describe_tensor(name + ".q_zero_point", torch.tensor(t.q_zero_point(), dtype=torch.int64)))
            else:
                tensors.append(describe_tensor(name + ".q_per_channel_scales", t.q_per_channel_scales()))
                tensors.append(describe_tensor(name + ".q_per_channel_zero_points", t.q_per_channel_zero_points()))
                tensors.append(describe_tensor(name + ".q_per_channel_axis", torch.tensor(t.q_per_channel_axis(), dtype=torch.int64)))
            continue
        entry = describe_tensor(name, t.resolve_conj().resolve_neg() if t.device.type != "meta" else t)
        entry["requires_grad"] = t.requires_grad
        entry["parameter"] = isinstance(t, torch.nn.Parameter)
        tensors.append(entry)
    return tensors


def expect(path, made_by, weights_only=True, note=None):
    name = os.path.basename(path)
    fmt = "pytorch-zip" if zipfile.is_zipfile(path) else "pytorch-legacy"
    result = {"file": name, "made_by": made_by, "format": fmt}
    try:
        obj = torch.load(path, weights_only=weights_only)
        result.update({"valid": True, "tensors": describe_loaded(obj)})
    except Exception as e:  # torch refuses: record its words
        result.update({"valid": False, "reference_error": f"{type(e).__name__}: {str(e).splitlines()[0][:200]}"})
    if not weights_only:
        result["reference"] = "torch.load(weights_only=False)"
    if note:
        result["note"] = note
    result["globals"] = pickle_globals(path)
    write_json(path + ".json", result)


def saved(name, obj, made_by):
    path = os.path.join(HERE, name)
    torch.save(obj, path)
    expect(path, made_by)


def crafted(name, obj, records, made_by):
    path = os.path.join(HERE, name)
    write_archive(path, obj, records)
    expect(path, made_by)


# ---------------------------------------------------------------------------------------------
# Families


def neg_conj():
    complex_values = torch.tensor([1 + 2j, 3 - 4j, float("nan") + 0j], dtype=torch.complex64)
    other = complex_values.clone()
    half = torch.tensor([1.0, -0.0, float("inf")], dtype=torch.float16)
    half_nan = torch.tensor([0x7E01, 0x7C01], dtype=torch.int32).to(torch.int16).view(torch.float16)
    bf16 = torch.tensor([0x3F80, 0x7FC1, 0xFF80 - 0x10000], dtype=torch.int16).view(torch.bfloat16)
    saved("neg_conj.pt", {
        "conj": complex_values.conj(),
        "imag_of_conj": other.conj().imag,  # a float32 view with the negative bit
        "neg_conj": torch._neg_view(torch.tensor([1 + 1j, -2 - 0.5j], dtype=torch.complex64).conj()),
        "neg_f16": torch._neg_view(half),
        "neg_bf16": torch._neg_view(bf16[::2]),
        "neg_f64": torch._neg_view(torch.tensor([0.5, -0.0, float("nan")], dtype=torch.float64)),
        "neg_i8": torch._neg_view(torch.tensor([1, -128, 127, 0], dtype=torch.int8)),
        "neg_u8": torch._neg_view(torch.tensor([1, 128, 255, 0], dtype=torch.uint8)),
        "neg_i64": torch._neg_view(torch.tensor([-2**63, 5], dtype=torch.int64)),
        "conj_real": torch.arange(3.0).conj(),  # a no-op for real dtypes: no bit is saved
    }, "torch.save of neg()/conj() views (torch._neg_view, Tensor.conj)")
    saved("neg_nan_half.pt", {"neg_f16": torch._neg_view(torch.cat([half, half_nan])), "neg_bf16": torch._neg_view(bf16)},
          "torch.save of float16/bfloat16 neg views holding NaN (torch's result depends on its CPU kernel; refused)")
    # Bits torch sets from the metadata dict whatever the value, and dtypes torch cannot resolve.
    storage = Storage(torch.FloatStorage, "0", 4)
    crafted("neg_bit_value_false.pt", v2(storage, 0, (4,), (1,), False, None, {"neg": False}), {"0": F32},
            "_rebuild_tensor_v2 with metadata {'neg': False} (torch sets the bit on the key alone)")
    crafted("conj_bit_on_float.pt", v2(storage, 0, (4,), (1,), False, None, {"conj": True}), {"0": F32},
            "_rebuild_tensor_v2 with metadata {'conj': True} on float32 (torch fails)")
    crafted("neg_bit_on_bool.pt", v2(Storage(torch.BoolStorage, "0", 4), 0, (4,), (1,), False, None, {"neg": True}),
            {"0": bytes([1, 0, 1, 0])}, "_rebuild_tensor_v2 with the negative bit on bool (torch cannot resolve it)")
    crafted("unknown_metadata_key.pt", v2(storage, 0, (4,), (1,), False, None, {"zero": True}), {"0": F32},
            "_rebuild_tensor_v2 with a metadata key torch ignores")


def build_state():
    p = torch.nn.Parameter(torch.arange(4.0))
    p.note = "a Python attribute"
    t = torch.arange(3.0)
    t.tag = 7
    frozen = torch.nn.Parameter(torch.arange(2.0), requires_grad=False)
    saved("parameter_state.pt", {"with_attribute": p, "tensor_with_attribute": t, "frozen": frozen,
                                 "linear": torch.nn.Linear(2, 1).state_dict()},
          "torch.save of a Parameter and a tensor with Python attributes, and a state_dict with _metadata")
    s0, s1 = Storage(torch.FloatStorage, "0", 4), Storage(torch.FloatStorage, "1", 2)
    two = struct.pack("<2f", 8.0, -9.0)
    crafted("tensor_set_state.pt", {
        "set_4": Call(torch.Tensor, (), (s0, 1, (2,), (1,))),
        "set_3": Call(torch.Tensor, (), (s0, 2, (2,))),
        "set_1": Call(torch.Tensor, (), (s0,)),
        "set_0": Call(torch.Tensor, (), ()),
        "set_long": Call(torch.LongTensor, (), (Storage(torch.LongStorage, "2", 1), 0, (1,), (1,))),
        "rebuilt_then_set": Call(U._rebuild_tensor_v2, (s1, 0, (2,), (1,), False, OD()), (s0, 3, (1,), (1,))),
    }, {"0": F32, "1": two, "2": struct.pack("<q", -3)}, "BUILD states applied with Tensor.set_")
    t0 = v2(s0, 0, (4,), (1,))
    crafted("parameter_setstate.pt", {
        "three": Call(torch.nn.Parameter, (t0,), (False, None, OD())),
        "five": Call(torch.nn.Parameter, (t0,), (v2(s1, 0, (2,), (1,)), None, OD(), False, None)),
        "with_state_data": Call(U._rebuild_parameter_with_state, (t0, True, OD(), {"data": v2(s1, 0, (2,), (1,)), "extra": 1})),
        "with_state_slots": Call(U._rebuild_parameter_with_state, (t0, True, OD(), ({"a": 1}, {"requires_grad": False}))),
        "from_type": Call(torch._tensor._rebuild_from_type_v2, (U._rebuild_tensor_v2, torch.nn.Parameter,
                                                                (s0, 1, (3,), (1,), False, OD()), {"note": "x"})),
    }, {"0": F32, "1": two}, "Parameter __setstate__ (3 and 5 items), _rebuild_parameter_with_state, _rebuild_from_type_v2")
    crafted("parameter_setstate_4_requires_grad.pt", Call(torch.nn.Parameter, (t0,), (s1, 0, (2,), (1,))),
            {"0": F32, "1": two}, "Parameter 4-item state on a Parameter that requires grad (torch refuses)")
    crafted("nonempty_hooks.pt", v2(s0, 0, (4,), (1,), False, OD([(0, 1)])), {"0": F32},
            "_rebuild_tensor_v2 with a non-empty backward-hooks dict (torch keeps it, never runs it)")
    crafted("requires_grad_on_int.pt", v2(Storage(torch.LongStorage, "0", 2), 0, (2,), (1,), True), {"0": bytes(16)},
            "_rebuild_tensor_v2 with requires_grad=True on int64 (torch refuses)")


def storage_dtypes():
    crafted("storage_dtypes.pt", {
        "v2_untyped": v2(Storage(torch.UntypedStorage, "0", 16), 4, (4,), (1,)),
        "v3_int16": Call(U._rebuild_tensor_v3, (Storage(torch.FloatStorage, "0", 4), 1, (3,), (2,), False, OD(), torch.int16)),
        "v3_float64": Call(U._rebuild_tensor_v3, (Storage(torch.ByteStorage, "0", 16), 1, (1,), (1,), False, OD(), torch.float64)),
        "first": v2(Storage(torch.ByteStorage, "1", 8), 0, (8,), (1,)),
        "second_as_int": v2(Storage(torch.IntStorage, "1", 2), 0, (2,), (1,)),  # torch keeps the first load: uint8
    }, {"0": F32, "1": bytes(range(8))}, "storage classes that disagree with the rebuild call's dtype")
    crafted("storage_second_class_too_small.pt", {
        "a": v2(Storage(torch.FloatStorage, "0", 4), 0, (4,), (1,)),
        "b": v2(Storage(torch.ByteStorage, "0", 16), 0, (16,), (1,)),  # the first load is float: 16 floats do not fit
    }, {"0": F32}, "one storage key referenced with two classes, the second view too large for the first")


def quantized():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 3, generator=g)
    saved("quantized.pt", {
        "qint8": torch.quantize_per_tensor(x, 0.05, 3, torch.qint8),
        "quint8": torch.quantize_per_tensor(x, 0.1, 128, torch.quint8),
        "qint32": torch.quantize_per_tensor(x, 0.001, -7, torch.qint32),
        "per_channel": torch.quantize_per_channel(x, torch.tensor([0.1, 0.2, 0.3], dtype=torch.float64),
                                                  torch.tensor([0, 5, -3]), 1, torch.qint8),
        "per_channel_axis0": torch.quantize_per_channel(x, torch.tensor([0.1, 0.2], dtype=torch.float64), torch.tensor([1, 2]), 0, torch.quint8),
        "float_qparams": torch.quantize_per_channel(x, torch.tensor([0.1, 0.2]), torch.tensor([0.5, 1.0]), 0, torch.quint8),
        "transposed": torch.quantize_per_tensor(x, 0.05, 3, torch.qint8).t(),
    }, "torch.save of per-tensor and per-channel quantized tensors")
    saved("quantized_4bit.pt", {"packed": torch.quantize_per_tensor(torch.arange(4.0), 0.5, 1, torch.quint4x2)},
          "torch.save of a quint4x2 tensor (refused by modelfile by name)")


def python2_legacy():
    """A legacy (pre-zip) torch file as Python 2 wrote it at protocol 2: str keys as
    SHORT_BINSTRING/BINSTRING, an int beyond 32 bits as INT text, a long as LONG1."""
    def sbs(s):
        b = s.encode()
        return (b"U" + bytes([len(b)]) + b) if len(b) < 256 else (b"T" + struct.pack("<i", len(b)) + b)

    def proto(body):
        return b"\x80\x02" + body + b"."

    magic = proto(b"\x8a\x0a" + (0x1950A86A20F9469CFC6C).to_bytes(10, "little"))
    version = proto(b"M" + struct.pack("<H", 1001))
    sys_info = proto(b"}q\x00(" + sbs("protocol_version") + b"M" + struct.pack("<H", 1001) + sbs("little_endian") + b"\x88"
                     + sbs("type_sizes") + b"}q\x01(" + sbs("short") + b"K\x02" + sbs("int") + b"K\x04" + sbs("long") + b"K\x08u" + b"u")
    storage_global = b"ctorch\nFloatStorage\nq\x02"
    rebuild = b"ctorch._utils\n_rebuild_tensor_v2\nq\x03"
    od = b"ccollections\nOrderedDict\nq\x04"
    tensor = (rebuild + b"(" + b"(" + sbs("storage") + storage_global + sbs("140215") + sbs("cpu") + b"K\x06Ntq\x05Q"
              + b"K\x00K\x02K\x03\x86q\x06K\x03K\x01\x86q\x07\x89" + od + b")Rq\x08tq\tRq\n")
    view = (b"h\x03(" + b"(" + sbs("storage") + b"h\x02" + sbs("140215") + sbs("cpu") + b"K\x06Ntq\x0bQ"
            + b"K\x01K\x02\x85K\x02\x85\x89h\x04)Rq\x0ctq\rRq\x0e")
    body = (b"}q\x0f(" + sbs("weight") + tensor + sbs("strided") + view
            + sbs("step") + b"I8589934592\n" + sbs("negative_step") + b"I-8589934593\n" + sbs("long_count") + b"\x8a\x09" + (2**70).to_bytes(9, "little", signed=True)
            + sbs("flag") + b"I01\n" + sbs("name") + sbs("x" * 300) + sbs("unicode") + b"X\x05\x00\x00\x00caf\xc3\xa9"
            + sbs("lr") + b"G" + struct.pack(">d", 0.125) + sbs("tuple") + b"K\x01K\x02\x86" + b"u")
    obj = proto(body)
    keys = proto(b"]q\x00" + sbs("140215") + b"a")
    data = struct.pack("<q", 6) + struct.pack("<6f", 0, 1, 2, 3, 4, 5)
    path = os.path.join(HERE, "python2_legacy.pt")
    with open(path, "wb") as f:
        f.write(magic + version + sys_info + obj + keys + data)
    expect(path, "assembled opcode by opcode as Python 2's pickler writes protocol 2 (INT, LONG1, SHORT_BINSTRING, BINSTRING)",
           weights_only=False, note="torch 2.13's weights-only unpickler refuses the INT opcode; these opcodes build plain data")
    with open(path + ".json") as f:
        import json
        expected = json.load(f)
    try:
        torch.load(path, weights_only=True)
    except Exception as e:
        lines = [line.strip() for line in str(e).splitlines() if "Unsupported" in line]
        expected["weights_only_error"] = f"{type(e).__name__}: {(lines or str(e).splitlines())[0][:200]}"
    obj = torch.load(path, weights_only=False)
    expected["values"] = {k: (v if isinstance(v, (int, float, str, bool)) else list(v)) for k, v in obj.items() if not isinstance(v, torch.Tensor)}
    write_json(path + ".json", expected)


def main():
    assert torch.__version__.split("+")[0] == "2.13.0", torch.__version__
    os.makedirs(HERE, exist_ok=True)
    for family in (neg_conj, build_state, storage_dtypes, quantized, python2_legacy):
        family()
    print("wrote", len([n for n in os.listdir(HERE) if not n.endswith(".json")]), "files to", HERE)


if __name__ == "__main__":
    main()
