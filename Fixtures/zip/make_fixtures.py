"""Makes the zip fixtures in this folder and `expected.json`, which ZipFormatTests compare against.

Run from anywhere with Python >= 3.11 (only the standard library is needed):

    python Fixtures/zip/make_fixtures.py

* The `*.pt` / `*.ckpt` files are copied verbatim from the project's shared format samples
  (torch 2.15.0 and pytorch-lightning 2.6.6 outputs; see that folder's README). Pass the folder as
  the first argument to refresh them; without it the copies here are kept.
* `python_*.zip` and `bomb.zip` are written here by Python's `zipfile`, deterministically (fixed
  timestamps and contents).
* `expected.json` lists, for every fixture, each entry as Python's `zipfile` sees it, plus the data
  offset computed from the local header (offset + 30 + local name length + local extra length).
"""
import io, json, os, shutil, struct, sys, zipfile, zlib

HERE = os.path.dirname(os.path.abspath(__file__))
SAMPLES = [
    "zip_shared_views.pt", "zip_state_dict_tied.pt", "zip_dtypes.pt", "zip_byteorder_big.pt",
    "zip_deflated_renamed.pt", "zip_cuda_location.pt", "optim_sgd_momentum.pt",
    "optim_adamw_amsgrad.pt", "lightning_adam_steplr.ckpt", "lightning_minimal_resume.ckpt",
]
DATE = (2024, 1, 2, 3, 4, 6)


class Unseekable(io.RawIOBase):
    """A write-only stream without seek, so zipfile writes data descriptors."""
    def __init__(self):
        self.buffer = bytearray()
    def writable(self):
        return True
    def write(self, b):
        self.buffer += b
        return len(b)


def info(name, method):
    i = zipfile.ZipInfo(name, DATE)
    i.compress_type = method
    return i


def make_python_fixtures():
    text = b"the quick brown fox jumps over the lazy dog\n" * 20
    blob = bytes(range(256)) * 4

    # Classic fields 0xFFFFFFFF in the local header, sizes in a zip64 extra; bit 3 clear.
    with zipfile.ZipFile(os.path.join(HERE, "python_force_zip64.zip"), "w") as z:
        for name, data, method in [("pyzip/blob.bin", blob, zipfile.ZIP_STORED),
                                   ("pyzip/text.txt", text, zipfile.ZIP_DEFLATED)]:
            with z.open(info(name, method), "w", force_zip64=True) as f:
                f.write(data)

    # Data descriptors (bit 3) from a non-seekable stream; stored and deflated entries.
    stream = Unseekable()
    with zipfile.ZipFile(stream, "w") as z:
        z.writestr(info("streamed/blob.bin", zipfile.ZIP_STORED), blob)
        z.writestr(info("streamed/text.txt", zipfile.ZIP_DEFLATED), text)
        z.writestr(info("streamed/empty", zipfile.ZIP_STORED), b"")
    with open(os.path.join(HERE, "python_streamed.zip"), "wb") as f:
        f.write(stream.buffer)

    # An archive comment and a directory entry.
    with zipfile.ZipFile(os.path.join(HERE, "python_comment_dir.zip"), "w") as z:
        z.writestr(info("folder/", zipfile.ZIP_STORED), b"")
        z.writestr(info("folder/file.txt", zipfile.ZIP_DEFLATED), text)
        z.comment = b"an archive comment"

    # 8 MiB of zeros deflated to about 8 KB: a small zip bomb.
    with zipfile.ZipFile(os.path.join(HERE, "bomb.zip"), "w", compresslevel=9) as z:
        z.writestr(info("bomb/zeros", zipfile.ZIP_DEFLATED), bytes(8 << 20))


def describe(path):
    data = open(path, "rb").read()
    entries = []
    with zipfile.ZipFile(path) as z:
        assert z.testzip() is None, path
        for i in z.infolist():
            h = i.header_offset
            name_length, extra_length = struct.unpack("<HH", data[h + 26:h + 30])
            entries.append({
                "name": i.filename,
                "method": i.compress_type,
                "flags": i.flag_bits,
                "crc32": i.CRC,
                "compressedByteCount": i.compress_size,
                "uncompressedByteCount": i.file_size,
                "localHeaderOffset": h,
                "dataOffset": h + 30 + name_length + extra_length,
            })
            assert zlib.crc32(z.read(i)) == i.CRC
    return {"byteCount": len(data), "entries": entries}


def main():
    if len(sys.argv) > 1:
        for name in SAMPLES:
            shutil.copyfile(os.path.join(sys.argv[1], name), os.path.join(HERE, name))
    make_python_fixtures()
    names = sorted(n for n in os.listdir(HERE) if n.endswith((".pt", ".ckpt", ".zip")))
    expected = {name: describe(os.path.join(HERE, name)) for name in names}
    with open(os.path.join(HERE, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
