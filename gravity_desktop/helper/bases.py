"""Base models the helper has received, kept by sha256 so a client sends each one only once.

A base model is a public GGUF (not the reader's data), so it outlives the job that brought it: the
next job names it by sha256 and skips the upload. Files are named after the sha256 the helper
computed itself, never after anything the client sent, and only a GGUF model with a header that
gguf-py can read is kept.
"""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path
from typing import BinaryIO

from gravity_desktop.errors import ModelFileError
from gravity_desktop.helper.uploads import Rejected
from gravity_desktop.llm.gguf_file import GGUF_MAGIC, inspect


class BaseCache:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        for leftover in folder.glob("*.partial"):
            leftover.unlink()

    def find(self, sha256: str) -> Path | None:
        path = self.folder / f"{sha256}.gguf"
        return path if path.is_file() else None

    def add(self, upload: BinaryIO, claimed_sha256: str) -> Path:
        """Keep an uploaded GGUF once its magic, header and claimed sha256 have been checked."""
        head = upload.read(4)
        if head != GGUF_MAGIC:
            raise Rejected(400, "the base model is not GGUF (its first bytes are not 'GGUF')")
        digest = hashlib.sha256(head)
        partial = self.folder / f"{uuid.uuid4().hex}.partial"
        try:
            with partial.open("wb") as out:
                out.write(head)
                while block := upload.read(1 << 20):
                    digest.update(block)
                    out.write(block)
            if digest.hexdigest() != claimed_sha256:
                raise Rejected(
                    400, "the base model's sha256 differs from base_sha256 (damaged upload?)"
                )
            try:
                inspect(partial)
            except ModelFileError as exc:
                reason = str(exc).removeprefix(f"{partial}: ")
                raise Rejected(400, f"the base model cannot be used: {reason}") from exc
            final = self.folder / f"{claimed_sha256}.gguf"
            partial.replace(final)
            return final
        finally:
            partial.unlink(missing_ok=True)
