"""What a re-validation task stages for its run, and what finalizing a run gives back (see runs.py)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import NamedTuple

# how far back a run's staged rows and events are looked for: a Cloud Run task runs at most 168 h (7 days), so a
# run's rows are never older; a constant bound lets BigQuery prune partitions of both tables
RUN_WINDOW = timedelta(days=8)
# a task stages as it goes: every STAGE_ROWS results or STAGE_BYTES of request, whichever comes first, so a task
# killed late loses at most one batch and its retry skips what it staged (BigQuery's request limit is 10 MB); 500
# like every other batch of a run (pages, status syncs): a staging job blocks the task's loop (~1-2 s in BigQuery),
# so fewer, larger batches keep a one-task run at the provider's pace (issue 24's measurement)
STAGE_ROWS = 500
STAGE_BYTES = 2_000_000
PAGE_ROWS = 500  # rows per page of a streamed read (a task's share, a run's results)
STAGED_COLUMNS = (
    "run_id",
    "task_index",
    "credential_id",
    "org_slug",
    "provider",
    "status_before",
    "status_after",
    "outcome",
    "error_code",
    "message",
    "validated_at",
    "checked_at",
    "event_id",
    "actor",
    "duration_ms",
    "alarm",
    "seen_updated_at",
    # issue 26: what the check read of the cost source and of the key's expiry, applied by finalize as a single
    # validate applies them (NULL data fields keep the stored ones; a NULL expiry means not asked: kept too)
    "data_status",
    "data_through",
    "data_newest_at",
    "last_success_at",
    "expiry",
    "expires_at",
    "last_used_at",
)
# the event of a result finalize did not apply because its credential changed after the task read it
SUPERSEDED = (
    "Superseded, not applied: the credential changed while it was checked (a newer check, a rotation or a delete)."
)


def superseded_params() -> dict[str, str]:
    """The query parameters a superseded event's message is built from (SQL text holds no literal)."""
    return {"superseded": SUPERSEDED, "superseded_then": SUPERSEDED + " "}


class StagedResult(NamedTuple):
    """One credential's check in a run: its verdict and the event finalize writes for it (event_id, at
    checked_at). An alarm (the ciphertext could not be decrypted) changes no status. `seen_updated_at` is the
    credential's updated_at when the task read it: finalize applies the result only while it is still that (a
    newer check, a rotation or a delete supersedes it)."""

    run_id: str
    task_index: int
    credential_id: str
    org_slug: str
    provider: str
    status_before: str
    status_after: str
    outcome: str
    error_code: str | None
    message: str | None
    validated_at: datetime | None
    checked_at: datetime
    event_id: str
    actor: str
    duration_ms: int | None
    alarm: bool
    seen_updated_at: datetime | None = None
    data_status: str | None = None  # freshness.Freshness of the check (None: it read no cost data)
    data_through: date | None = None
    data_newest_at: datetime | None = None
    last_success_at: datetime | None = None
    expiry: str | None = None  # Expiry.label (None: the provider was not asked; expires_at/last_used_at then kept)
    expires_at: datetime | None = None
    last_used_at: datetime | None = None


class RunRow(NamedTuple):
    """A staged result as finalize reads it (one per credential): whether its event is written already (an earlier
    finalize applied it), whether its credential is still active, and the credential's hint and name (no key)."""

    result: StagedResult
    written: bool
    active: bool
    credential_hint: str | None
    credential_name: str | None


class RunState(NamedTuple):
    """Where a run stands: its staged results, its tasks that said they are done (of `task_count`, None when no
    task has), and when its first result or marker was written (None when nothing was)."""

    staged: int
    tasks_done: int
    task_count: int | None
    first_at: datetime | None


class RunProgress(NamedTuple):
    """A run in progress: it has results staged (since the bound asked) that finalize has not written as events
    yet. How many are staged, how many of its tasks said they are done (of `task_count`, None when no task has),
    and its first and last staged check."""

    run_id: str
    staged: int
    tasks_done: int
    task_count: int | None
    first_at: datetime
    last_at: datetime
