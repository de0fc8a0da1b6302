"""Running a training job end to end, from the CLI or the app (no torch in this process).

1. gather the method's pairs plus the reader's feedback pairs (oversampled), split off a held-out
   set, and write them as JSONL into a job folder named after the data and settings;
2. run the worker process and relay its JSON progress lines (cancel = SIGTERM; the worker saves a
   checkpoint, and the same job resumes from it next time);
3. export the PEFT LoRA as a llama.cpp adapter under a temporary name, check that it loads and
   that its held-out reward accuracy (through llama.cpp) is not below the active adapter's, then
   make it active in one transaction. Anything failing before that leaves the active adapter as it
   was.

With a GPU helper (`run_training(..., helper=URL)`, docs/gpu-helper.md) steps 2 and the export run
on the helper, with the same worker and exporter (and from the same Hugging Face weights, for a
model imported with them); the adapter comes back with its sha256 and takes step 3 here, the same
check and activation as a local one.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial as partial_call
from pathlib import Path

from gravity_desktop.app_context import Context
from gravity_desktop.errors import UserError
from gravity_desktop.gravity.methods import training_pairs
from gravity_desktop.gravity.pairs_io import export_pairs, pair_record
from gravity_desktop.llm.batch_weights import batch_weights
from gravity_desktop.llm.engine import CancelToken, Engine
from gravity_desktop.llm.gguf_file import sha256_of
from gravity_desktop.llm.registry import find_model, require_file
from gravity_desktop.store import adapters as adapter_store
from gravity_desktop.store import transaction
from gravity_desktop.store.pairs import Pair
from gravity_desktop.training.config import MIN_PAIRS, TrainConfig
from gravity_desktop.training.gguf_export import export_adapter
from gravity_desktop.training.heldout import (
    HeldoutScore,
    KeptLogprobs,
    heldout_score,
    kept_scores_file,
)
from gravity_desktop.training.worker_process import Event, WorkerFailed, run_worker


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
    """Train / held-out split; held-out pairs are preference pairs.

    Each pair draws a fixed place from its id (not from the training seed), and is held out when
    the draw falls under the held-out share (at least 2 pairs are). So a pair stays on its side as
    pairs are added and across runs with other settings: an adapter is compared with the active
    one on pairs neither trained on, and the held-out scores kept from the last run still apply
    (training/heldout.py). `max_pairs` keeps a sample drawn the same way, with another salt.
    """
    ordered = sorted(pairs, key=lambda pair: _draw(pair, "sample"))
    if config.max_pairs is not None:
        ordered = ordered[: config.max_pairs]
    if len(ordered) < MIN_PAIRS:
        raise UserError(
            f"only {len(ordered)} pairs for the {config.method} method; at least {MIN_PAIRS} are"
            f" needed (gravity pairs generate --method {config.method})"
        )
    preference = [p for p in ordered if p.rejected is not None]
    heldout = [p for p in preference if _draw(p, "held-out") < config.heldout_share]
    if len(heldout) < 2:
        heldout = preference[:2]
    held = {id(p) for p in heldout}
    return [p for p in ordered if id(p) not in held], heldout


def _draw(pair: Pair, salt: str) -> float:
    """A fixed number in [0, 1) for the pair."""
    digest = hashlib.sha256(f"{salt}:{pair.id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


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


@dataclass(frozen=True)
class Plan:
    """What one training run learns from: the base model, the settings and the split pairs."""

    model_id: str
    base_gguf: Path
    base_sha: str
    config: TrainConfig
    train: list[Pair]
    heldout: list[Pair]


def reference_note(event: dict) -> str:
    """What a worker's "reference" event means, for the CLI and the app."""
    pairs, known = int(event.get("pairs") or 0), int(event.get("known") or 0)
    if known == 0:
        return f"Scoring {pairs} pairs with the base model…"
    return (
        f"Scoring {pairs - known} new pairs with the base model ({known} kept from earlier runs)…"
    )


