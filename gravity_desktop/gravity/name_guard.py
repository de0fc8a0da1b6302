"""Keep a small teacher from writing names that a book's facts do not contain.

The 135M teacher invents characters and places readily ("a character named Zephon" in Dune), and
the names filter then throws the text away: it was the most common reason a pair was lost. While
a text is written, this rules out every token that would begin or continue a capitalised word
which can then no longer become a word the names filter accepts (a word of the book's facts, an
ordinary word, a common capitalised one), and a word may only end where the filter accepts it.
Letters keep their accents: a word with accents must be one of the facts or an ordinary accented
word, as the filter requires ("Páramo" may be written, "Châraçtér" may not).
The filter still checks every text afterwards; the guard only stops the teacher from spending its
tokens on texts that would fail.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache

import numpy as np

from gravity_desktop.catalog.book import Book, fold
from gravity_desktop.gravity.filters import (
    COMMON_CAPITALISED,
    ROMAN,
    accented_lowercase_words,
    lowercase_words,
)
from gravity_desktop.llm.engine import Engine

STEM = 5  # the names filter accepts a word that shares its first 5 letters with a known one
LOOK_BACK = 12  # tokens; a longer word is not followed


def _prefixes(words: frozenset[str]) -> frozenset[str]:
    return frozenset(word[:end] for word in words for end in range(1, len(word) + 1))


@cache
def _ordinary() -> frozenset[str]:
    return _prefixes(lowercase_words() | accented_lowercase_words() | frozenset(COMMON_CAPITALISED))


class _Candidates:
    """Tokens that may go on a word, indexed by their letters (one list per model and use).

    `NameGuard._ways_on` asks, for each word it meets, which of them keep it on the way to an
    accepted word. Going through all of them (about 30000 continuations) took about 12 ms a word,
    for every book again; the ordinary words' answer is the same for every book, so it is kept
    here, and a book's own words and stems are looked up by their letters instead.
    """

    def __init__(self, candidates: list[tuple[int, str]]) -> None:
        self.candidates = candidates
        self.by_letters: dict[str, list[int]] = {}
        self.by_start: dict[str, list[int]] = {}  # ASCII letters, by their first 1..STEM
        self.ascii: list[int] = []
        self.single: list[int] = []  # one ASCII letter
        self.roman: list[tuple[int, str]] = []  # letters that are all Roman numerals
        for token, letters in candidates:
            self.by_letters.setdefault(letters, []).append(token)
            if not letters.isascii():
                continue
            self.ascii.append(token)
            if len(letters) == 1:
                self.single.append(token)
            for end in range(1, min(len(letters), STEM) + 1):
                self.by_start.setdefault(letters[:end], []).append(token)
            if ROMAN.fullmatch(letters):
                self.roman.append((token, letters))
        self._ordinary: dict[str, list[int]] = {}

    def ordinary(self, word: str) -> list[int]:
        """The tokens after which `word` is still the start of an ordinary word."""
        if word not in self._ordinary:
            ordinary = _ordinary()
            self._ordinary[word] = [
                t for t, letters in self.candidates if word + letters in ordinary
            ]
        return self._ordinary[word]


class _Vocabulary:
    """What each token of a model can do to a word (computed once per model).

    `letters[t]` is the token's text in lower case when it is letters only ("eph", "Zeph",
    " Zeph" all give "zeph"; "Pá" gives "pá"), else None; a letter outside the Latin alphabets
    counts as no letter a name of the book could have.
    """

    def __init__(self, pieces: list[str]) -> None:
        self.pieces = pieces
        self.letters: list[str | None] = []
        self.begins: list[bool] = []  # " Zeph", "Zeph": may begin a capitalised word
        glued = []  # "oT": ends the word before it with "o" and begins another with "T"
        for token, piece in enumerate(pieces):
            bare = piece[1:] if piece[:1] == " " else piece
            folded = fold(bare)
            plain = bare.isalpha() and folded.isalpha() and len(folded) == len(bare)
            if plain and any(c.isupper() for c in bare[1:]):
                glued.append(token)
                plain = bare[0].isupper()  # "McD" begins a word; "oT" is followed no further
            self.letters.append(bare.lower() if plain else None)
            self.begins.append(plain and bare[0].isupper())
        self.glued = _mask(len(pieces), glued)
        self.capitals = _Candidates(
            [(t, self.letters[t]) for t, begins in enumerate(self.begins) if begins]
        )
        # Lower-case letters that go on the word before them: "eph", "on" (a spaced token starts
        # a word of its own).
        self.continuations = _Candidates(
            [
                (token, letters)
                for token, (piece, letters) in enumerate(zip(pieces, self.letters, strict=True))
                if letters is not None and piece[0] != " " and not self.begins[token]
            ]
        )
        self.continuation_tokens = _mask(len(pieces), [t for t, _ in self.continuations.candidates])


def _mask(size: int, tokens: list[int]) -> np.ndarray:
    mask = np.zeros(size, dtype=bool)
    mask[tokens] = True
    return mask


_VOCABULARIES: dict[str, _Vocabulary] = {}


class NameGuard:
    """For one book: at each step, the tokens that would write a name foreign to the book.

    Passed to the engine as `GenerationSettings.guard`; called with the tokens so far, it
    returns a boolean mask over the vocabulary (kept per word, so each step only looks it up).
    """

    def __init__(self, engine: Engine, book: Book) -> None:
        key = str(engine.model_info.path)
        if key not in _VOCABULARIES:
            _VOCABULARIES[key] = _Vocabulary(engine.token_pieces())
        self._vocabulary = _VOCABULARIES[key]
        facts = f"{book.title} {book.author} {book.synopsis}"
        # As folded (a name may be written without its accents) and as written.
        self._known = frozenset(fold(facts).split()) | {
            w.lower() for w in re.findall(r"[^\W\d_]+", facts)
        }
        self._stems = {word[:STEM] for word in self._known if len(word) >= STEM}
        capitals = self._vocabulary.capitals
        self._starts = _mask(len(self._vocabulary.pieces), [t for t, _ in capitals.candidates])
        self._starts[self._ways_on("", capitals)] = False
        self._within: dict[str, np.ndarray] = {}

    def __call__(self, tokens: Sequence[int]) -> np.ndarray:
        word = self._open_word(tokens)
        if word is None:
            return self._starts
        if word not in self._within:
            vocabulary = self._vocabulary
            way_on = self._ways_on(word, vocabulary.continuations)
            if self._complete(word) or not way_on:
                # It may end here or go on to another accepted word. A word with no way on at all
                # must end here, and the names filter judges it; ruling out every token instead
                # would leave the sampler nothing to choose.
                ruled = self._starts | vocabulary.continuation_tokens
            else:  # "Kil" of a "Kiluonya" that was stopped: only a way on to an accepted word
                ruled = np.ones(len(vocabulary.pieces), dtype=bool)
            ruled[way_on] = False
            # Within a word, a token with a capital inside would glue a new word onto it.
            self._within[word] = ruled | vocabulary.glued
        return self._within[word]

    def _complete(self, word: str) -> bool:
        """Whether the names filter accepts `word` as it stands."""
        if not word.isascii():
            return word in self._known or word in accented_lowercase_words()
        return (
            len(word) <= 1
            or word in lowercase_words()
            or word in COMMON_CAPITALISED
            or word in self._known
            or word[:STEM] in self._stems
            or ROMAN.fullmatch(word) is not None
        )

    def _ways_on(self, word: str, candidates: _Candidates) -> list[int]:
        """The candidate tokens after which `word` can still become a word the filter accepts
        (as it stands or written on): the start of an ordinary word or of a word of the facts;
        or, all in ASCII (an accented word must be one of those), a word that shares its first
        STEM letters with one of the facts, a single letter, or a Roman numeral."""
        ways = set(candidates.ordinary(word))
        for known in self._known:
            if len(known) > len(word) and known.startswith(word):
                for end in range(len(word) + 1, len(known) + 1):
                    ways.update(candidates.by_letters.get(known[len(word) : end], ()))
        if word.isascii():
            if len(word) >= STEM:
                if word[:STEM] in self._stems:
                    ways.update(candidates.ascii)
            else:
                for stem in self._stems:
                    if stem.startswith(word):
                        ways.update(candidates.by_start.get(stem[len(word) :], ()))
            if not word:
                ways.update(candidates.single)
            if not word or ROMAN.fullmatch(word):
                ways.update(t for t, letters in candidates.roman if ROMAN.fullmatch(word + letters))
        return list(ways)

    def _open_word(self, tokens: Sequence[int]) -> str | None:
        """The capitalised word the last tokens are in the middle of (folded), if any."""
        vocabulary = self._vocabulary
        parts: list[str] = []
        for token in reversed(tokens[-LOOK_BACK:]):
            letters = vocabulary.letters[token]
            if letters is None:
                return None
            parts.append(letters)
            if vocabulary.begins[token]:
                return "".join(reversed(parts))
            if vocabulary.pieces[token][0] == " ":  # a lower-case word
                return None
        return None
