"""Re-validation as a job of tasks (Cloud Run Jobs, or N processes on one machine).

A task checks only its share of the active credentials (a stable hash of the credential id decides the share),
under its share of the run's limits, and stages its results; it writes no status. Finalize applies the run's
staged results in one write, writes their events, syncs the status cache and reports the run. A run id makes a
retried task idempotent: a credential staged in the run is not checked again, and finalize writes an event only
once, so a second finalize changes nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import UTC, datetime

from pyrate_limiter import Duration, Limiter, Rate

from .. import alerts, changes
from ..checkpool import CheckRun, PoolLimits, Progress
from ..deps import Deps
from ..domain import Provider, Status, StoredCredential
from ..errors import IntegrationError
from ..store.base import IntegrationStore
from ..store.staging import RUN_WINDOW, StagedResult
from ..taskspec import RunReport, TaskLimits, TaskReport, TaskSpec, task_of
from .checks import Assessment, assess
from .recording import sync

# rows per staging INSERT: a row is ~840 B of JSON as an ARRAY<STRUCT> query parameter (with an error message), so
# 8,000 stay under BigQuery's 10 MB request limit; a task of at most 8,000 credentials stages in one job
STAGE_BATCH = 8_000
Sync = Callable[[list[tuple[str, Provider, Status, datetime | None]], str], list[str]]


def kms_limiter(per_minute: int) -> Limiter:
    """At most `per_minute` decrypts in any minute, spread out (a sixtieth per second) rather than in one burst."""
    per_s = -(-per_minute // 60)  # rounded up: pyrate-limiter wants the shorter window no stricter than the longer
    if per_s >= per_minute:
        return Limiter(Rate(per_minute, Duration.MINUTE))
    return Limiter([Rate(per_s, Duration.SECOND), Rate(per_minute, Duration.MINUTE)])


def run_task(
    store: IntegrationStore,
    assess: Callable[[StoredCredential, str], Assessment],
    spec: TaskSpec,
    limits: TaskLimits,
    actor: str,
    progress: Progress | None = None,
) -> TaskReport:
    """Check this task's share of the credentials not yet staged in the run, and stage the results."""
    started = time.monotonic()
    mine = _share(store.list_credentials(), spec)
    pending = _share(store.pending_for_run(spec.run_id, datetime.now(UTC) - RUN_WINDOW), spec)
    report = TaskReport(
        run_id=spec.run_id,
        task_index=spec.index,
        task_count=spec.count,
        share=len(mine),
        already_staged=len(mine) - len(pending),
        kms_per_minute=limits.kms_per_minute,
    )
    kms = kms_limiter(limits.kms_per_minute)

    def check(record: StoredCredential) -> Assessment:
        kms.try_acquire("kms")  # one decrypt per check: blocks while the task's KMS budget is spent
        return assess(record, actor)

    batch: list[StagedResult] = []
    for done, assessment in enumerate(_completed(pending, check, limits), 1):
        batch.append(_staged(spec, assessment))
        key = assessment.event.outcome.value
        report.outcomes[key] = report.outcomes.get(key, 0) + 1
        if len(batch) >= STAGE_BATCH:
            store.stage_results(batch)
            batch = []
        if progress:
            progress(done, len(pending))
    store.stage_results(batch)
    report.checked = len(pending)
    report.duration_s = round(time.monotonic() - started, 3)
    return report


def _completed(
    records: list[StoredCredential], check: Callable[[StoredCredential], Assessment], limits: TaskLimits
) -> Iterator[Assessment]:
    """Assessments in completion order, on checkpool's per-provider pools: `limits.concurrency` checks in flight
    per provider, its rate, and a 429 that pauses only its provider before the check is retried."""
    pool = PoolLimits.uniform(limits.concurrency, dict(limits.rates), limits.rate_limit_retries)
    for _, assessment in CheckRun(records, check, pool).completed():
        yield assessment


def _share(records: list[StoredCredential], spec: TaskSpec) -> list[StoredCredential]:
    return [r for r in records if task_of(r.credential_id, spec.count) == spec.index]


