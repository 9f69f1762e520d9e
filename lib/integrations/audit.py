"""Audit questions about org_integrations, each one function returning a DataFrame.

Used by the notebooks and the console. No function returns or displays a plaintext credential.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pandas as pd

from .crypto.base import aad_for
from .domain import Status
from .errors import IntegrationError

if TYPE_CHECKING:
    from .service import IntegrationService

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


def credentials(svc: IntegrationService, active_only: bool = True) -> pd.DataFrame:
    """org_integrations rows without ciphertext (one store query)."""
    rows = [
        r.model_dump(mode="json", exclude={"encrypted_credential"})
        | {"has_ciphertext": r.encrypted_credential is not None}
        for r in svc.store.list_credentials(active_only=active_only)
    ]
    frame = pd.DataFrame(rows, columns=[*_ROW_COLUMNS, "credential_fingerprint", "has_ciphertext", "deleted_at"])
    for col in ("last_validated_at", "created_at", "deleted_at"):
        frame[col] = pd.to_datetime(frame[col], utc=True)
    return frame


# 1. Inventory
def inventory(svc: IntegrationService) -> pd.DataFrame:
    """Integrations per provider and status (NOT_CONFIGURED counts orgs without one)."""
    frame = svc.overview()
    table = frame.pivot_table(index="provider", columns="status", values="org_slug", aggfunc="count", fill_value=0)
    return table.reindex(columns=[s.value for s in Status], fill_value=0).reset_index()


def orgs_without_integrations(svc: IntegrationService) -> pd.DataFrame:
    """Orgs with no configured provider at all."""
    frame = svc.overview()
    configured = frame[frame.status != Status.NOT_CONFIGURED.value].org_slug.unique()
    return frame[~frame.org_slug.isin(configured)][["org_slug", "org_name"]].drop_duplicates().reset_index(drop=True)


# 2. Health
def unhealthy(svc: IntegrationService) -> pd.DataFrame:
    """INVALID and PENDING integrations with their error codes."""
    frame = credentials(svc)
    bad = frame[frame.validation_status.isin([Status.INVALID.value, Status.PENDING.value])]
    return bad[
        [
            "org_slug",
            "provider",
            "validation_status",
            "validation_error_code",
            "credential_hint",
            "created_at",
            "last_validated_at",
        ]
    ].reset_index(drop=True)


def stale_pending(svc: IntegrationService, days: int = 7, now: datetime | None = None) -> pd.DataFrame:
    """PENDING integrations created more than `days` ago (stored unchecked and never validated since)."""
    frame = unhealthy(svc)
    cutoff = (now or datetime.now(UTC)) - timedelta(days=days)
    return frame[(frame.validation_status == Status.PENDING.value) & (frame.created_at < cutoff)].reset_index(drop=True)


# 3. Freshness
def validation_age(svc: IntegrationService, now: datetime | None = None) -> pd.DataFrame:
    """Days since the last validation of every active credential (NaN: never validated)."""
    frame = credentials(svc)
    at = pd.Timestamp(now or datetime.now(UTC))
    frame["age_days"] = (at - frame.last_validated_at).dt.total_seconds() / 86400
    return frame[["org_slug", "provider", "validation_status", "last_validated_at", "age_days"]]


def not_validated_since(svc: IntegrationService, days: int = 30, now: datetime | None = None) -> pd.DataFrame:
    """Active credentials not validated for over `days` days, or never."""
    frame = validation_age(svc, now)
    return frame[frame.age_days.isna() | (frame.age_days > days)].reset_index(drop=True)


# 4. Integrity
def duplicate_active(svc: IntegrationService) -> pd.DataFrame:
    """More than one active row for an org/provider (the store should make this impossible)."""
    frame = credentials(svc)
    counts = frame.groupby(["org_slug", "provider"]).size().reset_index(name="active_rows")
    return counts[counts.active_rows > 1].reset_index(drop=True)


def active_without_ciphertext(svc: IntegrationService) -> pd.DataFrame:
    frame = credentials(svc)
    return frame[~frame.has_ciphertext][["org_slug", "provider", "credential_id"]].reset_index(drop=True)


def undecryptable(svc: IntegrationService) -> pd.DataFrame:
    """Active rows whose ciphertext fails to decrypt under their own AAD (the plaintext is discarded at once)."""
    failures = []
    for rec in svc.store.list_credentials():
        if rec.encrypted_credential is None:
            continue
        try:
            svc.cipher.decrypt(rec.encrypted_credential, aad_for(rec.org_slug, rec.provider.value, rec.credential_id))
        except IntegrationError as exc:
            failures.append((rec.org_slug, rec.provider.value, rec.credential_id, rec.key_ref, exc.code, exc.message))
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
    frame = credentials(svc)
    groups = (
        frame.groupby(["provider", "credential_fingerprint"])
        .agg(orgs=("org_slug", lambda s: sorted(set(s))), hint=("credential_hint", "first"))
        .reset_index()
    )
    groups = groups[groups.orgs.map(len) > 1]
    groups["org_count"] = groups.orgs.map(len)
    groups["fingerprint"] = groups.credential_fingerprint.str[:12] + "…"
    return groups[["provider", "fingerprint", "hint", "org_count", "orgs"]].reset_index(drop=True)


# 7. Keys
def key_versions(svc: IntegrationService) -> pd.DataFrame:
    """Ciphertexts per key version; rows not under the current version are what `rewrap` would move."""
    frame = credentials(svc)
    frame = frame[frame.has_ciphertext]
    current = svc.cipher.current_key_ref()
    counts = frame.groupby("key_ref").size().reset_index(name="ciphertexts")
    counts["current"] = counts.key_ref == current
    return counts


# 8. Activity
def activity(svc: IntegrationService, since: datetime | None = None, until: datetime | None = None) -> pd.DataFrame:
    """Events per day and action."""
    events = _events(svc, since, until)
    if events.empty:
        return pd.DataFrame(columns=["day", "action", "events"])
    return events.assign(day=events["at"].dt.floor("D")).groupby(["day", "action"]).size().reset_index(name="events")


def failures_by_code(
    svc: IntegrationService, since: datetime | None = None, until: datetime | None = None
) -> pd.DataFrame:
    events = _events(svc, since, until)
    failed = events[events.outcome != "SUCCESS"]
    return (
        failed.groupby(["error_code", "action"])
        .size()
        .reset_index(name="events")
        .sort_values("events", ascending=False, ignore_index=True)
    )


def actors(svc: IntegrationService, since: datetime | None = None, until: datetime | None = None) -> pd.DataFrame:
    """Who changed what: events per actor and action."""
    events = _events(svc, since, until)
    return (
        events.groupby(["actor", "action"])
        .size()
        .reset_index(name="events")
        .sort_values("events", ascending=False, ignore_index=True)
    )


def _events(svc: IntegrationService, since: datetime | None, until: datetime | None) -> pd.DataFrame:
    events = svc.events()
    if since is not None:
        events = events[events["at"] >= pd.Timestamp(since)]
    if until is not None:
        events = events[events["at"] <= pd.Timestamp(until)]
    return events
