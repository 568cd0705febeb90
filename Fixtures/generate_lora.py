#!/usr/bin/env python3
"""Generates the LoRA fixtures under Fixtures/lora/ with the real PEFT and transformers: adapter
folders as `PeftModel.save_pretrained` writes them, the base weights they apply to, and what
`merge_and_unload()` makes of them; a kohya-style file with its formula's result; adapters that
`modelfile lora merge` must refuse; and a training-parity case.

Pinned versions (the script refuses others): torch 2.13.0 (CPU), peft 0.21.2, transformers 5.25.0,
safetensors 0.8.0; one thread; seeds fixed per case (torch.manual_seed). Swift tests never run it;
rerun it by hand:

    /work/venv/bin/python Fixtures/generate_lora.py

Each merge case is a folder `lora/<case>/` holding `base.safetensors`, `adapter/` (PEFT's
`adapter_config.json` + `adapter_model.safetensors`, or `.bin`), `merged.safetensors` (the state dict
of `merge_and_unload()`, saved with safetensors.torch.save_file) and `expected.json` describing the
case (and, for float16/bfloat16 bases, `merged_f32acc.safetensors`: base + delta added in float32 and
rounded once, which modelfile must match within one unit in the last place). Adapters get random A
and B (`init_lora_weights=False`), so every delta is non-zero.
"""
import json
import math
import os
import shutil
import sys

import torch
from torch import nn

PINNED = {"torch": "2.13.0", "peft": "0.21.2", "transformers": "5.25.0", "safetensors": "0.8.0"}
import peft  # noqa: E402
import safetensors  # noqa: E402
import transformers  # noqa: E402
from safetensors.torch import save_file  # noqa: E402

FOUND = {"torch": torch.__version__.split("+")[0], "peft": peft.__version__, "transformers": transformers.__version__,
         "safetensors": safetensors.__version__}
if FOUND != PINNED:
    sys.exit(f"this script pins {PINNED}; found {FOUND}")
from peft import LoHaConfig, LoraConfig, PeftModel, get_peft_model  # noqa: E402

torch.set_num_threads(1)
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "lora")
DIABETES = os.path.join(HERE, "..", "data", "diabetes.csv")
MADE_BY = f"torch {FOUND['torch']}, peft {FOUND['peft']}, transformers {FOUND['transformers']} (Fixtures/generate_lora.py)"


class FNNModel(nn.Module):
    """The reference network: linear1..linear4 = 8->6->4->2->1, a sigmoid after each."""

    def __init__(self, sizes=(8, 6, 4, 2, 1)):
        super().__init__()
        for i in range(len(sizes) - 1):
            setattr(self, f"linear{i + 1}", nn.Linear(sizes[i], sizes[i + 1]))
        self.count = len(sizes) - 1

    def forward(self, x):
        for i in range(self.count):
            x = torch.sigmoid(getattr(self, f"linear{i + 1}")(x))
        return x


class Block(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.proj = nn.Linear(width, width + 1)
        self.gate = nn.Linear(width + 1, width)

    def forward(self, x):
        return self.gate(torch.relu(self.proj(x)))


class Tower(nn.Module):
    """Nested names for rank/alpha patterns: blocks.0.proj, blocks.0.gate, blocks.1.proj, …, head."""

    def __init__(self):
        super().__init__()
        self.blocks = nn.ModuleList([Block(5), Block(5)])
        self.head = nn.Linear(5, 2)

    def forward(self, x):
        for block in self.blocks:
            x = block(x)
        return self.head(x)


class ConvNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 4, 1)
        self.conv2 = nn.Conv2d(4, 5, 3, padding=1)
        self.fc = nn.Linear(5, 2)

    def forward(self, x):
        x = self.conv2(torch.relu(self.conv1(x)))
        return self.fc(x.mean(dim=(2, 3)))


class EmbedNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(10, 4)
        self.out = nn.Linear(4, 3)

    def forward(self, ids):
        return self.out(self.emb(ids))


def contiguous(state):
    return {k: v.detach().contiguous().clone() for k, v in state.items()}


def case_dir(name):
    path = os.path.join(OUT, name)
    if os.path.exists(path):
        shutil.rmtree(path)
    os.makedirs(path)
    return path


