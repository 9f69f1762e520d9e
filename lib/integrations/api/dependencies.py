"""What a route depends on: the app's one service, the caller's org API key (`X-API-Key`) and the audit actor."""

from __future__ import annotations

import threading
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request, Response, Security
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from fastapi.security import APIKeyHeader
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..bootstrap import connect
from ..domain import OrgApiKey, check_slug
from ..errors import Code, IntegrationError
from ..service import IntegrationService
from .handlers import body_not_text

_building = threading.Lock()


def _built(app: FastAPI) -> IntegrationService:
    """The app's one service (and so one per-org attempt limiter), built at most once even under concurrency."""
    if app.state.svc is None:
        with _building:
            if app.state.svc is None:
                app.state.svc = connect()
    return app.state.svc


def service(request: Request) -> IntegrationService:
    return _built(request.app)


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


class AuthenticatedFirst(APIRoute):
    """A route whose caller is authenticated before a malformed body is answered. FastAPI decodes a JSON body before
    it solves the dependencies (the org key among them), so a body that is not JSON would answer 422 to anyone, with
    no key or another org's; here the key is checked first and its 401/403 wins."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def authenticated_first(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as exc:
                if any(e.get("type") == "json_invalid" for e in exc.errors()):
                    await _authenticate(request)
                raise
            except StarletteHTTPException as exc:
                if exc.status_code != 400:  # FastAPI's "error parsing the body": e.g. bytes that are not UTF-8
                    raise
                await _authenticate(request)
                return body_not_text()

        return authenticated_first


async def _authenticate(request: Request) -> None:
    """The route's org key check, for a request whose body could not be read (before its dependencies ran)."""
    org_slug = request.path_params.get("org_slug")
    if org_slug is not None:
        await run_in_threadpool(org_key, org_slug, service(request), request.headers.get(API_KEY.model.name))


Svc = Annotated[IntegrationService, Depends(service)]
Key = Annotated[OrgApiKey, Depends(org_key)]


def actor(key: OrgApiKey) -> str:
    """The audit actor of a REST call: the key's id (a fingerprint of its hash), never a character of the key."""
    return f"api:{key.key_id}"
