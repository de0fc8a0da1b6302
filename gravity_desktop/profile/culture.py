"""Country baselines: Hofstede's six dimensions and the Inglehart-Welzel cultural-map position.

Both describe countries, not persons. The tables and their sources live in `resources/culture/`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache

from gravity_desktop.config import RESOURCES_DIR
from gravity_desktop.errors import UserError

CULTURE_DIR = RESOURCES_DIR / "culture"
HOFSTEDE_DIMENSIONS = ("PDI", "IDV", "MAS", "UAI", "LTO", "IVR")
WVS_AXES = ("traditional_secular", "survival_self_expression")


@dataclass(frozen=True)
class CountryBaseline:
    code: str
    name: str
    hofstede: dict[str, int] | None  # None where the table has no scores for the country
    wvs: dict[str, float] | None


@cache
def _tables() -> tuple[dict, dict]:
    hofstede = json.loads((CULTURE_DIR / "hofstede.json").read_text(encoding="utf-8"))
    wvs = json.loads((CULTURE_DIR / "wvs.json").read_text(encoding="utf-8"))
    return hofstede, wvs


@cache
def country_names() -> dict[str, str]:
    """ISO 3166-1 alpha-2 code -> English name (resources/culture/iso3166.json)."""
    raw = json.loads((CULTURE_DIR / "iso3166.json").read_text(encoding="utf-8"))
    return raw["countries"]


@cache
def language_names() -> dict[str, str]:
    """ISO 639-1 code -> English name (resources/culture/iso639.json)."""
    raw = json.loads((CULTURE_DIR / "iso639.json").read_text(encoding="utf-8"))
    return raw["languages"]


def sources() -> dict[str, str]:
    hofstede, wvs = _tables()
    return {"hofstede": hofstede["source"], "wvs": wvs["source"]}


def covered_countries() -> list[str]:
    """Country codes with a full baseline, for pickers that list them first."""
    hofstede, wvs = _tables()
    return sorted(set(hofstede["countries"]) & set(wvs["countries"]))


def baseline(code: str) -> CountryBaseline:
    """The baseline for an ISO 3166-1 alpha-2 code; tables may not cover every country."""
    if not isinstance(code, str) or len(code) != 2:
        raise UserError(f"country: {code!r} is not a two-letter ISO 3166 country code")
    code = code.upper()
    name = country_names().get(code)
    if name is None:
        raise UserError(f"country: {code!r} is not a known ISO 3166 country code")
    hofstede, wvs = _tables()
    h = hofstede["countries"].get(code)
    w = wvs["countries"].get(code)
    return CountryBaseline(
        code=code,
        name=(h or w or {}).get("name") or name,
        hofstede={d: int(h[d]) for d in HOFSTEDE_DIMENSIONS} if h else None,
        wvs={a: float(w[a]) for a in WVS_AXES} if w else None,
    )