def _staged(spec: TaskSpec, a: Assessment) -> StagedResult:
    e = a.event
    return StagedResult(
        run_id=spec.run_id,
        task_index=spec.index,
        credential_id=a.record.credential_id,
        org_slug=a.record.org_slug,
        provider=a.record.provider.value,
        status_before=a.record.validation_status.value,
        status_after=a.after.value,
        outcome=e.outcome.value,
        error_code=e.error_code,
        message=e.message,
        validated_at=a.validated_at,
        checked_at=e.at,
        event_id=e.event_id,
        actor=e.actor or "system",
        duration_ms=e.duration_ms,
        alarm=a.alarm,
    )


def finalize(store: IntegrationStore, sync: Sync, run_id: str, actor: str) -> RunReport:
    """Apply a run's staged results (one store write), sync the statuses applied, and report the run."""
    final = store.finalize_run(run_id, datetime.now(UTC) - RUN_WINDOW)
    if not final.rows:
        raise IntegrationError("RUN_NOT_FOUND", f"No results are staged for run {run_id!r}.")
    report = RunReport(run_id=run_id, checked=len(final.rows), applied=len(final.applied))
    credentials = {c.credential_id: c for c in store.list_credentials()}
    final.rows.sort(key=lambda r: (r.task_index, r.org_slug, r.provider))
    for row in final.rows:
        report.outcomes[row.outcome] = report.outcomes.get(row.outcome, 0) + 1
        report.by_task[row.task_index] = report.by_task.get(row.task_index, 0) + 1
        if row.error_code:
            report.errors[row.error_code] = report.errors.get(row.error_code, 0) + 1
        if row.alarm:
            report.alarms.append(row.credential_id)
        elif row.status_after != row.status_before:
            report.changed += 1
            change = (row.status_before, row.status_after, row.error_code)
            record = credentials.get(row.credential_id)
            report.changes.append(changes.change_row(row.org_slug, row.provider, change, row.credential_id, record))
    applied = [r for r in final.rows if r.credential_id in final.applied]
    created = {i: c.created_at for i, c in credentials.items() if i in final.applied}
    for start in range(0, len(applied), 500):  # the status cache's batched write, as bulk runs do it
        chunk = applied[start : start + 500]
        updates = [
            (r.org_slug, Provider.parse(r.provider), Status(r.status_after), created.get(r.credential_id))
            for r in chunk
        ]
        report.warnings.extend(sync(updates, actor))
    return report


def revalidate_task(
    deps: Deps,
    spec: TaskSpec,
    concurrency: int = 16,
    rates: dict[Provider, float] | None = None,
    actor: str = "system",
    progress: Progress | None = None,
) -> TaskReport:
    """Check this task's share of the run and stage it. `concurrency`, `rates` (per provider) and the KMS budget
    (INTEGRATIONS_KMS_REQUESTS_PER_MINUTE) are the whole run's: the task takes its share."""
    kms = deps.settings.kms_requests_per_minute if deps.settings else TaskLimits().kms_per_minute
    limits = TaskLimits(concurrency=concurrency, rates=rates or {}, kms_per_minute=kms)
    check = lambda record, who: assess(deps, record, who)  # noqa: E731
    with ExitStack() as scopes:  # what a validator obtains for the run lasts the task (GCP keyless tokens)
        for validator in deps.validators.values():
            scopes.enter_context(validator.run_scope())
        return run_task(deps.store, check, spec, limits.share(spec.count, spec.index), actor, progress)


def finalize_run(deps: Deps, run_id: str, actor: str = "system") -> RunReport:
    """Apply a run's staged results in one write, sync the status cache, then post the run's flips as one alert
    (only for results this finalize applied: a second finalize neither applies nor alerts again)."""
    report = finalize(deps.store, lambda updates, who: sync(deps, updates, who), run_id, actor)
    if report.applied:
        report.alert = alerts.alert(deps.store, deps.settings, report.changes, "revalidate", actor, run_id=run_id)
        report.warnings += alerts.warnings(report.alert)
    return report
