"""Goodreads and StoryGraph library exports (CSV, one row per book).

Column names follow the exports as those sites write them; docs/catalog.md lists the columns used.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

from gravity_desktop.catalog.importers.rows import (
    ImportedRow,
    RowError,
    RowProblem,
    clean_isbn,
    parse_date,
    parse_int,
    parse_rating,
    required,
)
from gravity_desktop.errors import UserError

GOODREADS_COLUMNS = ("Title", "Author", "My Rating", "Exclusive Shelf")
STORYGRAPH_COLUMNS = ("Title", "Authors", "Read Status", "ISBN/UID")
GOODREADS_SHELVES = {"read": "read", "currently-reading": "reading", "to-read": "to-read"}
STORYGRAPH_SHELVES = {
    "read": "read",
    "currently-reading": "reading",
    "to-read": "to-read",
    "did-not-finish": "did-not-finish",
}


def read_header(path: Path) -> list[str]:
    """The column names, from the first line alone (format detection reads nothing more)."""
    with path.open("rb") as handle:
        first = handle.readline().decode("utf-8-sig", errors="replace")
    return next(csv.reader([first]), [])


def _rows(path: Path, columns: tuple[str, ...], label: str) -> Iterator[tuple[int, dict]]:
    try:
        handle = path.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise UserError(f"{path}: cannot read ({exc.strerror})") from exc
    with handle:
        reader = csv.DictReader(handle)
        try:
            header = reader.fieldnames or []
            missing = [c for c in columns if c not in header]
            if missing:
                raise UserError(f"{path}: not a {label} export (missing columns: {missing})")
            line = reader.line_num
            for row in reader:
                start, line = line + 1, reader.line_num
                if None in row or any(v is None for v in row.values()):
                    yield start, {"__problem__": f"expected {len(header)} fields"}
                    continue
                yield start, row
        except (csv.Error, UnicodeDecodeError) as exc:
            raise UserError(f"{path}: line {reader.line_num + 1}: unreadable CSV ({exc})") from exc


def goodreads(path: Path) -> Iterator[ImportedRow | RowProblem]:
    for line, row in _rows(path, GOODREADS_COLUMNS, "Goodreads"):
        if "__problem__" in row:
            yield RowProblem(line, row["__problem__"])
            continue
        try:
            shelf_name = row.get("Exclusive Shelf", "").strip()
            shelves = [s.strip() for s in row.get("Bookshelves", "").split(",") if s.strip()]
            yield ImportedRow(
                line=line,
                title=required(row["Title"], "Title"),
                author=required(row["Author"], "Author"),
                isbn=clean_isbn(row.get("ISBN13")) or clean_isbn(row.get("ISBN")),
                year=parse_int(
                    row.get("Original Publication Year") or row.get("Year Published"),
                    "publication year",
                    -3000,
                    2100,
                ),
                pages=parse_int(row.get("Number of Pages"), "Number of Pages", 1, 100_000),
                rating=parse_rating(row["My Rating"], "My Rating"),
                shelf=GOODREADS_SHELVES.get(shelf_name),
                shelves=tuple(dict.fromkeys([shelf_name, *shelves]) if shelf_name else shelves),
                read_at=parse_date(row.get("Date Read"), "Date Read"),
            )
        except RowError as exc:
            yield RowProblem(line, str(exc))


def storygraph(path: Path) -> Iterator[ImportedRow | RowProblem]:
    for line, row in _rows(path, STORYGRAPH_COLUMNS, "StoryGraph"):
        if "__problem__" in row:
            yield RowProblem(line, row["__problem__"])
            continue
        try:
            status = row.get("Read Status", "").strip()
            tags = [t.strip() for t in row.get("Tags", "").split(",") if t.strip()]
            authors = required(row["Authors"], "Authors")
            yield ImportedRow(
                line=line,
                title=required(row["Title"], "Title"),
                author=authors.split(",")[0].strip(),
                isbn=clean_isbn(row.get("ISBN/UID")),
                rating=parse_rating(row.get("Star Rating"), "Star Rating"),
                shelf=STORYGRAPH_SHELVES.get(status),
                shelves=tuple(dict.fromkeys([status, *tags]) if status else tags),
                read_at=parse_date(row.get("Last Date Read"), "Last Date Read"),
            )
        except RowError as exc:
            yield RowProblem(line, str(exc))
