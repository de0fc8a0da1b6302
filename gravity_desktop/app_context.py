"""The reader's data dir and database, opened the same way by the CLI, the app and workers."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from gravity_desktop.catalog.library import ensure_bundled
from gravity_desktop.config import Paths, Settings, paths
from gravity_desktop.store import open_store


@dataclass
class Context:
    paths: Paths
    conn: sqlite3.Connection
    settings: Settings


def open_context() -> Context:
    """Open the store (migrating it) and make sure the shipped catalog is in it."""
    where = paths()
    conn = open_store(where.database)
    try:
        ensure_bundled(conn)
    except BaseException:
        conn.close()
        raise
    return Context(paths=where, conn=conn, settings=Settings.load(where))


@contextmanager
def opened() -> Iterator[Context]:
    ctx = open_context()
    try:
        yield ctx
    finally:
        ctx.conn.close()
