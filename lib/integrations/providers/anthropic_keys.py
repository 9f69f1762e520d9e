"""Anthropic: the key format check, and the live check's cost report, Enterprise analytics probe and API key list
through the anthropic SDK's HTTP layer."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from typing import Any

import anthropic
import httpx2
from pydantic import SecretStr

from ..domain import Capability, CheckResult, CredentialKind, Expiry, Provider, Status
from .base import ParsedCredential, malformed, other_provider_fix, rfc3339
from .kinds import ENTERPRISE_PROBE, kind_of, refuse_wrong_kind
from .sdk_calls import (
    DAY_S,
    WINDOW_DAYS,
    SdkKeyValidator,
    buckets,
    clean_key,
    own_entry,
    passed,
    rate_limit,
    sdk_outcome,
)

ANALYTICS_BETA = "analytics-usage-cost-2026-08-24"
_ANTHROPIC_RE = re.compile(r"^sk-ant-(?:api|admin)\d{2}-[A-Za-z0-9_\-]{20,}$|^sk-ant-[A-Za-z0-9_\-]{20,}$")


def _stamp(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class AnthropicValidator(SdkKeyValidator):
    provider = Provider.ANTHROPIC
    sdk, client_class = anthropic, anthropic.Anthropic

    def _cost_report(self, client: Any, headers: dict[str, str]) -> Any:
        # The SDK has no method for the Admin API's cost report: its own HTTP layer sends it (same retries off,
        # timeout, version header and error mapping as every SDK call).
        now = time.time()
        params = {
            "starting_at": _stamp(now - WINDOW_DAYS * DAY_S),
            "ending_at": _stamp(now),
            "bucket_width": "1d",
            "limit": WINDOW_DAYS + 1,
        }
        return client.get(
            "/v1/organizations/cost_report", cast_to=httpx2.Response, options={"params": params, "headers": headers}
        )

    def _expiry(self, shared: Any, headers: dict[str, str], credential: ParsedCredential) -> Expiry:
        """GET /v1/organizations/api_keys (one page of 1000), as the Admin key sees the organization's keys: ours is
        the one entry whose partial_key_hint matches it; expires_at (RFC 3339) null = never. Anthropic shows no
        last use on a key, and documents no expiry for the Admin key itself: not listed, several matches, refused
        or unreadable is unknown, never a failure."""
        listed = ("/v1/organizations/api_keys", 1000, "partial_key_hint")
        entry = own_entry(shared, headers, credential, listed, anthropic.AnthropicError)
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
        params = {"starting_at": _stamp(now - DAY_S), "ending_at": _stamp(now), "time_bucket_width": "1d", "limit": 1}

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
        return CheckResult(
            status=Status.VALID,
            message="Anthropic accepted the Enterprise Admin key: it can read the organization's costs through the "
            "analytics API.",
            checks=passed(ENTERPRISE_PROBE, buckets(outcome)),
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
        key = clean_key(credential, "Anthropic")
        if not key.startswith("sk-ant-"):
            raise malformed(
                "An Anthropic API key starts with sk-ant- (e.g. sk-ant-api03-...)."
                + (" This looks like an OpenAI key." if key.startswith("sk-") else ""),
                fix=other_provider_fix("Anthropic", "openai", "OpenAI") if key.startswith("sk-") else None,
            )
        refuse_wrong_kind(self.provider, key)
        if not _ANTHROPIC_RE.fullmatch(key):
            raise malformed("An Anthropic API key is sk-ant- followed by at least 20 letters, digits, '-' or '_'.")
        prefix = re.match(r"sk-ant-(?:api|admin|oat)\d{2}-", key)
        hint = f"{prefix.group(0) if prefix else 'sk-ant-'}...{key[-4:]}"
        kind = kind_of(self.provider, key)
        return ParsedCredential(provider=self.provider, secret=SecretStr(key), hint=hint, kind=kind)
