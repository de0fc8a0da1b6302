"""The reader's data as one archive, and deleting all of it: "Export my data" and "Delete my data".

The archive holds what only this reader has: the database (answers, profile versions, reading
history, pairs, descriptions, feedback, adapter history), settings.json (with the GPU helper's CA
certificate, when one was given), the trained adapters and a manifest that says what is inside.
Model weights, the caches made from them (trainable-base, batch-weights) and the training pack are
left out: they are large and come back by downloading (or re-importing) them, so the manifest
lists them under "not_included".

The database is copied with SQLite's backup API, which takes a consistent snapshot even while the
WAL holds writes a raw file copy would miss. The archive is written inside a temporary folder next
to the target and renamed into place at the end, so a failure (or a cancel raised from the
progress callback) never leaves a half-written archive under the chosen name.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from gravity_desktop import __version__
from gravity_desktop.config import Paths
from gravity_desktop.errors import UserError
from gravity_desktop.store import APPLICATION_ID

ARCHIVE_FORMAT = 1
MANIFEST = "manifest.json"
DATABASE_MEMBER = "gravity.sqlite3"
SETTINGS_FILES = ("settings.json", "helper-ca.pem")
CHUNK = 1 << 20

# (done, total, what) in bytes of member content; it may raise to stop the export.
Progress = Callable[[int, int, str], None]

# What each entry of the data dir holds, in the words the app and the CLI use for it.
ENTRY_LABELS = {
    "gravity.sqlite3": "the database: answers, profile versions, reading history, pairs,"
    " descriptions, feedback and adapter history",
    "gravity.sqlite3-wal": "the database's write-ahead log",
    "gravity.sqlite3-shm": "the database's shared-memory index",
    "gravity.sqlite3-journal": "the database's rollback journal",
    "settings.json": "settings (served model, teacher model)",
    "helper-ca.pem": "the GPU helper's CA certificate",
    "window.ini": "window size, position and last page",
    "models": "downloaded and imported models",
    "adapters": "trained adapters",
    "training": "training jobs and their checkpoints",
    "trainable-base": "the trainable copy of the base model (a cache)",
    "batch-weights": "the teacher's weights in a format that batches fast (a cache)",
    "packs": "the training pack (the training stack, installed on demand)",
}

NOT_INCLUDED = {
    "models/": "downloaded or imported model weights: download them again from Settings (or"
    " `gravity models download ID`), or import the original GGUF file again",
    "trainable-base/": "a cache rebuilt from the served model on the next training run",
    "batch-weights/": "a cache rebuilt from the model on the next pair synthesis or training",
    "training/": "training job folders, rebuilt from the pairs in the database",
    "packs/": "the training pack, installed again when training next needs it",
    "window.ini": "window size and position",
}

# Row counts reported in the manifest and in the delete confirmation.
COUNTED = {
    "answers": "SELECT (SELECT count(*) FROM answer) + (SELECT count(*) FROM answer_field)",
    "profile_versions": "SELECT count(*) FROM profile_version",
    "readings": "SELECT count(*) FROM reading",
    "pairs": "SELECT count(*) FROM pair",
    "descriptions": "SELECT count(*) FROM description",
    "feedback": "SELECT count(*) FROM feedback",
}


@dataclass(frozen=True)
class Entry:
    """One top-level file or folder of the data dir."""

    name: str
    size: int
    is_dir: bool

    def describe(self) -> str:
        label = ENTRY_LABELS.get(self.name, "")
        shown = self.name + ("/" if self.is_dir else "")
        return f"{shown} ({label + ', ' if label else ''}{format_size(self.size)})"


@dataclass(frozen=True)
class ExportReport:
    path: Path
    size: int
    counts: dict[str, int]
    members: list[str]


def format_size(size: int) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} bytes"


def data_counts(conn: sqlite3.Connection) -> dict[str, int]:
    """How many answers, profile versions, readings, pairs, descriptions and feedback there are."""
    return {name: int(conn.execute(sql).fetchone()[0]) for name, sql in COUNTED.items()}


def adapter_files(where: Paths) -> list[Path]:
    """Finished adapters only: a `.partial` file is an export that never completed."""
    if not where.adapters.is_dir():
        return []
    return sorted(p for p in where.adapters.glob("*.gguf") if p.is_file())


def data_entries(root: Path) -> list[Entry]:
    """What the data dir holds at the top level, with sizes (empty when it does not exist)."""
    if not root.is_dir():
        return []
    return [_entry(path) for path in sorted(root.iterdir())]


def export_data(
    where: Paths, conn: sqlite3.Connection, target: Path, progress: Progress | None = None
) -> ExportReport:
    """Write the reader's data to the zip archive `target` (replacing it if it exists)."""
    target = Path(target).expanduser().resolve()
    if target.is_relative_to(where.root.resolve()):
        raise UserError(
            f"{target}: choose a place outside the data folder {where.root}; an archive inside"
            " it would be deleted together with the data"
        )
    if not target.parent.is_dir():
        raise UserError(f"{target.parent}: no such folder to write the archive into")
    if target.is_dir():
        raise UserError(f"{target}: is a folder; give a file name such as gravity-data.zip")
    try:
        with tempfile.TemporaryDirectory(prefix=".gravity-export-", dir=target.parent) as tmp:
            return _export(where, conn, target, Path(tmp), progress)
    except OSError as exc:
        raise UserError(f"{target}: could not write the archive ({exc.strerror or exc})") from exc


