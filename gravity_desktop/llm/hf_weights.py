"""The Hugging Face safetensors weights a served GGUF was made from, kept for training.

A quantized GGUF can be trained only after transformers dequantizes it (training/base_model.py),
which costs time and learns against rounded weights. A reader who has the original model folder
(config.json, *.safetensors, the tokenizer) can import it beside the GGUF; training then starts
from those weights directly. The folder is checked against the GGUF so that an adapter is never
trained on one model and served on another, and only safetensors, JSON and tokenizer files are
taken (never pickled weights, which can run code when loaded).

A GPU helper trains from the same weights: it receives the safetensors, the JSON files and the chat
template (`helper_files`), known together by the sha256 of their manifest (`manifest_sha256`), and
checks them with `check_weights` as an import does.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from gravity_desktop.errors import UserError
from gravity_desktop.llm.gguf_file import read_header, sha256_of

# What transformers needs to load a model and its tokenizer; nothing that is unpickled.
KEPT_SUFFIXES = (".safetensors", ".json", ".txt", ".model", ".jinja")
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".ckpt")
TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model")
# What a GPU helper accepts: files it can check by parsing them. transformers 5 keeps the chat
# template beside tokenizer_config.json as chat_template.jinja, and training formats every pair
# with it, so it travels too (as UTF-8 text, rendered by transformers in a sandbox).
HELPER_SUFFIXES = (".safetensors", ".json", ".jinja")


@dataclass(frozen=True)
class WeightsCheck:
    architecture: str
    layers: int
    hidden_size: int
    files: tuple[Path, ...]


def _gguf_shape(gguf: Path) -> tuple[str, int, int, int]:
    """(architecture, layers, hidden size, vocabulary size) from the GGUF's metadata."""
    fields = read_header(gguf).fields
    arch = str(fields.get("general.architecture"))
    return (
        arch,
        int(fields.get(f"{arch}.block_count") or 0),
        int(fields.get(f"{arch}.embedding_length") or 0),
        int(fields.get("tokenizer.ggml.tokens") or 0),
    )


def check_weights(folder: Path, gguf: Path) -> WeightsCheck:
    """Check that `folder` holds loadable safetensors weights of the model in `gguf`."""
    from safetensors import safe_open

    if not folder.is_dir():
        raise UserError(f"{folder}: not a folder (expected a Hugging Face model folder)")
    config_file = folder / "config.json"
    try:
        config = json.loads(config_file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{config_file}: missing (a Hugging Face model folder has one)") from None
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UserError(f"{config_file}: not readable JSON ({exc})") from exc
    weights = sorted(folder.glob("*.safetensors"))
    if not weights:
        pickled = sorted(p.name for p in folder.iterdir() if p.suffix in PICKLE_SUFFIXES)
        why = f" ({', '.join(pickled)} are pickle files, which are not accepted)" if pickled else ""
        raise UserError(f"{folder}: no *.safetensors weights{why}")
    if not any((folder / name).is_file() for name in TOKENIZER_FILES):
        raise UserError(f"{folder}: no tokenizer ({' or '.join(TOKENIZER_FILES)})")
    for file in weights:
        try:
            with safe_open(str(file), framework="numpy") as handle:
                handle.keys()
        except Exception as exc:  # safetensors raises its own error types for a bad header
            raise UserError(f"{file}: not a readable safetensors file ({exc})") from exc
    arch, layers, hidden, vocab = _gguf_shape(gguf)
    mismatches = []
    if config.get("num_hidden_layers") != layers:
        mismatches.append(f"{config.get('num_hidden_layers')} layers, the GGUF has {layers}")
    if config.get("hidden_size") != hidden:
        mismatches.append(f"hidden size {config.get('hidden_size')}, the GGUF has {hidden}")
    if not isinstance(config.get("vocab_size"), int) or config["vocab_size"] < vocab:
        mismatches.append(f"vocabulary {config.get('vocab_size')}, the GGUF has {vocab} tokens")
    if mismatches:
        raise UserError(
            f"{folder}: these weights are not the model in {gguf.name}: {'; '.join(mismatches)}"
        )
    files = tuple(p for p in sorted(folder.iterdir()) if p.is_file() and p.suffix in KEPT_SUFFIXES)
    return WeightsCheck(arch, layers, hidden, files)


def install_weights(check: WeightsCheck, target: Path) -> Path:
    """Link (or copy) the checked files into `target`, whole or not at all."""
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    try:
        for file in check.files:
            try:
                os.link(file, partial / file.name)
            except OSError:
                shutil.copyfile(file, partial / file.name)
    except OSError as exc:
        shutil.rmtree(partial, ignore_errors=True)
        raise UserError(f"cannot copy the weights to {target}: {exc.strerror}") from exc
    shutil.rmtree(target, ignore_errors=True)
    partial.rename(target)
    return target


def helper_files(folder: Path) -> list[Path]:
    """The files of an imported weights folder that a GPU helper receives, in name order.

    The helper takes no tokenizer.model (a binary SentencePiece file): a tokenizer.json must be
    there, and transformers loads the tokenizer from it, as training on this computer does.
    """
    if not (folder / "tokenizer.json").is_file():
        raise UserError(
            f"{folder}: no tokenizer.json (a GPU helper takes safetensors, JSON and the chat"
            " template, not tokenizer.model); train this model on this computer"
        )
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix in HELPER_SUFFIXES)


def weights_manifest(files: list[Path]) -> dict[str, str]:
    """{file name: sha256} of the files sent to a GPU helper."""
    return {file.name: sha256_of(file) for file in files}


def manifest_sha256(manifest: dict[str, str]) -> str:
    """The identity of a set of weights files: the sha256 of their manifest as canonical JSON."""
    canonical = json.dumps(manifest, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode()).hexdigest()
