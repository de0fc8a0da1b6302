"""The reader's data dir and database, opened the same way by the CLI, the app and workers."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from gravity_desktop.config import Paths, Settings, paths
from gravity_desktop.store import open_store


@dataclass
class Context:
    paths: Paths
    conn: sqlite3.Connection
    settings: Settings


@contextmanager
def opened() -> Iterator[Context]:
    where = paths()
    conn = open_store(where.database)
    try:
        yield Context(paths=where, conn=conn, settings=Settings.load(where))
    finally:
        conn.close()
