"""PEFT LoRA -> llama.cpp LoRA adapter GGUF, with numpy and gguf-py only (no torch).

The adapter format llama.cpp reads: `general.type = adapter`, `adapter.type = lora`,
`adapter.lora.alpha`, and for each adapted weight `<base tensor name>.lora_a` (rank x in) and
`.lora_b` (out x rank), named after the base model's GGUF tensors. For llama-family models,
llama.cpp's converter permutes the rows of the q and k projection weights (to interleave the
rotary halves); transformers undoes that when it reads the GGUF, so the LoRA trained on the
transformers layout must have the rows of q's and k's lora_b permuted the same way. Without it the
adapter still loads but shifts the wrong rows (the tests check the numbers, not only the load).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
from gguf import GGUFWriter
from safetensors.numpy import load_file

from gravity_desktop.errors import UserError
from gravity_desktop.llm.gguf_file import read_header

# transformers module path -> llama.cpp tensor name, for llama-family decoders.
MODULES = {
    "self_attn.q_proj": "attn_q",
    "self_attn.k_proj": "attn_k",
    "self_attn.v_proj": "attn_v",
    "self_attn.o_proj": "attn_output",
    "mlp.gate_proj": "ffn_gate",
    "mlp.up_proj": "ffn_up",
    "mlp.down_proj": "ffn_down",
}
PERMUTED_ARCHITECTURES = {"llama"}
KEY = re.compile(
    r"layers\.(\d+)\.(self_attn\.[qkvo]_proj|mlp\.(?:gate|up|down)_proj)\.lora_([AB])\.weight$"
)


def permute_rows(weights: np.ndarray, n_head: int) -> np.ndarray:
    """llama.cpp's q/k row permutation (convert_hf_to_gguf's LlamaModel.permute)."""
    rows = weights.shape[0]
    return (
        weights.reshape(n_head, 2, rows // n_head // 2, *weights.shape[1:])
        .swapaxes(1, 2)
        .reshape(weights.shape)
    )


def base_facts(base_gguf: Path) -> dict[str, object]:
    header = read_header(base_gguf)
    field = header.fields.get
    arch = str(field("general.architecture"))
    return {
        "arch": arch,
        "n_head": int(field(f"{arch}.attention.head_count")),
        "n_head_kv": int(
            field(f"{arch}.attention.head_count_kv") or field(f"{arch}.attention.head_count")
        ),
        "tensors": {t.name for t in header.tensors},
    }


def export_adapter(peft_dir: Path, base_gguf: Path, out: Path) -> int:
    """Write `out` from the PEFT adapter in `peft_dir`; returns the number of adapted weights."""
    config = json.loads((peft_dir / "adapter_config.json").read_text(encoding="utf-8"))
    weights = load_file(str(peft_dir / "adapter_model.safetensors"))
    facts = base_facts(base_gguf)
    pairs: dict[str, dict[str, np.ndarray]] = {}
    for key, value in weights.items():
        match = KEY.search(key)
        if match is None:
            raise UserError(f"{peft_dir}: unexpected adapter tensor {key}")
        layer, module, which = match.groups()
        name = f"blk.{layer}.{MODULES[module]}.weight"
        if name not in facts["tensors"]:
            raise UserError(f"{peft_dir}: {name} is not a tensor of {base_gguf.name}")
        pairs.setdefault(name, {})[which] = value.astype(np.float32)
    writer = GGUFWriter(out, facts["arch"])
    writer.add_string("general.type", "adapter")
    writer.add_string("adapter.type", "lora")
    writer.add_float32("adapter.lora.alpha", float(config["lora_alpha"]))
    for name in sorted(pairs):
        lora_a, lora_b = pairs[name]["A"], pairs[name]["B"]
        if facts["arch"] in PERMUTED_ARCHITECTURES:
            if ".attn_q." in name:
                lora_b = permute_rows(lora_b, facts["n_head"])
            elif ".attn_k." in name:
                lora_b = permute_rows(lora_b, facts["n_head_kv"])
        writer.add_tensor(f"{name}.lora_a", np.ascontiguousarray(lora_a))
        writer.add_tensor(f"{name}.lora_b", np.ascontiguousarray(lora_b))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return len(pairs)
