"""A Calibre library (`metadata.db`), opened read-only: Calibre's file is never written."""

from __future__ import annotations

import html
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from gravity_desktop.catalog.importers.rows import ImportedRow, RowError, RowProblem, parse_date
from gravity_desktop.errors import UserError

TO_READ_TAGS = {"to-read", "to read", "want to read", "tbr"}
BOOK = "Calibre book id"


def calibre_database(path: Path) -> Path:
    return path / "metadata.db" if path.is_dir() else path


def calibre(path: Path) -> Iterator[ImportedRow | RowProblem]:
    database = calibre_database(path)
    if not database.is_file():
        raise UserError(f"{path}: no Calibre metadata.db found")
    # immutable=1: SQLite neither writes nor creates -wal/-shm files beside Calibre's database.
    uri = f"{database.resolve().as_uri()}?mode=ro&immutable=1"
    try:
        conn = sqlite3.connect(uri, uri=True)
        conn.row_factory = sqlite3.Row
        books = conn.execute("SELECT id, title, pubdate FROM books ORDER BY id").fetchall()
    except sqlite3.DatabaseError as exc:
        raise UserError(f"{database}: not a readable Calibre library ({exc})") from exc
    try:
        for book in books:
            yield _row(conn, book)
    finally:
        conn.close()


def _row(conn: sqlite3.Connection, book: sqlite3.Row) -> ImportedRow | RowProblem:
    book_id = book["id"]
    author = conn.execute(
        "SELECT a.name FROM authors a JOIN books_authors_link l ON l.author = a.id"
        " WHERE l.book = ? ORDER BY l.id LIMIT 1",
        (book_id,),
    ).fetchone()
    isbn = conn.execute(
        "SELECT val FROM identifiers WHERE book = ? AND type = 'isbn' LIMIT 1", (book_id,)
    ).fetchone()
    rating = conn.execute(
        "SELECT r.rating FROM ratings r JOIN books_ratings_link l ON l.rating = r.id"
        " WHERE l.book = ?",
        (book_id,),
    ).fetchone()
    tags = [
        row[0]
        for row in conn.execute(
            "SELECT t.name FROM tags t JOIN books_tags_link l ON l.tag = t.id WHERE l.book = ?",
            (book_id,),
        )
    ]
    comment = conn.execute("SELECT text FROM comments WHERE book = ?", (book_id,)).fetchone()
    title = (book["title"] or "").strip()
    if not title:
        return RowProblem(book_id, "title is empty", BOOK)
    if author is None or not author[0].strip():
        return RowProblem(book_id, "no author", BOOK)
    stars = None
    if rating is not None and rating[0] is not None:
        if not 0 <= rating[0] <= 10:
            return RowProblem(book_id, f"rating {rating[0]} is outside 0-10", BOOK)
        stars = rating[0] / 2 or None
    lowered = {t.lower() for t in tags}
    shelf = "to-read" if lowered & TO_READ_TAGS else "read" if "read" in lowered else None
    try:
        published = parse_date((book["pubdate"] or "")[:10].replace("-", "/"), "pubdate")
    except RowError:
        published = None
    year = int(published[:4]) if published and not published.startswith("0101") else None
    return ImportedRow(
        line=book_id,
        title=title,
        author=author[0].split("|")[0].strip(),
        isbn=isbn[0] if isbn else None,
        year=year,
        rating=stars,
        shelf=shelf,
        shelves=tuple(tags),
        synopsis=_plain_text(comment[0]) if comment and comment[0] else "",
    )


def _plain_text(markup: str) -> str:
    text = re.sub(r"<[^>]+>", " ", markup)
    return re.sub(r"\s+", " ", html.unescape(text)).strip()
