"""The training worker: LoRA + DPO (or SFT) with TRL on the prepared base, JSON progress lines.

Run as `python -m gravity_desktop.training.dpo_worker JOB_DIR`. JOB_DIR holds `job.json`
(base GGUF, cache folder, TrainConfig, and `device`: "cpu" (the default), "cuda", or "auto" for CUDA
when torch sees a GPU) and the data (`train.jsonl`). Every line printed is one JSON
event: start, base_ready, reference (DPO: pairs, and how many of their reference log-probabilities
were kept from earlier runs), resume or restart, progress (step, loss, reward accuracy, margin,
ETA), then done, cancelled or error. SIGTERM or SIGINT stop training at the next step after saving a
checkpoint; the next run of the same job resumes from the last checkpoint.

Several GPUs (the GPU helper's `--gpus`): `job.json` may say `"gpus": N` or `"gpus": "all"`. The
process started by `worker_process` prepares the trainable base (once, so the ranks never race to
write it), prints `start` and `base_ready`, and then replaces itself with torch's launcher
(`python -m torch.distributed.run`), which starts one process per GPU running this module again
with the prepared base as a second argument. Each process takes its own batch of `batch_size`
pairs per step; TRL's trainer, built on accelerate, reads the launcher's environment and averages
the gradients (NCCL on GPUs, gloo on the CPU). Only rank 0 prints events and saves the adapter, so
the caller reads one stream of events exactly as from a single process; a stop request is shared
between the ranks so that all of them stop after the same step.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import time
from pathlib import Path
from typing import NamedTuple, NoReturn

from gravity_desktop.training.config import PRECISIONS

STOP = {"requested": False}
# False on the ranks other than 0 of a multi-process job: their events would repeat rank 0's.
SPEAKS = {"events": True}
MODULE = "gravity_desktop.training.dpo_worker"
PR_SET_PDEATHSIG = 1  # linux/prctl.h
# Pairs per batch when the reference log-probabilities are computed: about four books' scenarios.
# docs/training.md has the times of 4 to 64.
REFERENCE_BATCH = 16


def emit(event: str, **fields: object) -> None:
    if SPEAKS["events"]:
        print(json.dumps({"event": event, **fields}), flush=True)


def _request_stop(signum: int, frame: object) -> None:
    STOP["requested"] = True


def main(job_dir: Path, prepared_base: Path | None = None) -> int:
    """Train the job; `prepared_base` is given only to the ranks of a multi-process job."""
    signal.signal(signal.SIGTERM, _request_stop)
    signal.signal(signal.SIGINT, _request_stop)
    if prepared_base is not None:
        SPEAKS["events"] = os.environ.get("RANK", "0") == "0"
        _die_with_launcher()
    job = json.loads((job_dir / "job.json").read_text(encoding="utf-8"))
    try:
        return run(job_dir, job, prepared_base)
    except Exception as exc:  # reported to the parent as one readable line
        message = f"{type(exc).__name__}: {exc}"
        emit("error", message=message)
        if not SPEAKS["events"]:  # on stderr, which the ranks share with the launcher
            print(f"rank {os.environ.get('RANK')}: {message}", file=sys.stderr, flush=True)
        return 1


def run(job_dir: Path, job: dict, prepared_base: Path | None = None) -> int:
    import torch
    from datasets import load_dataset
    from peft import LoraConfig
    from peft.helpers import disable_input_dtype_casting
    from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback

    from gravity_desktop.training.base_model import prepare_trainable_base
    from gravity_desktop.training.config import TrainConfig
    from gravity_desktop.training.upper_layers import adapted_layers, run_without_gradients_below

    config = TrainConfig.from_json(job["config"])
    wanted_device = str(job.get("device", "cpu"))
    device = choose_device(torch, wanted_device)
    torch.manual_seed(config.seed)
    formats = number_formats(torch, device, config.precision)
    if prepared_base is None:
        processes = count_processes(torch, wanted_device, device, job.get("gpus", 1))
        gpu = {"gpu": torch.cuda.get_device_name()} if device == "cuda" else {}
        launch = processes > 1 or (device == "cuda" and torch.cuda.device_count() > 1)
        spread = {"processes": processes} if launch else {}
        emit("start", method=config.method, device=device, precision=formats.name, **gpu, **spread)
        weights = job.get("trainable_weights")
        base = prepare_trainable_base(
            Path(job["base_gguf"]), Path(job["cache_root"]), Path(weights) if weights else None
        )
        emit("base_ready", path=str(base))
        if launch:
            if STOP["requested"]:  # stopped while the base was being prepared
                emit("cancelled", step=0)
                return 3
            launch_ranks(job_dir, base, processes)
    else:
        base = prepared_base
    distributed = prepared_base is not None
    tokenizer = AutoTokenizer.from_pretrained(base)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForCausalLM.from_pretrained(base, dtype=formats.weights)
    data = load_dataset("json", data_files=str(job_dir / "train.jsonl"), split="train")
    if "metadata" in data.column_names:
        data = data.remove_columns("metadata")
    layers = adapted_layers(model, config.lora_layers)
    frozen = None if layers is None else run_without_gradients_below(model, layers[0])
    lora = LoraConfig(
        r=config.rank,
        layers_to_transform=layers,
        lora_alpha=config.alpha,
        lora_dropout=config.dropout,
        target_modules=list(config.target_modules),
        task_type="CAUSAL_LM",
    )
    checkpoints = job_dir / "checkpoints"
    common = {
        "output_dir": str(checkpoints),
        "num_train_epochs": config.epochs,
        "per_device_train_batch_size": config.batch_size,
        "learning_rate": config.learning_rate,
        "logging_steps": 1,
        "save_steps": config.save_every,
        "save_total_limit": 2,
        "report_to": [],
        "use_cpu": device == "cpu",
        "seed": config.seed,
        "max_length": config.max_length,
        # TRL's configs compute in bf16 unless told otherwise, whatever the weights' format.
        "bf16": formats.bf16_compute,
        "gradient_checkpointing": config.gradient_checkpointing,
        "disable_tqdm": True,
        # Every LoRA weight takes part in every step: DDP need not search for unused ones.
        "ddp_find_unused_parameters": False,
    }
    started = time.perf_counter()
    first_step = {"value": None}

    class Progress(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):
            logs = logs or {}
            if "loss" not in logs:
                return
            if first_step["value"] is None:
                first_step["value"] = state.global_step - 1
            done = state.global_step - first_step["value"]
            elapsed = time.perf_counter() - started
            remaining = state.max_steps - state.global_step
            emit(
                "progress",
                step=state.global_step,
                max_steps=state.max_steps,
                epoch=round(state.epoch or 0, 3),
                loss=logs.get("loss"),
                reward_accuracy=logs.get("rewards/accuracies"),
                margin=logs.get("rewards/margins"),
                eta_seconds=round(elapsed / max(done, 1) * remaining, 1),
            )

        def on_step_end(self, args, state, control, **kwargs):
            if _stop_agreed(torch, args.device, distributed):
                control.should_training_stop = True
                control.should_save = True
            return control

    if config.method == "sft":
        from trl import SFTConfig, SFTTrainer

        trainer = SFTTrainer(
            model=model,
            args=SFTConfig(**common),
            train_dataset=data,
            processing_class=tokenizer,
            peft_config=lora,
            callbacks=[Progress()],
        )
    else:
        from trl import DPOConfig

        from gravity_desktop.training.cpu_lm_head import use_on_cpu
        from gravity_desktop.training.reference_cache import cache_file
        from gravity_desktop.training.shared_prompt import share_prompts
        from gravity_desktop.training.worker_trainer import WorkerDPOTrainer

        use_on_cpu(device)
        share_prompts(model, frozen)
        trainer = WorkerDPOTrainer(
            model=model,
            # The reference log-probabilities are computed once, before training, without
            # gradients (and kept for the next run): each step then runs one forward pass
            # instead of two. Without gradients a batch is small, so REFERENCE_BATCH pairs go
            # in each: the scenarios of a few books, under one run of each prompt.
            args=DPOConfig(
                beta=config.beta,
                precompute_ref_log_probs=True,
                precompute_ref_batch_size=REFERENCE_BATCH,
                **common,
            ),
            train_dataset=data,
            processing_class=tokenizer,
            peft_config=lora,
            callbacks=[Progress()],
            # Imported Hugging Face weights name nothing that would tell a changed file.
            reference_cache=None
            if job.get("trainable_weights")
            else cache_file(base, formats.name, device),
            on_reference=lambda pairs, known: emit("reference", pairs=pairs, known=known),
        )
    resume = _last_checkpoint(checkpoints)
    # PEFT casts each LoRA layer's input to the LoRA weights' float32, a full copy of the
    # activations per adapted projection (three of the same input for q, k and v), which
    # autocast then casts back to bf16 for the matrix product: over a sixth of a CPU step went
    # to such copies. Under autocast the product takes the bf16 input as it is and casts only
    # the small LoRA weights; their float32 master copies and gradients are unchanged.
    with disable_input_dtype_casting(trainer.model, active=formats.bf16_compute):
        if resume is not None:
            emit("resume", checkpoint=resume.name)
            try:
                trainer.train(resume_from_checkpoint=str(resume))
            except Exception as exc:  # a damaged checkpoint: start clean and say so
                emit("restart", reason=f"could not resume from {resume.name}: {exc}")
                if trainer.is_world_process_zero():
                    shutil.rmtree(checkpoints, ignore_errors=True)
                trainer.accelerator.wait_for_everyone()
                trainer.train()
        else:
            trainer.train()
    if STOP["requested"]:
        emit("cancelled", step=trainer.state.global_step)
        return 3
    out = job_dir / "peft"
    if trainer.is_world_process_zero():
        trainer.model.save_pretrained(out)
    emit("done", peft=str(out), steps=trainer.state.global_step,
         seconds=round(time.perf_counter() - started, 1), **_peak_memory())  # fmt: skip
    return 0


def _peak_memory() -> dict[str, int]:
    """This process's peak resident memory in MB, where the OS reports it (not on Windows)."""
    try:
        import resource
    except ImportError:
        return {}
    kilobytes = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"peak_rss_mb": round(kilobytes / (1024 * 1024 if sys.platform == "darwin" else 1024))}


