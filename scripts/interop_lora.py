"""LoRA interop checks (docs/cli.md, "LoRA" and "LoRA training"), run by scripts/interop.py:

lora-train  adapters trained by `modelfile train --lora` load with `PeftModel.from_pretrained` onto the
            reference PyTorch class (FNNModel, linear1..linear4 = 8->6->4->2->1, sigmoid) with no missing
            or unexpected keys, and PEFT predicts what `modelfile predict --adapter` prints; the --merge
            output loads into FNNModel strictly and predicts the same.
lora-merge  `modelfile lora merge` equals PEFT's merge_and_unload on fresh random adapters of every feature
            (float32 within 1e-6 relative; float16/bfloat16 within one ulp), kohya files equal kohya's
            formula, and sharded and .pth bases merge like single safetensors files.
"""
import importlib.util
import json
import os
import random

import torch
from safetensors.torch import load_file, save_file

from interop_support import FIXTURES, check, run

_spec = importlib.util.spec_from_file_location("generate_lora", os.path.join(FIXTURES, "generate_lora.py"))
gen = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gen)

from peft import LoraConfig, PeftModel, get_peft_model  # noqa: E402
from peft.utils import load_peft_weights, set_peft_model_state_dict  # noqa: E402

DIABETES = os.path.join(FIXTURES, "..", "data", "diabetes.csv")


def diabetes():
    with open(DIABETES) as f:
        rows = [line.split(",") for line in f.read().splitlines()[1:]]
    values = torch.tensor([[float(v) for v in row] for row in rows], dtype=torch.float32)
    return values[:, :8], values[:, 8:]


def lora_train_checks(modelfile, work):
    x, _ = diabetes()
    for trial, extra in enumerate([[], ["--lora-targets", "linear1,linear3", "--use-rslora"], ["--optimizer", "adam", "--lr", "0.01"]]):
        torch.manual_seed(100 + trial)
        base = gen.FNNModel()
        base_path = os.path.join(work, f"lora_base{trial}.safetensors")
        save_file({k: v.contiguous() for k, v in base.state_dict().items()}, base_path)
        adapter = os.path.join(work, f"lora_adapter{trial}")
        run(modelfile, "train", "--init", base_path, "--lora", "2", "--lora-alpha", "4", "--epochs", "5", "--seed", str(trial),
            "--out", adapter, "--force", "--quiet", *extra)
        fresh = gen.FNNModel()
        fresh.load_state_dict(base.state_dict())
        model = PeftModel.from_pretrained(fresh, adapter)
        result = set_peft_model_state_dict(model, load_peft_weights(adapter))
        missing = [k for k in result.missing_keys if "lora_" in k]
        check(f"lora-train {trial}: PeftModel.from_pretrained loads the folder with no missing adapter keys", not missing, missing)
        check(f"lora-train {trial}: ... and no unexpected keys", not result.unexpected_keys, result.unexpected_keys)
        with torch.no_grad():
            theirs = model(x).reshape(-1)
        printed = json.loads(run(modelfile, "predict", "--model", base_path, "--adapter", adapter, "--json").stdout)
        ours = torch.tensor([row[0] for row in printed["predictions"]])
        difference = (ours - theirs).abs().max().item()
        check(f"lora-train {trial}: PEFT predicts what predict --adapter prints (768 rows, max diff {difference:.2e})",
              ours.shape == theirs.shape and difference <= 1e-6, difference)
        merged = os.path.join(work, f"lora_merged{trial}.safetensors")
        run(modelfile, "train", "--init", base_path, "--lora", "2", "--lora-alpha", "4", "--epochs", "5", "--seed", str(trial),
            "--out", merged, "--merge", "--force", "--quiet", *extra)
        plain = gen.FNNModel()
        plain.load_state_dict(load_file(merged), strict=True)
        with torch.no_grad():
            difference = (plain(x).reshape(-1) - theirs).abs().max().item()
        check(f"lora-train {trial}: the --merge file loads into FNNModel strictly and predicts the same (max diff {difference:.2e})",
              difference <= 1e-6, difference)


def ulps(a, b):
    bits = lambda t: t.contiguous().view(torch.int16).to(torch.int32)  # noqa: E731
    x, y = bits(a), bits(b)
    x = torch.where(x < 0, -(x & 0x7FFF), x)
    y = torch.where(y < 0, -(y & 0x7FFF), y)
    return (x - y).abs().max().item() if a.numel() else 0


