"""Synthesizing preference pairs on the device, resumably, for GRAVITY and its baselines.

A run is a deterministic plan (books chosen for the reader, scenarios or generic slots per book)
stored with its settings; every finished unit leaves a pair or a rejected candidate, so running the
same command again resumes where the last run stopped. A book's units are written together: the
teacher writes all their texts side by side in one batch (`Engine.chat_batch`), sharing the
evaluated book facts (the common system prompt). A text that fails its checks is written again in
the next round (the failing side only), which keeps far more units than discarding the whole pair.
"""

from __future__ import annotations

import random
import sqlite3
import time
import zlib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from gravity_desktop.catalog.book import Book
from gravity_desktop.errors import UserError
from gravity_desktop.gravity import prompts
from gravity_desktop.gravity.filters import (
    FIT_FAILURE,
    fit_score,
    pair_problem,
    reason_kind,
    single_text_problem,
)
from gravity_desktop.gravity.name_guard import NameGuard
from gravity_desktop.gravity.scenarios import Scenario, derive_scenarios
from gravity_desktop.gravity.text import clean_text
from gravity_desktop.llm.engine import (
    CancelToken,
    Completion,
    Engine,
    GenerationSettings,
    Message,
)
from gravity_desktop.profile.profile import Profile
from gravity_desktop.recommend.ranking import recommend
from gravity_desktop.store import pairs as store
from gravity_desktop.store import transaction

METHODS = ("gravity", "naive", "sft")
MIN_SYNOPSIS_WORDS = 40
MAX_TOKENS = 100
# The teacher is asked for two or three sentences; the bundled model writes long ones and runs on
# to MAX_TOKENS. Ending at the first sentence end after this many words writes about 70 tokens a
# text instead of 98, without cutting one short of the length filter's minimum.
END_AFTER_WORDS = 45
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
    def settled(self) -> int:
        """Units finished in this run, with a pair or without."""
        return self.kept + self.rejected

    @property
    def pass_rate(self) -> float:
        return self.kept / self.settled if self.settled else 0.0

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

    def unit_finished(unit: Unit, attempts: list[_Attempt], generations: int) -> None:
        _record(conn, unit, attempts, request, run_id, teacher_id, version, report)
        report.generations += generations
        if progress is not None:
            done = report.settled
            elapsed = time.perf_counter() - started
            progress(
                SynthesisProgress(
                    done=report.already_done + done,
                    total=len(units),
                    kept=report.kept,
                    rejected=report.rejected,
                    eta_seconds=elapsed / done * (len(todo) - done),
                    book_title=unit.book.title,
                )
            )

    scheduler = _Scheduler(engine, todo, request, unit_finished)
    try:
        # Cancelled: the units not settled yet are redone on resume.
        report.stopped = not engine.chat_many(scheduler.take, scheduler.done, cancel)
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


@dataclass
class _UnitWork:
    """A unit while it is written: its texts so far and the generations asked per side.

    Both sides are asked for at once (the rejected text does not depend on the chosen one, only
    its check does); a side that fails is asked for again with the next seed.
    """

    unit: Unit
    chosen_prompt: list[Message]
    rejected_prompt: list[Message] | None
    base_seed: int
    guard: NameGuard
    asked: dict[str, int] = field(default_factory=lambda: {"chosen": 0, "rejected": 0})
    writing: set[str] = field(default_factory=set)  # sides asked for and not yet returned
    chosen: str | None = None
    chosen_seed: int = 0
    waiting: list[tuple[str, int]] = field(default_factory=list)  # rejected texts, unchecked
    attempts: list[_Attempt] = field(default_factory=list)
    generations: int = 0
    settled: bool = False

    def wanted(self, tries: int) -> list[str]:
        """The sides to ask the teacher for now."""
        sides = []
        if self.chosen is None and self.asked["chosen"] < tries:
            sides.append("chosen")
        if self.rejected_prompt is not None and not self.waiting and self.asked["rejected"] < tries:
            sides.append("rejected")
        return [side for side in sides if side not in self.writing]


