"""Putting model files on this computer: import a local GGUF, download from the hub, verify.

Every file is checked (GGUF header, sha256) before it is recorded, and written under a temporary
name first, so an interrupted copy or download never looks like an installed model.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path

from gravity_desktop.config import Paths
from gravity_desktop.errors import ChecksumMismatch, UserError
from gravity_desktop.llm import registry
from gravity_desktop.llm.gguf_file import inspect, sha256_of
from gravity_desktop.llm.hf_weights import check_weights, install_weights
from gravity_desktop.store import installed_models
from gravity_desktop.store.installed_models import InstalledModel

Progress = Callable[[int, int], None]  # (bytes done, bytes total)


def import_model(
    where: Paths,
    conn: sqlite3.Connection,
    source: Path,
    model_id: str | None = None,
    weights: Path | None = None,
) -> InstalledModel:
    """Copy a GGUF into the data dir after checking its header, and record it.

    `weights` is the Hugging Face safetensors folder the GGUF was made from; training then
    starts from it instead of dequantizing the GGUF (llm/hf_weights.py).
    """
    info = inspect(source)
    model_id = model_id or _slug(source.stem)
    known = {m.id for m in registry.load_registry()}
    if model_id in known:
        raise UserError(f"id {model_id!r} belongs to a registry model; choose another with --id")
    checked = check_weights(weights, source) if weights is not None else None
    target = where.models / model_id / source.name
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    try:
        os.link(source, partial)
    except OSError:
        shutil.copyfile(source, partial)
    digest = sha256_of(partial)
    trainable = install_weights(checked, target.parent / "hf") if checked else None
    os.replace(partial, target)
    record = InstalledModel(
        id=model_id,
        path=target,
        sha256=digest,
        size=info.size,
        source=f"import:{source}",
        arch=info.architecture,
        name=info.name,
        trainable_path=trainable,
    )
    installed_models.upsert(conn, record)
    return record


def verify_model(model: registry.ModelStatus) -> str:
    """Recompute the file's sha256; raise ChecksumMismatch when it differs from the expected."""
    path = registry.require_file(model)
    if not model.sha256:
        raise UserError(f"model {model.entry.id}: no sha256 is recorded to verify against")
    actual = sha256_of(path)
    if actual != model.sha256:
        raise ChecksumMismatch(
            f"{path}: sha256 {actual} does not match the expected {model.sha256}"
        )
    return actual


def download_model(
    where: Paths,
    conn: sqlite3.Connection,
    model: registry.ModelStatus,
    progress: Progress | None = None,
    endpoint: str | None = None,
) -> InstalledModel:
    """Fetch a hub model with huggingface_hub (resumable), verify its sha256 and record it.

    The expected sha256 is the registry's when it pins one, else the hub's LFS sha256 for the
    file (the etag of an LFS object is the sha256 of its content).
    """
    entry = model.entry
    if entry.source.kind != "huggingface":
        raise UserError(f"model {entry.id} is not downloadable (source {entry.source.describe()})")
    from huggingface_hub import get_hf_file_metadata, hf_hub_download, hf_hub_url
    from huggingface_hub.errors import HfHubHTTPError

    target = registry.download_target(where, entry)
    target.parent.mkdir(parents=True, exist_ok=True)
    url = hf_hub_url(
        entry.source.repo, entry.source.file, revision=entry.source.revision, endpoint=endpoint
    )
    try:
        meta = get_hf_file_metadata(url)
        expected = entry.sha256 or (meta.etag or "").strip('"')
        if not re.fullmatch(r"[0-9a-f]{64}", expected):
            raise UserError(f"{url}: the hub gave no sha256 for this file; refusing to install it")
        tqdm_class = _progress_tqdm(progress) if progress else None
        fetched = Path(
            hf_hub_download(
                entry.source.repo,
                entry.source.file,
                revision=entry.source.revision,
                local_dir=target.parent,
                endpoint=endpoint,
                tqdm_class=tqdm_class,
            )
        )
    except (HfHubHTTPError, OSError) as exc:
        raise UserError(f"download of {entry.id} from {url} failed: {exc}") from exc
    actual = sha256_of(fetched)
    if actual != expected:
        fetched.unlink(missing_ok=True)
        raise ChecksumMismatch(
            f"{fetched}: downloaded file has sha256 {actual}, expected {expected}; it was removed"
        )
    info = inspect(fetched)
    record = InstalledModel(
        id=entry.id,
        path=fetched,
        sha256=actual,
        size=info.size,
        source=entry.source.describe(),
        arch=info.architecture,
        name=entry.name,
    )
    installed_models.upsert(conn, record)
    return record


def _slug(text: str) -> str:
    slug = re.sub(r"[^a-z0-9._-]+", "-", text.lower()).strip("-")
    return slug or "imported-model"


def _progress_tqdm(progress: Progress) -> type:
    """A tqdm subclass that forwards byte counts to `progress` (huggingface_hub drives tqdm)."""
    from tqdm.auto import tqdm

    class Forwarding(tqdm):
        def update(self, n: float | None = 1) -> bool | None:
            shown = super().update(n)
            progress(int(self.n), int(self.total or 0))
            return shown

    return Forwarding
