"""One SDK call of the API-key providers mapped onto the catalog (both SDKs share exception names), the auth
headers the SDK sends for a key, and what is read from a raw response: counts and rate-limit headers only, never
an amount or a model list."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx2

from ..domain import CheckItem, CheckResult, DataObservation
from .base import ParsedCredential, failure

_SCOPES_RE = re.compile(r"Missing scopes:\s*([a-z0-9_.]+(?:\s*,\s*[a-z0-9_.]+)*)")
_RATE_HEADERS = (
    "retry-after",
    "x-ratelimit-limit-requests",
    "x-ratelimit-remaining-requests",
    "x-ratelimit-reset-requests",
    "anthropic-ratelimit-requests-limit",
    "anthropic-ratelimit-requests-remaining",
    "anthropic-ratelimit-requests-reset",
)


def rate_limit(headers: Any) -> dict[str, str]:
    if headers is None:
        return {}
    return {name: value for name, value in headers.items() if name in _RATE_HEADERS}  # one pass; names lower-case


def auth_headers(client: Any, key: str) -> dict[str, str]:
    """The auth headers `client`'s SDK sends for `key`, as the SDK itself builds them (a copy of the shared client
    with the key: 50-200 us of CPU, nothing next to a ~200 ms round trip)."""
    return dict(client.with_options(api_key=key).auth_headers)


def sdk_outcome(
    sdk: Any, credential: ParsedCredential, call: Callable[[], Any], probe: str, what: str
) -> CheckResult | httpx2.Response:
    """Run one SDK call and map every failure onto the catalog (both SDKs share exception names); the raw HTTP
    response when it succeeded. `probe` names the checklist line, `what` says what was denied."""
    name = credential.provider.label
    try:
        raw = call()
    except sdk.AuthenticationError as exc:
        if _missing_scopes(exc, credential):  # OpenAI answers a missing scope with 401 in some reports
            return _denied(exc, credential, probe, what)
        return failure(
            "INVALID_CREDENTIAL",
            f"{name} rejected the key (401): {_message(exc, credential)}",
            retryable=False,
            checks=[CheckItem(name="authenticate", passed=False)],
        )
    except sdk.PermissionDeniedError as exc:
        return _denied(exc, credential, probe, what)
    except sdk.RateLimitError as exc:
        limits = rate_limit(exc.response.headers)
        wait = f" Retry after {limits['retry-after']} s." if "retry-after" in limits else ""
        return failure(
            "RATE_LIMITED", f"{name} is rate-limiting this key (429).{wait}", retryable=True, rate_limit=limits
        )
    except sdk.APIConnectionError as exc:
        kind = "timed out" if isinstance(exc, sdk.APITimeoutError) else "could not be reached"
        return failure("NETWORK_ERROR", f"{name} {kind}; the key was not checked.", retryable=True)
    except sdk.APIStatusError as exc:
        return failure(
            "PROVIDER_UNAVAILABLE",
            f"{name} answered HTTP {exc.status_code}; the key was not checked: {_message(exc, credential)}",
            retryable=True,
        )
    return getattr(raw, "http_response", raw)  # with_raw_response wraps it; client.get(cast_to=Response) does not


def _denied(exc: Any, credential: ParsedCredential, probe: str, what: str) -> CheckResult:
    scopes = _missing_scopes(exc, credential)
    detail = f"missing scope {scopes}" if scopes else "permission denied"
    return failure(
        "INSUFFICIENT_PERMISSIONS",
        f"{credential.provider.label} accepted the key but denied {what} ({exc.status_code}): "
        f"{_message(exc, credential)}",
        retryable=False,
        checks=[CheckItem(name="authenticate", passed=True), CheckItem(name=probe, passed=False, detail=detail)],
    )


def _missing_scopes(exc: Any, credential: ParsedCredential) -> str:
    """The scopes OpenAI names in "Missing scopes: api.usage.read." (no API lists a key's scopes)."""
    found = _SCOPES_RE.search(_message(exc, credential))
    return found.group(1).rstrip(".") if found else ""


def buckets(response: httpx2.Response) -> str:
    """'1 day bucket read': only the count is kept, never an amount."""
    try:
        data = response.json().get("data")
    except (ValueError, AttributeError):
        data = None
    return f"{len(data) if isinstance(data, list) else 0} day bucket(s) read"


def _instant(value: Any) -> datetime | None:
    """A bucket bound: Unix seconds (OpenAI) or RFC 3339 (Anthropic)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC)
    if isinstance(value, str):
        try:
            at = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return at if at.tzinfo else at.replace(tzinfo=UTC)
    return None


def newest_data(response: httpx2.Response, now: datetime) -> DataObservation:
    """The newest non-empty bucket of a cost page (its end, never after `now`; its first day). An empty bucket is no
    spend, not missing data; no amount is read."""
    try:
        data = response.json().get("data")
    except (ValueError, AttributeError):
        data = None
    newest: datetime | None = None
    through = None
    for bucket in data if isinstance(data, list) else []:
        if not isinstance(bucket, dict) or not bucket.get("results"):
            continue
        start = _instant(bucket.get("start_time", bucket.get("starting_at")))
        end = _instant(bucket.get("end_time", bucket.get("ending_at"))) or start
        if end is None:
            continue
        end = min(end, now)
        if newest is None or end > newest:
            newest, through = end, (start or end).date()
    return DataObservation(source="cost report", newest_at=newest, data_through=through)


def undocumented(name: str) -> CheckResult:
    """A 2xx that is not the documented list object (a captive portal, a PNG): no verdict."""
    return failure(
        "PROVIDER_UNAVAILABLE",
        f"{name} answered without its documented JSON (a proxy or a wrong endpoint?); the key was not checked.",
        retryable=True,
    )


def model_count(response: httpx2.Response) -> int | None:
    """Items on the first page, read from the JSON (only the count is kept, so no SDK models are built); None
    unless the body is the documented list object ({"data": [...]})."""
    try:
        data = response.json().get("data")
    except (ValueError, AttributeError):
        return None
    return len(data) if isinstance(data, list) else None


_HEADROOM = (
    ("x-ratelimit-remaining-requests", "x-ratelimit-limit-requests"),
    ("anthropic-ratelimit-requests-remaining", "anthropic-ratelimit-requests-limit"),
)


def headroom(limits: dict[str, str]) -> str:
    """'; 499/500 requests left this window' when the provider said so: recorded with the validation event."""
    for remaining, limit in _HEADROOM:
        if remaining in limits and limit in limits:
            return f"; {limits[remaining]}/{limits[limit]} requests left this window"
    return ""


def _message(exc: Any, credential: ParsedCredential) -> str:
    body = exc.body if isinstance(getattr(exc, "body", None), dict) else {}
    inner = body.get("error", body) if isinstance(body.get("error", body), dict) else {}
    text = inner.get("message") or getattr(exc, "message", "") or ""
    return credential.scrub(str(text))[:300]
