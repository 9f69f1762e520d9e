"""Operations over many credentials: bulk re-validation, reconcile, rewrap."""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import closing
from datetime import datetime
from typing import Any, cast

from pydantic import BaseModel, Field

from .checkpool import CheckRun, PoolLimits
from .crypto.base import Cipher, aad_for
from .domain import Action, Outcome, Provider, Status, StoredCredential, check_slug, make_event
from .errors import IntegrationError
from .locks import PairLocks
from .overview import orgs_frame, overview_frame, records_frame
from .settings import Settings
from .status_cache.base import StatusCache
from .store.base import IntegrationStore

Progress = Callable[[int, int], None]
Target = str | tuple[str, Provider | str]  # a credential id, or an (org_slug, provider) pair
WRITE_BATCH = 500  # one store write (one BigQuery job) and one status-cache write per batch
WORKERS_IGNORED = (
    "--workers and INTEGRATIONS_BULK_WORKERS are deprecated and ignored: a bulk run is threads in one process "
    "(they will be removed in the next release)."
)


class RevalidateReport(BaseModel):
    total: int = 0
    workers: int = 1
    backoff_s: dict[str, float] = Field(default_factory=dict)
    outcomes: dict[str, int] = Field(default_factory=dict)
    errors: dict[str, int] = Field(default_factory=dict)
    changed: list[dict[str, str]] = Field(default_factory=list)
    alarms: list[str] = Field(default_factory=list)  # credential_ids that could not be decrypted: no status changed
    drift_fixed: int = 0  # status-cache rows reconciled after the run
    warnings: list[str] = Field(default_factory=list)
    missing: list[str] = Field(default_factory=list)  # targets with no active credential (not checked)
    duration_s: float = 0.0

    def add(self, other: RevalidateReport) -> None:
        """Fold in another report (of another task of the same run)."""
        self.total += other.total
        for mine, theirs in ((self.outcomes, other.outcomes), (self.errors, other.errors)):
            for key, n in theirs.items():
                mine[key] = mine.get(key, 0) + n
        for key, waited in other.backoff_s.items():
            self.backoff_s[key] = round(self.backoff_s.get(key, 0.0) + waited, 3)
        self.changed.extend(other.changed)
        self.alarms.extend(other.alarms)


class RunPlan(BaseModel):
    """How a bulk re-validation runs: who runs it and its per-provider limits."""

    concurrency: int
    actor: str
    rates: dict[Provider, float] = Field(default_factory=dict)
    max_rate_limit_retries: int = 2

    def limits(self) -> PoolLimits:
        return PoolLimits.uniform(self.concurrency, self.rates, self.max_rate_limit_retries)


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


def _count(report: RevalidateReport, assessment: Any) -> None:
    result, record = assessment.result, assessment.record
    if assessment.alarm:
        report.alarms.append(record.credential_id)
    if result.error_code is None:
        outcome = "VALID"
    else:
        outcome = "INCONCLUSIVE" if result.retryable else "INVALID"
        report.errors[result.error_code] = report.errors.get(result.error_code, 0) + 1
    report.outcomes[outcome] = report.outcomes.get(outcome, 0) + 1
    if assessment.after != record.validation_status:
        report.changed.append(
            {
                "org_slug": record.org_slug,
                "provider": record.provider.value,
                "before": record.validation_status.value,
                "after": assessment.after.value,
            }
        )


def _select(active: list[StoredCredential], targets: list[Target]) -> tuple[list[StoredCredential], list[str]]:
    """The active credentials named by `targets` (each once, in target order) and the targets naming none."""
    by_id = {r.credential_id: r for r in active}
    by_pair = {(r.org_slug, r.provider): r for r in active}
    chosen: dict[str, StoredCredential] = {}
    missing: list[str] = []
    for target in targets:
        if isinstance(target, str):
            record, label = by_id.get(target), target
        elif isinstance(target, tuple | list) and len(target) == 2 and isinstance(target[0], str):
            org, provider = check_slug(target[0]), Provider.parse(target[1])
            record, label = by_pair.get((org, provider)), f"{org}/{provider.value}"
        else:
            raise IntegrationError(
                "INVALID_INPUT", "A target is a credential id or an (org_slug, provider) pair, e.g. ('acme', 'openai')."
            )
        if record is None:
            missing.append(label)
        else:
            chosen.setdefault(record.credential_id, record)
    return list(chosen.values()), missing


