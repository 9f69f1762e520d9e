"""Re-validation as a run of tasks: the one bulk runtime (Cloud Run Jobs' tasks, N processes on one machine, or
the one task of a console or CLI bulk run, which finalizes itself: revalidation.py).

A task checks only its share of the active credentials (a stable hash of the credential id decides the share), or
the credentials a bulk run chose, under its share of the run's limits, and stages its results; it writes no
status. Finalize applies the run's staged results in one write, writes their events, syncs the status cache,
alerts once and reports the run. A run id makes a retried task idempotent: a credential staged in the run is not
checked again, and finalize writes an event only once, so a second finalize changes nothing.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from .. import changes
from ..deps import Deps
from ..domain import Provider, Status, StoredCredential
from ..errors import Code, IntegrationError
from ..settings import RUN_TIMEOUT_S
from ..store.base import IntegrationStore
from ..store.staging import RUN_WINDOW, STAGE_BYTES, STAGE_ROWS, RunRow, StagedResult
from ..taskspec import RunReport, TaskLimits, TaskReport, TaskSpec, label
from . import alerting
from .checkpool import PoolLimits, Progress, streamed
from .checks import EXPIRY_MARKS, Assessment, KeyHolder, assess, log_alarm, mark_reminders
from .recording import sync_batch

if TYPE_CHECKING:  # pyrate-limiter loads with a run, not with the service
    from pyrate_limiter import Limiter

Sync = Callable[[list[tuple[str, Provider, Status, datetime | None]], str], list[str]]
SYNC_BATCH = 500  # statuses per status-cache write, as bulk runs write them
IN_FLIGHT = 4 * STAGE_ROWS  # records submitted and not yet staged: the pools stay busy while a batch is staged


def kms_limiter(per_minute: int) -> Limiter:
    """At most `per_minute` decrypts in any minute, spread out (a sixtieth per second) rather than in one burst."""
    from pyrate_limiter import Duration, Limiter, Rate

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
    records: list[StoredCredential] | None = None,
) -> TaskReport:
    """Check this task's share of the credentials not yet staged in the run, streamed from the store (or exactly
    `records`, the credentials a bulk run chose), and stage the results as they come (every STAGE_ROWS results or
    STAGE_BYTES of request): a task killed late loses at most one batch, and its retry checks only what is not
    staged. Its done mark lets finalize know it finished. A task writes no event (a nightly task's identity
    cannot): finalize decides the run's expiry reminders from what was staged."""
    started = time.monotonic()
    since = datetime.now(UTC) - RUN_WINDOW
    if records is None:
        share, staged = store.share_counts(spec.run_id, since, spec.index, spec.count)
        pending: Iterable[StoredCredential] = store.pending_for_run(spec.run_id, since, spec.index, spec.count)
    else:
        share, staged, pending = len(records), 0, records
    report = TaskReport(
        run_id=spec.run_id,
        task_index=spec.index,
        task_count=spec.count,
        share=share,
        already_staged=staged,
        kms_per_minute=limits.kms_per_minute,
    )
    kms = kms_limiter(limits.kms_per_minute) if limits.kms_per_minute else None

    def check(record: StoredCredential) -> Assessment:
        if kms is not None:
            kms.try_acquire("kms")  # one decrypt per check: blocks while the task's KMS budget is spent
        return assess(record, actor)

    pool = PoolLimits.uniform(limits.concurrency, dict(limits.rates), limits.rate_limit_retries)
    batch: list[StagedResult] = []
    size = 0
    waited: dict[Provider, float] = {}
    for done, assessment in enumerate(streamed(pending, check, pool, IN_FLIGHT, waited), 1):
        result = _staged(spec, assessment)
        batch.append(result)
        if assessment.alarm:
            log_alarm(assessment)
        size += staged_bytes(result)
        key = label(assessment.event.outcome.value)
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
    report.backoff_s = {p.value: round(s, 3) for p, s in waited.items() if round(s, 3)}
    report.duration_s = round(time.monotonic() - started, 3)
    return report


def staged_bytes(result: StagedResult) -> int:
    """What a result weighs in a staging request: its values as the client's JSON writes them (a non-ASCII
    character is a 6- or 12-byte escape) plus each field's name and wrapping."""
    return sum(len(json.dumps(str(v))) + len(k) + 24 for k, v in zip(result._fields, result, strict=True))


