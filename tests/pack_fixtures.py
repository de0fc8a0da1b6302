"""Small training pack archives for tests: a real `pack.json` and a worker that is a tiny script.

Shared by the installer tests (install, worker commands) and the Settings page tests (installing
and removing from the app), so both install the same thing the real pack archive holds.
"""

from __future__ import annotations

import io
import json
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from gravity_desktop import __version__, packs

ROOT = Path(__file__).resolve().parents[1]
ECHO_WORKER = '#!/bin/sh\necho worker "$@"\n'


def make_pack(
    tmp_path: Path,
    *,
    version: str = __version__,
    fmt: str = "tar.gz",
    nested: bool = False,
    build: str = "",
    worker: str = ECHO_WORKER,
    padding: int = 0,
) -> Path:
    """A pack archive whose worker is the script `worker`.

    `padding` adds that many bytes of incompressible filler in a second file, for tests that need
    unpacking to report progress more than once.
    """
    manifest = {
        "name": packs.PACK_NAME, "version": version, "platform": packs.platform_tag(),
        "build": build or packs.source_digest(ROOT), "executable": "gravity-worker/gravity-worker",
    }  # fmt: skip
    prefix = "pack/" if nested else ""
    files = {
        f"{prefix}pack.json": (json.dumps(manifest).encode(), 0o644),
        f"{prefix}gravity-worker/gravity-worker": (worker.encode(), 0o755),
    }
    if padding:
        files[f"{prefix}gravity-worker/_internal/filler.bin"] = (_noise(padding), 0o644)
    archive = tmp_path / f"pack.{fmt}"
    if fmt == "zip":
        with zipfile.ZipFile(archive, "w") as zipped:
            for name, (data, mode) in files.items():
                info = zipfile.ZipInfo(name)
                info.external_attr = mode << 16
                zipped.writestr(info, data)
    else:
        with tarfile.open(archive, "w:gz") as tarred:
            for name, (data, mode) in files.items():
                info = tarfile.TarInfo(name)
                info.size, info.mode = len(data), mode
                tarred.addfile(info, io.BytesIO(data))
    return archive


def _noise(size: int) -> bytes:
    """Bytes that gzip cannot shrink (so the archive is about `size` long), reproducibly."""
    import random

    return random.Random(0).randbytes(size)


def python_worker(body: str) -> str:
    """A pack worker written in Python (this interpreter), for workers that must write files."""
    return f"#!{sys.executable}\n{body}"


def frozen_without_torch(monkeypatch: pytest.MonkeyPatch) -> None:
    """What an installed app looks like to `packs`: frozen, and no torch of its own."""
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(packs, "training_stack_here", lambda: False)
