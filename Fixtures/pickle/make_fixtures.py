"""Makes the committed pickle fixtures in this folder. Not run by the tests.

Usage: python make_fixtures.py /path/to/format-samples

Made with Python 3.11.7 and torch 2.13.0 (CPU). The format samples themselves were written by
torch 2.15.0 and pytorch-lightning 2.6.6 (see their README).
"""

import collections
import os
import pickle
import shutil
import sys
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))


def extract_data_pkl(samples, file_name, out_name):
    with zipfile.ZipFile(os.path.join(samples, file_name)) as archive:
        (entry,) = [n for n in archive.namelist() if n.endswith("/data.pkl")]
        data = archive.read(entry)
    with open(os.path.join(HERE, out_name), "wb") as out:
        out.write(data)


# The value behind python_values.pkl; PickleVMTests/PythonPickleTests.swift spells out the same
# tree by hand.
shared = [7, "shared"]
PYTHON_VALUES = {
    "ints": [0, 1, 255, 256, 65535, 65536, -1, -129, 2**31 - 1, -(2**31), 2**31,
             2**63 - 1, -(2**63), 2**64, -(2**64) - 1, 2**100],
    "floats": [0.0, -0.0, 1.5, float("inf"), float("-inf"), float("nan"), 5e-324],
    "strings": ["", "ascii", "h\u00e9llo w\u00f6rld", "\u65e5\u672c\u8a9e", "party \U0001f389", "e\u0301"],
    "flags": (True, False, None),
    "nested": {"a": [1, [2, [3, (4, 5)]]], "t0": (), "t1": (1,), "t4": (1, 2, 3, 4), "d": {}},
    "set": {1, 2, 3},
    "empty_set": set(),
    "bytes": b"\x00\x01\x7f\x80\xff",
    "empty_bytes": b"",
    "int_keys": {1: "one", -5: "minus five", 2**40: "big"},
    "tuple_key": {(1, "a"): 1},
    "shared": [shared, shared],
    "long_list": list(range(1500)),
    "ordered": collections.OrderedDict([("x", 1), ("y", 2)]),
}


def main():
    samples = sys.argv[1]
    extract_data_pkl(samples, "zip_shared_views.pt", "zip_shared_views.data.pkl")
    extract_data_pkl(samples, "zip_state_dict_tied.pt", "zip_state_dict_tied.data.pkl")
    extract_data_pkl(samples, "zip_dtypes.pt", "zip_dtypes.data.pkl")
    extract_data_pkl(samples, "optim_adamw_amsgrad.pt", "optim_adamw_amsgrad.data.pkl")
    extract_data_pkl(samples, "lightning_adam_steplr.ckpt", "lightning_adam_steplr.data.pkl")
    shutil.copyfile(os.path.join(samples, "legacy_views.pt"), os.path.join(HERE, "legacy_views.pt"))
    with open(os.path.join(HERE, "python_values.pkl"), "wb") as out:
        out.write(pickle.dumps(PYTHON_VALUES, protocol=2))


if __name__ == "__main__":
    main()
