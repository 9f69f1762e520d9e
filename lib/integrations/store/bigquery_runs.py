"""The BigQuery store's side of re-validation runs: a task reads its run's pending credentials in one job and
stages its results in one INSERT job per STAGE_BATCH; finalize is one read and one transaction (a MERGE and an
INSERT ... SELECT), whatever the number of credentials."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from ..domain import Action, StoredCredential
from . import bigquery_runs_sql as sql
from .staging import RUN_WINDOW, STAGED_COLUMNS, RunFinal, StagedResult, superseded_params

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
}
assert tuple(RESULT_TYPES) == STAGED_COLUMNS  # noqa: S101 - the struct and the table agree, checked at import


class BigQueryRuns:
    """Mixed into BigQueryStore (needs its _query, struct-parameter builder and credential reader)."""

    _query: Callable[..., list[dict[str, Any]]]
    _structs: Callable[[str, dict[str, str], list[dict[str, Any]]], Any]
    _credential_of: Callable[[dict[str, Any]], StoredCredential]

    def pending_for_run(self, run_id: str, since: datetime) -> list[StoredCredential]:
        rows = self._query(sql.PENDING, {"run_id": run_id, "since": since})
        return [self._credential_of(r) for r in rows]

    def stage_results(self, results: list[StagedResult]) -> None:
        if not results:
            return
        since = min(r.checked_at for r in results) - RUN_WINDOW  # an earlier attempt staged before this one
        param = self._structs("results", RESULT_TYPES, [r._asdict() for r in results])
        self._query(sql.STAGE, {"since": since}, [param])

    def finalize_run(self, run_id: str, since: datetime) -> RunFinal:
        window = {"run_id": run_id, "since": since}
        rows = self._query(sql.RESULTS, window)
        unwritten = {r["credential_id"] for r in rows if not r["written"] and not r["alarm"]}
        if not rows:
            return RunFinal([], set())
        applied = self._query(sql.FINALIZE, window | {"action": Action.VALIDATE.value} | superseded_params())
        staged = [StagedResult(**{c: _utc(r[c]) for c in STAGED_COLUMNS}) for r in rows]
        done = unwritten & {r["credential_id"] for r in applied}
        return RunFinal(staged, done, frozenset(unwritten - done))


def _utc(value: Any) -> Any:
    return value.astimezone(UTC) if isinstance(value, datetime) else value
