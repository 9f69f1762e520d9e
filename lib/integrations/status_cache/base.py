"""The StatusCache port: one row per org with integration_{provider}_status / _configured_at.

Derived data, never a secret: it can always be rebuilt from the system of record.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import datetime
from typing import TYPE_CHECKING

from ..domain import OrgRow, Provider, Status
from ..errors import Code, IntegrationError

if TYPE_CHECKING:
    import pandas as pd
else:
    from ..lazy_modules import pandas as pd  # imported when a frame is first built

_STATUS = {p: f"integration_{p.value.lower()}_status" for p in Provider}
_CONFIGURED = {p: f"integration_{p.value.lower()}_configured_at" for p in Provider}


# the status cache's read model for the overview: one row per org and provider
CACHED_COLUMNS = ["org_slug", "org_name", "provider", "cached_status", "cached_configured_at"]


def orgs_frame(orgs: list[OrgRow]) -> pd.DataFrame:
    """CACHED_COLUMNS from org rows (the status cache port's default)."""
    rows = [
        (o.org_slug, o.name, p.value, o.status_of(p).status.value, o.status_of(p).configured_at)
        for o in orgs
        for p in Provider
    ]
    return pd.DataFrame(rows, columns=CACHED_COLUMNS)


def status_column(provider: Provider) -> str:
    return _STATUS[provider]  # precomputed: an enum property costs microseconds, and overview() reads 30k


def configured_column(provider: Provider) -> str:
    return _CONFIGURED[provider]


WIDE_COLUMNS = ["org_slug", "name"] + [c for p in Provider for c in (_STATUS[p], _CONFIGURED[p])]


def long_status_frame(wide: pd.DataFrame) -> pd.DataFrame:
    """The organizations table as read (WIDE_COLUMNS) -> CACHED_COLUMNS, one row per org and provider."""
    parts = [
        pd.DataFrame(
            {
                "org_slug": wide["org_slug"],
                "org_name": wide["name"],
                "provider": p.value,
                "cached_status": wide[_STATUS[p]].fillna(Status.NOT_CONFIGURED.value),
                "cached_configured_at": wide[_CONFIGURED[p]],
            }
        )
        for p in Provider
    ]
    return pd.concat(parts, ignore_index=True)[CACHED_COLUMNS]


class StatusCache(ABC):
    name: str = "status-cache"
    queries: int = 0
    owns_org_rows: bool = True  # False where the org rows belong to someone else (Supabase: the frontend's table)
    counts_attempts: bool = False  # True where count_attempt is shared by every process using the cache

    @abstractmethod
    def init(self) -> None:
        """Create the table if missing (idempotent; a no-op where a migration owns it)."""

    @abstractmethod
    def create_org(self, org_slug: str, name: str | None = None) -> None:
        """Insert the org's row if missing (idempotent); statuses start NOT_CONFIGURED. Where the rows are not
        ours (`owns_org_rows` False) only check that it exists: ORG_NOT_FOUND otherwise, and nothing is written."""

    def create_orgs(self, org_slugs: list[str]) -> None:
        """create_org (no name) for several orgs; adapters that own their rows insert them in one write."""
        for org_slug in org_slugs:
            self.create_org(org_slug)

    @abstractmethod
    def get_org(self, org_slug: str) -> OrgRow | None:
        """The org's row, or None; STATUS_CACHE_READ_FAILED when the cache cannot be read."""

    @abstractmethod
    def all_orgs(self) -> list[OrgRow]:
        """Every org row in slug order (paged where the server caps a response, never silently short)."""

    def set_status(self, org_slug: str, provider: Provider, status: Status, configured_at: datetime | None) -> None:
        """Update one org's cached status; ORG_NOT_FOUND when no row matched, STATUS_SYNC_FAILED on I/O."""
        self.set_many([(org_slug, provider, status, configured_at)])

    @abstractmethod
    def set_many(self, updates: list[tuple[str, Provider, Status, datetime | None]]) -> None:
        """Apply several updates in one write; ORG_NOT_FOUND, naming one, when an org has no row."""

    @abstractmethod
    def set_checked(self, updates: list[tuple[str, Provider, Status, datetime | None]]) -> None:
        """A check's statuses, each a compare-and-set: written only where the row's configured_at is already the
        update's (the checked credential's), so a row whose credential was deleted or replaced meanwhile keeps
        that newer state. ORG_NOT_FOUND, naming one, when an org has no row."""

    def count_attempt(self, org_slug: str, limit: int, window_s: float) -> float | None:
        """Record one credential check of the org unless `limit` were recorded in the last `window_s` seconds,
        atomically and for every process using this cache (the attempt limiter's shared state). None when
        recorded, else the seconds until the oldest leaves the window. Only where `counts_attempts`."""
        raise IntegrationError(Code.CONFIGURATION_ERROR, f"The {self.name} status cache does not count attempts.")

    def ping(self) -> None:
        self.get_org("ping-probe")

    def status_frame(self) -> pd.DataFrame:
        """CACHED_COLUMNS (one row per org and provider), in one query. Adapters may read it directly."""
        return orgs_frame(self.all_orgs())
