from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from gravity_desktop.app_context import opened
from gravity_desktop.cli import cli
from gravity_desktop.errors import UserError
from gravity_desktop.gravity.feedback import give_feedback
from gravity_desktop.gravity.pairs_io import export_pairs, import_pairs
from gravity_desktop.gravity.synthesis import SynthesisRequest, synthesize
from gravity_desktop.profile.answers import parse_answers
from gravity_desktop.profile.service import onboard
from gravity_desktop.store import pairs as store
from tests.answer_patterns import all_answers
from tests.fake_teacher import FakeTeacher

BOOK = "kitchen-yoshimoto"


def add_description(conn, text: str) -> int:
    return store.add_description(
        conn, book_id=BOOK, profile_version=None, model_id="m", adapter_id=None, seed=None,
        template_version="describe-v1", prompt=[{"role": "user", "content": "p"}], text=text,
    )  # fmt: skip


def test_thumbs_make_real_pairs() -> None:
    with opened() as ctx:
        first = add_description(ctx.conn, "Kitchen by Banana Yoshimoto, version one.")
        assert give_feedback(ctx.conn, BOOK, "down").pair_ids == ()
        second = add_description(ctx.conn, "Kitchen by Banana Yoshimoto, version two.")
        liked = give_feedback(ctx.conn, BOOK, "up")  # a regenerated alternative they like
        assert len(liked.pair_ids) == 1
        rewrite = give_feedback(ctx.conn, BOOK, "down", "My own words about Kitchen.", first)
        assert len(rewrite.pair_ids) == 1
        # a thumbs-up and a thumbs-down on descriptions of the same book, once only
        again = give_feedback(ctx.conn, BOOK, "up", None, second)
        assert again.pair_ids == ()
        made = store.pairs(ctx.conn, source="feedback")
    assert [(p.chosen, p.rejected) for p in made] == [
        ("Kitchen by Banana Yoshimoto, version two.", "Kitchen by Banana Yoshimoto, version one."),
        ("My own words about Kitchen.", "Kitchen by Banana Yoshimoto, version one."),
    ]
    assert all(p.method == "feedback" and p.book_id == BOOK for p in made)
    assert made[0].prompt[-1]["content"].startswith("Book: Kitchen (Kitchin) by Banana Yoshimoto")


@pytest.mark.parametrize(
    ("book", "verdict", "text", "message"),
    [
        ("no-such-book", "down", None, "no book with id"),
        (BOOK, "down", None, "no description of"),
        (BOOK, "sideways", None, "verdict must be"),
    ],
)
def test_feedback_errors(book: str, verdict: str, text: str | None, message: str) -> None:
    with opened() as ctx, pytest.raises(UserError, match=message):
        give_feedback(ctx.conn, book, verdict, text)


def test_rewrite_rules() -> None:
    with opened() as ctx:
        add_description(ctx.conn, "Kitchen by Banana Yoshimoto.")
        with pytest.raises(UserError, match="goes with a thumbs down"):
            give_feedback(ctx.conn, BOOK, "up", "better")
        with pytest.raises(UserError, match="empty"):
            give_feedback(ctx.conn, BOOK, "down", "   ")
        with pytest.raises(UserError, match="same as the description"):
            give_feedback(ctx.conn, BOOK, "down", "Kitchen by Banana Yoshimoto.")


def test_cli_describe_then_feedback() -> None:
    runner = CliRunner()
    described = runner.invoke(cli, ["describe", "Kitchen", "--seed", "2"])
    assert described.exit_code == 0, described.output
    assert described.stdout.strip()
    result = runner.invoke(cli, ["feedback", BOOK, "--down", "--text", "Short and warm, please."])
    assert result.exit_code == 0 and "1 new preference pair" in result.stdout
    listed = json.loads(runner.invoke(cli, ["pairs", "list", "--json"]).stdout)
    assert listed[0]["chosen"][0]["content"] == "Short and warm, please."
    assert listed[0]["metadata"]["source"] == "feedback"
    assert runner.invoke(cli, ["feedback", BOOK]).exit_code == 2


