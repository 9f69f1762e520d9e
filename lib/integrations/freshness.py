"""Is the org's cost data arriving? The data status of a cost source, judged against the provider's expected lag.

A check's probe reports what the source holds (domain.DataObservation); `judge` turns that into PENDING_FIRST_DATA /
FRESH / STALE / STALLED. The credential's validation status is never touched here: a stale source is a warning,
never INVALID, and missing data is never shown as $0. Thresholds (../shared/reference/providers.md, "Cost data and
freshness"): GCP STALE when the export table's lastModifiedTime is over 24 h old (Harness's line), STALLED over
72 h; OpenAI and Anthropic publish no latency (Anthropic's analytics up to 24 h per secondary sources), so the same
lines apply to the newest non-empty cost bucket. Tune on live data."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import NamedTuple

from pydantic import BaseModel

from .domain import DataObservation, DataStatus, Provider, StoredCredential
from .errors import Code


class Lag(NamedTuple):
    """How old the newest data may be: over `stale` it is STALE, over `stalled` STALLED."""

    stale: timedelta
    stalled: timedelta


LAGS = {
    Provider.OPENAI: Lag(timedelta(hours=24), timedelta(hours=72)),
    Provider.ANTHROPIC: Lag(timedelta(hours=24), timedelta(hours=72)),
    Provider.GCP: Lag(timedelta(hours=24), timedelta(hours=72)),
}
PENDING_GRACE = timedelta(hours=48)  # a new export can take 24-48 h to appear: no data is not a failure until then


class Freshness(BaseModel):
    """A credential's data status and why: what the status overview, REST, the CLI and the console show."""

    data_status: DataStatus
    data_through: date | None = None  # the newest day with data
    data_newest_at: datetime | None = None
    last_success_at: datetime | None = None
    error_code: str | None = None  # DATA_STALE / DATA_STALLED: a warning with a catalog entry, never INVALID
    message: str = ""


def _hours(delta: timedelta) -> str:
    return f"{delta.total_seconds() / 3600:.0f} h"


def judge(
    provider: Provider,
    seen: DataObservation,
    now: datetime,
    before: StoredCredential | None = None,
) -> Freshness:
    """The data status of `provider`'s source at `now` from what its probe saw. A window with no data keeps the
    newest data seen before (`before`, the stored record), so data that stops arriving ages into STALE and STALLED
    rather than reading as pending again; the source's creation (else the credential's) bounds the wait for first
    data."""
    lag = LAGS[provider]
    newest, through = seen.newest_at, seen.data_through
    if newest is None and before is not None:
        newest, through = before.data_newest_at, before.data_through
    pending_since = before.created_at if before is not None else None
    if newest is not None and newest > now:
        newest = now  # a bucket still open ends now, never in the future
    if newest is None:
        since = seen.since or pending_since
        if since is not None and now - since > lag.stalled + PENDING_GRACE:
            return Freshness(
                data_status=DataStatus.STALLED,
                last_success_at=now,
                error_code=Code.DATA_STALLED,
                message=f"{provider.label}'s {seen.source} has held no data for {_hours(now - since)}.",
            )
        return Freshness(
            data_status=DataStatus.PENDING_FIRST_DATA,
            last_success_at=now,
            message=f"{provider.label}'s {seen.source} answers but holds no data yet; first data can take up to "
            f"{_hours(PENDING_GRACE)}.",
        )
    age = now - newest
    shown = f"{provider.label}'s newest cost data is {_hours(age)} old (expected within {_hours(lag.stale)})"
    if age > lag.stalled:
        status, code, say = DataStatus.STALLED, Code.DATA_STALLED, f"{shown}: the data has stopped arriving."
    elif age > lag.stale:
        status, code, say = DataStatus.STALE, Code.DATA_STALE, f"{shown}: the numbers may be incomplete."
    else:
        status, code, say = DataStatus.FRESH, None, f"{shown}."
    return Freshness(
        data_status=status,
        data_through=through,
        data_newest_at=newest,
        last_success_at=now,
        error_code=code,
        message=say,
    )


def current(record: StoredCredential, now: datetime) -> DataStatus | None:
    """The stored data status aged to `now` (a source not re-checked for days reads STALE, not FRESH)."""
    if record.data_status is None or record.data_newest_at is None:
        return record.data_status
    age, lag = now - record.data_newest_at, LAGS[record.provider]
    return DataStatus.STALLED if age > lag.stalled else DataStatus.STALE if age > lag.stale else DataStatus.FRESH
