"""Training settings as a dataclass with documented defaults (docs/training.md).

The defaults suit a 2-core CPU and the bundled 135M model: a small LoRA on every attention and
MLP projection, a learning rate high enough to move the model in one or two epochs over a few dozen
pairs, and a short maximum length (descriptions are about 100 tokens).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class TrainConfig:
    method: str = "gravity"  # which synthetic pairs: gravity, naive or sft (feedback pairs always)
    rank: int = 8
    alpha: float = 16.0
    dropout: float = 0.05
    target_modules: tuple[str, ...] = field(
        default=("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
    )
    beta: float = 0.1  # DPO temperature: how far the policy may move from the reference
    learning_rate: float = 2e-4
    epochs: int = 2
    batch_size: int = 2
    max_length: int = 256
    heldout_share: float = 0.2  # held out for the reward-accuracy check (at least 2 pairs)
    feedback_weight: int = 3  # each real feedback pair appears this many times per epoch
    max_pairs: int | None = None
    save_every: int = 10  # steps between checkpoints (for resuming)
    seed: int = 0

    def as_json(self) -> dict[str, object]:
        data = asdict(self)
        data["target_modules"] = list(self.target_modules)
        return data

    @classmethod
    def from_json(cls, data: dict) -> TrainConfig:
        values = dict(data)
        values["target_modules"] = tuple(values.get("target_modules", cls.target_modules))
        return cls(**values)


MIN_PAIRS = 6  # fewer than this cannot give both a training and a held-out split
