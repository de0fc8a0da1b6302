"""Simulated readers: questionnaire answers sampled around plausible traits, scored the real way.

A reader is not a hand-made `Profile`: we sample latent targets (Big Five, Schwartz importance
ratings, a person-level Hofstede and WVS position around the country's published baseline), then
answer every questionnaire item near its target with item-level noise, and let
`profile.build_profile` score the answers exactly as it scores a person's. Interests are drawn
from the catalog vocabulary, leaning toward what the reader's clear traits are drawn to
(`recommend/affinities.py`). Every reader has its own random stream
(`seed:country:index`), so reader BR-003 is the same whatever N or the other countries are.
The distributions are documented in docs/evaluation.md.
"""

from __future__ import annotations

import math
import random
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from gravity_desktop.app_context import Context
from gravity_desktop.catalog.library import ensure_bundled
from gravity_desktop.config import Paths, Settings
from gravity_desktop.errors import UserError
from gravity_desktop.profile.answers import Answers, parse_answers
from gravity_desktop.profile.culture import CountryBaseline, baseline
from gravity_desktop.profile.instruments import FACETS, Item, Questionnaire, load_questionnaire
from gravity_desktop.profile.profile import Profile, build_profile
from gravity_desktop.profile.service import current_profile, onboard
from gravity_desktop.recommend import affinities as aff
from gravity_desktop.store import open_store

# Big Five on 0-100: means and spread in line with IPIP norms (most people sit a little above the
# midpoint on A, C and O); cross-country differences in means are small next to individual ones.
OCEAN_MEAN = {"O": 62.0, "C": 58.0, "E": 50.0, "A": 65.0, "N": 45.0}
OCEAN_SD = 16.0
# Schwartz raw importance (1-6) following the pan-cultural hierarchy (Schwartz & Bardi, 2001).
SCHWARTZ_MEAN = {
    "benevolence": 4.9,
    "universalism": 4.7,
    "self_direction": 4.6,
    "security": 4.5,
    "conformity": 4.2,
    "hedonism": 4.0,
    "achievement": 3.9,
    "tradition": 3.6,
    "stimulation": 3.5,
    "power": 3.0,
}
# The values in their order around Schwartz's circle (the questionnaire keeps them in that order):
# neighbours are compatible, opposites conflict.
CIRCLE = FACETS["schwartz"]
SCHWARTZ_NOISE = 0.35  # value-specific individual deviation
SCALE_USE_SD = 0.4  # a person's general tendency to rate high or low (removed by MRAT centering)
TRADITION_SHIFT = 0.25  # per WVS unit toward "traditional", tradition and conformity matter more
HOFSTEDE_SPREAD = 18.0  # individual spread around the country's index (0-100)
WVS_SPREAD = 0.7  # individual spread around the country's map position (-2..+2)
ITEM_NOISE = 0.6  # item answers scatter around the facet's target on the item scale
# Languages a reader of the country reads in: always, and sometimes (with that probability).
LANGUAGES = {
    "US": (("en",), (("es", 0.1),)),
    "BR": (("pt",), (("en", 0.5),)),
    "JP": (("ja",), (("en", 0.35),)),
    "IN": (("en",), (("hi", 0.6),)),
}
AVOID_CHANCE = 0.12  # each content note; more for readers high in neuroticism
TRAIT_PULL = 1.5  # extra weight of an interest each clear trait of the reader is drawn to


@dataclass(frozen=True)
class SimulatedReader:
    id: str  # "BR-003"
    country: str
    answers: Answers
    targets: dict[str, dict[str, float]]  # the latent traits the answers were sampled around

    def profile(self) -> Profile:
        return build_profile(self.answers)


def reader_ids(users: int, countries: list[str]) -> list[tuple[str, int]]:
    """(country, index) for N readers spread evenly over the countries, first countries first."""
    if users < len(countries):
        raise UserError(f"--users {users} is fewer than the {len(countries)} countries asked for")
    base, extra = divmod(users, len(countries))
    return [
        (country, index)
        for position, country in enumerate(countries)
        for index in range(base + (1 if position < extra else 0))
    ]


