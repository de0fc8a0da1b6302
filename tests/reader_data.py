"""A data dir with a little of everything a reader accumulates, for export and delete tests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from gravity_desktop.app_context import opened
from gravity_desktop.catalog.library import set_status
from gravity_desktop.config import Settings
from gravity_desktop.gravity.feedback import give_feedback
from gravity_desktop.gravity.synthesis import SynthesisRequest, synthesize
from gravity_desktop.profile.answers import parse_answers
from gravity_desktop.profile.service import onboard
from gravity_desktop.store import pairs as pair_store
from tests.answer_patterns import all_answers
from tests.fake_teacher import FakeTeacher

ADAPTER = b"GGUF adapter bytes" * 1000


@dataclass(frozen=True)
class ReaderData:
    root: Path
    counts: dict[str, int]


def fill_reader_data() -> ReaderData:
    """Answers, a profile, a reading, a description with a rewrite (a real pair), an adapter,
    settings, a downloaded model and a trainable-base cache (the last two are not exported)."""
    with opened() as ctx:
        onboard(ctx.conn, parse_answers({
            "country": "JP", "answers": all_answers({"O": True}),
            "interests": {"genres": ["fantasy"]},
        }))  # fmt: skip
        set_status(ctx.conn, "dune-herbert", "liked")
        pair_store.add_description(
            ctx.conn, book_id="dune-herbert", profile_version=1, model_id="m", adapter_id=None,
            seed=1, template_version="t", prompt=[{"role": "user", "content": "Describe Dune"}],
            text="A desert planet and its spice.",
        )  # fmt: skip
        give_feedback(ctx.conn, "dune-herbert", "down", "Dune, warmly and briefly.")
        Settings(serve_model="smollm2-135m-instruct-q4_1").save(ctx.paths)
        (ctx.paths.adapters / "20260101-000000-gravity.gguf").write_bytes(ADAPTER)
        (ctx.paths.adapters / "20260102-000000-gravity.gguf.partial").write_bytes(b"half")
        (ctx.paths.models / "some-model").mkdir()
        (ctx.paths.models / "some-model" / "weights.gguf").write_bytes(b"W" * 5000)
        (ctx.paths.root / "trainable-base").mkdir()
        (ctx.paths.root / "trainable-base" / "model.safetensors").write_bytes(b"T" * 5000)
        answers = ctx.conn.execute("SELECT count(*) FROM answer").fetchone()[0]
        fields = ctx.conn.execute("SELECT count(*) FROM answer_field").fetchone()[0]
        root = ctx.paths.root
    counts = {"answers": answers + fields, "profile_versions": 1, "readings": 1, "pairs": 1,
              "descriptions": 1, "feedback": 1, "adapters": 1}  # fmt: skip
    return ReaderData(root, counts)


def onboard_reader_with_pairs():
    """A reader with 15 GRAVITY pairs from the scripted teacher (enough to train and hold out)."""
    with opened() as ctx:
        reader = onboard(ctx.conn, parse_answers({
            "country": "IN", "answers": all_answers({"O": True, "benevolence": True}),
            "interests": {"genres": ["literary fiction", "science fiction"]},
        }))  # fmt: skip
        synthesize(ctx.conn, FakeTeacher(), "fake", reader, SynthesisRequest("gravity", 5, 3, 2))
    return reader
