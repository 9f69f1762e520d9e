"""The org x provider table: recorded status (system of record) beside cached status (status cache)."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd

from .domain import OrgRow, Provider, Status, StoredCredential

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
]


def overview_frame(records: list[StoredCredential], orgs: list[OrgRow]) -> pd.DataFrame:
    """Merge both sides in memory; orgs present on only one side still get their rows."""
    active = {(r.org_slug, r.provider): r for r in records if r.is_active}
    org_rows = {o.org_slug: o for o in orgs}
    slugs = sorted(set(org_rows) | {slug for slug, _ in active})
    at = datetime.now(UTC)
    rows = []
    for slug in slugs:
        org = org_rows.get(slug)
        for provider in Provider:
            rec = active.get((slug, provider))
            cached = org.status_of(provider) if org else None
            status = rec.validation_status if rec else Status.NOT_CONFIGURED
            configured_at = rec.created_at if rec else None
            drift = cached is None or cached.status != status or _differs(cached.configured_at, configured_at)
            rows.append(
                (
                    slug,
                    org.name if org else None,
                    provider.value,
                    status.value,
                    cached.status.value if cached else None,
                    drift,
                    rec.credential_name if rec else None,
                    rec.credential_hint if rec else None,
                    rec.last_validated_at if rec else None,
                    (at - rec.last_validated_at).total_seconds() / 86400 if rec and rec.last_validated_at else None,
                    configured_at,
                    cached.configured_at if cached else None,
                    rec.validation_error_code if rec else None,
                    rec.validation_error_message if rec else None,
                    rec.credential_id if rec else None,
                    rec.key_ref if rec else None,
                    bool(rec and rec.encrypted_credential),
                )
            )
    frame = pd.DataFrame(rows, columns=COLUMNS)
    for col in ("last_validated_at", "configured_at", "cached_configured_at"):
        frame[col] = pd.to_datetime(frame[col], utc=True)
    return frame


def _differs(cached: datetime | None, recorded: datetime | None) -> bool:
    if cached is None or recorded is None:
        return cached is not recorded
    return abs((cached - recorded).total_seconds()) >= 1
