"""Books in the reader's library, their match keys, reading history and cached embeddings."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass

from gravity_desktop.catalog.book import Book

LIST_FIELDS = ("genres", "themes", "moods", "content_notes")


@dataclass(frozen=True)
class Reading:
    book_id: str
    status: str  # liked, disliked, read, reading, to-read
    rating: float | None
    shelves: tuple[str, ...]
    read_at: str | None
    source: str


def upsert_book(conn: sqlite3.Connection, book: Book) -> None:
    conn.execute(
        "INSERT INTO book (id, title, author, year, language, country, genres, themes, moods,"
        " content_notes, pages, isbn, synopsis, source)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT(id) DO UPDATE SET title=excluded.title, author=excluded.author,"
        " year=excluded.year, language=excluded.language, country=excluded.country,"
        " genres=excluded.genres, themes=excluded.themes, moods=excluded.moods,"
        " content_notes=excluded.content_notes, pages=excluded.pages, isbn=excluded.isbn,"
        " synopsis=excluded.synopsis, source=excluded.source",
        (
            book.id,
            book.title,
            book.author,
            book.year,
            book.language,
            book.country,
            *(json.dumps(list(getattr(book, name))) for name in LIST_FIELDS),
            book.pages,
            book.isbn,
            book.synopsis,
            book.source,
        ),
    )
    conn.execute("DELETE FROM book_key WHERE book_id = ?", (book.id,))
    conn.executemany(
        "INSERT OR IGNORE INTO book_key (key, book_id) VALUES (?, ?)",
        [(key, book.id) for key in book.match_keys()],
    )


def get_book(conn: sqlite3.Connection, book_id: str) -> Book | None:
    row = conn.execute("SELECT * FROM book WHERE id = ?", (book_id,)).fetchone()
    return _book(row) if row else None


def all_books(conn: sqlite3.Connection) -> list[Book]:
    return [_book(row) for row in conn.execute("SELECT * FROM book ORDER BY title, author")]


def find_by_isbn(conn: sqlite3.Connection, isbn: str) -> str | None:
    row = conn.execute("SELECT id FROM book WHERE isbn = ? ORDER BY id LIMIT 1", (isbn,)).fetchone()
    return row[0] if row else None


def find_by_keys(conn: sqlite3.Connection, keys: set[str]) -> str | None:
    if not keys:
        return None
    marks = ",".join("?" * len(keys))
    row = conn.execute(
        f"SELECT book_id FROM book_key WHERE key IN ({marks}) ORDER BY book_id LIMIT 1",
        tuple(keys),
    ).fetchone()
    return row[0] if row else None


def get_reading(conn: sqlite3.Connection, book_id: str) -> Reading | None:
    row = conn.execute("SELECT * FROM reading WHERE book_id = ?", (book_id,)).fetchone()
    return _reading(row) if row else None


def set_reading(conn: sqlite3.Connection, reading: Reading) -> None:
    conn.execute(
        "INSERT INTO reading (book_id, status, rating, shelves, read_at, source)"
        " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(book_id) DO UPDATE SET status=excluded.status,"
        " rating=excluded.rating, shelves=excluded.shelves, read_at=excluded.read_at,"
        " source=excluded.source, updated_at=strftime('%Y-%m-%dT%H:%M:%fZ', 'now')",
        (
            reading.book_id,
            reading.status,
            reading.rating,
            json.dumps(list(reading.shelves)),
            reading.read_at,
            reading.source,
        ),
    )


def clear_reading(conn: sqlite3.Connection, book_id: str) -> None:
    conn.execute("DELETE FROM reading WHERE book_id = ?", (book_id,))


def reading_history(conn: sqlite3.Connection) -> dict[str, Reading]:
    return {row["book_id"]: _reading(row) for row in conn.execute("SELECT * FROM reading")}


def get_meta(conn: sqlite3.Connection, key: str) -> str | None:
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return row[0] if row else None


def set_meta(conn: sqlite3.Connection, key: str, value: str) -> None:
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET"
        " value=excluded.value",
        (key, value),
    )


def embeddings(conn: sqlite3.Connection, model: str) -> dict[str, tuple[str, bytes]]:
    """book id -> (sha256 of the embedded text, float32 vector bytes)."""
    rows = conn.execute(
        "SELECT book_id, text_sha, vector FROM book_embedding WHERE model = ?", (model,)
    )
    return {row[0]: (row[1], row[2]) for row in rows}


def save_embedding(
    conn: sqlite3.Connection, book_id: str, model: str, text_sha: str, vector: bytes
) -> None:
    conn.execute(
        "INSERT INTO book_embedding (book_id, model, text_sha, vector) VALUES (?, ?, ?, ?)"
        " ON CONFLICT(book_id, model) DO UPDATE SET text_sha=excluded.text_sha,"
        " vector=excluded.vector",
        (book_id, model, text_sha, vector),
    )


def _book(row: sqlite3.Row) -> Book:
    return Book(
        id=row["id"],
        title=row["title"],
        author=row["author"],
        year=row["year"],
        language=row["language"],
        country=row["country"],
        genres=tuple(json.loads(row["genres"])),
        themes=tuple(json.loads(row["themes"])),
        moods=tuple(json.loads(row["moods"])),
        content_notes=tuple(json.loads(row["content_notes"])),
        pages=row["pages"],
        isbn=row["isbn"],
        synopsis=row["synopsis"],
        source=row["source"],
    )


def _reading(row: sqlite3.Row) -> Reading:
    return Reading(
        book_id=row["book_id"],
        status=row["status"],
        rating=row["rating"],
        shelves=tuple(json.loads(row["shelves"])),
        read_at=row["read_at"],
        source=row["source"],
    )
