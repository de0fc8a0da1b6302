"""The helper's HTTP API (FastAPI). Every route but /health needs the bearer token.

    GET    /health              {"version"}; no token, nothing else revealed
    GET    /info                version, device, limits, whether a job is running
    POST   /jobs                multipart: config (JSON), base_sha256, train (JSONL), base (GGUF,
                                only when the helper answered 409 base_missing); for a model
                                imported with Hugging Face weights also weights_sha256, and
                                weights_manifest with the files as `weights` only when the helper
                                answered 409 weights_missing; 201 + job state
    GET    /jobs/{id}?since=N   state, progress events from N on, adapter sha256 once done
    GET    /jobs/{id}/adapter   the adapter GGUF, its sha256 in X-Adapter-SHA256
    DELETE /jobs/{id}           stop the job and delete its data now

Errors are JSON {"detail": message, "code": short name} with a 4xx status.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from gravity_desktop import __version__
from gravity_desktop.helper.bases import BaseCache
from gravity_desktop.helper.jobs import JobManager
from gravity_desktop.helper.options import HelperOptions
from gravity_desktop.helper.security import LimitBody, RequireToken
from gravity_desktop.helper.uploads import Rejected, check_pairs, parse_config, parse_sha256
from gravity_desktop.helper.weights import MAX_FILES, WeightsCache, parse_weights

FORM_FIELDS = frozenset(
    {"config", "base_sha256", "train", "base", "weights_sha256", "weights_manifest", "weights"}
)
SHA256_HEADER = "X-Adapter-SHA256"


def create_app(options: HelperOptions) -> FastAPI:
    manager = JobManager(options)
    bases = BaseCache(options.bases_dir)
    weights_cache = WeightsCache(options.weights_dir)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await run_in_threadpool(manager.shutdown)

    app = FastAPI(
        title="gravity-gpu-helper",
        version=__version__,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        lifespan=lifespan,
    )
    app.add_middleware(LimitBody, max_bytes=options.max_upload_bytes)
    app.add_middleware(RequireToken, token=options.token)  # added last: runs first

    @app.exception_handler(Rejected)
    async def rejected(request: Request, exc: Rejected) -> JSONResponse:
        return JSONResponse({"detail": exc.message, "code": exc.code}, status_code=exc.status)

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"version": __version__}

    @app.get("/info")
    def info() -> dict[str, object]:
        return {
            "version": __version__,
            "device": options.device,
            "gpus": options.gpus,
            "busy": manager.busy(),
            "retention_seconds": options.retention_seconds,
            "max_upload_bytes": options.max_upload_bytes,
            "max_pairs_bytes": options.max_pairs_bytes,
        }

    @app.post("/jobs", status_code=201)
    async def create_job(request: Request) -> dict[str, object]:
        if manager.busy():  # before reading a possibly large upload
            raise Rejected(409, "the helper is training another job; try again later", "busy")
        form = await request.form(max_files=2 + MAX_FILES, max_fields=4)
        try:
            unexpected = sorted(set(form) - FORM_FIELDS)
            if unexpected:
                raise Rejected(400, f"unexpected form fields: {', '.join(unexpected)}")
            config = parse_config(form.get("config"))
            sha256 = parse_sha256(form.get("base_sha256"))
            train = form.get("train")
            if not isinstance(train, UploadFile):
                raise Rejected(400, "the pairs file (form field 'train', JSONL) is missing")
            if train.size is not None and train.size > options.max_pairs_bytes:
                limit = options.max_pairs_bytes / 1e6
                raise Rejected(413, f"the pairs file is larger than {limit:.0f} MB")
            data = await train.read()
            pairs = check_pairs(data)
            upload = form.get("base")
            if upload is not None and not isinstance(upload, UploadFile):
                raise Rejected(400, "the base model (form field 'base') must be a GGUF file")
            parts = form.getlist("weights")
            if not all(isinstance(part, UploadFile) for part in parts):
                raise Rejected(400, "the weights (form field 'weights') must be files")
            weights = parse_weights(
                form.get("weights_sha256"),
                form.get("weights_manifest"),
                [(part.filename, part.file) for part in parts],
            )

            def start() -> dict[str, object]:
                base: Path | None = bases.find(sha256)
                if upload is not None:
                    base = bases.add(upload.file, sha256)
                if base is None:
                    raise Rejected(
                        409, f"the helper does not have base model {sha256[:12]}", "base_missing"
                    )
                folder: Path | None = None
                if weights is not None:
                    if weights.manifest is not None:
                        folder = weights_cache.add(weights, base)
                    else:
                        folder = weights_cache.find(weights.sha256, base)
                    if folder is None:
                        message = f"the helper does not have weights {weights.sha256[:12]}"
                        raise Rejected(409, message, "weights_missing")
                return manager.create(config, data, pairs, base, folder).snapshot()

            return await run_in_threadpool(start)
        finally:
            await form.close()

    @app.get("/jobs/{job_id}")
    def job_state(job_id: str, since: int = 0) -> dict[str, object]:
        return manager.get(job_id).snapshot(since)

    @app.get("/jobs/{job_id}/adapter")
    def job_adapter(job_id: str) -> FileResponse:
        job = manager.get(job_id)
        if job.state != "done":
            reason = f": {job.error}" if job.error else ""
            message = f"job {job_id} is {job.state}; it has no adapter{reason}"
            raise Rejected(409, message, "no_adapter")
        if job.data_deleted or not job.adapter.is_file():
            raise Rejected(410, f"the adapter of job {job_id} has been deleted", "deleted")
        return FileResponse(
            job.adapter,
            media_type="application/octet-stream",
            headers={SHA256_HEADER: job.adapter_sha256 or ""},
            background=BackgroundTask(manager.delivered, job),
        )

    @app.delete("/jobs/{job_id}")
    async def delete_job(job_id: str) -> dict[str, object]:
        job = manager.get(job_id)
        await run_in_threadpool(manager.cancel, job)
        return job.snapshot()

    return app
