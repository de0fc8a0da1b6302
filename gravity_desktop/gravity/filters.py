"""Filters every synthesized pair must pass; each failure names its reason, which is stored.

None of them reads the generation prompt's instructions: the fit check scores both texts with the
facet's cue words (facets.py), and faithfulness is checked against the book's own facts.
"""

from __future__ import annotations

import re
from functools import cache

from gravity_desktop.catalog.book import Book, author_key, fold, title_key
from gravity_desktop.catalog.bundled import bundled_books

MIN_WORDS, MAX_WORDS = 25, 140
MAX_LENGTH_RATIO = 2.0  # the longer text at most twice the shorter
MAX_OVERLAP = 0.8  # word-set overlap above which chosen and rejected count as the same text
COPY_RUN = 12  # this many consecutive words taken from the synopsis is copying, not describing
PROMPT_ECHOES = (
    "bring forward", "brings forward", "dwells on", "do not mention", "name the title",
    "the reader", "this reader", "facts:", "sentence description", "as an ai",
    "i cannot", "here is a", "here's a", "two or three sentences", "focusing on", "rather than",
)  # fmt: skip
# Capitalised words a description may use that need not come from the book's facts.
COMMON_CAPITALISED = {
    "i", "a", "an", "the", "in", "on", "at", "as", "it", "its", "this", "that", "these", "those",
    "he", "she", "they", "we", "you", "his", "her", "their", "our", "when", "while", "with",
    "through", "from", "set", "but", "and", "or", "yet", "if", "what", "who", "how", "why",
    "one", "each", "both", "after", "before", "during", "for", "by", "of", "to", "into",
    "english", "american", "british", "european", "western", "world", "war", "god", "book",
    "novel", "story", "readers", "author", "written", "told", "first", "second",
    "january", "february", "march", "april", "may", "june", "july", "august", "september",
    "october", "november", "december", "monday", "sunday", "christmas", "mr", "mrs", "ms", "dr",
}  # fmt: skip


ROMAN = re.compile(r"[ivxlc]+")
FIT_FAILURE = "the chosen text does not fit the scenario better than the rejected one"


@cache
def lowercase_words() -> frozenset[str]:
    """Words the catalog's synopses use in lower case: ordinary words, not names, when
    capitalised (a "Dream", a "Library")."""
    found: set[str] = set()
    for book in bundled_books():
        found.update(w for w in re.findall(r"[a-zà-ÿ]+", book.synopsis) if len(w) > 2)
    return frozenset(fold(w) for w in found)


def words(text: str) -> list[str]:
    """Words, with a possessive 's dropped (Whitman's -> Whitman)."""
    # Letters of any script (Ngũgĩ is one word, not "Ng" and "g"), with apostrophes inside.
    return [re.sub(r"['\u2019]s$", "", w) for w in re.findall(r"(?:[^\W\d_]|['\u2019])+", text)]


def names_title(folded_text: str, title: str) -> bool:
    """The title is named: its key words, nearly all of them (Under the Sea for Under the Seas)."""
    key = title_key(title).split()
    if not key:
        return False
    present = set(folded_text.split())
    stems = [w[:5] for w in present]
    found = sum(1 for w in key if w in present or any(s.startswith(w[:5]) for s in stems))
    return found / len(key) >= 0.75 and (len(key) > 1 or key[0] in present)


def length_problem(text: str, label: str) -> str | None:
    count = len(words(text))
    if count < MIN_WORDS:
        return f"{label} too short ({count} words, at least {MIN_WORDS})"
    if count > MAX_WORDS:
        return f"{label} too long ({count} words, at most {MAX_WORDS})"
    return None


def echo_problem(text: str, book: Book, label: str) -> str | None:
    lowered = text.lower()
    for phrase in PROMPT_ECHOES:
        if phrase in lowered:
            return f"{label} echoes the prompt ({phrase!r})"
    source = fold(book.synopsis).split()
    target = " ".join(fold(text).split())
    for start in range(0, max(0, len(source) - COPY_RUN + 1)):
        run = " ".join(source[start : start + COPY_RUN])
        if run in target:
            return f"{label} copies the synopsis ({COPY_RUN}+ words in a row)"
    return None


def names_problem(text: str, book: Book, label: str) -> str | None:
    """Title and author present; no capitalised names that the book's facts do not contain, and
    no accented words they do not have."""
    folded = fold(text)
    if not any(names_title(folded, t) for t in book.titles):
        return f"{label} does not name the title"
    if author_key(book.author) not in folded.split():
        return f"{label} does not name the author"
    known = set(fold(f"{book.title} {book.author} {book.synopsis}").split())
    known_stems = {w[:5] for w in known if len(w) >= 5}
    invented = []
    for sentence in re.split(r"(?<=[.!?])\s+", text):
        tokens = words(sentence)
        for token in tokens[1:]:  # the first word of a sentence is capitalised anyway
            # "O'Farrell" folds to two parts ("o farrell"); each part must be accounted for.
            parts = fold(token).split()
            if not token[:1].isupper() or all(_known_part(p, known, known_stems) for p in parts):
                continue
            invented.append(token)
    if invented:
        return f"{label} invents names not in the book's facts: {', '.join(sorted(set(invented)))}"
    garbled = ", ".join(sorted(foreign_accents(text, book)))
    if garbled:
        return f"{label} writes accented words the book's facts do not have: {garbled}"
    return None


