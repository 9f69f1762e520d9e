"""Registering an org, and what the status cache says about it.

The status cache is derived data, so reads never depend on it: when it cannot be read, or disagrees with the
record, the result carries a warning instead of failing."""

from __future__ import annotations

import pandas as pd

from .. import limits
from ..deps import Deps
from ..domain import Provider, Status, check_slug
from ..errors import Code, IntegrationError
from ..results import WarningInfo
from ..status_cache.base import CACHED_COLUMNS
from . import orgkeys


def register(deps: Deps, org_slug: str, name: str | None = None, actor: str = "system") -> str:
    """Issue an org API key (returned once), registering the org. Its status-cache row is created where the cache
    owns its rows (local); Supabase's belong to the frontend, so there the row must exist already (ORG_NOT_FOUND
    otherwise, and nothing is issued). An org that has keys already is refused (ORG_EXISTS): a second live key is
    issued only by rotate."""
    check_slug(org_slug)
    name = limits.org_name(name)  # shown in the console and the status cache: one plain line
    if deps.store.api_keys(org_slug):
        raise IntegrationError(Code.ORG_EXISTS, f"Organization {org_slug!r} exists; rotate its key instead.")
    deps.cache.create_org(org_slug, name)
    key = orgkeys.issue(deps, org_slug, actor)
    deps.known_orgs.add(org_slug)
    return key


def unreadable(exc: IntegrationError, more: str = "") -> WarningInfo:
    message = f"the status cache could not be read ({exc.message}); statuses shown come from the system of record."
    return WarningInfo.of(exc.code, message + more)


def cache_warnings(deps: Deps, org_slug: str, recorded: dict[Provider, Status]) -> list[WarningInfo]:
    """Warnings about the org's cached statuses: unreadable, missing, or different from `recorded`."""
    try:
        row = deps.cache.get_org(org_slug)
    except IntegrationError as exc:
        return [unreadable(exc)]
    if row is None:
        message = f"The status cache has no row for {org_slug}; run `integrations reconcile` once the org has one."
        return [WarningInfo.of(Code.STATUS_CACHE_DRIFT, message)]
    differing = [p.value for p, status in recorded.items() if row.status_of(p).status != status]
    if differing:
        return [
            WarningInfo.of(
                Code.STATUS_CACHE_DRIFT,
                f"The status cache disagrees with the system of record for {', '.join(differing)}; "
                "run `integrations reconcile` to repair it.",
            )
        ]
    return []


def cached_frame(deps: Deps) -> tuple[pd.DataFrame, list[str]]:
    """The cache's status frame, or an empty one and a warning when the cache cannot be read."""
    try:
        return deps.cache.status_frame(), []
    except IntegrationError as exc:
        if exc.code != Code.STATUS_CACHE_READ_FAILED:
            raise
        return pd.DataFrame(columns=CACHED_COLUMNS), [str(unreadable(exc, " Drift cannot be computed meanwhile."))]
