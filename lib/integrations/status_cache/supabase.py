"""Supabase status cache: the org row's integration_{provider}_status / _configured_at columns via PostgREST."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx
import pandas as pd
from postgrest.exceptions import APIError
from pydantic import SecretStr

from ..domain import CachedStatus, OrgRow, Provider, Status
from ..errors import IntegrationError
from .base import WIDE_COLUMNS, StatusCache, configured_column, long_status_frame, status_column

TABLE = "organizations"
PAGE = 1000


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

    def __init__(self, url: str, service_role_key: SecretStr, timeout: float = 10.0) -> None:
        from supabase import ClientOptions, create_client

        # postgrest truncates a sub-second timeout to 0 (a non-blocking connect that always fails): 1 s minimum
        options = ClientOptions(postgrest_client_timeout=max(1.0, timeout), postgrest_client_retry=False)
        self.url = url
        self._client = create_client(url, service_role_key.get_secret_value(), options)

    def _run(self, what: str, query: Any) -> list[dict[str, Any]]:
        self.queries += 1
        try:
            return list(query.execute().data or [])
        except APIError as exc:
            raise IntegrationError(
                "STATUS_SYNC_FAILED",
                f"Supabase refused to {what}: {exc.code or ''} {(exc.message or '')[:200]}".strip(),
            ) from None
        except (httpx.HTTPError, ValueError) as exc:
            raise IntegrationError(
                "STATUS_SYNC_FAILED", f"Supabase could not be reached to {what} ({type(exc).__name__})."
            ) from None

    def _table(self) -> Any:
        return self._client.table(TABLE)

    def init(self) -> None:
        """The table belongs to Supabase (see migrations/supabase); check that the columns are there."""
        self._run(
            "check the status columns",
            self._table().select(",".join(["org_slug"] + [status_column(p) for p in Provider])).limit(1),
        )

    def create_org(self, org_slug: str, name: str | None = None) -> None:
        row = {"org_slug": org_slug} | ({"name": name} if name else {})
        self._run(
            "create the org row", self._table().upsert(row, on_conflict="org_slug", ignore_duplicates=name is None)
        )

    def get_org(self, org_slug: str) -> OrgRow | None:
        rows = self._run("read the org row", self._table().select("*").eq("org_slug", org_slug).limit(1))
        return _org(rows[0]) if rows else None

    def _all_rows(self, columns: str = "*") -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        while True:  # PostgREST caps a response; page through in slug order
            page = self._run(
                "read the org rows",
                self._table().select(columns).order("org_slug").range(len(rows), len(rows) + PAGE - 1),
            )
            rows += page
            if len(page) < PAGE:
                return rows

    def all_orgs(self) -> list[OrgRow]:
        return [_org(r) for r in self._all_rows()]

    def status_frame(self) -> pd.DataFrame:
        return long_status_frame(pd.DataFrame(self._all_rows(",".join(WIDE_COLUMNS)), columns=WIDE_COLUMNS))

    def set_many(self, updates: list[tuple[str, Provider, Status, datetime | None]]) -> None:
        """One upsert per provider and 500 rows (reconcile creates missing org rows before calling this)."""
        for provider in Provider:
            rows = [
                {"org_slug": slug, status_column(p): status.value, configured_column(p): at.isoformat() if at else None}
                for slug, p, status, at in updates
                if p == provider
            ]
            for start in range(0, len(rows), 500):
                self._run("update statuses", self._table().upsert(rows[start : start + 500], on_conflict="org_slug"))

    def set_status(self, org_slug: str, provider: Provider, status: Status, configured_at: datetime | None) -> None:
        values = {
            status_column(provider): status.value,
            configured_column(provider): configured_at.isoformat() if configured_at else None,
        }
        updated = self._run("update the status", self._table().update(values).eq("org_slug", org_slug))
        if not updated:  # PostgREST answers [] when no row matched: not an error to it, but to us
            raise IntegrationError("ORG_NOT_FOUND", f"Organization {org_slug!r} has no row in Supabase.")

    def missing_columns(self) -> list[str]:
        """Our six status columns that the organizations table lacks (read-only: one select each when one fails;
        PostgREST answers 42703 for an unknown column)."""
        ours = [c for p in Provider for c in (status_column(p), configured_column(p))]
        try:
            self._run("check the status columns", self._table().select(",".join(ours)).limit(1))
            return []
        except IntegrationError:
            pass
        missing = []
        for column in ours:
            try:
                self._run(f"check {column}", self._table().select(column).limit(1))
            except IntegrationError as exc:
                if "42703" in exc.message or "does not exist" in exc.message or "column" in exc.message.lower():
                    missing.append(column)
                else:
                    raise
        return missing