def save_adapter(model, folder, safe=True):
    model.save_pretrained(folder, safe_serialization=safe)
    readme = os.path.join(folder, "README.md")
    if os.path.exists(readme):
        os.remove(readme)


def write_json(path, value):
    with open(path, "w") as f:
        json.dump(value, f, indent=1, sort_keys=True)
        f.write("\n")


def randomize_lora(model, seed):
    """Random values for every trainable tensor (A, B, lora biases, trained biases, saved modules)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.requires_grad:
                p.copy_((torch.randn(p.shape, generator=g) * 0.5).to(p.dtype))


def merge_case(name, make_base, config, notes, seed, safe=True, dtype=None, extra=None):
    """A base, a PEFT adapter on it, and merge_and_unload()'s result."""
    folder = case_dir(name)
    torch.manual_seed(seed)
    base = make_base()
    if dtype is not None:
        base = base.to(dtype)
    base_state = contiguous(base.state_dict())
    save_file(base_state, os.path.join(folder, "base.safetensors"), metadata={"format": "pt"})
    model = get_peft_model(base, config)
    randomize_lora(model, seed + 1)
    save_adapter(model, os.path.join(folder, "adapter"), safe=safe)
    # Merge what was saved, as a user would: load the folder onto a fresh copy of the base.
    fresh = make_base()
    if dtype is not None:
        fresh = fresh.to(dtype)
    fresh.load_state_dict(base_state)
    loaded = PeftModel.from_pretrained(fresh, os.path.join(folder, "adapter"))
    deltas = {}
    if dtype is not None:
        # base + delta accumulated in float32 and rounded once (what modelfile computes).
        for module_name, module in loaded.base_model.model.named_modules():
            if hasattr(module, "get_delta_weight") and "default" in getattr(module, "lora_A", {}):
                delta = module.get_delta_weight("default").float()
                deltas[module_name + ".weight"] = delta
    merged = loaded.merge_and_unload()
    merged_state = contiguous(merged.state_dict())
    save_file(merged_state, os.path.join(folder, "merged.safetensors"), metadata={"format": "pt"})
    description = {"made_by": MADE_BY, "notes": notes, "base_dtype": str(dtype or torch.float32).replace("torch.", ""),
                   "adapter_format": "safetensors" if safe else "bin",
                   "merged_tensors": sorted(merged_state), "changed": sorted(
                       k for k in merged_state if not torch.equal(merged_state[k], base_state[k]))}
    if dtype is not None:
        accumulated = {}
        for key, value in base_state.items():
            if key in deltas:
                accumulated[key] = (value.float() + deltas[key]).to(dtype)
            else:
                accumulated[key] = merged_state[key]
        save_file(contiguous(accumulated), os.path.join(folder, "merged_f32acc.safetensors"), metadata={"format": "pt"})
        description["accumulated"] = "merged_f32acc.safetensors"
    if extra:
        description.update(extra(folder, base_state, loaded))
    write_json(os.path.join(folder, "expected.json"), description)
    print("wrote", name)
    return folder


def scaled_case():
    """--scale 0.5 on the plain case: W + 0.5 * (B @ A) * alpha / r, computed here in float32."""
    folder = os.path.join(OUT, "plain")
    from safetensors.torch import load_file
    base = load_file(os.path.join(folder, "base.safetensors"))
    adapter = load_file(os.path.join(folder, "adapter", "adapter_model.safetensors"))
    with open(os.path.join(folder, "adapter", "adapter_config.json")) as f:
        config = json.load(f)
    result = dict(base)
    for key in adapter:
        if key.endswith(".lora_A.weight"):
            module = key[len("base_model.model."):-len(".lora_A.weight")]
            a = adapter[key]
            b = adapter[key.replace("lora_A", "lora_B")]
            scaling = config["lora_alpha"] / config["r"]
            result[module + ".weight"] = base[module + ".weight"] + (b @ a) * scaling * 0.5
    save_file(contiguous(result), os.path.join(folder, "merged_scale_0.5.safetensors"), metadata={"format": "pt"})
    print("wrote plain/merged_scale_0.5.safetensors")


def tiny_gpt2():
    config = transformers.GPT2Config(vocab_size=16, n_positions=8, n_embd=8, n_layer=1, n_head=2, n_inner=12)
    return transformers.GPT2Model(config)


