"""Running an import: detect the format, match each row to the library, write in one transaction.

Re-importing the same file adds nothing twice: every row is matched by ISBN, then by normalized
title + author, against the whole library (the bundled catalog included). Malformed rows are
reported with their line numbers and skipped; the valid rows are kept.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from gravity_desktop.catalog.book import Book, normalize_isbn, slug
from gravity_desktop.catalog.importers.calibre import calibre
from gravity_desktop.catalog.importers.csv_exports import (
    GOODREADS_COLUMNS,
    STORYGRAPH_COLUMNS,
    goodreads,
    read_header,
    storygraph,
)
from gravity_desktop.catalog.importers.rows import ImportedRow, RowProblem
from gravity_desktop.catalog.library import match_book
from gravity_desktop.errors import UserError
from gravity_desktop.store import books as store
from gravity_desktop.store import transaction

Reader = Callable[[Path], Iterator[ImportedRow | RowProblem]]
FORMATS: dict[str, Reader] = {"goodreads": goodreads, "storygraph": storygraph, "calibre": calibre}
SQLITE_MAGIC = b"SQLite format 3\x00"


@dataclass
class ImportReport:
    file: Path
    format: str
    imported: int = 0  # books new to the library or to the reading history
    updated: int = 0  # known books whose reading entry changed
    unchanged: int = 0
    skipped: list[RowProblem] = field(default_factory=list)

    def as_json(self) -> dict[str, object]:
        return {
            "file": str(self.file),
            "format": self.format,
            "imported": self.imported,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "skipped": [{"line": p.line, "unit": p.unit, "reason": p.reason} for p in self.skipped],
        }


def detect_format(path: Path) -> str:
    if path.is_dir():
        if (path / "metadata.db").is_file():
            return "calibre"
        raise UserError(f"{path}: a folder without a Calibre metadata.db")
    if not path.is_file():
        raise UserError(f"{path}: file not found")
    with path.open("rb") as handle:
        if handle.read(16) == SQLITE_MAGIC:
            return "calibre"
    try:
        header = read_header(path)
    except OSError as exc:
        raise UserError(f"{path}: cannot read ({exc.strerror})") from exc
    if all(column in header for column in GOODREADS_COLUMNS):
        return "goodreads"
    if all(column in header for column in STORYGRAPH_COLUMNS):
        return "storygraph"
    raise UserError(
        f"{path}: cannot tell the format (not a Goodreads or StoryGraph export, nor a Calibre"
        " library); pass --format"
    )


def import_file(conn: sqlite3.Connection, path: Path, fmt: str | None = None) -> ImportReport:
    path = Path(path)
    fmt = fmt or detect_format(path)
    if fmt not in FORMATS:
        raise UserError(f"unknown import format {fmt!r} (known: {', '.join(FORMATS)})")
    rows = list(FORMATS[fmt](path))  # parse fully before writing: a broken file writes nothing
    report = ImportReport(file=path, format=fmt)
    with transaction(conn):
        for row in rows:
            if isinstance(row, RowProblem):
                report.skipped.append(row)
            else:
                _apply(conn, row, fmt, report)
    return report


def _apply(conn: sqlite3.Connection, row: ImportedRow, fmt: str, report: ImportReport) -> None:
    book_id = match_book(conn, isbn=row.isbn, title=row.title, author=row.author)
    is_new_book = book_id is None
    if book_id is None:
        book_id = _free_id(conn, slug(f"{row.title} {row.author}"))
        store.upsert_book(
            conn,
            Book(
                id=book_id,
                title=row.title,
                author=row.author,
                year=row.year,
                pages=row.pages,
                isbn=normalize_isbn(row.isbn),
                synopsis=row.synopsis,
                source=f"import:{fmt}",
            ),
        )
    status = row.status()
    previous = store.get_reading(conn, book_id)
    if status is None:
        if is_new_book:
            report.imported += 1
        else:
            report.unchanged += 1
        return
    reading = store.Reading(
        book_id=book_id,
        status=status,
        rating=row.rating,
        shelves=row.shelves,
        read_at=row.read_at,
        source=f"import:{fmt}",
    )
    if previous is None:
        report.imported += 1
    elif (previous.status, previous.rating, previous.shelves, previous.read_at) == (
        reading.status,
        reading.rating,
        reading.shelves,
        reading.read_at,
    ):
        report.unchanged += 1
        return
    else:
        report.updated += 1
    store.set_reading(conn, reading)


def _free_id(conn: sqlite3.Connection, base: str) -> str:
    candidate, n = base, 2
    while store.get_book(conn, candidate) is not None:
        candidate, n = f"{base}-{n}", n + 1
    return candidate
