"""Running a training job end to end, from the CLI or the app (no torch in this process).

1. gather the method's pairs plus the reader's feedback pairs (oversampled), split off a held-out
   set, and write them as JSONL into a job folder named after the data and settings;
2. run the worker process and relay its JSON progress lines (cancel = SIGTERM; the worker saves a
   checkpoint, and the same job resumes from it next time);
3. export the PEFT LoRA as a llama.cpp adapter under a temporary name, check that it loads and
   that its held-out reward accuracy (through llama.cpp) is not below the active adapter's, then
   make it active in one transaction. Anything failing before that leaves the active adapter as it
   was.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from gravity_desktop.app_context import Context
from gravity_desktop.errors import UserError
from gravity_desktop.gravity.methods import training_pairs
from gravity_desktop.gravity.pairs_io import export_pairs
from gravity_desktop.llm.engine import CancelToken, Engine
from gravity_desktop.llm.gguf_file import sha256_of
from gravity_desktop.llm.registry import find_model, require_file
from gravity_desktop.store import adapters as adapter_store
from gravity_desktop.store import transaction
from gravity_desktop.store.pairs import Pair
from gravity_desktop.training.config import MIN_PAIRS, TrainConfig
from gravity_desktop.training.gguf_export import export_adapter
from gravity_desktop.training.heldout import HeldoutScore, heldout_score, reference_logprobs

Event = dict[str, object]


@dataclass(frozen=True)
class TrainingResult:
    adapter_id: str | None
    activated: bool
    resumed: bool
    cancelled: bool
    heldout: HeldoutScore | None
    previous_heldout: HeldoutScore | None
    message: str


def split_pairs(pairs: list[Pair], config: TrainConfig) -> tuple[list[Pair], list[Pair]]:
    """Deterministic train / held-out split; held-out pairs are preference pairs."""
    rng = random.Random(config.seed)
    shuffled = sorted(pairs, key=lambda p: p.id or 0)
    rng.shuffle(shuffled)
    if config.max_pairs is not None:
        shuffled = shuffled[: config.max_pairs]
    if len(shuffled) < MIN_PAIRS:
        raise UserError(
            f"only {len(shuffled)} pairs for the {config.method} method; at least {MIN_PAIRS} are"
            f" needed (gravity pairs generate --method {config.method})"
        )
    preference = [p for p in shuffled if p.rejected is not None]
    count = max(2, round(config.heldout_share * len(shuffled)))
    heldout = preference[:count]
    train = [p for p in shuffled if p not in heldout]
    return train, heldout


def _oversampled(pairs: list[Pair], weight: int) -> list[Pair]:
    out: list[Pair] = []
    for pair in pairs:
        out.extend([pair] * (weight if pair.source == "feedback" else 1))
    return out


def _job_dir(ctx: Context, base_sha: str, config: TrainConfig, train: list[Pair]) -> Path:
    key = json.dumps(
        {"base": base_sha, "config": config.as_json(), "pairs": [p.id for p in train]},
        sort_keys=True,
    )
    return ctx.paths.root / "training" / hashlib.sha256(key.encode()).hexdigest()[:16]


def run_training(
    ctx: Context,
    config: TrainConfig,
    on_event: Callable[[Event], None] | None = None,
    cancel: CancelToken | None = None,
    model_id: str | None = None,
) -> TrainingResult:
    model = find_model(ctx.paths, ctx.conn, model_id or ctx.settings.serve_model or None)
    base_gguf = require_file(model)
    pairs = training_pairs(ctx.conn, config.method)
    train, heldout = split_pairs(pairs, config)
    base_sha = model.sha256 or sha256_of(base_gguf)
    job = _job_dir(ctx, base_sha, config, train)
    resumed = (job / "checkpoints").is_dir() and any((job / "checkpoints").iterdir())
    try:
        job.mkdir(parents=True, exist_ok=True)
        export_pairs(_oversampled(train, config.feedback_weight), job / "train.jsonl")
        export_pairs(heldout, job / "heldout.jsonl")
        (job / "job.json").write_text(
            json.dumps(
                {
                    "base_gguf": str(base_gguf),
                    "cache_root": str(ctx.paths.root / "trainable-base"),
                    "config": config.as_json(),
                },
                indent=2,
            ),
            encoding="utf-8",
        )
    except OSError as exc:
        raise UserError(f"cannot write the training job to {job}: {exc.strerror}") from exc
    outcome = _run_worker(job, on_event, cancel)
    if outcome == "cancelled":
        stopped = "training stopped; run it again to resume from the last checkpoint"
        return TrainingResult(None, False, resumed, True, None, None, stopped)
    return _finish(
        ctx, model.entry.id, base_gguf, base_sha, config, job, train, heldout, resumed, on_event
    )


def _run_worker(
    job: Path, on_event: Callable[[Event], None] | None, cancel: CancelToken | None
) -> str:
    env = {**os.environ, "TOKENIZERS_PARALLELISM": "false", "HF_HUB_OFFLINE": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "gravity_desktop.training.dpo_worker", str(job)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    error = ""
    state = {"stopping": False}

    def watch_cancel() -> None:
        while process.poll() is None:
            if cancel is not None and cancel.cancelled and not state["stopping"]:
                state["stopping"] = True
                process.send_signal(signal.SIGTERM)
            time.sleep(0.2)

    watcher = threading.Thread(target=watch_cancel, daemon=True)
    watcher.start()
    assert process.stdout is not None
    outcome = "failed"
    for line in process.stdout:
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            continue
        if on_event is not None:
            on_event(event)
        kind = event.get("event")
        if kind == "done":
            outcome = "done"
        elif kind == "cancelled":
            outcome = "cancelled"
        elif kind == "error":
            error = str(event.get("message", ""))
    _, stderr = process.communicate()
    watcher.join(timeout=1)
    if outcome == "done" and process.returncode == 0:
        return "done"
    if outcome == "cancelled" or (state["stopping"] and process.returncode != 0):
        return "cancelled"
    if not error:
        tail = [line for line in (stderr or "").splitlines() if line.strip()][-1:]
        error = tail[0] if tail else f"the worker exited with status {process.returncode}"
    if "No module named" in error:
        error += " (the training stack is not installed: run `make install-train`)"
    raise UserError(f"training failed: {error}; the active adapter is unchanged")


def _finish(
    ctx: Context,
    model_id: str,
    base_gguf: Path,
    base_sha: str,
    config: TrainConfig,
    job: Path,
    train: list[Pair],
    heldout: list[Pair],
    resumed: bool,
    on_event: Callable[[Event], None] | None,
) -> TrainingResult:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    adapter_id = f"{stamp}-{config.method}"
    final = ctx.paths.adapters / f"{adapter_id}.gguf"
    partial = final.with_name(final.name + ".partial")
    try:
        export_adapter(job / "peft", base_gguf, partial)
        policy = Engine(base_gguf, adapter_path=partial, n_ctx=1024, scoring=True)
    except Exception as exc:
        partial.unlink(missing_ok=True)
        raise UserError(
            f"the trained adapter failed its check ({exc}); nothing was activated"
        ) from exc
    base = Engine(base_gguf, n_ctx=1024, scoring=True)
    if on_event:
        on_event({"event": "evaluating", "heldout_pairs": len(heldout)})
    reference = reference_logprobs(base, heldout)
    score = heldout_score(policy, heldout, reference, config.beta)
    policy.close()
    previous = adapter_store.active(ctx.conn)
    previous_score = None
    if previous is not None and previous.base_sha256 == base_sha and previous.path.is_file():
        engine = Engine(base_gguf, adapter_path=previous.path, n_ctx=1024, scoring=True)
        previous_score = heldout_score(engine, heldout, reference, config.beta)
        engine.close()
    base.close()
    activate = previous_score is None or score.accuracy >= previous_score.accuracy
    note = "" if activate else (
        f"not activated: held-out accuracy {score.accuracy:.2f} is below the active adapter's"
        f" {previous_score.accuracy:.2f}"
    )  # fmt: skip
    partial.replace(final)
    record = adapter_store.Adapter(
        id=adapter_id, path=final, sha256=sha256_of(final), base_model=model_id,
        base_sha256=base_sha, method=config.method, pairs=len(train), heldout_pairs=len(heldout),
        heldout_accuracy=score.accuracy, heldout_margin=score.margin,
        config_json=json.dumps(config.as_json()), source="local", note=note, created_at="",
    )  # fmt: skip
    with transaction(ctx.conn):
        adapter_store.add(ctx.conn, record)
        if activate:
            adapter_store.activate(ctx.conn, adapter_id)
    shutil.rmtree(job, ignore_errors=True)
    message = (
        f"adapter {adapter_id} trained on {len(train)} pairs; held-out reward accuracy through"
        f" llama.cpp {score.accuracy:.2f} (margin {score.margin:+.3f}) on {len(heldout)} pairs"
    )
    if previous_score is not None:
        message += f"; the previous adapter had {previous_score.accuracy:.2f}"
    message += "; now active" if activate else f"; {note}"
    return TrainingResult(adapter_id, activate, resumed, False, score, previous_score, message)


def activate_adapter(ctx: Context, adapter_id: str | None) -> None:
    if adapter_id is not None:
        found = adapter_store.get(ctx.conn, adapter_id)
        if found is None:
            raise UserError(f"no adapter {adapter_id!r} (see gravity adapters list)")
        if not found.path.is_file():
            raise UserError(f"{found.path}: the adapter file is missing")
    with transaction(ctx.conn):
        adapter_store.activate(ctx.conn, adapter_id)


def rollback(ctx: Context) -> str | None:
    """Activate the adapter that was active before the current one; returns its id."""
    history = adapter_store.activations(ctx.conn)
    if len(history) < 2:
        raise UserError("there is no earlier adapter to roll back to")
    current = history[-1]
    for earlier in reversed(history[:-1]):
        if earlier != current:
            activate_adapter(ctx, earlier)
            return earlier
    raise UserError("there is no earlier adapter to roll back to")
