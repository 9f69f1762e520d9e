"""The REST endpoints the org-facing frontend calls with an org API key (`X-API-Key`)."""

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request, Response, Security
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyHeader
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .api_models import (
    DeleteResponse,
    ErrorResponse,
    Health,
    KeyTestRequest,
    KeyTestResponse,
    OrgIntegrationsResponse,
    Ready,
    SetupRequest,
    SetupResponse,
    ValidateResponse,
    errors,
)
from .api_models import IntegrationView as IntegrationResponse
from .bootstrap import connect
from .domain import OrgApiKey, check_slug, retry_after
from .errors import Code, IntegrationError
from .results import ErrorInfo, Keyless, KeylessInfo
from .service import IntegrationService

MAX_BODY_BYTES = 64 * 1024
PREFIX = "/api/v1/integrations"
log = logging.getLogger("integrations")
_building = threading.Lock()


def _error(exc: IntegrationError) -> JSONResponse:
    headers = {}
    wait = exc.details.get("retry_after")  # the provider's (or our attempt limit's) own value; never made up
    if exc.http_status == 429 and wait is not None and str(wait).strip():
        headers["Retry-After"] = str(wait)
    return JSONResponse(
        ErrorResponse(error=ErrorInfo.of(exc)).model_dump(mode="json"), status_code=exc.http_status, headers=headers
    )


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
        too_big = IntegrationError("PAYLOAD_TOO_LARGE", "The request body is over 64 KiB.")
        if length is not None and (not length.isdigit() or int(length) > MAX_BODY_BYTES):
            await _error(too_big)(scope, receive, send)
            return
        body, more = b"", True  # buffer at most 64 KiB, then replay it: a chunked body is counted too
        while more:
            message = await receive()
            if message["type"] != "http.request":
                break
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > MAX_BODY_BYTES:
                await _error(too_big)(scope, receive, send)
                return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


def _built(app: FastAPI) -> IntegrationService:
    """The app's one service (and so one per-org attempt limiter), built at most once even under concurrency."""
    if app.state.svc is None:
        with _building:
            if app.state.svc is None:
                app.state.svc = connect()
    return app.state.svc


def service(request: Request) -> IntegrationService:
    return _built(request.app)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Build the service before the first request; repair status drift left by writers that stopped mid-way."""
    svc = _built(app)
    try:
        fixed = svc.reconcile(actor="api:startup").fixed
        if fixed:
            log.warning("reconciled %d status-cache row(s) at start-up", fixed)
    except IntegrationError as exc:
        log.warning("reconcile at start-up failed: %s (see /readyz)", exc.code)
    yield


API_KEY = APIKeyHeader(name="X-API-Key", auto_error=False, description="The organization's API key.")


def org_key(
    org_slug: str,
    svc: Annotated[IntegrationService, Depends(service)],
    x_api_key: Annotated[str | None, Security(API_KEY)] = None,
) -> OrgApiKey:
    if not x_api_key:
        raise IntegrationError(Code.ORG_API_KEY_MISSING)
    check_slug(org_slug)
    return svc.authenticate(org_slug, x_api_key)


Svc = Annotated[IntegrationService, Depends(service)]
Key = Annotated[OrgApiKey, Depends(org_key)]


def actor(key: OrgApiKey) -> str:
    """The audit actor of a REST call: the key's id (a fingerprint of its hash), never a character of the key."""
    return f"api:{key.key_id}"


