"""Frames shaped for people: the status page's attention queue and charts, and the audit log's columns.

They take the frames the service returns (`overview()`, `events()`) and only sort, label and count; the console
and the notebooks show them as they are."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .domain import DataStatus, Status
from .errors import CATALOG

if TYPE_CHECKING:
    import pandas as pd
else:
    from .lazy_modules import pandas as pd  # imported when a frame is first built

# what needs action first; a row takes the most urgent reason that applies
ATTENTION = ["INVALID", "Drift", "PENDING", "Data late", "Stale", "OK", "Not configured"]
AGE_BUCKETS = ["< 1 day", "1-7 days", "7-30 days", "> 30 days", "never validated"]
_FIXES = {
    "Drift": "The status cache disagrees with the record: reconcile (Resync status).",
    "PENDING": "Stored without a check: re-validate it.",
    "Stale": "Not validated recently: re-validate it.",
    "Data late": "The credential is valid but its cost data is late (DATA_STALE / DATA_STALLED): check the billing "
    "export or the provider's usage page.",
}
QUEUE_COLUMNS = [
    "attention",
    "org_slug",
    "provider",
    "status",
    "data_status",
    "error_code",
    "fix",
    "cached_status",
    "credential_name",
    "credential_hint",
    "last_validated_at",
    "age",
    "credential_id",
]
EVENT_COLUMNS = [
    "at",
    "org_slug",
    "provider",
    "action",
    "outcome",
    "error_code",
    "actor",
    "message",
    "status_before",
    "status_after",
    "duration_ms",
    "credential_id",
    "run_id",
    "event_id",
]


def fix_for(code: str | None) -> str:
    """The catalog's first fix for an error code ('' when there is none)."""
    entry = CATALOG.get(code or "")
    return entry.fixes[0] if entry else ""


def age_bucket(days: pd.Series) -> pd.Series:
    """Validation age in days -> a day bucket; NaN (never validated) is its own bucket."""
    buckets = pd.cut(days, [-float("inf"), 1, 7, 30, float("inf")], labels=AGE_BUCKETS[:4], right=False)
    return buckets.cat.add_categories(AGE_BUCKETS[4]).fillna(AGE_BUCKETS[4]).cat.set_categories(AGE_BUCKETS)


def attention_queue(overview: pd.DataFrame, stale_days: float = 30, include_unconfigured: bool = False) -> pd.DataFrame:
    """The overview as a to-do list: INVALID, drift, PENDING, late cost data, stale, then VALID (NOT_CONFIGURED
    only on request), each row with its error code and the fix to apply."""
    frame = overview if include_unconfigured else overview[overview.status != Status.NOT_CONFIGURED.value]
    configured = frame.status != Status.NOT_CONFIGURED.value
    age = frame.validation_age_days
    stale = configured & (age.isna() | (age > stale_days))
    reason = pd.Series("OK", index=frame.index)
    reason = reason.mask(~configured, "Not configured").mask(stale, "Stale")
    late = frame.data_status.isin([DataStatus.STALE.value, DataStatus.STALLED.value])
    reason = reason.mask(configured & late, "Data late")  # beside a valid credential: a warning to act on
    reason = reason.mask(frame.status == Status.PENDING.value, "PENDING").mask(frame.drift, "Drift")
    reason = reason.mask(frame.status == Status.INVALID.value, "INVALID")
    fix = frame.error_code.map(fix_for).where(frame.error_code.notna(), reason.map(_FIXES)).fillna("")
    queue = frame.assign(
        attention=pd.Categorical(reason, categories=ATTENTION, ordered=True),
        fix=fix,
        age=age_bucket(age).where(configured, None),
        error_code=frame.error_code.fillna(""),
        data_status=frame.data_status.fillna(""),  # blank: the credential reads no cost data
    )
    queue = queue.sort_values(
        ["attention", "validation_age_days", "org_slug", "provider"], ascending=[True, False, True, True]
    )
    return queue[QUEUE_COLUMNS].reset_index(drop=True)


def status_mix(overview: pd.DataFrame) -> pd.DataFrame:
    """Configured integrations per provider and status (for a stacked bar)."""
    configured = overview[overview.status != Status.NOT_CONFIGURED.value]
    return configured.groupby(["provider", "status"]).size().reset_index(name="count")


def validation_ages(overview: pd.DataFrame) -> pd.DataFrame:
    """Configured integrations per provider and validation-age bucket, 'never validated' included."""
    configured = overview[overview.status != Status.NOT_CONFIGURED.value]
    counts = configured.assign(age=age_bucket(configured.validation_age_days)).groupby(
        ["provider", "age"], observed=False
    )
    frame = counts.size().reset_index(name="count")
    return frame.assign(age=frame.age.astype(str))


def events_view(events: pd.DataFrame) -> pd.DataFrame:
    """The history in reading order: when, who and what first, ids last."""
    return events[[c for c in EVENT_COLUMNS if c in events.columns]]
