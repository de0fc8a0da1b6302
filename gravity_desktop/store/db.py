"""Opening the database: identity check, WAL, foreign keys, migrations.

The file is checked before anything is written to it, so a corrupt file or another program's
SQLite database is reported and left exactly as it was.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from gravity_desktop.errors import StoreError
from gravity_desktop.store.migrations import MIGRATIONS, Migration

# 'GRAV' in ASCII, written to the SQLite header so our files can be told from others.
APPLICATION_ID = 0x47524156


def open_store(path: Path, migrations: Sequence[Migration] = MIGRATIONS) -> sqlite3.Connection:
    """Open (creating if needed) the database at `path` and bring its schema up to date."""
    path = Path(path)
    existed = path.exists() and path.stat().st_size > 0
    if path.exists() and path.is_dir():
        raise StoreError(f"{path}: is a folder, not a database file")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        conn = sqlite3.connect(path, isolation_level=None, timeout=10.0)
    except sqlite3.Error as exc:
        raise StoreError(f"{path}: cannot open the database ({exc})") from exc
    conn.row_factory = sqlite3.Row
    try:
        if existed:
            _check_identity(conn, path)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA busy_timeout=10000")
        if not existed:
            conn.execute(f"PRAGMA application_id={APPLICATION_ID}")
        _migrate(conn, path, migrations)
    except BaseException:
        conn.close()
        raise
    return conn


def schema_version(conn: sqlite3.Connection) -> int:
    row = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
    return int(row[0] or 0)


def _check_identity(conn: sqlite3.Connection, path: Path) -> None:
    try:
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        raise StoreError(
            f"{path}: not a readable SQLite database ({exc}); the file was left untouched"
        ) from exc
    if app_id != APPLICATION_ID and (app_id != 0 or tables > 0):
        raise StoreError(
            f"{path}: this SQLite database belongs to another program (application id {app_id:#x});"
            " the file was left untouched"
        )


def _migrate(conn: sqlite3.Connection, path: Path, migrations: Sequence[Migration]) -> None:
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_version ("
        " version INTEGER PRIMARY KEY,"
        " description TEXT NOT NULL,"
        " applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')))"
    )
    current = schema_version(conn)
    latest = max((m.version for m in migrations), default=0)
    if current > latest:
        raise StoreError(
            f"{path}: made by a newer GRAVITY Desktop (schema {current}, this version knows up to"
            f" {latest}); the file was left untouched"
        )
    for migration in sorted(migrations, key=lambda m: m.version):
        if migration.version <= current:
            continue
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in _statements(migration.sql):
                conn.execute(statement)
            conn.execute(
                "INSERT INTO schema_version (version, description) VALUES (?, ?)",
                (migration.version, migration.description),
            )
        except sqlite3.Error as exc:
            conn.execute("ROLLBACK")
            raise StoreError(
                f"{path}: migration {migration.version} ({migration.description}) failed: {exc};"
                f" the database stays at schema {schema_version(conn)}"
            ) from exc
        conn.execute("COMMIT")


def _statements(sql: str) -> list[str]:
    """Split a migration into statements (executescript would commit half-way)."""
    statements, buffer = [], ""
    for line in sql.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            statements.append(buffer.strip())
            buffer = ""
    if buffer.strip():
        statements.append(buffer.strip())
    return statements


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """All or nothing: the connection runs in autocommit mode, so multi-step writes use this."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
