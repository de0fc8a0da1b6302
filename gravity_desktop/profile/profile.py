"""The `Profile`: every score, the country baseline, answer counts and reliability, and the card.

Built from `Answers` by a pure function, so the CLI (`gravity profile score`), the store and the
app all compute exactly the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from gravity_desktop.profile.answers import Answers
from gravity_desktop.profile.card import profile_card
from gravity_desktop.profile.culture import HOFSTEDE_DIMENSIONS, WVS_AXES, CountryBaseline, baseline
from gravity_desktop.profile.instruments import SCALED, Questionnaire, load_questionnaire
from gravity_desktop.profile.scoring import (
    HOFSTEDE_PERSON_WEIGHT,
    blend_hofstede,
    score_big_five,
    score_hofstede_person,
    score_schwartz,
    score_wvs_person,
)

OCEAN = ("O", "C", "E", "A", "N")


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


@dataclass(frozen=True)
class Profile:
    answers: Answers
    country: CountryBaseline
    ocean: dict[str, float | None]
    schwartz: dict[str, float | None]
    higher_order: dict[str, float | None]
    mrat: float | None
    hofstede: dict[str, dict[str, float | None]]
    wvs: dict[str, dict[str, float | None]]
    reliability: dict[str, dict[str, dict[str, object]]]
    counts: dict[str, dict[str, int]]
    summary: str
    version: int | None = None

    @property
    def interests(self) -> dict[str, list[str]]:
        return self.answers.interests

    def as_json(self) -> dict[str, object]:
        return {
            "version": self.version,
            "country": {"code": self.country.code, "name": self.country.name},
            "about": self.answers.about,
            "ocean": self.ocean,
            "schwartz": self.schwartz,
            "higher_order": self.higher_order,
            "mrat": self.mrat,
            "hofstede": self.hofstede,
            "hofstede_person_weight": HOFSTEDE_PERSON_WEIGHT,
            "wvs": self.wvs,
            "interests": self.answers.interests,
            "reliability": self.reliability,
            "counts": self.counts,
            "summary": self.summary,
        }


def build_profile(
    answers: Answers, questionnaire: Questionnaire | None = None, version: int | None = None
) -> Profile:
    q = questionnaire or load_questionnaire()
    given = answers.answers
    country = baseline(answers.country)
    big_five = score_big_five(q.instruments["big_five"], given)
    schwartz = score_schwartz(q.instruments["schwartz"], given)
    hofstede_person = score_hofstede_person(q.instruments["hofstede"], given)
    wvs_person = score_wvs_person(q.instruments["wvs"], given)

    hofstede = {}
    for dim in HOFSTEDE_DIMENSIONS:
        person = hofstede_person[dim].score
        national = None if country.hofstede is None else float(country.hofstede[dim])
        hofstede[dim] = {
            "person": _round(person, 1),
            "country": national,
            "blended": _round(blend_hofstede(person, national), 1),
        }
    wvs = {
        axis: {
            "person": _round(wvs_person[axis].score, 2),
            "country": None if country.wvs is None else country.wvs[axis],
        }
        for axis in WVS_AXES
    }
    reliability = {
        "ocean": {k: v.as_json() for k, v in big_five.items()},
        "schwartz": {k: v.as_json() for k, v in schwartz.values.items()},
        "hofstede": {k: v.as_json() for k, v in hofstede_person.items()},
        "wvs": {k: v.as_json() for k, v in wvs_person.items()},
    }
    counts = {
        name: {
            "answered": sum(1 for item in q.instruments[name].items if item.id in given),
            "items": len(q.instruments[name].items),
        }
        for name in SCALED
    }
    draft = Profile(
        answers=answers,
        country=country,
        ocean={t: _round(big_five[t].score, 1) for t in OCEAN},
        schwartz={v: _round(r.score, 2) for v, r in schwartz.values.items()},
        higher_order={k: _round(v, 2) for k, v in schwartz.higher_order.items()},
        mrat=_round(schwartz.mrat, 3),
        hofstede=hofstede,
        wvs=wvs,
        reliability=reliability,
        counts=counts,
        summary="",
        version=version,
    )
    return replace(draft, summary=profile_card(draft))
