"""Checks that the bytes PickleEncoder writes for its pinned sample load in Python and in torch's
weights-only unpickler. Not run by the tests; run it after changing the encoder.

Usage: python verify_encoder_sample.py HEX
where HEX is `PickleEncoderTests.pinnedSampleHex` (the test prints nothing; copy the constant).
"""

import collections
import io
import pickle
import sys

import torch
from torch import _weights_only_unpickler

data = bytes.fromhex(sys.argv[1])
expected = collections.OrderedDict([
    ("name", "w\u00e9ight"),
    ("shape", torch.Size([2, 3])),
    ("dtype", torch.float16),
    ("numbers", [0, 255, 256, 65536, -1, 2**40, -(2**63), 2**64, 1.5, -0.0]),
    ("flags", (True, False, None)),
    ("raw", b"\x00\xff"),
    ("empty", b""),
    ("tags", {3, 1, 2}),
    ("nested", {"t": (1, 2, 3, 4), "e": ()}),
])
expected["twice"] = [expected["numbers"], expected["numbers"]]

plain = pickle.loads(data)
restricted = _weights_only_unpickler.Unpickler(io.BytesIO(data)).load()
for loaded in (plain, restricted):
    assert loaded == expected, loaded
    assert loaded["twice"][0] is loaded["twice"][1]
    assert type(loaded) is collections.OrderedDict
print("ok: pickle.loads and torch's weights-only unpickler both read the sample")
