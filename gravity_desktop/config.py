"""Where GRAVITY Desktop keeps the reader's data, and the settings it remembers.

All user data lives under one root so that "Export my data" and "Delete my data" are a matter of
one folder. platformdirs chooses the root per OS; `GRAVITY_HOME` overrides it (tests, scripts,
portable installs).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import platformdirs

APP_NAME = "gravity-desktop"


def install_root() -> Path:
    """The folder holding the read-only data (`resources/`, `models/`).

    From a source checkout that is the repository. Installed from the wheel it is the package
    folder itself, where pyproject.toml's package data puts both folders (the wheel has no
    repository around the package). Inside a PyInstaller bundle it is the bundle's data folder
    (`sys._MEIPASS`), where the installer recipes put them.
    """
    bundle = getattr(sys, "_MEIPASS", None)
    if getattr(sys, "frozen", False) and bundle:
        return Path(bundle)
    package = Path(__file__).resolve().parent
    return package if (package / "resources").is_dir() else package.parent


PROJECT_ROOT = install_root()
RESOURCES_DIR = PROJECT_ROOT / "resources"
MODELS_REGISTRY_DIR = PROJECT_ROOT / "models"


@dataclass(frozen=True)
class Paths:
    """The folders and files under the data root."""

    root: Path

    @property
    def database(self) -> Path:
        return self.root / "gravity.sqlite3"

    @property
    def models(self) -> Path:
        return self.root / "models"

    @property
    def adapters(self) -> Path:
        return self.root / "adapters"

    @property
    def trainable_base(self) -> Path:
        """The served model's weights prepared for training (training/base_model.py; a cache)."""
        return self.root / "trainable-base"

    @property
    def batch_weights(self) -> Path:
        """Weights rewritten for batched writing and scoring (llm/batch_weights.py; a cache)."""
        return self.root / "batch-weights"

    @property
    def settings_file(self) -> Path:
        return self.root / "settings.json"

    def ensure(self) -> Paths:
        for folder in (self.root, self.models, self.adapters):
            folder.mkdir(parents=True, exist_ok=True)
        return self


def data_root() -> Path:
    override = os.environ.get("GRAVITY_HOME")
    if override:
        return Path(override).expanduser().resolve()
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def paths() -> Paths:
    return Paths(data_root()).ensure()


@dataclass
class Settings:
    """Choices the reader makes once and expects to find again.

    Stored as JSON beside the database (not in it) so that a damaged database never takes the
    reader's settings with it.
    """

    serve_model: str = ""
    teacher_model: str = ""
    n_threads: int = 0
    n_ctx: int = 2048
    extra: dict[str, object] = field(default_factory=dict)

    @classmethod
    def load(cls, where: Paths | None = None) -> Settings:
        file = (where or paths()).settings_file
        if not file.exists():
            return cls()
        try:
            raw = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            return cls()
        known = {f.name for f in fields(cls)}
        return cls(**{key: value for key, value in raw.items() if key in known})

    def save(self, where: Paths | None = None) -> None:
        file = (where or paths()).settings_file
        file.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(
            "w", encoding="utf-8", dir=file.parent, delete=False, suffix=".tmp"
        ) as tmp:
            json.dump(asdict(self), tmp, indent=2)
        os.replace(tmp.name, file)
