"""Engine.chat_batch: replies written side by side on the bundled model (llm/batch.py)."""

from __future__ import annotations

import numpy as np
import pytest

from gravity_desktop.llm.batch import CONTEXT_TOKENS
from gravity_desktop.llm.engine import CancelToken, Engine, GenerationSettings, rule_out
from tests.gguf_fixtures import write_lora_adapter
from tests.test_engine import only_zebra

SYSTEM = {"role": "system", "content": "You describe books. Book: Dune by Frank Herbert (1965)."}


def ask(topic: str) -> list[dict[str, str]]:
    return [SYSTEM, {"role": "user", "content": f"In two sentences, describe Dune: {topic}."}]


def requests(count: int, **settings) -> list:
    topics = ["its politics", "its desert", "its family", "its religion", "its ecology"]
    return [
        (ask(topics[i % len(topics)]), GenerationSettings(seed=i, **settings)) for i in range(count)
    ]


def test_same_requests_give_the_same_replies_in_order(engine: Engine) -> None:
    batch = requests(4, max_tokens=30, temperature=0.8, assistant_prefix="Dune")
    first = engine.chat_batch(batch)
    again = engine.chat_batch(batch)  # the shared prefix is now reused from the last batch
    assert [c.text for c in first] == [c.text for c in again]
    assert all(c.text.startswith("Dune") and c.tokens > 0 for c in first)
    assert len({c.text for c in first}) == 4
    other_seed = GenerationSettings(max_tokens=30, temperature=0.8, assistant_prefix="Dune", seed=9)
    reseeded = engine.chat_batch([(batch[0][0], other_seed)])
    assert reseeded[0].text != first[0].text


def test_greedy_batch_agrees_with_one_reply_at_a_time(engine: Engine) -> None:
    # Batch shapes change the logits in their last bits, which can flip a near tie (the third
    # topic has one at its fifth token: 14.02 against 13.99); these two have none.
    batch = requests(2, max_tokens=12, temperature=0.0)
    alone = [engine.chat(messages, settings).text for messages, settings in batch]
    assert [c.text for c in engine.chat_batch(batch)] == alone


def test_length_and_stop_strings_end_replies(engine: Engine) -> None:
    short = engine.chat_batch(requests(2, max_tokens=4))
    assert all(c.finish_reason == "length" and c.tokens == 4 for c in short)
    full = engine.chat_batch(requests(1, max_tokens=40))[0].text
    word = full.split()[2]
    ((messages, _),) = requests(1)
    cut = engine.chat_batch([(messages, GenerationSettings(seed=0, max_tokens=40, stop=(word,)))])
    assert cut[0].finish_reason == "stop" and word not in cut[0].text
    assert full.startswith(cut[0].text)


def test_a_reply_ends_at_a_sentence_end_after_enough_words(engine: Engine) -> None:
    settings = {"max_tokens": 120, "temperature": 0.0, "assistant_prefix": "Dune"}
    (full,) = engine.chat_batch(requests(1, **settings))
    (short,) = engine.chat_batch(requests(1, end_after_words=8, **settings))
    assert short.finish_reason == "stop" and short.tokens < full.tokens
    assert full.text.startswith(short.text) and short.text[-1] in ".!?"
    assert len(short.text.split()) >= 8


def test_a_guard_rules_tokens_out_for_its_own_reply(engine: Engine) -> None:
    guard, seen = only_zebra(engine)
    ((messages, _),) = requests(1)
    guarded = GenerationSettings(max_tokens=3, seed=1, guard=guard)
    free = GenerationSettings(max_tokens=3, seed=1)
    replies = engine.chat_batch([(messages, guarded), (messages, free)])
    assert replies[0].text == " zebra" * 3
    assert replies[1].text != replies[0].text
    assert seen == [seen[0], seen[0] + 1, seen[0] + 2]  # called with the tokens so far


def test_ruled_out_scores_fall_below_every_other_and_weigh_nothing() -> None:
    scores = np.array([2.0, -80.0, 35.0, 0.0, 1.0], dtype=np.float32)
    rule_out(scores, np.array([False, False, True, False, True]))
    assert scores.dtype == np.float32
    assert scores[[0, 1, 3]].tolist() == [2.0, -80.0, 0.0]
    assert max(scores[2], scores[4]) < scores[1]
    assert scores[2] > scores[4]  # still distinct, so top-k selection stays fast
    weights = np.exp(scores.astype(np.float64) - scores.max())
    assert weights[2] == weights[4] == 0.0


