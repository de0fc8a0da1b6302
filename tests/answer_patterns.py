"""Answer patterns for scoring tests: every item pushed to one pole, or a neutral middle."""

from __future__ import annotations

from gravity_desktop.profile.instruments import Questionnaire, load_questionnaire


def toward(item, high: bool) -> int:
    """The answer that pushes `item`'s facet to its high (or low) pole."""
    agree = (item.keyed == 1) == high
    return item.scale.max if agree else item.scale.min


def all_answers(
    poles: dict[str, bool] | None = None, q: Questionnaire | None = None, middle: bool = True
) -> dict[str, int]:
    """Answers for every item: facets named in `poles` at that pole, others in the middle."""
    q = q or load_questionnaire()
    poles = poles or {}
    answers = {}
    for item in q.items:
        if item.facet in poles:
            answers[item.id] = toward(item, poles[item.facet])
        elif middle:
            answers[item.id] = (item.scale.min + item.scale.max) // 2
    return answers


def answers_file(country: str = "BR", poles: dict[str, bool] | None = None, **extra) -> dict:
    return {"country": country, "answers": all_answers(poles), **extra}
