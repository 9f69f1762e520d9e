"""Re-validating many stored credentials: choose them, check them on checkpool's per-provider thread pools (in one
process), write the verdicts in batches as they come, then reconcile the status cache."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from contextlib import ExitStack, closing

from pydantic import BaseModel, Field

from .. import alerts, changes
from ..checkpool import CheckRun, PoolLimits
from ..deps import Deps
from ..domain import Provider, StoredCredential, check_slug
from ..errors import Code, IntegrationError
from . import alerting
from .checks import Assessment, assess, record_checks
from .maintenance import reconcile

Progress = Callable[[int, int], None]
Target = str | tuple[str, Provider | str]  # a credential id, or an (org_slug, provider) pair
WRITE_BATCH = 500  # one store write (one BigQuery job) and one status-cache write per batch
WORKERS_IGNORED = (
    "--workers and INTEGRATIONS_BULK_WORKERS are deprecated and ignored: a bulk run is threads in one process "
    "(they will be removed in the next release)."
)


class RevalidateReport(BaseModel):
    run_id: str | None = None  # on each of the run's events: "changes since the last run" reads the run by it
    total: int = 0
    workers: int = 1
    backoff_s: dict[str, float] = Field(default_factory=dict)
    outcomes: dict[str, int] = Field(default_factory=dict)
    errors: dict[str, int] = Field(default_factory=dict)
    changed: list[dict[str, str | None]] = Field(default_factory=list)
    alarms: list[str] = Field(default_factory=list)  # credential_ids that could not be decrypted: no status changed
    drift_fixed: int = 0  # status-cache rows reconciled after the run
    warnings: list[str] = Field(default_factory=list)
    missing: list[str] = Field(default_factory=list)  # targets with no active credential (not checked)
    superseded: list[str] = Field(default_factory=list)  # credential ids changed while checked: result not applied
    duration_s: float = 0.0
    alert: alerts.AlertDelivery | None = None  # the run's alerts, when one was due (usecases/alerting.py)

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
        self.superseded.extend(other.superseded)

    def applied(self, written: list[Assessment], applied: set[str]) -> None:
        """After a write: a result that was not applied (its credential changed while it was checked) is no change."""
        stale = {a.record.credential_id for a in written if not a.alarm} - applied
        if stale:
            self.superseded.extend(sorted(stale))
            self.changed = [c for c in self.changed if c["credential_id"] not in stale]

    def count(self, assessment: Assessment) -> None:
        """Count one check by its verdict."""
        record, code = assessment.record, assessment.result.error_code
        if assessment.alarm:
            self.alarms.append(record.credential_id)
        if code is not None:
            self.errors[code] = self.errors.get(code, 0) + 1
        label = assessment.verdict.label
        self.outcomes[label] = self.outcomes.get(label, 0) + 1
        if assessment.after != record.validation_status:
            change = (record.validation_status.value, assessment.after.value, code)
            self.changed.append(
                changes.change_row(record.org_slug, record.provider.value, change, record.credential_id, record)
            )


class RunPlan(BaseModel):
    """How a bulk re-validation runs: who runs it and its per-provider limits."""

    concurrency: int
    actor: str
    run_id: str = Field(default_factory=lambda: f"bulk-{uuid.uuid4().hex[:16]}")
    rates: dict[Provider, float] = Field(default_factory=dict)
    max_rate_limit_retries: int = 2

    def limits(self) -> PoolLimits:
        return PoolLimits.uniform(self.concurrency, self.rates, self.max_rate_limit_retries)


def select(active: list[StoredCredential], targets: list[Target]) -> tuple[list[StoredCredential], list[str]]:
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
                Code.INVALID_INPUT,
                "A target is a credential id or an (org_slug, provider) pair, e.g. ('acme', 'openai').",
            )
        if record is None:
            missing.append(label)
        else:
            chosen.setdefault(record.credential_id, record)
    return list(chosen.values()), missing


def chosen(
    deps: Deps, orgs: list[str] | None, providers: list[Provider | str] | None, targets: list[Target] | None
) -> tuple[list[StoredCredential], list[str]]:
    """The credentials a run checks (targets, or orgs x providers) and the targets naming none."""
    if targets is not None:
        if orgs is not None or providers:
            raise IntegrationError(Code.INVALID_INPUT, "Give either targets or orgs/providers, not both.")
        return select(deps.store.list_credentials(), targets)
    wanted = {Provider.parse(p) for p in providers} if providers else set(Provider)
    only = set(orgs) if orgs is not None else None
    records = deps.store.list_credentials()
    return [r for r in records if r.provider in wanted and (only is None or r.org_slug in only)], []


def revalidate_many(
    deps: Deps,
    orgs: list[str] | None = None,
    providers: list[Provider | str] | None = None,
    concurrency: int = 16,
    progress: Progress | None = None,
    actor: str = "system",
    rates: dict[Provider, float] | None = None,
    max_rate_limit_retries: int = 2,
    workers: int | None = None,
    targets: list[Target] | None = None,
    run_id: str | None = None,
) -> RevalidateReport:
    """Re-check many stored credentials: `concurrency` checks at a time per provider, an optional rate per provider
    (checks/s), and a 429 backs off that provider only, then the check is retried. `workers` is deprecated and
    ignored: a run is threads in one process (see checkpool.py). `run_id` (a `bulk-` id) names the run up front,
    so a caller can show it as in progress; one is made otherwise."""
    started = time.monotonic()
    plan = RunPlan(
        concurrency=concurrency, actor=actor, rates=rates or {}, max_rate_limit_retries=max_rate_limit_retries
    )
    if run_id is not None:
        plan.run_id = run_id
    records, missing = chosen(deps, orgs, providers, targets)
    report = revalidate_records(deps, records, plan, progress)
    report.missing = missing
    try:  # writers in other processes (the API server, other tasks) may have synced out of order: repair it
        report.drift_fixed = reconcile(deps, actor=actor).fixed
    except IntegrationError as exc:
        report.warnings.append(f"{exc.code}: reconcile after the run failed ({exc.message}); run it again.")
    if workers is not None or (deps.settings is not None and deps.settings.bulk_workers):
        report.warnings.append(WORKERS_IGNORED)
    report.alert = alerting.alert(deps, report.changed, "revalidate", actor, run_id=plan.run_id)
    report.warnings += alerting.warnings(report.alert)
    report.duration_s = time.monotonic() - started
    return report


def revalidate_records(
    deps: Deps, records: list[StoredCredential], plan: RunPlan, progress: Progress | None = None
) -> RevalidateReport:
    """Check `records` on per-provider thread pools (checkpool.py); write in batches on this thread."""
    report, pending = RevalidateReport(run_id=plan.run_id, total=len(records)), list[Assessment]()
    run = CheckRun(records, lambda record: assess(deps, record, plan.actor, plan.run_id), plan.limits())
    with ExitStack() as scopes, closing(run.completed()) as completed:  # a failed write stops the pools at once
        for validator in deps.validators.values():  # what a validator obtains for the run lasts the run (tokens)
            scopes.enter_context(validator.run_scope())
        for done, (_, assessment) in enumerate(completed, 1):
            report.count(assessment)
            pending.append(assessment)
            if progress:
                progress(done, len(records))
            # written while the other checks go on (the last batch after the last check)
            if len(pending) >= WRITE_BATCH:
                report.applied(pending, record_checks(deps, pending, plan.actor).applied)
                pending.clear()
    if pending:
        report.applied(pending, record_checks(deps, pending, plan.actor).applied)
    report.backoff_s = {p.value: round(s, 3) for p, s in run.waited_s.items() if round(s, 3)}
    return report
