"""SQLite status cache (`.data/status.sqlite`): the Supabase `organizations` table, same column names."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from ..domain import CachedStatus, OrgRow, Provider, Status
from ..errors import Code, IntegrationError
from ..files import private_file
from .base import WIDE_COLUMNS, StatusCache, configured_column, long_status_frame, status_column

if TYPE_CHECKING:
    import pandas as pd
else:
    from ..lazy_modules import pandas as pd  # imported when a frame is first built

_STATUS_VALUES = ",".join(f"'{s.value}'" for s in Status)
_DEFINITIONS = {
    c: d
    for p in Provider
    for c, d in (
        (status_column(p), f"TEXT NOT NULL DEFAULT 'NOT_CONFIGURED' CHECK ({status_column(p)} IN ({_STATUS_VALUES}))"),
        (configured_column(p), "TEXT"),
    )
}
_COLUMNS = "".join(f", {c} {d}" for c, d in _DEFINITIONS.items())
READ_FAILED = Code.STATUS_CACHE_READ_FAILED
SCHEMA = f"CREATE TABLE IF NOT EXISTS organizations (org_slug TEXT PRIMARY KEY, name TEXT{_COLUMNS})"
# the attempt limiter's log (limits.AttemptLimiter), shared by every process on this data dir; rows older than the
# window are deleted as the org's next attempt is counted
ATTEMPTS = (
    "CREATE TABLE IF NOT EXISTS check_attempts (org_slug TEXT NOT NULL, at REAL NOT NULL); "
    "CREATE INDEX IF NOT EXISTS check_attempts_org ON check_attempts(org_slug, at)"
)


def _org(row: sqlite3.Row) -> OrgRow:
    """Rows come from our own table (CHECKed statuses): construct without re-validation, it is 10x faster."""
    statuses = {}
    for p in Provider:
        at = row[configured_column(p)]
        statuses[p] = CachedStatus.model_construct(
            status=Status(row[status_column(p)]), configured_at=datetime.fromisoformat(at) if at else None
        )
    return OrgRow.model_construct(org_slug=row["org_slug"], name=row["name"], statuses=statuses)


class SqliteStatusCache(StatusCache):
    name = "sqlite"
    counts_attempts = True

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._local = threading.local()

    @contextmanager
    def _conn(self, code: Code = Code.STATUS_SYNC_FAILED) -> Iterator[sqlite3.Connection]:
        self.queries += 1
        try:
            conn = getattr(self._local, "conn", None)
            if conn is None or self._local.pid != os.getpid():
                private_file(self.path)  # 0600 in a 0700 dir; SQLite gives -wal and -shm the same mode
                conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
                conn.row_factory = sqlite3.Row
                conn.execute("PRAGMA synchronous = NORMAL")  # safe with WAL; no fsync per commit
                self._local.conn, self._local.pid = conn, os.getpid()
            try:
                yield conn
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise IntegrationError(
                code, f"The local status cache {self.path.name} failed: {type(exc).__name__}: {exc}"
            ) from None

    def init(self) -> None:
        with self._conn() as conn:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute(SCHEMA)
            conn.executescript(ATTEMPTS)
            present = {r["name"] for r in conn.execute("PRAGMA table_info(organizations)")}
            for column, definition in _DEFINITIONS.items():  # a file from before a provider was added
                if column not in present:
                    conn.execute(f"ALTER TABLE organizations ADD COLUMN {column} {definition}")

    def create_org(self, org_slug: str, name: str | None = None) -> None:
        with self._conn() as conn:
            conn.execute(
                "INSERT INTO organizations (org_slug, name) VALUES (?, ?) ON CONFLICT(org_slug) DO UPDATE "
                "SET name = COALESCE(excluded.name, organizations.name)",
                (org_slug, name),
            )

    def create_orgs(self, org_slugs: list[str]) -> None:
        with self._conn() as conn:
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany("INSERT OR IGNORE INTO organizations (org_slug) VALUES (?)", [(s,) for s in org_slugs])
            conn.execute("COMMIT")

    def status_frame(self) -> pd.DataFrame:
        with self._conn(READ_FAILED) as conn:
            cursor = conn.cursor()
            cursor.row_factory = None  # plain tuples, straight into the frame
            rows = cursor.execute(f"SELECT {', '.join(WIDE_COLUMNS)} FROM organizations").fetchall()
        return long_status_frame(pd.DataFrame(rows, columns=WIDE_COLUMNS))

    def get_org(self, org_slug: str) -> OrgRow | None:
        with self._conn(READ_FAILED) as conn:
            row = conn.execute("SELECT * FROM organizations WHERE org_slug = ?", (org_slug,)).fetchone()
        return _org(row) if row else None

    def all_orgs(self) -> list[OrgRow]:
        with self._conn(READ_FAILED) as conn:
            return [_org(r) for r in conn.execute("SELECT * FROM organizations ORDER BY org_slug")]

    def count_attempt(self, org_slug: str, limit: int, window_s: float) -> float | None:
        now = time.time()
        with self._conn() as conn:
            conn.execute("BEGIN IMMEDIATE")  # one writer at a time across processes: the count and insert are one
            conn.execute("DELETE FROM check_attempts WHERE org_slug = ? AND at <= ?", (org_slug, now - window_s))
            count, oldest = conn.execute(
                "SELECT COUNT(*), MIN(at) FROM check_attempts WHERE org_slug = ?", (org_slug,)
            ).fetchone()
            if count >= limit:
                conn.execute("COMMIT")
                return max(0.0, oldest + window_s - now)
            conn.execute("INSERT INTO check_attempts (org_slug, at) VALUES (?, ?)", (org_slug, now))
            conn.execute("COMMIT")
        return None

    def set_many(self, updates: list[tuple[str, Provider, Status, datetime | None]]) -> None:
        self._write(updates, checked=False)

    def set_checked(self, updates: list[tuple[str, Provider, Status, datetime | None]]) -> None:
        self._write(updates, checked=True)

    def _write(self, updates: list[tuple[str, Provider, Status, datetime | None]], checked: bool) -> None:
        """One transaction; `checked`: each row only where its configured_at is already the update's."""
        by_provider: dict[Provider, list[tuple[str | None, ...]]] = {}
        for org_slug, provider, status, at in updates:
            stamp = at.isoformat() if at else None
            row = (status.value, stamp, org_slug) + ((stamp,) if checked else ())
            by_provider.setdefault(provider, []).append(row)
        with self._conn() as conn:
            conn.execute("BEGIN IMMEDIATE")
            for provider, rows in by_provider.items():
                same = f" AND {configured_column(provider)} IS ?" if checked else ""
                cur = conn.executemany(
                    f"UPDATE organizations SET {status_column(provider)} = ?, {configured_column(provider)} = ? "
                    f"WHERE org_slug = ?{same}",
                    rows,
                )
                if cur.rowcount < len(rows):  # some org has no row (or, checked, was changed): name it, write nothing
                    known = {r[0] for r in conn.execute("SELECT org_slug FROM organizations")}
                    missing = next((row[2] for row in rows if row[2] not in known), None)
                    if missing is not None:
                        raise IntegrationError(Code.ORG_NOT_FOUND, f"Organization {missing!r} has no status-cache row.")
            conn.execute("COMMIT")
