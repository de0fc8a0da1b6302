"""Stage 4: every method's description of every reader's held-out books.

Descriptions are written by `gravity.describe.describe` into the reader's own store, one engine
at a time (the base model for base and prompt, then each group's adapter for its readers), with
the same sampling seed for every method of one (reader, book), so that methods differ by what
they are and not by the luck of the draw.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from gravity_desktop.evaluation import groups
from gravity_desktop.evaluation.readers import stored_profile
from gravity_desktop.evaluation.state import Stopped
from gravity_desktop.gravity.describe import describe
from gravity_desktop.gravity.methods import method as method_info
from gravity_desktop.llm.engine import Engine
from gravity_desktop.llm.serving import load_engine, serving_model_id
from gravity_desktop.store import pairs as pair_store

if TYPE_CHECKING:
    from gravity_desktop.evaluation.runner import Evaluation


def item_seed(seed: int, reader: str, book: str) -> int:
    """The sampling seed of every method's description of one book for one reader."""
    return zlib.crc32(f"{seed}:{reader}:{book}".encode()) & 0x7FFFFFFF


def _engines(ev: Evaluation) -> Iterator[tuple[str | None, list[str], list[str]]]:
    """(adapter path or None, methods, readers) for each engine the descriptions need."""
    untrained = [m for m in ev.options.methods if method_info(m).trains is None]
    if untrained:
        yield None, untrained, [r.id for r in ev.readers]
    for group, method in groups.adapters_to_train(ev.options.methods, ev.groups):
        trained = ev.state.get(f"train:{group.name}:{method}")
        if "adapter" in trained:
            yield str(ev.out / trained["adapter"]), [method], list(group.readers)


def describe_items(ev: Evaluation) -> None:
    total = len(ev.readers) * ev.options.books_per_user * len(ev.options.methods)
    done = sum(1 for k in ev.state.units if k.startswith("describe:"))
    for adapter, methods, readers in _engines(ev):
        todo = [
            (reader, index, method)
            for reader in readers
            for index in range(ev.options.books_per_user)
            for method in methods
            if not ev.state.done(f"describe:{reader}:#{index}:{method}")
        ]
        if not todo:
            continue
        ev.check_cancel()
        with ev.store(ev.reader_root(readers[0])) as ctx:
            engine = load_engine(ctx, adapter=Path(adapter) if adapter else None)
            model_id = serving_model_id(ctx)
        try:
            for reader, index, method in todo:
                ev.check_cancel()
                _describe_one(ev, engine, model_id, adapter, reader, index, method)
                done += 1
                ev.tracker.report("descriptions", done, total, f"{reader} {method}")
        finally:
            engine.close()


def _describe_one(
    ev: Evaluation,
    engine: Engine,
    model_id: str,
    adapter: str | None,
    reader: str,
    index: int,
    method: str,
) -> None:
    book = ev.books[ev.held_out_books(reader)[index]]
    started = time.perf_counter()
    with ev.store(ev.reader_root(reader)) as ctx:
        written = describe(
            ctx.conn,
            engine,
            model_id,
            book,
            stored_profile(ctx),
            method=method,
            adapter_id=Path(adapter).stem if adapter else None,
            seed=item_seed(ev.options.seed, reader, book.id),
            cancel=ev.cancel,
        )
    if written.finish_reason == "cancelled":
        raise Stopped()
    seconds = time.perf_counter() - started
    ev.tracker.spent("description", seconds)
    ev.state.record(
        f"describe:{reader}:#{index}:{method}",
        {
            "book": book.id,
            "description_id": written.description_id,
            "seconds": round(seconds, 2),
        },
    )


def description_texts(
    ev: Evaluation, reader: str, index: int, methods: list[str]
) -> dict[str, str] | None:
    """The methods' descriptions of the reader's index-th book; None if one is missing."""
    found = {}
    with ev.store(ev.reader_root(reader)) as ctx:
        for method in methods:
            key = f"describe:{reader}:#{index}:{method}"
            if not ev.state.done(key):
                return None
            stored = pair_store.get_description(ctx.conn, ev.state.get(key)["description_id"])
            if stored is None:
                return None
            found[method] = stored.text
    return found
