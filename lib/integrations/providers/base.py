"""The Validator port: a format check (always, offline) and a live check (through the provider's SDK)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from contextlib import nullcontext
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from ..domain import CheckResult, CredentialKind, Provider
from ..errors import Code, IntegrationError
from .scrub import scrub


class ParsedCredential(BaseModel):
    """A credential that passed its format check. Only `hint` and `info` are safe to show."""

    model_config = ConfigDict(frozen=True)

    provider: Provider
    secret: SecretStr
    hint: str
    secret_parts: tuple[SecretStr, ...] = Field(default=(), repr=False)
    info: dict[str, Any] = Field(default_factory=dict)
    kind: CredentialKind | None = None
    need: str | None = None  # what is asked of the key ("inference", "cost data"): picks the probe where it can

    def scrub(self, text: str) -> str:
        """`text` without any fragment of this credential."""
        parts = [self.secret.get_secret_value()] + [p.get_secret_value() for p in self.secret_parts]
        return scrub(text, parts)


def malformed(message: str, fix: str | None = None) -> IntegrationError:
    """MALFORMED_CREDENTIAL; `fix` when this very case has a better one than the catalog's (another provider's key:
    choose that provider)."""
    return IntegrationError(Code.MALFORMED_CREDENTIAL, message, fix=fix)


def other_provider_fix(provider_label: str, other: str, other_label: str) -> str:
    """The fix for a key of another provider: choose that provider, or paste this provider's key."""
    return (
        f"Set this key up under {other_label} instead (provider `{other}`; console: choose {other_label}), or paste "
        f"the {provider_label} credential here."
    )


class Validator(ABC):
    provider: Provider

    @abstractmethod
    def parse(self, credential: SecretStr, stored: bool = False) -> ParsedCredential:
        """Format check; raises MALFORMED_CREDENTIAL with a precise message. No network.

        `stored`: the credential passed this check when it was stored; expensive checks may be skipped."""

    @abstractmethod
    def check(self, credential: ParsedCredential, metadata: dict[str, Any] | None = None) -> CheckResult:
        """Live check. Never raises for provider outcomes: every outcome is a CheckResult with a catalog code.

        `metadata`: the integration's metadata (GCP reads `billing_export_table` from it)."""

    def parse_keyless(self, org_slug: str, export_table: str, customer_sa: str | None, at: Any) -> ParsedCredential:
        """A keyless setup for `org_slug` (GCP only)."""
        raise IntegrationError(Code.INVALID_INPUT, f"Keyless setup exists for GCP only, not {self.provider.value}.")

    def ensure_principal(self, org_slug: str) -> str | None:
        """Create the org's keyless principal when the deployment creates them on demand (GCP only)."""
        return None

    def run_scope(self) -> Any:
        """Entered around a bulk run: a validator may reuse what it obtained for the run (GCP keyless tokens)."""
        return nullcontext()

    def check_metadata(self, metadata: dict[str, Any]) -> None:  # noqa: B027 - most providers read no metadata
        """Refuse metadata this provider reads but cannot use (INVALID_INPUT). No network."""


def rfc3339(value: object) -> datetime | None:
    """A provider's RFC 3339 timestamp ("2026-12-13T00:00:00Z") as an aware datetime; None when it is not one."""
    if not isinstance(value, str):
        return None
    try:
        found = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return found if found.tzinfo is not None else None
