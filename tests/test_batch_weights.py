"""The teacher's Q8_0 copy of a Q4_1 model (llm/batch_weights.py): made once, faithful, optional."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from gravity_desktop.app_context import opened
from gravity_desktop.llm import batch_weights as module
from gravity_desktop.llm.batch_weights import batch_weights
from gravity_desktop.llm.engine import Engine, GenerationSettings
from gravity_desktop.llm.gguf_file import read_header, sha256_of
from gravity_desktop.llm.serving import load_teacher

MESSAGES = [
    {"role": "system", "content": "You describe books. Book: Dune by Frank Herbert (1965)."},
    {"role": "user", "content": "In two sentences, describe Dune: its desert."},
]


def test_a_q4_1_model_gets_a_q8_0_copy_made_once(
    teacher_copy: Path, bundled_model_path: Path
) -> None:
    from gguf import GGUFReader

    assert teacher_copy.name == f"{sha256_of(bundled_model_path)[:16]}.q8_0.gguf"
    kinds = {t.tensor_type.name for t in GGUFReader(teacher_copy).tensors}
    assert kinds == {"Q8_0", "F32"}
    original, copied = read_header(bundled_model_path).fields, read_header(teacher_copy).fields
    assert (original["general.file_type"], copied["general.file_type"]) == (3, 7)
    assert {k: v for k, v in copied.items() if k != "general.file_type"} == {
        k: v for k, v in original.items() if k != "general.file_type"
    }
    written = teacher_copy.stat().st_mtime_ns
    assert batch_weights(bundled_model_path, teacher_copy.parent) == teacher_copy
    assert teacher_copy.stat().st_mtime_ns == written
    # Q8_0 batches well as it is.
    assert batch_weights(teacher_copy, teacher_copy.parent) == teacher_copy
    assert [p.name for p in teacher_copy.parent.iterdir()] == [teacher_copy.name]


def test_the_copy_scores_text_as_the_original_does(
    teacher_copy: Path, bundled_model_path: Path
) -> None:
    original = Engine(bundled_model_path, n_ctx=512, n_threads=2, scoring=True)
    copied = Engine(teacher_copy, n_ctx=512, n_threads=2, scoring=True)
    try:
        reply = "Dune is a science fiction novel about a desert planet and the family ruling it."
        (before,) = original.completion_logprobs(MESSAGES, [reply])
        (after,) = copied.completion_logprobs(MESSAGES, [reply])
    finally:
        original.close()
        copied.close()
    gaps = [abs(a - b) for a, b in zip(before, after, strict=True)]
    assert max(gaps) < 0.5 and sum(gaps) / len(gaps) < 0.1
    assert abs(sum(before) - sum(after)) < 1.0


def test_a_copy_that_cannot_be_written_leaves_the_original_in_use(
    bundled_model_path: Path, tmp_path: Path, monkeypatch, caplog
) -> None:
    def disk_full(source: Path, target: Path) -> None:
        target.write_bytes(b"GGUF half")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(module, "write_q8_0_copy", disk_full)
    notes = []
    with caplog.at_level(logging.WARNING, logger=module.__name__):
        found = batch_weights(bundled_model_path, tmp_path / "cache", note=notes.append)
    assert found == bundled_model_path
    assert notes == [f"rewriting {bundled_model_path.name} as Q8_0 for batched writing (once)"]
    assert list((tmp_path / "cache").iterdir()) == []
    assert "No space left on device" in caplog.text and "q8_0.gguf" in caplog.text


def test_the_teacher_runs_on_the_copy_in_the_data_dir(seeded_teacher_copy: Path) -> None:
    with opened() as ctx:
        teacher_id, engine = load_teacher(ctx)
        try:
            assert engine.model_info.path == seeded_teacher_copy
            assert engine.chat(MESSAGES, GenerationSettings(max_tokens=8, seed=1)).text
        finally:
            engine.close()
    assert teacher_id == "smollm2-135m-instruct-q4_1"


def test_a_damaged_copy_is_written_again(
    teacher_copy: Path, bundled_model_path: Path, tmp_path: Path, monkeypatch
) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    damaged = cache / teacher_copy.name
    damaged.write_bytes(teacher_copy.read_bytes()[: 1 << 20])  # cut short, as by a crash
    written = []

    def rewrite(source: Path, target: Path) -> None:  # the real writer is tested above
        written.append(source)
        shutil.copyfile(teacher_copy, target)

    monkeypatch.setattr(module, "write_q8_0_copy", rewrite)
    assert batch_weights(bundled_model_path, cache) == damaged
    assert written == [bundled_model_path]
    assert damaged.stat().st_size == teacher_copy.stat().st_size