def kohya_delta(weight, down, up):
    """up · down as kohya's formula gives it for a linear, a 1×1 or a k×k convolution weight."""
    if weight.dim() == 2:
        return up @ down
    if weight.shape[2:4] == (1, 1):
        return (up.squeeze(3).squeeze(2) @ down.squeeze(3).squeeze(2)).unsqueeze(2).unsqueeze(3)
    return torch.nn.functional.conv2d(down.permute(1, 0, 2, 3), up).permute(1, 0, 2, 3)


def kohya_case():
    """A kohya-style file (lora_down / lora_up / alpha, module paths with dots as underscores) over a
    base whose names hold underscores; the expected result is kohya's merge formula
    (networks/merge_lora.py): W + ratio * (up @ down) * alpha / r, convolutions through their 2-D views."""
    folder = case_dir("kohya")
    g = torch.Generator().manual_seed(70)

    def rnd(*shape):
        return torch.randn(shape, generator=g) * 0.5

    base = {
        "text_model.encoder.layers.0.mlp.fc1.weight": rnd(6, 4),
        "text_model.encoder.layers.0.mlp.fc1.bias": rnd(6),
        "text_model.encoder.layers.0.self_attn.q_proj.weight": rnd(4, 4),
        "down_blocks.0.proj_in.weight": rnd(5, 3, 1, 1),
        "down_blocks.0.proj_in.bias": rnd(5),
        "mid_block.conv.weight": rnd(4, 5, 3, 3),
        "time_embedding.linear_1.weight": rnd(3, 4),
    }
    save_file(contiguous(base), os.path.join(folder, "base.safetensors"), metadata={"format": "pt"})
    entries = [
        ("lora_te_text_model_encoder_layers_0_mlp_fc1", "text_model.encoder.layers.0.mlp.fc1", 2, 1.0),
        ("lora_te1_text_model_encoder_layers_0_self_attn_q_proj", "text_model.encoder.layers.0.self_attn.q_proj", 3, 1.5),
        ("lora_unet_down_blocks_0_proj_in", "down_blocks.0.proj_in", 2, 4.0),
        ("lora_unet_mid_block_conv", "mid_block.conv", 2, 1.0),
        ("my_lora_time_embedding_linear_1", "time_embedding.linear_1", 2, None),
    ]
    adapter = {}
    merged = dict(base)
    merged_scaled = dict(base)
    for key, module, rank, alpha in entries:
        weight = base[module + ".weight"]
        if weight.dim() == 4:
            down = rnd(rank, weight.shape[1], weight.shape[2], weight.shape[3])
            up = rnd(weight.shape[0], rank, 1, 1)
        else:
            down = rnd(rank, weight.shape[1])
            up = rnd(weight.shape[0], rank)
        adapter[key + ".lora_down.weight"] = down
        adapter[key + ".lora_up.weight"] = up
        if alpha is not None:
            adapter[key + ".alpha"] = torch.tensor(alpha)
        scale = (alpha if alpha is not None else rank) / rank
        delta = kohya_delta(weight, down, up)
        for ratio, target in ((1.0, merged), (0.5, merged_scaled)):
            target[module + ".weight"] = weight + ratio * delta * scale
    save_file(contiguous(adapter), os.path.join(folder, "adapter.safetensors"))
    save_file(contiguous(merged), os.path.join(folder, "merged.safetensors"), metadata={"format": "pt"})
    save_file(contiguous(merged_scaled), os.path.join(folder, "merged_scale_0.5.safetensors"), metadata={"format": "pt"})
    write_json(os.path.join(folder, "expected.json"), {
        "made_by": MADE_BY, "notes": "kohya formula W + ratio * (up @ down) * alpha / r; alpha = r when absent",
        "modules": {key: {"module": module, "rank": rank, "alpha": alpha if alpha is not None else rank}
                    for key, module, rank, alpha in entries}})
    # An ambiguous name: lora_unet_a_b_c fits both a_b.c and a.b_c.
    folder = case_dir("kohya_ambiguous")
    base = {"a_b.c.weight": rnd(3, 2), "a.b_c.weight": rnd(3, 2)}
    save_file(contiguous(base), os.path.join(folder, "base.safetensors"), metadata={"format": "pt"})
    save_file(contiguous({"lora_unet_a_b_c.lora_down.weight": rnd(1, 2), "lora_unet_a_b_c.lora_up.weight": rnd(3, 1),
                          "lora_unet_a_b_c.alpha": torch.tensor(1.0)}), os.path.join(folder, "adapter.safetensors"))
    write_json(os.path.join(folder, "expected.json"), {"made_by": MADE_BY, "notes": "lora_unet_a_b_c fits a_b.c and a.b_c"})
    print("wrote kohya, kohya_ambiguous")


