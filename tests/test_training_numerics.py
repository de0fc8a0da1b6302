"""The worker's changes to how TRL computes a DPO step: each gives the numbers TRL's own gives.

They run on a tiny random Llama in this process (no worker, no bundled model), so they are quick.
"""

from __future__ import annotations

import itertools
import json

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
    model = LlamaForCausalLM(LlamaConfig(vocab_size=300, **{**sizes, **heads, **overrides}))
    fused_head.add_fused_lm_head(model)
    return model


def log_probs_and_gradient(model: object, **inputs: object) -> tuple:
    import torch

    model.zero_grad()
    log_probs = model(**inputs, fused_lm_head=True).log_probs
    (log_probs * torch.linspace(0.5, 1.5, log_probs.shape[1])).sum().backward()
    return log_probs.detach(), model.model.layers[0].self_attn.q_proj.weight.grad.clone()


def preference_batch(
    prompts: list[int], texts: list[tuple[int, int]], common: int = 0, same_as: dict | None = None
) -> dict:
    """A batch laid out as TRL's DPO collator lays it out: chosen rows, then rejected rows.

    `common` tokens at the start of each pair's two texts are the same (as when both descriptions
    begin with the title), so the rows share more than the prompt. `same_as` maps a pair to an
    earlier pair whose prompt it repeats (two scenarios of one book).
    """
    import torch

    prompt_ids = [torch.randint(0, 300, (length,)) for length in prompts]
    for pair, earlier in (same_as or {}).items():
        prompt_ids[pair] = prompt_ids[earlier]
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


def test_pairs_of_one_prompt_share_one_packed_row(torch) -> None:
    from gravity_desktop.training.shared_prompt import share_prompts

    model = tiny_llama()
    # Pairs 0 and 2 are two scenarios of one book; pair 1 is another book.
    batch = preference_batch(prompts=[12, 9, 12], texts=[(6, 4), (7, 9), (3, 5)], same_as={2: 0})
    every_row = log_probs_and_gradient(model, **batch)
    shapes = recording_backbone(model)
    share_prompts(model)
    packed = log_probs_and_gradient(model, **batch)
    # The book's prompt once and its four texts (12 + 6 + 4 + 3 + 5), beside the other pair's row
    # (9 + 7 + 9), padded to the longer.
    assert shapes == [(2, 30)]
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


def test_lora_on_the_upper_layers_trains_them_alone_and_runs_the_lower_without_autograd(
    torch,
) -> None:
    from peft import LoraConfig, get_peft_model

    from gravity_desktop.training.upper_layers import adapted_layers, run_without_gradients_below

    def lora_gradients(frozen_below: bool) -> tuple:
        model = tiny_llama(num_hidden_layers=3)
        layers = adapted_layers(model, 1)
        if frozen_below:  # as the worker trains: under (non-reentrant) gradient checkpointing
            run_without_gradients_below(model, layers[0])
            model.gradient_checkpointing_enable()
        graphs: list[bool] = []
        for layer in model.model.layers:
            layer.register_forward_hook(lambda m, i, out: graphs.append(out[0].requires_grad))
        config = LoraConfig(r=2, target_modules=["q_proj", "down_proj"], layers_to_transform=layers)
        peft_model = get_peft_model(model, config)
        peft_model.enable_input_require_grads()  # as TRL does for checkpointing
        for name, param in peft_model.named_parameters():
            if "lora_B" in name:  # zero at initialisation, which would hide the A gradients
                torch.nn.init.normal_(param, std=0.1)
        batch = preference_batch(prompts=[10, 13], texts=[(6, 4), (7, 9)])
        log_probs = peft_model(**batch, fused_lm_head=True).log_probs
        log_probs.sum().backward()
        trained = {n: p.grad for n, p in peft_model.named_parameters() if p.requires_grad}
        return log_probs.detach(), trained, graphs

    assert adapted_layers(tiny_llama(num_hidden_layers=3), 1) == [2]
    assert adapted_layers(tiny_llama(num_hidden_layers=3), 3) is None
    assert adapted_layers(tiny_llama(num_hidden_layers=3), None) is None
    log_probs, gradients, graphs = lora_gradients(frozen_below=False)
    frozen_log_probs, frozen_gradients, frozen_graphs = lora_gradients(frozen_below=True)
    assert {name.split(".layers.")[1].split(".")[0] for name in gradients} == {"2"}
    assert graphs == [True, True, True]  # the backward pass would run through every layer
    assert frozen_graphs == [False, False, True]
    torch.testing.assert_close(frozen_log_probs, log_probs)
    assert gradients.keys() == frozen_gradients.keys()
    for name, gradient in gradients.items():
        assert gradient.abs().sum() > 0
        torch.testing.assert_close(frozen_gradients[name], gradient)


