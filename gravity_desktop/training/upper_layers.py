"""LoRA on the upper layers only, the layers below run once without autograd (worker only).

A step's cost on the CPU is mostly the decoder layers, and a layer that takes part in training
costs about four times its forward pass (the forward, its recomputation under gradient
checkpointing, and the backward to its input and its LoRA weights). When the LoRA adapts only the
top layers, nothing below the first adapted layer needs a gradient, but TRL and transformers make
the input embeddings require one whenever a PEFT model is trained with gradient checkpointing
(`enable_input_require_grads`, for reentrant checkpointing), so the backward pass would still run
through every frozen layer. Running the layers below without autograd stops it there: they cost
one forward pass each, and keep no activations. docs/training.md has the measured effect and the
held-out accuracy beside an adapter on every layer.
"""

from __future__ import annotations

from typing import Any


def adapted_layers(model: Any, count: int | None) -> list[int] | None:
    """The indices of the top `count` decoder layers, for LoraConfig's `layers_to_transform`.

    None (every layer) where `count` is None, covers the model, or the model's backbone does not
    keep its decoder layers as `layers` (then the layers below could not be told apart).
    """
    total = model.config.num_hidden_layers
    if count is None or count >= total or not hasattr(model.base_model, "layers"):
        return None
    return list(range(total - count, total))


def run_without_gradients_below(model: Any, first: int) -> None:
    """Run the decoder layers below `first` under `torch.no_grad` (`model` before PEFT wraps it).

    Exact for the adapted layers: no trainable weight sits below `first`, so no gradient of the
    loss could flow back through those layers to anything being trained.
    """
    import torch

    for layer in model.base_model.layers[:first]:
        layer.forward = torch.no_grad()(layer.forward)
