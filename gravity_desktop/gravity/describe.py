"""Writing a book description for the reader with the served model, and keeping it for feedback."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, replace

from gravity_desktop.catalog.book import Book
from gravity_desktop.gravity import prompts
from gravity_desktop.gravity.methods import describe_messages
from gravity_desktop.gravity.text import clean_text
from gravity_desktop.llm.engine import CancelToken, Engine, GenerationSettings
from gravity_desktop.profile.profile import Profile
from gravity_desktop.store import pairs as store

DESCRIBE_SETTINGS = GenerationSettings(max_tokens=160, temperature=0.7, repeat_penalty=1.1)


@dataclass(frozen=True)
class Written:
    description_id: int
    text: str
    finish_reason: str


def describe(
    conn: sqlite3.Connection,
    engine: Engine,
    model_id: str,
    book: Book,
    profile: Profile | None,
    *,
    method: str = "base",
    adapter_id: str | None = None,
    seed: int | None = None,
    on_piece: Callable[[str], None] | None = None,
    cancel: CancelToken | None = None,
) -> Written:
    """Stream a description (pieces go to `on_piece`) and store it; cancelled text is not kept."""
    messages = describe_messages(method, book, profile)
    settings = replace(DESCRIBE_SETTINGS, seed=seed)
    stream = engine.stream_chat(messages, settings, cancel)
    pieces = []
    for piece in stream:
        pieces.append(piece)
        if on_piece is not None:
            on_piece(piece)
    text = clean_text("".join(pieces), stream.finish_reason)
    if stream.finish_reason == "cancelled":
        return Written(0, text, "cancelled")
    description_id = store.add_description(
        conn,
        book_id=book.id,
        profile_version=profile.version if profile else None,
        model_id=model_id,
        adapter_id=adapter_id,
        seed=seed,
        template_version=prompts.SERVE_TEMPLATE + ("+card" if method == "prompt" else ""),
        prompt=messages,
        text=text,
    )
    return Written(description_id, text, stream.finish_reason)
