"""Ranking unread books for one reader, with a short reason per book naming the facets used.

score(book) = interests + profile facets + reading history + culture + to-read shelf, each a sum
of small named contributions (docs/recommendations.md). Books with content the reader avoids are
left out; books already read, liked, disliked or being read are not recommended.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field

from gravity_desktop.catalog.book import Book
from gravity_desktop.profile.culture import country_names, language_names
from gravity_desktop.profile.profile import Profile
from gravity_desktop.recommend import affinities as aff
from gravity_desktop.recommend.embeddings import cosine, load_vectors
from gravity_desktop.store import books as store

DONE = {"liked", "disliked", "read", "reading"}
INTEREST_WEIGHTS = {"genres": 1.5, "themes": 0.8, "moods": 0.5}
HISTORY_LIKED, HISTORY_DISLIKED = 1.5, 1.0
SAME_AUTHOR = 0.5
SAME_COUNTRY, READER_LANGUAGE, TO_READ = 0.3, 0.2, 0.5
MAX_REASONS = 3


@dataclass(frozen=True)
class Contribution:
    value: float
    facet: str  # e.g. "interest:genres", "ocean:O", "schwartz:universalism", "history"
    reason: str


@dataclass
class Recommendation:
    book: Book
    score: float
    contributions: list[Contribution] = field(default_factory=list)

    @property
    def reasons(self) -> list[str]:
        return [c.reason for c in self._top()]

    @property
    def facets(self) -> list[str]:
        return [c.facet for c in self._top()]

    def _top(self) -> list[Contribution]:
        positive = sorted((c for c in self.contributions if c.value > 0), key=lambda c: -c.value)
        return positive[:MAX_REASONS]

    def as_json(self) -> dict[str, object]:
        return {
            "book_id": self.book.id,
            "title": self.book.title,
            "author": self.book.author,
            "score": round(self.score, 3),
            "reasons": self.reasons,
            "facets": self.facets,
        }


def attributes(book: Book) -> set[str]:
    return (
        {f"genre:{g}" for g in book.genres}
        | {f"theme:{t}" for t in book.themes}
        | {f"mood:{m}" for m in book.moods}
    )


def recommend(
    conn: sqlite3.Connection, profile: Profile | None, n: int = 10
) -> list[Recommendation]:
    library = store.all_books(conn)
    history = store.reading_history(conn)
    interests = profile.interests if profile else {}
    avoid = set(interests.get("avoid", []))
    by_id = {b.id: b for b in library}
    favourites = [by_id[i] for i in interests.get("favourite_books", []) if i in by_id]
    liked = [by_id[i] for i, r in history.items() if r.status == "liked" and i in by_id]
    liked += [b for b in favourites if b not in liked]
    disliked = [by_id[i] for i, r in history.items() if r.status == "disliked" and i in by_id]
    vectors = load_vectors(conn)
    facet_strengths = _facet_strengths(profile) if profile else []

    ranked = []
    for book in library:
        reading = history.get(book.id)
        if (reading and reading.status in DONE) or book in favourites:
            continue
        if avoid & set(book.content_notes):
            continue
        parts: list[Contribution] = []
        parts += _interest_parts(book, interests)
        parts += _facet_parts(book, facet_strengths)
        parts += _history_parts(book, liked, disliked, vectors)
        parts += _culture_parts(book, profile)
        if reading and reading.status == "to-read":
            parts.append(Contribution(TO_READ, "history:to-read", "on your to-read shelf"))
        ranked.append(Recommendation(book, sum(c.value for c in parts), parts))
    ranked.sort(key=lambda r: (-r.score, r.book.title, r.book.id))
    return ranked[:n]


def _interest_parts(book: Book, interests: dict) -> list[Contribution]:
    parts = []
    for field_name, weight in INTEREST_WEIGHTS.items():
        chosen = set(interests.get(field_name, []))
        own = {"genres": book.genres, "themes": book.themes, "moods": book.moods}[field_name]
        shared = [x for x in own if x in chosen]
        if shared:
            label = {
                "genres": "you enjoy",
                "themes": "themes you like:",
                "moods": "the mood you look for:",
            }[field_name]
            parts.append(
                Contribution(
                    weight * min(len(shared), 2),
                    f"interest:{field_name}",
                    f"{label} {', '.join(shared)}",
                )
            )
    return parts


@dataclass(frozen=True)
class _Facet:
    key: str  # "ocean:O"
    strength: float  # -1 .. 1, sign = pole
    weight: float
    affinity: aff.Affinity
    label: str


def _clamp(value: float) -> float:
    return max(-1.0, min(1.0, value))


def _facet_strengths(profile: Profile) -> list[_Facet]:
    facets = []
    for trait, affinity in aff.OCEAN.items():
        score = profile.ocean.get(trait)
        if score is not None:
            strength = _clamp((score - 50) / 50)
            pole = affinity.high_phrase if strength > 0 else affinity.low_phrase
            facets.append(
                _Facet(f"ocean:{trait}", strength, aff.FRAMEWORK_WEIGHTS["ocean"], affinity, pole)
            )
    for value, affinity in aff.SCHWARTZ.items():
        centered = profile.schwartz.get(value)
        if centered is not None:
            label = "your value of " + value.replace("_", "-")
            facets.append(
                _Facet(
                    f"schwartz:{value}",
                    _clamp(centered / 2),
                    aff.FRAMEWORK_WEIGHTS["schwartz"],
                    affinity,
                    label,
                )
            )
    for dim, affinity in aff.HOFSTEDE.items():
        blended = profile.hofstede[dim]["blended"]
        if blended is not None:
            strength = _clamp((blended - 50) / 50)
            label = affinity.high_phrase if strength > 0 else affinity.low_phrase
            facets.append(
                _Facet(
                    f"hofstede:{dim}",
                    strength,
                    aff.FRAMEWORK_WEIGHTS["hofstede"],
                    affinity,
                    f"{label} ({dim} {blended:.0f})",
                )
            )
    for axis, affinity in aff.WVS.items():
        entry = profile.wvs[axis]
        position = entry["person"] if entry["person"] is not None else entry["country"]
        if position is not None:
            strength = _clamp(position / 2)
            label = affinity.high_phrase if strength > 0 else affinity.low_phrase
            facets.append(
                _Facet(f"wvs:{axis}", strength, aff.FRAMEWORK_WEIGHTS["wvs"], affinity, label)
            )
    return facets


def _facet_parts(book: Book, facets: list[_Facet]) -> list[Contribution]:
    own = attributes(book)
    parts = []
    for facet in facets:
        toward = facet.affinity.high if facet.strength > 0 else facet.affinity.low
        away = facet.affinity.low if facet.strength > 0 else facet.affinity.high
        hits = [a for a in toward if a in own]
        misses = [a for a in away if a in own]
        net = min(len(hits), 2) - min(len(misses), 2)
        if net == 0:
            continue
        value = facet.weight * abs(facet.strength) * net
        shown = ", ".join(a.split(":", 1)[1] for a in (hits if net > 0 else misses)[:3])
        verb = "suits" if net > 0 else "may not suit"
        parts.append(Contribution(value, facet.key, f"{verb} {facet.label} ({shown})"))
    return parts


def _similarity(a: Book, b: Book, vectors: dict[str, list[float]]) -> float:
    own, other = attributes(a), attributes(b)
    jaccard = len(own & other) / len(own | other) if own | other else 0.0
    if a.id in vectors and b.id in vectors:
        return 0.5 * jaccard + 0.5 * max(0.0, cosine(vectors[a.id], vectors[b.id]))
    return jaccard


def _history_parts(
    book: Book, liked: list[Book], disliked: list[Book], vectors: dict[str, list[float]]
) -> list[Contribution]:
    parts = []
    if liked:
        best = max(liked, key=lambda other: (_similarity(book, other, vectors), other.title))
        similarity = _similarity(book, best, vectors)
        if best.author == book.author:
            parts.append(
                Contribution(
                    SAME_AUTHOR, "history:author", f"by {book.author}, whose {best.title} you liked"
                )
            )
        if similarity > 0.15:
            parts.append(
                Contribution(
                    HISTORY_LIKED * similarity,
                    "history:liked",
                    f"close to {best.title}, which you liked",
                )
            )
    if disliked:
        worst = max(disliked, key=lambda other: (_similarity(book, other, vectors), other.title))
        similarity = _similarity(book, worst, vectors)
        if similarity > 0.15:
            parts.append(
                Contribution(
                    -HISTORY_DISLIKED * similarity,
                    "history:disliked",
                    f"close to {worst.title}, which you disliked",
                )
            )
    return parts


def _culture_parts(book: Book, profile: Profile | None) -> list[Contribution]:
    if profile is None:
        return []
    parts = []
    if book.country and book.country == profile.country.code:
        country = country_names().get(book.country, book.country)
        parts.append(
            Contribution(SAME_COUNTRY, "culture:country", f"by an author from {country}, like you")
        )
    languages = profile.answers.about.get("languages", [])
    if book.language and book.language in languages and book.language != "en":
        name = language_names().get(book.language, book.language)
        parts.append(
            Contribution(
                READER_LANGUAGE, "culture:language", f"first written in {name}, which you read"
            )
        )
    return parts