def run_training(
    ctx: Context,
    config: TrainConfig,
    on_event: Callable[[Event], None] | None = None,
    cancel: CancelToken | None = None,
    model_id: str | None = None,
    helper: str | None = None,
) -> TrainingResult:
    """Train on this computer, or on the GPU helper at the URL `helper`; check, then activate."""
    model = find_model(ctx.paths, ctx.conn, model_id or ctx.settings.serve_model or None)
    base_gguf = require_file(model)
    pairs = training_pairs(ctx.conn, config.method)
    train, heldout = split_pairs(pairs, config)
    base_sha = model.sha256 or sha256_of(base_gguf)
    plan = Plan(model.entry.id, base_gguf, base_sha, config, train, heldout)
    if helper is not None:
        return _train_on_helper(ctx, plan, helper, on_event, cancel, model.trainable_path)
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
                    "cache_root": str(ctx.paths.trainable_base),
                    "trainable_weights": (
                        str(model.trainable_path) if model.trainable_path else None
                    ),
                    "config": config.as_json(),
                },
                indent=2,
            ),
            encoding="utf-8",
        )
    except OSError as exc:
        raise UserError(f"cannot write the training job to {job}: {exc.strerror}") from exc
    restarts: list[str] = []

    def relay(event: Event) -> None:
        if event.get("event") == "restart":  # the checkpoint could not be read
            restarts.append(str(event.get("reason", "")))
        if on_event is not None:
            on_event(event)

    try:
        outcome = run_worker(job, relay, (lambda: cancel.cancelled) if cancel else None)
    except WorkerFailed as exc:
        raise UserError(f"training failed: {exc}; the active adapter is unchanged") from exc
    resumed = resumed and not restarts
    if outcome == "cancelled":
        stopped = "training stopped; run it again to resume from the last checkpoint"
        return TrainingResult(None, False, resumed, True, None, None, stopped)
    adapter_id, partial = _new_adapter_file(ctx, config)
    try:
        export_adapter(job / "peft", base_gguf, partial)
    except Exception as exc:
        partial.unlink(missing_ok=True)
        raise UserError(
            f"the trained adapter failed its check ({exc}); nothing was activated"
        ) from exc
    result = _check_and_activate(ctx, plan, adapter_id, partial, "local", resumed, on_event)
    shutil.rmtree(job, ignore_errors=True)
    if restarts:
        started_clean = f"; started clean because {restarts[0]}"
        result = replace(result, message=result.message + started_clean)
    return result


def _helper_record(pair: Pair) -> dict[str, object]:
    """What the helper receives of a pair: its prompt and texts, none of its provenance."""
    record = pair_record(pair)
    record.pop("metadata", None)
    return record


def _train_on_helper(
    ctx: Context,
    plan: Plan,
    url: str,
    on_event: Callable[[Event], None] | None,
    cancel: CancelToken | None,
    weights: Path | None = None,
) -> TrainingResult:
    """Train on the GPU helper, then check and activate the adapter exactly as after local training.

    Only the training pairs (oversampled as locally), the settings and the base model (or just its
    sha256 when the helper has it) are sent; the held-out pairs stay here for the check. A model
    imported with its Hugging Face `weights` trains from them there as here, so they are sent too
    (their safetensors, JSON and chat template files; only a digest once the helper has them),
    after the same check as at import, so that a folder changed since fails here, by name.
    """
    from gravity_desktop.llm.hf_weights import check_weights, helper_files
    from gravity_desktop.training.helper_access import ca_cert_for
    from gravity_desktop.training.helper_client import HelperError, connected

    weights_files = None
    if weights is not None:
        try:
            check_weights(weights, plan.base_gguf)
            weights_files = helper_files(weights)
        except UserError as exc:
            raise UserError(
                f"the model's Hugging Face weights cannot go to the GPU helper: {exc}; nothing"
                " was sent"
            ) from exc
    records = [_helper_record(p) for p in _oversampled(plan.train, plan.config.feedback_weight)]
    adapter_id, partial = _new_adapter_file(ctx, plan.config)
    should_stop = (lambda: cancel.cancelled) if cancel else None
    try:
        with connected(url, ca_cert_for(ctx.settings, url)) as client:
            job_id = client.submit(
                plan.base_gguf, plan.base_sha, plan.config.as_json(), records, on_event,
                weights_files,
            )  # fmt: skip
            try:
                sha256 = client.follow(job_id, on_event, should_stop)
                if sha256 is None:
                    stopped = "training on the GPU helper stopped; its data there is deleted"
                    return TrainingResult(None, False, False, True, None, None, stopped)
                if on_event is not None:
                    on_event({"event": "downloading"})
                client.download_adapter(job_id, sha256, partial)
            finally:
                client.delete(job_id)  # at once, whatever the helper's retention
    except HelperError as exc:
        raise HelperError(
            f"{exc}; nothing was activated, and training on this computer is still available"
        ) from exc
    return _check_and_activate(ctx, plan, adapter_id, partial, "helper", False, on_event)


