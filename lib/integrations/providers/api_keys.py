"""OpenAI and Anthropic: key format checks and a live `models.list()` through the official SDKs."""

from __future__ import annotations

import re
import threading
import time
from abc import abstractmethod
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import anthropic
import httpx2
import openai
from pydantic import SecretStr

from ..domain import CheckItem, CheckResult, CredentialKind, Provider, Status
from .base import ParsedCredential, Validator, failure, malformed
from .kinds import admin_capabilities, inference_capabilities, kind_of

HttpClientFactory = Callable[[], httpx2.Client]
COST_PROBE = "cost report (1 day, limit 1)"
DAY_S = 86_400

_OPENAI_PREFIXES = ("sk-proj-", "sk-svcacct-", "sk-admin-", "sk-")
_OPENAI_RE = re.compile(r"^sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{20,}$")
_ANTHROPIC_RE = re.compile(r"^sk-ant-(?:api|admin)\d{2}-[A-Za-z0-9_\-]{20,}$|^sk-ant-[A-Za-z0-9_\-]{20,}$")
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


def _hint(key: str, prefixes: tuple[str, ...]) -> str:
    prefix = next((p for p in prefixes if key.startswith(p)), "")
    return f"{prefix}...{key[-4:]}"


def _clean_key(credential: SecretStr, provider_name: str) -> str:
    key = credential.get_secret_value().strip()
    if not key:
        raise malformed(f"The {provider_name} API key is empty.")
    if any(c.isspace() for c in key) or not key.isascii():
        raise malformed(
            f"The {provider_name} API key contains spaces, line breaks or non-ASCII characters; "
            "copy it again as a single line."
        )
    return key


def _rate_limit(headers: Any) -> dict[str, str]:
    return {h: headers[h] for h in _RATE_HEADERS if headers is not None and h in headers}


