"""Sandbox provider responses: the real SDKs talk to an in-process transport with deterministic rules.

A well-formed credential is valid unless its text (for GCP: client_email) contains a marker:
revoked -> 401, noperms -> 403, ratelimited -> 429, unreachable -> connection error, outage -> 5xx.
Keys are played by kind: Admin keys (sk-admin-, sk-ant-admin01-) are refused by the model endpoints and read
the cost reports; inference keys the reverse; sk-ant-api01- keys are Enterprise Admin keys (the analytics API
answers them) unless they contain "devkey" (an old developer key). GCP markers: crmdisabled (Cloud Resource
Manager API disabled), datasetonly (BigQuery granted on a dataset only), notable (no billing export table);
Google is played in sandbox_google.py.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx2

MARKERS = ("revoked", "noperms", "ratelimited", "unreachable", "outage", "crmdisabled", "datasetonly", "notable")


def marker_of(text: str, markers: tuple[str, ...] = MARKERS) -> str | None:
    return next((m for m in markers if m in text), None)


class SandboxRules:
    """Shared by the transports: outage providers and simulated latency."""

    def __init__(self, outage: set[str], latency_ms: int) -> None:
        self.outage, self.latency_ms = outage, latency_ms

    def marker(self, provider: str, text: str) -> str | None:
        return "unreachable" if provider in self.outage else marker_of(text)

    def wait(self) -> None:
        if self.latency_ms:
            time.sleep(self.latency_ms / 1000)


_OPENAI_ERRORS = {  # marker -> status, type, code, message
    "revoked": (
        401,
        "invalid_request_error",
        "invalid_api_key",
        "Incorrect API key provided: {masked}. You can find your API key at https://platform.openai.com/account/api-keys.",
    ),
    "noperms": (
        403,
        "invalid_request_error",
        None,
        "You have insufficient permissions for this operation. Missing scopes: api.model.read.",
    ),
    "ratelimited": (429, "requests", "rate_limit_exceeded", "Rate limit reached for requests."),
    "outage": (503, "server_error", None, "The server is overloaded or not ready yet."),
}
_ANTHROPIC_ERRORS = {
    "revoked": (401, "authentication_error", "invalid x-api-key"),
    "noperms": (403, "permission_error", "Your API key does not have permission to use the specified resource."),
    "ratelimited": (429, "rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit."),
    "outage": (529, "overloaded_error", "Overloaded"),
}


AGE_RE = re.compile(r"age(\d+)h")
DAY_S = 86_400


def cost_buckets(key: str, start: float, end: float, limit: int) -> list[tuple[float, float, bool]]:
    """Daily cost buckets (start, end, has data) over [start, end), oldest first, as the cost endpoints page them.
    The newest data ends `ageNh` hours ago as the key says (1 h when it does not); "nodata" holds none yet (a new
    organization); after the newest data come empty buckets (no spend is an empty bucket, not an error)."""
    now = time.time()
    found = AGE_RE.search(key)
    newest = now - (int(found.group(1)) if found else 1) * 3600
    bounds: list[tuple[float, float, bool]] = []
    at = newest
    while at > start:  # days of data back to the window's start
        bounds.append((max(at - DAY_S, start), at, "nodata" not in key))
        at -= DAY_S
    bounds.reverse()
    if end > newest:
        bounds.append((max(newest, start), end, False))
    return bounds[-limit:]  # the window the validators ask for fits in `limit` buckets


EXPIRES_RE = re.compile(r"exp(\d+)d")


def _admin_keys(key: str) -> dict:
    """GET /v1/organization/admin_api_keys: the calling key (expiring in N days when it says `expNd`, else never)
    and another owner's key, each with its redacted value."""
    now = int(time.time())
    found = EXPIRES_RE.search(key)

    def entry(key_id: str, redacted: str, expires: int | None) -> dict:
        owner = {"type": "user", "object": "organization.user", "id": "user_1", "name": "Owner", "role": "owner"}
        return {
            "object": "organization.admin_api_key",
            "id": key_id,
            "name": "cost reader",
            "redacted_value": redacted,
            "created_at": now - 30 * DAY_S,
            "last_used_at": now - 60,
            "expires_at": expires,
            "owner": owner,
        }

    ours = entry("key_ours", f"sk-admin...{key[-3:]}", now + int(found.group(1)) * DAY_S if found else None)
    other = entry("key_other", "sk-admin..." + ("zzz" if not key.endswith("zzz") else "yyy"), None)
    return {"object": "list", "data": [other, ours], "first_id": "key_other", "last_id": "key_ours", "has_more": False}


