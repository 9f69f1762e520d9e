"""The SQLite store's side of re-validation runs: the staging table, task marks and the one-transaction finalize.

A task's share is selected in SQL with `farm_fingerprint` (fingerprint.py, registered on the connection: BigQuery's
FARM_FINGERPRINT), and every read of a run is paged by credential id (keyset pages of PAGE_ROWS), so neither a task
nor finalize holds more than a page of rows."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator
from datetime import date, datetime
from typing import Any

from ..domain import Provider, Status, StoredCredential
from ..fingerprint import farm_fingerprint
from .staging import PAGE_ROWS, STAGED_COLUMNS, SUPERSEDED, RunRow, RunState, StagedResult

RUNS_SCHEMA = """
CREATE TABLE IF NOT EXISTS revalidation_results (
  run_id TEXT NOT NULL, task_index INTEGER NOT NULL, credential_id TEXT NOT NULL, org_slug TEXT NOT NULL,
  provider TEXT NOT NULL, status_before TEXT NOT NULL, status_after TEXT NOT NULL, outcome TEXT NOT NULL,
  error_code TEXT, message TEXT, validated_at TEXT, checked_at TEXT NOT NULL, event_id TEXT NOT NULL,
  actor TEXT NOT NULL, duration_ms INTEGER, alarm INTEGER NOT NULL, seen_updated_at TEXT, data_status TEXT,
  data_through TEXT, data_newest_at TEXT, last_success_at TEXT, expiry TEXT, expires_at TEXT, last_used_at TEXT,
  PRIMARY KEY (run_id, credential_id));
CREATE TABLE IF NOT EXISTS revalidation_tasks (
  run_id TEXT NOT NULL, task_index INTEGER NOT NULL, task_count INTEGER NOT NULL, done_at TEXT NOT NULL,
  PRIMARY KEY (run_id, task_index));
