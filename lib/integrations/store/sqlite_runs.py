"""The SQLite store's side of re-validation runs: the staging table and the one-transaction finalize."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from ..domain import StoredCredential
from .staging import STAGED_COLUMNS, SUPERSEDED, RunFinal, StagedResult

RUNS_SCHEMA = """
CREATE TABLE IF NOT EXISTS revalidation_results (
  run_id TEXT NOT NULL, task_index INTEGER NOT NULL, credential_id TEXT NOT NULL, org_slug TEXT NOT NULL,
  provider TEXT NOT NULL, status_before TEXT NOT NULL, status_after TEXT NOT NULL, outcome TEXT NOT NULL,
  error_code TEXT, message TEXT, validated_at TEXT, checked_at TEXT NOT NULL, event_id TEXT NOT NULL,
  actor TEXT NOT NULL, duration_ms INTEGER, alarm INTEGER NOT NULL, seen_updated_at TEXT,
  PRIMARY KEY (run_id, credential_id));
"""
_NEW = (  # a run's staged results whose event is not written yet: what a finalize still has to apply
    "FROM revalidation_results AS r WHERE r.run_id = ? AND r.checked_at >= ? AND NOT EXISTS "
    "(SELECT 1 FROM org_integration_events AS e WHERE e.event_id = r.event_id)"
)
# a result applies only to its credential as the task read it: still active, not written since (updated_at)
_UNCHANGED = "c.is_active = 1 AND (s.seen_updated_at IS NULL OR c.updated_at = s.seen_updated_at)"
_APPLY = f"""UPDATE org_integrations AS c SET validation_status = s.status_after, validation_error_code = s.error_code,
  validation_error_message = CASE WHEN s.error_code IS NULL THEN NULL ELSE s.message END,
  last_validated_at = COALESCE(s.validated_at, c.last_validated_at), updated_at = s.checked_at, updated_by = s.actor
  FROM (SELECT r.* {_NEW} AND NOT r.alarm) AS s
  WHERE c.credential_id = s.credential_id AND {_UNCHANGED}
  RETURNING credential_id"""
_EVENTS = f"""INSERT INTO org_integration_events (event_id, at, org_slug, provider, credential_id, action,
  status_before, status_after, outcome, error_code, message, actor, duration_ms, run_id)
  SELECT r.event_id, r.checked_at, r.org_slug, r.provider, r.credential_id, 'VALIDATE', r.status_before,
  CASE WHEN r.alarm OR r.credential_id IN (SELECT value FROM json_each(?)) THEN r.status_after ELSE r.status_before
  END, r.outcome, r.error_code,
  CASE WHEN r.alarm OR r.credential_id IN (SELECT value FROM json_each(?)) THEN r.message
  ELSE ? || COALESCE(' ' || r.message, '') END, r.actor, r.duration_ms, r.run_id {_NEW}"""


def _staged(row: sqlite3.Row) -> StagedResult:
    data = dict(row)
    for key in ("validated_at", "checked_at", "seen_updated_at"):
        data[key] = datetime.fromisoformat(data[key]) if data[key] else None
    data["alarm"] = bool(data["alarm"])
    return StagedResult(**data)


class SqliteRuns:
    """Mixed into SqliteStore (needs its _tx and _credential reader)."""

    _tx: Any
    _credential_of: Callable[[sqlite3.Row], StoredCredential]

    def _runs_schema(self, conn: sqlite3.Connection) -> None:
        conn.executescript(RUNS_SCHEMA)

    def pending_for_run(self, run_id: str, since: datetime) -> list[StoredCredential]:
        with self._tx(write=False) as conn:
            rows = conn.execute(
                "SELECT * FROM org_integrations AS c WHERE c.is_active = 1 AND NOT EXISTS (SELECT 1 FROM "
                "revalidation_results AS r WHERE r.run_id = ? AND r.credential_id = c.credential_id "
                "AND r.checked_at >= ?) ORDER BY c.org_slug, c.provider",
                (run_id, since.isoformat()),
            ).fetchall()
        return [self._credential_of(r) for r in rows]

    def stage_results(self, results: list[StagedResult]) -> None:
        if not results:
            return
        with self._tx() as conn:
            conn.executemany(
                f"INSERT OR IGNORE INTO revalidation_results ({','.join(STAGED_COLUMNS)}) "
                f"VALUES ({','.join('?' * len(STAGED_COLUMNS))})",
                list(_values(results)),
            )

    def finalize_run(self, run_id: str, since: datetime) -> RunFinal:
        with self._tx() as conn:
            window = (run_id, since.isoformat())
            fresh = {r[0] for r in conn.execute(f"SELECT r.credential_id {_NEW} AND NOT r.alarm", window)}
            applied = {r[0] for r in conn.execute(_APPLY, window).fetchall()}
            ids = json.dumps(sorted(applied))
            conn.execute(_EVENTS, (ids, ids, SUPERSEDED, *window))  # a superseded result's event is no flip
            rows = conn.execute(
                "SELECT * FROM revalidation_results WHERE run_id = ? AND checked_at >= ? ORDER BY credential_id",
                (run_id, since.isoformat()),
            ).fetchall()
        return RunFinal([_staged(r) for r in rows], applied, frozenset(fresh - applied))


def _values(results: list[StagedResult]) -> Iterator[tuple[Any, ...]]:
    for r in results:
        yield tuple(v.isoformat() if isinstance(v, datetime) else int(v) if isinstance(v, bool) else v for v in r)