@cache
def accented_lowercase_words() -> frozenset[str]:
    """Words with accents that the catalog's synopses use in lower case ("café", "naïve")."""
    return frozenset(
        _plain_quotes(w)
        for book in bundled_books()
        for w in words(book.synopsis)
        if w.islower() and not w.isascii()
    )


def foreign_accents(text: str, book: Book) -> frozenset[str]:
    """Words with letters beyond ASCII that neither the book's facts nor ordinary use have.

    The names check compares words with their accents folded away, and the bundled teacher
    garbles words with accents ("Châraçtér", "Europeân", "lámina"): 12% of the texts of kept
    pairs had such a word before this check. An accent must come from the facts ("Páramo",
    "Buendía", and their plurals); a name written without its accents ("Paramo") is judged by
    the names check as before.
    """
    own = {_plain_quotes(w) for w in words(f"{book.title} {book.author} {book.synopsis}")}
    return frozenset(
        word
        for word in words(text)
        if not (form := _plain_quotes(word)).isascii()
        and form not in own
        and form.removesuffix("s") not in own
        and form not in accented_lowercase_words()
    )


def _plain_quotes(word: str) -> str:
    """Lower case, typographic apostrophes as plain ones, none at the ends ("'náusea'")."""
    return word.lower().replace("\u2019", "'").strip("'")


def _known_part(name: str, known: set[str], known_stems: set[str]) -> bool:
    return (
        name in known
        or name in lowercase_words()
        or (len(name) >= 5 and name[:5] in known_stems)  # America / American
        or name in COMMON_CAPITALISED
        or ROMAN.fullmatch(name) is not None
        or len(name) == 1  # the O of O'Farrell, an initial
    )


def sameness_problem(chosen: str, rejected: str) -> str | None:
    a, b = set(fold(chosen).split()), set(fold(rejected).split())
    overlap = len(a & b) / len(a | b) if a | b else 1.0
    if chosen.strip() == rejected.strip() or overlap > MAX_OVERLAP:
        return f"chosen and rejected are nearly the same (word overlap {overlap:.2f})"
    shorter, longer = sorted((len(words(chosen)), len(words(rejected))))
    if shorter and longer / shorter > MAX_LENGTH_RATIO:
        return f"chosen and rejected differ too much in length ({shorter} vs {longer} words)"
    return None


def reason_kind(reason: str) -> str:
    """The reason without its particulars: "chosen invents names", "rejected too short"."""
    return reason.split(":")[0].split(" (")[0]


def cue_score(text: str, cues: tuple[str, ...]) -> int:
    """How many of the cue stems the text uses (each stem counted once). A stem starts a word;
    one of three letters or fewer is the whole word ("win" is not "window", "wit" not "with")."""
    folded = " " + fold(text) + " "
    return sum(
        1 for cue in cues if (f" {fold(cue)} " if len(cue) <= 3 else f" {fold(cue)}") in folded
    )


def fit_score(text: str, cues: tuple[str, ...], opposite: tuple[str, ...]) -> int:
    """Positive when the text leans to the facet's pole, negative when to the opposite one."""
    return cue_score(text, cues) - cue_score(text, opposite)


def fit_margin(chosen: str, rejected: str, cues: tuple[str, ...], opposite: tuple[str, ...]) -> int:
    """Positive when the chosen text serves the facet better than the rejected one does."""
    return fit_score(chosen, cues, opposite) - fit_score(rejected, cues, opposite)


def specificity(text: str, book: Book) -> int:
    """Distinct content words of the book's facts that the text uses (for generic pairs)."""
    facts = {w for w in fold(book.synopsis).split() if len(w) > 4}
    return len(facts & set(fold(text).split()))


def single_text_problem(text: str, book: Book, label: str) -> str | None:
    return (
        length_problem(text, label)
        or echo_problem(text, book, label)
        or names_problem(text, book, label)
    )


def pair_problem(
    book: Book, chosen: str, rejected: str, cues: tuple[str, ...], opposite: tuple[str, ...]
) -> tuple[str | None, int]:
    """(the first reason to reject this pair, or None; the margin of the independent check).

    With cues (GRAVITY scenarios) the check is the facet fit; without (generic pairs) it is
    specificity: the better text uses more of the book's own facts.
    """
    if cues:
        margin, failure = fit_margin(chosen, rejected, cues, opposite), FIT_FAILURE
    else:
        margin = specificity(chosen, book) - specificity(rejected, book)
        failure = "the chosen text does not say more about the book than the rejected one"
    problem = (
        single_text_problem(chosen, book, "chosen")
        or single_text_problem(rejected, book, "rejected")
        or sameness_problem(chosen, rejected)
    )
    if problem is None and margin <= 0:
        problem = f"{failure} (margin {margin})"
    return problem, margin
