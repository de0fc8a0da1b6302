"""Checking what a client sends before any of it reaches the worker.

Only these kinds of data are accepted: training settings as JSON, pairs as JSONL in TRL's
conversational format, a base model as GGUF (checked in `bases.py`) and, for a model imported with
its Hugging Face weights, safetensors, JSON files and a chat template (checked in `weights.py`).
Each is parsed with the standard library's JSON parser and checked field by field; nothing is
unpickled, and nothing a client sends is used as a file name, but for a weights file's own name
once it has been checked to be a plain name of an accepted kind (config.json, model.safetensors).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import fields

from gravity_desktop.training.config import MIN_PAIRS, PRECISIONS, TrainConfig
from gravity_desktop.training.gguf_export import MODULES


class Rejected(Exception):
    """A request the helper will not run, with the HTTP status and a message naming the problem."""

    def __init__(self, status: int, message: str, code: str = "rejected") -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code


SHA256 = re.compile(r"^[0-9a-f]{64}$")
METHODS = ("gravity", "naive", "sft")
PROMPT_ROLES = frozenset({"system", "user", "assistant"})
ANSWER_ROLES = frozenset({"assistant"})
KNOWN_MODULES = frozenset(module.rsplit(".", 1)[-1] for module in MODULES)
# (type, lowest, highest) for the numeric settings; bounds keep a typo from running for days.
NUMBERS: dict[str, tuple[type, float, float]] = {
    "rank": (int, 1, 256),
    "alpha": (float, 0.01, 4096),
    "dropout": (float, 0.0, 0.9),
    "beta": (float, 0.001, 100),
    "learning_rate": (float, 1e-8, 1.0),
    "epochs": (int, 1, 50),
    "batch_size": (int, 1, 256),
    "max_length": (int, 16, 32768),
    "heldout_share": (float, 0.0, 0.9),
    "feedback_weight": (int, 1, 100),
    "save_every": (int, 1, 1_000_000),
    "seed": (int, 0, 2**32 - 1),
}
# Whole numbers that may be null (every pair, every layer), with their lowest value.
NULLABLE_COUNTS = {"max_pairs": MIN_PAIRS, "lora_layers": 1}


def parse_sha256(raw: object, name: str = "base_sha256") -> str:
    if not isinstance(raw, str) or not SHA256.match(raw):
        raise Rejected(400, f"{name} must be 64 lowercase hexadecimal digits")
    return raw


def _number(name: str, value: object) -> int | float:
    kind, low, high = NUMBERS[name]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Rejected(400, f"config.{name} must be a number")
    if kind is int and not isinstance(value, int):
        raise Rejected(400, f"config.{name} must be a whole number")
    if not math.isfinite(value) or not low <= value <= high:
        raise Rejected(400, f"config.{name} must be between {low:g} and {high:g}")
    return value


def parse_config(raw: object) -> TrainConfig:
    """A TrainConfig from the `config` field; settings left out take their defaults."""
    if not isinstance(raw, str):
        raise Rejected(400, "the config field (training settings as JSON) is missing")
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise Rejected(400, f"config is not JSON ({exc.msg} at position {exc.pos})") from exc
    if not isinstance(data, dict):
        raise Rejected(400, "config must be a JSON object")
    known = {f.name for f in fields(TrainConfig)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise Rejected(400, f"config has unknown settings: {', '.join(unknown)}")
    values: dict[str, object] = {}
    for name, value in data.items():
        if name in NUMBERS:
            values[name] = _number(name, value)
        elif name == "method":
            if value not in METHODS:
                raise Rejected(400, f"config.method must be one of {', '.join(METHODS)}")
            values[name] = value
        elif name == "precision":
            if value not in PRECISIONS:
                raise Rejected(400, f"config.precision must be one of {', '.join(PRECISIONS)}")
            values[name] = value
        elif name == "gradient_checkpointing":
            if not isinstance(value, bool):
                raise Rejected(400, "config.gradient_checkpointing must be true or false")
            values[name] = value
        elif name == "target_modules":
            if (
                not isinstance(value, list)
                or not value
                or not all(isinstance(m, str) and m in KNOWN_MODULES for m in value)
            ):
                known = ", ".join(sorted(KNOWN_MODULES))
                raise Rejected(400, f"config.target_modules must list some of {known}")
            values[name] = tuple(value)
        elif name in NULLABLE_COUNTS:
            lowest = NULLABLE_COUNTS[name]
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or value < lowest
            ):
                raise Rejected(400, f"config.{name} must be null or a number >= {lowest}")
            values[name] = value
    return TrainConfig(**values)


def _messages_problem(value: object, field: str, roles: frozenset[str]) -> str | None:
    if not isinstance(value, list) or not value:
        return f"'{field}' must be a non-empty list of messages"
    for message in value:
        if not isinstance(message, dict) or set(message) != {"role", "content"}:
            return f"'{field}' holds something other than a {{role, content}} message"
        if message["role"] not in roles:
            return f"'{field}' has a message with role {message['role']!r}"
        if not isinstance(message["content"], str) or not message["content"].strip():
            return f"'{field}' has a message without text"
    return None


def _record_problem(record: object) -> str | None:
    if not isinstance(record, dict):
        return "not a JSON object"
    keys = set(record)
    if keys == {"prompt", "chosen", "rejected"}:
        answers = ("chosen", "rejected")
    elif keys == {"prompt", "completion"}:
        answers = ("completion",)
    else:
        return (
            "expected the fields prompt, chosen and rejected (or prompt and completion),"
            f" found {', '.join(sorted(keys)) or 'none'}"
        )
    problem = _messages_problem(record["prompt"], "prompt", PROMPT_ROLES)
    for field in answers:
        problem = problem or _messages_problem(record[field], field, ANSWER_ROLES)
    return problem


def check_pairs(data: bytes) -> int:
    """The number of pairs in a JSONL upload; the first bad line is named in the error."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Rejected(400, f"the pairs file is not UTF-8 text (byte {exc.start})") from exc
    count = 0
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise Rejected(400, f"the pairs file, line {number}: not JSON ({exc.msg})") from exc
        problem = _record_problem(record)
        if problem is not None:
            raise Rejected(400, f"the pairs file, line {number}: {problem}")
        count += 1
    if count == 0:
        raise Rejected(400, "the pairs file holds no pairs")
    return count
