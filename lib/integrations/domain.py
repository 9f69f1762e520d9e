"""Providers, statuses, credential records and events: the vocabulary every layer shares (results: results.py)."""

from __future__ import annotations

import re
import time
import uuid
from datetime import UTC, date, datetime
from email.utils import parsedate_to_datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field

from . import provider_registry
from .errors import Code, IntegrationError

SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")
MAX_CREDENTIAL_BYTES = 16 * 1024
CREDENTIAL_TOO_LARGE = "The credential is over 16 KiB; no provider key is that long."  # MALFORMED_CREDENTIAL
MAX_METADATA_BYTES = 4 * 1024


class _Provider(StrEnum):
    """A registered provider (provider_registry.py): its members are the registered specs' names."""

    @property
    def label(self) -> str:
        """Human name: OpenAI, Anthropic, Google Cloud."""
        return provider_registry.spec(self.value).label

    @classmethod
    def parse(cls, value: Any) -> Any:
        """Accept the enum or any-case string; anything else is UNSUPPORTED_PROVIDER."""
        if isinstance(value, cls):
            return value
        if isinstance(value, str) and value.strip().upper() in cls.__members__:
            return cls[value.strip().upper()]
        shown = value[:40] if isinstance(value, str) else type(value).__name__
        known = [m.lower() for m in cls.__members__]
        choices = ", ".join(known[:-1]) + f" or {known[-1]}" if len(known) > 1 else "".join(known)
        raise IntegrationError(Code.UNSUPPORTED_PROVIDER, f"Unsupported provider {shown!r}: use {choices}.")


if TYPE_CHECKING:  # the built-in members, for the type checker; at run time the members are the registry's

    class Provider(_Provider):
        OPENAI = "OPENAI"
        ANTHROPIC = "ANTHROPIC"
        GCP = "GCP"

        @classmethod
        def parse(cls, value: Provider | str) -> Provider: ...

else:
    Provider = _Provider("Provider", [(n, n) for n in provider_registry.names()], module=__name__, qualname="Provider")


class Status(StrEnum):
    VALID = "VALID"
    INVALID = "INVALID"
    PENDING = "PENDING"
    NOT_CONFIGURED = "NOT_CONFIGURED"


class CredentialKind(StrEnum):
    """What a credential is for, read from its format: inference keys, Admin keys, service accounts."""

    PROJECT = "PROJECT"  # OpenAI sk-proj-
    SERVICE_ACCOUNT = "SERVICE_ACCOUNT"  # OpenAI sk-svcacct-, or a GCP service-account key file
    USER = "USER"  # OpenAI legacy user key sk-
    API = "API"  # Anthropic sk-ant-api03-
    ADMIN = "ADMIN"  # OpenAI sk-admin-, Anthropic sk-ant-admin01-: reads the organization's usage and costs
    KEYLESS = "KEYLESS"  # GCP without a key: the org's principal is granted read access (nothing secret stored)
    ENTERPRISE_ADMIN = "ENTERPRISE_ADMIN"  # Anthropic sk-ant-api01- that the Enterprise analytics probe accepted

    @property
    def label(self) -> str:
        """Human name: Project key, Admin key, ..."""
        return {
            "PROJECT": "Project key",
            "SERVICE_ACCOUNT": "Service-account key",
            "USER": "User key (legacy)",
            "API": "API key",
            "ADMIN": "Admin key",
            "KEYLESS": "Keyless (no key file)",
            "ENTERPRISE_ADMIN": "Enterprise Admin key",
        }[self.value]


class DataStatus(StrEnum):
    """Is the org's cost data arriving? Beside, never instead of, the credential's validation status."""

    PENDING_FIRST_DATA = "PENDING_FIRST_DATA"  # the source answers but holds no data yet (not a failure)
    FRESH = "FRESH"  # the newest data is within the provider's expected lag
    STALE = "STALE"  # older than the expected lag: a warning, the numbers may be incomplete
    STALLED = "STALLED"  # far older: the data has stopped arriving


class DataObservation(BaseModel):
    """What a freshness probe read from a cost source (a cost endpoint's buckets, an export table's
    lastModifiedTime): the newest data it holds. Any provider's probe fills it; freshness.judge decides."""

    source: str  # "cost report", "export table", ...
    newest_at: datetime | None = None  # end of the newest non-empty bucket (never after now), or lastModifiedTime
    data_through: date | None = None  # the newest day with data
    since: datetime | None = None  # when the source began to exist (a table's creationTime), if known


class Expiry(BaseModel):
    """When a key expires and when it was last used, as its provider exposes them (OpenAI Admin keys, Anthropic
    keys as an Admin key lists them). `never`: the provider says it does not expire; `known` False: it could not be
    read (refused, several matches) -- "unknown", never INVALID."""

    known: bool
    never: bool = False
    expires_at: datetime | None = None
    last_used_at: datetime | None = None

    @property
    def label(self) -> str:
        if not self.known:
            return "unknown"
        return "never expires" if self.never or self.expires_at is None else f"expires {self.expires_at:%Y-%m-%d}"


class Action(StrEnum):
    SETUP = "SETUP"
    VALIDATE = "VALIDATE"
    DELETE = "DELETE"
    SYNC = "SYNC"
    RECONCILE = "RECONCILE"
    REWRAP = "REWRAP"
    ORG_KEY = "ORG_KEY"
    ALERT = "ALERT"  # a status-flip alert that could not be delivered (alerts.py)
    EXPIRY = "EXPIRY"  # a key reached 30, 7 or 1 days before its expiry (once per mark)
    TEST = "TEST"  # a credential checked without saving (nothing stored; the key's hint only)


