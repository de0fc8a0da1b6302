"""`gravity eval` end to end: readers, pairs, adapters, descriptions, judges, report; resumable.

Everything lives under the output folder DIR:

    DIR/state.json            settings and every finished unit (resume = run the same command)
    DIR/readers/<id>/         each simulated reader's own data root (database: profile, shelf,
                              pairs, descriptions), made with the same store and profile code
    DIR/groups/<name>/        each training group's data root (pooled pairs, adapters)
    DIR/trainable-base/       the float32 training base, prepared once and shared by the groups
    DIR/batch-weights/        the teacher's Q8_0 copy, written once and shared by every root
    DIR/report.md, results.json, descriptions.jsonl, *.png

Stages run in order and each skips the units the state file already holds. Cancelling (Ctrl-C)
stops at the next unit boundary (synthesis and training stop cleanly inside theirs).
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from gravity_desktop.app_context import Context
from gravity_desktop.catalog.bundled import bundled_books
from gravity_desktop.config import Paths
from gravity_desktop.evaluation import groups, held_out
from gravity_desktop.evaluation.description_stage import describe_items
from gravity_desktop.evaluation.judging import judge_items
from gravity_desktop.evaluation.options import EvalOptions, Helper, LlmJudgeModel
from gravity_desktop.evaluation.progress import (
    PRIOR_PASS_RATE,
    EvalProgress,
    Tracker,
)
from gravity_desktop.evaluation.readers import (
    SimulatedReader,
    open_reader_store,
    sample_readers,
    stored_profile,
)
from gravity_desktop.evaluation.report import write_report
from gravity_desktop.evaluation.state import RunState, Stopped
from gravity_desktop.evaluation.synthesis_stage import synthesize_pairs
from gravity_desktop.evaluation.training_stage import train_adapters
from gravity_desktop.llm.engine import CancelToken


@dataclass
class RunOutcome:
    out: Path
    stopped: bool
    files: list[Path] = field(default_factory=list)
    headline: list[str] = field(default_factory=list)


@contextmanager
def interrupt_cancels(cancel: CancelToken) -> Iterator[None]:
    """The first Ctrl-C asks the run to stop at a unit boundary; a second one stops at once."""

    def handler(signum: int, frame: object) -> None:
        if cancel.cancelled:
            raise KeyboardInterrupt
        cancel.cancel()

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


class Evaluation:
    """One run's settings, readers, groups, held-out pool and state; the stages work on it."""

    def __init__(
        self,
        out: Path,
        options: EvalOptions,
        llm_judges: list[LlmJudgeModel],
        use_embedding: bool,
        progress: Callable[[EvalProgress], None] | None,
        cancel: CancelToken | None,
        helper: Helper | None = None,
        threads: int = 0,
    ) -> None:
        options.check()
        self.helper = helper
        self.threads = threads
        self.out = out.resolve()
        self.options = options
        self.llm_judges = llm_judges
        self.use_embedding = use_embedding
        self.cancel = cancel
        self.readers = sample_readers(options.users, list(options.countries), options.seed)
        self.state = RunState.open(self.out, options.settings())  # after the options are checked
        self.tracker = Tracker(progress)
        self.groups = groups.make_groups(
            [(r.id, r.country) for r in self.readers], options.adapters
        )
        self.pool = held_out.draw_pool(
            bundled_books(), held_out.pool_size(options.books_per_user), options.seed
        )
        self.pool_ids = {b.id for b in self.pool}
        self.books = {b.id: b for b in bundled_books()}

    # -- paths and stores -------------------------------------------------------------------

    @contextmanager
    def store(self, root: Path, reader: SimulatedReader | None = None) -> Iterator[Context]:
        """A simulated data root, opened for one unit of work and closed after it."""
        ctx = open_reader_store(root, reader.answers if reader else None, self.threads)
        try:
            self._share_caches(ctx.paths)
            yield ctx
        finally:
            ctx.conn.close()

    def reader_root(self, reader: str) -> Path:
        return self.out / "readers" / reader

    def group_root(self, group: groups.Group) -> Path:
        """The group's data root; made on first use with the held-out books shelved."""
        root = self.out / "groups" / group.name
        if not root.exists():
            with self.store(root) as ctx:
                held_out.shelve(ctx.conn, self.pool)
        return root

    def _share_caches(self, paths: Paths) -> None:
        """Link a data root's model caches (the training base, the teacher's Q8_0 copy) to the
        run's, so that each is written once per run rather than once per group or reader.
        Without symlinks each root writes its own: slower, same result."""
        for cache in (paths.trainable_base, paths.batch_weights):
            shared = self.out / cache.name
            shared.mkdir(exist_ok=True)
            if not cache.exists():
                with contextlib.suppress(OSError):
                    cache.symlink_to(shared, target_is_directory=True)

    def check_cancel(self) -> None:
        if self.cancel is not None and self.cancel.cancelled:
            raise Stopped()

    def held_out_books(self, reader: str) -> list[str]:
        return list(self.state.get(f"reader:{reader}")["books"])

    # -- the run --------------------------------------------------------------------------------

    def run(self) -> RunOutcome:
        self._plan_eta()
        try:
            self._prepare_readers()
            if groups.trained(self.options.methods):
                synthesize_pairs(self)
                train_adapters(self)
            describe_items(self)
            verdicts = judge_items(self)
        except Stopped:
            return RunOutcome(self.out, stopped=True)
        self.tracker.report("report", 0, 1, "writing report.md, results.json and charts")
        files, headline = write_report(self, verdicts)
        return RunOutcome(self.out, stopped=False, files=files, headline=headline)

    def _plan_eta(self) -> None:
        o = self.options
        left = self.tracker.left
        left["training"] = sum(
            1
            for g, m in groups.adapters_to_train(o.methods, self.groups)
            if not self.state.done(f"train:{g.name}:{m}")
        )
        left["synthesis"] = sum(
            o.pairs_per_adapter / PRIOR_PASS_RATE
            for g, m in groups.targets(o.methods, self.groups)
            if not self.state.done(f"pairs:{g.name}:{m}")
        )
        left["description"] = sum(
            1
            for r in self.readers
            for i in range(o.books_per_user)
            for m in o.methods
            if not self.state.done(f"describe:{r.id}:#{i}:{m}")
        )
        items = len(self.readers) * o.books_per_user
        pairs = len(o.methods) * (len(o.methods) - 1)  # both orders of every pair of methods
        left["comparison"] = len(self.llm_judges) * items * pairs
        left["embedding"] = 1.0 if self.use_embedding else 0.0

    # -- readers --------------------------------------------------------------------------------

    def _prepare_readers(self) -> None:
        """Each reader's store and held-out books; the books are chosen (and recorded) before
        the pool is shelved, since the shelf hides them from the recommendations."""
        for position, reader in enumerate(self.readers):
            key = f"reader:{reader.id}"
            self.check_cancel()
            with self.store(self.reader_root(reader.id), reader) as ctx:
                if not self.state.done(key):
                    profile = stored_profile(ctx)
                    chosen = held_out.books_for_reader(
                        ctx.conn, profile, self.pool, self.options.books_per_user
                    )
                    self.state.record(
                        key,
                        {
                            "country": reader.country,
                            "books": [b.id for b in chosen],
                            "profile_version": profile.version,
                        },
                    )
                held_out.shelve(ctx.conn, self.pool)
            self.tracker.report("readers", position + 1, len(self.readers), reader.id)


