"""SQLite system of record (`.data/warehouse.sqlite`), mirroring the BigQuery tables. WAL, BEGIN IMMEDIATE.

Erasing for good in WAL mode: after an erase the WAL is checkpointed into the database (where secure_delete
overwrote the old bytes) and truncated. A reader's open transaction pins the WAL; the erase is then reported
(ERASE_INCOMPLETE) and finished at the next write, never left silently or waited on for 30 s.

Re-validation runs: the staging table, task marks and the one-transaction finalize. A task's share is selected in
SQL with `farm_fingerprint` (fingerprint.py, registered on the connection: BigQuery's FARM_FINGERPRINT), and every
read of a run is paged by credential id (keyset pages of PAGE_ROWS), so neither a task nor finalize holds more than
a page of rows."""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..domain import Action, Event, OrgApiKey, Provider, Status, StoredCredential
from ..errors import Code, IntegrationError
from ..files import private_file
from ..fingerprint import farm_fingerprint
from ..results import WarningInfo
from .base import ACTIVE_COLUMNS, CiphertextSwap, IntegrationStore, KeyVersion, ValidationUpdate, replacing, superseded
from .staging import PAGE_ROWS, STAGED_COLUMNS, SUPERSEDED, RunProgress, RunRow, RunState, StagedResult

log = logging.getLogger("integrations")

BUSY_MS = 30_000  # a writer waits this long for another's write transaction
ERASE_WAIT_MS = 2_000  # an erase's checkpoint waits this long for other connections' read transactions to end
ERASE_PENDING = (
    "the credential was erased from the table, but another connection's read transaction keeps its old ciphertext "
    "in warehouse.sqlite-wal; close that connection (a backup, notebook or sqlite3 shell): the erase finishes at "
    "the store's next write"
)


if TYPE_CHECKING:
    import pandas as pd
else:
    from ..lazy_modules import pandas as pd  # imported when a frame is first built

SCHEMA = """
CREATE TABLE IF NOT EXISTS org_integrations (
  credential_id TEXT PRIMARY KEY, org_slug TEXT NOT NULL, provider TEXT NOT NULL, credential_name TEXT,
  encrypted_credential BLOB, key_ref TEXT, credential_hint TEXT, credential_fingerprint TEXT, metadata TEXT,
  is_active INTEGER NOT NULL, validation_status TEXT NOT NULL, validation_error_code TEXT,
  validation_error_message TEXT, last_validated_at TEXT, created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
  created_by TEXT, updated_by TEXT, deleted_at TEXT, credential_kind TEXT, data_status TEXT, data_through TEXT,
  data_newest_at TEXT, last_success_at TEXT, expiry TEXT, expires_at TEXT, last_used_at TEXT);
CREATE UNIQUE INDEX IF NOT EXISTS one_active ON org_integrations(org_slug, provider) WHERE is_active = 1;
CREATE TABLE IF NOT EXISTS org_integration_events (
  event_id TEXT PRIMARY KEY, at TEXT NOT NULL, org_slug TEXT NOT NULL, provider TEXT, credential_id TEXT,
  action TEXT NOT NULL, status_before TEXT, status_after TEXT, outcome TEXT NOT NULL, error_code TEXT,
  message TEXT, actor TEXT, duration_ms INTEGER, run_id TEXT);
CREATE INDEX IF NOT EXISTS events_org ON org_integration_events(org_slug, at);
CREATE INDEX IF NOT EXISTS events_at ON org_integration_events(at);
CREATE TABLE IF NOT EXISTS org_api_keys (
  key_id TEXT PRIMARY KEY, org_slug TEXT NOT NULL, key_prefix TEXT NOT NULL, key_hash TEXT NOT NULL,
  created_at TEXT NOT NULL, revoked_at TEXT);
CREATE TABLE IF NOT EXISTS key_versions (
  key_ref TEXT PRIMARY KEY, key_check TEXT NOT NULL, created_at TEXT NOT NULL, retired_at TEXT);
"""
ADDED_COLUMNS = (  # init() adds these to tables created before them
    ("org_integrations", "credential_kind"),
    ("org_integration_events", "run_id"),
    ("revalidation_results", "seen_updated_at"),
    ("org_integrations", "data_status"),
    ("org_integrations", "data_through"),
    ("org_integrations", "data_newest_at"),
    ("org_integrations", "last_success_at"),
    ("org_integrations", "expiry"),
    ("org_integrations", "expires_at"),
    ("org_integrations", "last_used_at"),
    ("revalidation_results", "data_status"),  # issue 26: task runs stage freshness and expiry too
    ("revalidation_results", "data_through"),
    ("revalidation_results", "data_newest_at"),
    ("revalidation_results", "last_success_at"),
    ("revalidation_results", "expiry"),
    ("revalidation_results", "expires_at"),
    ("revalidation_results", "last_used_at"),
)
CRED_COLUMNS = list(StoredCredential.model_fields)
EVENT_COLUMNS = list(Event.model_fields)
KEY_COLUMNS = list(OrgApiKey.model_fields)


