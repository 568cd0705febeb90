"""Hub interop: `modelfile download` from a local stand-in for the hub (scripts/hub_server.py), then the
real huggingface_hub (offline) must find every file in our cache, transformers must load the model from it
offline, huggingface_hub must see our --local-dir files as current, and we must see huggingface_hub's cache
as complete. `inspect hf://` must print what a local inspect prints."""
import json
import os
import subprocess
import sys

from interop_support import check

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hub_server  # noqa: E402

REPO = "tiny-org/tiny-gpt2"


def python(code, env):
    """Runs `code` in a fresh interpreter (huggingface_hub reads HF_* variables at import)."""
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(result.stderr.strip()[-2000:])
    return result.stdout


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("HF_") and k not in ("TRANSFORMERS_OFFLINE",)}
    env.update(extra)
    return env


def make_repository(folder):
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    model = GPT2LMHeadModel(GPT2Config(n_layer=1, n_head=2, n_embd=8, vocab_size=32, n_positions=16))
    model.save_pretrained(folder)
    os.makedirs(os.path.join(folder, "sub"), exist_ok=True)
    with open(os.path.join(folder, "sub", "notes.txt"), "w") as f:
        f.write("nested file\n")
    return {k: v.clone() for k, v in model.state_dict().items()}


def hub_checks(modelfile, work):
    repo_folder = os.path.join(work, "hub-repo")
    make_repository(repo_folder)
    files = sorted(os.path.relpath(os.path.join(r, n), repo_folder).replace(os.sep, "/")
                   for r, _, names in os.walk(repo_folder) for n in names)
    server = hub_server.serve(repo_folder, REPO)
    endpoint = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        cache = os.path.join(work, "hub-cache")
        env = clean_env(HF_ENDPOINT=endpoint, HF_HUB_CACHE=cache)
        result = subprocess.run([modelfile, "download", REPO, "--quiet"], env=env, capture_output=True, text=True)
        check("hub: modelfile download exits 0", result.returncode == 0, result.stderr)
        snapshot = result.stdout.strip()
        with open(os.path.join(cache, f"models--{REPO.replace('/', '--')}", "refs", "main")) as f:
            check("hub: refs/main holds exactly the commit", f.read() == hub_server.COMMIT)

        # huggingface_hub, offline, finds every file in our cache.
        offline = clean_env(HF_HUB_CACHE=cache, HF_HUB_OFFLINE="1", HF_ENDPOINT=endpoint)
        found = json.loads(python(f"""
import json
from huggingface_hub import hf_hub_download, snapshot_download
files = {files!r}
paths = {{f: hf_hub_download({REPO!r}, f) for f in files}}
print(json.dumps({{"paths": paths, "snapshot": snapshot_download({REPO!r})}}))
""", offline))
        for name in files:
            path = found["paths"][name]
            with open(path, "rb") as a, open(os.path.join(repo_folder, name), "rb") as b:
                check(f"hub: hf_hub_download (offline) finds {name} with the right bytes", a.read() == b.read())
        check("hub: snapshot_download (offline) returns our snapshot folder", os.path.realpath(found["snapshot"]) == os.path.realpath(snapshot),
              f"{found['snapshot']} != {snapshot}")

        # transformers loads the model from our cache, offline.
        equal = python(f"""
import torch
from transformers import AutoModelForCausalLM
from safetensors.torch import load_file
model = AutoModelForCausalLM.from_pretrained({REPO!r})
reference = load_file({os.path.join(repo_folder, 'model.safetensors')!r})
state = model.state_dict()
print(all(torch.equal(state[k], v) for k, v in reference.items()))
""", clean_env(HF_HUB_CACHE=cache, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1"))
        check("hub: transformers from_pretrained (offline) loads the weights from our cache", equal.strip() == "True", equal)

        # Our --local-dir files are current for huggingface_hub: it sends HEAD requests only.
        local = os.path.join(work, "hub-local")
        result = subprocess.run([modelfile, "download", REPO, "--local-dir", local, "--quiet"], env=env, capture_output=True, text=True)
        check("hub: modelfile download --local-dir exits 0", result.returncode == 0, result.stderr)
        server.log.clear()
        python(f"""
from huggingface_hub import hf_hub_download
for f in {files!r}:
    hf_hub_download({REPO!r}, f, local_dir={local!r})
""", clean_env(HF_ENDPOINT=endpoint, HF_HUB_CACHE=os.path.join(work, "hub-unused-cache")))
        fetched = [p for (m, p, _) in server.log if m == "GET" and "/resolve/" in p or p.startswith("/cdn/") and m == "GET"]
        check("hub: huggingface_hub sees our --local-dir files as current (no file fetched)", not fetched, fetched)

        # huggingface_hub's cache is complete for us: only the API is asked.
        theirs = os.path.join(work, "hub-theirs")
        python(f"from huggingface_hub import snapshot_download; snapshot_download({REPO!r})",
               clean_env(HF_ENDPOINT=endpoint, HF_HUB_CACHE=theirs))
        server.log.clear()
        result = subprocess.run([modelfile, "download", REPO, "--json"], env=clean_env(HF_ENDPOINT=endpoint, HF_HUB_CACHE=theirs),
                                capture_output=True, text=True)
        document = json.loads(result.stdout) if result.returncode == 0 else {}
        check("hub: modelfile finds huggingface_hub's cache complete (no file fetched)",
              [m for (m, p, _) in server.log if not p.startswith("/api/")] == []
              and all(f["status"] == "cached" for f in document.get("files", [])), result.stderr)
        offline_ours = subprocess.run([modelfile, "download", REPO], env=clean_env(HF_HUB_CACHE=theirs, HF_HUB_OFFLINE="1"),
                                      capture_output=True, text=True)
        check("hub: HF_HUB_OFFLINE=1 modelfile download of huggingface_hub's cache exits 0", offline_ours.returncode == 0, offline_ours.stderr)

        # Remote inspect prints what a local inspect prints.
        remote = subprocess.run([modelfile, "inspect", "--json", f"hf://{REPO}/model.safetensors"], env=env, capture_output=True, text=True)
        local_inspect = subprocess.run([modelfile, "inspect", "--json", os.path.join(repo_folder, "model.safetensors")],
                                       capture_output=True, text=True)
        a, b = json.loads(remote.stdout or "{}"), json.loads(local_inspect.stdout or "{}")
        a.pop("path", None), b.pop("path", None)
        check("hub: inspect hf:// prints the local inspect's JSON", remote.returncode == 0 and a == b, remote.stderr)
        cached = subprocess.run([modelfile, "inspect", "--json", REPO], env=env, capture_output=True, text=True)
        c = json.loads(cached.stdout or "{}")
        c.pop("path", None)
        check("hub: inspect org/name reads the cached model.safetensors", cached.returncode == 0 and c == b, cached.stderr)
    finally:
        server.shutdown()


SECTIONS = {"hub": hub_checks}
