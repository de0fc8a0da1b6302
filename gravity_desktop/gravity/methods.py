"""The methods compared, behind one interface: what each trains on and how it prompts.

| method  | training data                                   | serving prompt          |
|---------|-------------------------------------------------|-------------------------|
| base    | none                                            | neutral                 |
| prompt  | none (prompt conditioning)                      | neutral + profile card  |
| sft     | chosen texts of GRAVITY scenarios (SFT)         | neutral                 |
| naive   | generic good vs weak descriptions + DPO         | neutral                 |
| gravity | profile-grounded chosen vs rejected + DPO       | neutral                 |

Real pairs from the reader's feedback join the training data of every training method.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from gravity_desktop.catalog.book import Book
from gravity_desktop.errors import UserError
from gravity_desktop.gravity import prompts
from gravity_desktop.llm.engine import Message
from gravity_desktop.profile.profile import Profile
from gravity_desktop.store import pairs as store


@dataclass(frozen=True)
class Method:
    name: str
    trains: str | None  # "dpo", "sft" or None
    synthesizes: bool
    card_in_prompt: bool
    summary: str


METHODS = {
    "base": Method("base", None, False, False, "the served model as it is"),
    "prompt": Method("prompt", None, False, True, "profile card in the prompt, no training"),
    "sft": Method("sft", "sft", True, False, "fine-tuning on profile-grounded chosen texts"),
    "naive": Method("naive", "dpo", True, False, "DPO on generic good vs weak descriptions"),
    "gravity": Method("gravity", "dpo", True, False, "DPO on profile-grounded pairs (GRAVITY)"),
}


def method(name: str) -> Method:
    if name not in METHODS:
        raise UserError(f"unknown method {name!r} (known: {', '.join(METHODS)})")
    return METHODS[name]


def describe_messages(name: str, book: Book, profile: Profile | None) -> list[Message]:
    card = profile.summary if profile is not None and method(name).card_in_prompt else None
    return prompts.serve_messages(book, card)


def training_pairs(conn: sqlite3.Connection, name: str) -> list[store.Pair]:
    """The method's synthetic pairs plus the reader's real feedback pairs."""
    chosen = method(name)
    if chosen.trains is None:
        raise UserError(f"the {name} method does not train")
    synthetic = store.pairs(conn, method=name)
    feedback = store.pairs(conn, source="feedback")
    if chosen.trains == "sft":
        return synthetic + feedback
    return [p for p in synthetic if p.rejected is not None] + feedback
