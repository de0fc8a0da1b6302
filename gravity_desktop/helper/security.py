"""The helper's gatekeepers, as ASGI middleware so that no route can forget them.

- `RequireToken`: every request but `GET /health` carries `Authorization: Bearer TOKEN`, compared in
  constant time (`hmac.compare_digest`) so the comparison's duration tells nothing about the token.
  It runs before anything reads the request body.
- `LimitBody`: a request whose declared length is over the limit is refused at once with 413; one
  without a declared length (chunked) is counted while it streams in, and refused as soon as it
  passes the limit, so an oversize upload is never buffered whole.
"""

from __future__ import annotations

import hmac

from fastapi import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

OPEN_PATHS = frozenset({"/health"})


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return value.decode("latin-1")
    return None


def token_matches(authorization: str | None, expected: bytes) -> bool:
    scheme, _, given = (authorization or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), expected)


class RequireToken:
    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.expected = token.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["path"] not in OPEN_PATHS
            and not token_matches(_header(scope, b"authorization"), self.expected)
        ):
            refusal = JSONResponse(
                {"detail": "a valid bearer token is required"},
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
            await refusal(scope, receive, send)
            return
        await self.app(scope, receive, send)


class LimitBody:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def _too_large(self) -> str:
        return (
            f"the request is larger than this helper accepts ({self.max_bytes / 1e6:.0f} MB;"
            " its --max-upload-mb option)"
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _header(scope, b"content-length")
        if declared is not None:
            if not declared.isdigit():
                await JSONResponse({"detail": "bad Content-Length"}, 400)(scope, receive, send)
                return
            if int(declared) > self.max_bytes:
                await JSONResponse({"detail": self._too_large()}, 413)(scope, receive, send)
                return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise HTTPException(413, self._too_large())
            return message

        await self.app(scope, counted, send)
