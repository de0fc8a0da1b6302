"""The run's state file (DIR/state.json): its settings and every finished unit, for resuming.

Each unit of work (a reader created, a synthesis round, an adapter trained, a description, a judge
verdict) is recorded under a key once it is finished, and the file is replaced atomically after
every record, so Ctrl-C or a crash loses at most the unit in progress. A folder holding a run with
other settings is refused rather than mixed.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from gravity_desktop.errors import UserError

STATE_VERSION = 1


class Stopped(Exception):
    """The run was cancelled (Ctrl-C); every finished unit is in the state file."""


class RunState:
    def __init__(self, file: Path, settings: dict[str, object], units: dict[str, object]) -> None:
        self.file = file
        self.settings = settings
        self.units = units

    @classmethod
    def open(cls, folder: Path, settings: dict[str, object]) -> RunState:
        """The state of the run in `folder`, or a new one; refuses a run with other settings."""
        file = folder / "state.json"
        if not file.exists():
            folder.mkdir(parents=True, exist_ok=True)
            state = cls(file, settings, {})
            state.save()
            return state
        try:
            raw = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise UserError(f"{file}: cannot read the run state ({exc})") from exc
        if not isinstance(raw, dict) or raw.get("version") != STATE_VERSION:
            raise UserError(f"{file}: not a state file of this version of gravity eval")
        stored = raw.get("settings")
        if stored != settings:
            changed = sorted(
                key
                for key in set(stored or {}) | set(settings)
                if (stored or {}).get(key) != settings.get(key)
            )
            raise UserError(
                f"{folder} holds an evaluation run with other settings ({', '.join(changed)});"
                " run with the same arguments to resume it, or choose another --out folder"
            )
        return cls(file, settings, dict(raw.get("units", {})))

    def done(self, key: str) -> bool:
        return key in self.units

    def get(self, key: str) -> object:
        return self.units[key]

    def record(self, key: str, value: object) -> None:
        self.record_many({key: value})

    def record_many(self, units: dict[str, object]) -> None:
        """Record units finished together (one write of the file)."""
        self.units.update(units)
        self.save()

    def save(self) -> None:
        data = {"version": STATE_VERSION, "settings": self.settings, "units": self.units}
        with tempfile.NamedTemporaryFile(
            "w", encoding="utf-8", dir=self.file.parent, delete=False, suffix=".tmp"
        ) as tmp:
            json.dump(data, tmp, ensure_ascii=False, indent=1)
        os.replace(tmp.name, self.file)
