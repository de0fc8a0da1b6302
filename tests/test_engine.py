from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest

from gravity_desktop.errors import ModelFileError
from gravity_desktop.llm import engine as engine_module
from gravity_desktop.llm.engine import (
    CancelToken,
    Engine,
    GenerationSettings,
    ends_reply,
    free_cores,
)
from tests.gguf_fixtures import write_lora_adapter

PROMPT = [{"role": "user", "content": "Describe the book Dune in two sentences."}]


def test_same_seed_same_text(engine: Engine) -> None:
    settings = GenerationSettings(max_tokens=40, seed=7, temperature=0.8)
    first = engine.chat(PROMPT, settings).text
    other = engine.chat(PROMPT, GenerationSettings(max_tokens=40, seed=8, temperature=0.8)).text
    again = engine.chat(PROMPT, settings).text
    assert first and first == again
    assert other != first


def test_stream_yields_pieces_that_join_to_the_full_text(engine: Engine) -> None:
    settings = GenerationSettings(max_tokens=30, seed=3)
    stream = engine.stream_chat(PROMPT, settings)
    pieces = list(stream)
    assert len(pieces) > 3
    assert "".join(pieces) == engine.chat(PROMPT, settings).text


def test_max_tokens_ends_with_length(engine: Engine) -> None:
    completion = engine.chat(PROMPT, GenerationSettings(max_tokens=5, seed=1))
    assert completion.finish_reason == "length"
    assert completion.tokens <= 5


def test_stop_string_cuts_the_reply(engine: Engine) -> None:
    settings = GenerationSettings(max_tokens=60, seed=2)
    full = engine.chat(PROMPT, settings).text
    word = full.split()[3]
    cut = engine.chat(PROMPT, GenerationSettings(max_tokens=60, seed=2, stop=(word,))).text
    assert word not in cut
    assert full.startswith(cut.rstrip()) or cut.strip() == ""


@pytest.mark.parametrize(
    ("text", "piece", "ends"),
    [
        ("One two three four. Five six.", " Seven", True),
        ("One two three four. Five six!\u201d", " Seven", True),
        ("One two three four. Five six.", "Seven", False),  # no space: not a new sentence
        ("One two three four, five six", " seven", False),
        ("One two. Three.", " Four", False),  # too few words
        ("One two three four and five Dr.", " Who", False),
        ("One two three four by J. R.", " R.", False),  # initials
    ],
)
def test_a_reply_ends_at_the_first_sentence_end_after_enough_words(
    text: str, piece: str, ends: bool
) -> None:
    assert ends_reply(text, piece, GenerationSettings(end_after_words=5)) is ends
    assert not ends_reply(text, piece, GenerationSettings())


def test_a_streamed_reply_ends_after_enough_words(engine: Engine) -> None:
    prompt = [{"role": "user", "content": "Describe the book Dune in four sentences."}]
    full = engine.chat(prompt, GenerationSettings(max_tokens=120, temperature=0.0))
    short = engine.chat(
        prompt, GenerationSettings(max_tokens=120, temperature=0.0, end_after_words=8)
    )
    assert short.finish_reason == "stop" and short.tokens < full.tokens
    assert full.text.startswith(short.text) and short.text.rstrip()[-1] in ".!?"
    assert len(short.text.split()) >= 8


def test_cancel_from_another_thread(engine: Engine) -> None:
    cancel = CancelToken()
    received: list[str] = []
    stream = engine.stream_chat(PROMPT, GenerationSettings(max_tokens=400, seed=5), cancel)

    def consume() -> None:
        for piece in stream:
            received.append(piece)
            if len(received) == 3:
                threading.Thread(target=cancel.cancel).start()

    worker = threading.Thread(target=consume)
    worker.start()
    worker.join(timeout=60)
    assert not worker.is_alive()
    assert stream.finish_reason == "cancelled"
    assert 3 <= len(received) < 20


def test_adapter_swap_builds_a_fresh_model(engine: Engine, tmp_path: Path) -> None:
    noop = write_lora_adapter(tmp_path / "noop.gguf", scale=0.0)
    strong = write_lora_adapter(tmp_path / "strong.gguf", scale=0.5, seed=1)
    settings = GenerationSettings(max_tokens=20, seed=11, temperature=0.0)
    base_text = engine.chat(PROMPT, settings).text

    with_noop = engine.with_adapter(noop)
    assert with_noop is not engine and with_noop._llama is not engine._llama
    assert with_noop.adapter_info is not None
    assert with_noop.chat(PROMPT, settings).text == base_text
    with_noop.close()

    with_strong = engine.with_adapter(strong)
    assert with_strong.chat(PROMPT, settings).text != base_text
    assert "strong.gguf" in with_strong.description
    with_strong.close()
    # the original engine is untouched by its siblings
    assert engine.chat(PROMPT, settings).text == base_text


def test_bad_adapter_is_reported(engine: Engine, tmp_path: Path) -> None:
    junk = tmp_path / "adapter.gguf"
    junk.write_bytes(b"\x00" * 64)
    with pytest.raises(ModelFileError, match=r"adapter\.gguf: not a GGUF file"):
        engine.with_adapter(junk)
    other = write_lora_adapter(tmp_path / "qwen.gguf", arch="qwen2")
    with pytest.raises(ModelFileError, match="adapter is for architecture 'qwen2'"):
        engine.with_adapter(other)