"""
_SHARE = "abs(farm_fingerprint(c.credential_id)) % ? = ?"
_STAGED = "r.run_id = ? AND r.checked_at >= ?"
_WRITTEN = "EXISTS (SELECT 1 FROM org_integration_events AS e WHERE e.event_id = r.event_id)"
_NEW = f"FROM revalidation_results AS r WHERE {_STAGED} AND NOT {_WRITTEN}"  # what a finalize still has to apply
# a result applies only to its credential as the task read it: still active, not written since (updated_at)
_UNCHANGED = "c.is_active = 1 AND (s.seen_updated_at IS NULL OR c.updated_at = s.seen_updated_at)"
# the results this finalize leaves unapplied (read in its transaction, before the apply)
_SUPERSEDED = f"""SELECT s.credential_id FROM (SELECT r.* {_NEW} AND NOT r.alarm) AS s
  WHERE NOT EXISTS (SELECT 1 FROM org_integrations AS c WHERE c.credential_id = s.credential_id AND {_UNCHANGED})"""
_APPLY = f"""UPDATE org_integrations AS c SET validation_status = s.status_after, validation_error_code = s.error_code,
  validation_error_message = CASE WHEN s.error_code IS NULL THEN NULL ELSE s.message END,
  last_validated_at = COALESCE(s.validated_at, c.last_validated_at), updated_at = s.checked_at, updated_by = s.actor,
  data_status = COALESCE(s.data_status, c.data_status), data_through = COALESCE(s.data_through, c.data_through),
  data_newest_at = COALESCE(s.data_newest_at, c.data_newest_at),
  last_success_at = COALESCE(s.last_success_at, c.last_success_at), expiry = COALESCE(s.expiry, c.expiry),
  expires_at = CASE WHEN s.expiry IS NULL THEN c.expires_at ELSE s.expires_at END,
  last_used_at = CASE WHEN s.expiry IS NULL THEN c.last_used_at ELSE s.last_used_at END
  FROM (SELECT r.* {_NEW} AND NOT r.alarm) AS s
  WHERE c.credential_id = s.credential_id AND {_UNCHANGED}"""
_EVENTS = f"""INSERT INTO org_integration_events (event_id, at, org_slug, provider, credential_id, action,
  status_before, status_after, outcome, error_code, message, actor, duration_ms, run_id)
  SELECT r.event_id, r.checked_at, r.org_slug, r.provider, r.credential_id, 'VALIDATE', r.status_before,
  CASE WHEN r.credential_id IN (SELECT value FROM json_each(?)) THEN r.status_before ELSE r.status_after
  END, r.outcome, r.error_code,
  CASE WHEN r.credential_id IN (SELECT value FROM json_each(?)) THEN ? || COALESCE(' ' || r.message, '')
  ELSE r.message END, r.actor, r.duration_ms, r.run_id {_NEW}"""
_RESULTS = f"""SELECT r.*, {_WRITTEN} AS written, c.credential_id IS NOT NULL AS active, c.credential_hint,
  c.credential_name FROM revalidation_results AS r
  LEFT JOIN org_integrations AS c ON c.credential_id = r.credential_id AND c.is_active = 1
  WHERE {_STAGED} AND r.credential_id > ? ORDER BY r.credential_id LIMIT ?"""
_STATUSES = f"""SELECT c.org_slug, c.provider, c.validation_status, c.created_at, c.credential_id
  FROM revalidation_results AS r JOIN org_integrations AS c ON c.credential_id = r.credential_id AND c.is_active = 1
  WHERE {_STAGED} AND NOT r.alarm AND {_WRITTEN} AND r.credential_id > ? ORDER BY r.credential_id LIMIT ?"""
_STATE = """SELECT
  (SELECT COUNT(*) FROM revalidation_results WHERE run_id = :run AND checked_at >= :since) AS staged,
  (SELECT COUNT(*) FROM revalidation_tasks WHERE run_id = :run AND done_at >= :since) AS tasks_done,
  (SELECT MAX(task_count) FROM revalidation_tasks WHERE run_id = :run AND done_at >= :since) AS task_count,
  (SELECT MIN(at) FROM (SELECT MIN(checked_at) AS at FROM revalidation_results WHERE run_id = :run
    AND checked_at >= :since UNION ALL SELECT MIN(done_at) FROM revalidation_tasks WHERE run_id = :run
    AND done_at >= :since)) AS first_at"""


def _staged(row: sqlite3.Row) -> StagedResult:
    data = {c: row[c] for c in STAGED_COLUMNS}
    for key in ("validated_at", "checked_at", "seen_updated_at", "data_newest_at", "last_success_at", "expires_at"):
        data[key] = datetime.fromisoformat(data[key]) if data[key] else None
    data["last_used_at"] = datetime.fromisoformat(data["last_used_at"]) if data["last_used_at"] else None
    data["data_through"] = date.fromisoformat(data["data_through"]) if data["data_through"] else None
    data["alarm"] = bool(data["alarm"])
    return StagedResult(**data)


class SqliteRuns:
    """Mixed into SqliteStore (needs its _tx and _credential reader)."""

    _tx: Any
    _credential_of: Callable[[sqlite3.Row], StoredCredential]

    def _runs_schema(self, conn: sqlite3.Connection) -> None:
        conn.executescript(RUNS_SCHEMA)

    def _pages(self, sql: str, params: tuple[Any, ...], key: str) -> Iterator[sqlite3.Row]:
        """Keyset pages of PAGE_ROWS rows ordered by `key` (the statement ends `> ? ORDER BY key LIMIT ?`)."""
        after = ""
        while True:
            with self._tx(write=False) as conn:
                conn.create_function("farm_fingerprint", 1, farm_fingerprint, deterministic=True)
                rows = conn.execute(sql, (*params, after, PAGE_ROWS)).fetchall()
            yield from rows
            if len(rows) < PAGE_ROWS:
                return
            after = rows[-1][key]

    def share_counts(self, run_id: str, since: datetime, index: int, count: int) -> tuple[int, int]:
        with self._tx(write=False) as conn:
            conn.create_function("farm_fingerprint", 1, farm_fingerprint, deterministic=True)
            row = conn.execute(
                f"SELECT COUNT(*), COUNT(r.credential_id) FROM org_integrations AS c LEFT JOIN revalidation_results "
                f"AS r ON r.credential_id = c.credential_id AND {_STAGED} WHERE c.is_active = 1 AND {_SHARE}",
                (run_id, since.isoformat(), count, index),
            ).fetchone()
        return int(row[0]), int(row[1])

    def pending_for_run(
        self, run_id: str, since: datetime, index: int = 0, count: int = 1
    ) -> Iterator[StoredCredential]:
        sql = (
            f"SELECT * FROM org_integrations AS c WHERE c.is_active = 1 AND {_SHARE} AND NOT EXISTS (SELECT 1 FROM "
            f"revalidation_results AS r WHERE r.credential_id = c.credential_id AND {_STAGED}) "
            "AND c.credential_id > ? ORDER BY c.credential_id LIMIT ?"
        )
        for row in self._pages(sql, (count, index, run_id, since.isoformat()), "credential_id"):
            yield self._credential_of(row)

    def stage_results(self, results: list[StagedResult]) -> None:
        if not results:
            return
        with self._tx() as conn:
            conn.executemany(
                f"INSERT OR IGNORE INTO revalidation_results ({','.join(STAGED_COLUMNS)}) "
                f"VALUES ({','.join('?' * len(STAGED_COLUMNS))})",
                list(_values(results)),
            )

    def task_done(self, run_id: str, index: int, count: int, at: datetime) -> None:
        with self._tx() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO revalidation_tasks (run_id, task_index, task_count, done_at) VALUES (?,?,?,?)",
                (run_id, index, count, at.isoformat()),
            )

    def run_state(self, run_id: str, since: datetime) -> RunState:
        with self._tx(write=False) as conn:
            row = conn.execute(_STATE, {"run": run_id, "since": since.isoformat()}).fetchone()
        first = datetime.fromisoformat(row["first_at"]) if row["first_at"] else None
        return RunState(int(row["staged"]), int(row["tasks_done"]), row["task_count"], first)

    def run_results(self, run_id: str, since: datetime) -> Iterator[RunRow]:
        for row in self._pages(_RESULTS, (run_id, since.isoformat()), "credential_id"):
            yield RunRow(
                _staged(row), bool(row["written"]), bool(row["active"]), row["credential_hint"], row["credential_name"]
            )

    def apply_run(self, run_id: str, since: datetime) -> set[str]:
        with self._tx() as conn:
            window = (run_id, since.isoformat())
            superseded = {r[0] for r in conn.execute(_SUPERSEDED, window)}
            ids = json.dumps(sorted(superseded))
            conn.execute(_APPLY, window)
            conn.execute(_EVENTS, (ids, ids, SUPERSEDED, *window))  # a superseded result's event is no flip
        return superseded

    def run_statuses(self, run_id: str, since: datetime) -> Iterator[tuple[str, Provider, Status, datetime | None]]:
        for row in self._pages(_STATUSES, (run_id, since.isoformat()), "credential_id"):
            created = datetime.fromisoformat(row["created_at"]) if row["created_at"] else None
            yield row["org_slug"], Provider.parse(row["provider"]), Status(row["validation_status"]), created


def _values(results: list[StagedResult]) -> Iterator[tuple[Any, ...]]:
    for r in results:
        yield tuple(v.isoformat() if isinstance(v, date) else int(v) if isinstance(v, bool) else v for v in r)
