"""On-device LoRA DPO: the worker, the llama.cpp export, activation, resume and rollback.

These run the real worker process on the bundled model (a few training steps on pairs from the
scripted teacher), so they are the slowest tests; the trainable base is prepared once per session.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

from gravity_desktop.app_context import opened
from gravity_desktop.cli import cli
from gravity_desktop.errors import UserError
from gravity_desktop.llm.engine import CancelToken, Engine
from gravity_desktop.store import adapters as adapter_store
from gravity_desktop.store.pairs import Pair
from gravity_desktop.training.config import TrainConfig
from gravity_desktop.training.heldout import KeptLogprobs
from gravity_desktop.training.job import TrainingResult, run_training, split_pairs
from tests.reader_data import onboard_reader_with_pairs

FAST = TrainConfig(epochs=1, batch_size=4, learning_rate=5e-4, max_length=256, save_every=1)


@pytest.fixture(scope="session")
def base_cache(tmp_path_factory) -> Path:
    """One trainable base for the whole session, copied into each test's data dir."""
    return tmp_path_factory.mktemp("trainable-base")


@pytest.fixture
def reader_with_pairs(gravity_home: Path, base_cache: Path, seeded_teacher_copy: Path):
    """A reader with pairs, the session's trainable base, and the Q8_0 copy that the held-out
    check scores with (llm/batch_weights.py)."""
    target = gravity_home / "trainable-base"
    if base_cache.exists() and any(base_cache.iterdir()):
        shutil.copytree(base_cache, target, dirs_exist_ok=True)
    yield onboard_reader_with_pairs()
    if target.exists() and not any(base_cache.iterdir()):
        shutil.copytree(target, base_cache, dirs_exist_ok=True)


def test_training_exports_activates_and_changes_descriptions(reader_with_pairs) -> None:
    events: list[dict] = []
    with opened() as ctx:
        result = run_training(ctx, FAST, on_event=events.append)
        active = adapter_store.active(ctx.conn)
    kinds = [e["event"] for e in events]
    assert kinds[0] == "start" and "base_ready" in kinds and "done" in kinds
    assert events[0]["precision"] in ("fp32", "bf16")
    assert next(e for e in events if e["event"] == "done")["peak_rss_mb"] > 100
    progress = [e for e in events if e["event"] == "progress"]
    assert progress and {"step", "loss", "reward_accuracy", "margin", "eta_seconds"} <= set(
        progress[-1]
    )
    assert result.activated and active is not None and active.id == result.adapter_id
    assert result.heldout is not None and result.heldout.pairs >= 2
    assert result.heldout.margin > 0  # DPO moved the held-out margin, measured through llama.cpp
    assert active.path.is_file() and not list(active.path.parent.glob("*.partial"))

    runner = CliRunner()
    with_adapter = runner.invoke(cli, ["describe", "Dune", "--seed", "7"])
    without = runner.invoke(cli, ["describe", "Dune", "--seed", "7", "--no-adapter"])
    assert with_adapter.exit_code == 0 and without.exit_code == 0, with_adapter.output
    assert with_adapter.stdout != without.stdout
    listed = json.loads(runner.invoke(cli, ["adapters", "list", "--json"]).stdout)
    assert listed[0]["active"] and listed[0]["heldout_accuracy"] is not None


def numbered_pairs(ids: range) -> list[Pair]:
    prompt = [{"role": "user", "content": "Describe a book."}]
    return [
        Pair(method="gravity", source="synthetic", prompt=prompt, chosen=f"good {n}",
             rejected=f"flat {n}", id=n)
        for n in ids
    ]  # fmt: skip


def ids(pairs: list[Pair]) -> set[int | None]:
    return {p.id for p in pairs}


