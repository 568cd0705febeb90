"""Interop checks of diff --cast and predict's probabilities with the real torch (loaded by
scripts/interop.py; run through scripts/interop.sh):

    diff-cast            diff --cast --json of float32 weights against torch's float16, bfloat16 and
                         float64 casts of them (saved by torch.save under a "model." prefix) reports,
                         per tensor, exactly torch's largest |a - b| with both widened to float64,
                         overflow to inf included; convert --dtype f16/bf16 writes torch's cast bit
                         for bit, and diff --cast of the original against it agrees with torch too;
    predict-probabilities  predict --json of a trained network gives torch's sigmoid outputs, [1 - p, p]
                         as probabilities and class 1 exactly when p >= 0.5.
"""
import json
import os
import subprocess

import torch
from safetensors.torch import load_file, save_file

from interop_support import check, run, same_tensor


def run_any(modelfile, *args):
    """Runs modelfile whatever its exit code (diff exits 1 when the files differ)."""
    return subprocess.run([modelfile, *args], capture_output=True, text=True)


def torch_max_abs_diff(a, b):
    d = (a.double() - b.double()).abs()
    return d.max().item() if d.numel() else 0.0


def as_float(value):
    return float(value) if isinstance(value, str) else value  # "inf", "nan" are strings in strict JSON


def diff_cast_checks(modelfile, work):
    generator = torch.Generator().manual_seed(1515)
    weights = {
        "linear1.weight": torch.randn(64, 32, generator=generator),
        "linear1.bias": torch.randn(64, generator=generator) * 1e-6,  # subnormal in f16
        "embed.weight": torch.randn(100, 16, generator=generator) * 3000,
        "big": torch.tensor([1.0, 65504.0, 70000.0, -1e6]),  # beyond f16's range: inf
        "scalar": torch.tensor(0.1),
    }
    original = os.path.join(work, "cast_original.safetensors")
    save_file(weights, original)
    for dtype, name in [(torch.float16, "f16"), (torch.bfloat16, "bf16"), (torch.float64, "f64")]:
        cast_path = os.path.join(work, f"cast_{name}.pth")
        torch.save({"model." + k: v.to(dtype) for k, v in weights.items()}, cast_path)
        result = run_any(modelfile, "diff", original, cast_path, "--strip-prefix", "model.", "--cast", "--json")
        document = json.loads(result.stdout)
        rows = {row["name"]: row for row in document["tensors"]}
        check(f"diff-cast {name}: every tensor matched after --strip-prefix",
              document["only_in_a"] == [] and document["only_in_b"] == [] and sorted(rows) == sorted(weights), str(document)[:300])
        for key, a in weights.items():
            row = rows.get(key, {})
            expected = torch_max_abs_diff(a, a.to(dtype))
            got = as_float(row.get("max_abs_diff"))
            check(f"diff-cast {name} {key}: max_abs_diff {got} equals torch's float64 difference {expected}", got == expected)
            check(f"diff-cast {name} {key}: dtypes named", row.get("dtype") == ["F32", {"f16": "F16", "bf16": "BF16", "f64": "F64"}[name]])
        # Equal exactly when within atol everywhere (inf never is).
        worst = max(torch_max_abs_diff(a, a.to(dtype)) for a in weights.values())
        check(f"diff-cast {name}: equal and exit code follow the largest difference",
              document["equal"] == (worst == 0) and result.returncode == (0 if worst == 0 else 1))
        if name != "f64":
            converted = os.path.join(work, f"converted_{name}.safetensors")
            run(modelfile, "convert", original, converted, "--dtype", name, "--force", "--quiet")
            mine = load_file(converted)
            check(f"diff-cast convert --dtype {name}: torch's cast bit for bit",
                  all(same_tensor(mine[k], v.to(dtype)) for k, v in weights.items()))
            again = json.loads(run_any(modelfile, "diff", original, converted, "--cast", "--json").stdout)
            check(f"diff-cast diff --cast after convert --dtype {name} agrees with torch",
                  all(as_float(r["max_abs_diff"]) == torch_max_abs_diff(weights[r["name"]], weights[r["name"]].to(dtype))
                      for r in again["tensors"]))
            plain = run(modelfile, "diff", original, converted, "--atol", "1e300", "--json", expect=1)
            check(f"diff-cast without --cast the {name} dtype change is a difference", json.loads(plain.stdout)["equal"] is False)


def predict_probability_checks(modelfile, work):
    model_path = os.path.join(work, "predict_fnn.safetensors")
    run(modelfile, "train", "--epochs", "20", "--optimizer", "adam", "--out", model_path, "--force", "--quiet")
    document = json.loads(run(modelfile, "predict", "--model", model_path, "--labels", "no,yes", "--json").stdout)
    state = load_file(model_path)
    data_path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "diabetes.csv")
    import csv
    with open(data_path) as f:
        rows = [[float(v) for v in row] for row in list(csv.reader(f))[1:]]
    x = torch.tensor(rows, dtype=torch.float32)[:, :8]
    for i in range(1, 5):
        x = torch.sigmoid(x @ state[f"linear{i}.weight"].T + state[f"linear{i}.bias"])
    p = x[:, 0].double()
    predictions = torch.tensor([row[0] for row in document["predictions"]], dtype=torch.float64)
    check("predict-probabilities: outputs equal torch's forward pass (float32)",
          torch.allclose(predictions, p, rtol=0, atol=1e-6), f"{(predictions - p).abs().max().item()}")
    probabilities = torch.tensor(document["probabilities"], dtype=torch.float64)
    check("predict-probabilities: [1 - p, p] per row",
          probabilities.shape == (len(rows), 2) and torch.allclose(probabilities[:, 1], predictions, atol=1e-7, rtol=0)
          and torch.allclose(probabilities[:, 0], 1 - probabilities[:, 1], atol=1e-15, rtol=0))
    expected_labels = ["yes" if q >= 0.5 else "no" for q in predictions.tolist()]
    check("predict-probabilities: class 1 exactly when p >= 0.5", document["labels"] == expected_labels)
    check("predict-probabilities: classes named by --labels", document["classes"] == ["no", "yes"])


SECTIONS = {"diff-cast": diff_cast_checks, "predict-probabilities": predict_probability_checks}
