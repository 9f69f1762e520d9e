"""A local HTTP server speaking the PostgREST subset the adapter uses, backed by SQLite.

GET with eq./in. filters, order, Range/offset; PATCH with eq. filters (returns the updated rows, [] when none
matched); POST upsert with on_conflict and Prefer resolution. Faults: 500, hang, and stop (connection refused).
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlparse

from integrations.status_cache.sqlite import SCHEMA

from tests.servers import QuietHandler, running

SERVICE_KEY = "test-service-role-key"


@dataclass
class Faults:
    status: int | None = None
    hang_s: float = 0.0
    requests: int = 0


def _where(params: list[tuple[str, str]]) -> tuple[str, list[str]]:
    clauses, args = [], []
    for column, value in params:
        if column in {"select", "order", "on_conflict", "limit", "offset", "columns"}:
            continue
        op, _, operand = value.partition(".")
        if op == "eq":
            clauses.append(f'"{column}" = ?')
            args.append(operand)
        elif op == "in":
            items = operand.strip("()").split(",")
            clauses.append(f'"{column}" IN ({",".join("?" * len(items))})')
            args += items
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", args


@contextmanager
def postgrest(faults: Faults | None = None) -> Iterator[tuple[str, Faults]]:
    faults = faults or Faults()
    db = sqlite3.connect(":memory:", check_same_thread=False)
    db.row_factory = sqlite3.Row
    db.execute(SCHEMA)
    lock = threading.Lock()

    class Handler(QuietHandler):
        def _reply(self, status: int, body: object) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _start(self) -> tuple[str, list[tuple[str, str]]] | None:
            faults.requests += 1
            if faults.hang_s:
                time.sleep(faults.hang_s)
            if self.headers.get("apikey") != SERVICE_KEY:
                self._reply(401, {"message": "Invalid API key"})
                return None
            if faults.status:
                self._reply(
                    faults.status, {"code": "XX000", "message": "internal error", "details": None, "hint": None}
                )
                return None
            url = urlparse(self.path)
            table = url.path.rsplit("/", 1)[-1]
            if table != "organizations":
                self._reply(404, {"code": "42P01", "message": f'relation "{table}" does not exist'})
                return None
            return table, parse_qsl(url.query)

        def _body(self) -> object:
            return json.loads(self.rfile.read(int(self.headers.get("content-length") or 0)) or b"null")

        def do_GET(self) -> None:  # noqa: N802
            started = self._start()
            if started is None:
                return
            _, params = started
            where, args = _where(params)
            sql = f"SELECT * FROM organizations{where}"
            order = dict(params).get("order")
            if order:
                sql += f' ORDER BY "{order.split(".")[0]}"'
            limit, offset = dict(params).get("limit"), dict(params).get("offset", "0")
            if self.headers.get("range"):
                first, last = self.headers["range"].split("-")
                offset, limit = first, str(int(last) - int(first) + 1)
            if limit:
                sql += f" LIMIT {int(limit)} OFFSET {int(offset)}"
            with lock:
                rows = [dict(r) for r in db.execute(sql, args)]
            self._reply(200, rows)

        def do_PATCH(self) -> None:  # noqa: N802
            started = self._start()
            if started is None:
                return
            _, params = started
            values = self._body()
            where, args = _where(params)
            sets = ", ".join(f'"{k}" = ?' for k in values)
            try:
                with lock:
                    slugs = [r[0] for r in db.execute(f"SELECT org_slug FROM organizations{where}", args)]
                    db.execute(f"UPDATE organizations SET {sets}{where}", [*values.values(), *args])
                    rows = [
                        dict(r)
                        for r in db.execute(
                            f"SELECT * FROM organizations WHERE org_slug IN ({','.join('?' * len(slugs))})", slugs
                        )
                    ]
            except sqlite3.IntegrityError as exc:
                self._reply(400, {"code": "23514", "message": str(exc)})
                return
            self._reply(200, rows)

        def do_POST(self) -> None:  # noqa: N802
            started = self._start()
            if started is None:
                return
            _, params = started
            body = self._body()
            rows = body if isinstance(body, list) else [body]
            ignore = "ignore-duplicates" in (self.headers.get("prefer") or "")
            out = []
            with lock:
                for row in rows:
                    cols = list(row)
                    conflict = (
                        "DO NOTHING"
                        if ignore
                        else "DO UPDATE SET " + ", ".join(f'"{c}" = excluded."{c}"' for c in cols if c != "org_slug")
                    )
                    db.execute(
                        f"INSERT INTO organizations ({','.join(cols)}) VALUES ({','.join('?' * len(cols))}) "
                        f"ON CONFLICT(org_slug) {conflict}",
                        list(row.values()),
                    )
                    out.append(
                        dict(
                            db.execute("SELECT * FROM organizations WHERE org_slug = ?", (row["org_slug"],)).fetchone()
                        )
                    )
            self._reply(201, out)

    with running(Handler) as url:
        yield url, faults
