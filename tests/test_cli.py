from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from gravity_desktop import __version__
from gravity_desktop.cli import cli
from tests.gguf_fixtures import write_lora_adapter, write_tiny_model


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def one_line_error(result, *fragments: str) -> None:
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def test_version() -> None:
    result = run("--version")
    assert result.exit_code == 0
    assert __version__ in result.output


def test_models_list_json() -> None:
    result = run("models", "list", "--json")
    assert result.exit_code == 0
    models = json.loads(result.stdout)
    assert len(models) >= 4
    for model in models:
        assert {"id", "name", "source", "sha256", "size", "installed", "default"} <= set(model)
    default = [m for m in models if m["default"]]
    assert len(default) == 1 and default[0]["installed"] is True
    assert default[0]["size"] == 98362432


def test_models_list_text() -> None:
    result = run("models", "list")
    assert result.exit_code == 0
    assert "smollm2-135m-instruct-q4_1" in result.stdout


def test_models_verify_ok_and_mismatch(tmp_path: Path) -> None:
    ok = run("models", "verify")
    assert ok.exit_code == 0, ok.output
    assert "OK" in ok.stdout
    source = write_tiny_model(tmp_path / "tiny.gguf", "llama")
    assert run("models", "import", str(source), "--id", "tiny").exit_code == 0
    assert run("models", "verify", "tiny").exit_code == 0
    from gravity_desktop.app_context import opened
    from gravity_desktop.store import installed_models

    with opened() as ctx:
        stored = installed_models.get(ctx.conn, "tiny")
    with stored.path.open("ab") as handle:
        handle.write(b"tampered")
    bad = run("models", "verify", "tiny")
    assert bad.exit_code == 1
    assert "does not match" in bad.stderr


def test_models_import_records_header_facts(tmp_path: Path) -> None:
    source = write_tiny_model(tmp_path / "My Model.gguf", "qwen2")
    result = run("models", "import", str(source))
    assert result.exit_code == 0, result.output
    assert "imported my-model" in result.stdout
    listed = json.loads(run("models", "list", "--json").stdout)
    mine = next(m for m in listed if m["id"] == "my-model")
    assert mine["installed"] is True and mine["source"].startswith("local:")


def test_models_import_bad_files(tmp_path: Path, bundled_model_path: Path) -> None:
    one_line_error(run("models", "import", str(tmp_path / "nope.gguf")), "nope.gguf", "not found")
    empty = tmp_path / "empty.gguf"
    empty.touch()
    one_line_error(run("models", "import", str(empty)), "empty.gguf", "empty")
    text = tmp_path / "notes.gguf"
    text.write_text("hello, I am not a model")
    one_line_error(run("models", "import", str(text)), "notes.gguf", "not a GGUF")
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(bundled_model_path.read_bytes()[:5_000_000])
    one_line_error(run("models", "import", str(cut)), "cut.gguf", "truncated")
    clip = write_tiny_model(tmp_path / "mmproj.gguf", "clip")
    one_line_error(run("models", "import", str(clip)), "mmproj.gguf", "architecture 'clip'")
    adapter = write_lora_adapter(tmp_path / "lora.gguf")
    one_line_error(run("models", "import", str(adapter)), "lora.gguf", "LoRA adapter")


def test_models_import_refuses_registry_ids(tmp_path: Path) -> None:
    source = write_tiny_model(tmp_path / "x.gguf", "llama")
    one_line_error(
        run("models", "import", str(source), "--id", "smollm2-135m-instruct-q4_1"), "registry"
    )


def test_generate_is_reproducible_with_a_seed() -> None:
    prompt = "Describe the book Dune in two sentences."
    first = run("generate", prompt, "--seed", "1", "--max-tokens", "48")
    second = run("generate", prompt, "--seed", "1", "--max-tokens", "48")
    assert first.exit_code == 0, first.output
    assert first.stdout.strip() and first.stdout == second.stdout


def test_generate_stream_matches_plain() -> None:
    prompt = "Name one famous novel."
    plain = run("generate", prompt, "--seed", "4", "--max-tokens", "24")
    streamed = run("generate", prompt, "--seed", "4", "--max-tokens", "24", "--stream")
    assert streamed.exit_code == 0
    assert streamed.stdout.strip() == plain.stdout.strip()


def test_generate_with_adapter_and_bad_inputs(tmp_path: Path) -> None:
    adapter = write_lora_adapter(tmp_path / "noop.gguf")
    ok = run("generate", "Hi", "--adapter", str(adapter), "--max-tokens", "8", "--seed", "1")
    assert ok.exit_code == 0, ok.output
    junk = tmp_path / "junk.gguf"
    junk.write_bytes(b"GGUF\x03\x00\x00\x00" + b"\xff" * 40)
    one_line_error(run("generate", "Hi", "--adapter", str(junk)), "junk.gguf")
    one_line_error(run("generate", "Hi", "--model", "no-such-model"), "unknown model id")
    missing = run("generate", "Hi", "--model", "qwen2.5-3b-instruct-q4_k_m")
    one_line_error(missing, "not installed", "gravity models download")
