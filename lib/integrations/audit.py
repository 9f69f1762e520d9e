"""Audit questions about org_integrations, each one function returning a DataFrame.

Where the store can aggregate (BigQuery, in the gcp profile), the question runs there and only its answer comes
back; otherwise it is answered in pandas from one read. Used by the notebooks and the console. No function
returns or displays a plaintext credential.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from . import changes, freshness, views
from .domain import CredentialKind, DataStatus, Outcome, Provider, Status
from .service import IntegrationService

if TYPE_CHECKING:
    import pandas as pd
else:
    from .lazy_modules import pandas as pd  # imported when a frame is first built

_ROW_COLUMNS = [
    "org_slug",
    "provider",
    "credential_id",
    "credential_name",
    "credential_hint",
    "validation_status",
    "validation_error_code",
    "last_validated_at",
    "created_at",
    "key_ref",
    "is_active",
]
_HEALTH = [
    "org_slug",
    "provider",
    "validation_status",
    "validation_error_code",
    "credential_hint",
    "created_at",
    "last_validated_at",
]
_AGE = ["org_slug", "provider", "validation_status", "last_validated_at", "age_days"]


def _in_store(
    svc: IntegrationService, question: str, params: dict[str, Any], columns: list[str]
) -> pd.DataFrame | None:
    rows = svc.audit_answer(question, params)
    if rows is None:
        return None
    frame = pd.DataFrame(rows, columns=columns)
    for col in columns:
        if col.endswith("_at") or col == "day":
            frame[col] = pd.to_datetime(frame[col], utc=True)
    return frame


def _now(now: datetime | None) -> datetime:
    return now or datetime.now(UTC)


def credentials(svc: IntegrationService, active_only: bool = True) -> pd.DataFrame:
    """org_integrations rows without ciphertext (one store query)."""
    rows = [
        r.model_dump(mode="json", exclude={"encrypted_credential"})
        | {"has_ciphertext": r.encrypted_credential is not None}
        for r in svc.credentials(active_only=active_only)
    ]
    frame = pd.DataFrame(rows, columns=[*_ROW_COLUMNS, "credential_fingerprint", "has_ciphertext", "deleted_at"])
    for col in ("last_validated_at", "created_at", "deleted_at"):
        frame[col] = pd.to_datetime(frame[col], utc=True)
    frame["has_ciphertext"] = frame["has_ciphertext"].astype(bool)  # a boolean mask even when there are no rows
    return frame


def keyless(svc: IntegrationService) -> pd.DataFrame:
    """Keyless GCP integrations (nothing secret stored): who reads which billing export, and what is left to do."""
    rows = [
        {
            "org_slug": r.org_slug,
            "validation_status": r.validation_status.value,
            "validation_error_code": r.validation_error_code,
            "billing_export_table": r.metadata.get("billing_export_table"),
            "reader": r.credential_hint.removeprefix("keyless: ").split(" reads ")[0],
            "last_validated_at": r.last_validated_at,
            "created_at": r.created_at,
        }
        for r in svc.credentials(active_only=True)
        if r.credential_kind == CredentialKind.KEYLESS
    ]
    columns = ["org_slug", "validation_status", "validation_error_code", "billing_export_table", "reader"]
    return pd.DataFrame(rows, columns=[*columns, "last_validated_at", "created_at"])


# 1. Inventory
def inventory(svc: IntegrationService) -> pd.DataFrame:
    """Integrations per provider and status (NOT_CONFIGURED counts orgs without one)."""
    statuses = [s.value for s in Status]
    configured = _in_store(svc, "configured", {}, ["provider", "status", "n"])
    if configured is None:
        frame = svc.overview()
        table = frame.pivot_table(index="provider", columns="status", values="org_slug", aggfunc="count", fill_value=0)
    else:
        table = configured.pivot_table(index="provider", columns="status", values="n", aggfunc="sum", fill_value=0)
        table = table.reindex(index=[p.value for p in Provider], fill_value=0)
        orgs = svc.cached_org_count()
        table[Status.NOT_CONFIGURED.value] = orgs - table.sum(axis=1)
    table = table.reindex(columns=statuses, fill_value=0).astype(int).reset_index()
    table.columns.name = "status"
    return table


def orgs_without_integrations(svc: IntegrationService) -> pd.DataFrame:
    """Orgs with no configured provider at all."""
    frame = svc.overview()
    configured = frame[frame.status != Status.NOT_CONFIGURED.value].org_slug.unique()
    return frame[~frame.org_slug.isin(configured)][["org_slug", "org_name"]].drop_duplicates().reset_index(drop=True)


# 2. Health
def unhealthy(svc: IntegrationService) -> pd.DataFrame:
    """INVALID and PENDING integrations with their error codes."""
    answer = _in_store(svc, "unhealthy", {"valid": Status.VALID.value}, _HEALTH)
    if answer is not None:
        return answer
    frame = credentials(svc)
    bad = frame[frame.validation_status != Status.VALID.value]
    return bad[_HEALTH].sort_values(["org_slug", "provider"]).reset_index(drop=True)


def who_must_act(svc: IntegrationService) -> pd.DataFrame:
    """Integrations whose last check left a problem, by who must act (verdict.ProblemClass): the tenant or us
    first, then transient problems (the last error of a 429 or an outage, status kept), dark last; as the console's
    attention queue orders them."""
    queue = views.attention_queue(svc.overview())
    columns = ["problem_class", "attention", "org_slug", "provider", "status", "error_code", "fix"]
    return queue[queue.problem_class != ""][columns].reset_index(drop=True)


def stale_pending(svc: IntegrationService, days: int = 7, now: datetime | None = None) -> pd.DataFrame:
    """PENDING integrations created more than `days` ago (stored unchecked and never validated since)."""
    cutoff = _now(now) - timedelta(days=days)
    answer = _in_store(svc, "stale_pending", {"pending": Status.PENDING.value, "cutoff": cutoff}, _HEALTH)
    if answer is not None:
        return answer
    frame = unhealthy(svc)
    return frame[(frame.validation_status == Status.PENDING.value) & (frame.created_at < cutoff)].reset_index(drop=True)


# 3. Freshness
def validation_age(svc: IntegrationService, now: datetime | None = None) -> pd.DataFrame:
    """Days since the last validation of every active credential (NaN: never validated)."""
    answer = _in_store(svc, "validation_age", {"now": _now(now)}, _AGE)
    if answer is not None:
        return answer.astype({"age_days": float})
    frame = credentials(svc)
    frame["age_days"] = (pd.Timestamp(_now(now)) - frame.last_validated_at).dt.total_seconds() / 86400
    return frame[_AGE].sort_values(["org_slug", "provider"]).reset_index(drop=True)


def not_validated_since(svc: IntegrationService, days: int = 30, now: datetime | None = None) -> pd.DataFrame:
    """Active credentials not validated for over `days` days, or never."""
    at = _now(now)
    answer = _in_store(svc, "not_validated_since", {"now": at, "cutoff": at - timedelta(days=days)}, _AGE)
    if answer is not None:
        return answer.astype({"age_days": float})
    frame = validation_age(svc, now)
    return frame[frame.age_days.isna() | (frame.age_days > days)].reset_index(drop=True)


# 3b. Is the cost data arriving? (issue 26: beside the credential's status, never instead of it)
_LATE = [
    "org_slug",
    "provider",
    "validation_status",
    "data_status",
    "data_through",
    "last_success_at",
    "data_age_hours",
    "expiry",
    "fix",
]
_EXPIRING = ["org_slug", "provider", "credential_hint", "expiry", "expires_at", "days_left", "last_used_at"]


def _data_rows(svc: IntegrationService, now: datetime | None) -> list[dict[str, Any]]:
    """Active credentials that read cost data, their stored data status aged to `now` (not re-checked for days
    reads STALE, not FRESH)."""
    at = _now(now)
    rows = []
    for r in svc.credentials(active_only=True):
        status = freshness.current(r, at)
        if status is None:
            continue
        age = (at - r.data_newest_at).total_seconds() / 3600 if r.data_newest_at else float("nan")
        rows.append(
            {
                "org_slug": r.org_slug,
                "provider": r.provider.value,
                "validation_status": r.validation_status.value,
                "data_status": status.value,
                "data_through": r.data_through,
                "last_success_at": r.last_success_at,
                "data_age_hours": round(age, 1),
                "expiry": r.expiry or "not asked",
                "fix": _DATA_FIX.get(status, ""),
            }
        )
    return rows


_DATA_FIX = {
    DataStatus.STALE: "DATA_STALE: the provider's newest data is late; recheck tomorrow, then the export settings",
    DataStatus.STALLED: "DATA_STALLED: the data stopped arriving; check the export (GCP) or the org's usage page",
    DataStatus.PENDING_FIRST_DATA: "first data can take up to 48 h after an export is enabled",
}


def data_freshness(svc: IntegrationService, now: datetime | None = None) -> pd.DataFrame:
    """Credentials that read cost data, per provider and data status (PENDING_FIRST_DATA, FRESH, STALE, STALLED):
    how many orgs' numbers can be trusted."""
    statuses = [s.value for s in DataStatus]
    frame = pd.DataFrame(_data_rows(svc, now), columns=_LATE)
    if frame.empty:
        return pd.DataFrame(columns=["provider", *statuses])
    table = frame.pivot_table(index="provider", columns="data_status", values="org_slug", aggfunc="count")
    table = table.reindex(columns=statuses).fillna(0).astype(int).reset_index()
    table.columns.name = None
    return table


