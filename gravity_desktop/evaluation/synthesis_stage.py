"""Stage 2: each training group's synthesized pairs, in rounds, up to the target count.

A round is one `gravity.synthesis.synthesize` run of BOOKS_PER_ROUND books x the scenarios per
book: GRAVITY pairs from each reader of the group in turn (in that reader's own store, from their
profile), naive pairs in the group's store without a profile. Rounds go on until the group has
the wanted number of kept pairs, or after MAX_UNITS_PER_PAIR units per wanted pair (the report
then says the target was not reached, and a method left with too few pairs to train is left out
of the comparison). Each finished round is a unit of the state file; an
interrupted round resumes inside `synthesize`.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from gravity_desktop.errors import UserError
from gravity_desktop.evaluation import groups
from gravity_desktop.evaluation.progress import synthesis_units_left
from gravity_desktop.evaluation.readers import stored_profile
from gravity_desktop.evaluation.state import Stopped
from gravity_desktop.gravity.synthesis import SynthesisProgress, SynthesisRequest, synthesize
from gravity_desktop.llm.engine import Engine
from gravity_desktop.llm.serving import load_teacher

if TYPE_CHECKING:
    from gravity_desktop.evaluation.runner import Evaluation

BOOKS_PER_ROUND = 2
MAX_UNITS_PER_PAIR = 12  # a pass rate under 1 in 12 leaves the target unmet (and reported)


def synthesize_pairs(ev: Evaluation) -> None:
    teacher: tuple[str, Engine] | None = None
    try:
        for group, method in groups.targets(ev.options.methods, ev.groups):
            teacher = _synthesize_group(ev, group, method, teacher)
    finally:
        if teacher is not None:
            teacher[1].close()


def _pairs_in(ev: Evaluation, group: groups.Group, method: str) -> int:
    if method == "naive":
        with ev.store(ev.group_root(group)) as ctx:
            return groups.count_usable(ctx.conn, method, ev.pool_ids)
    total = 0
    for reader in group.readers:
        with ev.store(ev.reader_root(reader)) as ctx:
            total += groups.count_usable(ctx.conn, method, ev.pool_ids)
    return total


def _synthesize_group(
    ev: Evaluation, group: groups.Group, method: str, teacher: tuple[str, Engine] | None
) -> tuple[str, Engine] | None:
    target = ev.options.pairs_per_adapter
    summary_key = f"pairs:{group.name}:{method}"
    if ev.state.done(summary_key):
        return teacher
    cap = target * MAX_UNITS_PER_PAIR
    index = 0
    while True:
        rounds = [
            ev.state.get(k) for k in ev.state.units if k.startswith(f"round:{group.name}:{method}:")
        ]
        tried = sum(r["kept"] + r["rejected"] + r.get("failed", 0) for r in rounds)
        have = _pairs_in(ev, group, method)
        ev.tracker.left["synthesis"] = _synthesis_left(ev, (group.name, method), have, tried)
        ev.tracker.report(
            "pairs", min(have, target), target, f"{group.name} {method}: {tried} units tried"
        )
        if have >= target or tried >= cap:
            break
        round_index, index = index, index + 1
        key = f"round:{group.name}:{method}:{round_index}"
        if ev.state.done(key):
            continue
        ev.check_cancel()
        # GRAVITY pairs come from each reader in turn; naive pairs need no profile.
        members = group.readers
        reader = None if method == "naive" else members[round_index % len(members)]
        root = ev.group_root(group) if reader is None else ev.reader_root(reader)
        with ev.store(root) as ctx:
            profile = None if reader is None else stored_profile(ctx)
            if teacher is None:
                teacher = load_teacher(ctx)
            request = SynthesisRequest(
                method,
                BOOKS_PER_ROUND,
                ev.options.scenarios_per_book,
                ev.options.seed * 1000 + round_index,
            )
            started = time.perf_counter()

            def show(p: SynthesisProgress, have: int = have, name: str = key) -> None:
                detail = f"{name}: unit {p.done}/{p.total}, {p.kept} kept in this round"
                ev.tracker.report("pairs", min(have + p.kept, target), target, detail)

            try:
                result = synthesize(
                    ctx.conn,
                    teacher[1],
                    teacher[0],
                    profile,
                    request,
                    progress=show,
                    cancel=ev.cancel,
                )
            except UserError:
                raise
            except Exception as exc:  # recorded and reported: see _failed_round
                ev.state.record(key, _failed_round(reader, request, exc, started))
                continue
        if result.stopped:
            raise Stopped()
        ev.tracker.spent("synthesis", time.perf_counter() - started, max(result.settled, 1))
        ev.state.record(
            key,
            {
                "reader": reader,
                "kept": result.kept,
                "rejected": result.rejected,
                "failed": 0,
                "seconds": round(result.seconds, 2),
                "reasons": result.reasons,
            },
        )
    ev.state.record(summary_key, {"pairs": have, "units": tried, "target_reached": have >= target})
    return teacher


def _failed_round(
    reader: str | None, request: SynthesisRequest, exc: Exception, started: float
) -> dict[str, object]:
    """A round that raised: recorded with its error and counted as tried, and the rounds go on.

    An evaluation runs for hours over code that is still changing; one unit tripping over a bug
    (for example in a filter) must not throw the rest away. The error is kept in the state file
    and listed in the report, so it is seen and fixed, not hidden. Pairs the round kept before
    the error stay in the store and count.
    """
    return {
        "reader": reader,
        "kept": 0,
        "rejected": 0,
        "failed": request.books * request.scenarios_per_book,
        "seconds": round(time.perf_counter() - started, 2),
        "error": f"{type(exc).__name__}: {exc}",
    }


def _synthesis_left(ev: Evaluation, current: tuple[str, str], have: int, tried: int) -> float:
    """Synthesis units still ahead: the current target's missing pairs, then the later
    targets, all at the pass rate seen so far in this run."""
    rounds = [v for k, v in ev.state.units.items() if k.startswith("round:")]
    kept_all = sum(r["kept"] for r in rounds)
    tried_all = sum(r["kept"] + r["rejected"] + r.get("failed", 0) for r in rounds)
    target = ev.options.pairs_per_adapter
    cap = target * MAX_UNITS_PER_PAIR
    left = synthesis_units_left(target - have, kept_all, tried_all, cap - tried)
    later = False
    for g, m in groups.targets(ev.options.methods, ev.groups):
        if later and not ev.state.done(f"pairs:{g.name}:{m}"):
            left += synthesis_units_left(target, kept_all, tried_all, cap)
        later = later or (g.name, m) == current
    return left