def test_held_out_pairs_stay_held_out_as_pairs_are_added() -> None:
    config = TrainConfig(heldout_share=0.2)
    train, heldout = split_pairs(numbered_pairs(range(1, 41)), config)
    more_train, more_heldout = split_pairs(numbered_pairs(range(1, 81)), config)
    assert ids(heldout) <= ids(more_heldout) and ids(train) <= ids(more_train)
    assert ids(train) | ids(heldout) == set(range(1, 41)) and not ids(train) & ids(heldout)
    assert 8 <= len(more_heldout) <= 24  # about a fifth of 80
    _, few = split_pairs(numbered_pairs(range(1, 9)), TrainConfig(heldout_share=0.01))
    assert len(few) == 2
    capped_train, capped_heldout = split_pairs(
        numbered_pairs(range(1, 81)), TrainConfig(max_pairs=20)
    )
    assert len(capped_train) + len(capped_heldout) == 20 and len(capped_heldout) < 10


class CountingEngine:
    """Stands in for a scoring engine: log-probabilities from the texts' lengths."""

    opened = 0
    closed = 0

    def __init__(self) -> None:
        CountingEngine.opened += 1

    def completion_logprobs(self, prompt, completions) -> list[list[float]]:
        return [[-0.5] * len(text) for text in completions]

    def close(self) -> None:
        CountingEngine.closed += 1


def test_held_out_scores_are_kept_for_the_next_run(tmp_path) -> None:
    pairs, path = numbered_pairs(range(1, 5)), tmp_path / "kept.json"
    first = KeptLogprobs(path)
    scores = first.scores("base", pairs, CountingEngine)
    first.scores("old adapter", pairs, CountingEngine)
    first.save()
    assert scores[0] == (-3.0, -3.0) and CountingEngine.opened == CountingEngine.closed == 2

    second = KeptLogprobs(path)
    assert second.scores("base", pairs, CountingEngine) == scores
    assert CountingEngine.opened == 2  # nothing to compute: the engine is not even opened
    edited = [replace(pairs[0], chosen="a better text"), *pairs[1:]]
    assert second.scores("base", edited, CountingEngine)[0] == (-6.5, -3.0)
    assert CountingEngine.opened == 3
    second.save()
    kept_text = path.read_text()
    assert set(json.loads(kept_text)) == {"base"}  # only the models this run scored

    path.write_text("{not json")
    assert KeptLogprobs(path).scores("base", pairs, CountingEngine) == scores
    damaged = {"base": {key: ["x", None] for key in json.loads(kept_text)["base"]}}
    path.write_text(json.dumps(damaged))
    assert KeptLogprobs(path).scores("base", pairs, CountingEngine) == scores


RESUMABLE = TrainConfig(epochs=2, batch_size=2, learning_rate=5e-4, max_length=256, save_every=1)


def train_one_step_then_cancel(ctx) -> TrainingResult:
    """Cancel at the first progress line; the worker leaves a checkpoint behind."""
    cancel = CancelToken()

    def stop_after_first_step(event: dict) -> None:
        if event["event"] == "progress":
            cancel.cancel()

    return run_training(ctx, RESUMABLE, on_event=stop_after_first_step, cancel=cancel)


def test_cancel_then_resume_from_checkpoint(reader_with_pairs) -> None:
    config = RESUMABLE
    with opened() as ctx:
        stopped = train_one_step_then_cancel(ctx)
        assert stopped.cancelled and adapter_store.active(ctx.conn) is None
        events: list[dict] = []
        resumed = run_training(ctx, config, on_event=events.append)
    assert resumed.resumed
    assert any(e["event"] == "resume" for e in events)
    # The cancelled run kept the reference log-probabilities of every pair for this one.
    reference = next(e for e in events if e["event"] == "reference")
    assert reference["known"] == reference["pairs"] > 0
    assert resumed.adapter_id is not None