def late_data(svc: IntegrationService, now: datetime | None = None) -> pd.DataFrame:
    """STALE and STALLED cost sources (stalled first, oldest data first), each beside its credential's status and
    the fix; a late source is a warning, its credential may well be VALID."""
    frame = pd.DataFrame(_data_rows(svc, now), columns=_LATE)
    frame = frame[frame.data_status.isin([DataStatus.STALLED.value, DataStatus.STALE.value])]
    frame = frame.assign(stalled=frame.data_status == DataStatus.STALLED.value)
    frame = frame.sort_values(["stalled", "data_age_hours"], ascending=[False, False])
    frame["last_success_at"] = pd.to_datetime(frame["last_success_at"], utc=True)
    return frame[_LATE].reset_index(drop=True)


def expiring_keys(svc: IntegrationService, days: int = 30, now: datetime | None = None) -> pd.DataFrame:
    """Keys expiring within `days` days (soonest first), then those whose expiry could not be read ("unknown")."""
    at = _now(now)
    rows = [
        {
            "org_slug": r.org_slug,
            "provider": r.provider.value,
            "credential_hint": r.credential_hint,
            "expiry": r.expiry,
            "expires_at": r.expires_at,
            "days_left": round((r.expires_at - at).total_seconds() / 86400, 1) if r.expires_at else float("nan"),
            "last_used_at": r.last_used_at,
        }
        for r in svc.credentials(active_only=True)
        if r.expiry == "unknown" or (r.expires_at is not None and r.expires_at - at <= timedelta(days=days))
    ]
    frame = pd.DataFrame(rows, columns=_EXPIRING)
    for col in ("expires_at", "last_used_at"):
        frame[col] = pd.to_datetime(frame[col], utc=True)
    return frame.sort_values("days_left", na_position="last").reset_index(drop=True)


