"""Pairs as JSONL in TRL's conversational formats, with their provenance alongside.

Preference pairs: {"prompt": [messages], "chosen": [assistant message], "rejected": [assistant
message], "metadata": {...}}. SFT data (chosen only): {"prompt": [...], "completion": [...],
"metadata": {...}}. `metadata` carries the provenance (method, source, book, scenario facets,
profile version, model, seed, template version, created time); TRL ignores it.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field, replace
from pathlib import Path

from gravity_desktop.errors import UserError
from gravity_desktop.store import pairs as store
from gravity_desktop.store import transaction

METHODS = ("gravity", "naive", "sft", "feedback")


def pair_record(pair: store.Pair) -> dict[str, object]:
    metadata = {
        "id": pair.id,
        "method": pair.method,
        "source": pair.source,
        "book_id": pair.book_id,
        "facets": list(pair.facets),
        "profile_version": pair.profile_version,
        "model_id": pair.model_id,
        "seed": pair.seed,
        "template_version": pair.template_version,
        "fit_margin": pair.fit_margin,
        "created_at": pair.created_at,
    }
    answer = [{"role": "assistant", "content": pair.chosen}]
    if pair.rejected is None:
        return {"prompt": pair.prompt, "completion": answer, "metadata": metadata}
    rejected = [{"role": "assistant", "content": pair.rejected}]
    return {"prompt": pair.prompt, "chosen": answer, "rejected": rejected, "metadata": metadata}


def export_pairs(pairs: list[store.Pair], file: Path) -> int:
    file.parent.mkdir(parents=True, exist_ok=True)
    partial = file.with_name(file.name + ".partial")
    with partial.open("w", encoding="utf-8") as out:
        for pair in pairs:
            out.write(json.dumps(pair_record(pair), ensure_ascii=False) + "\n")
    partial.replace(file)
    return len(pairs)


@dataclass
class PairImport:
    imported: int = 0
    duplicates: int = 0
    skipped: list[str] = field(default_factory=list)


def _messages(value: object, where: str, roles: set[str]) -> list[dict[str, str]]:
    if not isinstance(value, list) or not value:
        raise ValueError(f"{where} must be a non-empty list of messages")
    for message in value:
        if (
            not isinstance(message, dict)
            or message.get("role") not in roles
            or not isinstance(message.get("content"), str)
            or not message["content"].strip()
        ):
            raise ValueError(f"{where} has a message without a valid role and text")
    return [{"role": m["role"], "content": m["content"]} for m in value]


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _parse(record: object) -> store.Pair:
    if not isinstance(record, dict):
        raise ValueError("not a JSON object")
    prompt = _messages(record.get("prompt"), "prompt", {"system", "user", "assistant"})
    if "chosen" in record:
        chosen = _messages(record["chosen"], "chosen", {"assistant"})[-1]["content"]
        if "rejected" not in record:
            raise ValueError("has 'chosen' but no 'rejected'")
        rejected = _messages(record["rejected"], "rejected", {"assistant"})[-1]["content"]
    elif "completion" in record:
        chosen = _messages(record["completion"], "completion", {"assistant"})[-1]["content"]
        rejected = None
    else:
        raise ValueError("needs 'chosen' and 'rejected' (or 'completion')")
    meta = record.get("metadata") or {}
    if not isinstance(meta, dict):
        raise ValueError("metadata must be an object")
    method = meta.get("method", "sft" if rejected is None else "gravity")
    if method not in METHODS:
        raise ValueError(f"metadata.method {method!r} is not one of {list(METHODS)}")
    return store.Pair(
        method=method,
        source="import",
        prompt=prompt,
        chosen=chosen,
        rejected=rejected,
        facets=tuple(meta.get("facets", ())),
        profile_version=meta.get("profile_version")
        if isinstance(meta.get("profile_version"), int)
        else None,
        model_id=meta.get("model_id"),
        seed=_int(meta.get("seed")),
        template_version=meta.get("template_version"),
        fit_margin=meta.get("fit_margin")
        if isinstance(meta.get("fit_margin"), int | float)
        else None,
    )


def import_pairs(conn: sqlite3.Connection, file: Path) -> PairImport:
    """Read a JSONL file of pairs; bad lines are reported and skipped, the rest kept at once."""
    try:
        lines = file.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"{file}: cannot read ({exc})") from exc
    result = PairImport()
    parsed: list[tuple[store.Pair, object]] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            pair = _parse(record)
            parsed.append((pair, (record.get("metadata") or {}).get("book_id")))
        except (json.JSONDecodeError, ValueError) as exc:
            result.skipped.append(f"line {number}: {exc}")
    books = {row[0] for row in conn.execute("SELECT id FROM book")}
    with transaction(conn):
        for pair, book_id in parsed:
            if store.pair_exists(conn, pair.prompt, pair.chosen, pair.rejected):
                result.duplicates += 1
                continue
            store.add_pair(conn, replace(pair, book_id=book_id if book_id in books else None))
            result.imported += 1
    return result