def create_app(svc: IntegrationService | None = None) -> FastAPI:
    """The FastAPI app; `svc` defaults to connect() (settings from env / .env)."""
    app = FastAPI(
        title="Integrations API",
        version="1",
        description="Set up, read, re-validate and delete an "
        "organization's provider credentials. Authenticate with the org's API key in `X-API-Key`.",
        lifespan=lifespan,
    )
    app.state.svc = svc
    app.add_middleware(BodyLimit)
    app.add_middleware(NoTrailingSlash)

    @app.exception_handler(IntegrationError)
    async def integration_error(_: Request, exc: IntegrationError) -> JSONResponse:
        return _error(exc)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body") or "request"
        return _error(IntegrationError("INVALID_INPUT", f"{where}: {first.get('msg', 'invalid')}."))  # no input echo

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = "ENDPOINT_NOT_FOUND" if exc.status_code in (404, 405) else "INVALID_INPUT"
        response = _error(IntegrationError(code, str(exc.detail)))
        response.status_code = exc.status_code
        return response

    @app.post(
        f"{PREFIX}/{{org_slug}}/{{provider}}/setup",
        response_model=SetupResponse,
        response_model_exclude_unset=True,
        responses=errors(400, 401, 403, 404, 413, 422, 429, 500, 503),
        summary="Validate, encrypt and store a credential (rotates an existing one)",
    )
    def setup(org_slug: str, provider: str, body: SetupRequest, svc: Svc, key: Key) -> dict[str, Any]:
        keyless = None
        if body.keyless is not None:
            keyless = Keyless(body.keyless.export_table, body.keyless.customer_service_account)
        result = svc.setup(
            org_slug,
            provider,
            body.credential,
            credential_name=body.credential_name,
            metadata=body.metadata,
            skip_validation=body.skip_validation,
            actor=actor(key),
            keyless=keyless,
            need=body.need,
        )
        return result.model_dump(mode="json", exclude_none=True)

    @app.post(
        f"{PREFIX}/{{org_slug}}/{{provider}}/test",
        response_model=KeyTestResponse,
        response_model_exclude_unset=True,
        responses=errors(400, 401, 403, 404, 413, 422, 429, 500, 503),
        summary="Check a credential with the provider without saving it (counts against the attempt limit)",
    )
    def test_credential(
        org_slug: str, provider: str, body: KeyTestRequest, svc: Svc, key: Key, response: Response
    ) -> dict[str, Any]:
        result = svc.test_credential(org_slug, provider, body.credential, body.metadata, actor(key), body.need)
        wait = retry_after(result.rate_limit)
        if wait:
            response.headers["Retry-After"] = wait
        return result.model_dump(mode="json")

    @app.get(
        f"{PREFIX}/{{org_slug}}/gcp/keyless",
        response_model=KeylessInfo,
        response_model_exclude_unset=True,
        responses=errors(401, 403, 404, 422, 500, 503),
        summary="Keyless GCP: the org's principal to grant, our customer ID, the gcloud/bq commands and Terraform",
    )
    def keyless_info(org_slug: str, svc: Svc, key: Key) -> dict[str, Any]:
        return svc.keyless_info(org_slug).model_dump(mode="json")

    @app.get(
        f"{PREFIX}/{{org_slug}}",
        response_model=OrgIntegrationsResponse,
        response_model_exclude_unset=True,
        responses=errors(401, 403, 404, 422, 500, 503),
        summary="Every provider's integration for the org (never a secret)",
    )
    def get_all(org_slug: str, svc: Svc, key: Key) -> dict[str, Any]:
        return svc.get_all(org_slug).model_dump(mode="json")

    @app.get(
        f"{PREFIX}/{{org_slug}}/{{provider}}",
        response_model=IntegrationResponse,
        response_model_exclude_unset=True,
        responses=errors(401, 403, 404, 422, 500, 503),
        summary="One provider's integration",
    )
    def get_one(org_slug: str, provider: str, svc: Svc, key: Key) -> dict[str, Any]:
        return svc.get_one(org_slug, provider).model_dump(mode="json")

    @app.post(
        f"{PREFIX}/{{org_slug}}/{{provider}}/validate",
        response_model=ValidateResponse,
        response_model_exclude_unset=True,
        responses=errors(401, 403, 404, 409, 413, 422, 429, 500, 503),
        summary="Re-check the stored credential with the provider",
    )
    def validate(org_slug: str, provider: str, svc: Svc, key: Key, response: Response) -> dict[str, Any]:
        result = svc.validate(org_slug, provider, actor=actor(key))
        wait = retry_after(result.rate_limit)  # a provider's 429: the check was inconclusive, retry when it said
        if wait:
            response.headers["Retry-After"] = wait
        return result.model_dump(mode="json")

    @app.delete(
        f"{PREFIX}/{{org_slug}}/{{provider}}",
        response_model=DeleteResponse,
        response_model_exclude_unset=True,
        responses=errors(401, 403, 404, 422, 500, 503),
        summary="Deactivate the credential and erase its ciphertext",
    )
    def delete(org_slug: str, provider: str, svc: Svc, key: Key) -> dict[str, Any]:
        return svc.delete(org_slug, provider, actor=actor(key)).model_dump(mode="json")

    @app.get("/healthz", response_model=Health, summary="The process is up")
    async def healthz() -> dict[str, str]:
        # on the event loop, not in the worker threadpool: requests whose checks are in flight (each format check
        # bounded under 1 s of CPU, issue 28) can hold every worker thread without holding the liveness probe
        return {"status": "ok"}

    @app.get(
        "/readyz",
        response_model=Ready,
        responses={503: {"model": ErrorResponse}},
        summary="The store and the status cache are reachable, the keyring holds the recorded key versions; "
        "`drift` counts status-cache rows that disagree with the store. A ready answer is reused for up to 30 s "
        "(`checked_s_ago`): a probe every few seconds costs the store a ping and an overview twice a minute at most",
    )
    def readyz(svc: Svc) -> dict[str, Any]:
        return svc.readiness(probe=True)

    return app


__all__ = ["create_app"]
