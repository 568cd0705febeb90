#!/usr/bin/env python3
"""Generates the NumPy fixtures under Fixtures/numpy/ with the real numpy.

Pinned version (the script refuses to run with another, since fixtures must be reproducible):
    numpy 2.4.6
Seeds: numpy.random.default_rng(20240606) for every random value; the rest is arange or literals.

    /work/venv/bin/python Fixtures/generate_numpy.py

Every fixture gets `<name>.json` beside it, holding what numpy itself reads: for each array its
name (the member without `.npy`, or the file's stem), the header's descr, fortran_order, shape and
format version (numpy.lib.format's own header readers), numpy's dtype name, and for the numeric
dtypes modelfile reads the safetensors dtype spelling and the array's bytes as a little-endian,
row-major buffer (SHA-256, and hex when short): exactly what modelfile must hand out. `loads` says
whether numpy.load(allow_pickle=False) reads every array, `reference_error` is its error otherwise.
Object arrays are never unpickled: their globals are listed by an unpickler whose every global is
an inert stub, so nothing in the pickle runs.
"""
import hashlib
import io
import json
import os
import pickle
import shutil
import sys
import warnings
import zipfile

import numpy as np

PINNED = "2.4.6"
HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "numpy")
SEED = 20240606

# numpy kind + item size -> the safetensors spelling modelfile uses.
ST_NAME = {("b", 1): "BOOL", ("i", 1): "I8", ("i", 2): "I16", ("i", 4): "I32", ("i", 8): "I64",
           ("u", 1): "U8", ("u", 2): "U16", ("u", 4): "U32", ("u", 8): "U64",
           ("f", 2): "F16", ("f", 4): "F32", ("f", 8): "F64", ("c", 8): "C64", ("c", 16): "C128"}


def write_json(path, value):
    with open(path, "w") as f:
        json.dump(value, f, indent=1)
        f.write("\n")


def read_header(raw):
    """(version, descr, fortran_order, shape, data offset) as numpy.lib.format reads the header."""
    from numpy.lib import format as fmt
    f = io.BytesIO(raw)
    version = fmt.read_magic(f)
    if version == (1, 0):
        shape, fortran, dtype = fmt.read_array_header_1_0(f)
    elif version == (2, 0):
        shape, fortran, dtype = fmt.read_array_header_2_0(f)
    else:
        from numpy.lib import _format_impl  # version 3.0 has no public header reader
        shape, fortran, dtype = _format_impl._read_array_header(f, version)
    header_len = raw[8] | raw[9] << 8 if version == (1, 0) else int.from_bytes(raw[8:12], "little")
    start = 10 if version == (1, 0) else 12
    descr = fmt.dtype_to_descr(dtype) if not dtype.hasobject else "|O"
    return list(version), descr, fortran, list(shape), start + header_len, dtype


class _Stub:
    """Stands in for every global of an object array's pickle: calling, building and reducing it
    does nothing, so the pickle is walked without running any of it."""

    def __init__(self, *args, **kwargs):
        pass

    def __setstate__(self, state):
        pass


class _RecordingUnpickler(pickle.Unpickler):
    def __init__(self, f):
        super().__init__(f)
        self.globals = []

    def find_class(self, module, name):
        self.globals.append(f"{module}.{name}")
        return _Stub


def pickle_globals(data):
    unpickler = _RecordingUnpickler(io.BytesIO(data))
    unpickler.load()
    return unpickler.globals


def describe(name, member, raw):
    """What numpy reads from one .npy (the file or the member's bytes)."""
    version, descr, fortran, shape, offset, dtype = read_header(raw)
    entry = {"name": name, "member": member, "version": version, "descr": descr if isinstance(descr, str) else str(descr),
             "fortran_order": fortran, "shape": shape, "numpy_dtype": str(dtype)}
    if dtype.hasobject:
        entry["globals"] = pickle_globals(raw[offset:])
        return entry
    st = ST_NAME.get((dtype.kind, dtype.itemsize)) if dtype.fields is None and dtype.subdtype is None else None
    if st is None:
        return entry
    array = np.load(io.BytesIO(raw), allow_pickle=False)
    data = np.ascontiguousarray(array.astype(dtype.newbyteorder("<"), copy=False)).tobytes()
    entry.update({"dtype": st, "nbytes": len(data), "sha256": hashlib.sha256(data).hexdigest()})
    if len(data) <= 256:
        entry["hex"] = data.hex()
    return entry