def _new_adapter_file(ctx: Context, config: TrainConfig) -> tuple[str, Path]:
    """A new adapter's id and the temporary name it has until it passes its check."""
    adapter_id = f"{time.strftime('%Y%m%d-%H%M%S')}-{config.method}"
    final = ctx.paths.adapters / f"{adapter_id}.gguf"
    return adapter_id, final.with_name(final.name + ".partial")


def _check_and_activate(
    ctx: Context,
    plan: Plan,
    adapter_id: str,
    partial: Path,
    source: str,
    resumed: bool,
    on_event: Callable[[Event], None] | None,
) -> TrainingResult:
    """Load the adapter in llama.cpp, score it on the held-out pairs, keep it, maybe activate it.

    Scoring evaluates whole prompts, which llama.cpp does about 1.6x as fast on the Q8_0 copy of
    a Q4_1 model that pair synthesis writes with (llm/batch_weights.py); its held-out margins
    stayed within 1% of the Q4_1 file's (docs/training.md).
    """
    config, heldout = plan.config, plan.heldout
    weights = batch_weights(plan.base_gguf, ctx.paths.batch_weights, plan.base_sha)
    scorer = partial_call(
        Engine, weights, n_ctx=1024, scoring=True, n_threads=ctx.settings.n_threads
    )
    if on_event:
        on_event({"event": "evaluating", "heldout_pairs": len(heldout)})
    kept = KeptLogprobs(kept_scores_file(ctx.paths.batch_weights, plan.base_sha))
    reference = kept.scores(weights.name, heldout, scorer)

    def score_of(adapter: Path, sha256: str) -> HeldoutScore:
        policy = kept.scores(
            f"{weights.name}+{sha256}", heldout, partial_call(scorer, adapter_path=adapter)
        )
        return heldout_score(policy, reference, config.beta)

    adapter_sha = sha256_of(partial)
    try:
        # Loads it in llama.cpp, unless these very bytes were loaded and scored before.
        score = score_of(partial, adapter_sha)
    except Exception as exc:
        partial.unlink(missing_ok=True)
        raise UserError(
            f"the trained adapter failed its check ({exc}); nothing was activated"
        ) from exc
    previous = adapter_store.active(ctx.conn)
    previous_score = None
    if previous is not None and previous.base_sha256 == plan.base_sha and previous.path.is_file():
        previous_score = score_of(previous.path, previous.sha256)
    kept.save()
    activate = previous_score is None or score.accuracy >= previous_score.accuracy
    note = "" if activate else (
        f"not activated: held-out accuracy {score.accuracy:.2f} is below the active adapter's"
        f" {previous_score.accuracy:.2f}"
    )  # fmt: skip
    final = partial.with_name(partial.name.removesuffix(".partial"))
    partial.replace(final)
    record = adapter_store.Adapter(
        id=adapter_id, path=final, sha256=adapter_sha, base_model=plan.model_id,
        base_sha256=plan.base_sha, method=config.method, pairs=len(plan.train),
        heldout_pairs=len(heldout), heldout_accuracy=score.accuracy, heldout_margin=score.margin,
        config_json=json.dumps(config.as_json()), source=source, note=note, created_at="",
    )  # fmt: skip
    with transaction(ctx.conn):
        adapter_store.add(ctx.conn, record)
        if activate:
            adapter_store.activate(ctx.conn, adapter_id)
    where = " on the GPU helper" if source == "helper" else ""
    message = (
        f"adapter {adapter_id} trained{where} on {len(plan.train)} pairs; held-out reward accuracy"
        f" through llama.cpp {score.accuracy:.2f} (margin {score.margin:+.3f}) on {len(heldout)}"
        " pairs"
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
