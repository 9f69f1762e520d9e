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

from ..domain import Capability, CheckItem, CheckResult, CredentialKind, Expiry, Provider, Status
from .base import ParsedCredential, Validator, malformed, rfc3339
from .kinds import (
    COST_PROBE,
    ENTERPRISE_PROBE,
    MODELS,
    admin_capabilities,
    family_of,
    inference_capabilities,
    kind_of,
    refuse_wrong_kind,
)
from .sdk_calls import (
    auth_headers,
    buckets,
    headroom,
    model_count,
    newest_data,
    rate_limit,
    sdk_outcome,
    undocumented,
)

HttpClientFactory = Callable[[], httpx2.Client]
ANALYTICS_BETA = "analytics-usage-cost-2026-08-24"
DAY_S = 86_400
WINDOW_DAYS = 7  # the cost probe reads a week of daily buckets: authentication and the newest data in one GET

_OPENAI_PREFIXES = ("sk-proj-", "sk-svcacct-", "sk-admin-", "sk-")
_OPENAI_RE = re.compile(r"^sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{20,}$")
_ANTHROPIC_RE = re.compile(r"^sk-ant-(?:api|admin)\d{2}-[A-Za-z0-9_\-]{20,}$|^sk-ant-[A-Za-z0-9_\-]{20,}$")


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


