"""The org x provider table: recorded status (system of record) beside cached status (status cache).

Each side comes as one frame (one query each: `IntegrationStore.active_frame`, `StatusCache.status_frame`) and
they are merged column-wise, so 10,000 orgs cost a few pandas operations rather than 30,000 Python rows."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from .domain import DataStatus, Provider, Status
from .freshness import LAGS
from .status_cache.base import CACHED_COLUMNS, orgs_frame
from .store.base import ACTIVE_COLUMNS, records_frame

if TYPE_CHECKING:
    import pandas as pd
else:
    from .lazy_modules import pandas as pd  # imported when a frame is first built

__all__ = ["ACTIVE_COLUMNS", "CACHED_COLUMNS", "COLUMNS", "orgs_frame", "overview_frame", "records_frame"]

COLUMNS = [
    "org_slug",
    "org_name",
    "provider",
    "status",
    "cached_status",
    "drift",
    "credential_name",
    "credential_hint",
    "last_validated_at",
    "validation_age_days",
    "configured_at",
    "cached_configured_at",
    "error_code",
    "error_message",
    "credential_id",
    "key_ref",
    "has_ciphertext",
    "data_status",
]
KEY = ["org_slug", "provider"]


def utc(column: pd.Series) -> pd.Series:
    """Datetimes, ISO strings or None -> tz-aware UTC timestamps (NaT for missing)."""
    return pd.to_datetime(column, utc=True, format="ISO8601")


def overview_frame(active: pd.DataFrame, cached: pd.DataFrame) -> pd.DataFrame:
    """Merge both sides; orgs present on only one side still get their three rows."""
    active = active.assign(last_validated_at=utc(active.last_validated_at), configured_at=utc(active.configured_at))
    cached = cached.assign(cached_configured_at=utc(cached.cached_configured_at))
    names = cached.drop_duplicates("org_slug").set_index("org_slug")["org_name"]
    slugs = pd.Index(names.index).union(pd.Index(active.org_slug.unique())).sort_values()
    grid = pd.MultiIndex.from_product([slugs, [p.value for p in Provider]], names=KEY).to_frame(index=False)
    frame = grid.merge(cached.drop(columns="org_name"), on=KEY, how="left", indicator="cache_row")
    frame = frame.merge(active, on=KEY, how="left")
    frame["org_name"] = frame.org_slug.map(names)
    frame["status"] = frame.status.fillna(Status.NOT_CONFIGURED.value)
    in_cache = frame.pop("cache_row") == "both"  # the cache has a row per provider for each org it knows
    frame.loc[~in_cache, "cached_status"] = None  # None, not NaN: no cached status to compare
    recorded, cached_at = frame.configured_at, frame.cached_configured_at
    moved = (cached_at - recorded).abs() >= pd.Timedelta(seconds=1)
    frame["drift"] = (
        ~in_cache
        | (frame.cached_status != frame.status)
        | (cached_at.isna() != recorded.isna())
        | (moved & cached_at.notna() & recorded.notna())
    )
    frame["validation_age_days"] = (datetime.now(UTC) - frame.last_validated_at).dt.total_seconds() / 86400
    frame["has_ciphertext"] = frame.has_ciphertext.astype("boolean").fillna(False).astype(bool)
    frame["data_status"] = _data_now(frame)
    return frame[COLUMNS]


def _data_now(frame: pd.DataFrame) -> pd.Series:
    """The stored data status aged to now (freshness.current, vectorised): a source not re-checked since its
    newest data reads STALE or STALLED once that data is older than the provider's lag."""
    age = datetime.now(UTC) - utc(frame.data_newest_at)
    stale = frame.provider.map({p.value: lag.stale for p, lag in LAGS.items()})
    stalled = frame.provider.map({p.value: lag.stalled for p, lag in LAGS.items()})
    aged = pd.Series(DataStatus.FRESH.value, index=frame.index)
    aged = aged.mask(age > stale, DataStatus.STALE.value).mask(age > stalled, DataStatus.STALLED.value)
    status = frame.data_status.astype(object).where(frame.data_status.notna(), None)
    return status.where(age.isna() | status.isna(), aged)
