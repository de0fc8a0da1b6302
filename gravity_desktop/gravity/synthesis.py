"""Synthesizing preference pairs on the device, resumably, for GRAVITY and its baselines.

A run is a deterministic plan (books chosen for the reader, scenarios or generic slots per book)
stored with its settings; every finished unit leaves a pair or a rejected candidate, so running the
same command again resumes where the last run stopped. Units of one book follow each other, so the
book's facts (the shared system prompt) stay in llama.cpp's KV cache between generations. A text
that fails its checks is written again (the failing side only), which keeps far more units than
discarding the whole pair.
"""

from __future__ import annotations

import random
import sqlite3
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

from gravity_desktop.catalog.book import Book
from gravity_desktop.errors import UserError
from gravity_desktop.gravity import prompts
from gravity_desktop.gravity.filters import pair_problem, reason_kind, single_text_problem
from gravity_desktop.gravity.name_guard import NameGuard
from gravity_desktop.gravity.scenarios import Scenario, derive_scenarios
from gravity_desktop.gravity.text import clean_text
from gravity_desktop.llm.engine import CancelToken, Engine, GenerationSettings, Message
from gravity_desktop.profile.profile import Profile
from gravity_desktop.recommend.ranking import recommend
from gravity_desktop.store import pairs as store
from gravity_desktop.store import transaction

METHODS = ("gravity", "naive", "sft")
MIN_SYNOPSIS_WORDS = 40
MAX_TOKENS = 100
TEMPERATURE = 0.7
REPEAT_PENALTY = 1.15

Progress = Callable[["SynthesisProgress"], None]


@dataclass(frozen=True)
class SynthesisRequest:
    method: str = "gravity"
    books: int = 8
    scenarios_per_book: int = 4
    seed: int = 0
    tries: int = 3  # generations per side of a pair before a unit is given up


@dataclass(frozen=True)
class SynthesisProgress:
    done: int
    total: int
    kept: int
    rejected: int
    eta_seconds: float | None
    book_title: str


@dataclass
class SynthesisReport:
    run_id: int
    resumed: bool
    total_units: int
    already_done: int
    kept: int = 0  # units that gave a pair
    rejected: int = 0  # units that gave none within their tries
    generations: int = 0  # texts written, retries included
    seconds: float = 0.0
    stopped: bool = False
    reasons: dict[str, int] = field(default_factory=dict)

    @property
    def pairs_per_minute(self) -> float:
        return 60.0 * self.kept / self.seconds if self.seconds else 0.0

    @property
    def pass_rate(self) -> float:
        tried = self.kept + self.rejected
        return self.kept / tried if tried else 0.0

    def as_json(self) -> dict[str, object]:
        return {
            "run_id": self.run_id,
            "resumed": self.resumed,
            "total_units": self.total_units,
            "already_done": self.already_done,
            "kept": self.kept,
            "rejected": self.rejected,
            "generations": self.generations,
            "seconds": round(self.seconds, 1),
            "pairs_per_minute": round(self.pairs_per_minute, 1),
            "pass_rate": round(self.pass_rate, 3),
            "stopped": self.stopped,
            "rejection_reasons": self.reasons,
        }


@dataclass(frozen=True)
class Unit:
    key: str
    book: Book
    scenario: Scenario | None  # None for the generic (naive) pairs


def pair_stats(conn: sqlite3.Connection) -> dict[str, object]:
    """Stored pairs and rejected candidates, with rejections grouped by kind of reason."""
    data = store.counts(conn)
    kinds: dict[str, int] = {}
    for reason, count in data.pop("reasons").items():
        kinds[reason_kind(reason)] = kinds.get(reason_kind(reason), 0) + count
    data["rejection_reasons"] = dict(sorted(kinds.items(), key=lambda item: -item[1]))
    return data


def choose_books(
    conn: sqlite3.Connection, profile: Profile | None, count: int, seed: int
) -> list[Book]:
    """Books with enough facts to describe, drawn from those the reader is likely to meet."""
    ranked = [r.book for r in recommend(conn, profile, 100_000)]
    usable = [b for b in ranked if len(b.synopsis.split()) >= MIN_SYNOPSIS_WORDS]
    if not usable:
        raise UserError("no books with a synopsis to describe; the catalog seems to be missing")
    pool = usable[: max(3 * count, count)]
    rng = random.Random(f"books:{seed}")
    return rng.sample(pool, min(count, len(pool)))


