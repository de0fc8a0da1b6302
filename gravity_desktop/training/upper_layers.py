"""LoRA on the upper layers only, the layers below run without autograd (worker only).

A step's cost on the CPU is mostly the decoder layers, and a layer that takes part in training
costs about four times its forward pass (the forward, its recomputation under gradient
checkpointing, and the backward to its input and its LoRA weights). When the LoRA adapts only the
top layers, nothing below the first adapted layer needs a gradient, but TRL and transformers make
the input embeddings require one whenever a PEFT model is trained with gradient checkpointing
(`enable_input_require_grads`, for reentrant checkpointing), so the backward pass would still run
through every frozen layer. Running the layers below without autograd stops it there: they cost
one forward pass each, and keep no activations.

Their output for a row of tokens never changes while the adapter trains, so it need not be
computed again for every step either: `FrozenLayers.run` can hand on states kept from an earlier
pass (the reference pass before training, or the first epoch), and the layers below then do
nothing. `KeptStates` keeps them per row (`shared_prompt` knows the rows). docs/training.md has
the measured effect and the held-out accuracy beside an adapter on every layer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

Result = TypeVar("Result")
# The kept states of a few hundred pairs of the bundled model take tens of MB in bf16; past this
# the rows not yet kept are computed at every step, as before, rather than grow the worker.
KEPT_BYTES = 512 * 1024 * 1024


def adapted_layers(model: Any, count: int | None) -> list[int] | None:
    """The indices of the top `count` decoder layers, for LoraConfig's `layers_to_transform`.

    None (every layer) where `count` is None, covers the model, or the model's backbone does not
    keep its decoder layers as `layers` (then the layers below could not be told apart).
    """
    total = model.config.num_hidden_layers
    if count is None or count >= total or not hasattr(model.base_model, "layers"):
        return None
    return list(range(total - count, total))


def run_without_gradients_below(model: Any, first: int) -> FrozenLayers:
    """Run the decoder layers below `first` under `torch.no_grad` (`model` before PEFT wraps it).

    Exact for the adapted layers: no trainable weight sits below `first`, so no gradient of the
    loss could flow back through those layers to anything being trained.
    """
    return FrozenLayers(model.base_model.layers[:first])


class FrozenLayers:
    """The decoder layers below the first adapted one, which can hand on given states instead."""

    def __init__(self, layers: Any) -> None:
        import torch

        self._given: Any = None
        self._output: Any = None
        self._capturing = False
        for index, layer in enumerate(layers):
            self._wrap(layer, torch.no_grad()(layer.forward), last=index == len(layers) - 1)

    def _wrap(self, layer: Any, compute: Callable[..., Any], last: bool) -> None:
        def forward(hidden_states: Any, *args: Any, **kwargs: Any) -> Any:
            if self._given is not None:
                return self._given
            output = compute(hidden_states, *args, **kwargs)
            if last and self._capturing:
                self._output = output
            return output

        layer.forward = forward

    def run(self, forward: Callable[[], Result], given: Any = None) -> tuple[Result, Any]:
        """`forward()`, a pass of the model, and the frozen layers' output in it.

        With `given` (hidden states shaped as the pass's input, no gradient) the frozen layers do
        nothing and the first adapted layer gets `given`.
        """
        self._given, self._capturing = given, given is None
        try:
            return forward(), given if given is not None else self._output
        finally:
            self._given, self._output, self._capturing = None, None, False


class KeptStates:
    """The frozen layers' output per row of tokens, kept within `budget` bytes.

    A row's states depend on its tokens alone (each position sees only the positions before it),
    so they serve any later batch that holds the same row, however it is packed. The start a row
    shares with others (the book's prompt, most of each row) is kept once for all of them.
    """

    def __init__(self, budget: int = KEPT_BYTES) -> None:
        self._starts: dict[tuple[int, ...], Any] = {}
        self._rests: dict[tuple[int, ...], tuple[tuple[int, ...], Any]] = {}
        self._budget = budget
        self._bytes = 0

    def get(self, row: tuple[int, ...]) -> Any:
        """The row's states, one per token; None where they were not kept."""
        import torch

        found = self._rests.get(row)
        if found is None:
            return None
        start, rest = found
        return torch.cat([self._starts[start], rest])

    def keep(self, row: tuple[int, ...], start: Any, rest: Any) -> None:
        """Keep the states of `row`: `start` for its first tokens, which other rows may share,
        then `rest`."""
        if row in self._rests or self._bytes >= self._budget:
            return
        shared = row[: len(start)]
        if shared not in self._starts:
            self._starts[shared] = start.detach().clone()
            self._bytes += start.nbytes
        self._rests[row] = (shared, rest.detach().clone())
        self._bytes += rest.nbytes
