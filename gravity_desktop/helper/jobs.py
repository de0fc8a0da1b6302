"""Training jobs on the helper: one folder each, one at a time, deleted when they end.

A job's life: the client's pairs and settings are written into `jobs/<uuid4 hex>/` (a name the
helper makes up; nothing from the client becomes a path), the worker trains there exactly as on the
desktop (`run_worker`), and the PEFT LoRA is exported to a llama.cpp adapter with the desktop's
exporter. The job ends when the client has fetched the adapter, when it fails or is cancelled, or
when its adapter goes unclaimed for `claim_seconds`; its folder is deleted `retention_seconds`
after that (0 by default: at once). The record kept in memory afterwards holds only the state and
the progress events, so a client can still learn how the job ended.
"""

from __future__ import annotations

import json
import logging
import shutil
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from gravity_desktop.errors import UserError
from gravity_desktop.helper.options import HelperOptions
from gravity_desktop.helper.uploads import Rejected
from gravity_desktop.llm.gguf_file import inspect, sha256_of
from gravity_desktop.training.config import TrainConfig
from gravity_desktop.training.gguf_export import export_adapter
from gravity_desktop.training.worker_process import Event, WorkerFailed, run_worker

ACTIVE = frozenset({"running", "exporting"})
KEEP_RECORDS = 50  # ended jobs remembered (state and events only) for clients that ask late
log = logging.getLogger(__name__)


@dataclass
class Job:
    id: str
    folder: Path
    base: Path
    state: str = "running"  # running, exporting, done, failed, cancelled
    error: str = ""
    adapter_sha256: str | None = None
    adapter_size: int | None = None
    ended_at: float | None = None
    data_deleted: bool = False
    events: list[Event] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    thread: threading.Thread | None = None

    @property
    def adapter(self) -> Path:
        return self.folder / "adapter.gguf"

    def add_event(self, event: Event) -> None:
        with self.lock:
            self.events.append(event)

    def snapshot(self, since: int = 0) -> dict[str, object]:
        with self.lock:
            events = self.events[max(since, 0) :]
            adapter = None
            if self.state == "done":
                adapter = {"sha256": self.adapter_sha256, "size": self.adapter_size}
            return {
                "id": self.id,
                "state": self.state,
                "events": events,
                "next": len(self.events),
                "error": self.error or None,
                "adapter": adapter,
                "data_deleted": self.data_deleted,
            }


