"""Talking to a GPU helper (httpx, no Qt): test the connection, send a job, fetch the adapter.

Progress reaches the caller as the same event dictionaries local training produces (the helper
relays its worker's lines), plus `uploading` and `downloading` from this side. Every failure is a
`HelperError` naming the helper and what went wrong. The adapter is written to the path the caller
gives and is kept only when its sha256 matches the one the helper announced and its GGUF header
is that of a LoRA adapter; checking that it loads and scores well is the caller's next step.
"""

from __future__ import annotations

import hashlib
import json
import re
import ssl
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import httpx

from gravity_desktop.errors import ModelFileError, UserError
from gravity_desktop.llm.gguf_file import inspect
from gravity_desktop.llm.hf_weights import manifest_sha256, weights_manifest
from gravity_desktop.training.helper_access import normalize_url

Event = dict[str, object]
SHA256 = re.compile(r"^[0-9a-f]{64}$")
SHA256_HEADER = "X-Adapter-SHA256"
POLL_SECONDS = 1.0
RECONNECT_SECONDS = 30.0  # how long polling retries a lost connection before giving up
MAX_ADAPTER_BYTES = 4 << 30  # a LoRA adapter is megabytes; a larger answer is refused


class HelperError(UserError):
    """The helper cannot be reached, refused the request, or failed the job."""


class _Unreachable(HelperError):
    """A transport failure (no answer, dropped connection): worth retrying while polling."""


@dataclass(frozen=True)
class ConnectionReport:
    url: str
    version: str
    device: str
    busy: bool
    max_upload_bytes: int

    def describe(self) -> str:
        state = "busy with a job" if self.busy else "idle"
        return (
            f"{self.url}: gravity-gpu-helper {self.version}, device {self.device}, {state};"
            f" accepts uploads up to {self.max_upload_bytes / 1e6:.0f} MB"
        )


