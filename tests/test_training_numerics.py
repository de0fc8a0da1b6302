"""The worker's changes to how TRL computes a DPO step: each gives the numbers TRL's own gives.

They run on a tiny random Llama in this process (no worker, no bundled model), so they are quick.
"""

from __future__ import annotations

import pytest


@pytest.fixture
def torch() -> object:
    """torch, imported only when these tests run: other tests check that the CLI's own process
    never imports it, and pytest runs every test in one process."""
    import torch

    return torch


def tiny_llama(**overrides: object) -> object:
    import torch
    import trl.trainer.utils as fused_head
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    sizes = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2}
    heads = {"num_attention_heads": 4, "num_key_value_heads": 2}
    model = LlamaForCausalLM(LlamaConfig(vocab_size=300, **sizes, **heads, **overrides))
    fused_head.add_fused_lm_head(model)
    return model


def log_probs_and_gradient(model: object, **inputs: object) -> tuple:
    import torch

    model.zero_grad()
    log_probs = model(**inputs, fused_lm_head=True).log_probs
    (log_probs * torch.linspace(0.5, 1.5, log_probs.shape[1])).sum().backward()
    return log_probs.detach(), model.model.layers[0].self_attn.q_proj.weight.grad.clone()


def preference_batch(prompts: list[int], texts: list[tuple[int, int]], common: int = 0) -> dict:
    """A batch laid out as TRL's DPO collator lays it out: chosen rows, then rejected rows.

    `common` tokens at the start of each pair's two texts are the same (as when both descriptions
    begin with the title), so the rows share more than the prompt.
    """
    import torch

    prompt_ids = [torch.randint(0, 300, (length,)) for length in prompts]
    text_ids = []
    for chosen, rejected in texts:
        start = torch.randint(0, 300, (common,))
        pair = [
            torch.cat([start, torch.randint(0, 300, (n - common,))]) for n in (chosen, rejected)
        ]
        # The texts part right after their common start.
        pair[1][common] = (pair[0][common] + 1) % 300
        text_ids.append(pair)
    rows = [(p, t[side]) for side in (0, 1) for p, t in zip(prompt_ids, text_ids, strict=True)]
    width = max(len(p) + len(t) for p, t in rows)
    ids = torch.zeros((len(rows), width), dtype=torch.long)
    mask = torch.zeros_like(ids)
    labels = torch.full_like(ids, -100)
    for row, (prompt, text) in enumerate(rows):
        end = len(prompt) + len(text)
        ids[row, :end] = torch.cat([prompt, text])
        mask[row, :end] = 1
        labels[row, len(prompt) : end] = text
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}


def recording_backbone(model: object) -> list[tuple[int, ...]]:
    """The shapes of the input ids that reach the backbone's own forward."""
    shapes: list[tuple[int, ...]] = []
    original = model.model.forward

    def forward(*args: object, **kwargs: object) -> object:
        shapes.append(tuple(kwargs["input_ids"].shape))
        return original(*args, **kwargs)

    model.model.forward = forward
    return shapes


@pytest.mark.parametrize("common", [0, 3])
def test_shared_prompts_give_the_same_log_probs_and_gradients(torch, common: int) -> None:
    from gravity_desktop.training.shared_prompt import share_prompts

    model = tiny_llama()
    batch = preference_batch(prompts=[10, 13], texts=[(6, 4), (7, 9)], common=common)
    every_row = log_probs_and_gradient(model, **batch)
    shapes = recording_backbone(model)
    share_prompts(model)
    packed = log_probs_and_gradient(model, **batch)
    # One packed row per pair: the longer pair holds 13 + 7 + 9 - common positions.
    assert shapes == [(2, 29 - common)]
    torch.testing.assert_close(packed[0], every_row[0])
    torch.testing.assert_close(packed[1], every_row[1])


def test_shared_prompts_leave_other_batches_alone() -> None:
    from gravity_desktop.training.shared_prompt import share_prompts

    model = tiny_llama()
    shapes = recording_backbone(model)
    share_prompts(model)
    batch = preference_batch(prompts=[10, 13], texts=[(6, 4), (7, 9)])
    odd = {key: value[:3] for key, value in batch.items()}
    short = preference_batch(prompts=[5, 6], texts=[(6, 4), (7, 9)])  # under MIN_SHARED
    left_padded = {key: value.flip(1) for key, value in batch.items() if key != "labels"}
    for inputs in (odd, short, left_padded):
        model(**inputs)
    assert shapes == [(3, 22), (4, 15), (4, 22)]
    model.generate(batch["input_ids"][:1, :10], max_new_tokens=2, do_sample=False)
    assert shapes[3:] == [(1, 10), (1, 1)]  # generation runs as before, with its cache


def test_shared_prompts_need_scaled_dot_product_attention() -> None:
    from gravity_desktop.training.shared_prompt import share_prompts

    model = tiny_llama(attn_implementation="eager")
    shapes = recording_backbone(model)
    share_prompts(model)  # eager attention would add the boolean mask as numbers
    model(**preference_batch(prompts=[10, 13], texts=[(6, 4), (7, 9)]), fused_lm_head=True)
    assert shapes == [(4, 22)]


def test_fused_head_on_the_cpu_scores_only_the_completion_tokens(torch, monkeypatch) -> None:
    import trl.trainer.utils as fused_head

    from gravity_desktop.training.dpo_worker import score_only_completions

    model = tiny_llama()
    ids = torch.randint(0, 300, (2, 12))
    labels = ids.masked_fill(torch.arange(12) < 7, -100)  # a 7-token prompt
    labels[1, 10:] = -100  # and padding after the second completion
    rows: list[int] = []
    kernel = fused_head._ChunkedLogProbFunction

    class Counting:
        @staticmethod
        def apply(hidden, *rest):
            rows.append(hidden.shape[0])
            return kernel.apply(hidden, *rest)

    monkeypatch.setattr(fused_head, "_ChunkedLogProbFunction", Counting)
    monkeypatch.setattr(fused_head, "_use_triton", fused_head._use_triton)  # undone after the test

    every_position = log_probs_and_gradient(model, input_ids=ids, labels=labels)
    score_only_completions("cpu")
    completions_only = log_probs_and_gradient(model, input_ids=ids, labels=labels)
    assert rows == [2 * 11, 5 + 3]  # positions with a next-token label: 5 and 3
    torch.testing.assert_close(completions_only[0], every_position[0])
    torch.testing.assert_close(completions_only[1], every_position[1])


def test_precision_picks_weights_and_arithmetic_for_the_device(torch, monkeypatch) -> None:
    from gravity_desktop.training.dpo_worker import number_formats

    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: True)
    assert number_formats(torch, "cpu", "auto") == ("bf16", torch.bfloat16, True)
    # float32 arithmetic too, where TRL's configs would otherwise turn bf16 autocast on
    assert number_formats(torch, "cpu", "fp32") == ("fp32", torch.float32, False)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False)
    assert number_formats(torch, "cpu", "auto") == ("fp32", torch.float32, False)
    assert number_formats(torch, "cpu", "bf16") == ("bf16", torch.bfloat16, True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: True)
    assert number_formats(torch, "cuda", "auto") == ("mixed", torch.float32, True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: False)
    assert number_formats(torch, "cuda", "auto") == ("fp32", torch.float32, False)
    with pytest.raises(ValueError, match="unknown precision 'fp8'"):
        number_formats(torch, "cpu", "fp8")
