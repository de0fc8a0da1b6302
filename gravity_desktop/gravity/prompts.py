"""Prompt templates, versioned: the serving prompt and the teacher prompts for pair synthesis.

The DPO pairs use the *serving* prompt (neutral: the book and its facts), so the adapter learns
to answer an ordinary request the way this reader likes; the scenario-specific instructions exist
only in the teacher prompts that produced the chosen and rejected texts. The book's facts sit in
the system message, which every teacher request for that book shares, so llama.cpp reuses its
evaluated prefix.
"""

from __future__ import annotations

from gravity_desktop.catalog.book import Book
from gravity_desktop.llm.engine import Message

SERVE_TEMPLATE = "describe-v1"
TEACHER_TEMPLATE = "pairs-v1"

TEACHER_SYSTEM = (
    "You are a helpful assistant who describes books accurately, using only the facts given."
)
SERVE_SYSTEM = (
    "You write short book descriptions for a reading app. Use only the facts you are given; "
    "never invent names, places or events."
)


def book_facts(book: Book) -> str:
    year = f" ({book.year})" if book.year else ""
    facts = book.synopsis or "No synopsis is available; keep to what the title and author say."
    return f"Book: {book.title} by {book.author}{year}.\nFacts: {facts}"


def serve_messages(book: Book, profile_card: str | None = None) -> list[Message]:
    """What the served model is asked; with a profile card for the prompt-conditioning method."""
    system = SERVE_SYSTEM
    if profile_card:
        system += f"\n\nThe reader:\n{profile_card}\nWrite the description for this reader."
    return [
        {"role": "system", "content": system},
        {
            "role": "user",
            "content": f"{book_facts(book)}\n\nDescribe this book in 3 or 4 sentences.",
        },
    ]


def _ask(book: Book, focus: str) -> list[Message]:
    # Short, plain requests: small instruction-tuned models follow them far better than a list
    # of rules, and the system message (with the book's facts) is shared by all of a book's
    # requests so llama.cpp reuses its evaluated prefix.
    return [
        {"role": "system", "content": f"{TEACHER_SYSTEM}\n\n{book_facts(book)}"},
        {
            "role": "user",
            "content": f"In two or three sentences, describe {book.title} by {book.author},"
            f" focusing on {focus}.",
        },
    ]


def chosen_messages(book: Book, bring_forward: str, put_off: str) -> list[Message]:
    return _ask(book, f"{bring_forward}, rather than {put_off}")


def rejected_messages(book: Book, opposite: str) -> list[Message]:
    return _ask(book, opposite)


def generic_good_messages(book: Book) -> list[Message]:
    return _ask(book, "what is specific and vivid about it")


def generic_weak_messages(book: Book) -> list[Message]:
    return _ask(book, "only vague, general remarks that could fit any book")
