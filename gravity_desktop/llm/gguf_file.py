"""Checking a GGUF file before llama.cpp sees it.

llama.cpp reports a bad file with a C-level log and a generic Python exception; the reader deserves
one line naming the file and what is wrong. We read the header ourselves and check that every
tensor lies inside the file, which catches truncation. gguf-py's reader would do, but it turns every
array (a vocabulary of 50,000 tokens and as many merges) into numpy objects, which took seconds of
CPU per model load; here arrays are skipped over and only their length is kept.
"""

from __future__ import annotations

import hashlib
import mmap
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

    try:
        header = read_header(path)
    except (ValueError, IndexError, KeyError, struct.error, OSError) as exc:
        raise ModelFileError(f"{path}: truncated or damaged GGUF header ({exc})") from exc
    tensors = header.tensors
    end = max((t.offset + t.n_bytes for t in tensors), default=0) + header.data_start
    if end > size:
        raise ModelFileError(
            f"{path}: truncated: tensor data needs {end} bytes but the file has {size}"
        )
    field = header.fields.get

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


@dataclass(frozen=True)
class TensorInfo:
    name: str
    shape: tuple[int, ...]
    offset: int  # from the start of the data section
    n_bytes: int


@dataclass(frozen=True)
class Header:
    version: int
    # Scalars and strings as values; an array as its length (its items are skipped).
    fields: dict[str, object]
    tensors: list[TensorInfo]
    data_start: int


_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q",
            11: "<q", 12: "<d"}  # fmt: skip
_STRING, _ARRAY = 8, 9


def read_header(path: Path) -> Header:
    """The metadata and tensor table of a GGUF file, without reading any tensor data."""
    from gguf.constants import GGML_QUANT_SIZES, GGMLQuantizationType

    with path.open("rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
        version, n_tensors, n_fields = struct.unpack_from("<IQQ", data, 4)
        at = 24

        def string() -> str:
            nonlocal at
            (length,) = struct.unpack_from("<Q", data, at)
            at += 8 + length
            if at > len(data):
                raise ValueError("a string runs past the end of the file")
            return data[at - length : at].decode("utf-8", errors="replace")

        def value(kind: int) -> object:
            nonlocal at
            if kind == _STRING:
                return string()
            if kind == _ARRAY:
                item_kind, count = struct.unpack_from("<IQ", data, at)
                at += 12
                if item_kind == _STRING:
                    for _ in range(count):
                        (length,) = struct.unpack_from("<Q", data, at)
                        at += 8 + length
                elif item_kind in _SCALARS:
                    at += count * struct.calcsize(_SCALARS[item_kind])
                else:
                    for _ in range(count):
                        value(item_kind)
                return count
            fmt = _SCALARS.get(kind)
            if fmt is None:
                raise ValueError(f"unknown metadata value type {kind}")
            (found,) = struct.unpack_from(fmt, data, at)
            at += struct.calcsize(fmt)
            return found

        fields: dict[str, object] = {}
        for _ in range(n_fields):
            key = string()
            (kind,) = struct.unpack_from("<I", data, at)
            at += 4
            fields[key] = value(kind)
        tensors = []
        for _ in range(n_tensors):
            name = string()
            (n_dims,) = struct.unpack_from("<I", data, at)
            shape = struct.unpack_from(f"<{n_dims}Q", data, at + 4)
            kind, offset = struct.unpack_from("<IQ", data, at + 4 + 8 * n_dims)
            at += 4 + 8 * n_dims + 12
            block, block_bytes = GGML_QUANT_SIZES[GGMLQuantizationType(kind)]
            elements = 1
            for dim in shape:
                elements *= dim
            tensors.append(TensorInfo(name, shape, offset, elements // block * block_bytes))
        alignment = int(fields.get("general.alignment", 32))
        data_start = (at + alignment - 1) // alignment * alignment
    return Header(version, fields, tensors, data_start)


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
