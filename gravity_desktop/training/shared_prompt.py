"""Run each prompt of a DPO batch once for all its texts (imported in the worker only).

TRL's DPO collator lays a batch of B pairs out as 2B rows, the B chosen sequences first and then
the B rejected ones, each row the whole prompt followed by one text, every row padded to the
longest. Row i and row B + i begin with the same prompt (the book's facts, over two thirds of each
row here), and so do pairs of one book: synthesis writes several scenarios per book, and the
worker's trainer batches them together (`worker_trainer.PromptGroupedSampler`). This module wraps
the causal LM's backbone so that rows with a long common start run as one packed row: the common
start once, then each row's own rest, with an attention mask that lets each rest see the common
start and itself but no other rest, and position ids that restart where the rests part; so every
position sees exactly what it sees in its own row (causal attention makes this exact). The
hidden states come back in the collator's layout, so TRL's loss, metrics and fused LM head are
unchanged.

Where the LoRA adapts only the upper layers, the layers below give each row the same states at
every step; given their `FrozenLayers`, the packed path keeps those states per row (`KeptStates`)
and, once every row of a batch has been seen (in the reference pass before training, or in an
earlier epoch), hands them on instead of running those layers again.

Batches that do not have that shape (generation, SFT, rows without a common start of at least
`MIN_SHARED` tokens, left padding) run through the backbone as before. docs/training.md has the
measured effect on the bundled model.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from gravity_desktop.training.upper_layers import FrozenLayers, KeptStates

MIN_SHARED = 8  # below this, packing saves too little to be worth a layout of its own
PASSTHROUGH_KEYS = frozenset({"input_ids", "attention_mask", "use_cache"})


@dataclass(frozen=True)
class Group:
    """Rows of the collator's batch packed into one row: their common start, then each rest."""

    rows: tuple[int, ...]  # row indices in the collator's batch
    lengths: tuple[int, ...]  # each row's length without padding
    shared: int  # length of the rows' common start

    @property
    def width(self) -> int:
        return self.shared + sum(length - self.shared for length in self.lengths)

    def rests(self) -> Iterator[tuple[int, int]]:
        """(start in the packed row, length) of each row's rest, in the order of `rows`."""
        start = self.shared
        for length in self.lengths:
            yield start, length - self.shared
            start += length - self.shared


def share_prompts(model: Any, frozen: FrozenLayers | None = None) -> None:
    """Wrap `model`'s backbone (a transformers causal LM, before PEFT wraps it); see above.

    `frozen`: the layers below the adapted ones (`run_without_gradients_below`), whose states
    are then kept between steps.

    Only for PyTorch's scaled-dot-product attention (transformers' default), which takes the
    packed rows' mask as booleans; models loaded with another attention implementation are left
    as they are.
    """
    backbone = model.base_model
    if getattr(backbone.config, "_attn_implementation", None) != "sdpa":
        return
    original = backbone.forward
    kept = None if frozen is None else (frozen, KeptStates())

    def forward(*args: Any, **kwargs: Any) -> Any:
        groups = None if args else _groups(kwargs)
        if groups is None:
            return original(*args, **kwargs)
        return _forward_groups(original, kwargs["input_ids"], groups, kept)

    backbone.forward = forward


def _groups(kwargs: dict[str, Any]) -> list[Group] | None:
    """The batch's rows gathered into groups with a long common start; see `_merge`.

    None where the batch is not a right-padded batch of pairs whose two rows have a common start
    worth sharing.
    """
    import torch

    ids = kwargs.get("input_ids")
    given = {key for key, value in kwargs.items() if value is not None}  # PEFT passes Nones
    if given - PASSTHROUGH_KEYS or kwargs.get("use_cache") or ids is None or ids.dim() != 2:
        return None
    rows, width = ids.shape
    if rows % 2 or rows == 0:
        return None
    mask = kwargs.get("attention_mask")
    if mask is None:
        lengths = [width] * rows
    else:
        counts = mask.sum(dim=1)
        if not torch.equal(
            mask, (torch.arange(width, device=mask.device) < counts[:, None]).to(mask.dtype)
        ):
            return None  # left padding or holes: positions would not line up
        lengths = [int(n) for n in counts]
    tokens = ids.tolist()
    half = rows // 2
    groups = []
    for first in range(half):
        second = first + half
        shared = _common_start(tokens[first][: lengths[first]], tokens[second][: lengths[second]])
        if shared < MIN_SHARED:
            return None
        groups.append(Group((first, second), (lengths[first], lengths[second]), shared))
    return _merge(groups, tokens)