def check_countries(codes: list[str]) -> list[str]:
    """Country codes with a full cultural baseline (Hofstede and WVS), upper-cased, in order."""
    checked: list[str] = []
    for code in codes:
        found = baseline(code)
        if found.hofstede is None or found.wvs is None:
            raise UserError(
                f"country {found.code}: the culture tables (resources/culture) have no full"
                " baseline for it, so simulated readers cannot be centred on one"
            )
        if found.code not in checked:
            checked.append(found.code)
    if not checked:
        raise UserError("no countries given (for example --countries US,BR,JP,IN)")
    return checked


def sample_readers(users: int, countries: list[str], seed: int) -> list[SimulatedReader]:
    questionnaire = load_questionnaire()
    return [
        sample_reader(country, index, seed, questionnaire)
        for country, index in reader_ids(users, check_countries(countries))
    ]


def sample_reader(
    country: str, index: int, seed: int, questionnaire: Questionnaire | None = None
) -> SimulatedReader:
    q = questionnaire or load_questionnaire()
    rng = random.Random(f"reader:{seed}:{country}:{index}")
    culture = baseline(country)
    targets = _targets(rng, culture)
    answers = _item_answers(rng, q, targets)
    raw = {
        "country": culture.code,
        "answers": answers,
        "about": _about(rng, culture.code, q),
        "interests": _interests(rng, targets, q),
    }
    return SimulatedReader(f"{culture.code}-{index:03d}", culture.code, parse_answers(raw), targets)


def _clip(value: float, low: float, high: float) -> float:
    return max(low, min(high, value))


def _targets(rng: random.Random, culture: CountryBaseline) -> dict[str, dict[str, float]]:
    assert culture.hofstede is not None and culture.wvs is not None
    ocean = {t: _clip(rng.gauss(m, OCEAN_SD), 0, 100) for t, m in OCEAN_MEAN.items()}
    direction = rng.uniform(0, 2 * math.pi)
    amplitude = abs(rng.gauss(0.6, 0.3))
    scale_use = rng.gauss(0, SCALE_USE_SD)
    schwartz = {}
    for position, value in enumerate(CIRCLE):
        angle = 2 * math.pi * position / len(CIRCLE)
        raw = SCHWARTZ_MEAN[value] + amplitude * math.cos(angle - direction) + scale_use
        if value in ("tradition", "conformity"):
            raw -= TRADITION_SHIFT * culture.wvs["traditional_secular"]
        schwartz[value] = _clip(raw + rng.gauss(0, SCHWARTZ_NOISE), 1, 6)
    hofstede = {
        d: _clip(rng.gauss(culture.hofstede[d], HOFSTEDE_SPREAD), 0, 100)
        for d in FACETS["hofstede"]
    }
    wvs = {a: _clip(rng.gauss(culture.wvs[a], WVS_SPREAD), -2, 2) for a in FACETS["wvs"]}
    return {"big_five": ocean, "schwartz": schwartz, "hofstede": hofstede, "wvs": wvs}


def _target_on_item_scale(instrument: str, target: float, item: Item) -> float:
    """Where the keyed answers must average to score `target` (inverse of the scoring map)."""
    low, high = item.scale.min, item.scale.max
    if instrument == "schwartz":
        return target  # raw importance is already on the item scale
    span = (-2.0, 2.0) if instrument == "wvs" else (0.0, 100.0)
    share = (target - span[0]) / (span[1] - span[0])
    return low + share * (high - low)


