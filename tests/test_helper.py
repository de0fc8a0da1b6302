"""The opt-in GPU helper and its client, over loopback on the CPU (the same code path as CUDA).

A real helper runs in its own process (`tests/helper_server.py`); its workers train for real, so
the tests that train (a full job over TLS, a cancelled job) share one helper and its prepared
trainable base. Torch only ever runs in the helper's worker processes, never in pytest's.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import ssl
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import httpx
import keyring
import numpy as np
import pytest
from click.testing import CliRunner
from gguf import GGUFReader

from gravity_desktop.app_context import opened
from gravity_desktop.cli import cli
from gravity_desktop.config import Settings, paths
from gravity_desktop.errors import UserError
from gravity_desktop.helper.uploads import Rejected, parse_config
from gravity_desktop.helper.weights import WeightsCache, parse_weights
from gravity_desktop.llm.engine import CancelToken
from gravity_desktop.llm.gguf_file import inspect
from gravity_desktop.llm.hf_weights import helper_files, manifest_sha256
from gravity_desktop.store import adapters as adapter_store
from gravity_desktop.store import transaction
from gravity_desktop.training import helper_client
from gravity_desktop.training.config import TrainConfig
from gravity_desktop.training.dpo_worker import count_processes
from gravity_desktop.training.helper_access import (
    NO_KEYRING,
    TOKEN_ENV,
    load_token,
    normalize_url,
    store_token,
)
from gravity_desktop.training.job import run_training
from tests.fake_helper import FakeHelper, write_adapter
from tests.helper_server import TOKEN, MemoryKeyring, RunningHelper, free_port, start_helper
from tests.reader_data import onboard_reader_with_pairs
from tests.test_hf_weights import hf_folder

AUTH = {"Authorization": f"Bearer {TOKEN}"}
PAIR = {
    "prompt": [{"role": "user", "content": "Describe Dune."}],
    "chosen": [{"role": "assistant", "content": "A desert planet and its spice."}],
    "rejected": [{"role": "assistant", "content": "A book."}],
}
FALLBACK = "training on this computer is still available"


@pytest.fixture(scope="module")
def small_helper(tmp_path_factory) -> RunningHelper:
    """A plain-HTTP loopback helper that accepts at most 1 MB per request (no training)."""
    helper = start_helper(tmp_path_factory.mktemp("small-helper"), "--max-upload-mb", "1")
    yield helper
    helper.stop()


@pytest.fixture(scope="module")
def tls_helper(tmp_path_factory) -> RunningHelper:
    """A TLS helper that trains; its trainable base is prepared once for the module."""
    helper = start_helper(tmp_path_factory.mktemp("tls-helper"), "--device", "auto", tls=True)
    yield helper
    helper.stop()


@pytest.fixture(scope="module")
def prepared_base(tmp_path_factory, bundled_model_path: Path) -> Path:
    """The bundled model as a Hugging Face folder (float32 safetensors), made once by the worker's
    own code in a child process (torch never runs in pytest's process)."""
    cache = tmp_path_factory.mktemp("prepared-base")
    prepare = ("import sys; from pathlib import Path; from gravity_desktop.training.base_model"
               " import prepare_trainable_base as prepare;"
               " print(prepare(Path(sys.argv[1]), Path(sys.argv[2])))")  # fmt: skip
    made = subprocess.run([sys.executable, "-c", prepare, str(bundled_model_path), str(cache)],
                          capture_output=True, text=True, timeout=900, check=True)  # fmt: skip
    return Path(made.stdout.splitlines()[-1])


@pytest.fixture(scope="module")
def two_gpu_helper(tmp_path_factory, prepared_base: Path) -> RunningHelper:
    """A helper that trains each job in two processes, on the CPU (gloo) in place of two GPUs; its
    trainable base is the prepared one, so that the test times training alone."""
    folder = tmp_path_factory.mktemp("two-gpu-helper")
    seeded = folder / "data" / "trainable-base" / prepared_base.name
    shutil.copytree(prepared_base, seeded, copy_function=os.link)
    helper = start_helper(folder, "--device", "cpu", "--gpus", "2")
    yield helper
    helper.stop()


@pytest.fixture
def reader_with_pairs(gravity_home: Path, seeded_teacher_copy: Path):
    """With the Q8_0 copy that the held-out check scores with (made once per session)."""
    return onboard_reader_with_pairs()


@pytest.fixture
def previous_adapter(reader_with_pairs, tmp_path: Path) -> str:
    """An adapter that is active before the test trains on a helper."""
    with opened() as ctx:
        path = ctx.paths.adapters / "previous.gguf"
        write_adapter(path, (8, 576), (576, 8))
        with transaction(ctx.conn):
            adapter_store.add(ctx.conn, adapter_store.Adapter(
                id="previous", path=path, sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
                base_model="smollm2-135m-instruct-q4_1", base_sha256="0" * 64, method="gravity",
                pairs=6, heldout_pairs=2, heldout_accuracy=0.5, heldout_margin=0.0,
                config_json="{}", source="local", note="", created_at="",
            ))  # fmt: skip
            adapter_store.activate(ctx.conn, "previous")
    return "previous"


def assert_only_previous_adapter_is_kept() -> None:
    with opened() as ctx:
        assert adapter_store.active(ctx.conn).id == "previous"
        assert [a.id for a in adapter_store.all_adapters(ctx.conn)] == ["previous"]
        assert sorted(p.name for p in ctx.paths.adapters.iterdir()) == ["previous.gguf"]


def post_job(helper: RunningHelper, train: bytes, config: str = "{}", **extra) -> httpx.Response:
    files = {"train": ("train.jsonl", train), **extra.pop("files", {})}
    data = {"config": config, "base_sha256": "0" * 64, **extra}
    return httpx.post(f"{helper.url}/jobs", headers=AUTH, data=data, files=files, timeout=30)


def weights_form(
    files: dict[str, bytes], listed: dict[str, bytes] | None = None
) -> tuple[dict[str, str], list[tuple[str, tuple[str, bytes]]]]:
    """Form fields and file parts for weights `files`, with a manifest of `listed` (default: the
    same files) and its digest, as the client builds them."""
    manifest = {name: hashlib.sha256(data).hexdigest() for name, data in (listed or files).items()}
    fields = {"weights_sha256": manifest_sha256(manifest), "weights_manifest": json.dumps(manifest)}
    return fields, [("weights", (name, data)) for name, data in files.items()]


# -- the service on its own ---------------------------------------------------------------------


def test_health_needs_no_token_and_tells_only_the_version(small_helper: RunningHelper) -> None:
    answer = httpx.get(f"{small_helper.url}/health")
    assert answer.status_code == 200 and answer.json() == {"version": "0.1.0"}


@pytest.mark.parametrize("header", [None, "Bearer wrong-token-of-some-length", f"Basic {TOKEN}"])
def test_a_missing_or_wrong_token_is_401_everywhere_else(
    small_helper: RunningHelper, header: str | None
) -> None:
    headers = {"Authorization": header} if header else {}
    job = "0" * 32
    for method, path in [("GET", "/info"), ("POST", "/jobs"), ("GET", f"/jobs/{job}"),
                         ("GET", f"/jobs/{job}/adapter"), ("DELETE", f"/jobs/{job}")]:  # fmt: skip
        answer = httpx.request(method, f"{small_helper.url}{path}", headers=headers)
        assert answer.status_code == 401, (method, path)
        assert answer.headers["WWW-Authenticate"] == "Bearer"
    assert httpx.get(f"{small_helper.url}/info", headers=AUTH).status_code == 200


def test_an_oversize_upload_is_413_declared_or_streamed(small_helper: RunningHelper) -> None:
    big = b"x" * 3_000_000
    declared = post_job(small_helper, big)
    assert declared.status_code == 413 and "--max-upload-mb" in declared.json()["detail"]

    request = httpx.Request(
        "POST", f"{small_helper.url}/jobs", headers=AUTH, files={"train": ("t.jsonl", big)}
    )
    body = request.read()

    def chunks():  # no Content-Length: the helper must count while it reads
        for start in range(0, len(body), 65536):
            yield body[start : start + 65536]

    headers = {**AUTH, "Content-Type": request.headers["Content-Type"]}
    streamed = httpx.post(f"{small_helper.url}/jobs", headers=headers, content=chunks())
    assert streamed.status_code == 413
    assert small_helper.jobs == []
    assert list((small_helper.data_dir / "incoming").iterdir()) == []


@pytest.mark.parametrize(
    ("train", "config", "named"),
    [
        (b"this is not json\n", "{}", "line 1: not JSON"),
        (json.dumps(PAIR).encode() + b"\n{\"prompt\": []}\n", "{}", "line 2: expected the fields"),
        (json.dumps({**PAIR, "chosen": [{"role": "user", "content": "x"}]}).encode(), "{}",
         "line 1: 'chosen' has a message with role 'user'"),
        (json.dumps({**PAIR, "rejected": [{"role": "assistant", "content": " "}]}).encode(), "{}",
         "line 1: 'rejected' has a message without text"),
        (b"\xff\xfe not utf-8", "{}", "not UTF-8"),
        (b"\n\n", "{}", "holds no pairs"),
        (json.dumps(PAIR).encode(), '{"epochs": 0}', "config.epochs must be between 1 and 50"),
        (json.dumps(PAIR).encode(), '{"pickle": 1}', "unknown settings: pickle"),
        (json.dumps(PAIR).encode(), '{"precision": "fp8"}',
         "config.precision must be one of auto, fp32, bf16"),
        (json.dumps(PAIR).encode(), '{"gradient_checkpointing": "yes"}',
         "config.gradient_checkpointing must be true or false"),
        (json.dumps(PAIR).encode(), '{"lora_layers": 0}',
         "config.lora_layers must be null or a number >= 1"),
        (json.dumps(PAIR).encode(), "[1, 2", "config is not JSON"),
    ],
)  # fmt: skip
def test_malformed_pairs_or_settings_are_refused_by_name(
    small_helper: RunningHelper, train: bytes, config: str, named: str
) -> None:
    answer = post_job(small_helper, train, config)
    assert answer.status_code == 400
    assert named in answer.json()["detail"]
    assert small_helper.jobs == []


def test_every_training_setting_reaches_the_helper_as_sent() -> None:
    sent = TrainConfig(lora_layers=None, max_pairs=40, gradient_checkpointing=False, rank=4)
    assert parse_config(json.dumps(sent.as_json())) == sent
    assert parse_config('{"lora_layers": 6}').lora_layers == 6


def test_only_a_gguf_base_is_accepted_and_its_sha256_must_match(
    small_helper: RunningHelper,
) -> None:
    pairs = json.dumps(PAIR).encode()
    missing = post_job(small_helper, pairs)
    assert missing.status_code == 409 and missing.json()["code"] == "base_missing"
    pickled = post_job(small_helper, pairs, files={"base": ("base.gguf", b"\x80\x04\x95 pickle")})
    assert pickled.status_code == 400 and "not GGUF" in pickled.json()["detail"]
    wrong_sum = post_job(small_helper, pairs, files={"base": ("base.gguf", b"GGUF\x03\0\0\0rest")})
    assert wrong_sum.status_code == 400 and "sha256" in wrong_sum.json()["detail"]
    assert list((small_helper.data_dir / "bases").iterdir()) == []
    assert small_helper.jobs == []
    unknown = httpx.get(f"{small_helper.url}/jobs/..%2F..%2Ftoken", headers=AUTH)
    assert unknown.status_code == 404


CONFIG = b'{"model_type": "llama"}'
SAFETENSORS = b"\x02\x00\x00\x00\x00\x00\x00\x00{}"


@pytest.mark.parametrize(
    ("files", "listed", "named"),
    [
        ({"config.json": CONFIG, "pytorch_model.bin": b"\x80\x04\x95"}, None,
         "pytorch_model.bin: pickle files are refused"),
        ({"config.json": CONFIG, "model.py": b"import os"}, None, "model.py: not accepted"),
        ({"config.json": CONFIG}, {"config.json": CONFIG, "model.safetensors": SAFETENSORS},
         "the weights upload lacks model.safetensors, listed in weights_manifest"),
        ({"config.json": CONFIG, "tokenizer.json": b"{}"}, {"config.json": CONFIG},
         "the weights upload has tokenizer.json, which weights_manifest does not list"),
        ({"../config.json": CONFIG}, None, "'../config.json' is not a plain file name"),
        ({".config.json": CONFIG}, None, "'.config.json' is not a plain file name"),
    ],
)  # fmt: skip
def test_weights_are_only_safetensors_and_json_and_exactly_the_listed_files(
    small_helper: RunningHelper, files: dict, listed: dict | None, named: str
) -> None:
    fields, parts = weights_form(files, listed)
    train = ("train", ("train.jsonl", json.dumps(PAIR).encode()))
    answer = httpx.post(f"{small_helper.url}/jobs", headers=AUTH, files=[train, *parts],
                        data={"config": "{}", "base_sha256": "0" * 64, **fields})  # fmt: skip
    assert answer.status_code == 400
    assert named in answer.json()["detail"]
    assert list((small_helper.data_dir / "weights").iterdir()) == []
    assert small_helper.jobs == []


def test_weights_files_come_with_a_manifest_that_matches_their_sha256(
    small_helper: RunningHelper,
) -> None:
    fields, parts = weights_form({"config.json": CONFIG})
    train = ("train", ("train.jsonl", json.dumps(PAIR).encode()))
    for data, says in [
        ({**fields, "weights_sha256": "1" * 64}, "weights_manifest does not match weights_sha256"),
        ({"weights_sha256": fields["weights_sha256"]}, "come with weights_manifest"),
        ({"weights_manifest": fields["weights_manifest"]}, "come with weights_sha256"),
        ({**fields, "weights_manifest": '{"config.json": "abc"}'}, "is not 64 hex digits"),
    ]:
        answer = httpx.post(f"{small_helper.url}/jobs", headers=AUTH, files=[train, *parts],
                            data={"config": "{}", "base_sha256": "0" * 64, **data})  # fmt: skip
        assert answer.status_code == 400 and says in answer.json()["detail"], data


def test_weights_are_kept_by_their_digest_once_every_file_is_checked(
    tmp_path: Path, bundled_model_path: Path
) -> None:
    folder = hf_folder(tmp_path / "hf", bundled_model_path)
    files = {p.name: p.read_bytes() for p in folder.iterdir()}
    cache = WeightsCache(tmp_path / "weights")

    def upload(changed: dict[str, bytes], listed: dict[str, bytes] | None = None):
        fields, parts = weights_form(changed, listed)
        return parse_weights(
            fields["weights_sha256"], fields["weights_manifest"],
            [(name, io.BytesIO(data)) for _, (name, data) in parts],
        )  # fmt: skip

    for changed, listed, says in [
        ({**files, "tokenizer.json": b"{"}, None, "tokenizer.json: not JSON"),
        ({**files, "chat_template.jinja": b"\xff"}, None, "chat_template.jinja: not UTF-8"),
        ({**files, "config.json": b"{}"}, files, "config.json: its sha256 differs"),
        ({k: v for k, v in files.items() if k != "tokenizer.json"}, None, "no tokenizer"),
        ({**files, "config.json": json.dumps({**json.loads(files["config.json"]),
                                              "hidden_size": 64}).encode()}, None,
         "the weights cannot be used: these weights are not the model in"),
    ]:  # fmt: skip
        with pytest.raises(Rejected, match=re.escape(says)):
            cache.add(upload(changed, listed), bundled_model_path)
    assert list(cache.folder.iterdir()) == []  # nothing half-received is kept

    sent = upload(files)
    kept = cache.add(sent, bundled_model_path)
    assert kept == cache.folder / sent.sha256
    assert sorted(p.name for p in kept.iterdir()) == sorted(files)
    assert cache.find(sent.sha256, bundled_model_path) == kept
    assert cache.find("0" * 64, bundled_model_path) is None


def test_weights_without_tokenizer_json_or_changed_since_import_are_not_sent(
    reader_with_pairs, small_helper: RunningHelper, bundled_model_path: Path, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    from gravity_desktop.llm.model_files import import_model

    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    weights = hf_folder(tmp_path / "hf", bundled_model_path)
    with opened() as ctx:
        model = import_model(ctx.paths, ctx.conn, bundled_model_path, "mine", weights)
        (model.trainable_path / "tokenizer.json").rename(model.trainable_path / "tokenizer.model")
        with pytest.raises(UserError, match=r"no tokenizer\.json") as sentencepiece:
            run_training(ctx, TrainConfig(epochs=1), model_id="mine", helper=small_helper.url)
        (model.trainable_path / "model.safetensors").unlink()
        with pytest.raises(UserError, match=r"no \*\.safetensors weights") as emptied:
            run_training(ctx, TrainConfig(epochs=1), model_id="mine", helper=small_helper.url)
    for failure in (sentencepiece, emptied):
        message = str(failure.value)
        assert "cannot go to the GPU helper" in message and "nothing was sent" in message
    assert small_helper.jobs == [] and list((small_helper.data_dir / "bases").iterdir()) == []


def test_the_worker_counts_one_process_per_gpu() -> None:
    def torch_with(gpus: int) -> SimpleNamespace:
        return SimpleNamespace(cuda=SimpleNamespace(device_count=lambda: gpus))

    assert count_processes(torch_with(4), "auto", "cuda", "all") == 4
    assert count_processes(torch_with(4), "cuda", "cuda", 2) == 2
    assert count_processes(torch_with(0), "auto", "cpu", "all") == 1  # no GPU: one process
    assert count_processes(torch_with(0), "auto", "cpu", 2) == 1  # as before `--gpus` existed
    assert count_processes(torch_with(0), "cpu", "cpu", 2) == 2  # CPU processes for GPUs
    with pytest.raises(RuntimeError, match="3 GPUs were asked for but torch sees 2"):
        count_processes(torch_with(2), "cuda", "cuda", 3)
    with pytest.raises(ValueError, match="gpus must be 'all' or a whole number"):
        count_processes(torch_with(2), "cuda", "cuda", 0)


def test_serve_refuses_plain_http_off_loopback(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text(TOKEN)
    base = [sys.executable, "-m", "gravity_desktop.helper.cli", "serve", "--token-file",
            str(token), "--data-dir", str(tmp_path / "data")]  # fmt: skip
    open_network = subprocess.run([*base, "--host", "0.0.0.0"], capture_output=True, text=True)
    assert open_network.returncode == 2 and "without TLS" in open_network.stderr
    half = subprocess.run([*base, "--tls-cert", str(token)], capture_output=True, text=True)
    assert half.returncode == 2 and "both --tls-cert and --tls-key" in half.stderr
    token.write_text("short")
    weak = subprocess.run(base, capture_output=True, text=True)
    assert weak.returncode == 2 and "at least 16 characters" in weak.stderr
    no_gpus = subprocess.run([*base, "--gpus", "0"], capture_output=True, text=True)
    assert no_gpus.returncode == 2 and "neither 'all' nor a whole number" in no_gpus.stderr


# -- the client's rules -------------------------------------------------------------------------


def test_helper_urls_need_https_off_this_computer() -> None:
    assert normalize_url("HTTPS://GPU.example:8765/") == "https://gpu.example:8765"
    assert normalize_url("http://127.0.0.1:8765") == "http://127.0.0.1:8765"
    assert normalize_url("http://[::1]:9") == "http://[::1]:9"
    with pytest.raises(UserError, match="plain http would send the token"):
        normalize_url("http://gpu.example:8765")
    with pytest.raises(UserError, match="not a helper URL"):
        normalize_url("ftp://gpu.example")


def test_the_token_lives_in_the_keyring_or_an_explicit_env_var(
    memory_keyring: MemoryKeyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    with pytest.raises(UserError, match=r"gravity helper login https://gpu\.example"):
        load_token("https://gpu.example/")
    store_token("https://gpu.example/", "secret-token-123")
    assert load_token("https://GPU.example") == "secret-token-123"
    monkeypatch.setenv(TOKEN_ENV, "from-the-environment")
    assert load_token("https://gpu.example") == "from-the-environment"


def test_without_a_keyring_the_message_says_what_to_do(monkeypatch: pytest.MonkeyPatch) -> None:
    from keyring.backends import fail

    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    try:
        result = CliRunner().invoke(cli, ["helper", "test", "https://gpu.example"])
    finally:
        keyring.set_keyring(previous)
    assert result.exit_code == 2
    assert NO_KEYRING in result.stderr and "GRAVITY_HELPER_TOKEN" in result.stderr


def test_login_test_and_logout_keep_the_token_out_of_the_settings(
    small_helper: RunningHelper, memory_keyring: MemoryKeyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    runner = CliRunner()
    wrong = small_helper.data_dir.parent / "wrong-token"
    wrong.write_text("not-the-right-token-at-all")
    refused = runner.invoke(cli, ["helper", "login", small_helper.url, "--token-file", str(wrong)])
    assert refused.exit_code == 2 and "refused the token" in refused.stderr
    assert memory_keyring.passwords == {}

    login = runner.invoke(
        cli, ["helper", "login", small_helper.url, "--token-file", str(small_helper.token_file)]
    )
    assert login.exit_code == 0, login.output
    assert "device auto" in login.stdout and "held-out pairs" in login.stdout
    assert memory_keyring.passwords == {("gravity-desktop-helper", small_helper.url): TOKEN}
    settings = paths().settings_file.read_text()
    assert TOKEN not in settings
    assert Settings.load().extra["helper"] == {
        "url": small_helper.url, "enabled": True, "ca_cert": None
    }  # fmt: skip

    tested = runner.invoke(cli, ["helper", "test", small_helper.url])
    assert tested.exit_code == 0 and tested.stdout.startswith("OK: ")

    logout = runner.invoke(cli, ["helper", "logout", small_helper.url])
    assert logout.exit_code == 0 and "token removed" in logout.stdout
    assert memory_keyring.passwords == {} and "helper" not in Settings.load().extra


def test_an_unreachable_helper_says_local_training_is_still_there(
    reader_with_pairs, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    url = f"http://127.0.0.1:{free_port()}"
    result = CliRunner().invoke(cli, ["train", "--helper", url, "--epochs", "1"])
    assert result.exit_code == 2
    assert f"cannot reach the GPU helper at {url}" in result.stderr
    assert FALLBACK in result.stderr and "nothing was activated" in result.stderr


# -- a helper that misbehaves -------------------------------------------------------------------


def corrupt_adapters(folder: Path) -> dict[str, tuple[bytes, str | None, str]]:
    """name -> (bytes sent, sha256 announced or None for the true one, what the error says)."""
    fits, misfit = folder / "fits.gguf", folder / "misfit.gguf"
    write_adapter(fits, (8, 576), (576, 8))
    write_adapter(misfit, (8, 100), (576, 8))
    good = fits.read_bytes()
    return {
        "not gguf": (b"<html>502 Bad Gateway</html>", None, "not a GGUF file"),
        "wrong sha256": (good, hashlib.sha256(b"other").hexdigest(), "does not match its sha256"),
        "truncated": (good[: len(good) - 1000], None, "truncated"),
        "does not fit": (misfit.read_bytes(), None, "llama.cpp rejected the adapter"),
    }


@pytest.mark.parametrize("kind", ["not gguf", "wrong sha256", "truncated", "does not fit"])
def test_a_corrupt_adapter_from_the_helper_is_rejected_and_nothing_activated(
    previous_adapter: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    data, announced, says = corrupt_adapters(tmp_path)[kind]
    fake = FakeHelper(data, announced)
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    events: list[dict] = []
    try:
        with opened() as ctx, pytest.raises(UserError, match="nothing was activated") as failure:
            run_training(ctx, TrainConfig(epochs=1), on_event=events.append, helper=fake.url)
    finally:
        fake.close()
    assert says in str(failure.value)
    assert any(e["event"] == "progress" for e in events)  # the helper's events were relayed
    assert fake.deleted == [f"/jobs/{'f' * 32}"]  # and its job deleted
    assert_only_previous_adapter_is_kept()
    sent = fake.uploads[0]
    assert b'"chosen"' in sent and b'"metadata"' not in sent  # pairs, without their provenance


def test_a_helper_killed_mid_job_is_a_clear_error_and_the_old_adapter_stays(
    previous_adapter: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    helper = start_helper(tmp_path / "doomed-helper", "--device", "cpu")
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    monkeypatch.setattr(helper_client, "RECONNECT_SECONDS", 1.5)
    seen: list[str] = []

    def pull_the_plug(event: dict) -> None:
        seen.append(str(event["event"]))
        if event["event"] == "accepted":
            helper.kill()

    try:
        with opened() as ctx, pytest.raises(UserError) as failure:
            run_training(ctx, TrainConfig(epochs=1), on_event=pull_the_plug, helper=helper.url)
    finally:
        helper.kill()
    message = str(failure.value)
    assert f"lost the connection to the GPU helper at {helper.url}" in message or (
        f"cannot reach the GPU helper at {helper.url}" in message
    )
    assert "while training" in message and FALLBACK in message
    assert seen[:2] == ["uploading", "accepted"]
    assert_only_previous_adapter_is_kept()


# -- real jobs ----------------------------------------------------------------------------------


@pytest.mark.timeout(1200)  # the first job also prepares the trainable base
def test_a_full_job_over_tls_trains_there_and_activates_here(
    reader_with_pairs, tls_helper: RunningHelper, memory_keyring: MemoryKeyring,
    monkeypatch: pytest.MonkeyPatch, bundled_model_path: Path,
) -> None:  # fmt: skip
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    runner = CliRunner()
    untrusted = runner.invoke(cli, ["helper", "login", tls_helper.url, "--token-file",
                                    str(tls_helper.token_file)])  # fmt: skip
    assert untrusted.exit_code == 2 and "--ca-cert" in untrusted.stderr
    login_with_ca = ["helper", "login", tls_helper.url, "--token-file",
                     str(tls_helper.token_file), "--ca-cert", str(tls_helper.ca_cert)]  # fmt: skip
    login = runner.invoke(cli, login_with_ca)
    assert login.exit_code == 0, login.output

    trained = runner.invoke(cli, ["train", "--helper", tls_helper.url, "--epochs", "1",
                                  "--max-pairs", "8", "--json-progress"])  # fmt: skip
    assert trained.exit_code == 0, trained.output
    events = [json.loads(line) for line in trained.stdout.splitlines() if line.startswith("{")]
    kinds = [e["event"] for e in events]
    for kind in ("uploading", "accepted", "start", "base_ready", "progress", "done", "exporting",
                 "exported", "downloading", "evaluating"):  # fmt: skip
        assert kind in kinds, kinds
    assert next(e for e in events if e["event"] == "start")["device"] == "cpu"
    progress = [e for e in events if e["event"] == "progress"][-1]
    assert {"step", "loss", "reward_accuracy", "margin", "eta_seconds"} <= set(progress)
    pairs = next(e for e in events if e["event"] == "accepted")["pairs"]
    heldout = next(e for e in events if e["event"] == "evaluating")["heldout_pairs"]
    assert pairs + heldout == 8 and heldout >= 2
    assert f"trained on the GPU helper on {pairs} pairs" in trained.stdout

    with opened() as ctx:
        active = adapter_store.active(ctx.conn)
    assert active is not None and active.source == "helper" and active.pairs == pairs
    exported = next(e for e in events if e["event"] == "exported")
    assert hashlib.sha256(active.path.read_bytes()).hexdigest() == exported["sha256"]
    assert_is_a_llama_cpp_adapter_of(active.path, bundled_model_path)
    # The helper kept nothing of the job, only the (public) base model by its sha256.
    assert tls_helper.jobs == []
    assert [p.suffix for p in (tls_helper.data_dir / "bases").iterdir()] == [".gguf"]
    assert TOKEN not in paths().settings_file.read_text()


@pytest.mark.timeout(1200)
def test_cancelling_a_job_stops_the_worker_and_deletes_its_data(
    reader_with_pairs, tls_helper: RunningHelper, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    ca_cert = tmp_path / "ca.pem"
    shutil.copyfile(tls_helper.ca_cert, ca_cert)
    with opened() as ctx:
        ctx.settings.extra["helper"] = {"url": tls_helper.url, "enabled": True,
                                        "ca_cert": str(ca_cert)}  # fmt: skip
        cancel = CancelToken()
        jobs: list[str] = []

        def stop_at_first_step(event: dict) -> None:
            if event["event"] == "accepted":
                jobs.append(str(event["job"]))
            if event["event"] == "progress":
                cancel.cancel()

        config = TrainConfig(epochs=2, max_pairs=8, save_every=1)
        result = run_training(ctx, config, stop_at_first_step, cancel, helper=tls_helper.url)
        assert result.cancelled and result.adapter_id is None
        assert adapter_store.active(ctx.conn) is None
        assert not list(ctx.paths.adapters.iterdir())
    assert tls_helper.jobs == []
    with httpx.Client(verify=ssl.create_default_context(cafile=ca_cert), headers=AUTH) as client:
        state = client.get(f"{tls_helper.url}/jobs/{jobs[0]}").json()
    assert state["state"] == "cancelled" and state["data_deleted"]


def adapter_tensors(path: Path) -> dict[str, object]:
    return {t.name: t.data for t in GGUFReader(path).tensors}


def assert_is_a_llama_cpp_adapter_of(path: Path, base_gguf: Path) -> None:
    """The format of local training: a LoRA adapter GGUF named after the base's tensors, on the
    top TrainConfig.lora_layers of the bundled model's 30 layers."""
    assert inspect(path, expect="adapter").architecture == "llama"
    base_tensors = {t.name for t in GGUFReader(base_gguf).tensors}
    names = set(adapter_tensors(path))
    first = 30 - TrainConfig.lora_layers
    assert f"blk.{first}.attn_q.weight.lora_a" in names and "blk.29.ffn_down.weight.lora_b" in names
    assert not any(name.startswith(f"blk.{first - 1}.") for name in names)
    assert {name.rsplit(".", 1)[0] for name in names} <= base_tensors


@pytest.mark.timeout(1200)
def test_a_job_on_two_gpus_trains_data_parallel_and_reports_once(
    reader_with_pairs, two_gpu_helper: RunningHelper, monkeypatch: pytest.MonkeyPatch,
    bundled_model_path: Path,
) -> None:  # fmt: skip
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    info = httpx.get(f"{two_gpu_helper.url}/info", headers=AUTH).json()
    assert info["gpus"] == 2
    events: list[dict] = []
    with opened() as ctx:  # 4 training pairs, 2 per process: one data-parallel step
        config = TrainConfig(epochs=1, max_pairs=6)
        result = run_training(ctx, config, events.append, helper=two_gpu_helper.url)
        active = adapter_store.active(ctx.conn)
        kept = sorted(p.name for p in ctx.paths.adapters.iterdir())
    kinds = [e["event"] for e in events]
    for once in ("accepted", "start", "base_ready", "done", "exporting", "exported", "evaluating"):
        assert kinds.count(once) == 1, kinds  # one stream: rank 1 printed nothing
    start = next(e for e in events if e["event"] == "start")
    assert start["device"] == "cpu" and start["processes"] == 2
    steps = [e["step"] for e in events if e["event"] == "progress"]
    assert steps == [1] and events[kinds.index("progress")]["max_steps"] == 1
    assert kinds.index("base_ready") < kinds.index("progress") < kinds.index("done")
    # The same checks as a one-process adapter, and one adapter: activated, nothing else kept.
    assert result.activated and active.id == result.adapter_id and active.source == "helper"
    assert kept == [active.path.name]
    exported = next(e for e in events if e["event"] == "exported")
    assert hashlib.sha256(active.path.read_bytes()).hexdigest() == exported["sha256"]
    assert_is_a_llama_cpp_adapter_of(active.path, bundled_model_path)
    assert two_gpu_helper.jobs == []


@pytest.mark.timeout(1200)
def test_a_model_imported_with_weights_trains_from_them_there_as_here(
    reader_with_pairs, tls_helper: RunningHelper, prepared_base: Path, bundled_model_path: Path,
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:  # fmt: skip
    from gravity_desktop.llm.model_files import import_model

    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    ca_cert = tmp_path / "ca.pem"
    shutil.copyfile(tls_helper.ca_cert, ca_cert)
    config = TrainConfig(epochs=1, max_pairs=6)
    with opened() as ctx:
        ctx.settings.extra["helper"] = {"url": tls_helper.url, "enabled": True,
                                        "ca_cert": str(ca_cert)}  # fmt: skip
        mine = import_model(ctx.paths, ctx.conn, bundled_model_path, "mine", prepared_base)
        here = run_training(ctx, config, model_id="mine")
        events: list[dict] = []
        there = run_training(ctx, config, events.append, model_id="mine", helper=tls_helper.url)
        adapters = {a.id: a for a in adapter_store.all_adapters(ctx.conn)}
    kinds = [e["event"] for e in events]
    assert kinds.index("uploading_weights") < kinds.index("accepted")
    sent = next(e for e in events if e["event"] == "uploading_weights")
    assert sent["files"] == len(helper_files(mine.trainable_path))
    ready = next(e for e in events if e["event"] == "base_ready")
    assert Path(ready["path"]).parent == tls_helper.data_dir / "weights"  # not a dequantized GGUF
    local, remote = adapters[here.adapter_id], adapters[there.adapter_id]
    assert remote.source == "helper" and local.source == "local"
    assert_is_a_llama_cpp_adapter_of(remote.path, bundled_model_path)
    local_tensors, remote_tensors = adapter_tensors(local.path), adapter_tensors(remote.path)
    assert local_tensors.keys() == remote_tensors.keys()
    for name, values in local_tensors.items():
        assert np.allclose(values, remote_tensors[name], atol=1e-6), name
    assert there.heldout.accuracy == here.heldout.accuracy
    assert tls_helper.jobs == []
