"""Erasing for good in SQLite's WAL mode: after an erase the WAL is checkpointed into the database (where
secure_delete overwrote the old bytes) and truncated. A reader's open transaction pins the WAL; the erase is then
reported (ERASE_INCOMPLETE) and finished at the next write, never left silently or waited on for 30 s."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path
from typing import Any

from ..errors import Code
from ..results import WarningInfo

log = logging.getLogger("integrations")

BUSY_MS = 30_000  # a writer waits this long for another's write transaction
ERASE_WAIT_MS = 2_000  # an erase's checkpoint waits this long for other connections' read transactions to end
ERASE_PENDING = (
    "the credential was erased from the table, but another connection's read transaction keeps its old ciphertext "
    "in warehouse.sqlite-wal; close that connection (a backup, notebook or sqlite3 shell): the erase finishes at "
    "the store's next write"
)


class SqliteErase:
    """Mixed into SqliteStore: `_conn()` is its per-thread connection."""

    path: Path
    _erase_pending: bool = False

    def _conn(self) -> Any:
        raise NotImplementedError

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
