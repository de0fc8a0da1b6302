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
- Prefix holders: as many more sequences keep the prompts of recent requests. A new request's
  prompt goes into a holder: the part that some holder already has (the system message with a
  book's facts, or the whole prompt when a request is asked again with another seed) is copied,
  only the rest is evaluated, and the request's own sequence copies it all. Copying a prompt
  shares its cells; a cell is freed when no sequence holds it any more, so a holder can take the
  next prompt while replies still read the last one. With a holder per slot, a text asked for
  again (pair synthesis retries a side that failed its checks) usually finds its whole prompt
  still held (3 holders for 8 slots evaluated 6921 of 23314 prompt tokens on a synthesis run,
  8 holders 4199 of 20332).
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
    ends_reply,
    rule_out,
)

CONTEXT_TOKENS = 8192  # KV cells for the holders and every slot
BATCH_TOKENS = 512
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


@dataclass
class PromptTokens:
    """Prompt tokens asked for and evaluated since the decoder was made (the rest were shared)."""

    asked: int = 0
    evaluated: int = 0


@dataclass
class _Reply:
    """One reply being written: its prompt, sampling state and what it has produced."""

    key: Hashable
    settings: GenerationSettings
    prompt: list[int]
    stops: list[str]
    rng: np.random.Generator
    seq_id: int
    pending: list[int]  # prompt tokens not yet evaluated in this sequence
    position: int  # where the next evaluated token goes
    started: float
    tokens: list[int] = field(default_factory=list)
    text: bytes = b""
    finish_reason: str = ""

    @property
    def cells(self) -> int:
        """KV cells this reply may hold: its prompt's (shared with a holder for as long as the
        holder keeps them) and its own reply's."""
        return len(self.prompt) + self.settings.max_tokens

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
        holders: int | None = None,
        context_tokens: int = CONTEXT_TOKENS,
    ) -> None:
        holders = sequences if holders is None else holders
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
        self._holders = [_Holder(sequences + i) for i in range(holders)]  # most recent first
        self.prompt_tokens = PromptTokens()

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
        holder = self._hold(prompt[:-1])
        self._lib.llama_memory_seq_cp(self._memory, holder.seq_id, seq_id, 0, len(holder.tokens))
        self.prompt_tokens.asked += len(prompt)
        self.prompt_tokens.evaluated += 1  # the last token, in the reply's own sequence
        seed = settings.seed if settings.seed is not None else np.random.SeedSequence().entropy
        return _Reply(
            key=key,
            settings=settings,
            prompt=prompt,
            stops=[*settings.stop, *stops],
            rng=np.random.default_rng(seed),
            seq_id=seq_id,
            pending=prompt[-1:],
            position=len(prompt) - 1,
            started=time.perf_counter(),
        )

    def _hold(self, prefix: list[int]) -> _Holder:
        """A holder with exactly `prefix`, evaluating only what no holder has yet.

        The holder with the longest common start lends it: its cells are copied, not evaluated
        again. The lender itself takes the prefix where it holds nothing beyond that start;
        otherwise the least recently used holder gives up what it held.
        """
        lender = max(self._holders, key=lambda h: _shared_length(h.tokens, prefix))
        shared = _shared_length(lender.tokens, prefix)
        holder = lender if shared == len(lender.tokens) else self._holders[-1]
        if holder is lender:
            self._lib.llama_memory_seq_rm(self._memory, holder.seq_id, shared, -1)
        else:
            self._lib.llama_memory_seq_rm(self._memory, holder.seq_id, -1, -1)
            self._lib.llama_memory_seq_cp(self._memory, lender.seq_id, holder.seq_id, 0, shared)
        self._decode([(t, shared + i, holder.seq_id, False) for i, t in enumerate(prefix[shared:])])
        self.prompt_tokens.evaluated += len(prefix) - shared
        holder.tokens = list(prefix)
        self._holders.remove(holder)
        self._holders.insert(0, holder)
        return holder

    def _release(self, reply: _Reply) -> None:
        self._lib.llama_memory_seq_rm(self._memory, reply.seq_id, -1, -1)

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
        piece = self._engine._llama.detokenize([token])
        # The reply so far is decoded only where a word count can end it (once per token).
        if reply.settings.end_after_words and ends_reply(
            reply.settings.assistant_prefix + reply.text.decode("utf-8", errors="ignore"),
            piece.decode("utf-8", errors="ignore"),
            reply.settings,
        ):
            reply.text = reply.text.rstrip()
            reply.finish_reason = "stop"
            return
        reply.tokens.append(token)
        reply.text += piece
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
                    logits[seq_id] = np.ctypeslib.as_array(pointer, shape=(self._n_vocab,)).copy()
        return logits

    @staticmethod
    def _sample(reply: _Reply, logits: np.ndarray) -> int:
        """The next token, from `logits` (this reply's float32 copy, changed in place)."""
        settings = reply.settings
        if settings.repeat_penalty != 1.0 and reply.tokens:
            recent = np.unique(np.asarray(reply.tokens[-PENALTY_LAST_N:], dtype=np.intp))
            values = logits[recent]
            logits[recent] = np.where(
                values > 0, values / settings.repeat_penalty, values * settings.repeat_penalty
            )
        if settings.guard is not None:
            rule_out(logits, settings.guard(reply.prompt + reply.tokens))
        if settings.temperature <= 0:
            return int(np.argmax(logits))
        top = np.argpartition(logits, -TOP_K)[-TOP_K:]
        top = top[np.argsort(-logits[top])]
        values = logits[top].astype(np.float64)
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