def expectation(path, made_by):
    name = os.path.basename(path)
    with open(path, "rb") as f:
        raw = f.read()
    try:
        loaded = np.load(path, allow_pickle=False)
        if isinstance(loaded, np.lib.npyio.NpzFile):
            with loaded:
                for key in loaded.files:
                    loaded[key]
        loads, error = True, None
    except Exception as e:  # numpy refuses it
        loads, error = False, str(e).splitlines()[0]
    if raw.startswith(b"PK"):
        arrays = []
        with zipfile.ZipFile(path) as z:
            for info in z.infolist():
                arrays.append(describe(info.filename[:-4], info.filename, z.read(info)))
        fmt = "numpy-npz"
    else:
        arrays = [describe(os.path.splitext(name)[0], None, raw)]
        fmt = "numpy-npy"
    return {"file": name, "made_by": made_by, "numpy": np.__version__, "format": fmt, "loads": loads,
            "reference_error": error, "arrays": arrays}


def fixture(filename, made_by, write):
    path = os.path.join(HERE, filename)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if os.path.exists(path):
        os.remove(path)
    write(path)
    write_json(path + ".json", expectation(path, made_by))


def edited_npy(array, old, new):
    """np.save's bytes with the header text `old` replaced by `new` of the same length."""
    assert len(old) == len(new)
    f = io.BytesIO()
    np.save(f, array)
    raw = f.getvalue()
    assert raw.count(old) == 1
    return raw.replace(old, new)


def hand_header(header_text, data, version=1):
    """A .npy with this exact header dict text, padded as numpy pads (spaces, newline, 64 bytes)."""
    text = header_text.encode("latin1" if version < 3 else "utf8")
    prefix = 10 if version == 1 else 12
    pad = 64 - (prefix + len(text) + 1) % 64
    body = text + b" " * pad + b"\n"
    length = len(body).to_bytes(2 if version == 1 else 4, "little")
    return b"\x93NUMPY" + bytes([version, 0]) + length + body + data


class Payload:
    """Pickles as a call to os.system: what a malicious object array looks like."""

    def __reduce__(self):
        import os as _os
        return (_os.system, ("echo pwned",))


def dtype_arrays(rng):
    arrays = {
        "b1": np.array([[True, False, True], [False, False, True]]),
        "i1": np.array([-128, -1, 0, 127], dtype=np.int8),
        "u1": np.array([0, 1, 254, 255], dtype=np.uint8),
    }
    samples = {
        "i2": np.array([-32768, -2, 0, 32767], dtype=np.int16).reshape(2, 2),
        "i4": np.array([-2**31, -3, 7, 2**31 - 1], dtype=np.int32),
        "i8": np.array([[-2**63, -5, 9, 2**63 - 1]], dtype=np.int64),
        "u2": np.array([0, 1, 65535], dtype=np.uint16),
        "u4": np.array([0, 3, 2**32 - 1], dtype=np.uint32),
        "u8": np.array([0, 5, 2**64 - 1], dtype=np.uint64),
        "f2": np.array([0.5, -2.0, 65504.0, 6e-8, np.inf, -0.0], dtype=np.float16),
        "f4": rng.standard_normal((2, 3)).astype(np.float32),
        "f8": np.array([np.pi, -np.e, np.nan, -np.inf, 5e-324, 1.7976931348623157e308]),
        "c8": (rng.standard_normal(3) + 1j * rng.standard_normal(3)).astype(np.complex64),
        "c16": np.array([1 + 2j, -0.5j, complex(np.inf, np.nan)], dtype=np.complex128).reshape(3, 1),
    }
    for code, value in samples.items():
        arrays[code] = value
        arrays[code + "_be"] = value.astype(value.dtype.newbyteorder(">"))
    return arrays