def _item_answers(
    rng: random.Random, q: Questionnaire, targets: dict[str, dict[str, float]]
) -> dict[str, int]:
    answers = {}
    for name, by_facet in targets.items():
        for item in q.instruments[name].items:
            center = _target_on_item_scale(name, by_facet[item.facet], item)
            keyed = round(_clip(rng.gauss(center, ITEM_NOISE), item.scale.min, item.scale.max))
            answers[item.id] = keyed if item.keyed == 1 else item.scale.reverse(keyed)
    return answers


def _about(rng: random.Random, country: str, q: Questionnaire) -> dict[str, object]:
    always, sometimes = LANGUAGES.get(country, (("en",), ()))
    languages = list(always) + [code for code, chance in sometimes if rng.random() < chance]
    age = q.field("about", "age_band")
    frequency = q.field("about", "reading_frequency")
    assert age is not None and frequency is not None
    return {
        "age_band": rng.choice(age.options[1:]),  # adults
        "languages": languages,
        "reading_frequency": rng.choice(frequency.options[:4]),  # readers, by construction
    }


def _drawn_to(targets: dict[str, dict[str, float]]) -> list[str]:
    """Catalog attributes ("genre:fantasy") that the reader's clear traits lean toward."""
    attributes: list[str] = []
    for trait, score in targets["big_five"].items():
        if abs(score - 50) >= 15:
            affinity = aff.OCEAN[trait]
            attributes += affinity.high if score > 50 else affinity.low
    ratings = targets["schwartz"]
    mean = sum(ratings.values()) / len(ratings)
    for value, rating in ratings.items():
        if rating - mean >= 0.5:
            attributes += aff.SCHWARTZ[value].high
    return attributes


def _weighted_pick(
    rng: random.Random, options: tuple[str, ...], kind: str, pull: list[str], count: int
) -> list[str]:
    weights = {o: 1.0 + TRAIT_PULL * pull.count(f"{kind}:{o}") for o in options}
    picked: list[str] = []
    while weights and len(picked) < count:
        total = sum(weights.values())
        point = rng.random() * total
        chosen = next(reversed(weights))  # if rounding leaves `point` a hair above zero
        for option, weight in weights.items():
            point -= weight
            if point <= 0:
                chosen = option
                break
        picked.append(chosen)
        del weights[chosen]
    return picked


def _interests(
    rng: random.Random, targets: dict[str, dict[str, float]], q: Questionnaire
) -> dict[str, list[str]]:
    pull = _drawn_to(targets)

    def options(field: str) -> tuple[str, ...]:
        spec = q.field("interests", field)
        assert spec is not None
        return spec.options

    avoid_chance = AVOID_CHANCE + (0.1 if targets["big_five"]["N"] >= 65 else 0.0)
    return {
        "genres": _weighted_pick(rng, options("genres"), "genre", pull, rng.randint(2, 5)),
        "themes": _weighted_pick(rng, options("themes"), "theme", pull, rng.randint(2, 4)),
        "moods": _weighted_pick(rng, options("moods"), "mood", pull, rng.randint(1, 3)),
        "avoid": [note for note in options("avoid") if rng.random() < avoid_chance],
    }


def open_reader_store(root: Path, answers: Answers | None = None, threads: int = 0) -> Context:
    """A data root of its own (database, adapters) for a simulated reader or a training cohort.

    With `answers`, the reader is onboarded through the same service the app uses, once.
    `threads` is what engines loaded for this context use (0: every core).
    """
    where = Paths(root).ensure()
    conn: sqlite3.Connection = open_store(where.database)
    try:
        ensure_bundled(conn)
        if answers is not None and current_profile(conn) is None:
            onboard(conn, answers, reason="simulated reader")
    except BaseException:
        conn.close()
        raise
    return Context(paths=where, conn=conn, settings=Settings(n_threads=threads))


def stored_profile(ctx: Context) -> Profile:
    """The current profile of a simulated reader's store (which always has one)."""
    profile = current_profile(ctx.conn)
    if profile is None:
        raise UserError(f"{ctx.paths.database}: the simulated reader has no profile")
    return profile
