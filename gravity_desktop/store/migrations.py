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
    Migration(
        3,
        "the reader's library, reading history and cached book embeddings",
        """
        CREATE TABLE book (
            id            TEXT PRIMARY KEY,
            title         TEXT NOT NULL,
            author        TEXT NOT NULL,
            year          INTEGER,
            language      TEXT,
            country       TEXT,
            genres        TEXT NOT NULL DEFAULT '[]',
            themes        TEXT NOT NULL DEFAULT '[]',
            moods         TEXT NOT NULL DEFAULT '[]',
            content_notes TEXT NOT NULL DEFAULT '[]',
            pages         INTEGER,
            isbn          TEXT,
            synopsis      TEXT NOT NULL DEFAULT '',
            source        TEXT NOT NULL,
            added_at      TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
        );
        CREATE INDEX book_isbn ON book (isbn);
        CREATE TABLE book_key (
            key     TEXT NOT NULL,
            book_id TEXT NOT NULL REFERENCES book (id) ON DELETE CASCADE,
            PRIMARY KEY (key, book_id)
        );
        CREATE TABLE reading (
            book_id    TEXT PRIMARY KEY REFERENCES book (id) ON DELETE CASCADE,
            status     TEXT NOT NULL
                       CHECK (status IN ('liked', 'disliked', 'read', 'reading', 'to-read')),
            rating     REAL CHECK (rating IS NULL OR (rating >= 0 AND rating <= 5)),
            shelves    TEXT NOT NULL DEFAULT '[]',
            read_at    TEXT,
            source     TEXT NOT NULL,
            updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
        );
        CREATE TABLE book_embedding (
            book_id  TEXT NOT NULL REFERENCES book (id) ON DELETE CASCADE,
            model    TEXT NOT NULL,
            text_sha TEXT NOT NULL,
            vector   BLOB NOT NULL,
            PRIMARY KEY (book_id, model)
        );
        CREATE TABLE meta (
            key   TEXT PRIMARY KEY,
            value TEXT NOT NULL
        );
        """,
    ),
)
