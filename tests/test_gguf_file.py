from __future__ import annotations

from pathlib import Path

import pytest

from gravity_desktop.errors import ModelFileError
from gravity_desktop.llm.gguf_file import check_adapter_matches, inspect
from tests.gguf_fixtures import write_lora_adapter, write_tiny_model


def test_bundled_model_header(bundled_model_path: Path) -> None:
    info = inspect(bundled_model_path)
    assert info.architecture == "llama"
    assert info.kind == "model"
    assert info.tensor_count > 100
    assert info.version == 3


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match=r"missing\.gguf: model file not found"):
        inspect(tmp_path / "missing.gguf")


def test_empty_file(tmp_path: Path) -> None:
    empty = tmp_path / "empty.gguf"
    empty.touch()
    with pytest.raises(ModelFileError, match="empty"):
        inspect(empty)


def test_not_gguf(tmp_path: Path) -> None:
    fake = tmp_path / "model.gguf"
    fake.write_bytes(b"PK\x03\x04 a zip file, not a model" * 10)
    with pytest.raises(ModelFileError, match="not a GGUF file"):
        inspect(fake)


@pytest.mark.parametrize("keep", [6, 1000, 0.5])
def test_truncated_file(tmp_path: Path, bundled_model_path: Path, keep: float) -> None:
    data = bundled_model_path.read_bytes()
    cut = int(len(data) * keep) if isinstance(keep, float) else keep
    truncated = tmp_path / "truncated.gguf"
    truncated.write_bytes(data[:cut])
    with pytest.raises(ModelFileError, match=r"truncated\.gguf: .*(truncated|not a GGUF)"):
        inspect(truncated)


def test_wrong_architecture(tmp_path: Path) -> None:
    clip = write_tiny_model(tmp_path / "projector.gguf", "clip")
    with pytest.raises(ModelFileError, match="architecture 'clip' is not a supported"):
        inspect(clip)


def test_adapter_given_as_model_and_model_as_adapter(tmp_path: Path, bundled_model_path) -> None:
    adapter = write_lora_adapter(tmp_path / "adapter.gguf")
    with pytest.raises(ModelFileError, match="is a LoRA adapter, not a model"):
        inspect(adapter)
    with pytest.raises(ModelFileError, match="not a LoRA adapter GGUF"):
        inspect(bundled_model_path, expect="adapter")


def test_adapter_for_another_architecture(tmp_path: Path, bundled_model_path: Path) -> None:
    adapter = inspect(write_lora_adapter(tmp_path / "qwen.gguf", arch="qwen2"), expect="adapter")
    with pytest.raises(ModelFileError, match="adapter is for architecture 'qwen2'"):
        check_adapter_matches(adapter, inspect(bundled_model_path))
