"""Training groups: whose pairs train which adapter, and how the pooled data is put together.

The faithful design is one adapter per reader and trained method. On a 2-core CPU that is out of
reach beyond a handful of readers (each adapter needs its own synthesized pairs and its own
training run), so the default is a cohort approximation: one adapter per country and trained
method, trained on the pooled pairs of that country's simulated readers (naive: one for all).
`--adapters reader` trains per reader, `--adapters all` one adapter per method for everybody; the
report says which.

Data per trained method (docs/evaluation.md):
- gravity: the readers' own profile-grounded pairs (synthesized in each reader's store);
- sft: the chosen texts of those same pairs, so SFT and GRAVITY see the same preferred texts and
  differ only in the rejected ones and the objective;
- naive: generic vivid-vs-vague pairs synthesized without a profile, in the store of one group
  of all readers (`groups_for`).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, replace

from gravity_desktop.app_context import Context
from gravity_desktop.errors import UserError
from gravity_desktop.gravity.methods import method as method_info
from gravity_desktop.gravity.methods import training_pairs
from gravity_desktop.store import pairs as pair_store
from gravity_desktop.store import transaction

GRANULARITIES = ("country", "reader", "all")
# Which synthesized pairs each trained method learns from.
SOURCE_METHOD = {"gravity": "gravity", "sft": "gravity", "naive": "naive"}


@dataclass(frozen=True)
class Group:
    name: str  # "country-BR", "reader-BR-003" or "all"
    readers: tuple[str, ...]  # reader ids


def make_groups(readers: list[tuple[str, str]], granularity: str) -> list[Group]:
    """Groups from (reader id, country) pairs, in reader order."""
    if granularity not in GRANULARITIES:
        raise UserError(f"--adapters {granularity!r} is not one of {list(GRANULARITIES)}")
    if granularity == "all":
        return [Group("all", tuple(r for r, _ in readers))]
    if granularity == "reader":
        return [Group(f"reader-{r}", (r,)) for r, _ in readers]
    countries = list(dict.fromkeys(c for _, c in readers))
    return [
        Group(f"country-{c}", tuple(r for r, country in readers if country == c)) for c in countries
    ]


def groups_for(method: str, by_profile: list[Group]) -> list[Group]:
    """The groups a method trains adapters for.

    Naive pairs carry no profile, so one naive adapter serves every reader; it is trained on as
    many pairs as one group's GRAVITY adapter. (Per-group naive adapters would differ only in
    their random draws of the same generic data, at several times the synthesis cost.)
    """
    if SOURCE_METHOD[method] == "naive":
        return [Group("all", tuple(r for g in by_profile for r in g.readers))]
    return by_profile


def targets(methods: tuple[str, ...], by_profile: list[Group]) -> list[tuple[Group, str]]:
    """(group, synthesis method) for every pair target, GRAVITY's first."""
    return [(g, m) for m in synthesized(methods) for g in groups_for(m, by_profile)]


def adapters_to_train(methods: tuple[str, ...], by_profile: list[Group]) -> list[tuple[Group, str]]:
    return [(g, m) for m in trained(methods) for g in groups_for(m, by_profile)]


def trained(methods: tuple[str, ...]) -> list[str]:
    return [m for m in methods if method_info(m).trains is not None]


def synthesized(methods: tuple[str, ...]) -> list[str]:
    """The synthesis methods the trained methods need, without repeats."""
    return list(dict.fromkeys(SOURCE_METHOD[m] for m in trained(methods)))


def count_usable(conn: sqlite3.Connection, method: str, held_out: set[str]) -> int:
    """Synthesized preference pairs of `method` in a store that may be used for training."""
    return sum(
        1
        for p in pair_store.pairs(conn, method=method, source="synthetic")
        if p.rejected is not None and p.book_id not in held_out
    )


def pool_pairs(
    group: Context, members: list[sqlite3.Connection], method: str, held_out: set[str]
) -> tuple[int, int]:
    """Copy the members' pairs for `method` into the group's store (idempotently).

    Returns (pairs available for training, pairs left out because their book is held out).
    """
    dropped = 0
    if method in ("gravity", "sft"):
        with transaction(group.conn):
            for conn in members:
                for pair in pair_store.pairs(conn, method="gravity", source="synthetic"):
                    if pair.rejected is None:
                        continue
                    if pair.book_id in held_out:
                        dropped += 1
                        continue
                    # The run and scenario rows live in the member's store, not the group's.
                    copy = replace(pair, id=None, run_id=None, scenario_id=None, created_at=None)
                    if method == "sft":
                        copy = replace(copy, method="sft", rejected=None, fit_margin=None)
                    if not pair_store.pair_exists(
                        group.conn, copy.prompt, copy.chosen, copy.rejected
                    ):
                        pair_store.add_pair(group.conn, copy)
    data = training_pairs(group.conn, method)
    leaked = sorted({p.book_id for p in data if p.book_id in held_out})
    if leaked:
        raise RuntimeError(f"held-out books {leaked} reached the {method} training data")
    return len(data), dropped
