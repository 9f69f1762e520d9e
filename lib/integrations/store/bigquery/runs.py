"""The BigQuery store's side of re-validation runs. A task: its share's counts (one job), its share read as one
streamed job (pages of PAGE_ROWS), one staging INSERT per batch, its done mark. Finalize: the run's state, its
results streamed, one transaction (a MERGE and an INSERT ... SELECT), the applied statuses streamed: a constant
number of jobs whatever the number of credentials, and memory of a page."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from ...domain import Action, Provider, Status, StoredCredential
from ..staging import RUN_WINDOW, STAGED_COLUMNS, RunRow, RunState, StagedResult, superseded_params
from . import runs_sql as sql
from .params import credential_of, structs, utc

RESULT_TYPES = {  # the STRUCT of one @results element: the staging table's columns
    "run_id": "STRING",
    "task_index": "INT64",
    "credential_id": "STRING",
    "org_slug": "STRING",
    "provider": "STRING",
    "status_before": "STRING",
    "status_after": "STRING",
    "outcome": "STRING",
    "error_code": "STRING",
    "message": "STRING",
    "validated_at": "TIMESTAMP",
    "checked_at": "TIMESTAMP",
    "event_id": "STRING",
    "actor": "STRING",
    "duration_ms": "INT64",
    "alarm": "BOOL",
    "seen_updated_at": "TIMESTAMP",
    "data_status": "STRING",  # issue 26: what the check read of the cost source and the key's expiry
    "data_through": "DATE",
    "data_newest_at": "TIMESTAMP",
    "last_success_at": "TIMESTAMP",
    "expiry": "STRING",
    "expires_at": "TIMESTAMP",
    "last_used_at": "TIMESTAMP",
}
assert tuple(RESULT_TYPES) == STAGED_COLUMNS  # noqa: S101 - the struct and the table agree, checked at import


class BigQueryRuns:
    """Mixed into BigQueryStore (needs its _query and _stream)."""

    _query: Callable[..., list[dict[str, Any]]]
    _stream: Callable[..., Iterator[dict[str, Any]]]

    def share_counts(self, run_id: str, since: datetime, index: int, count: int) -> tuple[int, int]:
        params = {"run_id": run_id, "since": since, "task_index": index, "task_count": count}
        row = self._query(sql.SHARE_COUNTS, params)[0]
        return int(row["share"]), int(row["staged"])

    def pending_for_run(
        self, run_id: str, since: datetime, index: int = 0, count: int = 1
    ) -> Iterator[StoredCredential]:
        params = {"run_id": run_id, "since": since, "task_index": index, "task_count": count}
        for row in self._stream(sql.PENDING, params):
            yield credential_of(row)

    def stage_results(self, results: list[StagedResult]) -> None:
        if not results:
            return
        since = min(r.checked_at for r in results) - RUN_WINDOW  # an earlier attempt staged before this one
        param = structs("results", RESULT_TYPES, [r._asdict() for r in results])
        self._query(sql.STAGE, {"since": since}, [param])

    def task_done(self, run_id: str, index: int, count: int, at: datetime) -> None:
        self._query(sql.TASK_DONE, {"run_id": run_id, "task_index": index, "task_count": count, "done_at": at})

    def run_state(self, run_id: str, since: datetime) -> RunState:
        row = self._query(sql.RUN_STATE, {"run_id": run_id, "since": since})[0]
        count = row["task_count"]
        return RunState(
            int(row["staged"] or 0),
            int(row["tasks_done"] or 0),
            None if count is None else int(count),
            utc(row["first_at"]),
        )

    def run_results(self, run_id: str, since: datetime) -> Iterator[RunRow]:
        for r in self._stream(sql.RESULTS, {"run_id": run_id, "since": since}):
            staged = StagedResult(**{c: utc(r[c]) for c in STAGED_COLUMNS})
            yield RunRow(staged, bool(r["written"]), bool(r["active"]), r["credential_hint"], r["credential_name"])

    def apply_run(self, run_id: str, since: datetime) -> set[str]:
        params = {"run_id": run_id, "since": since, "action": Action.VALIDATE.value} | superseded_params()
        return {r["credential_id"] for r in self._query(sql.FINALIZE, params)}

    def run_statuses(self, run_id: str, since: datetime) -> Iterator[tuple[str, Provider, Status, datetime | None]]:
        for r in self._stream(sql.STATUSES, {"run_id": run_id, "since": since}):
            yield r["org_slug"], Provider.parse(r["provider"]), Status(r["validation_status"]), utc(r["created_at"])
