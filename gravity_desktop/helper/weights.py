"""Hugging Face weights the helper has received, kept like base models so each is sent only once.

A model imported with the safetensors folder it was made from (`gravity models import FILE.gguf
--weights DIR`) trains from those weights on the desktop, and must train from them here too, or the
helper would dequantize the GGUF and hand back a different adapter. The client sends the folder's
safetensors, JSON files and chat template with a manifest {file name: sha256}; the set is known by
`weights_sha256`, the sha256 of that manifest as canonical JSON (`hf_weights.manifest_sha256`), so
the next job names it and sends nothing.

The checks come in two steps:
- with the form (`parse_weights`), before any file is stored: the manifest matches weights_sha256,
  every name is a plain file name with an accepted suffix (pickle files are refused by name), and
  the files uploaded are exactly those the manifest lists;
- while storing (`WeightsCache.add`): each file's sha256 is the manifest's, JSON files parse, the
  chat template is UTF-8 text, and the folder passes the desktop's own import check against the
  base GGUF (`hf_weights.check_weights`: config, safetensors headers, tokenizer, the GGUF's shape).
A file is written only under a name that passed the name check, in a folder the helper names
(`<uuid>.partial`, then `weights_sha256` once verified); nothing else the client sends is a path.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from gravity_desktop.errors import UserError
from gravity_desktop.helper.uploads import SHA256, Rejected, parse_sha256
from gravity_desktop.llm.hf_weights import (
    HELPER_SUFFIXES,
    PICKLE_SUFFIXES,
    check_weights,
    manifest_sha256,
)

MAX_FILES = 64  # a 70B model comes in about 30 safetensors shards
MAX_TEXT_BYTES = 64 << 20  # JSON files and the chat template are read whole to check them
# A plain file name: no folder, no leading dot, nothing a file system treats specially.
FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
ACCEPTED = "the helper accepts only safetensors weights, JSON files and the chat template (.jinja)"


@dataclass(frozen=True)
class WeightsUpload:
    """What a job says of its weights: their sha256 and, when it sends them, the files."""

    sha256: str
    manifest: dict[str, str] | None = None  # None: the job names weights the helper has
    files: dict[str, BinaryIO] = field(default_factory=dict)


def check_name(name: object) -> str:
    """A weights file name the helper may write: plain, and of an accepted kind."""
    if not isinstance(name, str) or not FILE_NAME.match(name) or ".." in name:
        raise Rejected(400, f"weights file name {name!r} is not a plain file name")
    suffix = Path(name).suffix
    if suffix in PICKLE_SUFFIXES:
        raise Rejected(400, f"{name}: pickle files are refused; {ACCEPTED}")
    if suffix not in HELPER_SUFFIXES:
        raise Rejected(400, f"{name}: not accepted; {ACCEPTED}")
    return name


def _parse_manifest(raw: object) -> dict[str, str]:
    if not isinstance(raw, str):
        raise Rejected(400, "weights_manifest must be JSON text")
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise Rejected(400, f"weights_manifest is not JSON ({exc.msg})") from exc
    if not isinstance(data, dict) or not data:
        raise Rejected(400, "weights_manifest must be a JSON object {file name: sha256}")
    if len(data) > MAX_FILES:
        raise Rejected(400, f"weights_manifest lists {len(data)} files; at most {MAX_FILES}")
    for name, digest in data.items():
        check_name(name)
        if not isinstance(digest, str) or not SHA256.match(digest):
            raise Rejected(400, f"weights_manifest: the sha256 of {name} is not 64 hex digits")
    return data


def parse_weights(
    sha256_raw: object, manifest_raw: object, uploads: list[tuple[object, BinaryIO]]
) -> WeightsUpload | None:
    """The job's weights from the form fields (None: it trains from the base GGUF).

    `uploads` holds (file name the client gave, file) for each part of the field 'weights'.
    """
    if sha256_raw is None:
        if manifest_raw is not None or uploads:
            raise Rejected(400, "weights files and weights_manifest come with weights_sha256")
        return None
    sha256 = parse_sha256(sha256_raw, "weights_sha256")
    if manifest_raw is None:
        if uploads:
            raise Rejected(400, "the weights files come with weights_manifest {file name: sha256}")
        return WeightsUpload(sha256)
    manifest = _parse_manifest(manifest_raw)
    if manifest_sha256(manifest) != sha256:
        raise Rejected(400, "weights_manifest does not match weights_sha256")
    files: dict[str, BinaryIO] = {}
    for given, file in uploads:
        name = check_name(given)
        if name in files:
            raise Rejected(400, f"the weights upload has {name} twice")
        files[name] = file
    extra = sorted(set(files) - set(manifest))
    if extra:
        raise Rejected(
            400, f"the weights upload has {', '.join(extra)}, which weights_manifest does not list"
        )
    missing = sorted(set(manifest) - set(files))
    if missing:
        raise Rejected(
            400, f"the weights upload lacks {', '.join(missing)}, listed in weights_manifest"
        )
    return WeightsUpload(sha256, manifest, files)


def _check_against(folder: Path, base: Path) -> None:
    """The desktop's import check; its messages name files, not the helper's folders."""
    try:
        check_weights(folder, base)
    except UserError as exc:
        reason = str(exc).replace(f"{folder}/", "").replace(f"{folder}: ", "")
        raise Rejected(400, f"the weights cannot be used: {reason}") from exc


def _receive(source: BinaryIO, target: Path, expected_sha256: str) -> None:
    digest = hashlib.sha256()
    size = 0
    with target.open("wb") as out:
        while block := source.read(1 << 20):
            digest.update(block)
            size += len(block)
            out.write(block)
    if digest.hexdigest() != expected_sha256:
        raise Rejected(
            400, f"{target.name}: its sha256 differs from weights_manifest's (damaged upload?)"
        )
    if target.suffix == ".safetensors":
        return  # its header is read by check_weights
    if size > MAX_TEXT_BYTES:
        raise Rejected(413, f"{target.name} is larger than {MAX_TEXT_BYTES >> 20} MiB")
    try:
        text = target.read_bytes().decode("utf-8")
        if target.suffix == ".json":
            json.loads(text)
    except UnicodeDecodeError as exc:
        raise Rejected(400, f"{target.name}: not UTF-8 text (byte {exc.start})") from exc
    except json.JSONDecodeError as exc:
        raise Rejected(400, f"{target.name}: not JSON ({exc.msg} at line {exc.lineno})") from exc


class WeightsCache:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        for leftover in folder.glob("*.partial"):
            shutil.rmtree(leftover, ignore_errors=True)

    def find(self, sha256: str, base: Path) -> Path | None:
        """The weights kept under `sha256`, checked against this job's base GGUF."""
        folder = self.folder / sha256
        if not folder.is_dir():
            return None
        _check_against(folder, base)
        return folder

    def add(self, upload: WeightsUpload, base: Path) -> Path:
        """Keep uploaded weights once every file and the whole folder have been checked."""
        assert upload.manifest is not None, "only an upload with files is added"
        partial = self.folder / f"{uuid.uuid4().hex}.partial"
        partial.mkdir()
        try:
            for name, source in upload.files.items():
                _receive(source, partial / name, upload.manifest[name])
            _check_against(partial, base)
            final = self.folder / upload.sha256
            if not final.is_dir():  # else the same files are kept already (and may be in use)
                partial.rename(final)
            return final
        finally:
            shutil.rmtree(partial, ignore_errors=True)
