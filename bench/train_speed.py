"""Training speed and memory of the worker: 64 pairs x 1 epoch on the bundled model, 2 cores.

Target (issue 6): within 60 s and under 3 GB peak RSS of the worker. The pairs are built from the
catalog synopses (a focused description against a flat one) so the figure does not depend on the
teacher; the first run also prepares the trainable base, which is timed separately.
Run: .venv/bin/python bench/train_speed.py [--pairs 64]
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time

os.environ.setdefault("GRAVITY_HOME", tempfile.mkdtemp(prefix="gravity-bench-"))

from gravity_desktop.app_context import opened
from gravity_desktop.gravity import prompts
from gravity_desktop.store import pairs as store
from gravity_desktop.store import transaction
from gravity_desktop.store.books import all_books
from gravity_desktop.training.config import TrainConfig
from gravity_desktop.training.job import run_training


def make_pairs(count: int) -> None:
    with opened() as ctx, transaction(ctx.conn):
        books = [b for b in all_books(ctx.conn) if len(b.synopsis.split()) > 60][:count]
        for book in books:
            words = book.synopsis.split()
            chosen = (
                f"{book.short_title} by {book.author} draws the reader into "
                f"{' '.join(words[:40])}. It is a book of ideas and imagination."
            )
            rejected = f"{book.short_title} by {book.author} is a book. {' '.join(words[40:70])}."
            store.add_pair(ctx.conn, store.Pair(
                method="gravity", source="synthetic", book_id=book.id,
                prompt=prompts.serve_messages(book), chosen=chosen, rejected=rejected,
            ))  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pairs", type=int, default=64)
    args = parser.parse_args()
    # 64 pairs to train on, plus the held-out share on top
    make_pairs(round(args.pairs / 0.8))
    timings: dict[str, float] = {}
    started = time.perf_counter()

    def on_event(event: dict) -> None:
        now = time.perf_counter() - started
        if event["event"] == "base_ready":
            timings["base_ready"] = now
        elif event["event"] == "done":
            timings["done"] = now
            timings["train"] = float(event["seconds"])

    config = TrainConfig(epochs=1, save_every=1000)
    with opened() as ctx:
        result = run_training(ctx, config, on_event=on_event)
    total = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"machine: {os.cpu_count()} cpus; bundled SmolLM2-135M; {args.pairs} pairs x 1 epoch")
    print(f"worker start to trainable base ready: {timings.get('base_ready', 0):.1f} s")
    print(
        f"training (trainer.train, DPO + LoRA r=8): {timings.get('train', 0):.1f} s"
        f" = {timings.get('train', 0) / args.pairs:.2f} s per pair-epoch (target: 64 in 60 s)"
    )
    print(f"export + held-out check + activation: {total - timings.get('done', total):.1f} s")
    print(f"peak RSS of the worker: {peak_mb:.0f} MB (target < 3072 MB)")
    print(result.message)


if __name__ == "__main__":
    main()
