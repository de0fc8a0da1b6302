"""Models the reader imported or downloaded (the registry lists what exists; this, what is here)."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class InstalledModel:
    id: str
    path: Path
    sha256: str
    size: int
    source: str
    arch: str
    name: str
    # The model's Hugging Face safetensors folder, when the reader imported one (hf_weights.py).
    trainable_path: Path | None = None


def upsert(conn: sqlite3.Connection, model: InstalledModel) -> None:
    conn.execute(
        "INSERT INTO installed_model (id, path, sha256, size, source, arch, name, trainable_path)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT(id) DO UPDATE SET path=excluded.path, sha256=excluded.sha256,"
        " size=excluded.size, source=excluded.source, arch=excluded.arch, name=excluded.name,"
        " trainable_path=excluded.trainable_path",
        (
            model.id,
            str(model.path),
            model.sha256,
            model.size,
            model.source,
            model.arch,
            model.name,
            str(model.trainable_path) if model.trainable_path else None,
        ),
    )


def get(conn: sqlite3.Connection, model_id: str) -> InstalledModel | None:
    row = conn.execute("SELECT * FROM installed_model WHERE id = ?", (model_id,)).fetchone()
    return _from_row(row) if row else None


def all_installed(conn: sqlite3.Connection) -> list[InstalledModel]:
    rows = conn.execute("SELECT * FROM installed_model ORDER BY id").fetchall()
    return [_from_row(row) for row in rows]


def _from_row(row: sqlite3.Row) -> InstalledModel:
    return InstalledModel(
        id=row["id"],
        path=Path(row["path"]),
        sha256=row["sha256"],
        size=row["size"],
        source=row["source"],
        arch=row["arch"],
        name=row["name"],
        trainable_path=Path(row["trainable_path"]) if row["trainable_path"] else None,
    )
