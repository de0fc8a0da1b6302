"""A misbehaving GPU helper: it accepts any job, reports it done at once, and returns whatever
adapter bytes a test gives it, announced with whatever sha256 the test chooses.

The client must not trust a helper (it may be faulty, or not ours), so these tests speak the API
from the outside with the smallest server the standard library offers.
"""

from __future__ import annotations

import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
from gguf import GGUFWriter

JOB = "f" * 32


def write_adapter(path: Path, lora_a_shape: tuple[int, int], lora_b_shape: tuple[int, int]) -> None:
    """A llama.cpp LoRA adapter GGUF for SmolLM2 (hidden size 576) with one adapted weight."""
    writer = GGUFWriter(path, "llama")
    writer.add_string("general.type", "adapter")
    writer.add_string("adapter.type", "lora")
    writer.add_float32("adapter.lora.alpha", 16.0)
    writer.add_tensor("blk.0.attn_q.weight.lora_a", np.zeros(lora_a_shape, np.float32))
    writer.add_tensor("blk.0.attn_q.weight.lora_b", np.zeros(lora_b_shape, np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


class FakeHelper:
    def __init__(self, adapter: bytes, announced_sha256: str | None = None) -> None:
        self.adapter = adapter
        self.announced = announced_sha256 or hashlib.sha256(adapter).hexdigest()
        self.uploads: list[bytes] = []
        self.deleted: list[str] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _json(self, status: int, data: dict) -> None:
                body = json.dumps(data).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                path = self.path.split("?")[0]
                if path == "/health":
                    self._json(200, {"version": "0.1.0"})
                elif path == "/info":
                    info = {"version": "0.1.0", "device": "cuda", "max_upload_bytes": 1 << 40}
                    self._json(200, info)
                elif path == f"/jobs/{JOB}":
                    progress = {"event": "progress", "step": 1, "max_steps": 1, "loss": 0.69}
                    adapter = {"sha256": fake.announced, "size": len(fake.adapter)}
                    state = {"id": JOB, "state": "done", "events": [progress], "next": 1}
                    self._json(200, {**state, "adapter": adapter})
                elif path == f"/jobs/{JOB}/adapter":
                    self.send_response(200)
                    self.send_header("X-Adapter-SHA256", fake.announced)
                    self.send_header("Content-Length", str(len(fake.adapter)))
                    self.end_headers()
                    self.wfile.write(fake.adapter)
                else:
                    self._json(404, {"detail": "not found"})

            def do_POST(self) -> None:
                fake.uploads.append(self.rfile.read(int(self.headers["Content-Length"])))
                self._json(201, {"id": JOB, "state": "running", "events": [], "next": 0})

            def do_DELETE(self) -> None:
                fake.deleted.append(self.path)
                self._json(200, {"id": JOB, "state": "done"})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
