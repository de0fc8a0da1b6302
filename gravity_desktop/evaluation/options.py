"""What `gravity eval` is asked to do: the run's options, its judges and an optional GPU helper.

The options are the run's identity: they are stored in DIR/state.json, and resuming needs the same
ones. Judges are not part of it (a judge can be added to a finished run), nor is where training
runs (this computer or a GPU helper).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from gravity_desktop.app_context import opened
from gravity_desktop.config import Settings
from gravity_desktop.errors import UserError
from gravity_desktop.evaluation import groups
from gravity_desktop.gravity.methods import METHODS
from gravity_desktop.gravity.methods import method as method_info
from gravity_desktop.llm.registry import find_model, load_registry, require_file
from gravity_desktop.training.config import MIN_PAIRS
from gravity_desktop.training.helper_access import SETTINGS_KEY as HELPER_SETTINGS

DEFAULT_COUNTRIES = ("US", "BR", "JP", "IN")
EMBEDDING = "embedding"


@dataclass(frozen=True)
class EvalOptions:
    """What is evaluated; every field is part of the run's identity in its state file."""

    users: int = 400
    countries: tuple[str, ...] = DEFAULT_COUNTRIES
    books_per_user: int = 2
    methods: tuple[str, ...] = tuple(METHODS)
    seed: int = 0
    adapters: str = "country"  # "country" (cohort approximation), "reader" or "all"
    pairs_per_adapter: int = 6
    scenarios_per_book: int = 4
    epochs: int = 1

    def check(self) -> None:
        for name in self.methods:
            method_info(name)
        if len(set(self.methods)) < 2:
            raise UserError("give at least two different methods to compare (--methods)")
        if self.adapters not in groups.GRANULARITIES:
            raise UserError(f"--adapters must be one of {list(groups.GRANULARITIES)}")
        if self.pairs_per_adapter < MIN_PAIRS:
            raise UserError(f"--pairs-per-adapter must be at least {MIN_PAIRS} (training needs it)")
        if self.users < 1 or self.books_per_user < 1 or self.epochs < 1:
            raise UserError("--users, --books-per-user and --epochs must be at least 1")

    def settings(self) -> dict[str, object]:
        data = asdict(self)
        data["countries"], data["methods"] = list(self.countries), list(self.methods)
        return data


@dataclass(frozen=True)
class LlmJudgeModel:
    """A registry model resolved to its file (in the reader's real data dir, read-only use)."""

    model_id: str
    path: Path
    chat_format: str = "gguf"

    @property
    def name(self) -> str:
        return f"llm:{self.model_id}"


@dataclass(frozen=True)
class Helper:
    """Train the adapters on a GPU helper: its URL, and the reader's settings for it (CA cert)."""

    url: str
    settings: dict[str, object]


def parse_judges(values: list[str]) -> tuple[bool, list[str]]:
    """("embedding" asked for, LLM judge model ids) from --judge values."""
    use_embedding, model_ids = False, []
    for value in values:
        if value == EMBEDDING:
            use_embedding = True
        elif value.startswith("llm:") and value[4:]:
            model_ids.append(value[4:])
        else:
            raise UserError(f"--judge {value!r}: expected 'embedding' or 'llm:MODEL_ID'")
    if not use_embedding and not model_ids:
        raise UserError("give at least one judge (--judge embedding or --judge llm:MODEL_ID)")
    return use_embedding, list(dict.fromkeys(model_ids))


def default_judges() -> list[str]:
    """Both judges, the LLM one on the registry's default model."""
    default = next(e for e in load_registry() if e.default)
    return [EMBEDDING, f"llm:{default.id}"]


def resolve_llm_judges(model_ids: list[str]) -> list[LlmJudgeModel]:
    """Each judge model's file, found where the reader keeps models (bundled or downloaded)."""
    found = []
    with opened() as ctx:
        for model_id in model_ids:
            model = find_model(ctx.paths, ctx.conn, model_id)
            found.append(
                LlmJudgeModel(model.entry.id, require_file(model), model.entry.chat_format)
            )
    return found


def helper_target(url: str) -> Helper:
    """The GPU helper at `url`, with what the reader's settings remember about it (CA cert)."""
    section = Settings.load().extra.get(HELPER_SETTINGS)
    return Helper(url, section if isinstance(section, dict) else {})
