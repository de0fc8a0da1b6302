"""The training worker: LoRA + DPO (or SFT) with TRL on the prepared base, JSON progress lines.

Run as `python -m gravity_desktop.training.dpo_worker JOB_DIR`. JOB_DIR holds `job.json`
(base GGUF, cache folder, TrainConfig, and `device`: "cpu" (the default), "cuda", or "auto" for CUDA
when torch sees a GPU) and the data (`train.jsonl`). Every line printed is one JSON
event: start, base_ready, resume or restart, progress (step, loss, reward accuracy, margin, ETA),
then done, cancelled or error. SIGTERM or SIGINT stop training at the next step after saving a
checkpoint; the next run of the same job resumes from the last checkpoint.
"""

from __future__ import annotations

import json
import shutil
import signal
import sys
import time
from pathlib import Path

STOP = {"requested": False}


def emit(event: str, **fields: object) -> None:
    print(json.dumps({"event": event, **fields}), flush=True)


def _request_stop(signum: int, frame: object) -> None:
    STOP["requested"] = True


def main(job_dir: Path) -> int:
    signal.signal(signal.SIGTERM, _request_stop)
    signal.signal(signal.SIGINT, _request_stop)
    job = json.loads((job_dir / "job.json").read_text(encoding="utf-8"))
    try:
        return run(job_dir, job)
    except Exception as exc:  # reported to the parent as one readable line
        emit("error", message=f"{type(exc).__name__}: {exc}")
        return 1


def run(job_dir: Path, job: dict) -> int:
    import torch
    from datasets import load_dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback

    from gravity_desktop.training.base_model import prepare_trainable_base
    from gravity_desktop.training.config import TrainConfig

    config = TrainConfig.from_json(job["config"])
    device = choose_device(torch, str(job.get("device", "cpu")))
    gpu = {"gpu": torch.cuda.get_device_name()} if device == "cuda" else {}
    emit("start", method=config.method, device=device, **gpu)
    torch.manual_seed(config.seed)
    weights = job.get("trainable_weights")
    base = prepare_trainable_base(
        Path(job["base_gguf"]), Path(job["cache_root"]), Path(weights) if weights else None
    )
    emit("base_ready", path=str(base))
    tokenizer = AutoTokenizer.from_pretrained(base)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
    data = load_dataset("json", data_files=str(job_dir / "train.jsonl"), split="train")
    if "metadata" in data.column_names:
        data = data.remove_columns("metadata")
    lora = LoraConfig(
        r=config.rank,
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
        "disable_tqdm": True,
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
            if STOP["requested"]:
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
        from trl import DPOConfig, DPOTrainer

        trainer = DPOTrainer(
            model=model,
            # The reference log-probabilities are computed once, before training, without
            # gradients: each step then runs one forward pass instead of two.
            args=DPOConfig(beta=config.beta, precompute_ref_log_probs=True, **common),
            train_dataset=data,
            processing_class=tokenizer,
            peft_config=lora,
            callbacks=[Progress()],
        )
    resume = _last_checkpoint(checkpoints)
    if resume is not None:
        emit("resume", checkpoint=resume.name)
        try:
            trainer.train(resume_from_checkpoint=str(resume))
        except Exception as exc:  # a damaged checkpoint: start clean and say so
            emit("restart", reason=f"could not resume from {resume.name}: {exc}")
            shutil.rmtree(checkpoints, ignore_errors=True)
            trainer.train()
    else:
        trainer.train()
    if STOP["requested"]:
        emit("cancelled", step=trainer.state.global_step)
        return 3
    out = job_dir / "peft"
    trainer.model.save_pretrained(out)
    emit("done", peft=str(out), steps=trainer.state.global_step,
         seconds=round(time.perf_counter() - started, 1))  # fmt: skip
    return 0


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
    sys.exit(main(Path(sys.argv[1])))
