"""Checking a GGUF file before llama.cpp sees it.

llama.cpp reports a bad file with a C-level log and a generic Python exception; the reader deserves
one line naming the file and what is wrong. We read the header with gguf-py (memory-mapped, no
tensor data is loaded) and check that every tensor lies inside the file, which catches truncation.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass
from pathlib import Path

from gravity_desktop.errors import ModelFileError

GGUF_MAGIC = b"GGUF"

# Text-generation architectures we serve and know a chat template for. Others (vision projectors,
# embedding-only or audio models) load in llama.cpp but cannot write book descriptions.
SUPPORTED_ARCHITECTURES = frozenset(
    {
        "llama",
        "qwen2",
        "qwen3",
        "gemma",
        "gemma2",
        "gemma3",
        "phi3",
        "mistral",
        "granite",
        "olmo2",
        "smollm3",
    }
)


@dataclass(frozen=True)
class GGUFInfo:
    path: Path
    version: int
    architecture: str
    kind: str  # "model" or "adapter"
    tensor_count: int
    name: str
    context_length: int | None
    size: int


def inspect(path: Path | str, *, expect: str = "model") -> GGUFInfo:
    """Read and check the header of a model (`expect="model"`) or LoRA adapter GGUF."""
    path = Path(path)
    label = "adapter" if expect == "adapter" else "model"
    if not path.exists():
        raise ModelFileError(f"{path}: {label} file not found")
    if not path.is_file():
        raise ModelFileError(f"{path}: is not a file")
    size = path.stat().st_size
    if size == 0:
        raise ModelFileError(f"{path}: {label} file is empty")
    with path.open("rb") as handle:
        head = handle.read(8)
    if len(head) < 8 or head[:4] != GGUF_MAGIC:
        raise ModelFileError(f"{path}: not a GGUF file (the first bytes are not 'GGUF')")
    version = struct.unpack("<I", head[4:8])[0]
    if version not in (2, 3):
        raise ModelFileError(f"{path}: unsupported GGUF version {version} (expected 2 or 3)")

    from gguf import GGUFReader

    try:
        reader = GGUFReader(path)
    except (ValueError, IndexError, struct.error, OSError) as exc:
        raise ModelFileError(f"{path}: truncated or damaged GGUF header ({exc})") from exc
    tensors = list(reader.tensors)
    end = max((t.data_offset + t.n_bytes for t in tensors), default=0)
    if end > size:
        raise ModelFileError(
            f"{path}: truncated: tensor data needs {end} bytes but the file has {size}"
        )

    def field(key: str) -> object | None:
        found = reader.get_field(key)
        return None if found is None else found.contents()

    architecture = str(field("general.architecture") or "")
    kind = str(field("general.type") or "model")
    if not architecture:
        raise ModelFileError(f"{path}: has no general.architecture; not a llama.cpp model")
    if expect == "adapter":
        if kind != "adapter" or field("adapter.type") != "lora":
            raise ModelFileError(f"{path}: not a LoRA adapter GGUF (general.type is {kind!r})")
    else:
        if kind == "adapter":
            raise ModelFileError(f"{path}: is a LoRA adapter, not a model")
        if architecture not in SUPPORTED_ARCHITECTURES:
            raise ModelFileError(
                f"{path}: architecture {architecture!r} is not a supported text-generation model"
                f" (supported: {', '.join(sorted(SUPPORTED_ARCHITECTURES))})"
            )
        if not tensors:
            raise ModelFileError(f"{path}: holds no tensors")
    context = field(f"{architecture}.context_length")
    return GGUFInfo(
        path=path,
        version=version,
        architecture=architecture,
        kind=kind,
        tensor_count=len(tensors),
        name=str(field("general.name") or path.stem),
        context_length=int(context) if isinstance(context, int) else None,
        size=size,
    )


def check_adapter_matches(adapter: GGUFInfo, model: GGUFInfo) -> None:
    """An adapter trained for one architecture cannot be applied to another."""
    if adapter.architecture != model.architecture:
        raise ModelFileError(
            f"{adapter.path}: adapter is for architecture {adapter.architecture!r} but the model"
            f" {model.path.name} is {model.architecture!r}"
        )


def sha256_of(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()
