"""Keeping the stored data right: rebuild the status cache from the system of record (reconcile), move every
ciphertext to the current key version (rewrap)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from pydantic import BaseModel, Field

from .. import keyversions
from ..deps import Deps
from ..domain import Action, Outcome, Provider, Status, make_event
from ..errors import IntegrationError
from ..overview import overview_frame
from ..status_cache.base import orgs_frame
from ..store.base import CiphertextSwap, records_frame

REWRAP_BATCH = 500  # swaps per store write

Progress = Callable[[int, int], None]


class Drift(BaseModel):
    org_slug: str
    provider: Provider
    cached_status: Status | None
    recorded_status: Status
    recorded_configured_at: datetime | None = None


class ReconcileReport(BaseModel):
    dry_run: bool
    drifts: list[Drift]
    fixed: int
    warnings: list[str] = Field(default_factory=list)  # drifts that could not be fixed, and why


class RewrapReport(BaseModel):
    current_key_ref: str
    rewrapped: int = 0
    already_current: int = 0
    failed: dict[str, str] = Field(default_factory=dict)
    warnings: list[str] = Field(default_factory=list)  # e.g. ERASE_INCOMPLETE: an old ciphertext still in the WAL


def reconcile(
    deps: Deps,
    dry_run: bool = False,
    actor: str = "system",
    org_slug: str | None = None,
    within: set[str] | None = None,
) -> ReconcileReport:
    """Rebuild the status cache from the system of record; report every drift (fixed unless dry_run). `within`
    limits it to those orgs (read in the same two queries as the fleet): a run scoped to some orgs repairs theirs."""
    if org_slug is None:  # the overview's read models: one query each side, straight into frames
        frame = overview_frame(deps.store.active_frame(), deps.cache.status_frame())
    else:
        org = deps.cache.get_org(org_slug)
        frame = overview_frame(records_frame(deps.store.list_credentials(org_slug)), orgs_frame([org] if org else []))
    drifted = frame[frame["drift"]]
    if within is not None:
        drifted = drifted[drifted["org_slug"].isin(within)]
    drifts = [
        Drift(
            org_slug=r.org_slug,
            provider=r.provider,
            cached_status=Status(r.cached_status) if isinstance(r.cached_status, str) else None,  # NaN: no row
            recorded_status=r.status,
            recorded_configured_at=None
            if r.configured_at is None or str(r.configured_at) == "NaT"
            else r.configured_at.to_pydatetime(),
        )
        for r in drifted.itertuples()
    ]
    if dry_run or not drifts:
        return ReconcileReport(dry_run=dry_run, drifts=drifts, fixed=0)
    warnings, unfixable = [], set()
    for slug in sorted({d.org_slug for d in drifts if d.cached_status is None}):
        try:
            deps.cache.create_org(slug)  # where the rows are not ours (Supabase) this only checks
        except IntegrationError as exc:
            if exc.code != "ORG_NOT_FOUND":
                raise
            warnings.append(f"{slug}: not fixed, {exc.message}")
            unfixable.add(slug)
    report = ReconcileReport(dry_run=False, drifts=drifts, fixed=0, warnings=warnings)
    drifts = [d for d in drifts if d.org_slug not in unfixable]
    with deps.locks.hold((d.org_slug, d.provider) for d in drifts):  # no setup or delete syncs meanwhile
        now = {(r.org_slug, r.provider): r for r in deps.store.list_credentials(org_slug)}
        for d in drifts:  # what the store holds now, not when the frame was read
            current = now.get((d.org_slug, d.provider))
            d.recorded_status = current.validation_status if current else Status.NOT_CONFIGURED
            d.recorded_configured_at = current.created_at if current else None
        deps.cache.set_many([(d.org_slug, d.provider, d.recorded_status, d.recorded_configured_at) for d in drifts])
    deps.store.append_events(
        [
            make_event(
                d.org_slug,
                d.provider,
                Action.RECONCILE,
                Outcome.SUCCESS,
                actor,
                status_before=d.cached_status,
                status_after=d.recorded_status,
                message=f"Status cache {d.cached_status.value if d.cached_status else 'missing'} -> "
                f"{d.recorded_status.value}",
            )
            for d in drifts
        ]
    )
    report.fixed = len(drifts)
    return report


def rewrap(deps: Deps, progress: Progress | None = None, actor: str = "system") -> RewrapReport:
    """Re-encrypt active ciphertexts not under the current key version; safe to re-run after interruption. The
    swaps are written REWRAP_BATCH at a time (one store write each: ceil(N/500) BigQuery jobs, not one per row)."""
    deps.cipher.refresh()  # Cloud KMS: the primary version as it is now, not as cached up to a minute ago
    keyversions.check_current(deps.store, deps.cipher)
    current = deps.vault.current_key_ref()
    records = [r for r in deps.store.list_credentials() if r.encrypted_credential]
    report = RewrapReport(current_key_ref=current)
    batch: list[CiphertextSwap] = []

    def write() -> None:
        try:
            report.rewrapped += len(deps.store.replace_ciphertexts(batch))
        except IntegrationError as exc:
            report.failed.update({s.credential_id: exc.code for s in batch})
        batch.clear()

    for i, rec in enumerate(records, 1):
        if rec.key_ref == current:
            report.already_current += 1
        else:
            try:
                ciphertext, key_ref = deps.vault.rewrap(rec)
                event = make_event(
                    rec.org_slug,
                    rec.provider,
                    Action.REWRAP,
                    Outcome.SUCCESS,
                    actor,
                    credential_id=rec.credential_id,
                    message=f"{rec.key_ref} -> {key_ref}",
                )
                batch.append(CiphertextSwap(rec.credential_id, ciphertext, key_ref, rec.key_ref or "", event))
            except IntegrationError as exc:
                report.failed[rec.credential_id] = exc.code
            if len(batch) >= REWRAP_BATCH:
                write()
        if progress:
            progress(i, len(records))
    if batch:
        write()
    report.warnings = [str(w) for w in deps.store.erase_warnings()] if report.rewrapped else []
    return report


def simulate_drift(deps: Deps, org_slug: str, provider: Provider, status: Status) -> None:
    """Set a cached status that the system of record does not hold (reconcile repairs it)."""
    deps.cache.set_status(org_slug, provider, status, None)
