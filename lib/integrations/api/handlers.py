"""Errors at the edge: a catalog error as its JSON answer and status, and the handlers that turn a framework error
(bad input, an unknown route) into one, never echoing the input."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from ..errors import Code, IntegrationError
from ..results import ErrorInfo
from .models import ErrorResponse


def error_response(exc: IntegrationError) -> JSONResponse:
    """The catalog's answer (its hint: the error's own fix when it has one, else the catalog's first)."""
    headers = {}
    wait = exc.details.get("retry_after")  # the provider's (or our attempt limit's) own value; never made up
    if exc.http_status == 429 and wait is not None and str(wait).strip():
        headers["Retry-After"] = str(wait)
    return JSONResponse(
        ErrorResponse(error=ErrorInfo.of(exc)).model_dump(mode="json"), status_code=exc.http_status, headers=headers
    )


async def integration_error(_: Request, exc: IntegrationError) -> JSONResponse:
    return error_response(exc)


METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
NOT_AN_OBJECT = {"model_attributes_type", "model_type", "dict_type"}
SEND_JSON = (
    'Send the body as one JSON object, e.g. {"credential": "sk-...", "credential_name": "Production"}, with the '
    "header Content-Type: application/json (strings in double quotes, no trailing commas)."
)


def _not_json(exc: RequestValidationError, error: dict[str, Any]) -> JSONResponse:
    """Where the body stops being JSON (line and column, as an editor shows them) and the parser's reason; never the
    body itself."""
    doc = exc.body if isinstance(exc.body, str) else ""
    loc = error.get("loc", ())
    pos = loc[1] if len(loc) > 1 and isinstance(loc[1], int) else 0
    line = doc.count("\n", 0, pos) + 1
    column = pos - (doc.rfind("\n", 0, pos) + 1) + 1
    reason = str((error.get("ctx") or {}).get("error", "")).strip()
    said = f": {reason[0].lower()}{reason[1:]}" if reason else ""
    message = f"The request body is not valid JSON (line {line}, column {column}{said})."
    return error_response(IntegrationError(Code.INVALID_INPUT, message, fix=SEND_JSON))


def body_not_text() -> JSONResponse:
    """A body FastAPI could not decode at all (bytes that are not UTF-8): as a JSON error, with the same fix."""
    message = "The request body is not valid JSON (it is not UTF-8 text)."
    return error_response(IntegrationError(Code.INVALID_INPUT, message, fix=SEND_JSON))


async def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
    first = exc.errors()[0] if exc.errors() else {}
    if first.get("type") == "json_invalid":
        return _not_json(exc, first)
    if tuple(first.get("loc", ())) == ("body",) and first.get("type") in NOT_AN_OBJECT:
        return error_response(
            IntegrationError(Code.INVALID_INPUT, "The request body must be a JSON object.", fix=SEND_JSON)
        )
    if first.get("type") == "value_error":  # our own validators' words, which name their field
        said = str(first.get("msg", "")).removeprefix("Value error, ").rstrip(".")
        return error_response(IntegrationError(Code.INVALID_INPUT, f"{said}."))
    where = ".".join(str(p) for p in first.get("loc", ()) if p != "body") or "request"
    return error_response(IntegrationError(Code.INVALID_INPUT, f"{where}: {first.get('msg', 'invalid')}."))  # no echo


async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    if exc.status_code == 405:
        return _method_not_allowed(request)
    code = Code.ENDPOINT_NOT_FOUND if exc.status_code == 404 else Code.INVALID_INPUT
    response = error_response(IntegrationError(code, str(exc.detail)))
    response.status_code = exc.status_code
    return response


def _method_not_allowed(request: Request) -> JSONResponse:
    """405 with the methods of every route at this path (Starlette's own Allow names only the first route's: GET
    and DELETE share /{org_slug}/{provider}), in the catalog's shape. Each method is asked of the app's routes, as
    routing would: a method is allowed where a route matches the path fully with it."""
    routes = request.app.router.routes
    allowed = [m for m in METHODS if any(r.matches({**request.scope, "method": m})[0] == Match.FULL for r in routes)]
    methods = ", ".join(allowed)
    message = f"{request.method} is not accepted here; this endpoint takes {methods or 'no other method'}."
    response = error_response(IntegrationError(Code.METHOD_NOT_ALLOWED, message))
    if methods:
        response.headers["Allow"] = methods
    return response
