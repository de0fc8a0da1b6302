"""Small GGUF files written with gguf-py for the bad-input and adapter tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from gguf import GGUFWriter

SMOLLM2_EMBED = 576
SMOLLM2_LAYERS = 30


def write_lora_adapter(
    path: Path,
    *,
    arch: str = "llama",
    rank: int = 4,
    alpha: float = 8.0,
    scale: float = 0.0,
    seed: int = 0,
) -> Path:
    """A LoRA adapter GGUF for SmolLM2-135M on every layer's attn_q; `scale=0` makes it a no-op."""
    rng = np.random.default_rng(seed)
    writer = GGUFWriter(path, arch)
    writer.add_string("general.type", "adapter")
    writer.add_string("adapter.type", "lora")
    writer.add_float32("adapter.lora.alpha", alpha)
    for layer in range(SMOLLM2_LAYERS):
        base = f"blk.{layer}.attn_q.weight"
        lora_a = rng.standard_normal((rank, SMOLLM2_EMBED)).astype(np.float32)
        lora_b = (scale * rng.standard_normal((SMOLLM2_EMBED, rank))).astype(np.float32)
        writer.add_tensor(f"{base}.lora_a", lora_a)
        writer.add_tensor(f"{base}.lora_b", lora_b)
    _finish(writer)
    return path


def write_tiny_model(path: Path, arch: str) -> Path:
    """A header-valid GGUF of some architecture with one small tensor (not loadable as an LLM)."""
    writer = GGUFWriter(path, arch)
    writer.add_string("general.name", f"tiny {arch}")
    writer.add_tensor("token_embd.weight", np.zeros((4, 8), dtype=np.float32))
    _finish(writer)
    return path


def _finish(writer: GGUFWriter) -> None:
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
