"""Scenarios: for one reader and one book, what a description should do and what would put them off.

Each scenario is grounded in one or two facets of the profile (an interest, an OCEAN pole, a
Schwartz value, a Hofstede or WVS orientation, the reader's country and language). Candidate facets
are weighted by how clearly the reader stands at that pole and how much the book gives the facet
to work with; the choice is deterministic for a given seed.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from gravity_desktop.catalog.book import Book
from gravity_desktop.gravity import facets as fx
from gravity_desktop.profile.culture import language_names
from gravity_desktop.profile.profile import Profile
from gravity_desktop.recommend import affinities as aff
from gravity_desktop.recommend.ranking import attributes

# Where a value sits opposite on Schwartz's circle: the rejected text leans that way.
OPPOSITE_VALUE = {
    "self_direction": "conformity",
    "stimulation": "security",
    "hedonism": "conformity",
    "achievement": "benevolence",
    "power": "universalism",
    "security": "stimulation",
    "conformity": "self_direction",
    "tradition": "hedonism",
    "benevolence": "power",
    "universalism": "power",
}
PAIRING_CHANCE = 0.3  # how often a scenario combines two facets of different frameworks


@dataclass(frozen=True)
class Scenario:
    book_id: str
    facets: tuple[str, ...]
    bring_forward: str
    put_off: str
    opposite: str
    reason: str
    cues: tuple[str, ...]
    opposite_cues: tuple[str, ...]


@dataclass(frozen=True)
class _Candidate:
    facet: str
    framing: fx.Framing
    opposite: fx.Framing
    weight: float
    reason: str

    @property
    def framework(self) -> str:
        return self.facet.split(":")[0]


def _relevance(book: Book, toward: tuple[str, ...]) -> tuple[float, list[str]]:
    hits = [a.split(":", 1)[1] for a in toward if a in attributes(book)]
    return min(len(hits), 2) * 0.5, hits


PLAIN = fx.Framing("a plain, neutral plot summary", "", ())


def candidates(profile: Profile, book: Book) -> list[_Candidate]:
    found: list[_Candidate] = []
    interests = profile.interests
    for kind, field, strength in (
        ("genre", "genres", 1.0),
        ("theme", "themes", 0.8),
        ("mood", "moods", 0.6),
    ):
        own = {"genre": book.genres, "theme": book.themes, "mood": book.moods}[kind]
        for value in own:
            if value in interests.get(field, []):
                found.append(
                    _Candidate(
                        f"interest:{kind}:{value}",
                        fx.interest_framing(kind, value),
                        PLAIN,
                        strength * 1.5,
                        f"you chose {value} among the {field} you enjoy",
                    )
                )
    for trait, (high, low) in fx.OCEAN.items():
        score = profile.ocean.get(trait)
        if score is None or abs(score - 50) < 15:
            continue
        up = score > 50
        toward = aff.OCEAN[trait].high if up else aff.OCEAN[trait].low
        relevance, hits = _relevance(book, toward)
        reason = f"{'high' if up else 'low'} {trait} ({score:.0f})"
        if hits:
            reason += f"; the book offers {', '.join(hits)}"
        found.append(
            _Candidate(
                f"ocean:{trait}{'+' if up else '-'}",
                high if up else low,
                low if up else high,
                abs(score - 50) / 50 * (1 + relevance),
                reason,
            )
        )
    for value, centered in profile.schwartz.items():
        if centered is None or centered < 0.5:
            continue
        relevance, hits = _relevance(book, aff.SCHWARTZ[value].high)
        reason = f"{value.replace('_', '-')} matters to you ({centered:+.2f})"
        if hits:
            reason += f"; the book offers {', '.join(hits)}"
        found.append(
            _Candidate(
                f"schwartz:{value}",
                fx.SCHWARTZ[value],
                fx.SCHWARTZ[OPPOSITE_VALUE[value]],
                min(centered / 2, 1.0) * (1 + relevance),
                reason,
            )
        )
    for dim, (high, low) in fx.HOFSTEDE.items():
        blended = profile.hofstede[dim]["blended"]
        if blended is None or abs(blended - 50) < 10:
            continue
        up = blended > 50
        toward = aff.HOFSTEDE[dim].high if up else aff.HOFSTEDE[dim].low
        relevance, hits = _relevance(book, toward)
        reason = f"{dim} {blended:.0f} ({'high' if up else 'low'})"
        found.append(
            _Candidate(
                f"hofstede:{dim}{'+' if up else '-'}",
                high if up else low,
                low if up else high,
                0.6 * abs(blended - 50) / 50 * (1 + relevance),
                reason,
            )
        )
    for axis, (high, low) in fx.WVS.items():
        entry = profile.wvs[axis]
        position = entry["person"] if entry["person"] is not None else entry["country"]
        if position is None or abs(position) < 0.5:
            continue
        up = position > 0
        toward = aff.WVS[axis].high if up else aff.WVS[axis].low
        relevance, _ = _relevance(book, toward)
        found.append(
            _Candidate(
                f"wvs:{axis}{'+' if up else '-'}",
                high if up else low,
                low if up else high,
                0.6 * min(abs(position) / 2, 1.0) * (1 + relevance),
                f"{axis.replace('_', ' ')} {position:+.1f}",
            )
        )
    languages = profile.answers.about.get("languages", [])
    if book.country == profile.country.code or (
        book.language in languages and book.language != "en"
    ):
        language = language_names().get(book.language or "") if book.language in languages else None
        found.append(
            _Candidate(
                f"culture:{profile.country.code}",
                fx.culture_framing(profile.country.name, language),
                PLAIN,
                0.8,
                f"a book from {profile.country.name}"
                if book.country == profile.country.code
                else f"first written in {language}",
            )
        )
    return found


def derive_scenarios(profile: Profile, book: Book, count: int, seed: int) -> list[Scenario]:
    """Up to `count` scenarios for this reader and book; the same seed gives the same ones."""
    rng = random.Random(f"{seed}:{profile.country.code}:{book.id}")
    pool = sorted(candidates(profile, book), key=lambda c: (-c.weight, c.facet))
    chosen: list[Scenario] = []
    while pool and len(chosen) < count:
        first = _draw(rng, pool)
        parts = [first]
        partners = [c for c in pool if c.framework != first.framework]
        if partners and rng.random() < PAIRING_CHANCE:
            parts.append(_draw(rng, partners))
        chosen.append(_combine(book, parts))
    return chosen


def _draw(rng: random.Random, pool: list[_Candidate]) -> _Candidate:
    total = sum(c.weight for c in pool)
    pick = rng.random() * total
    for candidate in pool:
        pick -= candidate.weight
        if pick <= 0:
            pool.remove(candidate)
            return candidate
    return pool.pop()


def _combine(book: Book, parts: list[_Candidate]) -> Scenario:
    return Scenario(
        book_id=book.id,
        facets=tuple(p.facet for p in parts),
        bring_forward=" and ".join(p.framing.bring_forward for p in parts),
        put_off=" or ".join(p.framing.put_off for p in parts if p.framing.put_off),
        opposite=" and ".join(p.opposite.bring_forward for p in parts),
        reason="; ".join(p.reason for p in parts),
        cues=tuple(dict.fromkeys(c for p in parts for c in p.framing.cues)),
        opposite_cues=tuple(dict.fromkeys(c for p in parts for c in p.opposite.cues)),
    )
