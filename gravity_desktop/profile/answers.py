"""The reader's answers (the ANSWERS.json format), checked item by item before anything is stored.

Format (docs/questionnaire.md):
    {"country": "BR",
     "answers": {"<item id>": <int>, ...},
     "about": {"age_band": "25-34", "languages": ["pt", "en"], "reading_frequency": "..."},
     "interests": {"genres": [...], "themes": [...], "moods": [...], "avoid": [...],
                   "favourite_books": ["<book id>", ...]}}
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from gravity_desktop.errors import UserError
from gravity_desktop.profile.culture import baseline, language_names
from gravity_desktop.profile.instruments import Questionnaire, load_questionnaire

TOP_LEVEL = ("country", "answers", "about", "interests")


@dataclass(frozen=True)
class Answers:
    country: str
    answers: dict[str, int]
    about: dict[str, object] = field(default_factory=dict)
    interests: dict[str, list[str]] = field(default_factory=dict)

    def as_json(self) -> dict[str, object]:
        return {
            "country": self.country,
            "answers": dict(sorted(self.answers.items())),
            "about": self.about,
            "interests": self.interests,
        }


def read_answers_file(path: Path) -> Answers:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise UserError(f"{path}: cannot read the answers file ({exc.strerror})") from exc
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UserError(
            f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from exc
    try:
        return parse_answers(raw)
    except UserError as exc:
        raise UserError(f"{path}: {exc}") from exc


def parse_answers(raw: object, questionnaire: Questionnaire | None = None) -> Answers:
    """Validate answers; an error names the item or field and what is wrong."""
    q = questionnaire or load_questionnaire()
    if not isinstance(raw, dict):
        raise UserError("the answers must be a JSON object")
    unknown = sorted(set(raw) - set(TOP_LEVEL))
    if unknown:
        raise UserError(f"unknown field(s) {unknown}; expected {list(TOP_LEVEL)}")
    if "country" not in raw:
        raise UserError("field 'country' is required (an ISO 3166 code such as 'BR')")
    country = baseline(raw["country"]).code
    answers = parse_item_answers(raw.get("answers", {}), q)
    about = _parse_fields(raw.get("about", {}), "about", q)
    interests = _parse_fields(raw.get("interests", {}), "interests", q)
    return Answers(country=country, answers=answers, about=about, interests=interests)


def parse_item_answers(raw: object, q: Questionnaire) -> dict[str, int]:
    if not isinstance(raw, dict):
        raise UserError("field 'answers' must be an object of item id -> integer")
    items = q.by_id
    parsed: dict[str, int] = {}
    for item_id, value in raw.items():
        item = items.get(item_id)
        if item is None:
            raise UserError(f"answers: unknown item id {item_id!r}")
        parsed[item_id] = check_item_value(item_id, value, item.scale.min, item.scale.max)
    return parsed


def check_item_value(item_id: str, value: object, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise UserError(f"answers: item {item_id!r}: {value!r} is not an integer")
    if not low <= value <= high:
        raise UserError(f"answers: item {item_id!r}: {value} is outside the scale {low}-{high}")
    return value


def _parse_fields(raw: object, section: str, q: Questionnaire) -> dict:
    if not isinstance(raw, dict):
        raise UserError(f"field '{section}' must be an object")
    parsed: dict[str, object] = {}
    for key, value in raw.items():
        spec = q.field(section, key)
        if spec is None or spec.kind == "country":
            known = [f.id for f in q.instruments[section].fields if f.kind != "country"]
            raise UserError(f"{section}: unknown field {key!r} (known: {known})")
        where = f"{section}.{key}"
        if spec.kind == "choice":
            if value not in spec.options:
                raise UserError(f"{where}: {value!r} is not one of {list(spec.options)}")
            parsed[key] = value
            continue
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise UserError(f"{where}: must be a list of strings")
        if spec.kind == "multi":
            bad = [v for v in value if v not in spec.options]
            if bad:
                raise UserError(f"{where}: {bad} not among the options {list(spec.options)}")
        elif spec.kind == "languages":
            bad = [v for v in value if v.lower() not in language_names()]
            if bad:
                raise UserError(f"{where}: {bad} are not ISO 639-1 language codes")
            value = [v.lower() for v in value]
        parsed[key] = list(dict.fromkeys(value))
    return parsed
