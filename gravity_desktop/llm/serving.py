"""Choosing and loading the served model, the one way the CLI and the app both do it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from gravity_desktop.app_context import Context
from gravity_desktop.errors import UserError
from gravity_desktop.llm.batch_weights import batch_weights
from gravity_desktop.llm.engine import Engine
from gravity_desktop.llm.registry import ModelStatus, find_model, require_file
from gravity_desktop.store.adapters import Adapter
from gravity_desktop.store.adapters import active as active_adapter


def load_engine(
    ctx: Context,
    model_id: str | None = None,
    *,
    adapter: Path | None = None,
    adapter_scale: float = 1.0,
) -> Engine:
    """Load `model_id`, else the model chosen in Settings, else the registry's default."""
    model = find_model(ctx.paths, ctx.conn, model_id or ctx.settings.serve_model or None)
    return _engine(ctx, model, adapter, adapter_scale)


def serving_model_id(ctx: Context, model_id: str | None = None) -> str:
    return find_model(ctx.paths, ctx.conn, model_id or ctx.settings.serve_model or None).entry.id


def serving_adapter(ctx: Context) -> Adapter | None:
    """The active adapter, if it was trained on the model being served."""
    from gravity_desktop.llm.gguf_file import sha256_of

    adapter = active_adapter(ctx.conn)
    if adapter is None or not adapter.path.is_file():
        return None
    model = find_model(ctx.paths, ctx.conn, ctx.settings.serve_model or None)
    expected = model.sha256 or (sha256_of(model.path) if model.path else "")
    return adapter if adapter.base_sha256 == expected else None


def load_teacher(
    ctx: Context, model_id: str | None = None, note: Callable[[str], None] | None = None
) -> tuple[str, Engine]:
    """The teacher for pair synthesis: `model_id`, else Settings' teacher, else the default.

    It writes its texts side by side, so it runs on a copy of the weights in a format llama.cpp
    multiplies in batches quickly where the model's own format does not (llm/batch_weights.py;
    made once, about 12 s for the bundled model, which `note` is told about).
    """
    model = find_model(ctx.paths, ctx.conn, model_id or ctx.settings.teacher_model or None)
    if "teacher" not in model.entry.roles:
        raise UserError(f"model {model.entry.id} is not registered as a teacher")
    weights = batch_weights(
        require_file(model), ctx.paths.batch_weights, model.sha256 or None, note
    )
    return model.entry.id, _engine(ctx, model, None, 1.0, weights)


def _engine(
    ctx: Context,
    model: ModelStatus,
    adapter: Path | None,
    adapter_scale: float,
    weights: Path | None = None,
) -> Engine:
    return Engine(
        weights or require_file(model),
        adapter_path=adapter,
        adapter_scale=adapter_scale,
        chat_format=model.entry.chat_format,
        n_ctx=ctx.settings.n_ctx,
        n_threads=ctx.settings.n_threads,
        name=model.entry.name,
    )