def test_cancel_leaves_the_unfinished_replies_cancelled(engine: Engine) -> None:
    cancel = CancelToken()
    steps = []
    nothing = np.zeros(engine._llama.n_vocab(), dtype=bool)

    def count_then_cancel(tokens):
        steps.append(1)
        if len(steps) == 5:
            cancel.cancel()
        return nothing

    batch = [(m, GenerationSettings(seed=s.seed, max_tokens=200, guard=count_then_cancel))
             for m, s in requests(3)]  # fmt: skip
    replies = engine.chat_batch(batch, cancel)
    assert [c.finish_reason for c in replies] == ["cancelled"] * 3


def test_more_requests_than_slots_take_the_slots_freed(engine: Engine) -> None:
    batch = requests(engine.parallel + 3, max_tokens=8, assistant_prefix="Dune")
    batch[2] = (batch[2][0], GenerationSettings(seed=2, max_tokens=2, assistant_prefix="Dune"))
    replies = engine.chat_batch(batch)
    assert len(replies) == len(batch)
    assert all(c.finish_reason in ("stop", "length") and c.text.startswith("Dune")
               for c in replies)  # fmt: skip
    assert replies[2].tokens <= 2 < max(c.tokens for c in replies)
    with pytest.raises(ValueError, match="does not fit"):
        engine.chat_batch(requests(1, max_tokens=CONTEXT_TOKENS))


def test_replies_can_ask_for_more_while_others_are_written(engine: Engine) -> None:
    """What pair synthesis does: a finished reply may put a new request in the queue."""
    queue = [(("first", 0), ask("its desert"), GenerationSettings(seed=0, max_tokens=6))]
    finished = []

    def take():
        return queue.pop(0) if queue else None

    def done(key, completion):
        finished.append((key, completion.text))
        name, round_ = key
        if round_ < 2:
            queue.append(((name, round_ + 1), ask("its family"),
                          GenerationSettings(seed=round_ + 1, max_tokens=6)))  # fmt: skip

    assert engine.chat_many(take, done)
    assert [key for key, _ in finished] == [("first", 0), ("first", 1), ("first", 2)]
    assert all(text for _, text in finished)


def test_the_engines_adapter_applies_to_its_batches(engine: Engine, tmp_path) -> None:
    # Scaled down, the random adapter changes how the replies begin but leaves them readable.
    adapter = write_lora_adapter(tmp_path / "strong.gguf", scale=0.5, seed=1)
    strong = engine.with_adapter(adapter, scale=0.05)
    try:
        batch = requests(2, max_tokens=12, temperature=0.0)
        alone = [strong.chat(messages, settings).text for messages, settings in batch]
        side_by_side = [c.text for c in strong.chat_batch(batch)]
        base = [c.text for c in engine.chat_batch(batch)]
        # Only the start is compared: the adapter leaves near ties that batch shapes can flip.
        assert [t.split()[:4] for t in side_by_side] == [t.split()[:4] for t in alone]
        assert [t.split()[:4] for t in side_by_side] != [t.split()[:4] for t in base]
    finally:
        strong.close()


def test_a_closed_engine_is_freed_without_the_cyclic_collector(bundled_model_path) -> None:
    import gc
    import weakref

    gc.collect()
    gc.disable()  # as in the app, where only the GUI thread's timer collects
    try:
        engine = Engine(bundled_model_path, n_ctx=512, n_threads=2, parallel=2)
        engine.chat_batch(requests(2, max_tokens=4))  # makes the engine's batch decoder
        freed = weakref.ref(engine)
        engine.close()
        del engine
        assert freed() is None
    finally:
        gc.enable()


def test_each_book_s_facts_are_evaluated_once(bundled_model_path) -> None:
    """Requests about two books, in turn: each prompt's start that an earlier one had (the chat
    header, a book's facts, the common words of the request) is copied, not evaluated again."""
    engine = Engine(bundled_model_path, n_ctx=512, n_threads=2, parallel=2)
    try:
        books = ("Dune by Frank Herbert (1965): a desert planet's politics and ecology.",
                 "Emma by Jane Austen (1815): a young woman's matchmaking.")  # fmt: skip
        batch = [
            ([{"role": "system", "content": f"You describe books. Book: {book}"},
              {"role": "user", "content": f"In two sentences, describe it: {topic}."}],
             GenerationSettings(seed=0, max_tokens=2))
            for book in books for topic in ("its people", "its places", "its people")
        ]  # fmt: skip
        engine.chat_batch(batch)
        prompts = [engine.format_prompt(messages)[0] for messages, _ in batch]
        distinct = {tuple(p[:end]) for p in prompts for end in range(1, len(p) + 1)}
        stats = engine.batch_prompt_tokens
        assert stats.asked == sum(len(p) for p in prompts)
        # Every distinct prompt start once, plus each request's last token in its own sequence
        # (the third request of a book repeats the first one's prompt).
        repeated_ends = len(prompts) - len({tuple(p) for p in prompts})
        assert stats.evaluated == len(distinct) + repeated_ends
    finally:
        engine.close()