def plan_units(
    method: str, profile: Profile | None, books: list[Book], per_book: int, seed: int
) -> list[Unit]:
    units: list[Unit] = []
    for book in books:
        if method == "naive":
            units += [Unit(f"{book.id}#{i}", book, None) for i in range(per_book)]
            continue
        assert profile is not None
        for index, scenario in enumerate(derive_scenarios(profile, book, per_book, seed)):
            units.append(Unit(f"{book.id}#{index}", book, scenario))
    return units


def unit_seed(seed: int, key: str) -> int:
    return zlib.crc32(f"{seed}:{key}".encode()) & 0x7FFFFFFF


def synthesize(
    conn: sqlite3.Connection,
    engine: Engine,
    teacher_id: str,
    profile: Profile | None,
    request: SynthesisRequest,
    progress: Progress | None = None,
    cancel: CancelToken | None = None,
) -> SynthesisReport:
    if request.method not in METHODS:
        raise UserError(f"method {request.method!r} is not one of {list(METHODS)}")
    if request.method != "naive" and profile is None:
        raise UserError(
            f"the {request.method} method needs a profile: onboard first (gravity onboard)"
        )
    books = choose_books(conn, profile, request.books, request.seed)
    units = plan_units(request.method, profile, books, request.scenarios_per_book, request.seed)
    plan = {
        "books": [b.id for b in books],
        "units": [u.key for u in units],
        "scenarios_per_book": request.scenarios_per_book,
        "tries": request.tries,
        "serve_template": prompts.SERVE_TEMPLATE,
        "teacher_template": prompts.TEACHER_TEMPLATE,
    }
    version = profile.version if profile else None
    with transaction(conn):
        run_id, resumed = store.open_run(
            conn, request.method, request.seed, teacher_id, version, plan
        )
    finished = store.done_units(conn, run_id)
    report = SynthesisReport(run_id, resumed, len(units), len(finished & set(plan["units"])))
    todo = [u for u in units if u.key not in finished]
    started = time.perf_counter()
    try:
        for position, unit in enumerate(todo):
            if cancel is not None and cancel.cancelled:
                report.stopped = True
                break
            attempts = _run_unit(engine, unit, request, cancel)
            if attempts is None:  # cancelled mid-generation: the unit is redone on resume
                report.stopped = True
                break
            _record(conn, unit, attempts, request, run_id, teacher_id, version, report)
            if progress is not None:
                elapsed = time.perf_counter() - started
                remaining = len(todo) - position - 1
                progress(
                    SynthesisProgress(
                        done=report.already_done + position + 1,
                        total=len(units),
                        kept=report.kept,
                        rejected=report.rejected,
                        eta_seconds=elapsed / (position + 1) * remaining,
                        book_title=unit.book.title,
                    )
                )
    except KeyboardInterrupt:
        report.stopped = True
    report.seconds = time.perf_counter() - started
    if not report.stopped:
        with transaction(conn):
            store.finish_run(conn, run_id)
    return report


@dataclass(frozen=True)
class _Attempt:
    chosen: str
    rejected: str | None
    problem: str | None
    margin: int | None
    seed: int


def _generate(
    engine: Engine,
    book: Book,
    guard: NameGuard | None,
    messages: list[Message],
    seed: int,
    cancel: CancelToken | None,
) -> str | None:
    settings = GenerationSettings(
        # Starting the reply with the title and author keeps a small teacher on the right book.
        assistant_prefix=f"{book.short_title} by {book.author}",
        max_tokens=MAX_TOKENS,
        temperature=TEMPERATURE,
        repeat_penalty=REPEAT_PENALTY,
        seed=seed,
        reuse_prompt_cache=True,
        guard=guard,
    )
    completion = engine.chat(messages, settings, cancel)
    if completion.finish_reason == "cancelled":
        return None
    return clean_text(completion.text, completion.finish_reason)


def _prompts(unit: Unit, method: str) -> tuple[list[Message], list[Message] | None]:
    book = unit.book
    if unit.scenario is None:
        return prompts.generic_good_messages(book), prompts.generic_weak_messages(book)
    scenario = unit.scenario
    chosen = prompts.chosen_messages(book, scenario.bring_forward, scenario.put_off)
    rejected = None if method == "sft" else prompts.rejected_messages(book, scenario.opposite)
    return chosen, rejected


