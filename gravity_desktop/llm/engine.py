"""The llama.cpp engine: one loaded model (plus an optional LoRA adapter) that streams chat replies.

Follows llama-cpp-python's high-level `Llama` API: one object, explicit parameters, streaming
iterators. Two things shape it:
- llama.cpp applies a LoRA adapter when the model is constructed, and its KV cache is only valid
  for the weights it was computed with. So an adapter change builds a fresh `Engine`
  (`with_adapter`) and never reuses the old object's cache.
- A seeded request re-evaluates its whole prompt (see `Stream`); unseeded ones may reuse the
  cached prefix of the previous prompt, which makes repeated system prompts cheap.
- The GUI streams and cancels from other threads. A lock serializes generation on one engine;
  a `CancelToken` set from any thread stops the stream at the next token.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from gravity_desktop.errors import ModelFileError
from gravity_desktop.llm.gguf_file import GGUFInfo, check_adapter_matches, inspect

if TYPE_CHECKING:
    from llama_cpp import Llama

Message = dict[str, str]


class CancelToken:
    """Set from any thread to stop a running generation at the next token."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()


@dataclass(frozen=True)
class GenerationSettings:
    """Sampling settings. With a fixed `seed`, the same prompt gives the same text."""

    max_tokens: int = 256
    temperature: float = 0.7
    top_p: float = 0.95
    seed: int | None = None
    stop: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class Completion:
    text: str
    finish_reason: str  # "stop", "length" or "cancelled"
    tokens: int
    seconds: float


class Engine:
    def __init__(
        self,
        model_path: Path | str,
        *,
        adapter_path: Path | str | None = None,
        adapter_scale: float = 1.0,
        chat_format: str = "gguf",
        n_ctx: int = 2048,
        n_threads: int = 0,
        name: str = "",
    ) -> None:
        self.model_info: GGUFInfo = inspect(model_path)
        self.adapter_info: GGUFInfo | None = None
        if adapter_path is not None:
            self.adapter_info = inspect(adapter_path, expect="adapter")
            check_adapter_matches(self.adapter_info, self.model_info)
        self.name = name or self.model_info.name
        self.adapter_scale = adapter_scale
        self.chat_format = chat_format
        self.n_ctx = n_ctx
        self.n_threads = n_threads or max(1, os.cpu_count() or 1)
        self._lock = threading.Lock()
        started = time.perf_counter()
        self._llama = self._load()
        self.load_seconds = time.perf_counter() - started

    def _load(self) -> Llama:
        from llama_cpp import Llama

        kwargs: dict[str, object] = {
            "model_path": str(self.model_info.path),
            "n_ctx": self.n_ctx,
            "n_threads": self.n_threads,
            "n_threads_batch": self.n_threads,
            "verbose": False,
        }
        if self.chat_format != "gguf":
            kwargs["chat_format"] = self.chat_format
        if self.adapter_info is not None:
            kwargs["lora_path"] = str(self.adapter_info.path)
            kwargs["lora_scale"] = self.adapter_scale
        try:
            return Llama(**kwargs)
        except (ValueError, RuntimeError) as exc:
            what = self.adapter_info.path if self.adapter_info else self.model_info.path
            raise ModelFileError(f"{what}: llama.cpp could not load it ({exc})") from exc

    @property
    def description(self) -> str:
        text = self.name
        if self.adapter_info is not None:
            text += f" + adapter {self.adapter_info.path.name} x{self.adapter_scale:g}"
        return text

    def with_adapter(self, adapter_path: Path | str | None, scale: float = 1.0) -> Engine:
        """A new engine on the same model with another adapter (fresh weights and KV cache)."""
        return Engine(
            self.model_info.path,
            adapter_path=adapter_path,
            adapter_scale=scale,
            chat_format=self.chat_format,
            n_ctx=self.n_ctx,
            n_threads=self.n_threads,
            name=self.name,
        )

    def stream_chat(
        self,
        messages: Sequence[Message],
        settings: GenerationSettings = GenerationSettings(),
        cancel: CancelToken | None = None,
    ) -> Stream:
        """The reply piece by piece; stops early when `cancel` is set."""
        return Stream(self, messages, settings, cancel)

    def chat(
        self,
        messages: Sequence[Message],
        settings: GenerationSettings = GenerationSettings(),
        cancel: CancelToken | None = None,
    ) -> Completion:
        started = time.perf_counter()
        stream = self.stream_chat(messages, settings, cancel)
        text = "".join(stream)
        return Completion(
            text=text,
            finish_reason=stream.finish_reason,
            tokens=stream.tokens,
            seconds=time.perf_counter() - started,
        )

    def close(self) -> None:
        with self._lock:
            self._llama.close()


class Stream:
    """An iterator over reply pieces that remembers why it ended.

    After iteration, `finish_reason` is "stop" (end of turn or a stop string), "length"
    (max_tokens reached) or "cancelled".
    """

    def __init__(
        self,
        engine: Engine,
        messages: Sequence[Message],
        settings: GenerationSettings,
        cancel: CancelToken | None,
    ) -> None:
        self._engine = engine
        self._messages = list(messages)
        self._settings = settings
        self._cancel = cancel
        self.finish_reason = ""
        self.tokens = 0

    def __iter__(self) -> Iterator[str]:
        settings = self._settings
        llama = self._engine._llama
        with self._engine._lock:
            if settings.seed is not None:
                # Reusing the KV cache of an earlier prompt evaluates the tail in a smaller batch,
                # which changes the logits in the last bits; a seeded request starts clean so the
                # same seed always gives the same text.
                llama.reset()
            chunks = llama.create_chat_completion(
                messages=self._messages,
                max_tokens=settings.max_tokens,
                temperature=settings.temperature,
                top_p=settings.top_p,
                seed=settings.seed,
                stop=list(settings.stop) or None,
                stream=True,
            )
            try:
                for chunk in chunks:
                    if self._cancel is not None and self._cancel.cancelled:
                        self.finish_reason = "cancelled"
                        return
                    choice = chunk["choices"][0]
                    piece = choice["delta"].get("content")
                    if piece:
                        self.tokens += 1
                        yield piece
                    if choice.get("finish_reason"):
                        self.finish_reason = choice["finish_reason"]
            finally:
                chunks.close()