class JobManager:
    def __init__(self, options: HelperOptions) -> None:
        self.options = options
        self.jobs: dict[str, Job] = {}
        self.lock = threading.Lock()
        # Whatever an earlier run left behind (a crash, a power cut) is deleted now.
        shutil.rmtree(options.jobs_dir, ignore_errors=True)
        options.jobs_dir.mkdir(parents=True, exist_ok=True)

    def get(self, job_id: str) -> Job:
        with self.lock:
            job = self.jobs.get(job_id)
        if job is None:
            raise Rejected(404, f"no job {job_id} on this helper", "unknown_job")
        return job

    def busy(self) -> bool:
        with self.lock:
            return any(job.state in ACTIVE for job in self.jobs.values())

    def create(
        self,
        config: TrainConfig,
        train_jsonl: bytes,
        pairs: int,
        base: Path,
        weights: Path | None = None,
    ) -> Job:
        """Write the job's folder and start training it in a background thread.

        `weights` is the Hugging Face weights folder the model was imported with, if any: the
        worker then trains from it, as on the desktop, instead of dequantizing `base`.
        """
        with self.lock:
            if any(job.state in ACTIVE for job in self.jobs.values()):
                raise Rejected(409, "the helper is training another job; try again later", "busy")
            self._forget_old_records()
            job_id = uuid.uuid4().hex
            job = Job(job_id, self.options.jobs_dir / job_id, base)
            self.jobs[job_id] = job
        job.folder.mkdir()
        (job.folder / "train.jsonl").write_bytes(train_jsonl)
        spec = {
            "base_gguf": str(base),
            "cache_root": str(self.options.trainable_base_dir),
            "trainable_weights": str(weights) if weights else None,
            "config": config.as_json(),
            "device": self.options.device,
            "gpus": self.options.gpus,
        }
        (job.folder / "job.json").write_text(json.dumps(spec, indent=2), encoding="utf-8")
        job.add_event({"event": "accepted", "job": job_id, "pairs": pairs})
        log.info("job %s: %d pairs, method %s", job_id, pairs, config.method)
        job.thread = threading.Thread(target=self._train, args=(job,), daemon=True)
        job.thread.start()
        return job

    def _forget_old_records(self) -> None:
        ended = sorted(
            (job for job in self.jobs.values() if job.ended_at is not None and job.data_deleted),
            key=lambda job: job.ended_at or 0.0,
        )
        for job in ended[: max(0, len(ended) - KEEP_RECORDS)]:
            del self.jobs[job.id]

    def _train(self, job: Job) -> None:
        try:
            outcome = run_worker(
                job.folder, job.add_event, job.stop.is_set, self.options.stop_grace_seconds
            )
            if outcome == "cancelled":
                self._end(job, "cancelled")
                return
            with job.lock:
                job.state = "exporting"
            job.add_event({"event": "exporting"})
            partial = job.folder / "adapter.gguf.partial"
            export_adapter(job.folder / "peft", job.base, partial)
            inspect(partial, expect="adapter")
            partial.replace(job.adapter)
        except Exception as exc:  # any failure is reported to the client; the helper goes on
            reason = str(exc) if isinstance(exc, WorkerFailed | UserError) else repr(exc)
            self._end(job, "cancelled" if job.stop.is_set() else "failed", reason)
            return
        # Keep only the adapter until the client fetches it: the pairs and checkpoints go now.
        (job.folder / "train.jsonl").unlink(missing_ok=True)
        shutil.rmtree(job.folder / "checkpoints", ignore_errors=True)
        shutil.rmtree(job.folder / "peft", ignore_errors=True)
        job.adapter_sha256 = sha256_of(job.adapter)
        job.adapter_size = job.adapter.stat().st_size
        job.add_event({"event": "exported", "sha256": job.adapter_sha256, "size": job.adapter_size})
        with job.lock:
            job.state = "done"
        self._later(self.options.claim_seconds, self._unclaimed, job)

    def _unclaimed(self, job: Job) -> None:
        if job.ended_at is None:
            self._end(job, "done", "the adapter was not fetched in time and was deleted")

    def delivered(self, job: Job) -> None:
        """The client has the adapter: the job has ended."""
        if job.ended_at is None:
            self._end(job, "done")

    def _end(self, job: Job, state: str, error: str = "") -> None:
        with job.lock:
            job.state = state
            job.error = job.error or error
            job.ended_at = time.time()
        log.info("job %s ended: %s%s", job.id, state, f" ({error})" if error else "")
        if self.options.retention_seconds > 0:
            self._later(self.options.retention_seconds, self._delete_data, job)
        else:
            self._delete_data(job)

    def _delete_data(self, job: Job) -> None:
        shutil.rmtree(job.folder, ignore_errors=True)
        job.data_deleted = True

    @staticmethod
    def _later(seconds: float, action: Callable[[Job], None], job: Job) -> None:
        timer = threading.Timer(seconds, action, args=(job,))
        timer.daemon = True
        timer.start()

    def cancel(self, job: Job) -> None:
        """Stop the job if it runs, wait for the worker to exit, and delete its data now."""
        job.stop.set()
        if job.thread is not None:
            job.thread.join(self.options.stop_grace_seconds + 30)
        if job.ended_at is None:
            self._end(job, "cancelled" if job.state in ACTIVE else job.state)
        self._delete_data(job)

    def shutdown(self) -> None:
        """Stop every job and delete all job data (the helper is going away)."""
        with self.lock:
            jobs = list(self.jobs.values())
        for job in jobs:
            self.cancel(job)