def _merge(groups: list[Group], tokens: list[list[int]]) -> list[Group]:
    """Join groups while that packs fewer positions: pairs of one book share their prompt.

    Joining keeps only the start common to both groups, so two books' pairs (which share no more
    than the system message) stay apart. Greedy, best join first; a batch holds a few pairs.
    """
    while len(groups) > 1:
        best, saving = None, 0
        for i, one in enumerate(groups):
            for j in range(i + 1, len(groups)):
                joined = _join(one, groups[j], tokens)
                gain = one.width + groups[j].width - joined.width
                if gain > saving:
                    best, saving = (i, j, joined), gain
        if best is None:
            break
        i, j, joined = best
        groups = [g for k, g in enumerate(groups) if k not in (i, j)] + [joined]
    return groups


def _join(one: Group, other: Group, tokens: list[list[int]]) -> Group:
    first, second = tokens[one.rows[0]], tokens[other.rows[0]]
    across = _common_start(first[: one.lengths[0]], second[: other.lengths[0]])
    shared = min(one.shared, other.shared, across)
    return Group(one.rows + other.rows, one.lengths + other.lengths, shared)


def _common_start(a: list[int], b: list[int]) -> int:
    for n, (x, y) in enumerate(zip(a, b, strict=False)):
        if x != y:
            return n
    return min(len(a), len(b))


def _forward_groups(
    backbone: Any, ids: Any, groups: list[Group], kept: tuple[FrozenLayers, KeptStates] | None
) -> Any:
    """Hidden states for every row, each group packed into one row; see the module's docstring.

    One forward pass, as before, so gradient checkpointing works unchanged.
    """
    import torch
    from transformers.modeling_outputs import BaseModelOutputWithPast

    width, device = ids.shape[1], ids.device
    packed_width = max(group.width for group in groups)
    packed = torch.zeros((len(groups), packed_width), dtype=ids.dtype, device=device)
    positions = torch.zeros_like(packed)
    allowed = torch.zeros((len(groups), 1, packed_width, packed_width), dtype=torch.bool,
                          device=device)  # fmt: skip
    steps = torch.arange(packed_width, device=device)
    causal = steps[None, :] <= steps[:, None]
    for g, group in enumerate(groups):
        shared = group.shared
        packed[g, :shared] = ids[group.rows[0], :shared]
        positions[g, :shared] = steps[:shared]
        allowed[g, 0, :shared, :shared] = causal[:shared, :shared]
        for row, (start, length) in zip(group.rows, group.rests(), strict=True):
            end = start + length
            packed[g, start:end] = ids[row, shared : shared + length]
            positions[g, start:end] = steps[shared : shared + length]
            # A rest sees the common start, then itself from its own first position on.
            allowed[g, 0, start:end, :shared] = True
            allowed[g, 0, start:end, start:end] = causal[:length, :length]
        # Padding attends to itself only (a row with no key at all would give NaNs).
        filled = group.width
        allowed[g, 0, filled:, filled:] = torch.eye(
            packed_width - filled, dtype=torch.bool, device=device
        )

    def run() -> Any:
        return backbone(
            input_ids=packed, attention_mask=allowed, position_ids=positions, use_cache=False
        ).last_hidden_state

    if kept is None:
        out = run()
    else:
        frozen, states = kept
        tokens = {row: tuple(ids[row, :length].tolist()) for group in groups
                  for row, length in zip(group.rows, group.lengths, strict=True)}  # fmt: skip
        given = _packed_states(states, tokens, groups, packed_width)
        out, below = frozen.run(run, given)
        if given is None:
            _keep_states(states, tokens, groups, below)
    rows: list[Any] = [None] * len(ids)
    for g, group in enumerate(groups):
        for row, (start, length) in zip(group.rows, group.rests(), strict=True):
            hidden = torch.cat([out[g, : group.shared], out[g, start : start + length]])
            rows[row] = torch.nn.functional.pad(hidden, (0, 0, 0, width - len(hidden)))
    return BaseModelOutputWithPast(last_hidden_state=torch.stack(rows))


def _packed_states(
    states: KeptStates, tokens: dict[int, tuple[int, ...]], groups: list[Group], width: int
) -> Any:
    """The kept states of the frozen layers laid out as the packed rows; None unless every row's
    are kept (a batch runs the frozen layers for all its rows or for none)."""
    import torch

    rows = {row: states.get(row_tokens) for row, row_tokens in tokens.items()}
    if any(found is None for found in rows.values()):
        return None
    some = next(iter(rows.values()))
    packed = torch.zeros((len(groups), width, some.shape[-1]), dtype=some.dtype, device=some.device)
    for g, group in enumerate(groups):
        packed[g, : group.shared] = rows[group.rows[0]][: group.shared]
        for row, (start, length) in zip(group.rows, group.rests(), strict=True):
            packed[g, start : start + length] = rows[row][group.shared :]
    return packed


def _keep_states(
    states: KeptStates, tokens: dict[int, tuple[int, ...]], groups: list[Group], below: Any
) -> None:
    """Keep each row's part of the frozen layers' packed output: its group's common start and
    its own rest."""
    for g, group in enumerate(groups):
        for row, (start, length) in zip(group.rows, group.rests(), strict=True):
            states.keep(tokens[row], below[g, : group.shared], below[g, start : start + length])
