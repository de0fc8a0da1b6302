"""Scoring each framework the way the psychometric literature does (docs/profile-scoring.md).

- Big Five and Hofstede (person level): reverse-key the -1 items (min+max-x), take the mean of the
  answered items, rescale to 0-100.
- Schwartz: mean rating per value, centered on the person's mean rating over all value items
  (MRAT), which removes individual differences in scale use; higher-order values are the means of
  their values' centered scores.
- WVS: keyed mean mapped from the 1-5 scale onto the cultural map's units (-2..+2).
A scale with fewer answered items than its instrument's minimum is unknown (None), never guessed.
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import fmean

from gravity_desktop.profile.instruments import FACETS, Instrument

HIGHER_ORDER: dict[str, tuple[str, ...]] = {
    "openness_to_change": ("self_direction", "stimulation", "hedonism"),
    "self_enhancement": ("achievement", "power"),
    "conservation": ("security", "conformity", "tradition"),
    "self_transcendence": ("benevolence", "universalism"),
}
# MRAT centering is only meaningful over most of the value items.
MIN_SHARE_FOR_MRAT = 0.7
# Hofstede's indices describe countries; a person's own answers are a noisy signal of where they
# stand. The blend keeps the country baseline as the larger part (docs/profile-scoring.md).
HOFSTEDE_PERSON_WEIGHT = 0.4


@dataclass(frozen=True)
class ScaleResult:
    """One scale's score with what is needed to judge it."""

    score: float | None
    answered: int
    items: int
    consistency: float | None  # 1 = the keyed answers agree perfectly, 0 = they contradict
    reliability: str  # "good", "fair", "low" or "unknown"

    def as_json(self) -> dict[str, object]:
        return {
            "answered": self.answered,
            "items": self.items,
            "consistency": None if self.consistency is None else round(self.consistency, 3),
            "reliability": self.reliability,
        }


def keyed_values(instrument: Instrument, facet: str, answers: dict[str, int]) -> list[int]:
    """Answered values of a facet's items, reverse-keyed where the item is keyed -1."""
    values = []
    for item in instrument.items_of(facet):
        if item.id in answers:
            value = answers[item.id]
            values.append(value if item.keyed == 1 else item.scale.reverse(value))
    return values


def _judge(instrument: Instrument, facet: str, values: list[int]) -> tuple[float | None, str]:
    items = instrument.items_of(facet)
    if len(values) < instrument.min_answers_per_facet or not values:
        return None, "unknown"
    scale = items[0].scale
    consistency = None
    if len(values) >= 2:
        mean = fmean(values)
        spread = fmean(abs(v - mean) for v in values)
        consistency = 1.0 - spread / ((scale.max - scale.min) / 2)
    if consistency is not None and consistency < 0.5:
        level = "low"
    elif len(values) == len(items) and (consistency is None or consistency >= 0.75):
        level = "good"
    else:
        level = "fair"
    return consistency, level


def score_mean_scale(
    instrument: Instrument, answers: dict[str, int], low: float, high: float
) -> dict[str, ScaleResult]:
    """Keyed mean per facet, mapped linearly from the item scale onto [low, high]."""
    results = {}
    for facet in FACETS[instrument.name]:
        values = keyed_values(instrument, facet, answers)
        consistency, level = _judge(instrument, facet, values)
        items = instrument.items_of(facet)
        score = None
        if level != "unknown":
            scale = items[0].scale
            share = (fmean(values) - scale.min) / (scale.max - scale.min)
            score = low + share * (high - low)
        results[facet] = ScaleResult(score, len(values), len(items), consistency, level)
    return results


def score_big_five(instrument: Instrument, answers: dict[str, int]) -> dict[str, ScaleResult]:
    return score_mean_scale(instrument, answers, 0.0, 100.0)


def score_hofstede_person(
    instrument: Instrument, answers: dict[str, int]
) -> dict[str, ScaleResult]:
    return score_mean_scale(instrument, answers, 0.0, 100.0)


def score_wvs_person(instrument: Instrument, answers: dict[str, int]) -> dict[str, ScaleResult]:
    return score_mean_scale(instrument, answers, -2.0, 2.0)


def blend_hofstede(person: float | None, country: float | None) -> float | None:
    if person is None:
        return country
    if country is None:
        return person
    return HOFSTEDE_PERSON_WEIGHT * person + (1 - HOFSTEDE_PERSON_WEIGHT) * country


@dataclass(frozen=True)
class SchwartzResult:
    values: dict[str, ScaleResult]  # centered scores
    higher_order: dict[str, float | None]
    mrat: float | None


def score_schwartz(instrument: Instrument, answers: dict[str, int]) -> SchwartzResult:
    all_values = [answers[item.id] for item in instrument.items if item.id in answers]
    enough = len(all_values) >= MIN_SHARE_FOR_MRAT * len(instrument.items)
    mrat = fmean(all_values) if enough and all_values else None
    values: dict[str, ScaleResult] = {}
    for facet in FACETS["schwartz"]:
        facet_values = keyed_values(instrument, facet, answers)
        consistency, level = _judge(instrument, facet, facet_values)
        if mrat is None:
            level = "unknown"
        score = fmean(facet_values) - mrat if level != "unknown" else None
        items = len(instrument.items_of(facet))
        values[facet] = ScaleResult(score, len(facet_values), items, consistency, level)
    higher: dict[str, float | None] = {}
    for name, members in HIGHER_ORDER.items():
        scores = [values[m].score for m in members]
        higher[name] = None if any(s is None for s in scores) else fmean(scores)
    return SchwartzResult(values=values, higher_order=higher, mrat=mrat)