class _Scheduler:
    """Feeds the teacher what the units need (`Engine.chat_many`'s take and done).

    Units start in plan order, so a book's units follow each other and share its evaluated
    facts in llama.cpp; a text asked for again goes ahead of new units, so that units settle
    (and are stored) soon after they start.
    """

    def __init__(
        self,
        engine: Engine,
        units: list[Unit],
        request: SynthesisRequest,
        finished: Callable[[Unit, list[_Attempt], int], None],
    ) -> None:
        self._engine = engine
        self._units = deque(units)
        self._request = request
        self._finished = finished
        self._queue: deque[tuple[_UnitWork, str, int]] = deque()
        self._guards: dict[str, NameGuard] = {}  # by book: it remembers the words it worked out

    def take(self) -> tuple[tuple[_UnitWork, str, int], list[Message], GenerationSettings] | None:
        if not self._queue and self._units:
            self._start(self._units.popleft())
        if not self._queue:
            return None
        work, side, seed = self._queue.popleft()
        prompt = work.chosen_prompt if side == "chosen" else work.rejected_prompt
        assert prompt is not None
        return (work, side, seed), prompt, _settings(work.unit.book, work.guard, seed)

    def done(self, key: tuple[_UnitWork, str, int], completion: Completion) -> None:
        work, side, seed = key
        work.writing.discard(side)
        work.generations += 1
        text = clean_text(completion.text, completion.finish_reason)
        if side == "chosen":
            problem = single_text_problem(text, work.unit.book, "chosen")
            if problem is None:
                work.chosen, work.chosen_seed = text, seed
            else:
                work.attempts.append(_Attempt(text, None, problem, None, seed))
        else:
            work.waiting.append((text, seed))
        _settle(work, self._request.tries)
        if work.settled:
            self._finished(work.unit, work.attempts, work.generations)
        else:
            self._queue.extendleft(reversed(self._ask(work)))

    def _start(self, unit: Unit) -> None:
        book = unit.book
        if book.id not in self._guards:
            # Units of earlier books still being written keep the guard they were given.
            self._guards = {book.id: NameGuard(self._engine, book)}
        chosen_prompt, rejected_prompt = _prompts(unit, self._request.method)
        seed = unit_seed(self._request.seed, unit.key)
        work = _UnitWork(unit, chosen_prompt, rejected_prompt, seed, self._guards[book.id])
        self._queue.extend(self._ask(work))

    def _ask(self, work: _UnitWork) -> list[tuple[_UnitWork, str, int]]:
        """The unit's next requests, counted as asked at once (so never queued twice)."""
        asked = []
        for side in work.wanted(self._request.tries):
            seed = work.base_seed + 2 * work.asked[side] + (side == "rejected")
            work.asked[side] += 1
            work.writing.add(side)
            asked.append((work, side, seed))
        return asked


def _settings(book: Book, guard: NameGuard, seed: int) -> GenerationSettings:
    return GenerationSettings(
        # Starting the reply with the title and author keeps a small teacher on the right book.
        assistant_prefix=f"{book.short_title} by {book.author}",
        max_tokens=MAX_TOKENS,
        end_after_words=END_AFTER_WORDS,
        temperature=TEMPERATURE,
        repeat_penalty=REPEAT_PENALTY,
        seed=seed,
        guard=guard,
    )


def _prompts(unit: Unit, method: str) -> tuple[list[Message], list[Message] | None]:
    book = unit.book
    if unit.scenario is None:
        return prompts.generic_good_messages(book), prompts.generic_weak_messages(book)
    scenario = unit.scenario
    chosen = prompts.chosen_messages(book, scenario.bring_forward, scenario.put_off)
    rejected = None if method == "sft" else prompts.rejected_messages(book, scenario.opposite)
    return chosen, rejected


def _settle(work: _UnitWork, tries: int) -> None:
    """Check the unit's waiting rejected texts against its chosen one. A unit is settled when
    it has a pair, or when a side it still needs has no tries left; never while the teacher is
    still writing one of its texts (every text written is accounted for).

    A pair that fails only the fit check is written again on the side at fault: the chosen text
    where it does not lean to the facet's pole at all (fit score 0 or below, which a rejected
    text rarely undercuts), keeping the rejected one for the next chosen text; else the rejected.
    """
    scenario = work.unit.scenario
    cues = scenario.cues if scenario else ()
    opposite = scenario.opposite_cues if scenario else ()
    if work.chosen is not None and work.rejected_prompt is None:
        work.attempts.append(_Attempt(work.chosen, None, None, None, work.chosen_seed))
        work.settled = True
        return
    while work.chosen is not None and work.waiting:
        text, seed = work.waiting.pop(0)
        problem, margin = pair_problem(work.unit.book, work.chosen, text, cues, opposite)
        work.attempts.append(_Attempt(work.chosen, text, problem, margin, seed))
        if problem is None:
            work.settled = True
            return
        if (
            reason_kind(problem) == FIT_FAILURE
            and fit_score(work.chosen, cues, opposite) <= 0
            and work.asked["chosen"] < tries
        ):
            work.chosen = None
            work.waiting.insert(0, (text, seed))
    if work.writing:
        return
    chosen_lost = work.chosen is None and work.asked["chosen"] >= tries
    rejected_lost = work.chosen is not None and not work.waiting and work.asked["rejected"] >= tries
    work.settled = chosen_lost or rejected_lost


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