_STORED_AS_IS = frozenset({str, int, float, bytes, type(None)})  # exact types: an enum or a bool is converted


def _value(v: Any) -> Any:
    if type(v) in _STORED_AS_IS:  # most values: checked first (bulk writes convert a million of them)
        return v
    if isinstance(v, datetime | date):
        return v.isoformat()
    if isinstance(v, dict):
        return json.dumps(v, sort_keys=True)
    if isinstance(v, bool):
        return int(v)
    return v.value if hasattr(v, "value") else v


def _row(columns: list[str], model: Any) -> tuple[Any, ...]:
    return tuple(_value(getattr(model, c)) for c in columns)


def _fresh(u: ValidationUpdate) -> tuple[Any, ...]:
    """The data-status columns of an update; NULLs (kept by COALESCE) when the check read no cost data."""
    f = u.freshness
    if f is None:
        return (None, None, None, None)
    return tuple(_value(v) for v in (f.data_status, f.data_through, f.data_newest_at, f.last_success_at))


def _expiry(u: ValidationUpdate) -> tuple[Any, ...]:
    """expiry, then (read?, expires_at) and (read?, last_used_at): a read expiry replaces both, NULLs included."""
    e = u.expiry
    if e is None:
        return (None, 0, None, 0, None)
    return (e.label, 1, _value(e.expires_at), 1, _value(e.last_used_at))


def _history(columns: str, org_slug: str | None, since: datetime | None) -> tuple[str, list[Any]]:
    """The history's read, newest first: of one org and from `since` on when given (stored as UTC ISO text, which
    sorts as time does)."""
    at = since.astimezone(UTC).isoformat() if since else None
    chosen = [(clause, arg) for clause, arg in (("org_slug = ?", org_slug), ("at >= ?", at)) if arg is not None]
    where = f" WHERE {' AND '.join(clause for clause, _ in chosen)}" if chosen else ""
    return f"SELECT {columns} FROM org_integration_events{where} ORDER BY at DESC, rowid DESC", [a for _, a in chosen]


def _credential(row: sqlite3.Row) -> StoredCredential:
    data = dict(row)
    data["metadata"] = json.loads(data["metadata"] or "{}")
    return StoredCredential.model_validate(data)


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

# the runs with a result staged since :since whose event is not written yet (a finalized run has none left)
_IN_PROGRESS = f"""SELECT r.run_id, COUNT(*) AS staged, MIN(r.checked_at) AS first_at, MAX(r.checked_at) AS last_at,
  (SELECT COUNT(*) FROM revalidation_tasks AS k WHERE k.run_id = r.run_id AND k.done_at >= :since) AS tasks_done,
  (SELECT MAX(k.task_count) FROM revalidation_tasks AS k WHERE k.run_id = r.run_id AND k.done_at >= :since)
    AS task_count
  FROM revalidation_results AS r WHERE r.checked_at >= :since
  GROUP BY r.run_id HAVING MAX(NOT {_WRITTEN}) ORDER BY first_at, r.run_id"""


