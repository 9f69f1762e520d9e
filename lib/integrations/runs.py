"""Re-validation as a job of tasks (Cloud Run Jobs, or N processes on one machine).

A task checks only its share of the active credentials (a stable hash of the credential id decides the share),
under its share of the run's limits, and stages its results; it writes no status. Finalize applies the run's
staged results in one write, writes their events, syncs the status cache and reports the run. A run id makes a
retried task idempotent: a credential staged in the run is not checked again, and finalize writes an event only
once, so a second finalize changes nothing.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any, Protocol

from pydantic import BaseModel, Field
from pyrate_limiter import Duration, Limiter, Rate

from .checkpool import CheckRun, PoolLimits, Progress
from .domain import Provider, Status, StoredCredential
from .errors import IntegrationError
from .store.base import IntegrationStore
from .store.staging import RUN_WINDOW, StagedResult

ENV_INDEX, ENV_COUNT, ENV_RUN = "CLOUD_RUN_TASK_INDEX", "CLOUD_RUN_TASK_COUNT", "CLOUD_RUN_EXECUTION"
# rows per staging INSERT: a row is ~840 B of JSON as an ARRAY<STRUCT> query parameter (with an error message), so
# 8,000 stay under BigQuery's 10 MB request limit; a task of at most 8,000 credentials stages in one job
STAGE_BATCH = 8_000
MAX_TASKS = 10_000  # Cloud Run Jobs' own limit on tasks per execution
Sync = Callable[[list[tuple[str, Provider, Status, datetime | None]], str], list[str]]


class Assessed(Protocol):
    """What IntegrationService.assess returns (service.Assessment), as far as a run needs it."""

    @property
    def record(self) -> StoredCredential: ...

    @property
    def after(self) -> Status: ...

    @property
    def validated_at(self) -> datetime | None: ...

    @property
    def event(self) -> Any: ...

    @property
    def alarm(self) -> bool: ...

    @property
    def result(self) -> Any: ...


class TaskSpec(BaseModel):
    """Which task of which run this process is."""

    run_id: str
    index: int = 0
    count: int = 1


class TaskLimits(BaseModel):
    """A whole run's limits: concurrency and rate (checks/s) per provider, KMS decrypts per minute (a task's
    checks run on checkpool's pools with its share of them)."""

    concurrency: int = 16
    rates: dict[Provider, float] = Field(default_factory=dict)
    kms_per_minute: int = 30_000
    rate_limit_retries: int = 2

    def share(self, count: int, index: int = 0) -> TaskLimits:
        """Task `index`'s share of `count`: together the tasks stay within the run's limits."""
        return self.model_copy(
            update={
                "concurrency": max(1, share(self.concurrency, count, index)),
                "rates": {p: r / count for p, r in self.rates.items()},
                "kms_per_minute": max(1, share(self.kms_per_minute, count, index)),
            }
        )


class TaskReport(BaseModel):
    run_id: str
    task_index: int
    task_count: int
    share: int = 0  # active credentials in this task's share
    already_staged: int = 0  # of them, checked by an earlier attempt of this task in the run (not checked again)
    checked: int = 0
    outcomes: dict[str, int] = Field(default_factory=dict)
    kms_per_minute: int = 0
    duration_s: float = 0.0
    warnings: list[str] = Field(default_factory=list)


class RunReport(BaseModel):
    run_id: str
    checked: int = 0
    changed: int = 0
    applied: int = 0  # results this finalize applied (0 when the run was finalized before)
    outcomes: dict[str, int] = Field(default_factory=dict)
    errors: dict[str, int] = Field(default_factory=dict)
    by_task: dict[int, int] = Field(default_factory=dict)
    changes: list[dict[str, str]] = Field(default_factory=list)
    alarms: list[str] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)


def share(total: int, parts: int, index: int) -> int:
    """Part `index` of `total` split into `parts` near-equal whole parts."""
    return total // parts + (1 if index < total % parts else 0)


