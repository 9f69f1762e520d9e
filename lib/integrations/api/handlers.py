"""Errors at the edge: a catalog error as its JSON answer and status, and the handlers that turn a framework error
(bad input, an unknown route) into one, never echoing the input."""

from __future__ import annotations

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..errors import Code, IntegrationError
from ..results import ErrorInfo
from .models import ErrorResponse


def error_response(exc: IntegrationError) -> JSONResponse:
    headers = {}
    wait = exc.details.get("retry_after")  # the provider's (or our attempt limit's) own value; never made up
    if exc.http_status == 429 and wait is not None and str(wait).strip():
        headers["Retry-After"] = str(wait)
    return JSONResponse(
        ErrorResponse(error=ErrorInfo.of(exc)).model_dump(mode="json"), status_code=exc.http_status, headers=headers
    )


async def integration_error(_: Request, exc: IntegrationError) -> JSONResponse:
    return error_response(exc)


async def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
    first = exc.errors()[0] if exc.errors() else {}
    where = ".".join(str(p) for p in first.get("loc", ()) if p != "body") or "request"
    return error_response(IntegrationError(Code.INVALID_INPUT, f"{where}: {first.get('msg', 'invalid')}."))  # no echo


async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
    code = Code.ENDPOINT_NOT_FOUND if exc.status_code in (404, 405) else Code.INVALID_INPUT
    response = error_response(IntegrationError(code, str(exc.detail)))
    response.status_code = exc.status_code
    return response
