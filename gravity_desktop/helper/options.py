"""The helper's settings, fixed when `gravity-gpu-helper serve` starts."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

DEVICES = ("auto", "cuda", "cpu")


@dataclass(frozen=True)
class HelperOptions:
    data_dir: Path  # jobs/, bases/ (base GGUFs), weights/ (imported HF weights), trainable-base/
    token: str
    device: str = "auto"  # passed to the worker: auto = CUDA when torch sees a GPU
    # GPUs one job trains on, data-parallel with a process each (the worker counts them: this
    # process has no torch); on the CPU a number runs that many processes instead.
    gpus: int | Literal["all"] = "all"
    retention_seconds: float = 0.0  # how long a job's data stays after the job ends
    claim_seconds: float = 3600.0  # a finished adapter nobody fetches is deleted after this
    max_upload_bytes: int = 8 << 30  # a whole POST /jobs request (base GGUF + pairs + settings)
    max_pairs_bytes: int = 64 << 20  # the pairs file alone (it is read into memory to check it)
    stop_grace_seconds: float = 15.0  # after SIGTERM, the worker is killed if still running

    @property
    def jobs_dir(self) -> Path:
        return self.data_dir / "jobs"

    @property
    def bases_dir(self) -> Path:
        return self.data_dir / "bases"

    @property
    def weights_dir(self) -> Path:
        return self.data_dir / "weights"

    @property
    def trainable_base_dir(self) -> Path:
        return self.data_dir / "trainable-base"