class NumberFormats(NamedTuple):
    name: str  # as the start event reports it: "bf16", "fp32", or "mixed" (fp32 weights, bf16 math)
    weights: object  # the frozen base's torch dtype (the LoRA weights are float32 in every case)
    bf16_compute: bool  # whether the Trainer computes in bf16 (autocast)


def number_formats(torch: object, device: str, precision: str) -> NumberFormats:
    """The weights' dtype and the arithmetic for TrainConfig.precision.

    "auto" takes bf16 throughout on CPUs with AVX512-BF16 or AMX (half the memory, and faster on
    their bf16 units); float32 throughout on other CPUs, which would only emulate bf16; and on GPUs
    float32 weights with bf16 arithmetic where the GPU has it (mixed precision), the standard
    there. "fp32" means float32 arithmetic too: TRL's configs turn bf16 autocast on by default.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r} ({', '.join(PRECISIONS)})")
    if precision == "auto" and device != "cpu":
        mixed = torch.cuda.is_bf16_supported()
        return NumberFormats("mixed" if mixed else "fp32", torch.float32, mixed)
    if precision == "auto":
        native = torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()
        precision = "bf16" if native else "fp32"
    if precision == "bf16":
        return NumberFormats("bf16", torch.bfloat16, True)
    return NumberFormats("fp32", torch.float32, False)


def count_processes(torch: object, wanted_device: str, device: str, gpus: object) -> int:
    """How many training processes: one per GPU, for `gpus` GPUs ("all": every one torch sees).

    On the CPU there are no GPUs to count: one process, as ever, where "auto" found no GPU; where
    the CPU was asked for by name, a number of GPUs runs that many CPU processes instead (gloo),
    which tries the multi-GPU path on a machine without GPUs.
    """
    if isinstance(gpus, bool) or not (gpus == "all" or (isinstance(gpus, int) and gpus >= 1)):
        raise ValueError(f"gpus must be 'all' or a whole number >= 1, not {gpus!r}")
    if device == "cpu":
        return gpus if wanted_device == "cpu" and isinstance(gpus, int) else 1
    visible = torch.cuda.device_count()
    if gpus == "all":
        return visible
    if gpus > visible:
        raise RuntimeError(
            f"{gpus} GPUs were asked for but torch sees {visible}"
            " (CUDA_VISIBLE_DEVICES, the helper's --gpus)"
        )
    return gpus


def launch_ranks(job_dir: Path, base: Path, processes: int) -> NoReturn:
    """Become torch's launcher, which trains the job in `processes` processes (one per GPU).

    The launcher is a standalone rendezvous on a free local port, and it passes SIGTERM on to the
    ranks, so stopping this process stops the job as before. Even one process goes through it
    where several GPUs are visible: that process then trains on the first GPU alone, where the
    Trainer would otherwise split each batch over every GPU in one process (`DataParallel`).
    """
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               f"--nproc-per-node={processes}", "-m", MODULE, str(job_dir), str(base)]  # fmt: skip
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, command)


def _die_with_launcher() -> None:
    """Have Linux kill this rank when its launcher dies.

    The launcher starts each rank in a session of its own, so when the helper kills a launcher
    that did not stop in time, the ranks would go on training (holding their GPUs) into a job
    folder that is being deleted.
    """
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() == 1:  # the launcher died before the request above
        os._exit(1)


def _stop_agreed(torch: object, device: object, distributed: bool) -> bool:
    """Whether to stop after this step: asked for here, or, across ranks, on any rank.

    Every rank receives SIGTERM from the launcher, but not always before the same step; a rank
    that stopped alone would leave the others waiting for it in the next gradient exchange.
    """
    if distributed:
        flag = torch.tensor([1.0 if STOP["requested"] else 0.0], device=device)
        torch.distributed.all_reduce(flag, op=torch.distributed.ReduceOp.MAX)
        STOP["requested"] = bool(flag.item())
    return STOP["requested"]


def choose_device(torch: object, wanted: str) -> str:
    """The device to train on; asking for CUDA where torch sees no GPU fails instead of crawling."""
    available = torch.cuda.is_available()
    if wanted == "auto":
        return "cuda" if available else "cpu"
    if wanted == "cuda" and not available:
        raise RuntimeError("CUDA was asked for but torch sees no GPU (torch.cuda.is_available())")
    if wanted not in ("cpu", "cuda"):
        raise ValueError(f"unknown device {wanted!r} (cpu, cuda or auto)")
    return wanted


def _last_checkpoint(folder: Path) -> Path | None:
    found = sorted(
        (p for p in folder.glob("checkpoint-*") if p.name.split("-")[-1].isdigit()),
        key=lambda p: int(p.name.split("-")[-1]),
    )
    return found[-1] if found else None


if __name__ == "__main__":
    sys.exit(main(*(Path(arg) for arg in sys.argv[1:3])))