def task_of(credential_id: str, count: int) -> int:
    """The task that checks a credential: stable across processes and machines (not Python's salted hash)."""
    digest = hashlib.sha256(credential_id.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % count


def _int(name: str, flag: int | None, env: Mapping[str, str], var: str) -> int | None:
    if flag is not None:
        return flag
    raw = env.get(var)
    if raw is None or raw == "":
        return None
    try:
        return int(raw.strip())
    except ValueError:
        raise IntegrationError("TASK_SETTINGS_INVALID", f"{var}={raw[:40]!r} is not an integer ({name}).") from None


def task_spec(
    index: int | None = None, count: int | None = None, run_id: str | None = None, env: Mapping[str, str] | None = None
) -> TaskSpec:
    """The task from flags, else Cloud Run's variables; one task with a fresh run id when neither says."""
    env = env or {}
    i = _int("the task index", index, env, ENV_INDEX)
    n = _int("the task count", count, env, ENV_COUNT)
    n = 1 if n is None else n
    i = 0 if i is None else i
    if not 1 <= n <= MAX_TASKS:
        raise IntegrationError("TASK_SETTINGS_INVALID", f"The task count is {n}; it must be 1 to {MAX_TASKS}.")
    if not 0 <= i < n:
        raise IntegrationError("TASK_SETTINGS_INVALID", f"The task index is {i}; it must be 0 to {n - 1}.")
    run = (run_id or env.get(ENV_RUN) or "").strip()
    if not run:
        if n > 1:
            raise IntegrationError(
                "TASK_SETTINGS_INVALID", f"Task {i} of {n} has no run id: give every task the same --run-id."
            )
        run = f"run-{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"
    if len(run) > 128 or not run.isprintable():
        raise IntegrationError("TASK_SETTINGS_INVALID", "A run id is one line of at most 128 printable characters.")
    return TaskSpec(run_id=run, index=i, count=n)


def kms_limiter(per_minute: int) -> Limiter:
    """At most `per_minute` decrypts in any minute, spread out (a sixtieth per second) rather than in one burst."""
    per_s = -(-per_minute // 60)  # rounded up: pyrate-limiter wants the shorter window no stricter than the longer
    if per_s >= per_minute:
        return Limiter(Rate(per_minute, Duration.MINUTE))
    return Limiter([Rate(per_s, Duration.SECOND), Rate(per_minute, Duration.MINUTE)])


def run_task(
    store: IntegrationStore,
    assess: Callable[[StoredCredential, str], Assessed],
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

    def check(record: StoredCredential) -> Assessed:
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
    records: list[StoredCredential], check: Callable[[StoredCredential], Assessed], limits: TaskLimits
) -> Iterator[Assessed]:
    """Assessments in completion order, on checkpool's per-provider pools: `limits.concurrency` checks in flight
    per provider, its rate, and a 429 that pauses only its provider before the check is retried."""
    pool = PoolLimits.uniform(limits.concurrency, dict(limits.rates), limits.rate_limit_retries)
    for _, assessment in CheckRun(records, check, pool).completed():  # type: ignore[arg-type]
        yield assessment


def _share(records: list[StoredCredential], spec: TaskSpec) -> list[StoredCredential]:
    return [r for r in records if task_of(r.credential_id, spec.count) == spec.index]


def _staged(spec: TaskSpec, a: Assessed) -> StagedResult:
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
            report.changes.append(
                {
                    "org_slug": row.org_slug,
                    "provider": row.provider,
                    "before": row.status_before,
                    "after": row.status_after,
                }
            )
    applied = [r for r in final.rows if r.credential_id in final.applied]
    created = {c.credential_id: c.created_at for c in store.list_credentials() if c.credential_id in final.applied}
    for start in range(0, len(applied), 500):  # the status cache's batched write, as bulk runs do it
        chunk = applied[start : start + 500]
        updates = [
            (r.org_slug, Provider.parse(r.provider), Status(r.status_after), created.get(r.credential_id))
            for r in chunk
        ]
        report.warnings.extend(sync(updates, actor))
    return report
