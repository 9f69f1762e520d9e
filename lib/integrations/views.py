"""Frames shaped for people: the status page's attention queue and charts, and the audit log's columns.

They take the frames the service returns (`overview()`, `events()`) and only sort, label and count; the console
and the notebooks show them as they are."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .domain import DataStatus, Status
from .errors import CATALOG, Code
from .verdict import ProblemClass, problem_class

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
    "problem_class",
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


# who must act, in queue order: someone (the tenant or us) first, then transient problems, then rows with no problem,
# dark ones (not configured) last; within a group, the attention reason's order
_WHO_GROUP = {
    ProblemClass.TENANT_ACTION.value: 0,
    ProblemClass.OPERATOR_ACTION.value: 0,
    ProblemClass.TRANSIENT.value: 1,
    "": 2,
    ProblemClass.DARK.value: 3,
}


def _class_of(code: object) -> str:
    found = problem_class(code) if isinstance(code, str) and code else None
    return found.value if found is not None else ""


def row_problem_class(frame: pd.DataFrame, reason: pd.Series) -> pd.Series:
    """The class of each row's last problem (verdict.PROBLEM_CLASSES): its error code's, else what its reason
    means (INVALID: the tenant's; drift: ours; late data: DATA_STALE's or DATA_STALLED's; not configured: dark);
    '' when nothing is wrong."""
    by_code = frame.error_code.map(_class_of)
    late = frame.data_status.map({DataStatus.STALE.value: Code.DATA_STALE, DataStatus.STALLED.value: Code.DATA_STALLED})
    by_data = late.map(_class_of)
    by_reason = reason.map(
        {
            "INVALID": ProblemClass.TENANT_ACTION.value,
            "Drift": ProblemClass.OPERATOR_ACTION.value,
            "Not configured": ProblemClass.DARK.value,
        }
    ).fillna("")
    found = by_code.where(by_code != "", by_reason)
    return found.where(found != "", by_data.where(reason == "Data late", "")).fillna("")


def attention_queue(overview: pd.DataFrame, stale_days: float = 30, include_unconfigured: bool = False) -> pd.DataFrame:
    """The overview as a to-do list ordered by who must act: rows the tenant or we must act on (INVALID, drift,
    PENDING on a customer's grant...), then transient problems (a 429, a late export), then the rest (PENDING,
    stale, VALID), not configured (dark, only on request) last; each row with its error code, the fix to apply
    and the class of its last problem (`problem_class`)."""
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
    who = row_problem_class(frame, reason)
    queue = frame.assign(
        attention=pd.Categorical(reason, categories=ATTENTION, ordered=True),
        fix=fix,
        problem_class=who,
        _who=who.map(_WHO_GROUP).fillna(2),
        age=age_bucket(age).where(configured, None),
        error_code=frame.error_code.fillna(""),
        data_status=frame.data_status.fillna(""),  # blank: the credential reads no cost data
    )
    queue = queue.sort_values(
        ["_who", "attention", "validation_age_days", "org_slug", "provider"], ascending=[True, True, False, True, True]
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


# --- the status page's KPIs, each also a filter of the queue, and one page of rows at a time -------------------
# (label, key): the key names the rows the KPI counts (kpi_rows); the counts and the rows agree by construction
KPIS = [
    ("Valid", "VALID"),
    ("Invalid", "INVALID"),
    ("Pending", "PENDING"),
    ("Drifted", "Drift"),
    ("Data late", "Data late"),
    ("Stale", "Stale"),
]


def kpi_rows(overview: pd.DataFrame, key: str, stale_days: float = 30) -> pd.Series:
    """The overview's rows a KPI counts (a boolean mask): a status (VALID, INVALID, PENDING), drift, cost data late
    (DATA_STALE / DATA_STALLED beside a configured credential) or stale (configured, not validated for
    `stale_days` or never)."""
    configured = overview.status != Status.NOT_CONFIGURED.value
    if key == "Drift":
        return overview.drift.astype(bool)
    if key == "Data late":
        return configured & overview.data_status.isin([DataStatus.STALE.value, DataStatus.STALLED.value])
    if key == "Stale":
        age = overview.validation_age_days
        return configured & (age.isna() | (age > stale_days))
    return overview.status == key


def kpi_counts(overview: pd.DataFrame, stale_days: float = 30) -> dict[str, int]:
    """Each KPI's count by its key (see KPIS), with the orgs and the configured integrations."""
    counts = {"Orgs": int(overview.org_slug.nunique()), "Configured": int((overview.status != "NOT_CONFIGURED").sum())}
    return counts | {key: int(kpi_rows(overview, key, stale_days).sum()) for _, key in KPIS}


def filter_queue(
    queue: pd.DataFrame, org_text: str = "", providers: list[str] | None = None, reasons: list[str] | None = None
) -> pd.DataFrame:
    """The queue's rows whose org slug contains `org_text`, of these providers and for these reasons (each filter
    only when given), in the queue's order."""
    text = org_text.strip().lower()
    keep = pd.Series(True, index=queue.index)
    if text:
        keep &= queue.org_slug.str.contains(text, regex=False)
    if providers:
        keep &= queue.provider.isin(providers)
    if reasons:
        keep &= queue.attention.isin(reasons)
    return queue[keep].reset_index(drop=True)


def page_count(rows: int, size: int) -> int:
    return max(1, -(-rows // size))


def page_of(frame: pd.DataFrame, page: int, size: int) -> pd.DataFrame:
    """Rows of the 1-based `page` (clamped to the last page) of `size` rows each: what the browser is sent."""
    page = min(max(1, page), page_count(len(frame), size))
    return frame.iloc[(page - 1) * size : page * size]