def refusal_cases():
    # DoRA: a LoRA folder with use_dora (and lora_magnitude_vector entries).
    folder = case_dir("dora")
    torch.manual_seed(80)
    base = FNNModel()
    save_file(contiguous(base.state_dict()), os.path.join(folder, "base.safetensors"), metadata={"format": "pt"})
    model = get_peft_model(base, LoraConfig(r=2, lora_alpha=4, target_modules=["linear1"], use_dora=True))
    save_adapter(model, os.path.join(folder, "adapter"))
    # LoHa: another adapter kind, refused by its name.
    folder = case_dir("loha")
    torch.manual_seed(81)
    base = FNNModel()
    save_file(contiguous(base.state_dict()), os.path.join(folder, "base.safetensors"), metadata={"format": "pt"})
    model = get_peft_model(base, LoHaConfig(r=2, alpha=4, target_modules=["linear1"]))
    save_adapter(model, os.path.join(folder, "adapter"))
    # Wrong shape: an adapter made for an 8->7->… network applied to the 8->6->… base.
    folder = case_dir("wrong_shape")
    torch.manual_seed(82)
    save_file(contiguous(FNNModel().state_dict()), os.path.join(folder, "base.safetensors"), metadata={"format": "pt"})
    other = FNNModel((8, 7, 4, 2, 1))
    model = get_peft_model(other, LoraConfig(r=2, lora_alpha=4, target_modules=["linear1", "linear2"], init_lora_weights=False))
    save_adapter(model, os.path.join(folder, "adapter"))
    # Missing target: an adapter for the Tower applied to the FNN base.
    folder = case_dir("missing_target")
    torch.manual_seed(83)
    save_file(contiguous(FNNModel().state_dict()), os.path.join(folder, "base.safetensors"), metadata={"format": "pt"})
    model = get_peft_model(Tower(), LoraConfig(r=2, lora_alpha=4, target_modules=["head"], init_lora_weights=False))
    save_adapter(model, os.path.join(folder, "adapter"))
    print("wrote dora, loha, wrong_shape, missing_target")


def diabetes_rows(count):
    with open(DIABETES) as f:
        lines = f.read().splitlines()
    return lines[0], lines[1:count + 1]


def training_case():
    """2 epochs of SGD (lr 0.05, batches of 16, no shuffling, BCE) of the adapters only, from a base
    and an adapter start both saved here; the adapter PEFT + torch end with."""
    folder = case_dir("training")
    header, rows = diabetes_rows(96)
    with open(os.path.join(folder, "data.csv"), "w") as f:
        f.write("\n".join([header] + rows) + "\n")
    values = torch.tensor([[float(v) for v in row.split(",")] for row in rows], dtype=torch.float32)
    x, y = values[:, :8], values[:, 8:]
    torch.manual_seed(90)
    base = FNNModel()
    save_file(contiguous(base.state_dict()), os.path.join(folder, "base.safetensors"), metadata={"format": "pt"})
    config = LoraConfig(r=2, lora_alpha=4, target_modules=["linear1", "linear2", "linear3"], init_lora_weights=False)
    model = get_peft_model(base, config)
    randomize_lora(model, 91)
    save_adapter(model, os.path.join(folder, "start"))
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=16, shuffle=False)
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.05)
    loss_fn = nn.BCELoss()
    losses = []
    for _ in range(2):
        total = 0.0
        for inputs, targets in loader:
            optimizer.zero_grad()
            loss = loss_fn(model(inputs), targets)
            loss.backward()
            optimizer.step()
            total += loss.item() * inputs.shape[0]
        losses.append(total / x.shape[0])
    save_adapter(model, os.path.join(folder, "trained"))
    write_json(os.path.join(folder, "expected.json"), {
        "made_by": MADE_BY, "epochs": 2, "lr": 0.05, "batch_size": 16, "optimizer": "sgd", "loss": "bce",
        "targets": ["linear1", "linear2", "linear3"], "rank": 2, "alpha": 4, "epoch_losses": losses,
        "notes": "train --init base.safetensors --adapter-init start --lora 2 --lora-alpha 4 "
                 "--lora-targets linear1,linear2,linear3 --data data.csv --lr 0.05 --batch-size 16 --epochs 2 --no-shuffle "
                 "must end with trained/adapter_model.safetensors within 1e-4 relative"})
    print("wrote training")


