"""Writing several replies at once: llama.cpp's batched decoding over parallel sequences.

One reply at a time leaves a small model's decode step mostly overhead: each step runs the whole
graph for a single token. A step that decodes one token for each of 8 sequences costs far less
than 8 steps (about 2x the tokens per second on 2 cores for the bundled 135M model; see
bench/pairs_per_minute.py), which is what pair synthesis needs: many short texts about a few books.

The decoder has its own llama.cpp context on the engine's model (the high-level `Llama` object
makes single-sequence contexts) with a unified KV cache, in which sequences share the cells of a
common prompt prefix instead of copying them:
- Slots: up to `sequences` replies are written at a time. When one ends, the next request takes
  its slot at once (continuous batching), so a batch never waits for its longest reply.
- Prefix holders: a few more sequences keep the prompts of recent requests. A new request copies
  the part of its prompt that a holder already has (the system message with a book's facts, or
  the whole prompt when a request is asked again with another seed) and evaluates only the rest.
- Sampling happens here, with the chain and defaults of llama-cpp-python's `create_completion`:
  the guard's ruled-out tokens, a repeat penalty over the last 64 tokens, top-k 40, top-p,
  min-p 0.05, temperature. Each request has its own seeded generator, so the same requests in
  the same order on a fresh engine give the same texts. (A reply may differ from `chat`'s for
  the same seed: batch shapes change the last bits of the logits.)
"""

from __future__ import annotations

import ctypes
import time
import weakref
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field

import numpy as np

from gravity_desktop.llm.engine import (
    CancelToken,
    Completion,
    Engine,
    GenerationSettings,
    Message,
)

PREFIX_HOLDERS = 3  # prompts kept for later requests to share
CONTEXT_TOKENS = 4096  # KV cells for the holders and every slot
BATCH_TOKENS = 512
MIN_SHARED = 16  # a shorter common prefix (the chat template's header) is not worth a holder
TOP_K = 40
MIN_P = 0.05
PENALTY_LAST_N = 64

Request = tuple[Hashable, Sequence[Message], GenerationSettings]
Take = Callable[[], Request | None]  # the next request, or None while there is none
Done = Callable[[Hashable, Completion], None]


@dataclass
class _Holder:
    seq_id: int
    tokens: list[int] = field(default_factory=list)
    users: int = 0  # slots whose prompt shares its cells
    last_used: int = 0


@dataclass
class _Reply:
    """One reply being written: its prompt, sampling state and what it has produced."""

    key: Hashable
    settings: GenerationSettings
    prompt: list[int]
    stops: list[str]
    rng: np.random.Generator
    seq_id: int
    holder: _Holder | None
    shared: int  # prompt tokens copied from the holder
    pending: list[int]  # prompt tokens not yet evaluated in this sequence
    position: int  # where the next evaluated token goes
    started: float
    tokens: list[int] = field(default_factory=list)
    text: bytes = b""
    finish_reason: str = ""

    @property
    def cells(self) -> int:
        """KV cells this reply may take beyond its holder's."""
        return len(self.prompt) - self.shared + self.settings.max_tokens

    def completion(self) -> Completion:
        return Completion(
            text=self.settings.assistant_prefix + self.text.decode("utf-8", errors="ignore"),
            finish_reason=self.finish_reason or "cancelled",
            tokens=len(self.tokens),
            seconds=time.perf_counter() - self.started,
        )