def _run_unit(
    engine: Engine, unit: Unit, request: SynthesisRequest, cancel: CancelToken | None
) -> list[_Attempt] | None:
    """The unit's attempts, the last one kept when it has no problem; None when cancelled.

    A text that fails its own checks (too short, invented names, an echo of the prompt) is
    written again with the next seed, and a pair whose rejected text does not fall short of
    the chosen one gets another rejected text, up to `request.tries` generations per side.
    Retrying only the failing side costs far fewer generations per kept pair than discarding
    whole pairs.
    """
    base = unit_seed(request.seed, unit.key)
    book = unit.book
    guard = NameGuard(engine, book)  # one per unit: it remembers the words it has worked out
    scenario = unit.scenario
    chosen_prompt, rejected_prompt = _prompts(unit, request.method)
    attempts: list[_Attempt] = []
    chosen = None
    for attempt in range(request.tries):
        seed = base + 2 * attempt
        text = _generate(engine, book, guard, chosen_prompt, seed, cancel)
        if text is None:
            return None
        problem = single_text_problem(text, book, "chosen")
        if problem is None:
            chosen = text
            break
        attempts.append(_Attempt(text, None, problem, None, seed))
    if chosen is None or rejected_prompt is None:
        if chosen is not None:
            attempts.append(_Attempt(chosen, None, None, None, seed))
        return attempts
    for attempt in range(request.tries):
        seed = base + 2 * attempt + 1
        text = _generate(engine, book, guard, rejected_prompt, seed, cancel)
        if text is None:
            return None
        problem, margin = pair_problem(
            book,
            chosen,
            text,
            scenario.cues if scenario else (),
            scenario.opposite_cues if scenario else (),
        )
        attempts.append(_Attempt(chosen, text, problem, margin, seed))
        if problem is None:
            break
    return attempts


def _record(
    conn: sqlite3.Connection,
    unit: Unit,
    attempts: list[_Attempt],
    request: SynthesisRequest,
    run_id: int,
    teacher_id: str,
    profile_version: int | None,
    report: SynthesisReport,
) -> None:
    """Store the unit's failed attempts with their reasons and its pair, in one transaction
    (so an interrupted unit is redone whole on resume)."""
    scenario = unit.scenario
    kept = attempts[-1] if attempts and attempts[-1].problem is None else None
    with transaction(conn):
        scenario_id = None
        if scenario is not None:
            scenario_id = store.save_scenario(
                conn,
                profile_version,
                request.seed,
                unit.book.id,
                scenario.facets,
                {
                    "bring_forward": scenario.bring_forward,
                    "put_off": scenario.put_off,
                    "opposite": scenario.opposite,
                    "reason": scenario.reason,
                },
            )
        for attempt in attempts:
            if attempt is kept:
                continue
            store.add_candidate(
                conn,
                method=request.method,
                run_id=run_id,
                unit=unit.key,
                book_id=unit.book.id,
                scenario_id=scenario_id,
                chosen=attempt.chosen,
                rejected=attempt.rejected,
                reason=attempt.problem or "",
                model_id=teacher_id,
                seed=attempt.seed,
                template_version=prompts.TEACHER_TEMPLATE,
            )
            key = reason_kind(attempt.problem or "")
            report.reasons[key] = report.reasons.get(key, 0) + 1
        report.generations += _generations(attempts)
        if kept is None:
            report.rejected += 1
            return
        store.add_pair(
            conn,
            store.Pair(
                method=request.method,
                source="synthetic",
                run_id=run_id,
                unit=unit.key,
                book_id=unit.book.id,
                scenario_id=scenario_id,
                facets=scenario.facets if scenario else (),
                profile_version=profile_version,
                model_id=teacher_id,
                seed=unit_seed(request.seed, unit.key),
                template_version=f"{prompts.SERVE_TEMPLATE}/{prompts.TEACHER_TEMPLATE}",
                prompt=prompts.serve_messages(unit.book),
                chosen=kept.chosen,
                rejected=kept.rejected,
                fit_margin=kept.margin,
            ),
        )
        report.kept += 1


def _generations(attempts: list[_Attempt]) -> int:
    """Texts generated for a unit: every attempt wrote one, and the first pair attempt also
    wrote the chosen text it shares with the later ones."""
    pairs = sum(1 for a in attempts if a.rejected is not None)
    return len(attempts) + (1 if pairs else 0)
