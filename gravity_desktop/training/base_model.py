"""The trainable base: transformers weights prepared once from the served GGUF (worker only).

transformers reads a llama.cpp GGUF with `from_pretrained(folder, gguf_file=name)`, dequantizing
the weights to float32 (and undoing llama.cpp's q/k row permutation). The loaded model still
carries the GGUF quantization markers (`config.quantization_config`, `hf_quantizer`), and the
Trainer refuses to train a model it believes is quantized. Since the tensors are ordinary float32
parameters, we drop the markers and save a regular safetensors checkpoint; from then on the base
loads and trains like any Hugging Face model. The checkpoint is cached per GGUF sha256.

A model imported together with the Hugging Face safetensors folder it was made from
(`gravity models import FILE.gguf --weights DIR`, checked in llm/hf_weights.py) needs none of
this: training starts from those original weights.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from gravity_desktop.llm.gguf_file import sha256_of

MARKER = "gravity-base.json"


def cached_base(cache_root: Path, gguf_sha256: str) -> Path | None:
    folder = cache_root / gguf_sha256[:16]
    return folder if (folder / MARKER).is_file() else None


def prepare_trainable_base(gguf: Path, cache_root: Path, weights: Path | None = None) -> Path:
    """The imported `weights` folder when there is one, else the cached trainable copy of
    `gguf`, prepared on first use."""
    if weights is not None:
        if not (weights / "config.json").is_file():
            raise FileNotFoundError(f"{weights}: the imported weights are missing")
        return weights
    digest = sha256_of(gguf)
    found = cached_base(cache_root, digest)
    if found is not None:
        return found
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    target = cache_root / digest[:16]
    partial = cache_root / f"{digest[:16]}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    model = AutoModelForCausalLM.from_pretrained(
        gguf.parent, gguf_file=gguf.name, dtype=torch.float32
    )
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.is_quantized = False
    model.save_pretrained(partial, safe_serialization=True)
    tokenizer.save_pretrained(partial)
    (partial / MARKER).write_text(
        json.dumps({"gguf": str(gguf), "gguf_sha256": digest}, indent=2), encoding="utf-8"
    )
    shutil.rmtree(target, ignore_errors=True)
    partial.rename(target)
    return target