def test_kept_states_of_the_frozen_layers_serve_later_steps_with_the_same_numbers(torch) -> None:
    from peft import LoraConfig, get_peft_model

    from gravity_desktop.training.shared_prompt import share_prompts
    from gravity_desktop.training.upper_layers import adapted_layers, run_without_gradients_below

    frozen_attention: list[object] = []  # one entry per call in the model that keeps states

    def lora_model(keep: bool) -> object:
        model = tiny_llama(num_hidden_layers=3)
        frozen = run_without_gradients_below(model, adapted_layers(model, 1)[0])
        share_prompts(model, frozen if keep else None)
        model.gradient_checkpointing_enable()
        if keep:
            model.model.layers[0].self_attn.register_forward_hook(
                lambda *call: frozen_attention.append(call)
            )
        torch.manual_seed(1)
        config = LoraConfig(r=2, target_modules=["q_proj", "down_proj"], layers_to_transform=[2])
        peft_model = get_peft_model(model, config)
        peft_model.enable_input_require_grads()
        for name, param in peft_model.named_parameters():
            if "lora_B" in name:
                torch.nn.init.normal_(param, std=0.1)
        return peft_model

    def step(model: object, pairs: list[int]) -> tuple:
        rows = pairs + [4 + pair for pair in pairs]
        inputs = {key: value[rows] for key, value in batch.items()}
        model.zero_grad()
        log_probs = model(**inputs, fused_lm_head=True).log_probs
        (log_probs * torch.linspace(0.5, 1.5, log_probs.shape[1])).sum().backward()
        trained = {n: p.grad.clone() for n, p in model.named_parameters() if p.requires_grad}
        return log_probs.detach(), trained

    # Pairs 0, 1 and 3 are scenarios of one book; each pair's two texts begin alike, so a pair
    # packed alone shares 15 tokens, and the book's pairs packed together share the prompt's 12.
    batch = preference_batch(
        prompts=[12, 12, 9, 12], texts=[(6, 4), (7, 9), (4, 5), (5, 5)], common=3,
        same_as={1: 0, 3: 0},
    )  # fmt: skip
    plain, kept = lora_model(keep=False), lora_model(keep=True)
    with torch.no_grad(), kept.disable_adapter():  # the reference pass, before training
        kept(**{key: value[[0, 1, 2, 4, 5, 6]] for key, value in batch.items()})
    assert len(frozen_attention) == 1
    # Packed unlike the reference pass: served from the kept states, the frozen layers idle.
    for pairs in ([1, 0], [2, 1]):
        expected, got = step(plain, pairs), step(kept, pairs)
        torch.testing.assert_close(got[0], expected[0])
        assert got[1].keys() == expected[1].keys()
        for name, gradient in expected[1].items():
            assert gradient.abs().sum() > 0
            torch.testing.assert_close(got[1][name], gradient)
    assert len(frozen_attention) == 1
    # Pair 3 was not in the reference pass: the frozen layers run for the whole batch.
    expected, got = step(plain, [0, 3]), step(kept, [0, 3])
    assert len(frozen_attention) == 2
    torch.testing.assert_close(got[0], expected[0])
    # ... and keep pair 3's states, which serve the next step.
    expected, got = step(plain, [3, 2]), step(kept, [3, 2])
    assert len(frozen_attention) == 2
    torch.testing.assert_close(got[0], expected[0])


def test_kept_states_stop_growing_at_their_budget(torch) -> None:
    from gravity_desktop.training.upper_layers import KeptStates

    states = KeptStates(budget=200)
    prompt = torch.arange(40, dtype=torch.float32).reshape(10, 4)
    states.keep((1, 2, 3, 4), prompt[:2], prompt[2:4])
    states.keep((1, 2, 5, 6), prompt[:2], prompt[4:6])  # the shared start is kept once
    torch.testing.assert_close(states.get((1, 2, 5, 6)), prompt[[0, 1, 4, 5]])
    states.keep((7, 8, 9), prompt[:1], prompt[1:10])  # 96 bytes so far; 256 after this row
    states.keep((7, 8, 10), prompt[:1], prompt[1:10])
    assert states.get((7, 8, 9)) is not None
    assert states.get((7, 8, 10)) is None


