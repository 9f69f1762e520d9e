"""Sandbox provider responses: the real SDKs talk to an in-process transport with deterministic rules.

A well-formed credential is valid unless its text (for GCP: client_email) contains a marker:
revoked -> 401, noperms -> 403, ratelimited -> 429, unreachable -> connection error, outage -> 5xx.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

import httpx2
import urllib3

MARKERS = ("revoked", "noperms", "ratelimited", "unreachable", "outage")


def marker_of(text: str) -> str | None:
    return next((m for m in MARKERS if m in text), None)


class SandboxRules:
    """Shared by the transports: outage providers and simulated latency."""

    def __init__(self, outage: set[str], latency_ms: int) -> None:
        self.outage, self.latency_ms = outage, latency_ms

    def marker(self, provider: str, text: str) -> str | None:
        return "unreachable" if provider in self.outage else marker_of(text)

    def wait(self) -> None:
        if self.latency_ms:
            time.sleep(self.latency_ms / 1000)


_OPENAI_ERRORS = {
    "revoked": (
        401,
        {
            "message": "Incorrect API key provided: {masked}. You can find your API key at "
            "https://platform.openai.com/account/api-keys.",
            "type": "invalid_request_error",
            "param": None,
            "code": "invalid_api_key",
        },
    ),
    "noperms": (
        403,
        {
            "message": "You have insufficient permissions for this operation. Missing scopes: api.model.read.",
            "type": "invalid_request_error",
            "param": None,
            "code": None,
        },
    ),
    "ratelimited": (
        429,
        {
            "message": "Rate limit reached for requests.",
            "type": "requests",
            "param": None,
            "code": "rate_limit_exceeded",
        },
    ),
    "outage": (
        503,
        {"message": "The server is overloaded or not ready yet.", "type": "server_error", "param": None, "code": None},
    ),
}
_ANTHROPIC_ERRORS = {
    "revoked": (401, "authentication_error", "invalid x-api-key"),
    "noperms": (403, "permission_error", "Your API key does not have permission to use the specified resource."),
    "ratelimited": (429, "rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit."),
    "outage": (529, "overloaded_error", "Overloaded"),
}


def _bearer(request: httpx2.Request) -> str:
    return request.headers.get("authorization", "").removeprefix("Bearer ").strip()


def openai_handler(rules: SandboxRules) -> Callable[[httpx2.Request], httpx2.Response]:
    def handle(request: httpx2.Request) -> httpx2.Response:
        rules.wait()
        key = _bearer(request)
        marker = rules.marker("OPENAI", key)
        if marker == "unreachable":
            raise httpx2.ConnectError("sandbox: connection refused", request=request)
        headers = {
            "x-ratelimit-limit-requests": "500",
            "x-ratelimit-remaining-requests": "499",
            "x-ratelimit-reset-requests": "120ms",
            "x-request-id": "req_sandbox",
        }
        if marker in _OPENAI_ERRORS:
            status, error = _OPENAI_ERRORS[marker]
            error = dict(error, message=str(error["message"]).format(masked=f"{key[:8]}****{key[-4:]}"))
            if marker == "ratelimited":
                headers.update(
                    {"retry-after": "2", "x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "6m0s"}
                )
            return httpx2.Response(status, json={"error": error}, headers=headers)
        return httpx2.Response(
            200,
            headers=headers,
            json={
                "object": "list",
                "data": [
                    {"id": "gpt-4o-mini", "object": "model", "created": 1721172741, "owned_by": "system"},
                    {"id": "gpt-4o", "object": "model", "created": 1715367049, "owned_by": "system"},
                ],
            },
        )

    return handle


def anthropic_handler(rules: SandboxRules) -> Callable[[httpx2.Request], httpx2.Response]:
    def handle(request: httpx2.Request) -> httpx2.Response:
        rules.wait()
        marker = rules.marker("ANTHROPIC", _bearer(request) or request.headers.get("x-api-key", ""))
        if marker == "unreachable":
            raise httpx2.ConnectError("sandbox: connection refused", request=request)
        headers = {
            "request-id": "req_sandbox",
            "anthropic-ratelimit-requests-limit": "50",
            "anthropic-ratelimit-requests-remaining": "49",
            "anthropic-ratelimit-requests-reset": "2026-01-01T00:00:00Z",
        }
        if marker in _ANTHROPIC_ERRORS:
            status, kind, message = _ANTHROPIC_ERRORS[marker]
            if marker == "ratelimited":
                headers.update({"retry-after": "2", "anthropic-ratelimit-requests-remaining": "0"})
            return httpx2.Response(
                status, headers=headers, json={"type": "error", "error": {"type": kind, "message": message}}
            )
        model = {
            "type": "model",
            "id": "claude-sonnet-4-5",
            "display_name": "Claude Sonnet 4.5",
            "created_at": "2025-09-29T00:00:00Z",
        }
        return httpx2.Response(
            200,
            headers=headers,
            json={"data": [model], "has_more": False, "first_id": model["id"], "last_id": model["id"]},
        )

    return handle


def sdk_client_factory(handler: Callable[[httpx2.Request], httpx2.Response]) -> Callable[[], httpx2.Client]:
    return lambda: httpx2.Client(transport=httpx2.MockTransport(handler))


def _jwt_issuer(assertion: str) -> str:
    payload = assertion.split(".")[1]
    return str(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))).get("iss", ""))


class GoogleSandboxPool(urllib3.PoolManager):
    """A urllib3 pool playing Google's token endpoint and BigQuery for sandboxed service accounts: google-auth
    signs and sends a real JWT grant, and the validator's BigQuery requests go through it unchanged."""

    def __init__(self, rules: SandboxRules) -> None:
        super().__init__()
        self.rules = rules

    def urlopen(  # type: ignore[override]  # the signature of urllib3.PoolManager.urlopen
        self, method: str, url: str, redirect: bool = True, **kw: Any
    ) -> urllib3.BaseHTTPResponse:
        body, headers = kw.get("body"), kw.get("headers") or {}
        if method == "POST" and "jwt-bearer" in str(body or ""):
            self.rules.wait()
            form = parse_qs(body.decode() if isinstance(body, bytes) else str(body or ""))
            marker = self.rules.marker("GCP", _jwt_issuer(form["assertion"][0]))
            if marker == "unreachable":
                raise urllib3.exceptions.NewConnectionError(None, "sandbox: connection refused")  # type: ignore[arg-type]
            if marker == "revoked":
                return _response(400, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."})
            if marker == "outage":
                return _response(503, {"error": "internal_failure", "error_description": "Backend Error"})
            return _response(
                200, {"access_token": f"ya29.sandbox-{marker or 'ok'}", "expires_in": 3599, "token_type": "Bearer"}
            )
        marker = str(headers.get("Authorization", "")).removeprefix("Bearer ya29.sandbox-")
        project = url.split("/projects/")[1].split("/")[0] if "/projects/" in url else "unknown"
        path = url.split("?")[0]
        if marker == "ratelimited":
            return _response(429, {"error": {"code": 429, "message": "Quota exceeded", "status": "RESOURCE_EXHAUSTED"}})
        if marker == "noperms" and path.endswith("/jobs"):
            message = (
                f"Access Denied: Project {project}: User does not have bigquery.jobs.create permission "
                f"in project {project}."
            )
            errors = [{"message": message, "domain": "global", "reason": "accessDenied"}]
            return _response(
                403, {"error": {"code": 403, "message": message, "errors": errors, "status": "PERMISSION_DENIED"}}
            )
        if path.endswith("/jobs"):
            return _response(
                200, {"kind": "bigquery#job", "status": {"state": "DONE"}, "statistics": {"totalBytesProcessed": "0"}}
            )
        return _response(200, {"kind": "bigquery#datasetList", "datasets": []})


def _response(status: int, body: dict[str, Any]) -> urllib3.HTTPResponse:
    return urllib3.HTTPResponse(
        body=json.dumps(body).encode(), status=status, headers={"Content-Type": "application/json"}
    )


def sandbox_pool_factory(rules: SandboxRules) -> Callable[[], urllib3.PoolManager]:
    return lambda: GoogleSandboxPool(rules)