def compare(label, ours, theirs, base):
    if set(ours) != set(theirs):
        check(label, False, f"names differ: {sorted(set(ours) ^ set(theirs))}")
        return
    worst = 0.0
    for name, expected in theirs.items():
        got = ours[name]
        if got.dtype != expected.dtype or got.shape != expected.shape:
            check(label, False, f"{name}: {got.dtype} {tuple(got.shape)} vs {expected.dtype} {tuple(expected.shape)}")
            return
        if name in base and torch.equal(base[name], expected):
            if not torch.equal(got.view(torch.uint8) if got.numel() else got, expected.view(torch.uint8) if expected.numel() else expected):
                check(label, False, f"{name} should be copied bit for bit")
                return
            continue
        if expected.dtype in (torch.float16, torch.bfloat16):
            worst = max(worst, ulps(got, expected))
            continue
        relative = ((got.double() - expected.double()).abs() / expected.double().abs().clamp_min(1e-30)).max().item()
        worst = max(worst, relative)
    half = any(t.dtype in (torch.float16, torch.bfloat16) for t in theirs.values())
    check(f"{label} ({'max ulps' if half else 'max relative diff'} {worst:.3g})", worst <= (1 if half else 1e-6), worst)


def peft_merge(work, name, make_base, config, seed, dtype=None, safe=True):
    torch.manual_seed(seed)
    base = make_base()
    if dtype is not None:
        base = base.to(dtype)
    state = {k: v.detach().contiguous().clone() for k, v in base.state_dict().items()}
    folder = os.path.join(work, f"lora_{name}")
    os.makedirs(folder, exist_ok=True)
    base_path = os.path.join(folder, "base.safetensors")
    save_file(state, base_path)
    model = get_peft_model(base, config)
    gen.randomize_lora(model, seed + 1)
    adapter = os.path.join(folder, "adapter")
    model.save_pretrained(adapter, safe_serialization=safe)
    fresh = make_base()
    if dtype is not None:
        fresh = fresh.to(dtype)
    fresh.load_state_dict(state)
    merged = PeftModel.from_pretrained(fresh, adapter).merge_and_unload()
    return base_path, adapter, state, {k: v.detach().contiguous() for k, v in merged.state_dict().items()}


