"""Supabase status cache: our integration_{provider}_status / _configured_at columns on the frontend's org rows.

The `organizations` table belongs to the frontend (its own id, org_name NOT NULL, row-level security): we only
read it and PATCH our columns on rows that exist; we never insert or upsert. Needs migrations/supabase/*.sql.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

import httpx
from postgrest.exceptions import APIError
from postgrest.types import CountMethod
from pydantic import SecretStr

from ..domain import CachedStatus, OrgRow, Provider, Status
from ..errors import Code, IntegrationError
from .base import WIDE_COLUMNS, StatusCache, configured_column, long_status_frame, status_column

if TYPE_CHECKING:
    import pandas as pd
else:
    from ..lazy_modules import pandas as pd  # imported when a frame is first built

TABLE = "organizations"
SYNC_FUNCTION = "integration_status_sync"  # created by migrations/supabase/002_integration_status_sync.sql
ATTEMPT_FUNCTION = "integration_check_attempt"  # created by migrations/supabase/004_integration_check_attempts.sql
PAGE = 1000  # rows asked per read; the server may cap it lower (db-max-rows): Content-Range says what is left
BATCH = 500  # status updates per RPC call
# the frontend calls the name column org_name; PostgREST renames it for us (alias:column)
COLUMNS = ",".join(["org_slug", "name:org_name"] + WIDE_COLUMNS[2:])
_MIGRATION_CODES = {"42703", "42883", "PGRST202", "PGRST204", "PGRST205"}


def _org(row: dict[str, Any]) -> OrgRow:
    statuses = {}
    for p in Provider:
        at = row.get(configured_column(p))
        statuses[p] = CachedStatus(
            status=row.get(status_column(p)) or Status.NOT_CONFIGURED,
            configured_at=datetime.fromisoformat(at) if at else None,
        )
    return OrgRow(org_slug=row["org_slug"], name=row.get("name"), statuses=statuses)


class SupabaseStatusCache(StatusCache):
    """Server-side only: uses the service-role key, which is never logged or shown."""

    name = "supabase"
    owns_org_rows = False
    counts_attempts = True

    def __init__(self, url: str, service_role_key: SecretStr, timeout: float = 10.0) -> None:
        from supabase import ClientOptions, create_client

        # postgrest truncates a sub-second timeout to 0 (a non-blocking connect that always fails): 1 s minimum
        options = ClientOptions(postgrest_client_timeout=max(1.0, timeout), postgrest_client_retry=False)
        self.url = url
        self._client = create_client(url, service_role_key.get_secret_value(), options)

    def _execute(self, what: str, query: Any, *, read: bool) -> Any:
        """Run one request; failures become STATUS_CACHE_READ_FAILED (reads) or STATUS_SYNC_FAILED (writes)."""
        self.queries += 1
        code = Code.STATUS_CACHE_READ_FAILED if read else Code.STATUS_SYNC_FAILED
        try:
            return query.execute()
        except APIError as exc:
            fix = " Apply migrations/supabase/*.sql." if exc.code in _MIGRATION_CODES else ""
            raise IntegrationError(
                code, f"Supabase refused to {what}: {exc.code or ''} {(exc.message or '')[:200]}".strip() + fix
            ) from None
        except (httpx.HTTPError, ValueError) as exc:
            raise IntegrationError(code, f"Supabase could not be reached to {what} ({type(exc).__name__}).") from None

    def _table(self) -> Any:
        return self._client.table(TABLE)

    def init(self) -> None:
        """The table belongs to the frontend: check our columns and the sync function are there (no change)."""
        self._execute("check the status columns", self._table().select(COLUMNS).limit(1), read=True)
        self._execute("check the sync function", self._client.rpc(SYNC_FUNCTION, {"updates": []}), read=False)

    def create_org(self, org_slug: str, name: str | None = None) -> None:
        """Never inserts: the frontend creates org rows. ORG_NOT_FOUND when it has not (yet)."""
        if self.get_org(org_slug) is None:
            raise IntegrationError(
                Code.ORG_NOT_FOUND,
                f"Organization {org_slug!r} has no row in Supabase's organizations table; the frontend creates it "
                "when the organization signs up. Create it there first, then register it here.",
            )

    def get_org(self, org_slug: str) -> OrgRow | None:
        query = self._table().select(COLUMNS).eq("org_slug", org_slug).limit(1)
        rows = self._execute("read the org row", query, read=True).data or []
        return _org(rows[0]) if rows else None

    def _all_rows(self) -> list[dict[str, Any]]:
        """Every row, in slug order, by keyset pages; each page's Content-Range total says how many remain."""
        rows: list[dict[str, Any]] = []
        while True:
            query = self._table().select(COLUMNS, count=CountMethod.exact).order("org_slug").limit(PAGE)
            if rows:
                query = query.gt("org_slug", rows[-1]["org_slug"])
            response = self._execute("read the org rows", query, read=True)
            page, remaining = list(response.data or []), response.count
            if remaining is None:
                raise IntegrationError(
                    Code.STATUS_CACHE_READ_FAILED, "Supabase did not say how many rows there are (no Content-Range)."
                )
            rows += page
            if len(page) >= remaining:
                return rows
            if not page:
                raise IntegrationError(
                    Code.STATUS_CACHE_READ_FAILED, f"Supabase returned no rows with {remaining} still to read."
                )

    def all_orgs(self) -> list[OrgRow]:
        return [_org(r) for r in self._all_rows()]

    def status_frame(self) -> pd.DataFrame:
        return long_status_frame(pd.DataFrame(self._all_rows(), columns=WIDE_COLUMNS))

    def set_many(self, updates: list[tuple[str, Provider, Status, datetime | None]]) -> None:
        """One update: a PATCH. More: one RPC per BATCH (each all-or-nothing), one request in flight at a time."""
        self._write(updates, checked=False)

    def set_checked(self, updates: list[tuple[str, Provider, Status, datetime | None]]) -> None:
        """As set_many, each row only where its configured_at is already the update's: one PATCH filtered on it,
        or the sync RPC with `checked` (migrations/supabase/003)."""
        self._write(updates, checked=True)

    def _write(self, updates: list[tuple[str, Provider, Status, datetime | None]], checked: bool) -> None:
        if len(updates) == 1:
            self._patch(*updates[0], checked=checked)
            return
        for start in range(0, len(updates), BATCH):
            payload = [
                {
                    "org_slug": slug,
                    "provider": provider.value.lower(),
                    "status": status.value,
                    "configured_at": at.isoformat() if at else None,
                    "checked": checked,
                }
                for slug, provider, status, at in updates[start : start + BATCH]
            ]
            response = self._execute(
                "update statuses", self._client.rpc(SYNC_FUNCTION, {"updates": payload}), read=False
            )
            missing = list(response.data or [])
            if missing:
                raise IntegrationError(
                    Code.ORG_NOT_FOUND,
                    f"Organization {missing[0]!r} has no row in Supabase"
                    + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else "")
                    + "; none of this batch was written.",
                )

    def _patch(
        self, org_slug: str, provider: Provider, status: Status, configured_at: datetime | None, *, checked: bool
    ) -> None:
        at = configured_at.isoformat() if configured_at else None
        values = {status_column(provider): status.value, configured_column(provider): at}
        query = self._table().update(values).eq("org_slug", org_slug)
        if checked:  # a conditional PATCH: PostgREST updates only a row whose configured_at is still this one
            query = query.eq(configured_column(provider), at) if at else query.is_(configured_column(provider), "null")
        if self._execute("update the status", query, read=False).data:
            return
        # PostgREST answers [] when no row matched: no row, or (checked) a row changed meanwhile, left as it is
        if not checked or self.get_org(org_slug) is None:
            raise IntegrationError(Code.ORG_NOT_FOUND, f"Organization {org_slug!r} has no row in Supabase.")

    def count_attempt(self, org_slug: str, limit: int, window_s: float) -> float | None:
        """One RPC: counted and recorded atomically in the database, on its clock, for every replica."""
        args = {"org_slug": org_slug, "max_attempts": limit, "window_s": window_s}
        wait_s = self._execute("count a check attempt", self._client.rpc(ATTEMPT_FUNCTION, args), read=False).data
        if isinstance(wait_s, list):  # the client hands a scalar result back as a one-item list ([] for null)
            wait_s = wait_s[0] if wait_s else None
        return None if wait_s is None else float(wait_s)

    def has_sync_function(self) -> bool:
        """Whether migrations/supabase/002's sync function is there (an empty call changes nothing)."""
        return self._has_function("check the sync function", SYNC_FUNCTION, {"updates": []})

    def has_attempt_function(self) -> bool:
        """Whether migrations/supabase/004's attempt function is there (a call allowing 0 attempts records none)."""
        args = {"org_slug": "doctor-probe", "max_attempts": 0, "window_s": 60.0}
        return self._has_function("check the attempt function", ATTEMPT_FUNCTION, args)

    def _has_function(self, what: str, name: str, args: dict[str, Any]) -> bool:
        try:
            self._execute(what, self._client.rpc(name, args), read=True)
            return True
        except IntegrationError as exc:
            if "PGRST202" in exc.message or "42883" in exc.message:
                return False
            raise

    def missing_columns(self) -> list[str]:
        """Our six status columns that the organizations table lacks (read-only: one select each when one fails;
        PostgREST answers 42703 for an unknown column)."""
        ours = [c for p in Provider for c in (status_column(p), configured_column(p))]
        try:
            self._execute("check the status columns", self._table().select(",".join(ours)).limit(1), read=True)
            return []
        except IntegrationError:
            pass
        missing = []
        for column in ours:
            try:
                self._execute(f"check {column}", self._table().select(column).limit(1), read=True)
            except IntegrationError as exc:
                if "42703" in exc.message or "does not exist" in exc.message or "column" in exc.message.lower():
                    missing.append(column)
                else:
                    raise
        return missing