class Outcome(StrEnum):
    SUCCESS = "SUCCESS"
    REJECTED = "REJECTED"
    INCONCLUSIVE = "INCONCLUSIVE"
    FAILED = "FAILED"


def check_slug(slug: object) -> str:
    """Return the slug if valid, else raise INVALID_ORG_SLUG."""
    if not isinstance(slug, str) or not SLUG_RE.fullmatch(slug):
        raise IntegrationError(
            Code.INVALID_ORG_SLUG,
            "Invalid organization slug: use 2-63 lower-case letters, digits "
            "and dashes, starting with a letter or digit.",
        )
    return slug


def retry_after(rate_limit: dict[str, str]) -> str | None:
    """The provider's Retry-After (seconds or an HTTP date) exactly as it said it, when it said a valid one."""
    value = rate_limit.get("retry-after", "").strip()
    if value.isdigit():
        return value
    try:
        return value if value and parsedate_to_datetime(value) is not None else None
    except (TypeError, ValueError):
        return None


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_event_id() -> str:
    return f"evt_{uuid.uuid4().hex}"


def make_event(
    org_slug: str,
    provider: Provider | None,
    action: Action,
    outcome: Outcome,
    actor: str,
    started: float | None = None,
    **fields: Any,
) -> Event:
    """A history row stamped now; `started` (time.monotonic()) gives its duration."""
    duration = int((time.monotonic() - started) * 1000) if started is not None else 0
    return Event(
        event_id=new_event_id(),
        at=utcnow(),
        org_slug=org_slug,
        provider=provider,
        action=action,
        outcome=outcome,
        actor=actor,
        duration_ms=duration,
        **fields,
    )


class CheckItem(BaseModel):
    """One line of a validation checklist (e.g. a GCP permission)."""

    name: str
    passed: bool
    detail: str = ""


class Capability(BaseModel):
    """What the platform can do with a credential: `inference` or `cost data`, passed or not available."""

    name: Literal["inference", "cost data"]
    status: Literal["passed", "not available"]
    detail: str = ""


class CheckResult(BaseModel):
    """What a live check found. `error_code` is None when the credential is valid."""

    status: Status
    error_code: str | None = None
    message: str = ""
    retryable: bool = False
    checks: list[CheckItem] = Field(default_factory=list)
    rate_limit: dict[str, str] = Field(default_factory=dict)
    capabilities: list[Capability] = Field(default_factory=list)
    kind: CredentialKind | None = None  # the kind the probe found, where the prefix could not tell (sk-ant-api01-)
    data: DataObservation | None = None  # what the cost source holds, when the check read it
    expiry: Expiry | None = None  # when the key expires, when the check could ask

    @property
    def retry_after(self) -> str | None:
        return retry_after(self.rate_limit)


class StoredCredential(BaseModel):
    """A row of org_integrations. Holds ciphertext only."""

    credential_id: str
    org_slug: str
    provider: Provider
    credential_name: str | None = None
    encrypted_credential: bytes | None = Field(default=None, repr=False)
    key_ref: str | None = None
    credential_hint: str = ""
    credential_fingerprint: str = ""
    metadata: dict[str, Any] = Field(default_factory=dict)
    is_active: bool = True
    validation_status: Status = Status.PENDING
    validation_error_code: str | None = None
    validation_error_message: str | None = None
    last_validated_at: datetime | None = None
    created_at: datetime
    updated_at: datetime
    created_by: str | None = None
    updated_by: str | None = None
    deleted_at: datetime | None = None
    credential_kind: CredentialKind | None = None  # None on rows stored before kinds were recorded
    data_status: DataStatus | None = None  # None: the credential reads no cost data, or it was never probed
    data_through: date | None = None  # the newest day with data
    data_newest_at: datetime | None = None  # when the newest data ends (the age is measured from here)
    last_success_at: datetime | None = None  # the last time the cost source was read successfully
    expiry: str | None = None  # Expiry.label: "expires YYYY-MM-DD", "never expires", "unknown"; None: never read
    expires_at: datetime | None = None
    last_used_at: datetime | None = None


class Event(BaseModel):
    """A row of the append-only org_integration_events history."""

    event_id: str
    at: datetime
    org_slug: str
    provider: Provider | None = None
    credential_id: str | None = None
    action: Action
    status_before: Status | None = None
    status_after: Status | None = None
    outcome: Outcome
    error_code: str | None = None
    message: str = ""
    actor: str = "system"
    duration_ms: int = 0
    run_id: str | None = None  # the bulk or task run that made this check; None for a single action


class OrgApiKey(BaseModel):
    org_slug: str
    key_id: str
    key_prefix: str
    key_hash: str
    created_at: datetime
    revoked_at: datetime | None = None


class CachedStatus(BaseModel):
    status: Status = Status.NOT_CONFIGURED
    configured_at: datetime | None = None


class OrgRow(BaseModel):
    """A row of the status cache's organizations table."""

    org_slug: str
    name: str | None = None
    statuses: dict[Provider, CachedStatus] = Field(default_factory=dict)

    def status_of(self, provider: Provider) -> CachedStatus:
        return self.statuses.get(provider, CachedStatus())