class HelperClient:
    def __init__(
        self,
        url: str,
        token: str,
        ca_cert: Path | None = None,
        *,
        poll_seconds: float = POLL_SECONDS,
        reconnect_seconds: float | None = None,
    ) -> None:
        self.url = normalize_url(url)
        self.poll_seconds = poll_seconds
        self.reconnect_seconds = (
            RECONNECT_SECONDS if reconnect_seconds is None else reconnect_seconds
        )
        verify: bool | ssl.SSLContext = True
        if ca_cert is not None:
            try:
                verify = ssl.create_default_context(cafile=str(ca_cert))
            except (OSError, ssl.SSLError) as exc:
                raise HelperError(f"{ca_cert}: not a usable CA certificate ({exc})") from exc
        self._http = httpx.Client(
            base_url=self.url,
            headers={"Authorization": f"Bearer {token}"},
            verify=verify,
            timeout=httpx.Timeout(60.0, connect=10.0),
            trust_env=False,
        )

    def __enter__(self) -> HelperClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # -- requests ---------------------------------------------------------------------------

    def _transport_error(self, exc: httpx.TransportError) -> _Unreachable:
        text = str(exc) or type(exc).__name__
        if "CERTIFICATE_VERIFY_FAILED" in text:
            return _Unreachable(
                f"the GPU helper at {self.url} has a certificate this computer does not trust"
                " (for a self-signed helper, give its certificate with --ca-cert)"
            )
        if isinstance(exc, httpx.TimeoutException):
            return _Unreachable(f"the GPU helper at {self.url} did not answer in time")
        if isinstance(exc, httpx.ConnectError):
            return _Unreachable(f"cannot reach the GPU helper at {self.url} ({text})")
        return _Unreachable(f"lost the connection to the GPU helper at {self.url} ({text})")

    def _refusal(self, response: httpx.Response) -> HelperError:
        try:
            detail = response.json().get("detail")
        except (ValueError, AttributeError):
            detail = None
        detail = detail if isinstance(detail, str) else response.reason_phrase
        if response.status_code == 401:
            return HelperError(
                f"the GPU helper at {self.url} refused the token (run `gravity helper login"
                f" {self.url}` with the token from the helper's token file)"
            )
        return HelperError(
            f"the GPU helper at {self.url} answered {response.status_code}: {detail}"
        )

    def _request(self, method: str, path: str, **kwargs: object) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise self._transport_error(exc) from exc
        if response.status_code == 401:
            raise self._refusal(response)
        return response

    def _json(self, response: httpx.Response) -> dict:
        if response.is_error:
            raise self._refusal(response)
        try:
            data = response.json()
        except ValueError as exc:
            raise HelperError(f"{self.url} did not answer as a GPU helper (not JSON)") from exc
        if not isinstance(data, dict):
            raise HelperError(f"{self.url} did not answer as a GPU helper")
        return data

    # -- the API ----------------------------------------------------------------------------

    def health(self) -> str:
        """The helper's version (the one request that needs no token)."""
        version = self._json(self._request("GET", "/health")).get("version")
        if not isinstance(version, str):
            raise HelperError(f"{self.url} did not answer as a GPU helper (no version)")
        return version

    def info(self) -> ConnectionReport:
        data = self._json(self._request("GET", "/info"))
        return ConnectionReport(
            url=self.url,
            version=str(data.get("version", "?")),
            device=str(data.get("device", "?")),
            busy=data.get("busy") is True,
            max_upload_bytes=int(data.get("max_upload_bytes") or 0),
        )

    def submit(
        self,
        base_gguf: Path,
        base_sha256: str,
        config: dict[str, object],
        records: list[dict[str, object]],
        on_event: Callable[[Event], None] | None = None,
        weights: list[Path] | None = None,
    ) -> str:
        """Create the job; the base GGUF is uploaded only if the helper does not have it yet.

        `weights` are the files of the Hugging Face weights the model was imported with
        (`hf_weights.helper_files`), to train from instead of the GGUF; they, too, are sent only
        when the helper answers that it does not have them, each upload in its own request.
        """
        train = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode()
        fields = {"config": json.dumps(config), "base_sha256": base_sha256}
        manifest: dict[str, str] | None = None
        if weights:
            manifest = weights_manifest(weights)
            fields["weights_sha256"] = manifest_sha256(manifest)
        response = self._post_job(fields, train)
        sent: set[str] = set()
        # The helper names one missing part at a time (the base first): each is sent once.
        while response.status_code == 409 and (code := _code(response)) not in sent:
            if code == "base_missing":
                what, uploads = "base model", [("base", "base.gguf", base_gguf)]
                event: Event = {"event": "uploading"}
            elif code == "weights_missing" and weights:
                fields["weights_manifest"] = json.dumps(manifest)
                what = "model's Hugging Face weights"
                uploads = [("weights", file.name, file) for file in weights]
                event = {"event": "uploading_weights", "files": len(weights)}
            else:
                break
            sent.add(code)
            size = sum(path.stat().st_size for _, _, path in uploads)
            limit = self.info().max_upload_bytes
            if limit and size + len(train) > limit:
                raise HelperError(
                    f"the {what} ({size / 1e6:.0f} MB) is larger than the GPU helper at"
                    f" {self.url} accepts ({limit / 1e6:.0f} MB, its --max-upload-mb)"
                )
            if on_event is not None:
                on_event({**event, "bytes": size})
            response = self._post_job(fields, train, uploads)
        job_id = self._json(response).get("id")
        if not isinstance(job_id, str):
            raise HelperError(f"{self.url} accepted the job but gave no job id")
        return job_id

    def _post_job(
        self, fields: dict[str, str], train: bytes, uploads: Sequence[tuple[str, str, Path]] = ()
    ) -> httpx.Response:
        """POST /jobs with the pairs and `uploads` (form field, file name, path), streamed."""
        files: list[tuple[str, tuple[str, object, str]]] = [
            ("train", ("train.jsonl", train, "application/x-ndjson"))
        ]
        if not uploads:
            return self._request("POST", "/jobs", data=fields, files=files)
        with ExitStack() as opened:
            for field, name, path in uploads:
                handle = opened.enter_context(path.open("rb"))
                files.append((field, (name, handle, "application/octet-stream")))
            return self._request(
                "POST", "/jobs", data=fields, files=files, timeout=httpx.Timeout(600.0)
            )

    def follow(
        self,
        job_id: str,
        on_event: Callable[[Event], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> str | None:
        """Relay the job's events until it ends: the adapter's sha256, or None once stopped."""
        since = 0
        lost_at: float | None = None
        while True:
            if should_stop is not None and should_stop():
                self.delete(job_id)
                return None
            try:
                state = self._json(self._request("GET", f"/jobs/{job_id}", params={"since": since}))
            except _Unreachable as exc:
                lost_at = lost_at or time.monotonic()
                if time.monotonic() - lost_at > self.reconnect_seconds:
                    raise HelperError(f"{exc}, while training") from exc
                time.sleep(self.poll_seconds)
                continue
            lost_at = None
            events = state.get("events") or []
            for event in events:
                if on_event is not None and isinstance(event, dict):
                    on_event(event)
            since = int(state.get("next") or since + len(events))
            if state.get("state") == "done":
                adapter = state.get("adapter") or {}
                sha256 = adapter.get("sha256") if isinstance(adapter, dict) else None
                if not isinstance(sha256, str) or not SHA256.match(sha256):
                    raise HelperError(f"the GPU helper at {self.url} gave no adapter sha256")
                return sha256
            if state.get("state") in ("failed", "cancelled"):
                reason = state.get("error") or "no reason given"
                raise HelperError(
                    f"training on the GPU helper at {self.url} {state['state']}: {reason}"
                )
            time.sleep(self.poll_seconds)

    def download_adapter(self, job_id: str, expected_sha256: str, dest: Path) -> None:
        """Write the job's adapter to `dest`, verified (sha256, GGUF adapter header) or removed."""
        try:
            self._download(job_id, expected_sha256, dest)
            inspect(dest, expect="adapter")
        except ModelFileError as exc:
            dest.unlink(missing_ok=True)
            reason = str(exc).removeprefix(f"{dest}: ")
            raise HelperError(
                f"the adapter from the GPU helper at {self.url} is not usable: {reason}"
            ) from exc
        except BaseException:
            dest.unlink(missing_ok=True)
            raise

    def _download(self, job_id: str, expected_sha256: str, dest: Path) -> None:
        digest = hashlib.sha256()
        size = 0
        try:
            with self._http.stream("GET", f"/jobs/{job_id}/adapter") as response:
                if response.is_error:
                    response.read()
                    raise self._refusal(response)
                announced = response.headers.get(SHA256_HEADER, "")
                if announced != expected_sha256:
                    raise HelperError(
                        f"the GPU helper at {self.url} announced two different sha256 sums"
                        " for the adapter"
                    )
                with dest.open("wb") as out:
                    for block in response.iter_bytes(1 << 20):
                        size += len(block)
                        if size > MAX_ADAPTER_BYTES:
                            raise HelperError(
                                f"the GPU helper at {self.url} sent an adapter over"
                                f" {MAX_ADAPTER_BYTES >> 30} GiB; refused"
                            )
                        digest.update(block)
                        out.write(block)
        except httpx.TransportError as exc:
            raise self._transport_error(exc) from exc
        if digest.hexdigest() != expected_sha256:
            raise HelperError(
                f"the adapter from the GPU helper at {self.url} does not match its sha256"
                " (damaged in transfer, or the helper is faulty)"
            )

    def delete(self, job_id: str) -> None:
        """Stop the job and have its data deleted; best effort (the helper may be gone)."""
        with suppress(HelperError):
            self._request("DELETE", f"/jobs/{job_id}", timeout=httpx.Timeout(60.0, connect=5.0))


def _code(response: httpx.Response) -> str | None:
    try:
        code = response.json().get("code")
    except (ValueError, AttributeError):
        return None
    return code if isinstance(code, str) else None


def check_connection(url: str, token: str, ca_cert: Path | None = None) -> ConnectionReport:
    """What "Test connection" shows: reachable, a helper, and the token accepted."""
    with HelperClient(url, token, ca_cert) as client:
        client.health()
        return client.info()


@contextmanager
def connected(url: str, ca_cert: Path | None = None) -> Iterator[HelperClient]:
    """A client for `url` with the token from the keyring (or GRAVITY_HELPER_TOKEN)."""
    from gravity_desktop.training.helper_access import load_token

    client = HelperClient(url, load_token(url), ca_cert)
    try:
        yield client
    finally:
        client.close()