def test_fused_head_on_the_cpu_scores_only_the_completion_tokens(torch, monkeypatch) -> None:
    import trl.trainer.utils as fused_head

    from gravity_desktop.training.cpu_lm_head import PlainLogProbs, use_on_cpu

    model = tiny_llama()
    ids = torch.randint(0, 300, (2, 12))
    labels = ids.masked_fill(torch.arange(12) < 7, -100)  # a 7-token prompt
    labels[1, 10:] = -100  # and padding after the second completion
    rows: list[tuple[str, int]] = []

    def counting(function):
        class Counting:
            @staticmethod
            def apply(hidden, *rest):
                rows.append((function.__name__, hidden.shape[0]))
                return function.apply(hidden, *rest)

        return Counting

    for name in ("_use_triton", "_ChunkedLogProbFunction"):  # undone after the test
        monkeypatch.setattr(fused_head, name, getattr(fused_head, name))
    monkeypatch.setattr(fused_head, "_ChunkedLogProbFunction",
                        counting(fused_head._ChunkedLogProbFunction))  # fmt: skip
    every_position = log_probs_and_gradient(model, input_ids=ids, labels=labels)
    use_on_cpu("cpu")
    assert fused_head._ChunkedLogProbFunction is PlainLogProbs
    fused_head._ChunkedLogProbFunction = counting(PlainLogProbs)
    completions_only = log_probs_and_gradient(model, input_ids=ids, labels=labels)
    # positions with a next-token label: 5 and 3
    assert rows == [("ChunkedLogProbFunction", 2 * 11), ("PlainLogProbs", 5 + 3)]
    torch.testing.assert_close(completions_only[0], every_position[0])
    torch.testing.assert_close(completions_only[1], every_position[1])


@pytest.mark.parametrize(
    ("softcap", "temperature", "scale", "with_bias"),
    [(None, 1.0, 1.0, False), (3.0, 0.7, 1.3, True)],
)
def test_plain_log_probs_match_trl_chunked_function(
    torch, monkeypatch, softcap: float | None, temperature: float, scale: float, with_bias: bool
) -> None:
    """Every output and every gradient, in float32 and under bf16 autocast, with several of TRL's
    vocabulary tiles (so that its folding of tiles is compared) and several of our token blocks."""
    from trl.kernels.chunked_logprob import ChunkedLogProbFunction

    from gravity_desktop.training import cpu_lm_head
    from gravity_desktop.training.cpu_lm_head import PlainLogProbs

    monkeypatch.setattr(cpu_lm_head, "ROWS", 4)

    def run(function, autocast: bool) -> list:
        torch.manual_seed(3)
        hidden = torch.randn(9, 16, requires_grad=True)
        weight = torch.randn(50, 16, requires_grad=True)
        bias = torch.randn(50, requires_grad=True) if with_bias else None
        targets = torch.randint(0, 50, (9,))
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            logprobs, entropy, sum_sq, mean, top1 = function.apply(
                hidden, weight, bias, targets, temperature, 16, softcap, scale,
                ("entropy", "log_sum_sq_probs", "mean_logits", "is_top1"),
            )  # fmt: skip
        (logprobs * torch.linspace(0.5, 1.5, 9) + entropy * 0.3).sum().backward()
        grads = [hidden.grad, weight.grad] + ([bias.grad] if with_bias else [])
        return [logprobs, entropy, sum_sq, mean, top1, *grads]

    for autocast, tolerance in ((False, 1e-5), (True, 3e-2)):
        ours, trls = run(PlainLogProbs, autocast), run(ChunkedLogProbFunction, autocast)
        assert torch.equal(ours[4], trls[4])  # is_top1
        for mine, theirs in zip(ours, trls, strict=True):
            torch.testing.assert_close(mine.float(), theirs.float(), rtol=tolerance, atol=tolerance)


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


