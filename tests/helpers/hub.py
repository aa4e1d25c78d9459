"""Offline stand-ins for the Hugging Face Hub, used by the tests.

- `populate_hf_cache` lays a folder out as a real HF cache entry (refs/main, blobs named by git-sha1 or sha256,
  snapshots/<commit>/<file> as relative symlinks), so `from_pretrained("org/name")` resolves it with
  `HF_HUB_OFFLINE=1`; it is `neuroart.releases.populate_hf_cache`.
- `FakeHub` is a loopback HTTP server (127.0.0.1, random port) that answers the requests `upload_folder` makes:
  repo creation, pre-upload ("regular" mode for every file, so contents arrive inline) and the ndjson commit. Point
  `HF_ENDPOINT` at it and the real `push_to_hub` runs unmodified.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


def populate_hf_cache(src_dir: str | os.PathLike, repo_id: str, hub_cache: str | os.PathLike) -> str:
    """Lay `src_dir` out as the `main` revision of model repo `repo_id` in `hub_cache`; return the commit hash.
    The product's own function (`neuroart models install` uses it)."""
    from neuroart.releases import populate_hf_cache as populate

    return populate(src_dir, repo_id, hub_cache)


class FakeHub:
    """A loopback Hub API that stores pushed files under `storage/<repo_id>/`."""

    def __init__(self, storage: str | os.PathLike):
        self.storage = Path(storage)
        self.requests: list[tuple[str, str]] = []
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output clean
                pass

            def _body(self) -> bytes:
                length = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(length) if length else b""

            def _send(self, status: int, payload=None, headers=None):
                data = json.dumps(payload if payload is not None else {}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            def do_HEAD(self):
                hub.requests.append(("HEAD", self.path))
                self._send(404, {"error": "Entry not found"}, {"X-Error-Code": "EntryNotFound"})

            def do_GET(self):
                hub.requests.append(("GET", self.path))
                self._send(404, {"error": "Entry not found"}, {"X-Error-Code": "EntryNotFound"})

            def do_POST(self):
                body = self._body()
                hub.requests.append(("POST", self.path))
                path = self.path.split("?")[0]
                if path == "/api/repos/create":
                    request = json.loads(body or b"{}")
                    name = request.get("name")
                    repo_id = f"{request['organization']}/{name}" if request.get("organization") else name
                    self._send(200, {"url": f"{hub.url}/{repo_id}", "name": repo_id, "id": repo_id})
                elif path.endswith("/preupload/main"):
                    files = json.loads(body)["files"]
                    self._send(200, {"files": [
                        {"path": f["path"], "uploadMode": "regular", "shouldIgnore": False, "oid": None}
                        for f in files]})
                elif "/commit/" in path:
                    repo_id = path.split("/api/models/")[1].split("/commit/")[0]
                    for line in body.decode().splitlines():
                        item = json.loads(line)
                        if item["key"] == "file":
                            target = hub.storage / repo_id / item["value"]["path"]
                            target.parent.mkdir(parents=True, exist_ok=True)
                            target.write_bytes(base64.b64decode(item["value"]["content"]))
                    commit = hashlib.sha1(body).hexdigest()
                    self._send(200, {"commitUrl": f"{hub.url}/{repo_id}/commit/{commit}", "commitOid": commit,
                                     "pullRequestUrl": None, "success": True})
                elif path == "/api/validate-yaml":
                    self._send(200, {"errors": [], "warnings": []})
                else:
                    self._send(404, {"error": f"not handled by FakeHub: {path}"})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "FakeHub":
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