def test_importing_engine_and_gui_never_imports_torch() -> None:
    code = (
        "import sys\n"
        "import gravity_desktop.llm.engine, gravity_desktop.llm.serving, gravity_desktop.cli\n"
        "import gravity_desktop.ui.main_window\n"
        "heavy = {'torch', 'transformers', 'peft', 'trl'} & set(sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_scoring_reuses_the_cached_prompt_prefix_without_changing_the_scores(
    bundled_model_path: Path,
) -> None:
    engine = Engine(bundled_model_path, n_ctx=512, scoring=True)
    system = {"role": "system", "content": "Book: Dune by Frank Herbert. Facts: a desert planet."}
    first = [system, {"role": "user", "content": "Describe it briefly."}]
    second = [system, {"role": "user", "content": "Describe it warmly."}]
    answers = ["A desert planet and its spice.", "A young heir in the desert."]
    fresh = engine.completion_logprobs(second, answers)
    engine.completion_logprobs(first, answers)  # leaves the shared system prompt in the cache
    evaluated = []
    real_eval = engine._llama.eval
    engine._llama.eval = lambda tokens: (evaluated.append(len(tokens)), real_eval(tokens))[1]
    reused = engine.completion_logprobs(second, answers)
    prompt_tokens = len(engine.format_prompt(second)[0])
    engine.close()
    assert evaluated[0] < prompt_tokens / 2  # only the tail after the shared system message
    for ours, theirs in zip(reused, fresh, strict=True):
        assert max(abs(a - b) for a, b in zip(ours, theirs, strict=True)) < 1e-3


def test_scoring_a_cached_prompt_again_gives_the_same_scores(bundled_model_path: Path) -> None:
    """Pairs of one book share their whole prompt: none of it is evaluated again, and the scores
    are a fresh engine's (the held-out scores kept between training runs rely on it)."""
    prompt = [{"role": "user", "content": "Book: Dune by Frank Herbert. Describe it briefly."}]
    answers = ["A desert planet and its spice.", "A young heir in the desert."]
    from_scratch = []
    for answer in answers:
        fresh = Engine(bundled_model_path, n_ctx=512, scoring=True)
        from_scratch += fresh.completion_logprobs(prompt, [answer])
        fresh.close()
    engine = Engine(bundled_model_path, n_ctx=512, scoring=True)
    first = engine.completion_logprobs(prompt, answers[:1])
    evaluated = []
    real_eval = engine._llama.eval
    engine._llama.eval = lambda tokens: (evaluated.append(len(tokens)), real_eval(tokens))[1]
    second = engine.completion_logprobs(prompt, answers[1:])
    engine.close()
    assert evaluated == [len(from_scratch[1])]  # the completion's tokens only
    assert first + second == from_scratch


@pytest.mark.parametrize(
    ("runnable", "free"), [("1/90", 4), ("2/90", 3), ("4/90", 1), ("9/90", 1), ("garbled", 4)]
)
def test_free_cores_leave_out_the_cores_other_threads_run_on(
    tmp_path: Path, runnable: str, free: int
) -> None:
    loadavg = tmp_path / "loadavg"
    loadavg.write_text(f"3.10 2.50 1.90 {runnable} 12345\n")
    tasks = own_threads(tmp_path, "R", "S")
    assert free_cores(4, str(loadavg), str(tasks)) == free
    assert free_cores(4, str(tmp_path / "missing"), str(tasks)) == 4


def test_free_cores_do_not_count_this_process_s_own_running_threads(tmp_path: Path) -> None:
    loadavg = tmp_path / "loadavg"
    loadavg.write_text("3.10 2.50 1.90 3/90 12345\n")
    # This thread, and a worker still spinning after the last step: one other thread runs.
    assert free_cores(4, str(loadavg), str(own_threads(tmp_path, "R", "R", "S"))) == 3
    assert free_cores(4, str(loadavg), str(tmp_path / "no tasks")) == 2  # this thread only


def own_threads(tmp_path: Path, *states: str) -> Path:
    """A stand-in for /proc/self/task with threads in the given states."""
    tasks = tmp_path / "task"
    for tid, state in enumerate(states, start=100):
        (tasks / str(tid)).mkdir(parents=True)
        (tasks / str(tid) / "stat").write_text(f"{tid} (python (main)) {state} 1 2 3 0\n")
    return tasks


def test_automatic_threads_follow_the_free_cores_per_request(
    bundled_model_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from llama_cpp import llama_n_threads

    automatic = Engine(bundled_model_path, n_ctx=256)  # n_threads=0: automatic
    settings = GenerationSettings(max_tokens=2, seed=1)
    try:
        for free in (1, 2):
            monkeypatch.setattr(engine_module, "free_cores", lambda cores, free=free: free)
            automatic.chat([{"role": "user", "content": "Hi"}], settings)
            assert llama_n_threads(automatic._llama._ctx.ctx) == free
        fresh = automatic.with_adapter(None)
        assert fresh.threads_setting == 0  # stays automatic
        fresh.close()
    finally:
        automatic.close()


def only_zebra(engine: Engine) -> tuple[object, list[int]]:
    """A guard that leaves only the token " zebra", and the lengths of the contexts it saw."""
    import numpy as np

    only = engine._llama.tokenize(b" zebra", add_bos=False)[0]
    others = np.ones(engine._llama.n_vocab(), dtype=bool)
    others[only] = False
    seen: list[int] = []

    def guard(tokens):
        seen.append(len(tokens))
        return others

    return guard, seen


def test_a_guard_rules_tokens_out_at_every_step(engine: Engine) -> None:
    guard, seen = only_zebra(engine)

    settings = GenerationSettings(max_tokens=3, seed=1, guard=guard)
    assert engine.chat([{"role": "user", "content": "Say hello"}], settings).text == " zebra" * 3
    assert seen == [seen[0], seen[0] + 1, seen[0] + 2]  # called with the tokens so far