def _staged(spec: TaskSpec, a: Assessment) -> StagedResult:
    e = a.event
    staged = StagedResult(
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
    return _with_reads(staged, a)


def _with_reads(staged: StagedResult, a: Assessment) -> StagedResult:
    """What the check read beside the verdict (issue 26): the cost source's freshness and the key's expiry, staged
    so that finalize stores them as a single validate does. An alarm reads nothing."""
    fresh, expiry = (None, None) if a.alarm else (a.freshness, a.result.expiry)
    if fresh is not None:
        staged = staged._replace(
            data_status=fresh.data_status.value,
            data_through=fresh.data_through,
            data_newest_at=fresh.data_newest_at,
            last_success_at=fresh.last_success_at,
        )
    if expiry is not None:
        staged = staged._replace(expiry=expiry.label, expires_at=expiry.expires_at, last_used_at=expiry.last_used_at)
    return staged


def finalize(
    store: IntegrationStore,
    sync: Sync,
    run_id: str,
    actor: str,
    run_timeout_s: float = RUN_TIMEOUT_S,
    force: bool = False,
    expiring: list[tuple[KeyHolder, datetime]] | None = None,
) -> RunReport:
    """Apply a run's staged results (one store write) and sync the statuses of every credential the run applied,
    reading the run page by page. Refused while the run's tasks may still run (fewer done marks than tasks, and
    the run younger than `run_timeout_s`) unless `force`. `expiring` receives the applied results whose key expires
    within the first reminder mark (the caller decides and writes their reminders: tasks cannot write events)."""
    since = datetime.now(UTC) - RUN_WINDOW
    state = store.run_state(run_id, since)
    if not state.staged and not state.tasks_done:
        raise IntegrationError(Code.RUN_NOT_FOUND, f"No results are staged for run {run_id!r}.")
    age = (datetime.now(UTC) - state.first_at).total_seconds() if state.first_at else 0.0
    if not force and (state.task_count is None or state.tasks_done < state.task_count) and age < run_timeout_s:
        done = f"{state.tasks_done} of {state.task_count}" if state.task_count else "none"
        raise IntegrationError(
            Code.RUN_TASKS_RUNNING,
            f"Run {run_id!r} is not done: {done} of its tasks said they finished, and it started "
            f"{age:.0f} s ago (a run's tasks may run {run_timeout_s:.0f} s, INTEGRATIONS_RUN_TIMEOUT_S). Finalize "
            "when its execution has ended, or with --force to apply what is staged now.",
        )
    report = RunReport(run_id=run_id)
    fresh: set[str] = set()  # results no finalize has written yet: this one applies or supersedes each
    soon: dict[str, tuple[KeyHolder, datetime]] = {}  # of those, keys reaching an expiry mark (few)
    horizon = datetime.now(UTC) + timedelta(days=max(EXPIRY_MARKS))
    for row in store.run_results(run_id, since):
        _count(report, row)
        r = row.result
        if not row.written and r.alarm:
            report.alarms_recorded += 1
        if not row.written and not r.alarm:
            fresh.add(r.credential_id)
            if expiring is not None and r.expires_at is not None and r.expires_at <= horizon:
                holder = KeyHolder(
                    r.org_slug, Provider.parse(r.provider), r.credential_id, row.credential_hint, Status(r.status_after)
                )
                soon[r.credential_id] = (holder, r.expires_at)
    superseded = store.apply_run(run_id, since) & fresh  # decided inside the write: changed since the task read it
    if expiring is not None:
        expiring.extend(v for cid, v in soon.items() if cid not in superseded)
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
    key = label(r.outcome)
    report.outcomes[key] = report.outcomes.get(key, 0) + 1
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
    records: list[StoredCredential] | None = None,
    rate_limit_retries: int = 2,
) -> TaskReport:
    """Check this task's share of the run (or exactly `records`) and stage it. `concurrency`, `rates` (per
    provider) and the KMS budget (INTEGRATIONS_KMS_REQUESTS_PER_MINUTE) are the whole run's: the task takes its
    share."""
    limits = TaskLimits(
        concurrency=concurrency,
        rates=rates or {},
        kms_per_minute=deps.kms_per_minute,
        rate_limit_retries=rate_limit_retries,
    )
    # a task decides no expiry reminder (a nightly task's identity reads no events): finalize does, for every run
    check = lambda record, who: assess(deps, record, who, spec.run_id, remind=False)  # noqa: E731
    with ExitStack() as scopes:  # what a validator obtains for the run lasts the task (GCP keyless tokens)
        for validator in deps.validators.values():
            scopes.enter_context(validator.run_scope())
        share = limits.share(spec.count, spec.index)
        return run_task(deps.store, check, spec, share, actor, progress, records)


def finalize_run(deps: Deps, run_id: str, actor: str = "system", force: bool = False) -> RunReport:
    """Apply a run's staged results in one write, sync the status cache, then post the run's flips as one alert
    (only for results this finalize applied: a second finalize neither applies nor alerts again)."""
    push = lambda updates, who: sync_batch(deps, updates, who, run_id, checked=True)  # noqa: E731
    expiring: list[tuple[KeyHolder, datetime]] = []
    report = finalize(deps.store, push, run_id, actor, deps.run_timeout_s, force, expiring)
    reminders = [e for holder, at in expiring for e in mark_reminders(deps, holder, at, actor, run_id)]
    if reminders:  # tasks decide none (a nightly task's identity reads no events): finalize writes them, once per mark
        deps.store.append_events(reminders)
    if report.applied or report.alarms_recorded:  # a second finalize neither applies, records nor alerts again
        report.alert = alerting.alert(deps, report.changes, "revalidate", actor, run_id=run_id)
        report.warnings += alerting.warnings(report.alert)
    return report
