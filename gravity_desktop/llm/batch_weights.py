"""A teacher's weights in a number format that llama.cpp multiplies in batches quickly.

Pair synthesis writes 8 texts side by side (llm/batch.py): each decode step multiplies the weights
by 8 tokens at once, and a prompt by a few hundred. llama.cpp's CPU backend has matrix-matrix
kernels for Q8_0, Q4_0, F16 and BF16 weights (llamafile's tinyBLAS, the repacked Q4_0 layout), but
multiplies Q4_1 rows by one token at a time: on the bundled Q4_1 model a step of 8 tokens cost
as much as 8 steps of one (78 against 16 ms here). A Q8_0 copy of the same weights took 44 ms
for that step and evaluated prompts about twice as fast (docs/gravity-method.md).

The copy changes little: a Q4_1 block holds 32 values on 16 evenly spaced levels, and Q8_0
stores the same 32 values on 255 levels, so each value moves by at most 1/254 of the block's
largest one. Scoring a 40-token reply, the copy's per-token log-probabilities stayed within 0.23
of the original's, and their sums agreed to 0.01. The copy is made once with gguf-py, in the data
dir, named after the source file's sha256, and only the teacher uses it: serving writes one reply
at a time, where Q4_1's smaller weights are read faster.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path

from gravity_desktop.errors import ModelFileError
from gravity_desktop.llm.gguf_file import inspect, read_header, sha256_of

# llama.cpp's `general.file_type` values (enum llama_ftype) whose weights batch slowly.
SLOW_FILE_TYPES = {3: "Q4_1"}
MOSTLY_Q8_0 = 7
log = logging.getLogger(__name__)


def batch_weights(
    gguf: Path,
    cache: Path,
    sha256: str | None = None,
    note: Callable[[str], None] | None = None,
) -> Path:
    """`gguf` itself, or its Q8_0 copy in `cache` (written on first use, after telling `note`)
    when its weights are a slow type. A damaged copy is written again. Where the copy cannot be
    written (a full disk, a read-only data dir) the original serves, slower, and the reason is
    logged."""
    if read_header(gguf).fields.get("general.file_type") not in SLOW_FILE_TYPES:
        return gguf
    target = cache / f"{(sha256 or sha256_of(gguf))[:16]}.q8_0.gguf"
    try:
        inspect(target)  # reads the header and checks that every tensor lies inside the file
        return target
    except ModelFileError:
        pass
    partial = target.with_name(target.name + ".partial")
    if note is not None:
        note(f"rewriting {gguf.name} as Q8_0 for batched writing (once)")
    try:
        cache.mkdir(parents=True, exist_ok=True)
        write_q8_0_copy(gguf, partial)
        os.replace(partial, target)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        log.warning("%s: could not write a Q8_0 copy for batched writing (%s)", target, exc)
        return gguf
    return target


def write_q8_0_copy(source: Path, target: Path) -> None:
    """Write `source` to `target` with its slow-type tensors as Q8_0 and the rest unchanged."""
    from gguf import GGMLQuantizationType, GGUFReader, GGUFWriter
    from gguf.quants import dequantize, quantize

    slow = {GGMLQuantizationType[name] for name in SLOW_FILE_TYPES.values()}
    reader = GGUFReader(source)
    architecture = reader.get_field("general.architecture").contents()
    writer = GGUFWriter(target, architecture)
    for field in reader.fields.values():
        if field.name.startswith("GGUF.") or field.name == "general.architecture":
            continue  # the writer adds these itself
        value = MOSTLY_Q8_0 if field.name == "general.file_type" else field.contents()
        item_type = field.types[-1] if len(field.types) > 1 else None
        writer.add_key_value(field.name, value, field.types[0], item_type)
    for tensor in reader.tensors:
        if tensor.tensor_type in slow:
            shape = [int(n) for n in reversed(tensor.shape)]
            values = dequantize(tensor.data, tensor.tensor_type).reshape(shape)
            data, kind = quantize(values, GGMLQuantizationType.Q8_0), GGMLQuantizationType.Q8_0
        else:
            data, kind = tensor.data, tensor.tensor_type
        writer.add_tensor(tensor.name, data, raw_dtype=kind)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
