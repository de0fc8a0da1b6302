"""Running the training worker as a child process and relaying its JSON event lines (stdlib only).

The desktop (`job.py`) and the GPU helper (`gravity_desktop.helper`) both train through this one
function, so a job trains the same way wherever it runs. Stopping sends SIGTERM: the worker saves a
checkpoint at the next step and exits. The helper also gives a grace period after which the worker
is killed, because a worker still loading its model only notices SIGTERM once training starts.
The command comes from `packs.worker_command`: the project's Python from a checkout, the training
pack's worker in an installed app.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path

from gravity_desktop.errors import UserError
from gravity_desktop.packs import NO_WINDOW, frozen, worker_command

WORKER = "gravity_desktop.training.dpo_worker"
Event = dict[str, object]


class WorkerFailed(Exception):
    """The worker ended without finishing; the message is its last error line."""


def run_worker(
    job_dir: Path,
    on_event: Callable[[Event], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    kill_after: float | None = None,
) -> str:
    """Run `dpo_worker` on `job_dir` until it ends: "done" or "cancelled", else `WorkerFailed`.

    `kill_after` (seconds after SIGTERM) turns a stop into a kill when the worker does not exit.
    An installed app without the training pack fails here too, with the pack's download
    instructions, so callers handle one kind of failure.
    """
    try:
        command = worker_command(WORKER)
    except UserError as exc:
        raise WorkerFailed(str(exc)) from exc
    env = {**os.environ, "TOKENIZERS_PARALLELISM": "false", "HF_HUB_OFFLINE": "1"}
    process = subprocess.Popen(
        [*command, str(job_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        creationflags=NO_WINDOW,
    )
    stopping = threading.Event()

    def watch() -> None:
        stopped_at: float | None = None
        while process.poll() is None:
            if should_stop is not None and should_stop() and not stopping.is_set():
                stopping.set()
                stopped_at = time.monotonic()
                process.send_signal(signal.SIGTERM)
            if (
                stopped_at is not None
                and kill_after is not None
                and time.monotonic() - stopped_at > kill_after
            ):
                process.kill()
            time.sleep(0.2)

    # stderr is drained while stdout is read: a worker chatty on stderr (library warnings) would
    # otherwise fill the pipe and block, and both processes would wait for each other.
    assert process.stdout is not None and process.stderr is not None
    stderr_tail: deque[str] = deque(maxlen=20)
    drainer = threading.Thread(target=stderr_tail.extend, args=(process.stderr,), daemon=True)
    watcher = threading.Thread(target=watch, daemon=True)
    drainer.start()
    watcher.start()
    outcome = "failed"
    error = ""
    for line in process.stdout:
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            continue
        if not isinstance(event, dict):
            continue
        if on_event is not None:
            on_event(event)
        kind = event.get("event")
        if kind == "done":
            outcome = "done"
        elif kind == "cancelled":
            outcome = "cancelled"
        elif kind == "error":
            error = str(event.get("message", ""))
    process.wait()
    drainer.join(timeout=5)
    watcher.join(timeout=1)
    process.stdout.close()
    process.stderr.close()
    if outcome == "done" and process.returncode == 0:
        return "done"
    if outcome == "cancelled" or (stopping.is_set() and process.returncode != 0):
        return "cancelled"
    if not error:
        tail = [line.strip() for line in stderr_tail if line.strip()][-1:]
        error = tail[0] if tail else f"the worker exited with status {process.returncode}"
    if "No module named" in error and not frozen():  # the pack carries its own modules
        error += " (the training stack is not installed: run `make install-train`)"
    raise WorkerFailed(error)
