"""Re-validation as a job of tasks (Cloud Run Jobs, or N processes on one machine).

A task checks only its share of the active credentials (a stable hash of the credential id decides the share),
under its share of the run's limits, and stages its results; it writes no status. Finalize applies the run's
staged results in one write, writes their events, syncs the status cache and reports the run. A run id makes a
retried task idempotent: a credential staged in the run is not checked again, and finalize writes an event only
once, so a second finalize changes nothing.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from contextlib import ExitStack
from datetime import UTC, datetime

from pyrate_limiter import Duration, Limiter, Rate

from .. import changes
from ..checkpool import PoolLimits, Progress, streamed
from ..deps import Deps
from ..domain import Provider, Status, StoredCredential
from ..errors import IntegrationError
from ..store.base import IntegrationStore
from ..store.staging import PAGE_ROWS, RUN_WINDOW, STAGE_BYTES, STAGE_ROWS, RunRow, StagedResult
from ..taskspec import RUN_TIMEOUT_S, RunReport, TaskLimits, TaskReport, TaskSpec
from . import alerting
from .checks import Assessment, assess
from .recording import sync_batch

Sync = Callable[[list[tuple[str, Provider, Status, datetime | None]], str], list[str]]
SYNC_BATCH = 500  # statuses per status-cache write, as bulk runs write them


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
    """Check this task's share of the credentials not yet staged in the run, streamed from the store, and stage the
    results as they come (every STAGE_ROWS results or STAGE_BYTES of request): a task killed late loses at most
    one batch, and its retry checks only what is not staged. Its done mark lets finalize know it finished."""
    started = time.monotonic()
    since = datetime.now(UTC) - RUN_WINDOW
    share, staged = store.share_counts(spec.run_id, since, spec.index, spec.count)
    report = TaskReport(
        run_id=spec.run_id,
        task_index=spec.index,
        task_count=spec.count,
        share=share,
        already_staged=staged,
        kms_per_minute=limits.kms_per_minute,
    )
    kms = kms_limiter(limits.kms_per_minute)

    def check(record: StoredCredential) -> Assessment:
        kms.try_acquire("kms")  # one decrypt per check: blocks while the task's KMS budget is spent
        return assess(record, actor)

    pending = store.pending_for_run(spec.run_id, since, spec.index, spec.count)
    pool = PoolLimits.uniform(limits.concurrency, dict(limits.rates), limits.rate_limit_retries)
    batch: list[StagedResult] = []
    size = 0
    for done, assessment in enumerate(streamed(pending, check, pool, window=PAGE_ROWS), 1):
        result = _staged(spec, assessment)
        batch.append(result)
        size += staged_bytes(result)
        key = assessment.event.outcome.value
        report.outcomes[key] = report.outcomes.get(key, 0) + 1
        if len(batch) >= STAGE_ROWS or size >= STAGE_BYTES:
            store.stage_results(batch)
            report.checked += len(batch)
            batch, size = [], 0
        if progress:
            progress(done, share - staged)
    store.stage_results(batch)
    report.checked += len(batch)
    store.task_done(spec.run_id, spec.index, spec.count, datetime.now(UTC))
    report.duration_s = round(time.monotonic() - started, 3)
    return report


def staged_bytes(result: StagedResult) -> int:
    """What a result weighs in a staging request: its values as the client's JSON writes them (a non-ASCII
    character is a 6- or 12-byte escape) plus each field's name and wrapping."""
    return sum(len(json.dumps(str(v))) + len(k) + 24 for k, v in zip(result._fields, result, strict=True))


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
        seen_updated_at=a.record.updated_at,  # finalize applies the result only while the credential is unchanged
    )


