"""TRL's fused LM head on the CPU: completion tokens only, one product and one log-softmax.

TRL 1.16 scores DPO's texts through a fused head (`trl.trainer.utils.add_fused_lm_head`) that
projects the hidden states through the 49k-token head in vocabulary tiles and folds each tile into
running log-sum-exp statistics, so that the `[tokens, vocabulary]` logits never exist at once. That
is the right trade on a GPU, where it runs as Triton kernels. On the CPU two of its choices cost
more than they save here:

- It projects every position, so that compiling backends such as AWS Neuron meet one tile shape;
  only where Triton runs (CUDA, XPU) does it keep the positions that have a label. `_use_triton`
  decides, in `trl.trainer.utils`, only which rows are scored, and the prompt (the book's facts)
  is over two thirds of each sequence here: projecting it took over a third of a DPO step, for
  log-probabilities that DPO then discards.
- Its torch fallback for the tile folds makes about fifteen passes over each tile in float32, and
  accumulates the gradient products in float32 one tile at a time: on a step's 300 completion
  tokens its forward and backward took 1.4 s, against 0.48 s for `PlainLogProbs`.

With only the completion tokens scored, a step's logits are a few hundred rows (60 MB in float32
for 300 tokens), so `PlainLogProbs` computes them in one product (bf16 on AMX under autocast), one
log-softmax, and a backward of one product from the softmax it kept. It returns what TRL's function
returns, with the same gradients (a test compares them).
"""

from __future__ import annotations

from typing import Any

import torch

ROWS = 256  # tokens per block: a block's float32 logits are 50 MB for a 49k-token vocabulary
OUTPUTS = ("entropy", "log_sum_sq_probs", "mean_logits", "is_top1")


class PlainLogProbs(torch.autograd.Function):
    """`trl.kernels.chunked_logprob.ChunkedLogProbFunction`'s contract, in blocks of tokens.

    The reference pass scores several pairs at once without gradients, a few thousand tokens, so
    the logits are made for ROWS tokens at a time; the log-softmax is kept for the backward pass
    only where a gradient is needed (a few hundred tokens in a training step).
    """

    @staticmethod
    def forward(
        ctx: Any,
        hidden: torch.Tensor,  # [N, H]
        weight: torch.Tensor,  # [V, H]
        bias: torch.Tensor | None,  # [V]
        targets: torch.Tensor,  # [N]
        temperature: float,
        chunk_size: int,  # TRL's vocabulary tile width, which this does without
        final_logit_softcapping: float | None = None,
        logit_scale: float = 1.0,
        outputs: tuple[str, ...] = OUTPUTS,
    ) -> tuple[torch.Tensor | None, ...]:
        device = hidden.device.type
        compute = torch.get_autocast_dtype(device) if torch.is_autocast_enabled(device) else None
        ctx.compute = compute or hidden.dtype
        ctx.logit_scale, ctx.temperature = logit_scale, temperature
        ctx.softcap = final_logit_softcapping
        keep = any(ctx.needs_input_grad[:3])
        found: dict[str, list[torch.Tensor]] = {name: [] for name in ("logprobs", *OUTPUTS)}
        kept: list[torch.Tensor] = []
        for rows in _blocks(len(hidden)):
            logits = _logits(hidden[rows], weight, bias, ctx)
            log_p = logits.log_softmax(-1)
            found["logprobs"].append(log_p.gather(-1, targets[rows, None]).squeeze(-1))
            if "entropy" in outputs:  # batched dot products: no second [tokens, V] tensor
                products = log_p.exp().unsqueeze(1) @ log_p.unsqueeze(2)
                found["entropy"].append(-products.view(-1))
            if "log_sum_sq_probs" in outputs:
                found["log_sum_sq_probs"].append(torch.logsumexp(2 * log_p, -1))
            if "mean_logits" in outputs:
                found["mean_logits"].append(logits.mean(-1))
            if "is_top1" in outputs:  # argmax gives the first maximum, as TRL's kernel counts
                found["is_top1"].append(logits.argmax(-1) == targets[rows])
            if keep:
                kept.append(log_p)
        logprobs, entropy, log_sum_sq, mean_logits, is_top1 = (
            torch.cat(found[name]) if found[name] else None for name in ("logprobs", *OUTPUTS)
        )
        log_p = torch.cat(kept) if keep else None
        ctx.save_for_backward(hidden, weight, bias, targets, log_p, entropy)
        ctx.mark_non_differentiable(
            *(x for x in (log_sum_sq, mean_logits, is_top1) if x is not None)
        )
        ctx.set_materialize_grads(False)
        return logprobs, entropy, log_sum_sq, mean_logits, is_top1

    @staticmethod
    def backward(
        ctx: Any, grad_logprobs: torch.Tensor | None, grad_entropy: torch.Tensor | None, *_: Any
    ) -> tuple[torch.Tensor | None, ...]:
        hidden, weight, bias, targets, log_p, entropy = ctx.saved_tensors
        needs_hidden, needs_weight, needs_bias = ctx.needs_input_grad[:3]
        grad_hidden = torch.empty_like(hidden) if needs_hidden else None
        zeros = {"dtype": torch.float32, "device": weight.device}
        grad_weight = torch.zeros(weight.shape, **zeros) if needs_weight else None
        grad_bias = torch.zeros(weight.shape[0], **zeros) if needs_bias else None
        for rows in _blocks(len(hidden)):
            p = log_p[rows].exp()
            grad = torch.zeros_like(p)
            if grad_logprobs is not None:  # d log p_target / dz_j = [j = target] - p_j
                grad.sub_(p * grad_logprobs[rows, None])
                grad.scatter_add_(1, targets[rows, None], grad_logprobs[rows, None].float())
            if grad_entropy is not None:  # d entropy / dz_j = -p_j (log p_j + entropy)
                grad.sub_(p * (log_p[rows] + entropy[rows, None]) * grad_entropy[rows, None])
            grad.mul_(ctx.logit_scale / ctx.temperature)
            if ctx.softcap is not None:  # through the cap: the logits' tanh, computed again
                capped = _capped(hidden[rows], weight, bias, ctx)
                grad.mul_(1 - capped * capped)
            grad = grad.to(ctx.compute)
            if grad_hidden is not None:
                grad_hidden[rows] = grad @ weight.to(ctx.compute)
            if grad_weight is not None:
                grad_weight += (grad.t() @ hidden[rows].to(ctx.compute)).float()
            if grad_bias is not None:
                grad_bias += grad.float().sum(0)
        return (
            grad_hidden,
            grad_weight.to(weight.dtype) if grad_weight is not None else None,
            grad_bias.to(bias.dtype) if grad_bias is not None else None,
            *[None] * 6,
        )