class BatchDecoder:
    """A parallel-sequence llama.cpp context on an engine's model (used holding its lock)."""

    def __init__(
        self,
        engine: Engine,
        sequences: int,
        holders: int = PREFIX_HOLDERS,
        context_tokens: int = CONTEXT_TOKENS,
    ) -> None:
        import llama_cpp

        self._lib = llama_cpp
        # The engine owns this decoder; a strong reference back would make a cycle that only the
        # cyclic collector can free, on whichever thread it happens to run.
        self._engine = weakref.proxy(engine)
        llama = engine._llama
        params = llama_cpp.llama_context_default_params()
        params.n_ctx = context_tokens
        params.n_batch = params.n_ubatch = BATCH_TOKENS
        params.n_seq_max = sequences + holders
        params.kv_unified = True
        params.n_threads = params.n_threads_batch = engine.n_threads
        self._ctx = llama_cpp.llama_init_from_model(llama._model.model, params)
        if self._ctx is None:
            raise RuntimeError("llama.cpp could not create a context for batched decoding")
        if llama._lora_adapter:
            adapters = (llama_cpp.llama_adapter_lora_p_ctypes * 1)(llama._lora_adapter)
            scales = (ctypes.c_float * 1)(engine.adapter_scale)
            llama_cpp.llama_set_adapters_lora(self._ctx, adapters, 1, scales)
        self._memory = llama_cpp.llama_get_memory(self._ctx)
        self._vocab = llama_cpp.llama_model_get_vocab(llama._model.model)
        self._n_vocab = llama.n_vocab()
        self._batch = llama_cpp.llama_batch_init(BATCH_TOKENS, 0, 1)
        self._sequences = sequences
        self._context_tokens = context_tokens
        self._holders = [_Holder(sequences + i) for i in range(holders)]
        self._clock = 0

    def close(self) -> None:
        if self._ctx is not None:
            self._lib.llama_batch_free(self._batch)
            self._lib.llama_free(self._ctx)
            self._ctx = None

    def set_threads(self, threads: int) -> None:
        self._lib.llama_set_n_threads(self._ctx, threads, threads)

    def run(self, take: Take, done: Done, cancel: CancelToken | None) -> bool:
        """Write replies until `take` has no more and none is left unfinished; False when
        cancelled (the unfinished replies are dropped)."""
        active: list[_Reply] = []
        waiting: Request | None = None
        try:
            while True:
                while len(active) < self._sequences:
                    waiting = waiting or take()
                    if waiting is None:
                        break
                    reply = self._admit(waiting, active)
                    if reply is None:
                        break  # no room in the KV cache until a slot is freed
                    active.append(reply)
                    waiting = None
                if not active:
                    return True
                if cancel is not None and cancel.cancelled:
                    return False
                logits = self._decode(self._step_entries(active))
                for reply in active:
                    self._accept(reply, self._sample(reply, logits[reply.seq_id]))
                for reply in [r for r in active if r.finish_reason]:
                    active.remove(reply)
                    self._release(reply)
                    done(reply.key, reply.completion())
        finally:
            for reply in active:
                self._release(reply)

    def _admit(self, request: Request, active: list[_Reply]) -> _Reply | None:
        key, messages, settings = request
        prompt, stops = self._engine.format_prompt(messages)
        if settings.assistant_prefix:
            prompt += self._engine._llama.tokenize(
                settings.assistant_prefix.encode(), add_bos=False
            )
        used = sum(len(h.tokens) for h in self._holders) + sum(r.cells for r in active)
        if used + len(prompt) + settings.max_tokens > self._context_tokens:
            if active:
                return None
            raise ValueError(
                f"a request of {len(prompt) + settings.max_tokens} tokens does not fit"
                f" {self._context_tokens - used} free KV cells"
            )
        seq_id = next(i for i in range(self._sequences) if all(r.seq_id != i for r in active))
        holder = self._holder_for(prompt[:-1])
        shared = 0
        if holder is not None:
            shared = _shared_length(holder.tokens, prompt[:-1])
            self._lib.llama_memory_seq_cp(self._memory, holder.seq_id, seq_id, 0, shared)
            holder.users += 1
        seed = settings.seed if settings.seed is not None else np.random.SeedSequence().entropy
        return _Reply(
            key=key,
            settings=settings,
            prompt=prompt,
            stops=[*settings.stop, *stops],
            rng=np.random.default_rng(seed),
            seq_id=seq_id,
            holder=holder,
            shared=shared,
            pending=prompt[shared:],
            position=shared,
            started=time.perf_counter(),
        )

    def _holder_for(self, prefix: list[int]) -> _Holder | None:
        """The holder with most of `prefix`, made to hold it when none has enough of it."""
        self._clock += 1
        best = max(self._holders, key=lambda h: _shared_length(h.tokens, prefix))
        if _shared_length(best.tokens, prefix) < MIN_SHARED:
            free = [h for h in self._holders if h.users == 0]
            if not free:
                return None
            best = min(free, key=lambda h: h.last_used)
            kept = _shared_length(best.tokens, prefix)
            self._lib.llama_memory_seq_rm(self._memory, best.seq_id, kept, -1)
            best.tokens = best.tokens[:kept]
            self._decode([(t, kept + i, best.seq_id, False) for i, t in enumerate(prefix[kept:])])
            best.tokens = list(prefix)
        best.last_used = self._clock
        return best

    def _release(self, reply: _Reply) -> None:
        self._lib.llama_memory_seq_rm(self._memory, reply.seq_id, -1, -1)
        if reply.holder is not None:
            reply.holder.users -= 1

    @staticmethod
    def _step_entries(active: list[_Reply]) -> list[tuple[int, int, int, bool]]:
        """This step's tokens: the rest of each new prompt, and each reply's last token."""
        entries = []
        for reply in active:
            tokens = reply.pending or reply.tokens[-1:]
            entries += [
                (token, reply.position + i, reply.seq_id, i == len(tokens) - 1)
                for i, token in enumerate(tokens)
            ]
            reply.position += len(tokens)
            reply.pending = []
        return entries

    def _accept(self, reply: _Reply, token: int) -> None:
        if self._lib.llama_vocab_is_eog(self._vocab, token):
            reply.finish_reason = "stop"
            return
        reply.tokens.append(token)
        reply.text += self._engine._llama.detokenize([token])
        if reply.stops:
            text = reply.text.decode("utf-8", errors="ignore")
            for stop in reply.stops:
                if stop in text:
                    reply.text = text[: text.index(stop)].encode()
                    reply.finish_reason = "stop"
                    return
        if len(reply.tokens) >= reply.settings.max_tokens:
            reply.finish_reason = "length"

    def _decode(self, entries: list[tuple[int, int, int, bool]]) -> dict[int, np.ndarray]:
        """Evaluate (token, position, sequence, want logits) entries in chunks of the batch
        size; the logits wanted, by sequence (copied: the next chunk overwrites them)."""
        lib = self._lib
        batch = self._batch
        logits: dict[int, np.ndarray] = {}
        for start in range(0, len(entries), BATCH_TOKENS):
            chunk = entries[start : start + BATCH_TOKENS]
            batch.n_tokens = len(chunk)
            for i, (token, position, seq_id, wanted) in enumerate(chunk):
                batch.token[i] = token
                batch.pos[i] = position
                batch.n_seq_id[i] = 1
                batch.seq_id[i][0] = seq_id
                batch.logits[i] = wanted
            status = lib.llama_decode(self._ctx, batch)
            if status != 0:
                raise RuntimeError(f"llama_decode failed ({status}) in a batch of {len(chunk)}")
            for i, (_, _, seq_id, wanted) in enumerate(chunk):
                if wanted:
                    pointer = lib.llama_get_logits_ith(self._ctx, i)
                    logits[seq_id] = np.ctypeslib.as_array(pointer, shape=(self._n_vocab,)).astype(
                        np.float64
                    )
        return logits

    @staticmethod
    def _sample(reply: _Reply, logits: np.ndarray) -> int:
        settings = reply.settings
        if settings.guard is not None:
            ruled_out = settings.guard(reply.prompt + reply.tokens)
            logits[np.asarray(ruled_out, dtype=np.intp)] = -np.inf
        if settings.repeat_penalty != 1.0 and reply.tokens:
            recent = np.unique(np.asarray(reply.tokens[-PENALTY_LAST_N:], dtype=np.intp))
            values = logits[recent]
            logits[recent] = np.where(
                values > 0, values / settings.repeat_penalty, values * settings.repeat_penalty
            )
        if settings.temperature <= 0:
            return int(np.argmax(logits))
        top = np.argpartition(logits, -TOP_K)[-TOP_K:]
        top = top[np.argsort(-logits[top])]
        values = logits[top]
        probs = _softmax(values)
        keep = int(np.searchsorted(np.cumsum(probs), settings.top_p)) + 1
        keep = max(1, min(keep, int(np.count_nonzero(probs >= MIN_P * probs[0]))))
        probs = _softmax(values[:keep] / settings.temperature)
        return int(top[reply.rng.choice(keep, p=probs)])


def _softmax(values: np.ndarray) -> np.ndarray:
    shifted = np.exp(values - values.max())
    return shifted / shifted.sum()


def _shared_length(a: Sequence[int], b: Sequence[int]) -> int:
    length = min(len(a), len(b))
    for i in range(length):
        if a[i] != b[i]:
            return i
    return length