def finalize(
    store: IntegrationStore,
    sync: Sync,
    run_id: str,
    actor: str,
    run_timeout_s: float = RUN_TIMEOUT_S,
    force: bool = False,
) -> RunReport:
    """Apply a run's staged results (one store write) and sync the statuses of every credential the run applied,
    reading the run page by page. Refused while the run's tasks may still run (fewer done marks than tasks, and
    the run younger than `run_timeout_s`) unless `force`."""
    since = datetime.now(UTC) - RUN_WINDOW
    state = store.run_state(run_id, since)
    if not state.staged and not state.tasks_done:
        raise IntegrationError("RUN_NOT_FOUND", f"No results are staged for run {run_id!r}.")
    age = (datetime.now(UTC) - state.first_at).total_seconds() if state.first_at else 0.0
    if not force and (state.task_count is None or state.tasks_done < state.task_count) and age < run_timeout_s:
        done = f"{state.tasks_done} of {state.task_count}" if state.task_count else "none"
        raise IntegrationError(
            "RUN_TASKS_RUNNING",
            f"Run {run_id!r} is not done: {done} of its tasks said they finished, and it started "
            f"{age:.0f} s ago (a run's tasks may run {run_timeout_s:.0f} s, INTEGRATIONS_RUN_TIMEOUT_S). Finalize "
            "when its execution has ended, or with --force to apply what is staged now.",
        )
    report = RunReport(run_id=run_id)
    fresh: set[str] = set()  # results no finalize has written yet: this one applies or supersedes each
    for row in store.run_results(run_id, since):
        _count(report, row)
        if not row.written and not row.result.alarm:
            fresh.add(row.result.credential_id)
    superseded = store.apply_run(run_id, since) & fresh  # decided inside the write: changed since the task read it
    report.applied = len(fresh) - len(superseded)
    if superseded:  # not applied, so no flip: neither a change in the report nor in the alert
        report.superseded = sorted(superseded)
        report.changes = [c for c in report.changes if c["credential_id"] not in superseded]
        report.changed = len(report.changes)
    report.changes.sort(key=lambda c: (c["org_slug"] or "", c["provider"] or ""))
    batch: list[tuple[str, Provider, Status, datetime | None]] = []
    for update in store.run_statuses(run_id, since):
        batch.append(update)
        if len(batch) >= SYNC_BATCH:
            _push(sync, batch, actor, report)
            batch = []
    if batch:
        _push(sync, batch, actor, report)
    return report


def _count(report: RunReport, row: RunRow) -> None:
    r = row.result
    report.checked += 1
    report.outcomes[r.outcome] = report.outcomes.get(r.outcome, 0) + 1
    report.by_task[r.task_index] = report.by_task.get(r.task_index, 0) + 1
    if r.error_code:
        report.errors[r.error_code] = report.errors.get(r.error_code, 0) + 1
    if r.alarm:
        report.alarms.append(r.credential_id)
    elif r.status_after != r.status_before:
        report.changed += 1
        change = (r.status_before, r.status_after, r.error_code)
        hint = {"credential_hint": row.credential_hint, "credential_name": row.credential_name}
        report.changes.append(changes.change_row(r.org_slug, r.provider, change, r.credential_id, None) | hint)


def _push(
    sync: Sync, batch: list[tuple[str, Provider, Status, datetime | None]], actor: str, report: RunReport
) -> None:
    """Sync one batch. After a failed batch the rest is not tried (the cache is down: each try would wait out its
    timeout); a retried finalize, or `integrations reconcile`, syncs them (every finalize pushes the run's statuses)."""
    if report.unsynced:
        report.unsynced += len(batch)
        return
    warnings = sync(batch, actor)
    if warnings:
        report.warnings.extend(warnings)
        report.unsynced += len(batch)


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


def finalize_run(deps: Deps, run_id: str, actor: str = "system", force: bool = False) -> RunReport:
    """Apply a run's staged results in one write, sync the status cache, then post the run's flips as one alert
    (only for results this finalize applied: a second finalize neither applies nor alerts again)."""
    timeout = deps.settings.run_timeout_s if deps.settings else RUN_TIMEOUT_S
    push = lambda updates, who: sync_batch(deps, updates, who, run_id, checked=True)  # noqa: E731
    report = finalize(deps.store, push, run_id, actor, timeout, force)
    if report.applied:
        report.alert = alerting.alert(deps, report.changes, "revalidate", actor, run_id=run_id)
        report.warnings += alerting.warnings(report.alert)
    return report
