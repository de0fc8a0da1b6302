"""The reader's thumbs, turned into real preference pairs (source `feedback`).

- thumbs down with the reader's own rewrite: rewrite (chosen) over the description (rejected);
- thumbs down, then thumbs up on another version of the same book (a regenerated alternative):
  the liked version over the disliked one;
- thumbs up, then thumbs down on another version of the same book: likewise.
The pair's prompt is the neutral serving prompt for the book, as for synthetic pairs. Synthesis
never deletes these pairs.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from gravity_desktop.errors import UserError
from gravity_desktop.gravity import prompts
from gravity_desktop.store import books as book_store
from gravity_desktop.store import pairs as store
from gravity_desktop.store import transaction

MAX_REWRITE = 2000


@dataclass(frozen=True)
class FeedbackResult:
    feedback_id: int
    pair_ids: tuple[int, ...]

    @property
    def message(self) -> str:
        if not self.pair_ids:
            return "feedback recorded"
        return f"feedback recorded; {len(self.pair_ids)} new preference pair(s) from it"


def give_feedback(
    conn: sqlite3.Connection,
    book_id: str,
    verdict: str,
    rewrite: str | None = None,
    description_id: int | None = None,
) -> FeedbackResult:
    if verdict not in ("up", "down"):
        raise UserError(f"verdict must be 'up' or 'down', not {verdict!r}")
    book = book_store.get_book(conn, book_id)
    if book is None:
        raise UserError(f"no book with id {book_id!r}")
    if description_id is None:
        latest = store.latest_description(conn, book_id)
    else:
        latest = store.get_description(conn, description_id)
        if latest is not None and latest.book_id != book_id:
            raise UserError(f"description {description_id} is not about {book_id}")
    if latest is None:
        raise UserError(f"no description of {book_id} yet: write one first (gravity describe)")
    if rewrite is not None:
        rewrite = " ".join(rewrite.split())
        if verdict != "down":
            raise UserError("a rewrite goes with a thumbs down (--down --text ...)")
        if not rewrite:
            raise UserError("the rewrite is empty")
        if len(rewrite) > MAX_REWRITE:
            raise UserError(f"the rewrite is too long ({len(rewrite)} characters, at most 2000)")
        if rewrite == latest.text.strip():
            raise UserError("the rewrite is the same as the description")
    prompt = prompts.serve_messages(book)
    new_pairs: list[tuple[str, str]] = []
    if rewrite:
        new_pairs.append((rewrite, latest.text))
    earlier = [
        (verdict_, desc_id)
        for _, verdict_, desc_id in store.verdicts_for_book(conn, book_id)
        if desc_id != latest.id
    ]
    for other_verdict, other_id in earlier:
        if other_verdict == verdict:
            continue
        other = store.get_description(conn, other_id)
        if other is None or other.text.strip() == latest.text.strip():
            continue
        liked, disliked = (latest, other) if verdict == "up" else (other, latest)
        new_pairs.append((liked.text, disliked.text))
    with transaction(conn):
        pair_ids = []
        for chosen, rejected in new_pairs:
            if store.pair_exists(conn, prompt, chosen, rejected):
                continue
            pair_ids.append(
                store.add_pair(
                    conn,
                    store.Pair(
                        method="feedback",
                        source="feedback",
                        book_id=book_id,
                        profile_version=latest.profile_version,
                        model_id=latest.model_id,
                        seed=latest.seed,
                        template_version=prompts.SERVE_TEMPLATE,
                        prompt=prompt,
                        chosen=chosen,
                        rejected=rejected,
                    ),
                )
            )
        feedback_id = store.add_feedback(
            conn, latest.id, verdict, rewrite, pair_ids[0] if pair_ids else None
        )
    return FeedbackResult(feedback_id, tuple(pair_ids))