def _anthropic_keys(key: str) -> dict:
    """GET /v1/organizations/api_keys as an Admin key sees them: a developer key, and the calling key only when it
    says `expNd` (expiring in N days) or `noexp` (null: never); otherwise it is not listed (Anthropic documents no
    expiry for Admin keys), so its expiry is unknown."""
    now = datetime.now(UTC)

    def entry(key_id: str, hint: str, expires: str | None) -> dict:
        return {
            "type": "api_key",
            "id": key_id,
            "name": "cost reader",
            "created_at": (now - timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "created_by": {"id": "user_01", "type": "user"},
            "expires_at": expires,
            "partial_key_hint": hint,
            "principal": None,
            "status": "active",
            "workspace_id": None,
        }

    keys = [entry("apikey_other", "sk-ant-api03-R2D...igAA", None)]
    found = EXPIRES_RE.search(key)
    if found or "noexp" in key:
        at = (now + timedelta(days=int(found.group(1)))).strftime("%Y-%m-%dT%H:%M:%SZ") if found else None
        keys.append(entry("apikey_ours", f"{key[:18]}...{key[-4:]}", at))
    return {"data": keys, "has_more": False, "first_id": keys[0]["id"], "last_id": keys[-1]["id"]}


def _bearer(request: httpx2.Request) -> str:
    return request.headers.get("authorization", "").removeprefix("Bearer ").strip()


def _openai_error(
    status: int,
    message: str,
    headers: dict[str, str],
    param: str | None = None,
    kind: str = "invalid_request_error",
    code: str | None = None,
) -> httpx2.Response:
    error = {"message": message, "type": kind, "param": param, "code": code}
    return httpx2.Response(status, json={"error": error}, headers=headers)


def _openai_costs(request: httpx2.Request, headers: dict[str, str]) -> httpx2.Response:
    """GET /v1/organization/costs with an Admin key: OpenAI's documented parameter limits, daily buckets whose
    newest data is as old as the key says (cost_buckets)."""
    query = request.url.params
    start = query.get("start_time", "")
    if not start.isdigit():
        return _openai_error(400, "Missing required parameter: 'start_time'.", headers, "start_time")
    if query.get("bucket_width", "1d") != "1d":
        return _openai_error(400, "Invalid value for 'bucket_width': only '1d' is supported.", headers, "bucket_width")
    limit = query.get("limit", "7")
    if not limit.isdigit() or not 1 <= int(limit) <= 180:
        return _openai_error(400, "Invalid 'limit': must be between 1 and 180.", headers, "limit")
    end = query.get("end_time", "")
    if end and (not end.isdigit() or int(end) > time.time() + 60):  # a future end_time: only a generic error
        return _openai_error(400, "Invalid request.", headers, "end_time")
    result = {
        "object": "organization.costs.result",
        "amount": {"value": 0.06, "currency": "usd"},
        "line_item": None,
        "project_id": None,
    }
    data = [
        {"object": "bucket", "start_time": int(b0), "end_time": int(b1), "results": [result] if full else []}
        for b0, b1, full in cost_buckets(_bearer(request), int(start), int(end or time.time()), int(limit))
    ]
    return httpx2.Response(
        200, headers=headers, json={"object": "page", "data": data, "has_more": False, "next_page": None}
    )


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
        path, admin = request.url.path, key.startswith("sk-admin-")
        if marker in _OPENAI_ERRORS:
            status, kind, code, message = _OPENAI_ERRORS[marker]
            message = message.format(masked=f"{key[:8]}****{key[-4:]}")
            if marker == "noperms" and path.endswith("/organization/costs"):
                message = message.replace("api.model.read", "api.usage.read")
            if marker == "ratelimited":
                headers.update(
                    {"retry-after": "2", "x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "6m0s"}
                )
            return _openai_error(status, message, headers, kind=kind, code=code)
        if path.endswith("/organization/admin_api_keys"):
            if not admin:
                return _openai_error(403, "Missing scopes: api.management.read.", headers)
            return httpx2.Response(200, headers=headers, json=_admin_keys(key))
        if path.endswith("/organization/costs"):
            if not admin:  # a project or user key has no Usage read
                return _openai_error(
                    403,
                    "You have insufficient permissions for this operation. Missing scopes: api.usage.read. Check that "
                    "you have the correct role in your organization (Reader, Writer, Owner) and project (Member, "
                    "Owner), and if you're using a restricted API key, that it has the necessary scopes.",
                    headers,
                )
            return _openai_costs(request, headers)
        if not path.endswith("/models"):
            return _openai_error(404, f"Invalid URL ({request.method} {path})", headers)
        if admin:
            return _openai_error(401, "Admin API keys cannot be used for non-administration endpoints.", headers)
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


def _anthropic_error(status: int, kind: str, message: str, headers: dict[str, str]) -> httpx2.Response:
    return httpx2.Response(status, headers=headers, json={"type": "error", "error": {"type": kind, "message": message}})


def _anthropic_cost_report(request: httpx2.Request, headers: dict[str, str]) -> httpx2.Response:
    """GET /v1/organizations/cost_report with an Admin key: the documented parameter limits, daily buckets."""
    query = request.url.params
    if "anthropic-version" not in request.headers:
        return _anthropic_error(400, "invalid_request_error", "anthropic-version: header is required", headers)
    try:
        start = datetime.fromisoformat(query.get("starting_at", "").replace("Z", "+00:00"))
    except ValueError:
        return _anthropic_error(400, "invalid_request_error", "starting_at: must be an RFC 3339 timestamp", headers)
    if start.tzinfo is None:
        return _anthropic_error(400, "invalid_request_error", "starting_at: must include a timezone", headers)
    limit = query.get("limit", "7")
    if query.get("bucket_width", "1d") != "1d" or not limit.isdigit() or not 1 <= int(limit) <= 31:
        return _anthropic_error(400, "invalid_request_error", "limit: must be between 1 and 31 for 1d buckets", headers)
    result = {
        "currency": "USD",
        "amount": "1.23",
        "workspace_id": None,
        "description": None,
        "cost_type": None,
        "context_window": None,
        "model": None,
        "service_tier": None,
        "token_type": None,
    }
    ending = query.get("ending_at")
    try:
        end = datetime.fromisoformat(ending.replace("Z", "+00:00")).timestamp() if ending else time.time()
    except ValueError:
        return _anthropic_error(400, "invalid_request_error", "ending_at: must be an RFC 3339 timestamp", headers)
    key = _bearer(request) or request.headers.get("x-api-key", "")

    def rfc(at: float) -> str:
        return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    data = [
        {"starting_at": rfc(b0), "ending_at": rfc(b1), "results": [result] if full else []}
        for b0, b1, full in cost_buckets(key, start.timestamp(), end, int(limit))
    ]
    return httpx2.Response(200, headers=headers, json={"data": data, "has_more": False, "next_page": None})


def anthropic_handler(rules: SandboxRules) -> Callable[[httpx2.Request], httpx2.Response]:
    def handle(request: httpx2.Request) -> httpx2.Response:
        rules.wait()
        key = _bearer(request) or request.headers.get("x-api-key", "")
        marker = rules.marker("ANTHROPIC", key)
        if marker == "unreachable":
            raise httpx2.ConnectError("sandbox: connection refused", request=request)
        headers = {
            "request-id": "req_sandbox",
            "anthropic-ratelimit-requests-limit": "50",
            "anthropic-ratelimit-requests-remaining": "49",
            "anthropic-ratelimit-requests-reset": "2026-01-01T00:00:00Z",
        }
        path, admin = request.url.path, key.startswith("sk-ant-admin")
        enterprise = key.startswith("sk-ant-api01-") and "devkey" not in key  # devkey: an old developer key
        if marker in _ANTHROPIC_ERRORS:
            status, kind, message = _ANTHROPIC_ERRORS[marker]
            if marker == "ratelimited":
                headers.update({"retry-after": "2", "anthropic-ratelimit-requests-remaining": "0"})
            return _anthropic_error(status, kind, message, headers)
        if path == "/v1/organizations/analytics/cost":
            if not enterprise:  # Admin and developer keys cannot call the Enterprise analytics API
                return _anthropic_error(401, "authentication_error", "invalid x-api-key", headers)
            if request.headers.get("anthropic-beta") != "analytics-usage-cost-2026-08-24":
                return _anthropic_error(400, "invalid_request_error", "anthropic-beta: header is required", headers)
            return httpx2.Response(200, headers=headers, json={"data": [], "has_more": False, "next_page": None})
        if path == "/v1/organizations/api_keys":
            if not admin:  # listing keys needs an Admin credential
                return _anthropic_error(401, "authentication_error", "invalid x-api-key", headers)
            return httpx2.Response(200, headers=headers, json=_anthropic_keys(key))
        if path == "/v1/organizations/cost_report":
            if not admin:  # the Admin API does not know inference keys
                return _anthropic_error(401, "authentication_error", "invalid x-api-key", headers)
            return _anthropic_cost_report(request, headers)
        if path != "/v1/models":
            return _anthropic_error(404, "not_found_error", f"Not found: {path}", headers)
        if admin or enterprise:  # Admin keys call only /v1/organizations/*
            return _anthropic_error(401, "authentication_error", "invalid x-api-key", headers)
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
