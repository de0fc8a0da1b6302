"""Trained adapters and the history of which one was active (for rollback)."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Adapter:
    id: str
    path: Path
    sha256: str
    base_model: str
    base_sha256: str
    method: str
    pairs: int
    heldout_pairs: int
    heldout_accuracy: float | None
    heldout_margin: float | None
    config_json: str
    source: str
    note: str
    created_at: str

    def as_json(self, active: bool) -> dict[str, object]:
        return {
            "id": self.id,
            "active": active,
            "path": str(self.path),
            "sha256": self.sha256,
            "base_model": self.base_model,
            "method": self.method,
            "pairs": self.pairs,
            "heldout_pairs": self.heldout_pairs,
            "heldout_accuracy": self.heldout_accuracy,
            "heldout_margin": self.heldout_margin,
            "source": self.source,
            "note": self.note,
            "created_at": self.created_at,
        }


def add(conn: sqlite3.Connection, adapter: Adapter) -> None:
    conn.execute(
        "INSERT INTO adapter (id, path, sha256, base_model, base_sha256, method, pairs,"
        " heldout_pairs, heldout_accuracy, heldout_margin, config_json, source, note)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            adapter.id,
            str(adapter.path),
            adapter.sha256,
            adapter.base_model,
            adapter.base_sha256,
            adapter.method,
            adapter.pairs,
            adapter.heldout_pairs,
            adapter.heldout_accuracy,
            adapter.heldout_margin,
            adapter.config_json,
            adapter.source,
            adapter.note,
        ),
    )


def get(conn: sqlite3.Connection, adapter_id: str) -> Adapter | None:
    row = conn.execute("SELECT * FROM adapter WHERE id = ?", (adapter_id,)).fetchone()
    return _adapter(row) if row else None


def all_adapters(conn: sqlite3.Connection) -> list[Adapter]:
    return [_adapter(r) for r in conn.execute("SELECT * FROM adapter ORDER BY created_at, id")]


def activate(conn: sqlite3.Connection, adapter_id: str | None) -> None:
    conn.execute("INSERT INTO adapter_activation (adapter_id) VALUES (?)", (adapter_id,))


def activations(conn: sqlite3.Connection) -> list[str | None]:
    """Adapter ids in the order they were activated (None: no adapter)."""
    return [row[0] for row in conn.execute("SELECT adapter_id FROM adapter_activation ORDER BY id")]


def active(conn: sqlite3.Connection) -> Adapter | None:
    history = activations(conn)
    return get(conn, history[-1]) if history and history[-1] else None


def _adapter(row: sqlite3.Row) -> Adapter:
    return Adapter(
        id=row["id"],
        path=Path(row["path"]),
        sha256=row["sha256"],
        base_model=row["base_model"],
        base_sha256=row["base_sha256"],
        method=row["method"],
        pairs=row["pairs"],
        heldout_pairs=row["heldout_pairs"],
        heldout_accuracy=row["heldout_accuracy"],
        heldout_margin=row["heldout_margin"],
        config_json=row["config_json"],
        source=row["source"],
        note=row["note"],
        created_at=row["created_at"],
    )
