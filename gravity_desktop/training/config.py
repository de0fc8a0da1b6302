"""Training settings as a dataclass with documented defaults (docs/training.md).

The defaults suit a 2-core CPU and the bundled 135M model: a small LoRA on every attention and
MLP projection of the top ten layers, a learning rate high enough to move it in one or two epochs
over a few dozen pairs, and a maximum length that holds the whole of each pair: the serving
prompt with the book's facts is 190-240 tokens and a description about 100 (at 256, TRL cut most
descriptions to their first 30-50 tokens, and the pair's difference often lies later).
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
    # LoRA on the top N decoder layers only (None: every layer); the layers below run once per
    # step without autograd (training/upper_layers.py): a CPU step takes about 1.6x less time.
    lora_layers: int | None = 10
    beta: float = 0.1  # DPO temperature: how far the policy may move from the reference
    learning_rate: float = 5e-4
    epochs: int = 2
    batch_size: int = 2
    max_length: int = 512
    heldout_share: float = 0.2  # held out for the reward-accuracy check (at least 2 pairs)
    feedback_weight: int = 3  # each real feedback pair appears this many times per epoch
    max_pairs: int | None = None
    save_every: int = 10  # steps between checkpoints (for resuming)
    seed: int = 0
    # Number formats (dpo_worker.number_formats): "bf16" keeps the frozen base in bf16 and computes
    # in bf16, which halves its memory and runs on AVX512-BF16 or AMX units; "fp32" is float32
    # throughout; "auto" takes bf16 on CPUs built for it, float32 on other CPUs, and on GPUs float32
    # weights with bf16 arithmetic. The LoRA weights stay float32 in every case.
    precision: str = "auto"
    # Recompute each adapted layer's activations in the backward pass instead of keeping them. On
    # the bundled model's top 10 layers, keeping them trains about 1.2x faster for about 200 MB
    # more (a 2.0-2.1 GB worker); with `lora_layers=None` and long pairs, turn it on to save memory.
    gradient_checkpointing: bool = False

    def as_json(self) -> dict[str, object]:
        data = asdict(self)
        data["target_modules"] = list(self.target_modules)
        return data

    @classmethod
    def from_json(cls, data: dict) -> TrainConfig:
        values = dict(data)
        values["target_modules"] = tuple(values.get("target_modules", cls.target_modules))
        return cls(**values)


PRECISIONS = ("auto", "fp32", "bf16")
MIN_PAIRS = 6  # fewer than this cannot give both a training and a held-out split
