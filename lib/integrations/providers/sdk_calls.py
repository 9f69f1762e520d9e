"""What the API-key providers (OpenAI, Anthropic) share: the live check through the provider's own SDK, one SDK
call mapped onto the catalog (both SDKs share exception names), and what is read from a raw response: counts and
rate-limit headers only, never an amount or a model list."""

from __future__ import annotations

import logging
import re
import threading
from abc import abstractmethod
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx2
from pydantic import SecretStr

from ..domain import CheckItem, CheckResult, CredentialKind, DataObservation, Expiry, Status
from ..verdict import failed
from .base import ParsedCredential, Validator, malformed, other_provider_fix
from .kinds import COST_PROBE, ENTERPRISE_PROBE, MODELS, admin_capabilities, family_of, inference_capabilities

HttpClientFactory = Callable[[], httpx2.Client]
DAY_S = 86_400
WINDOW_DAYS = 7  # the cost probe reads a week of daily buckets: authentication and the newest data in one GET
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
    return {name: value for name, value in headers.items() if name in _RATE_HEADERS}  # one pass; names lower-case


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
        return failed(
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
        return failed(
            "RATE_LIMITED", f"{name} is rate-limiting this key (429).{wait}", retryable=True, rate_limit=limits
        )
    except sdk.APIConnectionError as exc:
        kind = "timed out" if isinstance(exc, sdk.APITimeoutError) else "could not be reached"
        return failed("NETWORK_ERROR", f"{name} {kind}; the key was not checked.", retryable=True)
    except sdk.APIStatusError as exc:
        return failed(
            "PROVIDER_UNAVAILABLE",
            f"{name} answered HTTP {exc.status_code}; the key was not checked: {_message(exc, credential)}",
            retryable=True,
        )
    response = getattr(raw, "http_response", raw)  # with_raw_response wraps it; client.get(cast_to=Response) does not
    if model_count(response) is None:  # a 2xx that is not the documented list object (a captive portal, a PNG)
        return failed(
            "PROVIDER_UNAVAILABLE",
            f"{name} answered without its documented JSON (a proxy or a wrong endpoint?); the key was not checked.",
            retryable=True,
        )
    return response


def passed(probe: str, detail: str) -> list[CheckItem]:
    """The checklist of a probe that answered: the key authenticated, and what the probe read."""
    return [CheckItem(name="authenticate", passed=True), CheckItem(name=probe, passed=True, detail=detail)]


def _denied(exc: Any, credential: ParsedCredential, probe: str, what: str) -> CheckResult:
    scopes = _missing_scopes(exc, credential)
    detail = f"missing scope {scopes}" if scopes else "permission denied"
    return failed(
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


def _data(response: httpx2.Response) -> Any:
    """The body's "data"; None when the body is not a JSON object."""
    try:
        return response.json().get("data")
    except (ValueError, AttributeError):
        return None


def buckets(response: httpx2.Response) -> str:
    """'1 day bucket read' of a documented list (sdk_outcome): only the count is kept, never an amount."""
    return f"{model_count(response)} day bucket(s) read"


def _instant(value: Any) -> datetime | None:
    """A bucket bound: Unix seconds (OpenAI) or RFC 3339 (Anthropic)."""
    if isinstance(value, str):
        try:
            at = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return at if at.tzinfo else at.replace(tzinfo=UTC)
    return epoch(value)


def epoch(value: Any) -> datetime | None:
    """Unix seconds as an aware datetime; None for anything else (null, text, a boolean)."""
    return (
        datetime.fromtimestamp(value, UTC) if isinstance(value, int | float) and not isinstance(value, bool) else None
    )


def newest_data(response: httpx2.Response, now: datetime) -> DataObservation:
    """The newest non-empty bucket of a cost page (its end, never after `now`; its first day). An empty bucket is no
    spend, not missing data; no amount is read."""
    data = _data(response)
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


def model_count(response: httpx2.Response) -> int | None:
    """Items on the first page, read from the JSON (only the count is kept, so no SDK models are built); None
    unless the body is the documented list object ({"data": [...]})."""
    data = _data(response)
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


def clean_key(credential: SecretStr, provider_name: str) -> str:
    key = credential.get_secret_value().strip()
    if not key:
        raise malformed(f"The {provider_name} API key is empty.")
    if key.startswith("{"):  # a JSON key file: a Google Cloud service account's, not an API key
        raise malformed(
            f"This looks like a Google Cloud service-account key file (JSON), not an {provider_name} API key.",
            fix=other_provider_fix(provider_name, "gcp", "Google Cloud"),
        )
    if any(c.isspace() for c in key) or not key.isascii():
        raise malformed(
            f"The {provider_name} API key contains spaces, line breaks or non-ASCII characters; "
            "copy it again as a single line."
        )
    return key


def no_debug_logs(sdk_logger: str) -> None:
    """Keep an SDK's logger at INFO at most. Its debug switch (ANTHROPIC_LOG=debug, OPENAI_LOG=debug) or a root
    logger at DEBUG makes it log each request's options at DEBUG, headers included: the Anthropic SDK logs the
    whole key in its Authorization header. At INFO the SDKs log a request's method, URL and status only. Asked
    before every check, so a level set after the SDK's import (the switch is read then) is capped too."""
    logger = logging.getLogger(sdk_logger)
    if logger.getEffectiveLevel() < logging.INFO:
        logger.setLevel(logging.INFO)


class SdkKeyValidator(Validator):
    """Live check shared by the API-key providers: `models.list()` through the provider's own SDK.

    One SDK client, and so one connection pool, serves every check (httpx clients are thread-safe): a client per
    check would cost a TLS context (~17 ms of CPU) and a handshake each time. The shared client holds no key;
    each request carries the auth headers the SDK builds for its key, and nothing keeps them after the check."""

    sdk: Any
    client_class: Any

    def __init__(self, base_url: str, timeout: float, http_client: HttpClientFactory | None = None) -> None:
        self.base_url, self.timeout, self.http_client = base_url, timeout, http_client
        self._shared: Any = None  # the one SDK client (no key of its own)
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
        """The probe of the key's family (kinds.FAMILIES): Admin keys read the organization's cost report (one
        day, limit=1), inference keys list models, a key whose prefix is shared (sk-ant-api01-) is placed by the
        Enterprise analytics probe. An inference key asked for cost data (`need`) whose family may read it reads
        the cost report instead. Every probe is a side-effect-free GET."""
        no_debug_logs(self.sdk.__name__)
        shared = self._client()
        key = credential.secret.get_secret_value()
        # the auth headers the SDK sends for the key, as it builds them (a copy of the shared client with the key:
        # 50-200 us of CPU, nothing next to a ~200 ms round trip)
        headers = dict(shared.with_options(api_key=key).auth_headers)
        family = family_of(credential.provider, key)
        probe = family.probe if family else MODELS
        if credential.need == "cost data" and family is not None and family.cost_data == "probe" and probe == MODELS:
            probe = COST_PROBE
        if probe == ENTERPRISE_PROBE:
            found = self._enterprise(shared, headers, credential)
            if found is not None:
                return found
            probe = MODELS  # not an Enterprise Admin key: an older developer key, checked as one
        if probe == COST_PROBE:
            return self._cost_check(shared, headers, credential)
        return self._models_check(shared, headers, credential)

    def _cost_check(self, shared: Any, headers: dict[str, str], credential: ParsedCredential) -> CheckResult:
        name = credential.provider.label
        outcome = sdk_outcome(
            self.sdk, credential, lambda: self._cost_report(shared, headers), COST_PROBE, "reading the cost report"
        )
        if isinstance(outcome, CheckResult):
            return outcome
        limits = rate_limit(outcome.headers)
        return CheckResult(
            status=Status.VALID,
            message=f"{name} accepted the Admin key: it can read the organization's costs{headroom(limits)}.",
            checks=passed(COST_PROBE, buckets(outcome)),
            rate_limit=limits,
            capabilities=admin_capabilities(credential.provider),
            kind=credential.kind,
            data=newest_data(outcome, datetime.now(UTC)),
            expiry=self._expiry(shared, headers, credential),
        )

    def _models_check(self, shared: Any, headers: dict[str, str], credential: ParsedCredential) -> CheckResult:
        name = credential.provider.label
        models = shared.models.with_raw_response
        outcome = sdk_outcome(
            self.sdk, credential, lambda: models.list(extra_headers=headers), MODELS, "listing models"
        )
        if isinstance(outcome, CheckResult):
            return outcome
        limits, count = rate_limit(outcome.headers), model_count(outcome)
        return CheckResult(
            status=Status.VALID,
            message=f"{name} accepted the key ({count} model{'' if count == 1 else 's'} visible{headroom(limits)}).",
            checks=passed(MODELS, f"{count} models"),
            rate_limit=limits,
            capabilities=inference_capabilities(credential.provider),
            kind=credential.kind or CredentialKind.API,  # sk-ant-api01- that is no Enterprise Admin key
        )

    def _enterprise(self, shared: Any, headers: dict[str, str], credential: ParsedCredential) -> CheckResult | None:
        """Only Anthropic has a prefix only a probe can place."""
        return None

    @abstractmethod
    def _expiry(self, shared: Any, headers: dict[str, str], credential: ParsedCredential) -> Expiry:
        """The Admin key's expiry, as the provider's list of keys shows it; unknown, never a failure, otherwise."""

    @abstractmethod
    def _cost_report(self, client: Any, headers: dict[str, str]) -> Any:
        """One side-effect-free read of the cost endpoint over the last WINDOW_DAYS days up to now, raw response."""


def own_entry(
    shared: Any,
    headers: dict[str, str],
    credential: ParsedCredential,
    listed: tuple[str, int, str],
    sdk_error: type[Exception],
) -> dict[str, Any] | None:
    """The one entry of the provider's key list (path, page size, the field showing a key redacted) that is our key;
    None when the list is refused or unreadable, or our key matches none or several."""
    path, limit, field = listed
    try:
        raw = shared.get(path, cast_to=httpx2.Response, options={"params": {"limit": limit}, "headers": headers})
    except (sdk_error, ValueError, AttributeError):
        return None
    data, key = _data(raw), credential.secret.get_secret_value()
    entries = data if isinstance(data, list) else []
    mine = [k for k in entries if isinstance(k, dict) and _match_redacted(key, k.get(field))]
    return mine[0] if len(mine) == 1 else None


def _match_redacted(key: str, redacted: Any) -> bool:
    """OpenAI shows a key as 'sk-admin...def', Anthropic as 'sk-ant-api03-R2D...igAA': the part before '...' starts
    it and the part after ends it."""
    if not isinstance(redacted, str) or "..." not in redacted:
        return False
    head, _, tail = redacted.partition("...")
    return bool(tail) and key.startswith(head) and key.endswith(tail)