def test_a_corrupt_checkpoint_is_reported_and_training_starts_clean(reader_with_pairs) -> None:
    config = RESUMABLE
    with opened() as ctx:
        assert train_one_step_then_cancel(ctx).cancelled
        checkpoints = list((ctx.paths.root / "training").glob("*/checkpoints/checkpoint-*"))
        assert checkpoints
        for checkpoint in checkpoints:
            for file in checkpoint.iterdir():
                if file.is_file():
                    file.write_bytes(b"\x00garbage")
        events: list[dict] = []
        result = run_training(ctx, config, on_event=events.append)
        assert any(e["event"] == "restart" for e in events)
        assert not result.resumed and "started clean because" in result.message
        assert adapter_store.active(ctx.conn).id == result.adapter_id


def test_killed_worker_leaves_the_last_good_adapter_active(reader_with_pairs, monkeypatch) -> None:
    with opened() as ctx:
        first = run_training(ctx, FAST)
    assert first.activated

    real_popen = subprocess.Popen

    def popen_then_kill(*args, **kwargs):
        process = real_popen(*args, **kwargs)
        threading.Timer(3.0, lambda: os.kill(process.pid, signal.SIGKILL)).start()
        return process

    monkeypatch.setattr(subprocess, "Popen", popen_then_kill)
    with opened() as ctx, pytest.raises(UserError, match="active adapter is unchanged"):
        run_training(ctx, TrainConfig(epochs=3, batch_size=2, seed=5, save_every=1))
    with opened() as ctx:
        assert adapter_store.active(ctx.conn).id == first.adapter_id


def test_imported_hugging_face_weights_are_trained_directly(reader_with_pairs, tmp_path) -> None:
    from gravity_desktop.llm.model_files import import_model
    from gravity_desktop.llm.registry import find_model

    with opened() as ctx:  # the prepared base is a Hugging Face folder of this very model
        bundled = find_model(ctx.paths, ctx.conn, None).path
        cache = ctx.paths.root / "trainable-base"
        if not cache.is_dir() or not any(cache.iterdir()):
            run_training(ctx, FAST)
        prepared = next(p for p in cache.iterdir() if (p / "config.json").is_file())
        shutil.copytree(prepared, tmp_path / "hf")
        shutil.rmtree(cache)
        mine = import_model(ctx.paths, ctx.conn, bundled, "mine", tmp_path / "hf")
        events: list[dict] = []
        result = run_training(ctx, FAST, on_event=events.append, model_id="mine")
    ready = next(e for e in events if e["event"] == "base_ready")
    assert ready["path"] == str(mine.trainable_path)
    assert not cache.exists()  # nothing was dequantized
    assert result.adapter_id is not None


def test_too_few_pairs_is_a_clear_message() -> None:
    with opened() as ctx, pytest.raises(UserError, match=r"only 0 pairs .* at least 6"):
        run_training(ctx, FAST)


def test_train_names_a_bad_layer_count() -> None:
    result = CliRunner().invoke(cli, ["train", "--layers", "none"])
    assert result.exit_code == 2
    assert "'none' is not a number of layers (1 or more) or 'all'" in result.output


def test_adapters_activate_and_rollback(reader_with_pairs) -> None:
    with opened() as ctx:
        first = run_training(ctx, FAST)
        second = run_training(ctx, TrainConfig(epochs=1, batch_size=4, seed=3, max_length=256))
        (kept_file,) = ctx.paths.batch_weights.glob("*.heldout-logprobs.json")
    # The base's, the new adapter's and the one it was compared with, on the second run's pairs
    kept = json.loads(kept_file.read_text())
    assert len(kept) == 3 and second.previous_heldout is not None
    assert {len(scores) for scores in kept.values()} == {second.heldout.pairs}
    runner = CliRunner()
    listed = json.loads(runner.invoke(cli, ["adapters", "list", "--json"]).stdout)
    assert [a["id"] for a in listed] == [first.adapter_id, second.adapter_id]
    for adapter in (second, first):  # whether or not the second run activated its adapter
        assert runner.invoke(cli, ["adapters", "activate", adapter.adapter_id]).exit_code == 0
    with opened() as ctx:
        assert adapter_store.active(ctx.conn).id == first.adapter_id
    rolled = runner.invoke(cli, ["adapters", "rollback"])
    assert rolled.exit_code == 0, rolled.output
    with opened() as ctx:
        assert adapter_store.active(ctx.conn).id == second.adapter_id
    missing = runner.invoke(cli, ["adapters", "activate", "nope"])
    assert missing.exit_code == 2 and "no adapter 'nope'" in missing.stderr


