"""The llama.cpp engine: one loaded model (plus an optional LoRA adapter) that streams chat replies.

Follows llama-cpp-python's high-level `Llama` API: one object, explicit parameters, streaming
iterators. Two things shape it:
- llama.cpp applies a LoRA adapter when the model is constructed, and its KV cache is only valid
  for the weights it was computed with. So an adapter change builds a fresh `Engine`
  (`with_adapter`) and never reuses the old object's cache.
- A seeded request re-evaluates its whole prompt (see `Stream`); unseeded ones may reuse the
  cached prefix of the previous prompt, which makes repeated system prompts cheap.
- Many short replies (pair synthesis) are written side by side by `chat_batch` (llm/batch.py),
  on a second llama.cpp context with parallel sequences.
- The GUI streams and cancels from other threads. A lock serializes generation on one engine;
  a `CancelToken` set from any thread stops the stream at the next token.
- llama.cpp's threads meet at a spinning barrier after every step of the graph. When another
  process (a training worker, a busy laptop) holds the other cores, a thread spins through its
  whole time slice waiting for one that is not running: on 2 busy cores, 2 threads scored 50x
  slower than 1. With automatic threads (`n_threads=0`), each request uses only the cores that
  are free when it starts (`free_cores`).
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Callable, Hashable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from gravity_desktop.errors import ModelFileError
from gravity_desktop.llm.gguf_file import GGUFInfo, check_adapter_matches, inspect

if TYPE_CHECKING:
    import numpy as np
    from llama_cpp import Llama

    from gravity_desktop.llm.batch import PromptTokens

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
    repeat_penalty: float = 1.0
    seed: int | None = None
    stop: tuple[str, ...] = field(default_factory=tuple)
    # Text the reply must begin with (for example "Dune by Frank Herbert"); the model continues
    # it. The returned text includes the prefix.
    assistant_prefix: str = ""
    # Called before each token with the tokens so far; returns a boolean numpy mask over the
    # vocabulary, True for the tokens that may not come next (gravity/name_guard.py rules out
    # names a book's facts do not contain).
    guard: Callable[[Sequence[int]], np.ndarray] | None = None
    # When above 0, the reply ends with the first sentence that ends after this many words (the
    # prefix counted): a text asked for in a few sentences need not run on to max_tokens and then
    # lose the sentence it was cut in.
    end_after_words: int = 0


# A sentence's last characters; "Dr." and the initials of "J. R. R. Tolkien" end none.
_SENTENCE_END = re.compile(r"[.!?][\"'\u201d)]?$")
_NOT_AN_END = re.compile(r"(?:\b(?:Mr|Mrs|Ms|Dr|St|Jr|Sr)|\b[A-Z])\.$")


def ends_reply(text: str, piece: str, settings: GenerationSettings) -> bool:
    """Whether the reply `text` (prefix included) ends before `piece`, the next token's text,
    by `settings.end_after_words`: `piece` starts a new sentence and `text` is long enough."""
    if settings.end_after_words <= 0 or not piece[:1].isspace():
        return False
    text = text.rstrip()
    return (
        _SENTENCE_END.search(text) is not None
        and _NOT_AN_END.search(text) is None
        and len(text.split()) >= settings.end_after_words
    )


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
        scoring: bool = False,
        parallel: int = 8,
    ) -> None:
        self.model_info: GGUFInfo = inspect(model_path)
        self.adapter_info: GGUFInfo | None = None
        if adapter_path is not None:
            self.adapter_info = inspect(adapter_path, expect="adapter")
            check_adapter_matches(self.adapter_info, self.model_info)
        self.name = name or self.model_info.name
        self.scoring = scoring  # keep the logits of every position, for completion_logprobs
        self.parallel = parallel  # replies `chat_many` writes at a time
        self.adapter_scale = adapter_scale
        self.chat_format = chat_format
        self.n_ctx = n_ctx
        self.threads_setting = n_threads  # 0: as many as there are free cores, per request
        self.n_threads = n_threads or max(1, os.cpu_count() or 1)
        self._lock = threading.Lock()
        self._formatter = None
        self._pieces: list[str] | None = None
        self._batch_decoder = None  # llm/batch.py's parallel context, made on first use
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
            "logits_all": self.scoring,
        }
        if self.chat_format != "gguf":
            kwargs["chat_format"] = self.chat_format
        if self.adapter_info is not None:
            kwargs["lora_path"] = str(self.adapter_info.path)
            kwargs["lora_scale"] = self.adapter_scale
        try:
            llama = Llama(**kwargs)
        except (ValueError, RuntimeError) as exc:
            what = self.adapter_info.path if self.adapter_info else self.model_info.path
            raise ModelFileError(f"{what}: llama.cpp could not load it ({exc})") from exc
        # llama.cpp returns a NULL adapter for tensors that do not fit the model, and
        # llama-cpp-python then serves the bare model without a word; refuse instead.
        if self.adapter_info is not None and not llama._lora_adapter:
            llama.close()
            raise ModelFileError(
                f"{self.adapter_info.path}: llama.cpp rejected the adapter (its tensors do not"
                f" fit {self.model_info.path.name})"
            )
        return llama

    @property
    def description(self) -> str:
        text = self.name
        if self.adapter_info is not None:
            text += f" + adapter {self.adapter_info.path.name} x{self.adapter_scale:g}"
        return text

    def token_pieces(self) -> list[str]:
        """The text of every token of the vocabulary, by id (computed once per engine)."""
        if self._pieces is None:
            llama = self._llama
            self._pieces = [
                llama.detokenize([token]).decode("utf-8", errors="replace")
                for token in range(llama.n_vocab())
            ]
        return self._pieces

    def format_prompt(self, messages: Sequence[Message]) -> tuple[list[int], list[str]]:
        """The chat-formatted prompt as tokens, and its stop strings (GGUF chat template)."""
        if self._formatter is None:
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter

            template = self._llama.metadata.get("tokenizer.chat_template")
            if not template:
                raise ModelFileError(f"{self.model_info.path}: the GGUF has no chat template")
            model = self._llama._model
            eos, bos = self._llama.token_eos(), self._llama.token_bos()
            self._formatter = Jinja2ChatFormatter(
                template=template,
                eos_token=model.token_get_text(eos) if eos != -1 else "",
                bos_token=model.token_get_text(bos) if bos != -1 else "",
                stop_token_ids=[eos],
            )
        formatted = self._formatter(messages=list(messages))
        tokens = self._llama.tokenize(
            formatted.prompt.encode(), add_bos=not formatted.added_special, special=True
        )
        stops = formatted.stop if isinstance(formatted.stop, list) else [formatted.stop or ""]
        return tokens, [stop for stop in stops if stop]

    def completion_logprobs(
        self, messages: Sequence[Message], completions: Sequence[str]
    ) -> list[list[float]]:
        """Log-probability of each token of each completion, as the reply to `messages`.

        Needs an engine built with `scoring=True`. The prompt is evaluated once; before each
        completion the KV cache is cut back to the prompt. The part of the prompt that is still
        in the KV cache from the previous call (pairs of one book share their whole prompt, judge
        questions their instructions) is not evaluated again, and the scores do not depend on
        it: the rest of the prompt is evaluated in one batch, as it would be from scratch. Used
        to measure DPO rewards through llama.cpp, to judge, and to compare llama.cpp with
        transformers token by token.
        """
        import numpy as np

        if not self.scoring:
            raise ValueError("completion_logprobs needs an engine created with scoring=True")
        llama = self._llama
        prompt, _ = self.format_prompt(messages)
        start = len(prompt)
        results = []
        with self._lock:
            self._fit_threads()
            cached = llama.input_ids[: min(llama.n_tokens, start)]
            differs = np.flatnonzero(cached != np.asarray(prompt[: len(cached)]))
            kept = int(differs[0]) if len(differs) else len(cached)
            # With the whole prompt cached, its last token's logits (which score the first token
            # of every completion) are still in `scores`: evaluating that token again, alone,
            # takes llama.cpp's one-token path, whose logits differ from the batch path's (0.15
            # nats for one token on the Q4_1 model here), so a pair's score would depend on what
            # was scored before it.
            llama.n_tokens = kept
            if kept < start:
                llama.eval(prompt[kept:])
            for completion in completions:
                answer = llama.tokenize(completion.encode(), add_bos=False, special=False)
                llama._ctx.kv_cache_seq_rm(-1, start, -1)
                llama.n_tokens = start
                llama.eval(answer)
                logits = np.asarray(llama.scores[start - 1 : start + len(answer) - 1])
                shifted = logits - logits.max(axis=1, keepdims=True)
                log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
                results.append([float(log_probs[i, token]) for i, token in enumerate(answer)])
        return results

    def with_adapter(self, adapter_path: Path | str | None, scale: float = 1.0) -> Engine:
        """A new engine on the same model with another adapter (fresh weights and KV cache)."""
        return Engine(
            self.model_info.path,
            adapter_path=adapter_path,
            adapter_scale=scale,
            chat_format=self.chat_format,
            n_ctx=self.n_ctx,
            n_threads=self.threads_setting,
            name=self.name,
            scoring=self.scoring,
            parallel=self.parallel,
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

    def chat_batch(
        self,
        requests: Sequence[tuple[Sequence[Message], GenerationSettings]],
        cancel: CancelToken | None = None,
    ) -> list[Completion]:
        """Replies to a list of requests, written side by side (`chat_many`), in request order;
        a reply left unfinished by `cancel` has finish_reason "cancelled"."""
        replies = [Completion("", "cancelled", 0, 0.0)] * len(requests)
        queue = iter(enumerate(requests))

        def take() -> tuple[int, Sequence[Message], GenerationSettings] | None:
            item = next(queue, None)
            return None if item is None else (item[0], *item[1])

        def done(index: Hashable, completion: Completion) -> None:
            replies[index] = completion

        self.chat_many(take, done, cancel)
        return replies

    def chat_many(self, take: Callable, done: Callable, cancel: CancelToken | None = None) -> bool:
        """Write replies side by side (llm/batch.py) until `take` has no more requests.

        `take()` gives the next (key, messages, settings) or None while there is none; each
        finished reply goes to `done(key, completion)` at once, so the caller may answer it with
        new requests (pair synthesis asks again for a text that failed its checks). Far faster
        than one `chat` after another for many short replies. False when cancelled.
        """
        from gravity_desktop.llm.batch import BatchDecoder

        with self._lock:
            if self._batch_decoder is None:
                self._batch_decoder = BatchDecoder(self, sequences=self.parallel)
            if not self.threads_setting:
                self._batch_decoder.set_threads(free_cores(self.n_threads))
            return self._batch_decoder.run(take, done, cancel)

    @property
    def batch_prompt_tokens(self) -> PromptTokens:
        """Prompt tokens `chat_many` was asked for and evaluated so far (the rest were shared)."""
        from gravity_desktop.llm.batch import PromptTokens

        decoder = self._batch_decoder
        return PromptTokens() if decoder is None else decoder.prompt_tokens

    def close(self) -> None:
        with self._lock:
            if self._batch_decoder is not None:
                self._batch_decoder.close()
            self._llama.close()

    def _fit_threads(self) -> None:
        """With automatic threads, use the cores free right now (called holding the lock)."""
        if not self.threads_setting:
            threads = free_cores(self.n_threads)
            self._llama._ctx.set_n_threads(threads, threads)


RULED_OUT = 10_000.0  # far more than a language model's logits ever span


def _ruling_out(guard: Callable[[Sequence[int]], np.ndarray]) -> Callable:
    """A llama-cpp-python logits processor that rules out the tokens `guard` marks."""

    def processor(input_ids: Sequence[int], scores):  # numpy arrays
        rule_out(scores, guard(input_ids))
        return scores

    return processor


def rule_out(scores: np.ndarray, ruled: np.ndarray) -> None:
    """Lower the float32 `scores` that the boolean `ruled` marks by `RULED_OUT`, so that no
    sampler picks them: they fall below every other score, and their weight after softmax is
    exactly 0 (exp(-10000) underflows). This beats assigning -inf through the mask twice over:
    adding a multiple of the mask's bytes costs about a tenth of that assignment, and the lowered
    scores stay distinct, where thousands of equal ones (inside a capitalised word the guard
    rules out nearly everything) slow top-k selection with argpartition down many-fold."""
    import numpy as np

    scores += ruled.view(np.uint8) * np.float32(-RULED_OUT)


def free_cores(cores: int, loadavg: str = "/proc/loadavg", tasks: str = "/proc/self/task") -> int:
    """How many of `cores` no other process's thread is running on at this moment (at least 1).

    Reads the count of runnable threads from /proc/loadavg (Linux), less this process's own
    runnable threads (this one, and a llama.cpp worker of the last step that may still be
    spinning, which would otherwise take a core away from the request, a whole synthesis run's
    worth); where that is not available, all cores count as free.
    """
    try:
        with open(loadavg) as numbers:
            running = int(numbers.read().split()[3].split("/")[0])
    except (OSError, ValueError, IndexError):
        return cores
    if running <= 1:  # this thread alone: no need to read this process's threads
        return cores
    return max(1, min(cores, cores - (running - _own_runnable(tasks))))


def _own_runnable(tasks: str) -> int:
    """This process's runnable threads (state R in /proc/self/task/*/stat), at least 1."""
    count = 0
    try:
        for task in os.scandir(tasks):
            try:
                with open(os.path.join(task.path, "stat")) as stat:
                    count += stat.read().rsplit(")", 1)[1].split()[0] == "R"
            except (OSError, IndexError):
                continue  # a thread that ended meanwhile
    except OSError:
        pass
    return max(1, count)


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
            self._engine._fit_threads()
            if settings.seed is not None:
                # Reusing the KV cache of an earlier prompt evaluates the tail in a smaller batch,
                # which changes the logits in the last bits; a seeded request starts clean so the
                # same seed always gives the same text.
                llama.reset()
            sampling = {
                "max_tokens": settings.max_tokens,
                "temperature": settings.temperature,
                "top_p": settings.top_p,
                "repeat_penalty": settings.repeat_penalty,
                "seed": settings.seed,
                "stream": True,
            }
            if settings.guard is not None:
                sampling["logits_processor"] = [_ruling_out(settings.guard)]
            if settings.assistant_prefix:
                prompt, stops = self._engine.format_prompt(self._messages)
                chunks = llama.create_completion(
                    prompt=prompt
                    + llama.tokenize(settings.assistant_prefix.encode(), add_bos=False),
                    stop=[*settings.stop, *stops] or None,
                    **sampling,
                )
                yield settings.assistant_prefix
            else:
                chunks = llama.create_chat_completion(
                    messages=self._messages, stop=list(settings.stop) or None, **sampling
                )
            text = settings.assistant_prefix
            try:
                for chunk in chunks:
                    if self._cancel is not None and self._cancel.cancelled:
                        self.finish_reason = "cancelled"
                        return
                    choice = chunk["choices"][0]
                    piece = choice["text"] if "text" in choice else choice["delta"].get("content")
                    if piece and ends_reply(text, piece, settings):
                        self.finish_reason = "stop"
                        return
                    if piece:
                        text += piece
                        self.tokens += 1
                        yield piece
                    if choice.get("finish_reason"):
                        self.finish_reason = choice["finish_reason"]
            finally:
                chunks.close()