def main():
    os.makedirs(OUT, exist_ok=True)
    fnn_targets = ["linear1", "linear2", "linear3"]
    merge_case("plain", FNNModel, LoraConfig(r=2, lora_alpha=4, target_modules=fnn_targets, init_lora_weights=False),
               "r=2, alpha=4 on linear1..linear3", 10)
    scaled_case()
    merge_case("rslora", FNNModel, LoraConfig(r=4, lora_alpha=8, target_modules=fnn_targets, use_rslora=True,
                                              init_lora_weights=False), "rsLoRA: alpha / sqrt(r)", 11)
    merge_case("patterns", Tower, LoraConfig(
        r=2, lora_alpha=4, target_modules=["proj", "gate", "head"], init_lora_weights=False,
        rank_pattern={"blocks.1.proj": 4, "gate": 3}, alpha_pattern={"head": 2, r"blocks\.0\..*": 6}),
        "rank_pattern / alpha_pattern matched as (.*\\.)?(key)$, first key in order", 12)
    merge_case("modules_to_save", FNNModel, LoraConfig(r=2, lora_alpha=4, target_modules=["linear1", "linear2"],
                                                       modules_to_save=["linear4"], init_lora_weights=False),
               "linear4 saved whole (modules_to_save) replaces the base's", 13)
    merge_case("lora_bias", FNNModel, LoraConfig(r=2, lora_alpha=4, target_modules=fnn_targets, lora_bias=True,
                                                 init_lora_weights=False), "lora_B carries a bias (lora_bias=True)", 14)
    merge_case("bias_all", FNNModel, LoraConfig(r=2, lora_alpha=4, target_modules=["linear1", "linear2"], bias="all",
                                                init_lora_weights=False), "bias='all': every bias trained and saved", 15)
    merge_case("bias_lora_only", FNNModel, LoraConfig(r=2, lora_alpha=4, target_modules=["linear1", "linear2"],
                                                      bias="lora_only", init_lora_weights=False),
               "bias='lora_only': the adapted layers' biases trained and saved", 16)
    merge_case("bin", FNNModel, LoraConfig(r=2, lora_alpha=4, target_modules=fnn_targets, init_lora_weights=False),
               "adapter_model.bin (torch.save) instead of safetensors", 17, safe=False)
    merge_case("gpt2_conv1d", tiny_gpt2, LoraConfig(r=2, lora_alpha=4, target_modules=["c_attn", "c_proj"],
                                                    fan_in_fan_out=True, init_lora_weights=False),
               "GPT-2 Conv1D (weight [in, out]): fan_in_fan_out transposes the delta", 18)
    merge_case("conv", ConvNet, LoraConfig(r=2, lora_alpha=4, target_modules=["conv1", "conv2", "fc"],
                                           init_lora_weights=False), "Conv2d 1x1 and 3x3 adapters", 19)
    merge_case("embedding", EmbedNet, LoraConfig(r=2, lora_alpha=4, target_modules=["emb", "out"],
                                                 init_lora_weights=False),
               "nn.Embedding adapter (lora_embedding_A / lora_embedding_B)", 20)
    merge_case("f16", FNNModel, LoraConfig(r=2, lora_alpha=4, target_modules=fnn_targets, init_lora_weights=False),
               "float16 base, float32 adapter", 21, dtype=torch.float16)
    merge_case("bf16", FNNModel, LoraConfig(r=2, lora_alpha=4, target_modules=fnn_targets, init_lora_weights=False),
               "bfloat16 base, float32 adapter", 22, dtype=torch.bfloat16)
    kohya_case()
    refusal_cases()
    training_case()


if __name__ == "__main__":
    main()
