"""A local stand-in for the Hugging Face hub, for the interop checks and the download benchmark.

Serves the files of one folder as repository REPO at one commit, the way the hub does:
  GET  /api/models/{repo}/revision/{rev}      {"id", "sha", "siblings": [{"rfilename", "size", "blobId", "lfs"}]}
  GET  /api/models/{repo}/tree/{rev}          the file list huggingface_hub's snapshot_download asks for
  GET|HEAD /{repo}/resolve/{rev}/{path}       small files: 200 with ETag (git blob id), X-Repo-Commit;
                                               LFS files (.safetensors, .bin, or >= 10 MB): 302 to http://localhost:PORT/cdn/{sha256}
                                               (another host name, as the hub's CDN is)
                                               with X-Linked-Etag, X-Linked-Size, X-Repo-Commit
  GET|HEAD /cdn/{sha256}                       the bytes, with Range support
Every request is counted (method, path, body bytes sent) in `server.log`.

    python3 scripts/hub_server.py FOLDER org/name [PORT]     # serves until interrupted
"""
import hashlib
import json
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote

COMMIT = "0123456789abcdef0123456789abcdef01234567"
LFS_SUFFIXES = (".safetensors", ".bin", ".gguf", ".pt", ".pth", ".ckpt")


def git_blob_id(path):
    size = os.path.getsize(path)
    digest = hashlib.sha1(f"blob {size}\0".encode())
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class Repository:
    def __init__(self, folder, repo_id, commit=COMMIT):
        self.folder = folder
        self.repo_id = repo_id
        self.commit = commit
        self.files = {}
        self.by_sha = {}
        for root, _, names in os.walk(folder):
            for name in sorted(names):
                full = os.path.join(root, name)
                rel = os.path.relpath(full, folder).replace(os.sep, "/")
                size = os.path.getsize(full)
                lfs = rel.endswith(LFS_SUFFIXES) or size >= 10 << 20
                entry = {"path": full, "size": size, "lfs": lfs, "git": git_blob_id(full)}
                if lfs:
                    entry["sha256"] = sha256_of(full)
                    self.by_sha[entry["sha256"]] = entry
                self.files[rel] = entry

    def tree(self):
        entries, folders = [], set()
        for rel, entry in sorted(self.files.items()):
            parts = rel.split("/")[:-1]
            for depth in range(1, len(parts) + 1):
                folders.add("/".join(parts[:depth]))
            item = {"type": "file", "oid": entry["git"], "size": entry["size"], "path": rel}
            if entry["lfs"]:
                item["lfs"] = {"oid": entry["sha256"], "size": entry["size"], "pointerSize": 134}
            entries.append(item)
        return [{"type": "directory", "oid": "0" * 40, "size": 0, "path": f} for f in sorted(folders)] + entries

    def api(self):
        siblings = []
        for rel, entry in sorted(self.files.items()):
            item = {"rfilename": rel, "size": entry["size"], "blobId": entry["git"]}
            if entry["lfs"]:
                item["lfs"] = {"sha256": entry["sha256"], "size": entry["size"], "pointerSize": 134}
            siblings.append(item)
        return {"_id": "x", "id": self.repo_id, "modelId": self.repo_id, "sha": self.commit, "private": False, "siblings": siblings}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def record(self, sent):
        with self.server.lock:
            self.server.log.append((self.command, self.path, sent))

    def reply(self, status, headers, body=b""):
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.record(len(body) if self.command != "HEAD" else 0)

    def send_file(self, entry, headers):
        size = entry["size"]
        start, end = 0, size - 1
        status = 200
        wanted = self.headers.get("Range")
        if wanted and wanted.startswith("bytes="):
            first, _, last = wanted[6:].partition("-")
            start = int(first) if first else 0
            end = min(int(last), size - 1) if last else size - 1
            if start >= size:
                return self.reply(416, {"Content-Range": f"bytes */{size}"})
            status = 206
            headers["Content-Range"] = f"bytes {start}-{end}/{size}"
        count = end - start + 1
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(count))
        self.end_headers()
        if self.command == "HEAD":
            return self.record(0)
        with open(entry["path"], "rb") as f:
            self.wfile.flush()
            self.connection.sendfile(f, start, count)
        self.record(count)

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        repo = self.server.repository
        path = unquote(self.path.split("?", 1)[0])
        api_prefix = f"/api/models/{repo.repo_id}/revision/"
        if path.startswith(f"/api/models/{repo.repo_id}/tree/"):
            return self.reply(200, {"Content-Type": "application/json"}, json.dumps(repo.tree()).encode())
        resolve_prefix = f"/{repo.repo_id}/resolve/"
        if path.startswith(api_prefix):
            body = json.dumps(repo.api()).encode()
            return self.reply(200, {"Content-Type": "application/json"}, body)
        if path.startswith("/cdn/"):
            entry = repo.by_sha.get(path[5:])
            if entry is None:
                return self.reply(404, {})
            return self.send_file(entry, {"ETag": f'"{entry["sha256"]}"'})
        if path.startswith(resolve_prefix):
            _, _, rel = path[len(resolve_prefix):].partition("/")
            entry = repo.files.get(rel)
            if entry is None:
                return self.reply(404, {"X-Error-Code": "EntryNotFound"})
            common = {"X-Repo-Commit": repo.commit}
            if entry["lfs"]:
                headers = dict(common, **{"Location": f"http://localhost:{self.server.server_address[1]}/cdn/{entry['sha256']}", "X-Linked-Etag": f'"{entry["sha256"]}"',
                                          "X-Linked-Size": str(entry["size"]), "ETag": '"redirect-etag"'})
                return self.reply(302, headers)
            return self.send_file(entry, dict(common, **{"ETag": f'"{entry["git"]}"'}))
        self.reply(404, {"X-Error-Code": "RepoNotFound"})


def serve(folder, repo_id, port=0):
    """Starts the server on 127.0.0.1 in a thread; returns it (server.server_address[1] is the port)."""
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    server.repository = Repository(folder, repo_id)
    server.lock = threading.Lock()
    server.log = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


if __name__ == "__main__":
    running = serve(sys.argv[1], sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 0)
    print(f"http://127.0.0.1:{running.server_address[1]}", flush=True)
    threading.Event().wait()
