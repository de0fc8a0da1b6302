"""Choosing and loading the served model, the one way the CLI and the app both do it."""

from __future__ import annotations

from pathlib import Path

from gravity_desktop.app_context import Context
from gravity_desktop.llm.engine import Engine
from gravity_desktop.llm.registry import find_model, require_file


def load_engine(
    ctx: Context,
    model_id: str | None = None,
    *,
    adapter: Path | None = None,
    adapter_scale: float = 1.0,
) -> Engine:
    """Load `model_id`, else the model chosen in Settings, else the registry's default."""
    model = find_model(ctx.paths, ctx.conn, model_id or ctx.settings.serve_model or None)
    return Engine(
        require_file(model),
        adapter_path=adapter,
        adapter_scale=adapter_scale,
        chat_format=model.entry.chat_format,
        n_ctx=ctx.settings.n_ctx,
        n_threads=ctx.settings.n_threads,
        name=model.entry.name,
    )
