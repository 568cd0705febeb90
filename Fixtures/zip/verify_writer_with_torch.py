"""Checks ZipWriter's output with Python's zipfile and torch.load (developers run this by hand
after touching the writer; CI never does).

    python Fixtures/zip/verify_writer_with_torch.py prepare /tmp/zipcheck
    ZIPFORMAT_EXPORT_DIR=/tmp/zipcheck swift test --filter ZipManualChecks
    python Fixtures/zip/verify_writer_with_torch.py verify /tmp/zipcheck

`prepare` saves a tensor with torch and keeps its `data.pkl` and `data/0` records; the Swift test
writes them (and other archives) with ZipWriter; `verify` reads everything back.
"""
import io, os, struct, sys, zipfile
import torch


def expected():
    return {"w": torch.arange(12, dtype=torch.float32).view(3, 4)}


def prepare(folder):
    os.makedirs(folder, exist_ok=True)
    buffer = io.BytesIO()
    torch.save(expected(), buffer)
    with zipfile.ZipFile(io.BytesIO(buffer.getvalue())) as z:
        open(os.path.join(folder, "data.pkl"), "wb").write(z.read("archive/data.pkl"))
        open(os.path.join(folder, "data0.bin"), "wb").write(z.read("archive/data/0"))
    print("prepared", folder)


def check_zip(path):
    data = open(path, "rb").read()
    with zipfile.ZipFile(path) as z:
        bad = z.testzip()
        assert bad is None, f"{path}: bad CRC in {bad}"
        for info in z.infolist():
            h = info.header_offset
            n, e = struct.unpack("<HH", data[h + 26:h + 30])
            assert (h + 30 + n + e) % 64 == 0, f"{path}: {info.filename} not 64-byte aligned"
            z.read(info)
        print(f"zipfile ok: {os.path.basename(path)}: {len(z.infolist())} entries, testzip clean, all aligned")


def verify(folder):
    for name in ["model.pth", "mixed.zip", "zip64_lowered.zip", "many.zip"]:
        check_zip(os.path.join(folder, name))
    path = os.path.join(folder, "model.pth")
    for mmap in (False, True):
        loaded = torch.load(path, weights_only=True, mmap=mmap)
        assert loaded.keys() == expected().keys() and torch.equal(loaded["w"], expected()["w"]), loaded
        print(f"torch.load(weights_only=True, mmap={mmap}) ok: {loaded}")


if __name__ == "__main__":
    {"prepare": prepare, "verify": verify}[sys.argv[1]](sys.argv[2])
