"""ASGI middleware in front of every route: no trailing-slash redirects, request bodies capped at 64 KiB."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..errors import Code, IntegrationError
from .handlers import error_response

MAX_BODY_BYTES = 64 * 1024


class NoTrailingSlash:
    """`/api/v1/integrations/acme/` is served as `/api/v1/integrations/acme`: the same answer, not a 307 redirect
    (which a frontend's fetch would follow to a URL it did not choose, dropping a POST's body on the way)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and len(path) > 1 and path.endswith("/"):
            scope = {**scope, "path": path.rstrip("/") or "/"}
            if scope.get("raw_path"):
                scope["raw_path"] = scope["raw_path"].rstrip(b"/") or b"/"
        await self.app(scope, receive, send)


class BodyLimit:
    """Refuse request bodies over 64 KiB (413) before they are read into memory."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope.get("headers") or []).get(b"content-length")
        too_big = IntegrationError(Code.PAYLOAD_TOO_LARGE, "The request body is over 64 KiB.")
        if length is not None and (not length.isdigit() or int(length) > MAX_BODY_BYTES):
            await error_response(too_big)(scope, receive, send)
            return
        body, more = b"", True  # buffer at most 64 KiB, then replay it: a chunked body is counted too
        while more:
            message = await receive()
            if message["type"] != "http.request":
                break
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > MAX_BODY_BYTES:
                await error_response(too_big)(scope, receive, send)
                return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)
