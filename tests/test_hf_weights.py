"""Importing the Hugging Face safetensors weights a GGUF was made from, for training directly."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from safetensors.numpy import save_file

from gravity_desktop.app_context import opened
from gravity_desktop.cli import cli
from gravity_desktop.errors import UserError
from gravity_desktop.llm.hf_weights import _gguf_shape, check_weights
from gravity_desktop.llm.registry import find_model
from gravity_desktop.training.base_model import prepare_trainable_base


def hf_folder(where: Path, gguf: Path, **overrides: object) -> Path:
    """A model folder shaped like the GGUF's model (the tensors themselves are tiny)."""
    arch, layers, hidden, vocab = _gguf_shape(gguf)
    where.mkdir(parents=True, exist_ok=True)
    config = {"model_type": arch, "num_hidden_layers": layers, "hidden_size": hidden,
              "vocab_size": vocab, **overrides}  # fmt: skip
    (where / "config.json").write_text(json.dumps(config))
    (where / "tokenizer.json").write_text("{}")
    save_file({"lm_head.weight": np.zeros((2, 2), dtype=np.float32)},
              str(where / "model.safetensors"))  # fmt: skip
    return where


def test_matching_weights_are_imported_and_used_for_training(tmp_path, bundled_model_path):
    weights = hf_folder(tmp_path / "hf", bundled_model_path)
    (weights / "training_args.bin").write_bytes(b"pickle")  # left behind, never copied
    args = ["models", "import", str(bundled_model_path), "--id", "mine", "--weights", str(weights)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    with opened() as ctx:
        model = find_model(ctx.paths, ctx.conn, "mine")
    kept = sorted(p.name for p in model.trainable_path.iterdir())
    assert kept == ["config.json", "model.safetensors", "tokenizer.json"]
    assert model.trainable_path.is_relative_to(ctx.paths.models)
    # The worker starts from these weights: no dequantized copy is made.
    cache = tmp_path / "cache"
    assert prepare_trainable_base(bundled_model_path, cache, model.trainable_path) == (
        model.trainable_path
    )
    assert not cache.exists()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"num_hidden_layers": 2}, "2 layers, the GGUF has 30"),
        ({"hidden_size": 64}, "hidden size 64"),
        ({"vocab_size": 100}, "vocabulary 100"),
    ],
)
def test_weights_of_another_model_are_refused(tmp_path, bundled_model_path, change, message):
    weights = hf_folder(tmp_path / "hf", bundled_model_path, **change)
    with pytest.raises(UserError, match="not the model in") as caught:
        check_weights(weights, bundled_model_path)
    assert message in str(caught.value)


def test_unusable_folders_name_the_problem(tmp_path, bundled_model_path):
    pickled = tmp_path / "pickled"
    pickled.mkdir()
    (pickled / "config.json").write_text("{}")
    (pickled / "pytorch_model.bin").write_bytes(b"x")
    with pytest.raises(UserError, match=r"pytorch_model\.bin are pickle files"):
        check_weights(pickled, bundled_model_path)

    broken = hf_folder(tmp_path / "broken", bundled_model_path)
    (broken / "model.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json")
    with pytest.raises(UserError, match=r"model\.safetensors: not a readable safetensors"):
        check_weights(broken, bundled_model_path)

    no_config = tmp_path / "empty"
    no_config.mkdir()
    with pytest.raises(UserError, match=r"config\.json: missing"):
        check_weights(no_config, bundled_model_path)


def test_a_refused_import_leaves_nothing_behind(tmp_path, bundled_model_path):
    weights = hf_folder(tmp_path / "hf", bundled_model_path, hidden_size=1)
    result = CliRunner().invoke(
        cli, ["models", "import", str(bundled_model_path), "--id", "x", "--weights", str(weights)]
    )
    assert result.exit_code == 2 and "hidden size 1" in result.stderr
    with opened() as ctx:
        assert not (ctx.paths.models / "x").exists()
        with pytest.raises(UserError, match="unknown model id"):
            find_model(ctx.paths, ctx.conn, "x")
