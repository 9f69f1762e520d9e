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
from .base import ParsedCredential, Validator, malformed
from .kinds import admin_capabilities, inference_capabilities, kind_of
from .sdk_calls import auth_headers, buckets, headroom, model_count, rate_limit, sdk_outcome, undocumented

HttpClientFactory = Callable[[], httpx2.Client]
COST_PROBE = "cost report (1 day, limit 1)"
DAY_S = 86_400

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
        """Inference keys: models.list. Admin keys: one read of the organization's cost report (one day,
        limit=1) -- the call an Admin key exists for, and one it makes without side effects."""
        shared = self._client()
        headers = auth_headers(shared, credential.secret.get_secret_value())  # as the SDK sends them
        name = credential.provider.label
        if credential.kind == CredentialKind.ADMIN:
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
            )
        models = shared.models.with_raw_response
        outcome = sdk_outcome(
            self.sdk, credential, lambda: models.list(extra_headers=headers), "models.list", "listing models"
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
