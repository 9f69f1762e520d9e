"""OpenAI: the key format check, and the live check's cost report and Admin key list through the openai SDK."""

from __future__ import annotations

import re
import time
from typing import Any

import openai
from pydantic import SecretStr

from ..domain import Expiry, Provider
from .base import ParsedCredential, malformed, other_provider_fix
from .kinds import refuse_wrong_kind
from .sdk_calls import DAY_S, WINDOW_DAYS, SdkKeyValidator, clean_key, epoch, own_entry

_OPENAI_RE = re.compile(r"^sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{20,}$")


class OpenAIValidator(SdkKeyValidator):
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

    def _expiry(self, shared: Any, headers: dict[str, str], credential: ParsedCredential) -> Expiry:
        """GET /v1/organization/admin_api_keys (one page of 100): our key is the one entry whose redacted value
        matches it; expires_at null = never. Refused, unreadable or several matches: unknown, never a failure."""
        listed = ("/organization/admin_api_keys", 100, "redacted_value")
        entry = own_entry(shared, headers, credential, listed, openai.OpenAIError)
        if entry is None:
            return Expiry(known=False)
        expires = epoch(entry.get("expires_at"))
        return Expiry(
            known=True, never=expires is None, expires_at=expires, last_used_at=epoch(entry.get("last_used_at"))
        )

    def parse(self, credential: SecretStr, stored: bool = False) -> ParsedCredential:
        key = clean_key(credential, "OpenAI")
        if key.startswith("sk-ant-"):
            raise malformed(
                "This is an Anthropic key (sk-ant-...); choose the Anthropic provider.",
                fix=other_provider_fix("OpenAI", "anthropic", "Anthropic"),
            )
        family = refuse_wrong_kind(self.provider, key)
        if family is None or not _OPENAI_RE.fullmatch(key):
            raise malformed(
                "An OpenAI API key starts with sk-, sk-proj-, sk-svcacct- or sk-admin- followed by at least 20 "
                "letters, digits, '-' or '_'."
            )
        return ParsedCredential(
            provider=self.provider, secret=SecretStr(key), hint=f"{family.prefix}...{key[-4:]}", kind=family.kind
        )