class _SdkKeyValidator(Validator):
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
        """The shared SDK client, built once."""
        with self._lock:
            if self._shared is None:
                shared = self.client_class(
                    api_key="set-per-request",
                    base_url=self.base_url,
                    max_retries=0,
                    timeout=self.timeout,
                    # never follow a redirect: an answer from elsewhere is not the provider's verdict
                    http_client=self.http_client()
                    if self.http_client
                    else self.sdk.DefaultHttpxClient(follow_redirects=False),
                )
                self._shared = shared
            return self._shared

    def check(self, credential: ParsedCredential, metadata: dict[str, Any] | None = None) -> CheckResult:
        """The probe of the key's family (kinds.FAMILIES): Admin keys read the organization's cost report (one
        day, limit=1), inference keys list models, a key whose prefix is shared (sk-ant-api01-) is placed by the
        Enterprise analytics probe. An inference key asked for cost data (`need`) whose family may read it reads
        the cost report instead. Every probe is a side-effect-free GET."""
        shared = self._client()
        headers = auth_headers(shared, credential.secret.get_secret_value())  # as the SDK sends them
        family = family_of(credential.provider, credential.secret.get_secret_value())
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
        if model_count(outcome) is None:
            return undocumented(name)
        limits = rate_limit(outcome.headers)
        return CheckResult(
            status=Status.VALID,
            message=f"{name} accepted the Admin key: it can read the organization's costs{headroom(limits)}.",
            checks=[
                CheckItem(name="authenticate", passed=True),
                CheckItem(name=COST_PROBE, passed=True, detail=buckets(outcome)),
            ],
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
        limits = rate_limit(outcome.headers)
        count = model_count(outcome)
        if count is None:
            return undocumented(name)
        return CheckResult(
            status=Status.VALID,
            message=f"{name} accepted the key ({count} models visible{headroom(limits)}).",
            checks=[
                CheckItem(name="authenticate", passed=True),
                CheckItem(name=MODELS, passed=True, detail=f"{count} models"),
            ],
            rate_limit=limits,
            capabilities=inference_capabilities(credential.provider),
            kind=credential.kind or CredentialKind.API,  # sk-ant-api01- that is no Enterprise Admin key
        )

    def _enterprise(self, shared: Any, headers: dict[str, str], credential: ParsedCredential) -> CheckResult | None:
        """Only Anthropic has a prefix only a probe can place."""
        return None

    def _expiry(self, shared: Any, headers: dict[str, str], credential: ParsedCredential) -> Expiry | None:
        """The Admin key's expiry, where the provider lists it (None: this provider has no such list)."""
        return None

    @abstractmethod
    def _cost_report(self, client: Any, headers: dict[str, str]) -> Any:
        """One side-effect-free read of the cost endpoint over the last WINDOW_DAYS days up to now, raw response."""


class OpenAIValidator(_SdkKeyValidator):
    provider = Provider.OPENAI
    sdk, client_class = openai, openai.OpenAI

    def _cost_report(self, client: Any, headers: dict[str, str]) -> Any:
        costs = client.admin.organization.usage.with_raw_response.costs  # GET /organization/costs, in the SDK
        now = int(time.time())  # never an end_time in the future: OpenAI answers that with a generic error
        return costs(
            start_time=now - WINDOW_DAYS * DAY_S,
            end_time=now,
            bucket_width="1d",
            limit=WINDOW_DAYS + 1,
            extra_headers=headers,
        )

    def _expiry(self, shared: Any, headers: dict[str, str], credential: ParsedCredential) -> Expiry | None:
        """GET /v1/organization/admin_api_keys (one page of 100): our key is the one entry whose redacted value
        matches it; expires_at null = never. Refused, unreadable or several matches: unknown, never a failure."""
        listed = ("/organization/admin_api_keys", 100, "redacted_value")
        entry = _own_entry(shared, headers, credential, listed, openai.OpenAIError)
        if entry is None:
            return Expiry(known=False)
        expires = _stamp(entry.get("expires_at"))
        return Expiry(
            known=True, never=expires is None, expires_at=expires, last_used_at=_stamp(entry.get("last_used_at"))
        )

    def parse(self, credential: SecretStr, stored: bool = False) -> ParsedCredential:
        key = _clean_key(credential, "OpenAI")
        if key.startswith("sk-ant-"):
            raise malformed("This is an Anthropic key (sk-ant-...); choose the Anthropic provider.")
        refuse_wrong_kind(self.provider, key)
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


def _own_entry(
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
        data = raw.json().get("data")
    except (sdk_error, ValueError, AttributeError):
        return None
    key = credential.secret.get_secret_value()
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


def _stamp(value: Any) -> datetime | None:
    return (
        datetime.fromtimestamp(value, UTC) if isinstance(value, int | float) and not isinstance(value, bool) else None
    )


class AnthropicValidator(_SdkKeyValidator):
    provider = Provider.ANTHROPIC
    sdk, client_class = anthropic, anthropic.Anthropic

    def _cost_report(self, client: Any, headers: dict[str, str]) -> Any:
        # The SDK has no method for the Admin API's cost report: its own HTTP layer sends it (same retries off,
        # timeout, version header and error mapping as every SDK call).
        now = time.time()

        def stamp(at: float) -> str:
            return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

        params = {
            "starting_at": stamp(now - WINDOW_DAYS * DAY_S),
            "ending_at": stamp(now),
            "bucket_width": "1d",
            "limit": WINDOW_DAYS + 1,
        }
        return client.get(
            "/v1/organizations/cost_report", cast_to=httpx2.Response, options={"params": params, "headers": headers}
        )

    def _expiry(self, shared: Any, headers: dict[str, str], credential: ParsedCredential) -> Expiry | None:
        """GET /v1/organizations/api_keys (one page of 1000), as the Admin key sees the organization's keys: ours is
        the one entry whose partial_key_hint matches it; expires_at (RFC 3339) null = never. Anthropic shows no
        last use on a key, and documents no expiry for the Admin key itself: not listed, several matches, refused
        or unreadable is unknown, never a failure."""
        listed = ("/v1/organizations/api_keys", 1000, "partial_key_hint")
        entry = _own_entry(shared, headers, credential, listed, anthropic.AnthropicError)
        if entry is None:
            return Expiry(known=False)
        stated = entry.get("expires_at")
        expires = rfc3339(stated)
        if stated is not None and expires is None:
            return Expiry(known=False)
        return Expiry(known=True, never=expires is None, expires_at=expires)

    def _enterprise(self, shared: Any, headers: dict[str, str], credential: ParsedCredential) -> CheckResult | None:
        """sk-ant-api01-: Enterprise Admin keys read cost through the analytics API (beta); a key that API does not
        know (401) is an older developer key, checked as one (None)."""
        now = time.time()

        def stamp(at: float) -> str:
            return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

        params = {"starting_at": stamp(now - DAY_S), "ending_at": stamp(now), "time_bucket_width": "1d", "limit": 1}

        def call() -> Any:
            return shared.get(
                "/v1/organizations/analytics/cost",
                cast_to=httpx2.Response,
                options={"params": params, "headers": {**headers, "anthropic-beta": ANALYTICS_BETA}},
            )

        outcome = sdk_outcome(self.sdk, credential, call, ENTERPRISE_PROBE, "reading the analytics cost")
        if isinstance(outcome, CheckResult) and outcome.error_code == "INVALID_CREDENTIAL":
            return None  # the analytics API does not know the key: the models probe decides
        if isinstance(outcome, CheckResult):
            return outcome
        if model_count(outcome) is None:
            return undocumented("Anthropic")
        return CheckResult(
            status=Status.VALID,
            message="Anthropic accepted the Enterprise Admin key: it can read the organization's costs through the "
            "analytics API.",
            checks=[
                CheckItem(name="authenticate", passed=True),
                CheckItem(name=ENTERPRISE_PROBE, passed=True, detail=buckets(outcome)),
            ],
            rate_limit=rate_limit(outcome.headers),
            capabilities=[
                Capability(
                    name="inference",
                    status="not available",
                    detail="Enterprise Admin keys call the administration APIs, not the models.",
                ),
                Capability(name="cost data", status="passed", detail="The key read the analytics cost report."),
            ],
            kind=CredentialKind.ENTERPRISE_ADMIN,
        )

    def parse(self, credential: SecretStr, stored: bool = False) -> ParsedCredential:
        key = _clean_key(credential, "Anthropic")
        if not key.startswith("sk-ant-"):
            raise malformed(
                "An Anthropic API key starts with sk-ant- (e.g. sk-ant-api03-...)."
                + (" This looks like an OpenAI key." if key.startswith("sk-") else "")
            )
        refuse_wrong_kind(self.provider, key)
        if not _ANTHROPIC_RE.fullmatch(key):
            raise malformed("An Anthropic API key is sk-ant- followed by at least 20 letters, digits, '-' or '_'.")
        prefix = re.match(r"sk-ant-(?:api|admin|oat)\d{2}-", key)
        hint = f"{prefix.group(0) if prefix else 'sk-ant-'}...{key[-4:]}"
        kind = kind_of(self.provider, key)
        return ParsedCredential(provider=self.provider, secret=SecretStr(key), hint=hint, kind=kind)
