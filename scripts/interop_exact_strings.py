"""Interop checks for exact names: tensor names and metadata keys that differ only by Unicode
normalization, or hold a NUL, a bidirectional override or characters beyond the BMP, survive
modelfile's inspect, convert (safetensors, .pth, shards), --strip-prefix and diff, as the real
safetensors, torch and huggingface_hub read them. Run through scripts/interop.sh:

    MODELFILE_VENV=/work/venv bash scripts/interop.sh exact_strings
"""
import collections
import json
import os
import random
import struct
import subprocess

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from interop_support import check, run

# Names a Python dict keeps apart and Swift's String == would merge, plus other text that must
# stay whole: a NUL, bidirectional and zero-width controls, an astral character, a backslash.
NAMES = [
    "\u00e9", "e\u0301", "layer.K", "layer.\u212a", "\u2126", "\u03a9", ";", "\u037e",
    "a\u0000b", "a", "x\u202ey", "zero\u200bwidth", "\U0001f600.weight", "back\\slash", "quote\"d",
    "\u1e9b\u0323", "\u017f\u0323\u0307",
]


def random_names(rng, count):
    """Seeded names mixing ASCII, precomposed letters and combining marks."""
    alphabet = ["a", "e", "o", ".", "_", "\u00e9", "\u00f6", "\u0301", "\u0308", "\u0323", "\u212b", "\u00c5", "A\u030a"]
    names = set()
    while len(names) < count:
        names.add("r." + "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 6))))
    return sorted(names)


def state_dict(names, seed):
    generator = torch.Generator().manual_seed(seed)
    return {name: torch.randn(2, index % 3 + 1, generator=generator) for index, name in enumerate(names)}


def inspect_names(modelfile, path):
    document = json.loads(run(modelfile, "inspect", "--json", path).stdout)
    return [tensor["name"] for tensor in document["tensors"]], document["metadata"]


def same(a, b):
    return set(a) == set(b) and all(torch.equal(a[k], b[k]) for k in a)


def utf8(names):
    return sorted(name.encode("utf-8", "surrogatepass") for name in names)


def exact_strings_checks(modelfile, work):
    work = os.path.join(work, "exact_strings")  # the other sections share the work folder
    os.makedirs(work, exist_ok=True)
    rng = random.Random(20261205)
    names = NAMES + random_names(rng, 40)
    tensors = state_dict(names, 7)
    metadata = {"\u00e9": "precomposed", "e\u0301": "decomposed", "k\u0000": "nul"}
    source = os.path.join(work, "exact.safetensors")
    save_file(tensors, source, metadata=metadata)

    listed, shown_metadata = inspect_names(modelfile, source)
    check("inspect --json lists every name, byte for byte", utf8(listed) == utf8(names), set(names) ^ set(listed))
    check("inspect --json shows every metadata key, byte for byte", shown_metadata == metadata, shown_metadata)

    out = os.path.join(work, "exact-copy.safetensors")
    run(modelfile, "convert", source, out)
    check("convert safetensors -> safetensors: load_file has every name and value", same(load_file(out), tensors))
    with safe_open(out, "np") as f:
        check("convert keeps the metadata keys apart", f.metadata() == metadata, f.metadata())

    pth = os.path.join(work, "exact.pth")
    run(modelfile, "convert", source, pth)
    loaded = torch.load(pth, weights_only=True)
    check("convert safetensors -> .pth: torch.load has every name and value", same(dict(loaded), tensors),
          set(tensors) ^ set(loaded))

    torch_source = os.path.join(work, "torch.pth")
    torch.save(tensors, torch_source)
    from_torch = os.path.join(work, "from-torch.safetensors")
    run(modelfile, "convert", torch_source, from_torch)
    check("convert torch.save .pth -> safetensors: load_file has every name and value", same(load_file(from_torch), tensors))

    diff = json.loads(run(modelfile, "diff", "--json", source, torch_source).stdout)
    check("diff of the safetensors and torch files matches every name to itself",
          diff["equal"] and len(diff["tensors"]) == len(names) and not diff["only_in_a"] and not diff["only_in_b"],
          (len(diff["tensors"]), diff["only_in_a"][:3], diff["only_in_b"][:3]))

    prefix = "e"
    stripped = os.path.join(work, "stripped.safetensors")
    run(modelfile, "convert", source, stripped, "--strip-prefix", prefix)
    want = {(k[len(prefix):] if k.startswith(prefix) and len(k) > len(prefix) else k) for k in names}
    got = set(load_file(stripped))
    check("--strip-prefix follows Python's str.startswith, not canonical equivalence", got == want, got ^ want)

    # Sharded: huggingface_hub puts the two spellings in different shards; modelfile reads the set
    # and writes its own shards whose index transformers-style readers take.
    from huggingface_hub import save_torch_state_dict
    pair = {"\u00e9": torch.arange(64, dtype=torch.float32), "e\u0301": torch.arange(64, 128, dtype=torch.float32),
            "a\u0000b": torch.arange(128, 192, dtype=torch.float32)}
    hub = os.path.join(work, "hub")
    os.makedirs(hub)
    save_torch_state_dict(pair, hub, max_shard_size=300)
    merged = os.path.join(work, "merged.safetensors")
    run(modelfile, "convert", os.path.join(hub, "model.safetensors.index.json"), merged)
    check("a hub sharded set with both spellings converts to one file with both", same(load_file(merged), pair))
    ours = os.path.join(work, "ours-sharded")
    run(modelfile, "convert", merged, ours, "--max-shard-size", "300B")
    with open(os.path.join(ours, "model.safetensors.index.json"), encoding="utf-8") as f:
        index = json.load(f)
    shards = {}
    for shard in set(index["weight_map"].values()):
        shards.update(load_file(os.path.join(ours, shard)))
    check("modelfile's shards and index keep both spellings, each in its shard",
          set(index["weight_map"]) == set(pair) and same(shards, pair)
          and all(index["weight_map"][k] in os.listdir(ours) for k in pair), index["weight_map"])

    # Refusals: a lone surrogate is refused by both readers; a key written raw and escaped is a
    # duplicate the reference resolves (last wins) and modelfile refuses by name.
    def raw(path, header):
        data = header.encode("utf-8")
        data += b" " * ((8 - len(data) % 8) % 8)
        with open(path, "wb") as f:
            f.write(struct.pack("<Q", len(data)) + data + b"\x01")

    surrogate = os.path.join(work, "surrogate.safetensors")
    raw(surrogate, '{"a\\ud800":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}')
    try:
        safe_open(surrogate, "np")
        reference_refuses = False
    except Exception:
        reference_refuses = True
    refused = subprocess.run([modelfile, "inspect", surrogate], capture_output=True)
    check("a lone surrogate in a key is refused by safetensors and by modelfile, at its offset",
          reference_refuses and refused.returncode == 2 and b"at byte 11: header is not valid JSON: lone surrogate U+D800" in refused.stderr,
          refused.stderr)
    duplicate = os.path.join(work, "duplicate.safetensors")
    raw(duplicate, '{"\u00e9":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"\\u00e9":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}')
    with safe_open(duplicate, "np") as f:
        reference_keys = list(f.keys())
    refused = subprocess.run([modelfile, "inspect", duplicate], capture_output=True)
    check("a key written raw and escaped: safetensors keeps one, modelfile refuses it naming the key",
          reference_keys == ["\u00e9"] and refused.returncode == 2 and "key \"\u00e9\" appears twice".encode() in refused.stderr,
          (reference_keys, refused.stderr))
    normalized = os.path.join(work, "normalized.safetensors")
    raw(normalized, '{"\u00e9":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"e\u0301":{"dtype":"U8","shape":[0],"data_offsets":[1,1]}}')
    with safe_open(normalized, "np") as f:
        reference_keys = sorted(f.keys())
    listed, _ = inspect_names(modelfile, normalized)
    check("keys that differ only by normalization: two tensors for safetensors and for modelfile",
          reference_keys == sorted(["\u00e9", "e\u0301"]) and sorted(listed) == reference_keys, (reference_keys, listed))

    # Storage keys that differ only by normalization. In a zip archive the records "data/é" and
    # "data/e\u0301" are ambiguous (a tool that normalizes names reads one for the other): torch
    # reads two storages, modelfile refuses the archive, naming the second record. With only
    # "data/é" present and the pickle naming "e\u0301", both refuse: neither reads the other
    # spelling's bytes.
    import io
    import pickle
    import zipfile

    class KeyedPickler(pickle.Pickler):
        def __init__(self, file, keys):
            super().__init__(file, protocol=2)
            self.keys = keys

        def persistent_id(self, obj):
            if isinstance(obj, torch.storage.TypedStorage):
                key = self.keys[obj.data_ptr()]
                return ("storage", getattr(torch, obj._pickle_storage_type()), key, "cpu", obj._size())
            return None

    def keyed_archive(path, tensors, keys, records):
        buffer = io.BytesIO()
        KeyedPickler(buffer, {t.untyped_storage().data_ptr(): k for t, k in zip(tensors.values(), keys)}).dump(tensors)
        with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
            archive.writestr("archive/data.pkl", buffer.getvalue())
            archive.writestr("archive/byteorder", "little")
            for name, data in records:
                archive.writestr("archive/data/" + name, data)
            archive.writestr("archive/version", "3\n")

    a, b = torch.tensor([1.0]), torch.tensor([2.0])
    keyed = os.path.join(work, "keyed.pth")
    keyed_archive(keyed, collections.OrderedDict([("a", a), ("b", b)]), ["\u00e9", "e\u0301"],
                  [("\u00e9", a.numpy().tobytes()), ("e\u0301", b.numpy().tobytes())])
    reference = torch.load(keyed, weights_only=True)
    refused = subprocess.run([modelfile, "inspect", keyed], capture_output=True)
    check("zip records whose names differ only by normalization: torch reads both, modelfile refuses the ambiguity",
          float(reference["a"]) == 1.0 and float(reference["b"]) == 2.0 and refused.returncode == 2
          and b"repeats the name of the header" in refused.stderr, refused.stderr)
    missing = os.path.join(work, "missing.pth")
    keyed_archive(missing, collections.OrderedDict([("b", b)]), ["e\u0301"], [("\u00e9", b.numpy().tobytes())])
    try:
        torch.load(missing, weights_only=True)
        torch_refuses = False
    except Exception:
        torch_refuses = True
    refused = subprocess.run([modelfile, "inspect", missing], capture_output=True)
    check("a storage key finds only the record spelled with its bytes (torch and modelfile both refuse)",
          torch_refuses and refused.returncode == 2, refused.stderr)

    # The committed fixtures still read as their expectation files say.
    fixtures = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Fixtures", "exact_strings")
    path = os.path.join(fixtures, "normalization_pair.safetensors")
    with open(path + ".json", encoding="utf-8") as f:
        expected = json.load(f)
    listed, _ = inspect_names(modelfile, path)
    check("the normalization-pair fixture lists what the reference recorded",
          listed == [t["name"] for t in expected["tensors"]], listed)


SECTIONS = {"exact_strings": exact_strings_checks}
