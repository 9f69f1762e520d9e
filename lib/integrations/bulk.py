"""Operations over many credentials: bulk re-validation, reconcile, rewrap."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, cast

from pydantic import BaseModel, Field

from .crypto.base import Cipher
from .domain import Provider, StoredCredential, check_slug
from .errors import IntegrationError
from .gates import PauseClock, ProviderGate
from .lanes import run_lanes
from .locks import PairLocks
from .settings import Settings
from .status_cache.base import StatusCache
from .store.base import IntegrationStore

Progress = Callable[[int, int], None]
Target = str | tuple[str, Provider | str]  # a credential id, or an (org_slug, provider) pair
WRITE_BATCH = 500  # one store write (one BigQuery job) and one status-cache write per batch


def _retry_after(limits: dict[str, str]) -> float:
    try:
        return min(60.0, float(limits.get("retry-after", "1")))
    except ValueError:
        return 1.0


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
        """Fold in another shard's report."""
        self.total += other.total
        for mine, theirs in ((self.outcomes, other.outcomes), (self.errors, other.errors)):
            for key, n in theirs.items():
                mine[key] = mine.get(key, 0) + n
        for key, waited in other.backoff_s.items():
            self.backoff_s[key] = round(self.backoff_s.get(key, 0.0) + waited, 3)
        self.changed.extend(other.changed)
        self.alarms.extend(other.alarms)


class RunPlan(BaseModel):
    """How a bulk re-validation runs; a shard gets its share of `concurrency` and `rates`."""

    concurrency: int
    actor: str
    rates: dict[Provider, float] = Field(default_factory=dict)
    max_rate_limit_retries: int = 2


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
        `workers` processes share the run (see shards.py); by default one per core once there are
        SHARD_MIN credentials, when the service was built from settings."""
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
        from .shards import revalidate_sharded, shard_count  # shards.py builds on this module

        shards = shard_count(workers, len(records), concurrency, self.settings)
        if shards > 1 and self.settings is not None:
            report = revalidate_sharded(self.settings, records, plan, shards, progress)
        else:
            report = self.revalidate_records(records, plan, progress)
        report.missing = missing
        try:  # writers in other processes (shards, the API server) may have synced out of order: repair it now
            report.drift_fixed = self.reconcile(actor=actor).fixed  # type: ignore[attr-defined]
        except IntegrationError as exc:
            report.warnings.append(f"{exc.code}: reconcile after the run failed ({exc.message}); run it again.")
        report.duration_s = time.monotonic() - started
        return report

    def revalidate_records(
        self,
        records: list[StoredCredential],
        plan: RunPlan,
        progress: Progress | None = None,
        pauses: dict[Provider, PauseClock] | None = None,
    ) -> RevalidateReport:
        """One process's share: checks in per-provider lanes of threads, writes in batches on this thread."""
        gates = {p: ProviderGate(plan.rates.get(p), pause=(pauses or {}).get(p)) for p in Provider}
        lanes: dict[Provider, list[StoredCredential]] = {p: [] for p in Provider}
        for record in records:
            lanes[record.provider].append(record)
        report, pending = RevalidateReport(total=len(records)), cast(list[Any], [])

        def check(provider: Provider, record: StoredCredential) -> Any:
            return self._assess_gated(record, gates[provider], plan.actor, plan.max_rate_limit_retries)

        for done, assessment in enumerate(run_lanes(lanes, plan.concurrency, check), 1):
            _count(report, assessment)
            pending.append(assessment)
            if progress:
                progress(done, len(records))
            if len(pending) >= WRITE_BATCH:
                self.apply(pending, plan.actor)  # type: ignore[attr-defined]
                pending.clear()
        if pending:
            self.apply(pending, plan.actor)  # type: ignore[attr-defined]
        report.backoff_s = {p.value: round(g.waited_s, 3) for p, g in gates.items() if g.waited_s}
        return report

    def _assess_gated(self, record: StoredCredential, gate: ProviderGate, actor: str, retries: int) -> Any:
        for attempt in range(retries + 1):
            gate.wait_turn()
            assessment = self.assess(record, actor)  # type: ignore[attr-defined]
            if assessment.result.error_code == "RATE_LIMITED" and attempt < retries:
                gate.back_off(_retry_after(assessment.result.rate_limit))
                continue
            return assessment
        raise AssertionError("unreachable")
