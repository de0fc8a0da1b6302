"""The name guard: which tokens it rules out while a teacher writes about one book."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np

from gravity_desktop.catalog.book import Book
from gravity_desktop.gravity.filters import names_problem
from gravity_desktop.gravity.name_guard import NameGuard
from gravity_desktop.gravity.text import clean_text
from gravity_desktop.llm.engine import Engine, GenerationSettings

PIECES = [
    " The", " story", " of", " Nora", " Hel", "mer", " Zeph", "on", " Tor", "val", "d", "a",
    ".", ",", " \u201c", "Zeph", " Kil", "lers", "uonya", "Xyq", " II", " Ibsen", "oT",
    " P\u00e1", "ramo", " Ch", "\u00e2", "racter",
]  # fmt: skip
ID = {piece: token for token, piece in enumerate(PIECES)}

BOOK = Book(
    id="dolls-house", title="A Doll's House", author="Henrik Ibsen", year=1879,
    synopsis="Nora Helmer seems content in her marriage to Torvald until a secret loan returns.",
)  # fmt: skip


class Vocabulary:
    model_info = SimpleNamespace(path=Path("test-vocabulary.gguf"))

    def token_pieces(self) -> list[str]:
        return PIECES


def ruled_out(guard: NameGuard, *pieces: str) -> set[str]:
    return {PIECES[token] for token in np.flatnonzero(guard([ID[piece] for piece in pieces]))}


def test_a_name_from_elsewhere_cannot_begin_but_the_book_s_own_can() -> None:
    guard = NameGuard(Vocabulary(), BOOK)
    out = ruled_out(guard, " The", " story")
    assert {" Zeph", "Zeph"} <= out  # also after a quote
    # "Kil" may yet become "Killing"; what follows it is watched
    assert not {" Nora", " Hel", " Tor", " The", " II", " Ibsen", " of", " Kil"} & out


def test_a_known_name_may_only_go_on_to_a_known_word() -> None:
    guard = NameGuard(Vocabulary(), BOOK)
    after_tor = ruled_out(guard, " of", " Tor")
    assert "val" not in after_tor and "a" in after_tor  # Torvald, never Tora
    assert "Xyq" in ruled_out(guard, " Tor", "val", "d")  # a capital inside makes a new word


def test_a_stopped_word_must_go_on_to_an_accepted_one_before_it_ends() -> None:
    book = Book(id="b", title="Killers", author="Ann Lee", year=None, synopsis="Killers met.")
    guard = NameGuard(Vocabulary(), book)
    inside = ruled_out(guard, " The", " Kil")  # "kil" alone is no word the filter accepts
    assert "lers" not in inside
    assert {".", ",", " story", "uonya"} <= inside


def test_a_word_with_no_way_on_ends_where_it_is() -> None:
    # "Xyq" may begin (the facts have "Xyqz"), but no token here writes the "z"
    book = Book(id="b", title="Xyqz", author="Ann Lee", year=None, synopsis="Xyqz met Nora.")
    guard = NameGuard(Vocabulary(), book)
    stuck = ruled_out(guard, " The", "Xyq")
    assert not {".", ",", " story"} & stuck  # the names filter judges the word afterwards
    assert {"mer", "val", "oT"} <= stuck


def test_a_capital_inside_a_token_is_kept_out_of_words() -> None:
    guard = NameGuard(Vocabulary(), BOOK)
    assert "oT" in ruled_out(guard, " Tor", "val", "d")  # it would glue a new word on
    # Where it came anyway (outside a word, or from the prompt), no word is followed past it:
    # "Torvaldo" + "T..." once left the guard with no token at all to allow.
    assert ruled_out(guard, " Tor", "val", "d", "oT") == ruled_out(guard, " The", " story")


def test_an_accent_must_come_from_the_facts() -> None:
    book = Book(id="p", title="Pedro Páramo", author="Juan Rulfo", year=1955,
                synopsis="Juan goes to Comala to find his father, Pedro Páramo.")  # fmt: skip
    guard = NameGuard(Vocabulary(), book)
    assert "ramo" not in ruled_out(guard, " The", " P\u00e1")  # Páramo, as the facts have it
    after_ch = ruled_out(guard, " The", " Ch")
    assert "\u00e2" in after_ch  # "Châ..." begins no word of the facts or ordinary use
    assert "racter" not in ruled_out(guard, " Ch", "a")  # Character, without accents


def test_the_filter_accepts_what_the_guard_lets_through() -> None:
    assert (
        names_problem("A Doll's House by Henrik Ibsen: Nora Helmer and Torvald.", BOOK, "x") is None
    )
    assert "Zephon" in names_problem("A Doll's House by Henrik Ibsen: Zephon.", BOOK, "x")


def test_the_bundled_teacher_writes_no_foreign_name_where_it_otherwise_would(
    engine: Engine,
) -> None:
    messages = [
        {"role": "system", "content": f"Book: {BOOK.title} by {BOOK.author}. {BOOK.synopsis}"},
        {"role": "user", "content": "Describe the people in this book and their friends."},
    ]
    guard = NameGuard(engine, BOOK)
    for seed in range(3):
        settings = GenerationSettings(
            max_tokens=60, seed=seed, assistant_prefix="A Doll's House by Henrik Ibsen",
            guard=guard,
        )  # fmt: skip
        reply = engine.chat(messages, settings)
        # As synthesis stores it: a word cut off by max_tokens ("Ibs") is no name written.
        text = clean_text(reply.text, reply.finish_reason)
        problem = names_problem(text, BOOK, "text") or ""
        assert "invents names" not in problem, text
