"""SQLite system of record (`.data/warehouse.sqlite`), mirroring the BigQuery tables. WAL, BEGIN IMMEDIATE."""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from ..domain import Action, Event, OrgApiKey, Provider, Status, StoredCredential
from ..errors import IntegrationError
from ..files import private_file
from .base import ACTIVE_COLUMNS, IntegrationStore, KeyVersion, ValidationUpdate, replacing, superseded
from .sqlite_erase import BUSY_MS, SqliteErase
from .sqlite_runs import SqliteRuns

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
)
CRED_COLUMNS = list(StoredCredential.model_fields)
EVENT_COLUMNS = list(Event.model_fields)
KEY_COLUMNS = list(OrgApiKey.model_fields)


def _value(v: Any) -> Any:
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


def _credential(row: sqlite3.Row) -> StoredCredential:
    data = dict(row)
    data["metadata"] = json.loads(data["metadata"] or "{}")
    return StoredCredential.model_validate(data)


class SqliteStore(SqliteErase, SqliteRuns, IntegrationStore):
    name = "sqlite"
    _credential_of = staticmethod(_credential)

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
                "STORAGE_FAILED", f"The local store {self.path.name} failed: {type(exc).__name__}: {exc}"
            ) from None

    def init(self) -> None:
        with self._tx(write=False) as conn:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.executescript(SCHEMA)
            self._runs_schema(conn)  # the staging table of re-validation runs (sqlite_runs.py)
            for table, column in ADDED_COLUMNS:
                if column not in {r["name"] for r in conn.execute(f"PRAGMA table_info({table})")}:
                    conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} TEXT")
        self._truncate_wal(0)  # an erase another process left pending (its WAL pinned by a reader) ends here

    def _insert(self, conn: sqlite3.Connection, table: str, columns: list[str], model: Any) -> None:
        marks = ",".join("?" * len(columns))
        conn.execute(f"INSERT INTO {table} ({','.join(columns)}) VALUES ({marks})", _row(columns, model))

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

    def list_credentials(self, org_slug: str | None = None, active_only: bool = True) -> list[StoredCredential]:
        sql, args = "SELECT * FROM org_integrations WHERE 1 = 1", []
        if org_slug is not None:
            sql, args = sql + " AND org_slug = ?", [org_slug]
        if active_only:
            sql += " AND is_active = 1"
        with self._tx(write=False) as conn:
            return [_credential(r) for r in conn.execute(sql + " ORDER BY org_slug, provider, created_at", args)]

    def active_frame(self) -> pd.DataFrame:
        with self._tx(write=False) as conn:
            cursor = conn.cursor()
            cursor.row_factory = None  # plain tuples, straight into the frame
            rows = cursor.execute(
                "SELECT org_slug, provider, validation_status, credential_name, credential_hint, last_validated_at, "
                "created_at, validation_error_code, validation_error_message, credential_id, key_ref, "
                "length(encrypted_credential) > 0, data_status, data_newest_at FROM org_integrations "
                "WHERE is_active = 1"
            ).fetchall()
        return pd.DataFrame(rows, columns=ACTIVE_COLUMNS)

    def record_validation(
        self,
        credential_id: str,
        status: Status,
        error_code: str | None,
        error_message: str | None,
        validated_at: datetime | None,
        actor: str,
        event: Event,
    ) -> bool:
        update = ValidationUpdate(credential_id, status, error_code, error_message, validated_at, actor, event)
        return bool(self._record([update]))

    def record_validations(self, updates: list[ValidationUpdate]) -> set[str]:
        return self._record(updates)

    def _record(self, updates: list[ValidationUpdate]) -> set[str]:
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
            conn.executemany(
                f"INSERT INTO org_integration_events ({','.join(EVENT_COLUMNS)}) VALUES "
                f"({','.join('?' * len(EVENT_COLUMNS))})",
                [_row(EVENT_COLUMNS, u.event if u.credential_id in changed else superseded(u.event)) for u in updates],
            )
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

    def replace_ciphertext(
        self, credential_id: str, ciphertext: bytes, key_ref: str, expected_key_ref: str, event: Event
    ) -> bool:
        with self._tx() as conn:
            cur = conn.execute(
                "UPDATE org_integrations SET encrypted_credential = ?, key_ref = ? "
                "WHERE credential_id = ? AND is_active = 1 AND key_ref = ?",
                (ciphertext, key_ref, credential_id, expected_key_ref),
            )
            if cur.rowcount == 1:
                self._insert(conn, "org_integration_events", EVENT_COLUMNS, event)
        if cur.rowcount == 1:
            self._checkpoint()
        return cur.rowcount == 1

    def append_event(self, event: Event) -> None:
        with self._tx() as conn:
            self._insert(conn, "org_integration_events", EVENT_COLUMNS, event)

    def events(self, org_slug: str | None = None, since: datetime | None = None) -> list[Event]:
        at = since.astimezone(UTC).isoformat() if since else None  # stored as UTC ISO text: sorts as time does
        chosen = [(clause, arg) for clause, arg in (("org_slug = ?", org_slug), ("at >= ?", at)) if arg is not None]
        where = " AND ".join(clause for clause, _ in chosen)
        sql = "SELECT * FROM org_integration_events" + (f" WHERE {where}" if where else "")
        with self._tx(write=False) as conn:
            rows = conn.execute(sql + " ORDER BY at DESC, rowid DESC", [arg for _, arg in chosen]).fetchall()
        return [Event.model_validate(dict(r)) for r in rows]

    def events_frame(self, org_slug: str | None = None, since: datetime | None = None) -> pd.DataFrame:
        """`events` in one query straight into a frame (no models: a month at 10,000 orgs is ~50,000 events)."""
        at = since.astimezone(UTC).isoformat() if since else None
        chosen = [(clause, arg) for clause, arg in (("org_slug = ?", org_slug), ("at >= ?", at)) if arg is not None]
        where = " AND ".join(clause for clause, _ in chosen)
        sql = f"SELECT {', '.join(EVENT_COLUMNS)} FROM org_integration_events" + (f" WHERE {where}" if where else "")
        with self._tx(write=False) as conn:
            cursor = conn.cursor()
            cursor.row_factory = None  # plain tuples, straight into the frame
            rows = cursor.execute(sql + " ORDER BY at DESC, rowid DESC", [arg for _, arg in chosen]).fetchall()
        return pd.DataFrame(rows, columns=EVENT_COLUMNS)

    def run_events(self, since: datetime) -> pd.DataFrame:
        """The checks, alerts and run events from `since` on, in one query straight into a frame (no models: at
        10,000 orgs a month's history is hundreds of thousands of events, and the status page reads them)."""
        at = since.astimezone(UTC).isoformat()
        with self._tx(write=False) as conn:
            cursor = conn.cursor()
            cursor.row_factory = None  # plain tuples, straight into the frame
            rows = cursor.execute(
                f"SELECT {', '.join(EVENT_COLUMNS)} FROM org_integration_events WHERE at >= ? "
                "AND (action IN (?, ?) OR run_id IS NOT NULL) ORDER BY at DESC, rowid DESC",
                (at, Action.VALIDATE.value, Action.ALERT.value),
            ).fetchall()
        return pd.DataFrame(rows, columns=EVENT_COLUMNS)

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
