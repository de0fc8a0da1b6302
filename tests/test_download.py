from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import pytest

from gravity_desktop.app_context import opened
from gravity_desktop.errors import ChecksumMismatch
from gravity_desktop.llm.model_files import download_model, verify_model
from gravity_desktop.llm.registry import find_model, list_models
from tests.gguf_fixtures import write_tiny_model
from tests.hub_server import FakeHub, serve

MODEL_ID = "qwen2.5-1.5b-instruct-q4_k_m"


@pytest.fixture
def hub_with_model(tmp_path: Path) -> tuple[FakeHub, bytes]:
    content = write_tiny_model(tmp_path / "tiny.gguf", "qwen2").read_bytes()
    content += b"\x00" * (300_000 - len(content))  # padding after the tensor data: still valid
    hub = FakeHub()
    with opened() as ctx:
        entry = find_model(ctx.paths, ctx.conn, MODEL_ID).entry
    hub.add(entry.source.repo, entry.source.file, content)
    return hub, content


def test_download_reports_progress_verifies_and_records(hub_with_model) -> None:
    hub, content = hub_with_model
    seen: list[tuple[int, int]] = []
    with serve(hub), opened() as ctx:
        model = find_model(ctx.paths, ctx.conn, MODEL_ID)
        assert not model.installed
        record = download_model(
            ctx.paths, ctx.conn, model, progress=lambda d, t: seen.append((d, t)), endpoint=hub.url
        )
        assert record.path.read_bytes() == content
        assert record.sha256 == hashlib.sha256(content).hexdigest()
        status = next(m for m in list_models(ctx.paths, ctx.conn) if m.entry.id == MODEL_ID)
        assert status.installed and status.sha256 == record.sha256
        assert verify_model(status) == record.sha256
    assert seen and seen[-1] == (len(content), len(content))
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


def test_interrupted_download_resumes_with_a_range_request(tmp_path: Path) -> None:
    from huggingface_hub import constants

    chunk = constants.DOWNLOAD_CHUNK_SIZE  # the client writes to disk in chunks of this size
    content = write_tiny_model(tmp_path / "tiny.gguf", "qwen2").read_bytes()
    content += bytes(range(256)) * ((2 * chunk + 12_345) // 256)
    hub = FakeHub()
    with opened() as ctx:
        model = find_model(ctx.paths, ctx.conn, MODEL_ID)
    hub.add(model.entry.source.repo, model.entry.source.file, content)
    hub.cut_after = chunk + 5_000  # the connection drops after the first chunk reached the disk
    with serve(hub), opened() as ctx:
        record = download_model(ctx.paths, ctx.conn, model, endpoint=hub.url)
        assert record.path.read_bytes() == content
    assert hub.ranges_seen == [f"bytes={chunk}-"]


def test_checksum_mismatch_removes_the_file_and_records_nothing(hub_with_model) -> None:
    hub, _ = hub_with_model
    with serve(hub), opened() as ctx:
        model = find_model(ctx.paths, ctx.conn, MODEL_ID)
        pinned = dataclasses.replace(model.entry, sha256="f" * 64)
        model = dataclasses.replace(model, entry=pinned)
        with pytest.raises(ChecksumMismatch, match="expected ffff"):
            download_model(ctx.paths, ctx.conn, model, endpoint=hub.url)
        again = find_model(ctx.paths, ctx.conn, MODEL_ID)
        assert not again.installed
