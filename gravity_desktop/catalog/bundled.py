"""The catalog that ships with the app: `resources/books/*.json` (schema: book.schema.json)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from gravity_desktop.catalog.book import Book
from gravity_desktop.config import RESOURCES_DIR
from gravity_desktop.errors import UserError

BOOKS_DIR = RESOURCES_DIR / "books"
NOT_CATALOG = {"vocabulary.json", "book.schema.json"}


def catalog_files(folder: Path = BOOKS_DIR) -> list[Path]:
    return sorted(p for p in folder.glob("*.json") if p.name not in NOT_CATALOG)


@cache
def bundled_books(folder: Path = BOOKS_DIR) -> tuple[Book, ...]:
    books: list[Book] = []
    for file in catalog_files(folder):
        try:
            entries = json.loads(file.read_text(encoding="utf-8"))["books"]
            books.extend(_book(entry) for entry in entries)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise UserError(f"{file}: damaged catalog file ({exc!r})") from exc
    return tuple(books)


def _book(entry: dict) -> Book:
    return Book(
        id=entry["id"],
        title=entry["title"],
        author=entry["author"],
        year=entry["year"],
        language=entry["language"],
        country=entry["country"],
        genres=tuple(entry["genres"]),
        themes=tuple(entry["themes"]),
        moods=tuple(entry["moods"]),
        content_notes=tuple(entry["content_notes"]),
        pages=entry["pages"],
        isbn=entry["isbn"],
        synopsis=entry["synopsis"],
        source="bundled",
    )
