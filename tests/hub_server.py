"""A loopback stand-in for the Hugging Face hub's file endpoint, for download tests.

Serves `/{repo}/resolve/{revision}/{file}` with the headers huggingface_hub reads (commit, etag =
sha256, size) and honours Range requests so that resuming can be tested. `cut_after` makes the
next GET stop early, like a dropped connection.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

COMMIT = "0123456789abcdef0123456789abcdef01234567"


@dataclass
class FakeHub:
    files: dict[str, bytes] = field(default_factory=dict)  # "repo/file" -> content
    etags: dict[str, str] = field(default_factory=dict)  # override the served sha256
    cut_after: int | None = None
    ranges_seen: list[str] = field(default_factory=list)
    url: str = ""

    def add(self, repo: str, name: str, content: bytes) -> str:
        self.files[f"{repo}/{name}"] = content
        return hashlib.sha256(content).hexdigest()


def _handler(hub: FakeHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def _lookup(self) -> tuple[str, bytes] | None:
            parts = self.path.split("?")[0].strip("/").split("/")
            if len(parts) < 5 or parts[2] != "resolve":
                return None
            key = f"{parts[0]}/{parts[1]}/{'/'.join(parts[4:])}"
            content = hub.files.get(key)
            return None if content is None else (key, content)

        def _headers(self, key: str, content: bytes, status: int, length: int) -> None:
            self.send_response(status)
            etag = hub.etags.get(key, hashlib.sha256(content).hexdigest())
            self.send_header("X-Repo-Commit", COMMIT)
            self.send_header("ETag", f'"{etag}"')
            self.send_header("X-Linked-Etag", f'"{etag}"')
            self.send_header("X-Linked-Size", str(len(content)))
            self.send_header("Content-Length", str(length))
            self.send_header("Accept-Ranges", "bytes")
            self.send_header("Content-Type", "application/octet-stream")

        def do_HEAD(self) -> None:
            found = self._lookup()
            if found is None:
                self.send_error(404)
                return
            key, content = found
            self._headers(key, content, 200, len(content))
            self.end_headers()

        def do_GET(self) -> None:
            found = self._lookup()
            if found is None:
                self.send_error(404)
                return
            key, content = found
            start = 0
            requested = self.headers.get("Range")
            if requested:
                hub.ranges_seen.append(requested)
                start = int(requested.split("=")[1].split("-")[0])
            body = content[start:]
            self._headers(key, content, 206 if requested else 200, len(body))
            if requested:
                self.send_header(
                    "Content-Range", f"bytes {start}-{len(content) - 1}/{len(content)}"
                )
            self.end_headers()
            if hub.cut_after is not None:
                body = body[: hub.cut_after]
                hub.cut_after = None
                self.wfile.write(body)
                self.wfile.flush()
                self.close_connection = True
                return
            self.wfile.write(body)

    return Handler


@contextmanager
def serve(hub: FakeHub) -> Iterator[FakeHub]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(hub))
    hub.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield hub
    finally:
        server.shutdown()
        server.server_close()
