from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from gravity_desktop.errors import StoreError
from gravity_desktop.store import APPLICATION_ID, open_store
from gravity_desktop.store.db import schema_version
from gravity_desktop.store.migrations import MIGRATIONS, Migration


def test_new_database_is_migrated_with_wal_and_foreign_keys(tmp_path: Path) -> None:
    conn = open_store(tmp_path / "db.sqlite3")
    assert schema_version(conn) == max(m.version for m in MIGRATIONS)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    versions = [r[0] for r in conn.execute("SELECT version FROM schema_version ORDER BY version")]
    assert versions == sorted(m.version for m in MIGRATIONS)
    conn.close()


def test_reopening_applies_only_new_migrations(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    first = (Migration(1, "one", "CREATE TABLE a (x INTEGER);"),)
    open_store(path, first).close()
    both = (*first, Migration(2, "two", "CREATE TABLE b (y INTEGER);"))
    conn = open_store(path, both)
    assert schema_version(conn) == 2
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"a", "b"} <= tables


def test_failed_migration_leaves_previous_schema_intact(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    first = (Migration(1, "one", "CREATE TABLE a (x INTEGER);"),)
    conn = open_store(path, first)
    conn.execute("INSERT INTO a VALUES (42)")
    conn.close()
    broken = (
        *first,
        Migration(
            2,
            "half good",
            "CREATE TABLE b (y INTEGER);\nALTER TABLE a ADD COLUMN z TEXT;\nCREATE TABLE oops (;",
        ),
    )
    with pytest.raises(StoreError, match=r"migration 2 .* stays at schema 1"):
        open_store(path, broken)
    check = sqlite3.connect(path)
    tables = {r[0] for r in check.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert "b" not in tables
    assert [c[1] for c in check.execute("PRAGMA table_info(a)")] == ["x"]
    assert check.execute("SELECT x FROM a").fetchall() == [(42,)]
    assert check.execute("SELECT MAX(version) FROM schema_version").fetchone()[0] == 1


def test_corrupt_file_is_reported_and_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    junk = b"this is not a database at all, just some bytes " * 100
    path.write_bytes(junk)
    with pytest.raises(StoreError, match="not a readable SQLite database"):
        open_store(path)
    assert path.read_bytes() == junk
    assert not (tmp_path / "db.sqlite3-wal").exists()


def test_foreign_sqlite_database_is_refused_and_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "other.sqlite3"
    other = sqlite3.connect(path)
    other.execute("CREATE TABLE contacts (name TEXT)")
    other.commit()
    other.close()
    before = path.read_bytes()
    with pytest.raises(StoreError, match="belongs to another program"):
        open_store(path)
    assert path.read_bytes() == before


def test_database_from_a_newer_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    later = (*MIGRATIONS, Migration(999, "future", "CREATE TABLE future (x INTEGER);"))
    open_store(path, later).close()
    with pytest.raises(StoreError, match="newer GRAVITY Desktop"):
        open_store(path)
