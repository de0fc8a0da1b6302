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
    Migration(
        4,
        "scenarios, preference pairs, synthesis runs, descriptions and feedback",
        """
        CREATE TABLE synthesis_run (
            id               INTEGER PRIMARY KEY,
            method           TEXT NOT NULL,
            seed             INTEGER NOT NULL,
            teacher          TEXT NOT NULL,
            profile_version  INTEGER REFERENCES profile_version (version),
            plan_json        TEXT NOT NULL,
            started_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
            finished_at      TEXT
        );
        CREATE TABLE scenario (
            id              INTEGER PRIMARY KEY,
            profile_version INTEGER REFERENCES profile_version (version),
            book_id         TEXT NOT NULL REFERENCES book (id),
            facets          TEXT NOT NULL,
            bring_forward   TEXT NOT NULL,
            put_off         TEXT NOT NULL,
            opposite        TEXT NOT NULL,
            reason          TEXT NOT NULL,
            seed            INTEGER NOT NULL,
            UNIQUE (profile_version, book_id, facets, seed)
        );
        CREATE TABLE pair (
            id               INTEGER PRIMARY KEY,
            method           TEXT NOT NULL
                             CHECK (method IN ('gravity', 'naive', 'sft', 'feedback')),
            source           TEXT NOT NULL CHECK (source IN ('synthetic', 'feedback', 'import')),
            run_id           INTEGER REFERENCES synthesis_run (id),
            unit             TEXT,
            book_id          TEXT REFERENCES book (id),
            scenario_id      INTEGER REFERENCES scenario (id),
            facets           TEXT NOT NULL DEFAULT '[]',
            profile_version  INTEGER,
            model_id         TEXT,
            seed             INTEGER,
            template_version TEXT,
            prompt_json      TEXT NOT NULL,
            chosen           TEXT NOT NULL,
            rejected         TEXT,
            fit_margin       REAL,
            created_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
        );
        CREATE INDEX pair_method ON pair (method, source);
        CREATE TABLE rejected_candidate (
            id               INTEGER PRIMARY KEY,
            method           TEXT NOT NULL,
            run_id           INTEGER REFERENCES synthesis_run (id),
            unit             TEXT,
            book_id          TEXT REFERENCES book (id),
            scenario_id      INTEGER REFERENCES scenario (id),
            chosen           TEXT,
            rejected         TEXT,
            reason           TEXT NOT NULL,
            model_id         TEXT,
            seed             INTEGER,
            template_version TEXT,
            created_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
        );
        CREATE TABLE description (
            id               INTEGER PRIMARY KEY,
            book_id          TEXT NOT NULL REFERENCES book (id),
            profile_version  INTEGER,
            model_id         TEXT NOT NULL,
            adapter_id       TEXT,
            seed             INTEGER,
            template_version TEXT NOT NULL,
            prompt_json      TEXT NOT NULL,
            text             TEXT NOT NULL,
            created_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
        );
        CREATE TABLE feedback (
            id             INTEGER PRIMARY KEY,
            description_id INTEGER NOT NULL REFERENCES description (id),
            verdict        TEXT NOT NULL CHECK (verdict IN ('up', 'down')),
            rewrite        TEXT,
            pair_id        INTEGER REFERENCES pair (id),
            created_at     TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
        );
        """,
    ),
    Migration(
        5,
        "LoRA adapters and which one is active",
        """
        CREATE TABLE adapter (
            id               TEXT PRIMARY KEY,
            path             TEXT NOT NULL,
            sha256           TEXT NOT NULL,
            base_model       TEXT NOT NULL,
            base_sha256      TEXT NOT NULL,
            method           TEXT NOT NULL,
            pairs            INTEGER NOT NULL,
            heldout_pairs    INTEGER NOT NULL,
            heldout_accuracy REAL,
            heldout_margin   REAL,
            config_json      TEXT NOT NULL,
            source           TEXT NOT NULL DEFAULT 'local',
            note             TEXT NOT NULL DEFAULT '',
            created_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
        );
        CREATE TABLE adapter_activation (
            id           INTEGER PRIMARY KEY,
            adapter_id   TEXT REFERENCES adapter (id),
            activated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
        );
        """,
    ),
    Migration(
        6,
        "Hugging Face weights imported beside a GGUF, trained on directly",
        """
        ALTER TABLE installed_model ADD COLUMN trainable_path TEXT;
        """,
    ),
)
