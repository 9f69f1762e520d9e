"""What a re-validation task stages for its run, and what finalizing a run gives back (see runs.py)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import NamedTuple

# how far back a run's staged rows and events are looked for: a Cloud Run task runs at most 168 h (7 days), so a
# run's rows are never older; a constant bound lets BigQuery prune partitions of both tables
RUN_WINDOW = timedelta(days=8)
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


class RunFinal(NamedTuple):
    """A run's staged results (one per credential), the credential ids this finalize applied to still-active,
    unchanged rows, and those it did not apply because the credential changed since its task read it (both empty
    when the run was already finalized)."""

    rows: list[StagedResult]
    applied: set[str]
    superseded: frozenset[str] = frozenset()
