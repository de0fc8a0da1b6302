"""Questionnaire instruments loaded from `resources/questionnaire/`, validated against the schema.

Scaled instruments (Big Five, Schwartz, Hofstede, WVS) hold items answered on a numeric scale; the
two field sections (about you, interests) hold choices. The schema is documented in
docs/questionnaire.md; a file that breaks it is reported with the file, item and field.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from gravity_desktop.config import RESOURCES_DIR
from gravity_desktop.errors import UserError

QUESTIONNAIRE_DIR = RESOURCES_DIR / "questionnaire"
VOCABULARY_FILE = RESOURCES_DIR / "books" / "vocabulary.json"

# Presentation order of the sections; scaled instruments and their facets.
SCALED = ("big_five", "schwartz", "hofstede", "wvs")
FIELD_SECTIONS = ("about", "interests")
SECTION_ORDER = ("about", "big_five", "schwartz", "hofstede", "wvs", "interests")
FACETS: dict[str, tuple[str, ...]] = {
    "big_five": ("O", "C", "E", "A", "N"),
    "schwartz": (
        "self_direction",
        "stimulation",
        "hedonism",
        "achievement",
        "power",
        "security",
        "conformity",
        "tradition",
        "benevolence",
        "universalism",
    ),
    "hofstede": ("PDI", "IDV", "MAS", "UAI", "LTO", "IVR"),
    "wvs": ("traditional_secular", "survival_self_expression"),
}
FIELD_KINDS = ("country", "choice", "languages", "multi", "books")
_ITEM_ID = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class Scale:
    min: int
    max: int
    labels: tuple[str, ...]

    def reverse(self, value: int) -> int:
        return self.min + self.max - value


@dataclass(frozen=True)
class Item:
    id: str
    instrument: str
    facet: str
    text: str
    scale: Scale
    keyed: int

    def as_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "instrument": self.instrument,
            "facet": self.facet,
            "text": self.text,
            "scale": {
                "min": self.scale.min,
                "max": self.scale.max,
                "labels": list(self.scale.labels),
            },
            "keyed": self.keyed,
        }


@dataclass(frozen=True)
class Field:
    id: str
    kind: str
    text: str
    required: bool
    options: tuple[str, ...]


@dataclass(frozen=True)
class Instrument:
    name: str
    version: int
    title: str
    intro: str
    basis: str
    min_answers_per_facet: int
    items: tuple[Item, ...]
    fields: tuple[Field, ...]

    def items_of(self, facet: str) -> tuple[Item, ...]:
        return tuple(item for item in self.items if item.facet == facet)


@dataclass(frozen=True)
class Questionnaire:
    instruments: dict[str, Instrument]

    @property
    def items(self) -> tuple[Item, ...]:
        return tuple(item for name in SCALED for item in self.instruments[name].items)

    def item(self, item_id: str) -> Item | None:
        return self.by_id.get(item_id)

    @property
    def by_id(self) -> dict[str, Item]:
        return {item.id: item for item in self.items}

    def field(self, section: str, field_id: str) -> Field | None:
        return next((f for f in self.instruments[section].fields if f.id == field_id), None)


@cache
def vocabulary() -> dict[str, tuple[str, ...]]:
    raw = json.loads(VOCABULARY_FILE.read_text(encoding="utf-8"))
    return {key: tuple(value) for key, value in raw.items() if isinstance(value, list)}


@cache
def load_questionnaire(folder: Path = QUESTIONNAIRE_DIR) -> Questionnaire:
    instruments = {name: load_instrument(folder / f"{name}.json", name) for name in SECTION_ORDER}
    seen: dict[str, str] = {}
    for name in SCALED:
        for item in instruments[name].items:
            if item.id in seen:
                raise UserError(f"item id {item.id!r} appears in both {seen[item.id]} and {name}")
            seen[item.id] = name
    return Questionnaire(instruments)


def load_instrument(file: Path, name: str) -> Instrument:
    try:
        raw = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise UserError(f"{file}: cannot read the instrument ({exc})") from exc

    def need(table: dict, key: str, kind: type, where: str) -> object:
        value = table.get(key)
        if not isinstance(value, kind) or isinstance(value, bool) is not (kind is bool):
            raise UserError(f"{file}: {where}: field '{key}' must be {kind.__name__}")
        return value

    if raw.get("instrument") != name:
        raise UserError(f"{file}: field 'instrument' must be {name!r}")
    items: list[Item] = []
    fields: list[Field] = []
    if name in SCALED:
        facets = FACETS[name]
        for index, table in enumerate(need(raw, "items", list, "top level")):
            where = (
                f"item #{index + 1} ({table.get('id', '?') if isinstance(table, dict) else '?'})"
            )
            if not isinstance(table, dict):
                raise UserError(f"{file}: {where}: must be an object")
            item_id = str(need(table, "id", str, where))
            if not _ITEM_ID.match(item_id):
                raise UserError(f"{file}: {where}: id must be lowercase letters, digits and '_'")
            if table.get("instrument") != name:
                raise UserError(f"{file}: {where}: field 'instrument' must be {name!r}")
            facet = str(need(table, "facet", str, where))
            if facet not in facets:
                raise UserError(f"{file}: {where}: facet {facet!r} is not one of {list(facets)}")
            text = str(need(table, "text", str, where)).strip()
            if not text:
                raise UserError(f"{file}: {where}: field 'text' is empty")
            scale_table = need(table, "scale", dict, where)
            low = int(need(scale_table, "min", int, where + " scale"))
            high = int(need(scale_table, "max", int, where + " scale"))
            labels = tuple(need(scale_table, "labels", list, where + " scale"))
            if high <= low or len(labels) != high - low + 1:
                raise UserError(
                    f"{file}: {where}: scale needs min < max and max-min+1 labels"
                    f" (min {low}, max {high}, {len(labels)} labels)"
                )
            keyed = table.get("keyed")
            if keyed not in (1, -1) or isinstance(keyed, bool):
                raise UserError(f"{file}: {where}: field 'keyed' must be 1 or -1")
            items.append(Item(item_id, name, facet, text, Scale(low, high, labels), keyed))
        ids = [item.id for item in items]
        if len(set(ids)) != len(ids):
            raise UserError(f"{file}: duplicate item ids")
        minimum = int(need(raw, "min_answers_per_facet", int, "top level"))
        for facet in facets:
            count = sum(1 for item in items if item.facet == facet)
            if count < max(1, minimum):
                raise UserError(
                    f"{file}: facet {facet!r} has {count} items, fewer than the minimum {minimum}"
                )
    else:
        minimum = 0
        vocab = vocabulary()
        for index, table in enumerate(need(raw, "fields", list, "top level")):
            where = f"field #{index + 1} ({table.get('id', '?')})"
            kind = str(need(table, "kind", str, where))
            if kind not in FIELD_KINDS:
                raise UserError(f"{file}: {where}: kind {kind!r} is not one of {list(FIELD_KINDS)}")
            options: tuple[str, ...] = tuple(table.get("options", ()))
            if "options_from" in table:
                source = table["options_from"]
                if source not in vocab:
                    raise UserError(f"{file}: {where}: options_from {source!r} is not a vocabulary")
                options = vocab[source]
            if kind in ("choice", "multi") and not options:
                raise UserError(f"{file}: {where}: a {kind} field needs options")
            fields.append(
                Field(
                    id=str(need(table, "id", str, where)),
                    kind=kind,
                    text=str(need(table, "text", str, where)),
                    required=bool(table.get("required", False)),
                    options=options,
                )
            )
    return Instrument(
        name=name,
        version=int(need(raw, "version", int, "top level")),
        title=str(need(raw, "title", str, "top level")),
        intro=str(need(raw, "intro", str, "top level")),
        basis=str(raw.get("basis", "")),
        min_answers_per_facet=minimum,
        items=tuple(items),
        fields=tuple(fields),
    )
