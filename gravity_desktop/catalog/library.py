"""The reader's library: the bundled catalog plus imported books, with reading history and search.

Bundled books are copied into the store (and refreshed when the shipped catalog changes) so that
reading history, pairs and descriptions can reference every book the same way.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from functools import cache

from gravity_desktop.catalog.book import Book, author_key, fold, normalize_isbn, title_key
from gravity_desktop.catalog.bundled import bundled_books
from gravity_desktop.errors import UserError
from gravity_desktop.store import books as store
from gravity_desktop.store import transaction

STATUSES = ("liked", "disliked", "read", "reading", "to-read")
# Search weights per field: a title hit matters more than a word in the synopsis.
FIELD_WEIGHTS = {"title": 3.0, "author": 2.5, "tags": 1.5, "synopsis": 0.5}


@cache
def _bundled_digest() -> str:
    books = bundled_books()
    return hashlib.sha256(
        json.dumps([b.as_json() for b in books], sort_keys=True).encode()
    ).hexdigest()


def ensure_bundled(conn: sqlite3.Connection) -> int:
    """Copy the shipped catalog into the store when it changed; returns books written."""
    books = bundled_books()
    digest = _bundled_digest()
    if store.get_meta(conn, "bundled_catalog_sha256") == digest:
        return 0
    with transaction(conn):
        for book in books:
            store.upsert_book(conn, book)
        store.set_meta(conn, "bundled_catalog_sha256", digest)
    return len(books)


def match_book(
    conn: sqlite3.Connection, *, isbn: str | None, title: str, author: str
) -> str | None:
    """The id of the library book this describes: by ISBN first, then title + author."""
    normalized = normalize_isbn(isbn)
    if normalized:
        found = store.find_by_isbn(conn, normalized)
        if found:
            return found
    probe = Book(id="", title=title, author=author)
    return store.find_by_keys(conn, probe.match_keys())


def find_book(conn: sqlite3.Connection, query: str) -> Book:
    """A book by id, or by title (optionally 'title by author'); errors name the near misses."""
    exact = store.get_book(conn, query)
    if exact:
        return exact
    title, _, author = query.partition(" by ")
    wanted = title_key(title)
    candidates = [
        b
        for b in store.all_books(conn)
        if wanted
        and wanted in {title_key(t) for t in b.titles}
        and (not author or author_key(author) == author_key(b.author))
    ]
    if len(candidates) == 1:
        return candidates[0]
    if len(candidates) > 1:
        listed = "; ".join(f"{b.id} ({b.title} by {b.author})" for b in candidates[:5])
        raise UserError(f"{query!r} matches several books, give the id: {listed}")
    near = search(conn, query, limit=3)
    hint = f"; did you mean: {', '.join(b.id for b in near)}" if near else ""
    raise UserError(f"no book {query!r} in the library{hint}")


def search(conn: sqlite3.Connection, query: str, limit: int | None = None) -> list[Book]:
    """Books matching every word of the query, best first (accents and case ignored)."""
    words = fold(query).split()
    if not words:
        return []
    scored = []
    for book in store.all_books(conn):
        fields = {
            "title": fold(book.title),
            "author": fold(book.author),
            "tags": fold(" ".join((*book.genres, *book.themes, *book.moods))),
            "synopsis": fold(book.synopsis),
        }
        total = 0.0
        for word in words:
            hits = [
                FIELD_WEIGHTS[name] * (1.5 if f" {word} " in f" {text} " else 1.0)
                for name, text in fields.items()
                if word in text
            ]
            if not hits:
                break
            total += max(hits)
        else:
            scored.append((total, book))
    scored.sort(key=lambda pair: (-pair[0], pair[1].title))
    return [book for _, book in scored[:limit]]


def set_status(conn: sqlite3.Connection, book_id: str, status: str | None) -> None:
    """Mark a book liked / disliked / read / reading / to-read (None forgets it)."""
    if store.get_book(conn, book_id) is None:
        raise UserError(f"no book with id {book_id!r}")
    if status is None:
        store.clear_reading(conn, book_id)
        return
    if status not in STATUSES:
        raise UserError(f"status {status!r} is not one of {list(STATUSES)}")
    previous = store.get_reading(conn, book_id)
    store.set_reading(
        conn,
        store.Reading(
            book_id=book_id,
            status=status,
            rating=previous.rating if previous else None,
            shelves=previous.shelves if previous else (),
            read_at=previous.read_at if previous else None,
            source="app",
        ),
    )