PARITY_SCRIPT = """
import json, sys
import torch
from peft import LoraConfig, get_peft_model
from transformers import AutoModelForCausalLM, AutoTokenizer
from gravity_desktop.training.base_model import prepare_trainable_base
from pathlib import Path
base = prepare_trainable_base(Path(sys.argv[1]), Path(sys.argv[2]))
torch.manual_seed(0)
model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
tok = AutoTokenizer.from_pretrained(base)
lora = LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "k_proj", "v_proj", "o_proj",
                  "gate_proj", "up_proj", "down_proj"], lora_dropout=0.0, task_type="CAUSAL_LM")
model = get_peft_model(model, lora)
with torch.no_grad():  # a LoRA that really changes the outputs (B is zero at initialisation)
    for name, param in model.named_parameters():
        if "lora_B" in name:
            param.normal_(0, 0.02)
model.save_pretrained(sys.argv[3])
ids = json.loads(sys.argv[4])
with torch.no_grad():
    logits = model(torch.tensor([ids])).logits[0]
logp = torch.log_softmax(logits, -1)
print(json.dumps([float(logp[i - 1, ids[i]]) for i in range(int(sys.argv[5]), len(ids))]))
"""


def test_llama_cpp_with_the_adapter_matches_transformers_and_peft(
    tmp_path: Path, bundled_model_path: Path, base_cache: Path
) -> None:
    """Exact comparison on an F32 copy of the GGUF (quantization error left out)."""
    from gguf import GGMLQuantizationType, GGUFReader, GGUFWriter
    from gguf.quants import dequantize

    from gravity_desktop.training.gguf_export import export_adapter

    f32 = tmp_path / "smollm2-f32.gguf"
    reader = GGUFReader(bundled_model_path)
    writer = GGUFWriter(f32, "llama")
    for field in reader.fields.values():
        if field.name.startswith("GGUF.") or field.name == "general.architecture":
            continue
        sub_type = field.types[-1] if len(field.types) > 1 else None
        writer.add_key_value(field.name, field.contents(), field.types[0], sub_type)
    for tensor in reader.tensors:
        data = dequantize(tensor.data, tensor.tensor_type).astype("float32")
        writer.add_tensor(
            tensor.name,
            data.reshape([int(d) for d in reversed(tensor.shape)]),
            raw_dtype=GGMLQuantizationType.F32,
        )
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()

    messages = [{"role": "user", "content": "Describe Dune in one sentence."}]
    answer = "Dune by Frank Herbert is a story of a desert planet and its spice."
    engine = Engine(f32, n_ctx=512, scoring=True)
    prompt, _ = engine.format_prompt(messages)
    answer_ids = engine._llama.tokenize(answer.encode(), add_bos=False, special=False)
    engine.close()
    peft_dir = tmp_path / "peft"
    result = subprocess.run(
        [sys.executable, "-c", PARITY_SCRIPT, str(bundled_model_path), str(base_cache),
         str(peft_dir), json.dumps(prompt + answer_ids), str(len(prompt))],
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    reference = json.loads(result.stdout.strip().splitlines()[-1])

    adapter = tmp_path / "adapter.gguf"
    export_adapter(peft_dir, bundled_model_path, adapter)
    with_adapter = Engine(f32, adapter_path=adapter, n_ctx=512, scoring=True)
    ours = with_adapter.completion_logprobs(messages, [answer])[0]
    with_adapter.close()
    gap = max(abs(a - b) for a, b in zip(ours, reference, strict=True))
    assert gap < 0.01, gap  # tolerance: 0.01 in per-token log-probability