def run_evaluation(
    out: Path,
    options: EvalOptions,
    *,
    use_embedding: bool,
    llm_models: list[LlmJudgeModel],
    progress: Callable[[EvalProgress], None] | None = None,
    cancel: CancelToken | None = None,
    helper: Helper | None = None,
    threads: int = 0,
) -> RunOutcome:
    """Run (or resume) the evaluation in `out` and write its report.

    `threads` is llama.cpp's thread count for generation and judging, and caps the workers'.
    0 (the default) lets each llama.cpp request use the cores free when it starts: its threads
    wait for each other at every step, and on a machine busy with other work two threads ran 16
    times slower than one (docs/evaluation.md).
    """
    evaluation = Evaluation(
        out, options, llm_models, use_embedding, progress, cancel, helper, threads
    )
    with _worker_threads(threads):
        return evaluation.run()


@contextmanager
def _worker_threads(threads: int) -> Iterator[None]:
    """Cap the training and embedding workers' threads too (they inherit the environment):
    torch's threads also wait for each other. A value the user set is left alone."""
    if threads <= 0 or "OMP_NUM_THREADS" in os.environ:
        yield
        return
    os.environ["OMP_NUM_THREADS"] = str(threads)
    try:
        yield
    finally:
        del os.environ["OMP_NUM_THREADS"]