def _staged(row: sqlite3.Row) -> StagedResult:
    data = {c: row[c] for c in STAGED_COLUMNS}
    for key in ("validated_at", "checked_at", "seen_updated_at", "data_newest_at", "last_success_at", "expires_at"):
        data[key] = datetime.fromisoformat(data[key]) if data[key] else None
    data["last_used_at"] = datetime.fromisoformat(data["last_used_at"]) if data["last_used_at"] else None
    data["data_through"] = date.fromisoformat(data["data_through"]) if data["data_through"] else None
    data["alarm"] = bool(data["alarm"])
    return StagedResult(**data)


class SqliteStore(IntegrationStore):
    name = "sqlite"

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._local = threading.local()
        self._erase_pending = False

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None or self._local.pid != os.getpid():
            private_file(self.path)  # 0600 in a 0700 dir; SQLite gives -wal and -shm the same mode
            conn = sqlite3.connect(self.path, timeout=BUSY_MS / 1000, isolation_level=None, check_same_thread=False)
            conn.row_factory = sqlite3.Row
            conn.execute(f"PRAGMA busy_timeout = {BUSY_MS}")
            conn.execute("PRAGMA synchronous = NORMAL")  # safe with WAL; no fsync per commit
            conn.execute("PRAGMA secure_delete = ON")  # an erased ciphertext is overwritten, not left in free space
            self._local.conn, self._local.pid = conn, os.getpid()
        return conn

    @contextmanager
    def _tx(self, write: bool = True) -> Iterator[sqlite3.Connection]:
        self.queries += 1
        try:
            conn = self._conn()
            if not write:
                yield conn
                return
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            if self._erase_pending:  # an earlier erase's WAL was pinned by a reader: try again, without waiting
                self._checkpoint(0)
        except sqlite3.Error as exc:
            raise IntegrationError(
                Code.STORAGE_FAILED, f"The local store {self.path.name} failed: {type(exc).__name__}: {exc}"
            ) from None

    def init(self) -> None:
        with self._tx(write=False) as conn:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.executescript(SCHEMA)
            self._runs_schema(conn)  # the staging table of re-validation runs
            for table, column in ADDED_COLUMNS:
                if column not in {r["name"] for r in conn.execute(f"PRAGMA table_info({table})")}:
                    conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} TEXT")
        self._truncate_wal(0)  # an erase another process left pending (its WAL pinned by a reader) ends here

    def _insert(self, conn: sqlite3.Connection, table: str, columns: list[str], *models: Any) -> None:
        marks = ",".join("?" * len(columns))
        conn.executemany(
            f"INSERT INTO {table} ({','.join(columns)}) VALUES ({marks})", [_row(columns, m) for m in models]
        )

    def _frame(self, sql: str, args: Sequence[Any], columns: list[str]) -> pd.DataFrame:
        """A read straight into a frame: plain tuples, no models (the console reads tens of thousands of rows)."""
        with self._tx(write=False) as conn:
            cursor = conn.cursor()
            cursor.row_factory = None
            rows = cursor.execute(sql, args).fetchall()
        return pd.DataFrame(rows, columns=columns)

    def _erase(self, conn: sqlite3.Connection, credential_id: str, at: datetime, actor: str) -> None:
        conn.execute(
            "UPDATE org_integrations SET is_active = 0, encrypted_credential = NULL, deleted_at = ?, "
            "updated_at = ?, updated_by = ? WHERE credential_id = ?",
            (at.isoformat(), at.isoformat(), actor, credential_id),
        )

    def _active(self, conn: sqlite3.Connection, org_slug: str, provider: Provider) -> StoredCredential | None:
        row = conn.execute(
            "SELECT * FROM org_integrations WHERE org_slug = ? AND provider = ? AND is_active = 1",
            (org_slug, provider.value),
        ).fetchone()
        return _credential(row) if row else None

    def activate(self, record: StoredCredential, event: Event) -> StoredCredential | None:
        with self._tx() as conn:
            previous = self._active(conn, record.org_slug, record.provider)
            if previous:
                self._erase(conn, previous.credential_id, record.created_at, record.created_by or "system")
            self._insert(conn, "org_integrations", CRED_COLUMNS, record)
            self._insert(conn, "org_integration_events", EVENT_COLUMNS, replacing(event, previous))
        if previous:
            self._checkpoint()
        return previous

    def get_active(self, org_slug: str, provider: Provider) -> StoredCredential | None:
        with self._tx(write=False) as conn:
            return self._active(conn, org_slug, provider)

    def add_new_orgs(
        self, keys: list[OrgApiKey], setups: list[tuple[StoredCredential, Event]], events: list[Event]
    ) -> None:
        """One transaction of three executemany; the events in time order (a setup's after its org's key), so the
        history reads as the one-by-one calls write it. An org that has an active credential fails it whole."""
        history = sorted([*events, *(replacing(event, None) for _, event in setups)], key=lambda e: e.at)
        with self._tx() as conn:
            self._insert(conn, "org_api_keys", KEY_COLUMNS, *keys)
            self._insert(conn, "org_integrations", CRED_COLUMNS, *(record for record, _ in setups))
            self._insert(conn, "org_integration_events", EVENT_COLUMNS, *history)

    def list_credentials(self, org_slug: str | None = None, active_only: bool = True) -> list[StoredCredential]:
        sql, args = "SELECT * FROM org_integrations WHERE 1 = 1", []
        if org_slug is not None:
            sql, args = sql + " AND org_slug = ?", [org_slug]
        if active_only:
            sql += " AND is_active = 1"
        with self._tx(write=False) as conn:
            return [_credential(r) for r in conn.execute(sql + " ORDER BY org_slug, provider, created_at", args)]

    def active_frame(self) -> pd.DataFrame:
        return self._frame(
            "SELECT org_slug, provider, validation_status, credential_name, credential_hint, last_validated_at, "
            "created_at, validation_error_code, validation_error_message, credential_id, key_ref, "
            "length(encrypted_credential) > 0, data_status, data_newest_at FROM org_integrations WHERE is_active = 1",
            (),
            ACTIVE_COLUMNS,
        )

    def data_version(self) -> str | None:
        """The last rowid of the events, the credentials and the org keys, and the org keys' revocations: every
        write of a credential appends its event in the same transaction, so these change with every write (index
        lookups and a scan of the keys table: under a millisecond at 10,000 orgs)."""
        with self._tx(write=False) as conn:
            row = conn.execute(
                "SELECT (SELECT max(rowid) FROM org_integration_events), (SELECT max(rowid) FROM org_integrations), "
                "(SELECT max(rowid) FROM org_api_keys), (SELECT count(revoked_at) FROM org_api_keys)"
            ).fetchone()
        return "/".join(str(v) for v in row)

    def record_validations(self, updates: list[ValidationUpdate]) -> set[str]:
        """Each update only on its row as the check read it (active; the same updated_at when expected)."""
        with self._tx() as conn:
            changed = {
                u.credential_id
                for u in updates
                if conn.execute(
                    "UPDATE org_integrations SET validation_status = ?, validation_error_code = ?, "
                    "validation_error_message = ?, last_validated_at = COALESCE(?, last_validated_at), "
                    "updated_at = ?, updated_by = ?, data_status = COALESCE(?, data_status), "
                    "data_through = COALESCE(?, data_through), data_newest_at = COALESCE(?, data_newest_at), "
                    "last_success_at = COALESCE(?, last_success_at), expiry = COALESCE(?, expiry), "
                    "expires_at = CASE WHEN ? THEN ? ELSE expires_at END, "
                    "last_used_at = CASE WHEN ? THEN ? ELSE last_used_at END "
                    "WHERE credential_id = ? AND is_active = 1 AND (? IS NULL OR updated_at = ?)",
                    (
                        u.status.value,
                        u.error_code,
                        u.error_message,
                        u.validated_at.isoformat() if u.validated_at else None,
                        u.event.at.isoformat(),
                        u.actor,
                        *_fresh(u),
                        *_expiry(u),
                        u.credential_id,
                        *[u.expected_updated_at.isoformat() if u.expected_updated_at else None] * 2,
                    ),
                ).rowcount
                == 1
            }
            history = (u.event if u.credential_id in changed else superseded(u.event) for u in updates)
            self._insert(conn, "org_integration_events", EVENT_COLUMNS, *history)
        return changed

    def deactivate(
        self, org_slug: str, provider: Provider, at: datetime, actor: str, event: Event
    ) -> StoredCredential | None:
        with self._tx() as conn:
            previous = self._active(conn, org_slug, provider)
            if previous:
                self._erase(conn, previous.credential_id, at, actor)
                self._insert(conn, "org_integration_events", EVENT_COLUMNS, event)
        if previous:
            self._checkpoint()
        return previous

    def replace_ciphertexts(self, swaps: list[CiphertextSwap]) -> set[str]:
        with self._tx() as conn:
            swapped = {
                s.credential_id
                for s in swaps
                if conn.execute(
                    "UPDATE org_integrations SET encrypted_credential = ?, key_ref = ? "
                    "WHERE credential_id = ? AND is_active = 1 AND key_ref = ?",
                    (s.ciphertext, s.key_ref, s.credential_id, s.expected_key_ref),
                ).rowcount
                == 1
            }
            self._insert(
                conn, "org_integration_events", EVENT_COLUMNS, *(s.event for s in swaps if s.credential_id in swapped)
            )
        if swapped:
            self._checkpoint()  # the old ciphertexts' page images leave the WAL
        return swapped

    def append_events(self, events: list[Event]) -> None:
        with self._tx() as conn:
            self._insert(conn, "org_integration_events", EVENT_COLUMNS, *events)

    def events(self, org_slug: str | None = None, since: datetime | None = None) -> list[Event]:
        sql, args = _history("*", org_slug, since)
        with self._tx(write=False) as conn:
            rows = conn.execute(sql, args).fetchall()
        return [Event.model_validate(dict(r)) for r in rows]

    def events_frame(self, org_slug: str | None = None, since: datetime | None = None) -> pd.DataFrame:
        """`events` in one query straight into a frame (no models: a month at 10,000 orgs is ~50,000 events)."""
        return self._frame(*_history(", ".join(EVENT_COLUMNS), org_slug, since), EVENT_COLUMNS)

    def run_events(self, since: datetime) -> pd.DataFrame:
        """The checks, alerts and run events from `since` on, in one query straight into a frame (no models: at
        10,000 orgs a month's history is hundreds of thousands of events, and the status page reads them)."""
        return self._frame(
            f"SELECT {', '.join(EVENT_COLUMNS)} FROM org_integration_events WHERE at >= ? "
            "AND (action IN (?, ?) OR run_id IS NOT NULL) ORDER BY at DESC, rowid DESC",
            (since.astimezone(UTC).isoformat(), Action.VALIDATE.value, Action.ALERT.value),
            EVENT_COLUMNS,
        )

    def add_api_key(self, key: OrgApiKey) -> None:
        with self._tx() as conn:
            self._insert(conn, "org_api_keys", KEY_COLUMNS, key)

    def find_api_key(self, key_id: str) -> OrgApiKey | None:
        with self._tx(write=False) as conn:
            row = conn.execute("SELECT * FROM org_api_keys WHERE key_id = ?", (key_id,)).fetchone()
        return OrgApiKey.model_validate(dict(row)) if row else None

    def revoke_api_keys(self, org_slug: str, at: datetime) -> int:
        with self._tx() as conn:
            return conn.execute(
                "UPDATE org_api_keys SET revoked_at = ? WHERE org_slug = ? AND revoked_at IS NULL",
                (at.isoformat(), org_slug),
            ).rowcount

    def api_keys(self, org_slug: str | None = None) -> list[OrgApiKey]:
        sql, args = "SELECT * FROM org_api_keys", []
        if org_slug is not None:
            sql, args = sql + " WHERE org_slug = ?", [org_slug]
        with self._tx(write=False) as conn:
            return [OrgApiKey.model_validate(dict(r)) for r in conn.execute(sql + " ORDER BY created_at", args)]

    def key_versions(self) -> dict[str, KeyVersion]:
        with self._tx(write=False) as conn:
            rows = conn.execute("SELECT key_ref, key_check, created_at, retired_at FROM key_versions").fetchall()
        return {r["key_ref"]: KeyVersion.of(dict(r)) for r in rows}

    def record_key_version(self, key_ref: str, key_check: str, at: datetime) -> None:
        with self._tx() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO key_versions (key_ref, key_check, created_at) VALUES (?, ?, ?)",
                (key_ref, key_check, at.isoformat()),
            )

    def retire_key_version(self, key_ref: str, at: datetime) -> None:
        with self._tx() as conn:
            conn.execute(
                "UPDATE key_versions SET retired_at = ? WHERE key_ref = ? AND retired_at IS NULL",
                (at.isoformat(), key_ref),
            )

    # --- erasing for good (WAL checkpoints) ------------------------------------------------------------------
    def _truncate_wal(self, wait_ms: int) -> bool:
        """Checkpoint the WAL into the database and truncate it, waiting at most `wait_ms` for other connections."""
        try:
            conn = self._conn()
            conn.execute(f"PRAGMA busy_timeout = {int(wait_ms)}")
            try:
                busy, wal_frames, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            finally:
                conn.execute(f"PRAGMA busy_timeout = {BUSY_MS}")
        except sqlite3.Error:
            return False
        return bool(busy == 0 and wal_frames <= 0)  # (0, 0, 0) truncated; (0, -1, -1) not in WAL mode

    def _checkpoint(self, wait_ms: int | None = None) -> bool:
        """After an erase: copy the WAL into the database (secure_delete overwrites the old bytes there) and
        truncate it, so the erased ciphertext's old page images do not linger in warehouse.sqlite-wal. Another
        connection's read transaction (a backup, a notebook, an `sqlite3` shell) pins the WAL: after `wait_ms` the
        erase is left pending (logged as ERASE_INCOMPLETE, retried after every later write of this process and
        at init) instead of stalling the caller for the 30 s busy timeout and failing silently."""
        if wait_ms is None:  # once an erase is pending, later ones do not wait again (a rewrap erases many)
            wait_ms = 0 if self._erase_pending else ERASE_WAIT_MS
        done = self._truncate_wal(wait_ms)
        if self._erase_pending and done:
            log.info("erase completed: the WAL of %s is truncated", self.path.name)
        elif not done and not self._erase_pending:
            log.warning("ERASE_INCOMPLETE: %s", ERASE_PENDING)
        self._erase_pending = not done
        return done

    def erase_warnings(self) -> list[WarningInfo]:
        if self._erase_pending and not self._checkpoint(0):
            return [WarningInfo.of(Code.ERASE_INCOMPLETE, ERASE_PENDING)]
        return []

    # --- re-validation runs ----------------------------------------------------------------------------------
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
            yield _credential(row)

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

    def runs_in_progress(self, since: datetime) -> list[RunProgress]:
        with self._tx(write=False) as conn:
            rows = conn.execute(_IN_PROGRESS, {"since": since.isoformat()}).fetchall()
        return [
            RunProgress(
                r["run_id"],
                int(r["staged"]),
                int(r["tasks_done"]),
                r["task_count"],
                datetime.fromisoformat(r["first_at"]),
                datetime.fromisoformat(r["last_at"]),
            )
            for r in rows
        ]

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