def _sdk_outcome(
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
        limits = _rate_limit(exc.response.headers)
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


def _buckets(response: httpx2.Response) -> str:
    """'1 day bucket read': only the count is kept, never an amount."""
    try:
        data = response.json().get("data")
    except (ValueError, AttributeError):
        data = None
    return f"{len(data) if isinstance(data, list) else 0} day bucket(s) read"


def _undocumented(name: str) -> CheckResult:
    """A 2xx that is not the documented list object (a captive portal, a PNG): no verdict."""
    return failure(
        "PROVIDER_UNAVAILABLE",
        f"{name} answered without its documented JSON (a proxy or a wrong endpoint?); the key was not checked.",
        retryable=True,
    )


def _model_count(response: httpx2.Response) -> int | None:
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


def _headroom(limits: dict[str, str]) -> str:
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


class _SdkKeyValidator(Validator):
    """Live check shared by the API-key providers: `models.list()` through the provider's own SDK.

    One SDK client, and so one connection pool, serves every check (httpx clients are thread-safe): a client per
    check would cost a TLS context (~17 ms of CPU) and a handshake each time. The shared client holds no key;
    each request carries the auth headers the SDK builds for its key, and nothing keeps them after the check."""

    sdk: Any
    client_class: Any

    def __init__(self, base_url: str, timeout: float, http_client: HttpClientFactory | None = None) -> None:
        self.base_url, self.timeout, self.http_client = base_url, timeout, http_client
        self._shared: Any = None
        self._lock = threading.Lock()

    def _client(self) -> Any:
        with self._lock:
            if self._shared is None:
                self._shared = self.client_class(
                    api_key="set-per-request",
                    base_url=self.base_url,
                    max_retries=0,
                    timeout=self.timeout,
                    # never follow a redirect: an answer from elsewhere is not the provider's verdict
                    http_client=self.http_client()
                    if self.http_client
                    else self.sdk.DefaultHttpxClient(follow_redirects=False),
                )
            return self._shared

    def check(self, credential: ParsedCredential, metadata: dict[str, Any] | None = None) -> CheckResult:
        """Inference keys: models.list. Admin keys: one read of the organization's cost report (one day,
        limit=1) -- the call an Admin key exists for, and one it makes without side effects."""
        shared = self._client()
        headers = shared.with_options(api_key=credential.secret.get_secret_value()).auth_headers  # as the SDK sends
        name = credential.provider.label
        if credential.kind == CredentialKind.ADMIN:
            outcome = _sdk_outcome(
                self.sdk, credential, lambda: self._cost_report(shared, headers), COST_PROBE, "reading the cost report"
            )
            if isinstance(outcome, CheckResult):
                return outcome
            if _model_count(outcome) is None:
                return _undocumented(name)
            limits = _rate_limit(outcome.headers)
            return CheckResult(
                status=Status.VALID,
                message=f"{name} accepted the Admin key: it can read the organization's costs{_headroom(limits)}.",
                checks=[
                    CheckItem(name="authenticate", passed=True),
                    CheckItem(name=COST_PROBE, passed=True, detail=_buckets(outcome)),
                ],
                rate_limit=limits,
                capabilities=admin_capabilities(credential.provider),
            )
        models = shared.models.with_raw_response
        outcome = _sdk_outcome(
            self.sdk, credential, lambda: models.list(extra_headers=headers), "models.list", "listing models"
        )
        if isinstance(outcome, CheckResult):
            return outcome
        limits = _rate_limit(outcome.headers)
        count = _model_count(outcome)
        if count is None:
            return _undocumented(name)
        return CheckResult(
            status=Status.VALID,
            message=f"{name} accepted the key ({count} models visible{_headroom(limits)}).",
            checks=[
                CheckItem(name="authenticate", passed=True),
                CheckItem(name="models.list", passed=True, detail=f"{count} models"),
            ],
            rate_limit=limits,
            capabilities=inference_capabilities(credential.provider),
        )

    @abstractmethod
    def _cost_report(self, client: Any, headers: dict[str, str]) -> Any:
        """One side-effect-free read of the cost endpoint over the last day, limit=1, raw response."""


class OpenAIValidator(_SdkKeyValidator):
    provider = Provider.OPENAI
    sdk, client_class = openai, openai.OpenAI

    def _cost_report(self, client: Any, headers: dict[str, str]) -> Any:
        costs = client.admin.organization.usage.with_raw_response.costs  # GET /organization/costs, in the SDK
        return costs(start_time=int(time.time()) - DAY_S, bucket_width="1d", limit=1, extra_headers=headers)

    def parse(self, credential: SecretStr, stored: bool = False) -> ParsedCredential:
        key = _clean_key(credential, "OpenAI")
        if key.startswith("sk-ant-"):
            raise malformed("This is an Anthropic key (sk-ant-...); choose the Anthropic provider.")
        if not _OPENAI_RE.fullmatch(key):
            raise malformed(
                "An OpenAI API key starts with sk-, sk-proj-, sk-svcacct- or sk-admin- followed by at least 20 "
                "letters, digits, '-' or '_'."
            )
        return ParsedCredential(
            provider=self.provider,
            secret=SecretStr(key),
            hint=_hint(key, _OPENAI_PREFIXES),
            kind=kind_of(self.provider, key),
        )


class AnthropicValidator(_SdkKeyValidator):
    provider = Provider.ANTHROPIC
    sdk, client_class = anthropic, anthropic.Anthropic

    def _cost_report(self, client: Any, headers: dict[str, str]) -> Any:
        # The SDK has no method for the Admin API's cost report: its own HTTP layer sends it (same retries off,
        # timeout, version header and error mapping as every SDK call).
        since = datetime.fromtimestamp(time.time() - DAY_S, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return client.get(
            "/v1/organizations/cost_report",
            cast_to=httpx2.Response,
            options={"params": {"starting_at": since, "bucket_width": "1d", "limit": 1}, "headers": headers},
        )

    def parse(self, credential: SecretStr, stored: bool = False) -> ParsedCredential:
        key = _clean_key(credential, "Anthropic")
        if not key.startswith("sk-ant-"):
            raise malformed(
                "An Anthropic API key starts with sk-ant- (e.g. sk-ant-api03-...)."
                + (" This looks like an OpenAI key." if key.startswith("sk-") else "")
            )
        if not _ANTHROPIC_RE.fullmatch(key):
            raise malformed("An Anthropic API key is sk-ant- followed by at least 20 letters, digits, '-' or '_'.")
        prefix = re.match(r"sk-ant-(?:api|admin)\d{2}-", key)
        hint = f"{prefix.group(0) if prefix else 'sk-ant-'}...{key[-4:]}"
        kind = kind_of(self.provider, key)
        return ParsedCredential(provider=self.provider, secret=SecretStr(key), hint=hint, kind=kind)