def tiny_tokenizer() -> object:
    """Words w0..w299, one token each, for the tiny Llama."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    words = Tokenizer(models.WordLevel({f"w{i}": i for i in range(300)}, unk_token="w0"))
    words.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return PreTrainedTokenizerFast(
        tokenizer_object=words, unk_token="w0", pad_token="w1", eos_token="w2"
    )


def dpo_options(tmp_path, pairs: list[tuple[int, int, int]]) -> dict:
    """A DPO trainer's arguments for `pairs` (prompt, chosen, rejected lengths; words seeded by
    the length, so pairs of one prompt length share their prompt)."""
    import random

    from datasets import Dataset
    from peft import LoraConfig
    from trl import DPOConfig

    def text(seed: int, length: int) -> str:
        rng = random.Random(seed)
        return " ".join(f"w{rng.randrange(3, 300)}" for _ in range(length))

    rows = [
        {"prompt": text(p, p), "chosen": text(c, c), "rejected": text(r, r)} for p, c, r in pairs
    ]
    return {
        "model": tiny_llama(),
        "args": DPOConfig(output_dir=str(tmp_path / "out"), precompute_ref_log_probs=True,
                          use_cpu=True, bf16=False, report_to=[], max_length=64,
                          per_device_train_batch_size=2),
        "train_dataset": Dataset.from_list(rows),
        "processing_class": tiny_tokenizer(),
        "peft_config": LoraConfig(r=4, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM"),
    }  # fmt: skip


def reference_log_probs(tmp_path, pairs: list[tuple[int, int, int]], cache=None) -> tuple:
    """The precomputed reference log-probabilities of a DPO trainer on `pairs`, and what
    `on_reference` heard (with a cache)."""
    from trl import DPOTrainer

    from gravity_desktop.training.reference_cache import CachedReferenceDPOTrainer

    options = dpo_options(tmp_path, pairs)
    heard: list[tuple[int, int]] = []
    if cache is None:
        trainer = DPOTrainer(**options)
    else:
        trainer = CachedReferenceDPOTrainer(
            **options, reference_cache=cache, on_reference=lambda *counts: heard.append(counts)
        )
    data = trainer.train_dataset
    return list(zip(data["ref_chosen_logps"], data["ref_rejected_logps"], strict=True)), heard


def test_reference_log_probs_are_kept_for_the_next_run(tmp_path) -> None:
    pairs = [(10, 6, 4), (13, 7, 9), (8, 5, 5), (12, 9, 3)]
    trl_own, _ = reference_log_probs(tmp_path, pairs)
    cache = tmp_path / "reference-logps-fp32-cpu.json"
    first, heard = reference_log_probs(tmp_path, pairs, cache)
    assert heard == [(4, 0)] and first == trl_own
    # A pair added in the middle: only it is computed; the others come back in their places.
    more = [*pairs[:2], (11, 8, 6), *pairs[2:]]
    second, heard = reference_log_probs(tmp_path, more, cache)
    assert heard == [(5, 4)]
    assert [*second[:2], *second[3:]] == first and second[2] != first[2]
    cache.write_text("{not json", encoding="utf-8")  # damaged: computed again, and rewritten
    third, heard = reference_log_probs(tmp_path, pairs, cache)
    assert heard == [(4, 0)] and third == first
    assert len(json.loads(cache.read_text(encoding="utf-8"))) == 4


def test_the_worker_trainer_batches_the_pairs_of_one_prompt_together(tmp_path) -> None:
    from gravity_desktop.training.worker_trainer import WorkerDPOTrainer

    pairs = [(10, 6, 4), (13, 7, 9), (10, 5, 5), (12, 9, 3), (13, 4, 4), (10, 8, 8)]
    trainer = WorkerDPOTrainer(
        **dpo_options(tmp_path, pairs), reference_cache=None, on_reference=lambda *counts: None
    )
    prompts = trainer.train_dataset["prompt_ids"]
    sampler = trainer._get_train_sampler()
    orders = []
    for epoch in range(4):
        sampler.set_epoch(epoch)
        order = list(sampler)
        assert sorted(order) == list(range(len(pairs)))
        # Each prompt's pairs come one after another: three runs for three prompts.
        runs = [prompt for prompt, _ in itertools.groupby(tuple(prompts[i]) for i in order)]
        assert len(runs) == 3
        assert list(sampler) == order  # a resumed run replays the epoch's order
        orders.append(tuple(order))
    assert len(set(orders)) > 1  # and each epoch has its own
    sampler.set_epoch(0)
    batches = list(trainer.get_train_dataloader())
    expected = [orders[0][i : i + 2] for i in range(0, len(pairs), 2)]
    for batch, indices in zip(batches, expected, strict=True):
        for row, index in enumerate(indices):  # the chosen rows come first, in batch order
            prompt = prompts[index]
            assert batch["input_ids"][row][: len(prompt)].tolist() == prompt
