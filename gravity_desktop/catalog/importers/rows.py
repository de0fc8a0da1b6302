"""What every importer produces: one `ImportedRow` per book, or a `RowProblem` for a bad row.

The mapping from ratings and shelves to reading status is the same for every source
(docs/catalog.md): 4-5 stars liked, 1-2 stars disliked, 3 stars read; unrated books follow their
shelf (read, currently reading, to-read; did-not-finish counts as disliked).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class ImportedRow:
    line: int
    title: str
    author: str
    isbn: str | None = None
    year: int | None = None
    pages: int | None = None
    rating: float | None = None  # 0-5 stars; None when unrated
    shelf: str | None = None  # read, reading, to-read, did-not-finish
    shelves: tuple[str, ...] = ()
    read_at: str | None = None  # ISO date
    synopsis: str = ""

    def status(self) -> str | None:
        if self.rating is not None and self.rating > 0:
            if self.rating >= 4:
                return "liked"
            if self.rating <= 2:
                return "disliked"
            return "read"
        if self.shelf == "did-not-finish":
            return "disliked"
        if self.shelf in ("read", "reading", "to-read"):
            return self.shelf
        return "read" if self.read_at else None


@dataclass(frozen=True)
class RowProblem:
    line: int
    reason: str
    unit: str = "line"  # what `line` counts: a CSV line, or a Calibre book id

    def __str__(self) -> str:
        return f"{self.unit} {self.line}: {self.reason}"


class RowError(ValueError):
    """Raised by a field parser; the importer turns it into a RowProblem for that line."""


def parse_int(value: str | None, field: str, low: int, high: int) -> int | None:
    text = (value or "").strip()
    if not text:
        return None
    try:
        number = int(float(text))
    except ValueError as exc:
        raise RowError(f"{field} {text!r} is not a number") from exc
    if not low <= number <= high:
        raise RowError(f"{field} {number} is outside {low}-{high}")
    return number


def parse_rating(value: str | None, field: str, scale: float = 5.0) -> float | None:
    text = (value or "").strip()
    if not text:
        return None
    try:
        rating = float(text)
    except ValueError as exc:
        raise RowError(f"{field} {text!r} is not a number") from exc
    if not 0 <= rating <= scale:
        raise RowError(f"{field} {rating:g} is outside 0-{scale:g}")
    return rating * 5.0 / scale if rating else None


def parse_date(value: str | None, field: str) -> str | None:
    given = (value or "").strip()
    if not given:
        return None
    first = given.split(",")[0].strip()  # StoryGraph may list several dates; take the first
    for pattern in ("%Y/%m/%d", "%Y-%m-%d", "%Y/%m", "%Y"):
        try:
            return datetime.strptime(first, pattern).date().isoformat()
        except ValueError:
            continue
    raise RowError(f"{field} {given!r} is not a date (expected YYYY/MM/DD)")


def clean_isbn(value: str | None) -> str | None:
    """Goodreads writes ISBNs as ="0441172717" so spreadsheets keep the leading zeros."""
    text = re.sub(r'^="?|"$', "", (value or "").strip())
    return text or None


def required(value: str | None, field: str) -> str:
    text = (value or "").strip()
    if not text:
        raise RowError(f"{field} is empty")
    return text
