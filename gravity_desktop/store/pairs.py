"""Preference pairs with their provenance, rejected candidates, synthesis runs, descriptions and
feedback."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass

from gravity_desktop.llm.engine import Message


@dataclass(frozen=True)
class Pair:
    method: str  # gravity, naive, sft, feedback
    source: str  # synthetic, feedback, import
    prompt: list[Message]
    chosen: str
    rejected: str | None
    book_id: str | None = None
    scenario_id: int | None = None
    facets: tuple[str, ...] = ()
    profile_version: int | None = None
    model_id: str | None = None
    seed: int | None = None
    template_version: str | None = None
    fit_margin: float | None = None
    run_id: int | None = None
    unit: str | None = None
    id: int | None = None
    created_at: str | None = None


@dataclass(frozen=True)
class Description:
    id: int
    book_id: str
    profile_version: int | None
    model_id: str
    adapter_id: str | None
    seed: int | None
    template_version: str
    prompt: list[Message]
    text: str
    created_at: str


# -- runs -------------------------------------------------------------------------------------


def open_run(
    conn: sqlite3.Connection,
    method: str,
    seed: int,
    teacher: str,
    profile_version: int | None,
    plan: dict,
) -> tuple[int, bool]:
    """The unfinished run with these exact settings (resumed), or a new one: (id, resumed)."""
    plan_json = json.dumps(plan, sort_keys=True)
    row = conn.execute(
        "SELECT id FROM synthesis_run WHERE method = ? AND seed = ? AND teacher = ?"
        " AND profile_version IS ? AND plan_json = ? AND finished_at IS NULL"
        " ORDER BY id DESC LIMIT 1",
        (method, seed, teacher, profile_version, plan_json),
    ).fetchone()
    if row:
        return int(row[0]), True
    cursor = conn.execute(
        "INSERT INTO synthesis_run (method, seed, teacher, profile_version, plan_json)"
        " VALUES (?, ?, ?, ?, ?)",
        (method, seed, teacher, profile_version, plan_json),
    )
    return int(cursor.lastrowid), False


def finish_run(conn: sqlite3.Connection, run_id: int) -> None:
    conn.execute(
        "UPDATE synthesis_run SET finished_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = ?",
        (run_id,),
    )


def done_units(conn: sqlite3.Connection, run_id: int) -> set[str]:
    rows = conn.execute(
        "SELECT unit FROM pair WHERE run_id = ? UNION SELECT unit FROM rejected_candidate"
        " WHERE run_id = ?",
        (run_id, run_id),
    )
    return {row[0] for row in rows}


# -- scenarios ------------------------------------------------------------------------------


def save_scenario(
    conn: sqlite3.Connection,
    profile_version: int | None,
    seed: int,
    book_id: str,
    facets: tuple[str, ...],
    texts: dict[str, str],
) -> int:
    key = json.dumps(list(facets))
    conn.execute(
        "INSERT OR IGNORE INTO scenario (profile_version, book_id, facets, bring_forward,"
        " put_off, opposite, reason, seed) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            profile_version,
            book_id,
            key,
            texts["bring_forward"],
            texts["put_off"],
            texts["opposite"],
            texts["reason"],
            seed,
        ),
    )
    row = conn.execute(
        "SELECT id FROM scenario WHERE profile_version IS ? AND book_id = ? AND facets = ?"
        " AND seed = ?",
        (profile_version, book_id, key, seed),
    ).fetchone()
    return int(row[0])


def scenario_texts(conn: sqlite3.Connection, scenario_id: int) -> dict[str, str]:
    row = conn.execute("SELECT * FROM scenario WHERE id = ?", (scenario_id,)).fetchone()
    return dict(row) if row else {}


# -- pairs ------------------------------------------------------------------------------------


def add_pair(conn: sqlite3.Connection, pair: Pair) -> int:
    cursor = conn.execute(
        "INSERT INTO pair (method, source, run_id, unit, book_id, scenario_id, facets,"
        " profile_version, model_id, seed, template_version, prompt_json, chosen, rejected,"
        " fit_margin) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            pair.method,
            pair.source,
            pair.run_id,
            pair.unit,
            pair.book_id,
            pair.scenario_id,
            json.dumps(list(pair.facets)),
            pair.profile_version,
            pair.model_id,
            pair.seed,
            pair.template_version,
            json.dumps(pair.prompt, ensure_ascii=False),
            pair.chosen,
            pair.rejected,
            pair.fit_margin,
        ),
    )
    return int(cursor.lastrowid)


def add_candidate(
    conn: sqlite3.Connection,
    *,
    method: str,
    run_id: int | None,
    unit: str | None,
    book_id: str,
    scenario_id: int | None,
    chosen: str | None,
    rejected: str | None,
    reason: str,
    model_id: str,
    seed: int,
    template_version: str,
) -> None:
    conn.execute(
        "INSERT INTO rejected_candidate (method, run_id, unit, book_id, scenario_id, chosen,"
        " rejected, reason, model_id, seed, template_version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?,"
        " ?, ?)",
        (
            method,
            run_id,
            unit,
            book_id,
            scenario_id,
            chosen,
            rejected,
            reason,
            model_id,
            seed,
            template_version,
        ),
    )


def pairs(
    conn: sqlite3.Connection, method: str | None = None, source: str | None = None
) -> list[Pair]:
    query, args = "SELECT * FROM pair WHERE 1 = 1", []
    if method:
        query, args = query + " AND method = ?", [*args, method]
    if source:
        query, args = query + " AND source = ?", [*args, source]
    return [_pair(row) for row in conn.execute(query + " ORDER BY id", args)]


def pair_exists(
    conn: sqlite3.Connection, prompt: list[Message], chosen: str, rejected: str | None
) -> bool:
    row = conn.execute(
        "SELECT 1 FROM pair WHERE prompt_json = ? AND chosen = ? AND rejected IS ?",
        (json.dumps(prompt, ensure_ascii=False), chosen, rejected),
    ).fetchone()
    return row is not None


def counts(conn: sqlite3.Connection) -> dict[str, dict[str, int]]:
    """Pairs by "method/source", rejected candidates by method, and each rejection reason."""
    return {
        "pairs": {
            f"{row[0]}/{row[1]}": row[2]
            for row in conn.execute(
                "SELECT method, source, COUNT(*) FROM pair GROUP BY method, source ORDER BY 1, 2"
            )
        },
        "rejected_candidates": {
            row[0]: row[1]
            for row in conn.execute(
                "SELECT method, COUNT(*) FROM rejected_candidate GROUP BY method ORDER BY 1"
            )
        },
        "reasons": {
            row[0]: row[1]
            for row in conn.execute("SELECT reason, COUNT(*) FROM rejected_candidate GROUP BY 1")
        },
    }


def _pair(row: sqlite3.Row) -> Pair:
    return Pair(
        id=row["id"],
        method=row["method"],
        source=row["source"],
        run_id=row["run_id"],
        unit=row["unit"],
        book_id=row["book_id"],
        scenario_id=row["scenario_id"],
        facets=tuple(json.loads(row["facets"])),
        profile_version=row["profile_version"],
        model_id=row["model_id"],
        seed=row["seed"],
        template_version=row["template_version"],
        prompt=json.loads(row["prompt_json"]),
        chosen=row["chosen"],
        rejected=row["rejected"],
        fit_margin=row["fit_margin"],
        created_at=row["created_at"],
    )


# -- descriptions and feedback -------------------------------------------------------------


def add_description(
    conn: sqlite3.Connection,
    *,
    book_id: str,
    profile_version: int | None,
    model_id: str,
    adapter_id: str | None,
    seed: int | None,
    template_version: str,
    prompt: list[Message],
    text: str,
) -> int:
    cursor = conn.execute(
        "INSERT INTO description (book_id, profile_version, model_id, adapter_id, seed,"
        " template_version, prompt_json, text) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            book_id,
            profile_version,
            model_id,
            adapter_id,
            seed,
            template_version,
            json.dumps(prompt, ensure_ascii=False),
            text,
        ),
    )
    return int(cursor.lastrowid)


def get_description(conn: sqlite3.Connection, description_id: int) -> Description | None:
    row = conn.execute("SELECT * FROM description WHERE id = ?", (description_id,)).fetchone()
    return _description(row) if row else None


def latest_description(conn: sqlite3.Connection, book_id: str) -> Description | None:
    row = conn.execute(
        "SELECT * FROM description WHERE book_id = ? ORDER BY id DESC LIMIT 1", (book_id,)
    ).fetchone()
    return _description(row) if row else None


def add_feedback(
    conn: sqlite3.Connection,
    description_id: int,
    verdict: str,
    rewrite: str | None,
    pair_id: int | None,
) -> int:
    cursor = conn.execute(
        "INSERT INTO feedback (description_id, verdict, rewrite, pair_id) VALUES (?, ?, ?, ?)",
        (description_id, verdict, rewrite, pair_id),
    )
    return int(cursor.lastrowid)


def verdicts_for_book(conn: sqlite3.Connection, book_id: str) -> list[tuple[int, str, int]]:
    """(feedback id, verdict, description id) for the book's descriptions, oldest first."""
    rows = conn.execute(
        "SELECT f.id, f.verdict, f.description_id FROM feedback f"
        " JOIN description d ON d.id = f.description_id WHERE d.book_id = ? ORDER BY f.id",
        (book_id,),
    )
    return [(row[0], row[1], row[2]) for row in rows]


def _description(row: sqlite3.Row) -> Description:
    return Description(
        id=row["id"],
        book_id=row["book_id"],
        profile_version=row["profile_version"],
        model_id=row["model_id"],
        adapter_id=row["adapter_id"],
        seed=row["seed"],
        template_version=row["template_version"],
        prompt=json.loads(row["prompt_json"]),
        text=row["text"],
        created_at=row["created_at"],
    )
