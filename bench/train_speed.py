"""Training speed and memory of the worker: 64 pairs x 1 epoch on the bundled model, 2 cores.

Target (issue 6): within 60 s and under 3 GB peak RSS of the worker. The pairs are built from the
catalog synopses (a focused description against a flat one) so the figure does not depend on the
teacher; like `gravity pairs generate`, they come `--per-book` to a book (default 4), each under
the book's serving prompt. The same training runs once per `--run` (TrainConfig settings; default:
the defaults, then the LoRA on every layer at the rate that suits it, then the defaults again), in
one process, so that the host's drifting speed shows as the gap between the two runs of the
defaults; the first run also prepares the trainable base, which is timed separately.
Every run computes the reference log-probabilities and the held-out scores afresh (the kept ones
are deleted first); with --retrain one more run trains on the same pairs with them kept, as a
reader's next training does.
Run: .venv/bin/python bench/train_speed.py [--pairs 64] [--per-book 4] [--retrain]
         [--run precision=bf16 --run precision=bf16,gradient_checkpointing=false ...]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time

os.environ.setdefault("GRAVITY_HOME", tempfile.mkdtemp(prefix="gravity-bench-"))

from gravity_desktop.app_context import opened
from gravity_desktop.gravity import prompts
from gravity_desktop.store import pairs as store
from gravity_desktop.store import transaction
from gravity_desktop.store.books import all_books
from gravity_desktop.training import reference_cache
from gravity_desktop.training.config import TrainConfig
from gravity_desktop.training.heldout import KEPT_SUFFIX
from gravity_desktop.training.job import run_training


def make_pairs(count: int, per_book: int) -> None:
    """`count` pairs, `per_book` to a book, each of a book's pairs from other words of its
    synopsis, as a book's scenarios differ."""
    with opened() as ctx, transaction(ctx.conn):
        books = [b for b in all_books(ctx.conn) if len(b.synopsis.split()) > 60 + 5 * per_book]
        for n in range(count):
            book, k = books[n // per_book], n % per_book
            words = book.synopsis.split()[5 * k :]
            chosen = (
                f"{book.short_title} by {book.author} draws the reader into "
                f"{' '.join(words[:40])}. It is a book of ideas and imagination."
            )
            rejected = f"{book.short_title} by {book.author} is a book. {' '.join(words[40:70])}."
            store.add_pair(ctx.conn, store.Pair(
                method="gravity", source="synthetic", book_id=book.id,
                prompt=prompts.serve_messages(book), chosen=chosen, rejected=rejected,
            ))  # fmt: skip


def forget_kept_scores() -> None:
    """Every run but the retraining one computes the reference log-probabilities, and scores the
    held-out pairs with every model, as a first training run does (a run here trains the same
    adapter as an earlier one with the same settings, whose held-out scores would be kept)."""
    with opened() as ctx:
        for kept in ctx.paths.trainable_base.glob(f"*/{reference_cache.PREFIX}-*.json"):
            kept.unlink()
        for kept in ctx.paths.batch_weights.glob(f"*{KEPT_SUFFIX}"):
            kept.unlink()


def run_settings(text: str) -> dict[str, object]:
    """TrainConfig settings from "name=value,name=value" (numbers, true/false or words)."""
    settings: dict[str, object] = {}
    for item in filter(None, text.split(",")):
        name, _, value = item.partition("=")
        if value in ("true", "false"):
            settings[name] = value == "true"
        else:
            try:
                settings[name] = json.loads(value)
            except ValueError:
                settings[name] = value
    return settings


def train_once(settings: dict[str, object]) -> dict[str, object]:
    figures: dict[str, object] = {}
    started = time.perf_counter()

    def on_event(event: dict) -> None:
        now = time.perf_counter() - started
        if event["event"] == "start":
            figures["precision"] = ", ".join(
                [str(event.get("precision"))] + [f"{k}={v}" for k, v in settings.items()
                                                 if k != "precision"]
            )  # fmt: skip
        elif event["event"] == "base_ready":
            figures["base_ready"] = now
        elif event["event"] == "done":
            figures["done"] = now
            figures["train"] = float(event["seconds"])
            figures["peak_mb"] = event.get("peak_rss_mb")

    config = TrainConfig(**{"epochs": 1, "save_every": 1000, **settings})
    with opened() as ctx:
        result = run_training(ctx, config, on_event=on_event)
    figures["after"] = time.perf_counter() - started - float(figures.get("done", 0))
    figures["message"] = result.message
    figures["heldout"] = result.heldout
    return figures


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pairs", type=int, default=64)
    parser.add_argument("--per-book", type=int, default=4)
    parser.add_argument(
        "--run", action="append", help="TrainConfig settings of one run, e.g. precision=bf16"
    )
    parser.add_argument(
        "--retrain", action="store_true", help="train once more, on the kept reference log-probs"
    )
    args = parser.parse_args()
    # 64 pairs to train on, plus the held-out share on top
    make_pairs(round(args.pairs / 0.8), args.per_book)
    print(f"machine: {os.cpu_count()} cpus; bundled SmolLM2-135M; {args.pairs} pairs x 1 epoch,"
          f" {args.per_book} to a book")  # fmt: skip
    every_layer = "lora_layers=null,learning_rate=0.0002"
    settings = [run_settings(text) for text in args.run or ["", every_layer, ""]]
    runs = []
    for one in settings:
        forget_kept_scores()
        figures = train_once(one)
        runs.append(figures)
        print(report(figures, args.pairs))
    if args.retrain:
        figures = train_once(settings[-1])
        figures["precision"] = f"{figures['precision']}, retrained (reference log-probs kept)"
        runs.append(figures)
        print(report(figures, args.pairs))
    first = runs[0]
    for figures in runs[1:]:
        ratio = float(first.get("train", 0)) / max(float(figures.get("train", 0)), 1e-9)
        print(f"{figures.get('precision')} against the first run ({first.get('precision')}):"
              f" {ratio:.2f}x")  # fmt: skip


def report(figures: dict[str, object], pairs: int) -> str:
    heldout = figures["heldout"]
    if heldout is None:
        return f"{figures.get('precision')}: {figures['message']}"
    seconds = float(figures.get("train", 0))
    return (
        f"{figures.get('precision')}: worker start to trainable base ready"
        f" {float(figures.get('base_ready', 0)):.1f} s; training (DPO + LoRA r=8) {seconds:.1f} s"
        f" = {seconds / pairs:.2f} s per pair-epoch (target: 64 in 60 s); peak RSS of the worker"
        f" {figures.get('peak_mb')} MB (target < 3072 MB); export + held-out check + activation"
        f" {float(figures['after']):.1f} s; held-out reward accuracy {heldout.accuracy:.2f},"
        f" margin {heldout.margin:+.3f}"
    )


if __name__ == "__main__":
    main()