class BulkOperations:
    """Mixed into IntegrationService: needs store, cipher, cache, assess and apply."""

    store: IntegrationStore
    cache: StatusCache
    cipher: Cipher
    settings: Settings | None
    locks: PairLocks

    def revalidate_many(
        self,
        orgs: list[str] | None = None,
        providers: list[Provider | str] | None = None,
        concurrency: int = 16,
        progress: Progress | None = None,
        actor: str = "system",
        rates: dict[Provider, float] | None = None,
        max_rate_limit_retries: int = 2,
        workers: int | None = None,
        targets: list[Target] | None = None,
    ) -> RevalidateReport:
        """Re-check many stored credentials: `concurrency` checks at a time per provider, an optional rate per
        provider (checks/s), and a 429 backs off that provider only, then the check is retried.

        `targets` checks exactly those credentials (ids and/or (org, provider) pairs, each once; targets without
        an active credential are listed in `missing`); otherwise every credential of `orgs` x `providers`.
        `workers` is deprecated and ignored: a run is threads in one process (see checkpool.py)."""
        started = time.monotonic()
        missing: list[str] = []
        if targets is not None:
            if orgs is not None or providers:
                raise IntegrationError("INVALID_INPUT", "Give either targets or orgs/providers, not both.")
            records, missing = _select(self.store.list_credentials(), targets)
        else:
            wanted = {Provider.parse(p) for p in providers} if providers else set(Provider)
            only = set(orgs) if orgs is not None else None
            records = [
                r
                for r in self.store.list_credentials()
                if r.provider in wanted and (only is None or r.org_slug in only)
            ]
        plan = RunPlan(
            concurrency=concurrency, actor=actor, rates=rates or {}, max_rate_limit_retries=max_rate_limit_retries
        )
        report = self.revalidate_records(records, plan, progress)
        report.missing = missing
        if workers is not None or (self.settings is not None and self.settings.bulk_workers):
            report.warnings.append(WORKERS_IGNORED)
        try:  # writers in other processes (the API server, other tasks) may have synced out of order: repair it
            report.drift_fixed = self.reconcile(actor=actor).fixed
        except IntegrationError as exc:
            report.warnings.append(f"{exc.code}: reconcile after the run failed ({exc.message}); run it again.")
        report.duration_s = time.monotonic() - started
        return report

    def revalidate_records(
        self, records: list[StoredCredential], plan: RunPlan, progress: Progress | None = None
    ) -> RevalidateReport:
        """Check `records` on per-provider thread pools (checkpool.py); write in batches on this thread."""
        report, pending = RevalidateReport(total=len(records)), cast(list[Any], [])
        run = CheckRun(records, lambda record: self.assess(record, plan.actor), plan.limits())  # type: ignore[attr-defined]
        with closing(run.completed()) as completed:  # a failed write stops the pools at once
            for done, (_, assessment) in enumerate(completed, 1):
                _count(report, assessment)
                pending.append(assessment)
                if progress:
                    progress(done, len(records))
                if len(pending) >= WRITE_BATCH:  # written while the other checks go on
                    self.apply(pending, plan.actor)  # type: ignore[attr-defined]
                    pending.clear()
        if pending:
            self.apply(pending, plan.actor)  # type: ignore[attr-defined]
        report.backoff_s = {p.value: round(s, 3) for p, s in run.waited_s.items() if round(s, 3)}
        return report

    def reconcile(self, dry_run: bool = False, actor: str = "system", org_slug: str | None = None) -> ReconcileReport:
        """Rebuild the status cache from the system of record; report every drift (fixed unless dry_run)."""
        if org_slug is None:
            orgs = self.cache.all_orgs()
        else:
            org = self.cache.get_org(org_slug)
            orgs = [org] if org else []
        frame = overview_frame(records_frame(self.store.list_credentials(org_slug)), orgs_frame(orgs))
        drifted = frame[frame["drift"]]
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
                self.cache.create_org(slug)  # where the rows are not ours (Supabase) this only checks
            except IntegrationError as exc:
                if exc.code != "ORG_NOT_FOUND":
                    raise
                warnings.append(f"{slug}: not fixed, {exc.message}")
                unfixable.add(slug)
        report = ReconcileReport(dry_run=False, drifts=drifts, fixed=0, warnings=warnings)
        drifts = [d for d in drifts if d.org_slug not in unfixable]
        with self.locks.hold((d.org_slug, d.provider) for d in drifts):  # no setup or delete syncs meanwhile
            now = {(r.org_slug, r.provider): r for r in self.store.list_credentials(org_slug)}
            for d in drifts:  # what the store holds now, not when the frame was read
                current = now.get((d.org_slug, d.provider))
                d.recorded_status = current.validation_status if current else Status.NOT_CONFIGURED
                d.recorded_configured_at = current.created_at if current else None
            self.cache.set_many([(d.org_slug, d.provider, d.recorded_status, d.recorded_configured_at) for d in drifts])
        self.store.append_events(
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

    def rewrap(self, progress: Progress | None = None, actor: str = "system") -> RewrapReport:
        """Re-encrypt active ciphertexts not under the current key version; safe to re-run after interruption."""
        current = self.cipher.current_key_ref()
        records = [r for r in self.store.list_credentials() if r.encrypted_credential]
        report = RewrapReport(current_key_ref=current)
        for i, rec in enumerate(records, 1):
            if rec.key_ref == current:
                report.already_current += 1
            else:
                aad = aad_for(rec.org_slug, rec.provider.value, rec.credential_id)
                try:
                    sealed = self.cipher.encrypt(self.cipher.decrypt(rec.encrypted_credential, aad), aad)  # type: ignore
                    event = make_event(
                        rec.org_slug,
                        rec.provider,
                        Action.REWRAP,
                        Outcome.SUCCESS,
                        actor,
                        credential_id=rec.credential_id,
                        message=f"{rec.key_ref} -> {sealed.key_ref}",
                    )
                    if self.store.replace_ciphertext(
                        rec.credential_id,
                        sealed.ciphertext,
                        sealed.key_ref,
                        rec.key_ref or "",
                        event,
                    ):
                        report.rewrapped += 1
                except IntegrationError as exc:
                    report.failed[rec.credential_id] = exc.code
            if progress:
                progress(i, len(records))
        return report
