"""Which orgs exist, and what the status cache says about them.

An org exists when it was registered: it has API keys (live or revoked) in the system of record. The status cache
is derived data, so reads never depend on it: when it cannot be read, or disagrees with the record, the result
carries a warning instead of failing.
"""

from __future__ import annotations

import pandas as pd

from .domain import Provider, Status
from .errors import IntegrationError
from .overview import CACHED_COLUMNS
from .status_cache.base import StatusCache
from .store.base import IntegrationStore


def is_registered(store: IntegrationStore, org_slug: str) -> bool:
    """True when the org was registered (it has at least one API key, revoked ones included)."""
    return bool(store.api_keys(org_slug))


def registered_orgs(store: IntegrationStore) -> list[str]:
    """Every registered org's slug, sorted, in one store query."""
    return sorted({k.org_slug for k in store.api_keys()})


def unreadable(exc: IntegrationError) -> str:
    return (
        f"{exc.code}: the status cache could not be read ({exc.message}); statuses shown come from the system of "
        "record."
    )


def cache_warnings(cache: StatusCache, org_slug: str, recorded: dict[Provider, Status]) -> list[str]:
    """Warnings about the org's cached statuses: unreadable, missing, or different from `recorded`."""
    try:
        row = cache.get_org(org_slug)
    except IntegrationError as exc:
        return [unreadable(exc)]
    if row is None:
        return [f"The status cache has no row for {org_slug}; run `integrations reconcile` once the org has one."]
    differing = [p.value for p, status in recorded.items() if row.status_of(p).status != status]
    if differing:
        return [
            f"The status cache disagrees with the system of record for {', '.join(differing)}; "
            "run `integrations reconcile` to repair it."
        ]
    return []


def cached_frame(cache: StatusCache) -> tuple[pd.DataFrame, list[str]]:
    """The cache's status frame, or an empty one and a warning when the cache cannot be read."""
    try:
        return cache.status_frame(), []
    except IntegrationError as exc:
        if exc.code != "STATUS_CACHE_READ_FAILED":
            raise
        return pd.DataFrame(columns=CACHED_COLUMNS), [unreadable(exc) + " Drift cannot be computed meanwhile."]