def lora_merge_checks(modelfile, work):
    rng = random.Random(5)
    fnn = ["linear1", "linear2", "linear3"]
    cases = [
        ("plain", gen.FNNModel, lambda: LoraConfig(r=rng.randint(1, 4), lora_alpha=rng.randint(1, 16), target_modules=fnn, init_lora_weights=False), {}),
        ("rslora", gen.FNNModel, lambda: LoraConfig(r=rng.randint(2, 6), lora_alpha=8, target_modules=fnn, use_rslora=True, init_lora_weights=False), {}),
        ("patterns", gen.Tower, lambda: LoraConfig(r=2, lora_alpha=4, target_modules=["proj", "gate", "head"], init_lora_weights=False,
                                                   rank_pattern={r"blocks\.\d\.gate": 5, "proj": 3},
                                                   alpha_pattern={"blocks.1.proj": 7, "head": 1.5}), {}),
        ("modules_to_save", gen.FNNModel, lambda: LoraConfig(r=2, lora_alpha=4, target_modules=["linear2"], modules_to_save=["linear1", "linear4"],
                                                              init_lora_weights=False), {}),
        ("lora_bias", gen.FNNModel, lambda: LoraConfig(r=3, lora_alpha=5, target_modules=fnn, lora_bias=True, bias="all", init_lora_weights=False), {}),
        ("bias_lora_only", gen.Tower, lambda: LoraConfig(r=2, lora_alpha=3, target_modules=["gate"], bias="lora_only", init_lora_weights=False), {}),
        ("bin", gen.FNNModel, lambda: LoraConfig(r=2, lora_alpha=4, target_modules=fnn, init_lora_weights=False), {"safe": False}),
        ("gpt2", gen.tiny_gpt2, lambda: LoraConfig(r=2, lora_alpha=4, target_modules=["c_attn", "c_proj", "c_fc"], fan_in_fan_out=True,
                                                    init_lora_weights=False), {}),
        ("conv", gen.ConvNet, lambda: LoraConfig(r=3, lora_alpha=2, target_modules=["conv1", "conv2"], init_lora_weights=False), {}),
        ("embedding", gen.EmbedNet, lambda: LoraConfig(r=3, lora_alpha=6, target_modules=["emb"], init_lora_weights=False), {}),
        ("f16", gen.FNNModel, lambda: LoraConfig(r=4, lora_alpha=4, target_modules=fnn, init_lora_weights=False), {"dtype": torch.float16}),
        ("bf16", gen.Tower, lambda: LoraConfig(r=2, lora_alpha=4, target_modules=["proj", "head"], init_lora_weights=False), {"dtype": torch.bfloat16}),
    ]
    for trial in range(2):
        for name, make_base, config, extra in cases:
            label = f"{name}{trial}"
            base_path, adapter, state, theirs = peft_merge(work, label, make_base, config(), 1000 + 17 * trial + len(label), **extra)
            out = os.path.join(work, f"lora_{label}", "merged.safetensors")
            run(modelfile, "lora", "merge", base_path, adapter, out, "--force", "--quiet")
            ours = load_file(out)
            compare(f"lora-merge {label}: equals merge_and_unload", ours, theirs, state)
    # Bases in other layouts: a sharded set and a .pth file give the same merge.
    base_path, adapter, state, theirs = peft_merge(work, "layouts", gen.Tower, LoraConfig(r=2, lora_alpha=4, target_modules=["proj", "gate"],
                                                                                          init_lora_weights=False), 77)
    from huggingface_hub import save_torch_state_dict
    sharded = os.path.join(work, "lora_layouts", "sharded")
    os.makedirs(sharded, exist_ok=True)
    save_torch_state_dict(state, sharded, max_shard_size=200)
    pth = os.path.join(work, "lora_layouts", "base.pth")
    torch.save(state, pth)
    for label, base in (("sharded base", sharded), (".pth base", pth)):
        out = os.path.join(work, "lora_layouts", label.replace(" ", "_").replace(".", "") + ".safetensors")
        run(modelfile, "lora", "merge", base, adapter, out, "--force", "--quiet")
        compare(f"lora-merge {label}: equals merge_and_unload", load_file(out), theirs, state)
    shards_out = os.path.join(work, "lora_layouts", "merged_shards")
    run(modelfile, "lora", "merge", base_path, adapter, shards_out, "--max-shard-size", "300", "--force", "--quiet")
    from interop_support import load_any_safetensors
    compare("lora-merge sharded output: equals merge_and_unload", load_any_safetensors(shards_out), theirs, state)
    # kohya files: random ranks and alphas over names with underscores, against kohya's formula.
    for trial in range(3):
        g = torch.Generator().manual_seed(300 + trial)
        base = {"text_model.encoder.layers.0.mlp.fc1.weight": torch.randn(7, 5, generator=g),
                "down_blocks.1.attn_1.to_q.weight": torch.randn(6, 6, generator=g),
                "mid_block.resnets.0.conv1.weight": torch.randn(4, 3, 3, 3, generator=g),
                "conv_in.weight": torch.randn(4, 2, 1, 1, generator=g)}
        keys = {"text_model.encoder.layers.0.mlp.fc1": "lora_te_text_model_encoder_layers_0_mlp_fc1",
                "down_blocks.1.attn_1.to_q": "lora_unet_down_blocks_1_attn_1_to_q",
                "mid_block.resnets.0.conv1": "lora_unet_mid_block_resnets_0_conv1", "conv_in": "other_prefix_conv_in"}
        adapter, expected = {}, dict(base)
        for module, key in keys.items():
            weight = base[module + ".weight"]
            rank = rng.randint(1, 3)
            alpha = rng.choice([None, rng.uniform(0.5, 8)])
            down = torch.randn((rank,) + tuple(weight.shape[1:]), generator=g)
            up = torch.randn((weight.shape[0], rank) + (1,) * (weight.dim() - 2), generator=g)
            adapter[key + ".lora_down.weight"], adapter[key + ".lora_up.weight"] = down, up
            if alpha is not None:
                adapter[key + ".alpha"] = torch.tensor(alpha, dtype=torch.float32)
            scale = (adapter[key + ".alpha"].item() if alpha is not None else rank) / rank
            expected[module + ".weight"] = weight + gen.kohya_delta(weight, down, up) * scale
        folder = os.path.join(work, f"lora_kohya{trial}")
        os.makedirs(folder, exist_ok=True)
        save_file(base, os.path.join(folder, "base.safetensors"))
        save_file(adapter, os.path.join(folder, "adapter.safetensors"))
        out = os.path.join(folder, "merged.safetensors")
        run(modelfile, "lora", "merge", os.path.join(folder, "base.safetensors"), os.path.join(folder, "adapter.safetensors"), out, "--force", "--quiet")
        compare(f"lora-merge kohya {trial}: equals kohya's formula", load_file(out), expected, base)


SECTIONS = {"lora-train": lora_train_checks, "lora-merge": lora_merge_checks}
