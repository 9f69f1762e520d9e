"""Which task of which re-validation run a process is, and what the run reports: pure values an entry point may
read (the CLI parses a task from flags or Cloud Run's variables). The work of a run is usecases/runs.py; every bulk
re-validation (the console, the CLI, a notebook, the nightly job) is such a run."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime

from pydantic import BaseModel, Field

from .alerts import AlertDelivery
from .domain import Provider
from .errors import Code, IntegrationError
from .pinned_env import ENV_COUNT, ENV_INDEX, ENV_RUN
from .settings import KMS_PER_MINUTE

MAX_TASKS = 10_000  # Cloud Run Jobs' own limit on tasks per execution


class TaskSpec(BaseModel):
    """Which task of which run this process is."""

    run_id: str
    index: int = 0
    count: int = 1


class TaskLimits(BaseModel):
    """A whole run's limits: concurrency and rate (checks/s) per provider, Cloud KMS decrypts per minute (None: the
    cipher calls no KMS, no budget) (a task's checks run on usecases/checkpool's pools with its share of them)."""

    concurrency: int = 16
    rates: dict[Provider, float] = Field(default_factory=dict)
    kms_per_minute: int | None = KMS_PER_MINUTE
    rate_limit_retries: int = 2

    def share(self, count: int, index: int = 0) -> TaskLimits:
        """Task `index`'s share of `count`: together the tasks stay within the run's limits."""
        return self.model_copy(
            update={
                "concurrency": max(1, share(self.concurrency, count, index)),
                "rates": {p: r / count for p, r in self.rates.items()},
                "kms_per_minute": None
                if self.kms_per_minute is None
                else max(1, share(self.kms_per_minute, count, index)),
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
    kms_per_minute: int | None = None  # the task's Cloud KMS budget (None: no KMS, no budget)
    backoff_s: dict[str, float] = Field(default_factory=dict)  # what each provider was held back (429s, its rate)
    duration_s: float = 0.0
    warnings: list[str] = Field(default_factory=list)


class RunReport(BaseModel):
    """What a run did, as finalize reads it back from the store; a bulk run that finalizes itself (the console,
    the CLI) adds its targets that named no credential, its back-off, the reconcile after it and its duration."""

    run_id: str
    checked: int = 0
    changed: int = 0
    applied: int = 0  # results this finalize applied (0 when the run was finalized before)
    alarms_recorded: int = 0  # alarms (our keyring or KMS failing) this finalize recorded first: the operator's alert
    superseded: list[str] = Field(default_factory=list)  # credential ids changed since their task read them
    outcomes: dict[str, int] = Field(default_factory=dict)
    errors: dict[str, int] = Field(default_factory=dict)
    by_task: dict[int, int] = Field(default_factory=dict)
    changes: list[dict[str, str | None]] = Field(default_factory=list)
    alarms: list[str] = Field(default_factory=list)
    unsynced: int = 0  # applied statuses the status cache did not take (a retried finalize or reconcile syncs them)
    warnings: list[str] = Field(default_factory=list)
    alert: AlertDelivery | None = None  # the run's status-flip alert, when one was due (alerts.py)
    missing: list[str] = Field(default_factory=list)  # targets with no active credential (not checked)
    backoff_s: dict[str, float] = Field(default_factory=dict)  # what each provider was held back (429s, its rate)
    drift_fixed: int = 0  # status-cache rows reconciled after a bulk run
    duration_s: float = 0.0


def label(outcome: str) -> str:
    """How a report counts a check's outcome: VALID, INVALID or INCONCLUSIVE (verdict.Verdict.label)."""
    return {"SUCCESS": "VALID", "REJECTED": "INVALID"}.get(outcome, "INCONCLUSIVE")


def share(total: int, parts: int, index: int) -> int:
    """Part `index` of `total` split into `parts` near-equal whole parts."""
    return total // parts + (1 if index < total % parts else 0)


def _int(name: str, flag: int | None, env: Mapping[str, str], var: str) -> int | None:
    if flag is not None:
        return flag
    raw = env.get(var)
    if raw is None or raw == "":
        return None
    try:
        return int(raw.strip())
    except ValueError:
        raise IntegrationError(Code.TASK_SETTINGS_INVALID, f"{var}={raw[:40]!r} is not an integer ({name}).") from None


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
        raise IntegrationError(Code.TASK_SETTINGS_INVALID, f"The task count is {n}; it must be 1 to {MAX_TASKS}.")
    if not 0 <= i < n:
        raise IntegrationError(Code.TASK_SETTINGS_INVALID, f"The task index is {i}; it must be 0 to {n - 1}.")
    run = (run_id or env.get(ENV_RUN) or "").strip()
    if not run:
        if n > 1:
            raise IntegrationError(
                Code.TASK_SETTINGS_INVALID, f"Task {i} of {n} has no run id: give every task the same --run-id."
            )
        run = f"run-{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"
    if len(run) > 128 or not run.isprintable():
        raise IntegrationError(Code.TASK_SETTINGS_INVALID, "A run id is one line of at most 128 printable characters.")
    return TaskSpec(run_id=run, index=i, count=n)