def make_pairs() -> None:
    with opened() as ctx:
        reader = onboard(
            ctx.conn,
            parse_answers(
                {
                    "country": "JP",
                    "answers": all_answers({"O": True, "benevolence": True}),
                    "interests": {"genres": ["literary fiction"]},
                }
            ),
        )
        for method in ("gravity", "sft"):
            synthesize(ctx.conn, FakeTeacher(), "fake", reader, SynthesisRequest(method, 3, 2, 4))


def test_export_and_import_round_trip(tmp_path: Path, monkeypatch) -> None:
    make_pairs()
    file = tmp_path / "pairs.jsonl"
    with opened() as ctx:
        originals = store.pairs(ctx.conn)
        assert export_pairs(originals, file) == len(originals)
    records = [json.loads(line) for line in file.read_text().splitlines()]
    preference = [r for r in records if "chosen" in r]
    sft = [r for r in records if "completion" in r]
    assert preference and sft
    for record in preference:
        assert record["chosen"][0]["role"] == "assistant" and record["rejected"][0]["content"]
        assert record["prompt"][0]["role"] == "system"
        assert record["metadata"]["method"] == "gravity" and record["metadata"]["facets"]

    monkeypatch.setenv("GRAVITY_HOME", str(tmp_path / "elsewhere"))
    broken = tmp_path / "mixed.jsonl"
    broken.write_text(file.read_text() + "{not json\n" + json.dumps({"prompt": []}) + "\n")
    with opened() as ctx:
        result = import_pairs(ctx.conn, broken)
        assert result.imported == len(originals)
        assert [s.split(":")[0] for s in result.skipped] == [
            f"line {len(records) + 1}",
            f"line {len(records) + 2}",
        ]
        assert import_pairs(ctx.conn, file).duplicates == len(originals)
        imported = store.pairs(ctx.conn)
    assert {(p.chosen, p.rejected) for p in imported} == {(p.chosen, p.rejected) for p in originals}
    assert all(p.source == "import" for p in imported)
    assert {p.method for p in imported} == {"gravity", "sft"}


DPO_SCRIPT = """
import copy, sys
import datasets, torch
from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM
from trl import DPOConfig, DPOTrainer
file, gguf, out = sys.argv[1:4]
data = datasets.load_dataset("json", data_files=file, split="train")
assert {"prompt", "chosen", "rejected"} <= set(data.column_names), data.column_names
tokenizer = AutoTokenizer.from_pretrained(gguf.rsplit("/", 1)[0], gguf_file=gguf.rsplit("/", 1)[1])
torch.manual_seed(0)
config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64,
                     num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=1)
model = LlamaForCausalLM(config)
args = DPOConfig(output_dir=out, max_steps=1, per_device_train_batch_size=2, report_to=[],
                 logging_steps=1, save_strategy="no", use_cpu=True, disable_tqdm=True)
trainer = DPOTrainer(model=model, ref_model=copy.deepcopy(model), args=args,
                     train_dataset=data, processing_class=tokenizer)
print("steps", trainer.train().global_step)
"""


def test_exported_jsonl_loads_in_datasets_and_trains_with_dpo(tmp_path: Path) -> None:
    """The export is TRL's conversational preference format: one DPO step on a tiny model.

    Runs in a subprocess, as training always does in the app (torch stays out of this process).
    """
    from gravity_desktop.llm.registry import load_registry, pip_file

    make_pairs()
    file = tmp_path / "pairs.jsonl"
    with opened() as ctx:
        export_pairs(store.pairs(ctx.conn, method="gravity"), file)
    entry = next(e for e in load_registry() if e.default)
    gguf = pip_file(entry.source.package, entry.source.file)
    result = subprocess.run(
        [sys.executable, "-c", DPO_SCRIPT, str(file), str(gguf), str(tmp_path / "out")],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert "steps 1" in result.stdout