# 4. Integrity
def duplicate_active(svc: IntegrationService) -> pd.DataFrame:
    """More than one active row for an org/provider (the store should make this impossible)."""
    answer = _in_store(svc, "duplicate_active", {}, ["org_slug", "provider", "active_rows"])
    if answer is not None:
        return answer
    frame = credentials(svc)
    counts = frame.groupby(["org_slug", "provider"]).size().reset_index(name="active_rows")
    return counts[counts.active_rows > 1].reset_index(drop=True)


def active_without_ciphertext(svc: IntegrationService) -> pd.DataFrame:
    answer = _in_store(svc, "active_without_ciphertext", {}, ["org_slug", "provider", "credential_id"])
    if answer is not None:
        return answer
    frame = credentials(svc)
    return frame[~frame.has_ciphertext][["org_slug", "provider", "credential_id"]].reset_index(drop=True)


def undecryptable(svc: IntegrationService) -> pd.DataFrame:
    """Active rows whose ciphertext fails to decrypt under their own AAD (the plaintext is discarded at once)."""
    failures = [
        (rec.org_slug, rec.provider.value, rec.credential_id, rec.key_ref, exc.code, exc.message)
        for rec, exc in svc.undecryptable()
    ]
    return pd.DataFrame(failures, columns=["org_slug", "provider", "credential_id", "key_ref", "error_code", "message"])


