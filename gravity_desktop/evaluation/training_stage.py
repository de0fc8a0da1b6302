"""Stage 3: one adapter per training group and trained method, through `run_training`.

The group's store receives the pooled pairs (`groups.pool_pairs`), the previous adapter is
deactivated so each one is checked on its own, and `training.job.run_training` trains it in its
worker process (or on the GPU helper), exports it and scores it on its held-out pairs. A group
with fewer pairs than training needs is recorded as skipped, and the method is then left out of
the comparison (for every reader, so that all methods compared are compared on the same items).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from gravity_desktop.evaluation import groups
from gravity_desktop.evaluation.readers import open_reader_store
from gravity_desktop.evaluation.state import Stopped
from gravity_desktop.store import adapters as adapter_store
from gravity_desktop.training.config import MIN_PAIRS, TrainConfig
from gravity_desktop.training.helper_access import SETTINGS_KEY as HELPER_SETTINGS
from gravity_desktop.training.job import activate_adapter, run_training

if TYPE_CHECKING:
    from gravity_desktop.evaluation.runner import Evaluation


def train_adapters(ev: Evaluation) -> None:
    jobs = groups.adapters_to_train(ev.options.methods, ev.groups)
    for position, (group, method) in enumerate(jobs):
        key = f"train:{group.name}:{method}"
        ev.tracker.report("training", position, len(jobs), f"{group.name} {method}")
        if ev.state.done(key):
            continue
        ev.check_cancel()
        ev.state.record(key, _train_one(ev, group, method, (position, len(jobs))))
    ev.tracker.report("training", len(jobs), len(jobs))


def _train_one(
    ev: Evaluation, group: groups.Group, method: str, place: tuple[int, int]
) -> dict[str, object]:
    started = time.perf_counter()
    with ev.store(ev.group_root(group)) as ctx, _members(ev, group) as members:
        available, dropped = groups.pool_pairs(ctx, members, method, ev.pool_ids)
        if available < MIN_PAIRS:
            ev.tracker.skipped("training")
            return {
                "skipped": f"only {available} pairs (training needs {MIN_PAIRS})",
                "pairs": available,
                "dropped_held_out": dropped,
            }
        activate_adapter(ctx, None)  # nothing to compare against: each adapter stands alone
        config = TrainConfig(method=method, epochs=ev.options.epochs, seed=ev.options.seed)
        if ev.helper is not None and ev.helper.settings:
            ctx.settings.extra[HELPER_SETTINGS] = ev.helper.settings

        def relay(event: dict) -> None:
            if event.get("event") == "progress":
                detail = f"{group.name} {method}: step {event['step']}/{event['max_steps']}"
                ev.tracker.report("training", *place, detail)

        result = run_training(
            ctx,
            config,
            on_event=relay,
            cancel=ev.cancel,
            helper=ev.helper.url if ev.helper else None,
        )
        if result.cancelled:
            raise Stopped()
        assert result.adapter_id is not None
        adapter = adapter_store.get(ctx.conn, result.adapter_id)
        assert adapter is not None
    seconds = time.perf_counter() - started
    ev.tracker.spent("training", seconds)
    return {
        "adapter_id": adapter.id,
        "adapter": str(adapter.path.relative_to(ev.out)),
        "pairs": available,
        "trained_pairs": adapter.pairs,
        "heldout_pairs": adapter.heldout_pairs,
        "heldout_accuracy": adapter.heldout_accuracy,
        "heldout_margin": adapter.heldout_margin,
        "dropped_held_out": dropped,
        "seconds": round(seconds, 1),
    }


@contextmanager
def _members(ev: Evaluation, group: groups.Group) -> Iterator[list[sqlite3.Connection]]:
    contexts = [open_reader_store(ev.reader_root(r)) for r in group.readers]
    try:
        yield [c.conn for c in contexts]
    finally:
        for c in contexts:
            c.conn.close()