def _export(
    where: Paths, conn: sqlite3.Connection, target: Path, tmp: Path, progress: Progress | None
) -> ExportReport:
    snapshot = tmp / DATABASE_MEMBER
    counts = _snapshot(conn, snapshot)
    sources: list[tuple[str, Path]] = [(DATABASE_MEMBER, snapshot)]
    sources += [
        (name, where.root / name) for name in SETTINGS_FILES if (where.root / name).is_file()
    ]
    adapters = adapter_files(where)
    sources += [(f"adapters/{path.name}", path) for path in adapters]
    counts["adapters"] = len(adapters)

    total = sum(path.stat().st_size for _, path in sources)
    done = 0
    files: dict[str, dict[str, object]] = {}
    partial = tmp / "archive.zip"
    with zipfile.ZipFile(partial, "w", allowZip64=True) as archive:
        for name, path in sources:
            info = zipfile.ZipInfo(name, date_time=_zip_time(path))
            # Adapters are dense floats that barely compress; the database and JSON do.
            dense = name.endswith(".gguf")
            info.compress_type = zipfile.ZIP_STORED if dense else zipfile.ZIP_DEFLATED
            digest = hashlib.sha256()
            with path.open("rb") as source, archive.open(info, "w", force_zip64=True) as out:
                while chunk := source.read(CHUNK):
                    out.write(chunk)
                    digest.update(chunk)
                    done += len(chunk)
                    if progress is not None:
                        progress(done, total, name)
            files[name] = {"size": path.stat().st_size, "sha256": digest.hexdigest()}
        manifest = {
            "format": ARCHIVE_FORMAT,
            "app": "GRAVITY Desktop",
            "app_version": __version__,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "data_dir": str(where.root),
            "counts": counts,
            "files": files,
            "not_included": NOT_INCLUDED,
        }
        archive.writestr(MANIFEST, json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    os.replace(partial, target)
    return ExportReport(target, target.stat().st_size, counts, [*files, MANIFEST])


def _snapshot(conn: sqlite3.Connection, file: Path) -> dict[str, int]:
    """A consistent single-file copy of the database; returns its row counts."""
    copy = sqlite3.connect(file)
    try:
        conn.backup(copy)
        # The copy inherits WAL mode from the source header; one self-contained file is easier
        # to keep, open and inspect.
        copy.execute("PRAGMA journal_mode=DELETE")
        return data_counts(copy)
    finally:
        copy.close()


def delete_data(where: Paths) -> list[Entry]:
    """Remove everything in the data dir (the caller has closed its connections first).

    Refuses a folder that does not look like GRAVITY Desktop's, so that a mistyped GRAVITY_HOME
    cannot empty someone's home folder. Returns what was removed; anything that could not be
    removed is named in the error, and what could be removed is gone.
    """
    root = where.root
    entries = data_entries(root)
    if not entries:
        return []
    if not _looks_like_ours(root, entries):
        raise UserError(
            f"{root}: does not look like a GRAVITY Desktop data folder (no GRAVITY database,"
            " and files the app does not make); nothing was deleted"
        )
    removed, failed = [], []
    for entry in entries:
        path = root / entry.name
        try:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
        except OSError as exc:
            failed.append(f"{path} ({exc.strerror or exc})")
        else:
            removed.append(entry)
    if failed:
        raise UserError("could not delete " + "; ".join(failed) + "; everything else is deleted")
    return removed


def _looks_like_ours(root: Path, entries: list[Entry]) -> bool:
    if all(entry.name in ENTRY_LABELS for entry in entries):
        return True
    database = root / DATABASE_MEMBER
    try:
        with database.open("rb") as file:
            header = file.read(72)
    except OSError:
        return False
    return len(header) == 72 and int.from_bytes(header[68:72], "big") == APPLICATION_ID


def _entry(path: Path) -> Entry:
    if path.is_dir() and not path.is_symlink():
        size = sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())
        return Entry(path.name, size, True)
    return Entry(path.name, path.lstat().st_size, False)


def _zip_time(path: Path) -> tuple[int, int, int, int, int, int]:
    stamp = datetime.fromtimestamp(max(path.stat().st_mtime, 315532800))  # zip starts in 1980
    return (stamp.year, stamp.month, stamp.day, stamp.hour, stamp.minute, stamp.second)