# 5. Drift
def drift(svc: IntegrationService) -> pd.DataFrame:
    """Each disagreement between the status cache and the system of record."""
    frame = svc.overview()
    return frame[frame.drift][
        ["org_slug", "provider", "status", "cached_status", "configured_at", "cached_configured_at"]
    ].reset_index(drop=True)


# 6. Reuse
def reused_credentials(svc: IntegrationService) -> pd.DataFrame:
    """One credential (by keyed fingerprint) active in more than one org."""
    columns = ["provider", "fingerprint", "hint", "org_count", "orgs"]
    answer = _in_store(svc, "reused_credentials", {}, columns)
    if answer is not None:
        return answer.assign(fingerprint=answer.fingerprint + "…", orgs=answer.orgs.map(list))
    frame = credentials(svc)
    groups = (
        frame.groupby(["provider", "credential_fingerprint"])
        .agg(orgs=("org_slug", lambda s: sorted(set(s))), hint=("credential_hint", "first"))
        .reset_index()
    )
    groups = groups[groups.orgs.map(len) > 1]
    groups["org_count"] = groups.orgs.map(len)
    groups["fingerprint"] = groups.credential_fingerprint.str[:12] + "…"
    return groups[columns].reset_index(drop=True)


# 7. Keys
def key_versions(svc: IntegrationService) -> pd.DataFrame:
    """Ciphertexts per key version; rows not under the current version are what `rewrap` would move."""
    counts = _in_store(svc, "key_versions", {}, ["key_ref", "ciphertexts"])
    if counts is None:
        frame = credentials(svc)
        counts = frame[frame.has_ciphertext].groupby("key_ref").size().reset_index(name="ciphertexts")
    counts["current"] = counts.key_ref == svc.current_key_ref()
    return counts


# 8. Activity
def activity(svc: IntegrationService, since: datetime | None = None, until: datetime | None = None) -> pd.DataFrame:
    """Events per day and action."""
    answer = _in_store(svc, "activity", {"since": since, "until": until}, ["day", "action", "events"])
    if answer is not None:
        return answer
    events = _events(svc, since, until)
    if events.empty:
        return pd.DataFrame(columns=["day", "action", "events"])
    return events.assign(day=events["at"].dt.floor("D")).groupby(["day", "action"]).size().reset_index(name="events")


def failures_by_code(
    svc: IntegrationService, since: datetime | None = None, until: datetime | None = None
) -> pd.DataFrame:
    """Failed, rejected and inconclusive events by error code and action."""
    params = {"success": Outcome.SUCCESS.value, "since": since, "until": until}
    answer = _in_store(svc, "failures_by_code", params, ["error_code", "action", "events"])
    if answer is not None:
        return answer
    events = _events(svc, since, until)
    failed = events[events.outcome != Outcome.SUCCESS.value]
    return _ranked(failed.groupby(["error_code", "action"]).size().reset_index(name="events"))


def actors(svc: IntegrationService, since: datetime | None = None, until: datetime | None = None) -> pd.DataFrame:
    """Who changed what: events per actor and action."""
    answer = _in_store(svc, "actors", {"since": since, "until": until}, ["actor", "action", "events"])
    if answer is not None:
        return answer
    events = _events(svc, since, until)
    return _ranked(events.groupby(["actor", "action"]).size().reset_index(name="events"))


# 9. Status flips
def status_flips(svc: IntegrationService, since: datetime | None = None, until: datetime | None = None) -> pd.DataFrame:
    """Statuses that re-validations changed over the window (what alerts post), newest first, with each fix."""
    return changes.status_flips(_events(svc, since, until))


def flip_counts(svc: IntegrationService, since: datetime | None = None, until: datetime | None = None) -> pd.DataFrame:
    """Status flips over the window per provider and before -> after."""
    return changes.flip_counts(status_flips(svc, since, until))


def _ranked(frame: pd.DataFrame) -> pd.DataFrame:
    keys = [c for c in frame.columns if c != "events"]
    return frame.sort_values(["events", *keys], ascending=[False, *[True] * len(keys)], ignore_index=True)


def _events(svc: IntegrationService, since: datetime | None, until: datetime | None) -> pd.DataFrame:
    events = svc.events(since=since)  # the store reads from `since` on (BigQuery scans only those days)
    if until is not None:
        events = events[events["at"] <= pd.Timestamp(until)]
    return events
