"""Answers saved one by one as the reader goes, and the profile versions made from them.

The draft (`answer`, `answer_field`) is what the wizard resumes from. A profile version is a frozen
copy of the answers at the moment a section or the whole questionnaire was completed; scores are
always computed from those answers, so a version never disagrees with its answers.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass


@dataclass(frozen=True)
class ProfileVersion:
    version: int
    created_at: str
    reason: str
    answers: dict


def save_answer(conn: sqlite3.Connection, item_id: str, value: int) -> None:
    conn.execute(
        "INSERT INTO answer (item_id, value) VALUES (?, ?) ON CONFLICT(item_id) DO UPDATE SET"
        " value=excluded.value, answered_at=strftime('%Y-%m-%dT%H:%M:%fZ', 'now')",
        (item_id, value),
    )


def clear_answer(conn: sqlite3.Connection, item_id: str) -> None:
    conn.execute("DELETE FROM answer WHERE item_id = ?", (item_id,))


def save_field(conn: sqlite3.Connection, section: str, field: str, value: object) -> None:
    conn.execute(
        "INSERT INTO answer_field (section, field, value_json) VALUES (?, ?, ?)"
        " ON CONFLICT(section, field) DO UPDATE SET value_json=excluded.value_json,"
        " answered_at=strftime('%Y-%m-%dT%H:%M:%fZ', 'now')",
        (section, field, json.dumps(value, ensure_ascii=False)),
    )


def clear_field(conn: sqlite3.Connection, section: str, field: str) -> None:
    conn.execute("DELETE FROM answer_field WHERE section = ? AND field = ?", (section, field))


def draft_answers(conn: sqlite3.Connection) -> dict[str, int]:
    return {r["item_id"]: r["value"] for r in conn.execute("SELECT item_id, value FROM answer")}


def draft_fields(conn: sqlite3.Connection) -> dict[str, dict[str, object]]:
    fields: dict[str, dict[str, object]] = {}
    for row in conn.execute("SELECT section, field, value_json FROM answer_field"):
        fields.setdefault(row["section"], {})[row["field"]] = json.loads(row["value_json"])
    return fields


def replace_draft(conn: sqlite3.Connection, answers: dict[str, int], fields: dict) -> None:
    """Make the draft exactly these answers (callers wrap this in a transaction)."""
    conn.execute("DELETE FROM answer")
    conn.execute("DELETE FROM answer_field")
    for item_id, value in answers.items():
        save_answer(conn, item_id, value)
    for section, values in fields.items():
        for field, value in values.items():
            save_field(conn, section, field, value)


def add_version(conn: sqlite3.Connection, reason: str, answers: dict) -> int:
    cursor = conn.execute(
        "INSERT INTO profile_version (reason, answers_json) VALUES (?, ?)",
        (reason, json.dumps(answers, ensure_ascii=False, sort_keys=True)),
    )
    return int(cursor.lastrowid)


def current_version(conn: sqlite3.Connection) -> ProfileVersion | None:
    row = conn.execute("SELECT * FROM profile_version ORDER BY version DESC LIMIT 1").fetchone()
    return _version(row) if row else None


def get_version(conn: sqlite3.Connection, version: int) -> ProfileVersion | None:
    row = conn.execute("SELECT * FROM profile_version WHERE version = ?", (version,)).fetchone()
    return _version(row) if row else None


def all_versions(conn: sqlite3.Connection) -> list[ProfileVersion]:
    rows = conn.execute("SELECT * FROM profile_version ORDER BY version").fetchall()
    return [_version(row) for row in rows]


def _version(row: sqlite3.Row) -> ProfileVersion:
    return ProfileVersion(
        version=row["version"],
        created_at=row["created_at"],
        reason=row["reason"],
        answers=json.loads(row["answers_json"]),
    )
