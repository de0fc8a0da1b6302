"""The `Book` and the keys used to recognise the same book across sources.

A Goodreads row, a StoryGraph row, a Calibre entry and a catalog entry for one book rarely agree
letter for letter ("Dune (Dune Chronicles, #1)" by "Frank Herbert"; "Memórias Póstumas de Brás
Cubas" by "Machado de Assis"). Matching goes by ISBN-13 first, then by a normalized title (accents
folded, punctuation, series and subtitles dropped) with the author's longest name part, which
survives initials and family-name-first orders.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Book:
    id: str
    title: str
    author: str
    year: int | None = None
    language: str | None = None
    country: str | None = None
    genres: tuple[str, ...] = ()
    themes: tuple[str, ...] = ()
    moods: tuple[str, ...] = ()
    content_notes: tuple[str, ...] = ()
    pages: int | None = None
    isbn: str | None = None
    synopsis: str = ""
    source: str = "bundled"
    extra_titles: tuple[str, ...] = field(default=(), compare=False)

    def as_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "title": self.title,
            "author": self.author,
            "year": self.year,
            "language": self.language,
            "country": self.country,
            "genres": list(self.genres),
            "themes": list(self.themes),
            "moods": list(self.moods),
            "content_notes": list(self.content_notes),
            "pages": self.pages,
            "isbn": self.isbn,
            "synopsis": self.synopsis,
            "source": self.source,
        }

    @property
    def short_title(self) -> str:
        """The title without the original-language title in parentheses."""
        return self.title.split(" (")[0]

    @property
    def titles(self) -> tuple[str, ...]:
        """The title, then any original-language title given in parentheses."""
        return (self.title, *re.findall(r"\(([^)]*)\)", self.title))

    def match_keys(self) -> set[str]:
        """Title+author keys: the title with and without its parenthesised original title."""
        author = author_key(self.author)
        titles = {*self.titles, *self.extra_titles}
        return {f"{title_key(t)}|{author}" for t in titles if title_key(t)}


def fold(text: str) -> str:
    """Lowercase ASCII-ish text: accents removed, punctuation to spaces."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return re.sub(r"[^a-z0-9]+", " ", stripped.lower()).strip()


def title_key(title: str) -> str:
    title = re.sub(r"\([^)]*\)|\[[^]]*\]", " ", title)  # series info, original titles
    title = title.split(":")[0]  # subtitles
    words = fold(title).split()
    if len(words) > 1 and words[0] in {"the", "a", "an"}:
        words = words[1:]
    return " ".join(words)


def author_key(author: str) -> str:
    """The longest part of the name (usually the family name), whatever the order or initials."""
    parts = fold(author).split()
    return max(parts, key=len) if parts else ""


def normalize_isbn(raw: str | None) -> str | None:
    """ISBN-13 digits, from an ISBN-10 or ISBN-13 in any usual spelling; None when invalid."""
    if not raw:
        return None
    text = re.sub(r"[^0-9Xx]", "", raw)
    if len(text) == 10 and _isbn10_ok(text):
        core = "978" + text[:9]
        return core + _isbn13_check(core)
    if len(text) == 13 and text.isdigit() and _isbn13_check(text[:12]) == text[12]:
        return text
    return None


def _isbn10_ok(text: str) -> bool:
    if not text[:9].isdigit() or not (text[9].isdigit() or text[9] in "Xx"):
        return False
    digits = [int(c) for c in text[:9]] + [10 if text[9] in "Xx" else int(text[9])]
    return sum((10 - i) * d for i, d in enumerate(digits)) % 11 == 0


def _isbn13_check(first12: str) -> str:
    total = sum((1 if i % 2 == 0 else 3) * int(c) for i, c in enumerate(first12))
    return str((10 - total % 10) % 10)


def slug(text: str) -> str:
    return re.sub(r"\s+", "-", fold(text))[:60].strip("-") or "book"
