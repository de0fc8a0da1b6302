"""The bundled catalog validates against its schema and the project's rules for books."""

from __future__ import annotations

import json
from collections import Counter

import jsonschema
import pytest

from gravity_desktop.catalog.book import normalize_isbn
from gravity_desktop.catalog.bundled import BOOKS_DIR, bundled_books, catalog_files

VOCABULARY = json.loads((BOOKS_DIR / "vocabulary.json").read_text())


def schema() -> dict:
    loaded = json.loads((BOOKS_DIR / "book.schema.json").read_text())
    book = loaded["properties"]["books"]["items"]["properties"]
    for key in ("genres", "themes", "moods", "content_notes"):
        book[key]["items"]["enum"] = VOCABULARY[key]
    return loaded


@pytest.mark.parametrize("file", catalog_files(), ids=lambda f: f.name)
def test_catalog_file_matches_the_schema(file) -> None:
    jsonschema.validate(json.loads(file.read_text()), schema())


def test_every_book_follows_the_rules() -> None:
    books = bundled_books()
    ids = Counter(b.id for b in books)
    assert [i for i, n in ids.items() if n > 1] == []
    pairs = Counter((b.title.lower(), b.author.lower()) for b in books)
    assert [p for p, n in pairs.items() if n > 1] == []
    for book in books:
        words = len(book.synopsis.split())
        assert 60 <= words <= 120, (book.id, words)
        if book.isbn is not None:
            assert normalize_isbn(book.isbn) == book.isbn, book.id


def test_catalog_size_and_spread() -> None:
    books = bundled_books()
    assert len(books) >= 250
    by_country = Counter(b.country for b in books)
    for country in ("US", "BR", "JP", "IN"):
        assert by_country[country] >= 30, by_country
    assert len(by_country) >= 30  # world literature beyond the four study countries
    decades = {b.year // 10 for b in books}
    assert min(b.year for b in books) < 1700 and max(b.year for b in books) >= 2015
    assert len(decades) >= 20
    genres = Counter(g for b in books for g in b.genres)
    assert len(genres) >= 20