def _blocks(count: int) -> list[slice]:
    return [slice(start, min(start + ROWS, count)) for start in range(0, count, ROWS)]


def _scaled(
    hidden: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, ctx: Any
) -> torch.Tensor:
    """The tokens' logits in float32 times TRL's logit scale (the product in ctx.compute)."""
    raw = hidden.to(ctx.compute) @ weight.to(ctx.compute).t()
    if bias is not None:
        raw = raw + bias.to(ctx.compute)
    return raw.float().mul_(ctx.logit_scale)


def _logits(
    hidden: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, ctx: Any
) -> torch.Tensor:
    """The logits as TRL's kernel folds them: scaled, soft-capped, over the temperature."""
    scaled = _scaled(hidden, weight, bias, ctx)
    if ctx.softcap is None:
        return scaled.div_(ctx.temperature)
    return scaled.div_(ctx.softcap).tanh_().mul_(ctx.softcap / ctx.temperature)


def _capped(
    hidden: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, ctx: Any
) -> torch.Tensor:
    """tanh(scaled logits / soft cap), whose derivative the backward pass through the cap needs."""
    return _scaled(hidden, weight, bias, ctx).div_(ctx.softcap).tanh_()


def use_on_cpu(device: str) -> None:
    """Have TRL's fused head score only the completion tokens, with `PlainLogProbs`, on the CPU.

    The kernel's own module keeps its function; only `trl.trainer.utils`, which decides which rows
    to score and calls the function, sees these.
    """
    if device != "cpu":
        return
    import trl.trainer.utils as fused_head
    from trl.kernels.chunked_logprob import _use_triton

    fused_head._use_triton = lambda where: where.type == "cpu" or _use_triton(where)
    fused_head._ChunkedLogProbFunction = PlainLogProbs
