"""Held-out books: described and judged, never used in any training pair of any simulated reader.

One pool of books is drawn for the whole run (by seed, spread over the books' countries so that
every culture's readers can meet books of their own), and every reader is evaluated on the K books
of the pool that rank highest in that reader's own recommendations (the books they would be shown
first). The pool is put on each simulated store's "reading" shelf, which the recommender skips, so
pair synthesis (which draws its books from the recommendations) never picks them; pooled training
data is checked again before training (`groups.py`).
"""

from __future__ import annotations

import random
import sqlite3
from collections.abc import Sequence

from gravity_desktop.catalog.book import Book
from gravity_desktop.catalog.library import set_status
from gravity_desktop.errors import UserError
from gravity_desktop.gravity.synthesis import MIN_SYNOPSIS_WORDS
from gravity_desktop.profile.profile import Profile
from gravity_desktop.recommend.ranking import recommend
from gravity_desktop.store import transaction

MIN_POOL = 12
POOL_PER_BOOK = 3  # pool size: at least three times the books each reader is evaluated on
SHELF = "reading"


def pool_size(books_per_reader: int) -> int:
    return max(MIN_POOL, POOL_PER_BOOK * books_per_reader)


def draw_pool(books: Sequence[Book], size: int, seed: int) -> list[Book]:
    """`size` describable books, taken in turn from each country's shuffled books."""
    usable = [b for b in books if len(b.synopsis.split()) >= MIN_SYNOPSIS_WORDS]
    if len(usable) < size:
        raise UserError(
            f"the catalog has {len(usable)} books with a synopsis; {size} are needed to hold out"
        )
    rng = random.Random(f"held-out:{seed}")
    by_country: dict[str, list[Book]] = {}
    for book in sorted(usable, key=lambda b: b.id):
        by_country.setdefault(book.country or "", []).append(book)
    queues = [by_country[c] for c in sorted(by_country)]
    for queue in queues:
        rng.shuffle(queue)
    rng.shuffle(queues)
    pool: list[Book] = []
    while len(pool) < size:
        for queue in queues:
            if queue and len(pool) < size:
                pool.append(queue.pop())
    return pool


def books_for_reader(
    conn: sqlite3.Connection, profile: Profile, pool: list[Book], count: int
) -> list[Book]:
    """The `count` pool books this reader's recommendations rank highest (before shelving)."""
    ids = {b.id for b in pool}
    ranked = [r.book for r in recommend(conn, profile, 100_000) if r.book.id in ids]
    # Books left out of the ranking (content the reader avoids) come last, in pool order.
    ranked += [b for b in pool if b not in ranked]
    return ranked[:count]


def shelve(conn: sqlite3.Connection, pool: list[Book]) -> None:
    """Put the pool on the store's "reading" shelf, where the recommender does not look."""
    with transaction(conn):
        for book in pool:
            set_status(conn, book.id, SHELF)
