"""The database schema as numbered migrations, applied in order at open.

A migration is never edited once released; a change to the schema is a new migration at the end
of the list. Each runs in its own transaction together with the version bump, so a failure leaves
the previous schema exactly as it was.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    sql: str


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "models the reader imported or downloaded",
        """
        CREATE TABLE installed_model (
            id          TEXT PRIMARY KEY,
            path        TEXT NOT NULL,
            sha256      TEXT NOT NULL,
            size        INTEGER NOT NULL,
            source      TEXT NOT NULL,
            arch        TEXT NOT NULL,
            name        TEXT NOT NULL,
            installed_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
        );
        """,
    ),
    Migration(
        2,
        "questionnaire answers and profile versions",
        """
        CREATE TABLE answer (
            item_id     TEXT PRIMARY KEY,
            value       INTEGER NOT NULL,
            answered_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
        );
        CREATE TABLE answer_field (
            section     TEXT NOT NULL,
            field       TEXT NOT NULL,
            value_json  TEXT NOT NULL,
            answered_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
            PRIMARY KEY (section, field)
        );
        CREATE TABLE profile_version (
            version      INTEGER PRIMARY KEY AUTOINCREMENT,
            created_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
            reason       TEXT NOT NULL,
            answers_json TEXT NOT NULL
        );
        """,
    ),
)