def generate():
    found = np.__version__
    if found != PINNED:
        sys.exit(f"fixture generator needs numpy {PINNED}; found {found}")
    if os.path.isdir(HERE):
        shutil.rmtree(HERE)
    rng = np.random.default_rng(SEED)

    dtypes = dtype_arrays(rng)
    fixture("dtypes.npz", "numpy.savez: every numeric dtype, both byte orders", lambda p: np.savez(p, **dtypes))
    fixture("dtypes_compressed.npz", "numpy.savez_compressed: every numeric dtype, both byte orders (deflated members)",
            lambda p: np.savez_compressed(p, **dtypes))
    state = {"linear1.weight": rng.standard_normal((6, 8)).astype(np.float32), "linear1.bias": np.zeros(6, np.float32),
             "head/w": np.arange(4, dtype=np.float64)}
    fixture("state_dict.npz", "numpy.savez with dotted and slashed names", lambda p: np.savez(p, **state))
    fixture("positional.npz", "numpy.savez with positional arrays (arr_0, arr_1)",
            lambda p: np.savez(p, np.arange(3, dtype=np.int32), np.ones((2, 2), np.float16)))

    fixture("fortran_f4.npy", "numpy.save of a Fortran-ordered (3, 4) float32 array",
            lambda p: np.save(p, np.asfortranarray(np.arange(12, dtype=np.float32).reshape(3, 4))))
    fixture("fortran_be_i2_3d.npy", "numpy.save of a Fortran-ordered (2, 3, 4) big-endian int16 array",
            lambda p: np.save(p, np.asfortranarray(np.arange(24, dtype=">i2").reshape(2, 3, 4))))
    fixture("fortran_c16_4d.npy", "numpy.save of a Fortran-ordered (2, 1, 3, 2) complex128 array",
            lambda p: np.save(p, np.asfortranarray((np.arange(12) + 1j * np.arange(12, 24)).reshape(2, 1, 3, 2))))
    fixture("fortran_u1_5d.npy", "numpy.save of a Fortran-ordered (2, 3, 2, 2, 3) uint8 array",
            lambda p: np.save(p, np.asfortranarray(np.arange(72, dtype=np.uint8).reshape(2, 3, 2, 2, 3))))
    fixture("scalar_f8.npy", "numpy.save of a 0-d float64", lambda p: np.save(p, np.float64(-3.25)))
    fixture("scalar_c8_be.npy", "numpy.save of a 0-d big-endian complex64",
            lambda p: np.save(p, np.array(1.5 - 2j, dtype=">c8")))
    fixture("empty_f4.npy", "numpy.save of a (0, 3) float32 array", lambda p: np.save(p, np.zeros((0, 3), np.float32)))
    fixture("empty_be_i8.npy", "numpy.save of a (2, 0, 5) big-endian int64 array", lambda p: np.save(p, np.zeros((2, 0, 5), ">i8")))

    def versioned(version):
        def write(p):
            with open(p, "wb") as f:
                np.lib.format.write_array(f, np.arange(6, dtype=np.int32).reshape(2, 3), version=version)
        return write
    fixture("version1.npy", "numpy.lib.format.write_array(version=(1, 0))", versioned((1, 0)))
    fixture("version2.npy", "numpy.lib.format.write_array(version=(2, 0))", versioned((2, 0)))
    fixture("version3.npy", "numpy.lib.format.write_array(version=(3, 0))", versioned((3, 0)))

    f4 = np.array([1.5, -2.0, 3.25], dtype=np.float32)
    fixture("native_order.npy", "numpy.save bytes with the descr '<f4' edited to '=f4' (native order)",
            lambda p: open(p, "wb").write(edited_npy(f4, b"'<f4'", b"'=f4'")))
    fixture("pipe_order.npy", "numpy.save bytes with the descr '<i8' edited to '|i8' (numpy reads it as native)",
            lambda p: open(p, "wb").write(edited_npy(np.array([7, -8], np.int64), b"'<i8'", b"'|i8'")))
    fixture("python2_header.npy", "hand-made Python 2 era header: shape (2L, 3L), as numpy on Python 2 wrote it",
            lambda p: open(p, "wb").write(hand_header("{'descr': '<i4', 'fortran_order': False, 'shape': (2L, 3L), }",
                                                      np.arange(6, dtype="<i4").tobytes())))
    fixture("double_quotes.npy", "hand-made header with double quotes and no trailing commas (numpy reads it)",
            lambda p: open(p, "wb").write(hand_header('{"shape": (3,), "fortran_order": False, "descr": "<u2"}',
                                                      np.array([1, 2, 3], "<u2").tobytes())))

    objects = np.empty(2, dtype=object)
    objects[0] = Payload()
    objects[1] = "text"
    fixture("object_array.npz", "numpy.savez of a float32 array and an object array whose item pickles as os.system",
            lambda p: np.savez(p, weights=np.arange(3, dtype=np.float32), payload=objects))
    fixture("object_array.npy", "numpy.save of an object array of a list and None",
            lambda p: np.save(p, np.array([[1, 2], None], dtype=object)))
    fixture("stringdtype.npy", "numpy.save of a numpy 2 StringDType array (saved as a pickle, descr '|O')",
            lambda p: np.save(p, np.array(["a", "bc"], dtype=np.dtypes.StringDType())))

    refused = {
        "datetime64.npy": np.array(["2020-01-01T00:00"], dtype="datetime64[ns]"),
        "timedelta64.npy": np.array([5], dtype="timedelta64[s]"),
        "float128.npy": np.array([1.0], dtype=np.longdouble),
        "complex256.npy": np.array([1j], dtype=np.clongdouble),
        "str.npy": np.array(["ab", "c"]),
        "bytes.npy": np.array([b"xyz"]),
        "void.npy": np.array([b"\x01\x02"], dtype="V2"),
        "structured.npy": np.zeros(2, dtype=[("x", "<f4"), ("y", "<i2")]),
    }
    for filename, array in refused.items():
        fixture("refused/" + filename, f"numpy.save of a {array.dtype} array (modelfile refuses the dtype by name)",
                lambda p, a=array: np.save(p, a))


if __name__ == "__main__":
    # numpy warns about the Python 2 header and the StringDType pickle; both are the point.
    warnings.simplefilter("ignore", UserWarning)
    generate()
    print("generated numpy fixtures in", HERE)
