"""A local HTTP server speaking the PostgREST subset the Supabase adapter uses, backed by a real PostgreSQL.

Each double gets a fresh database (tests/doubles/pg_cluster.py) holding the frontend's `organizations` table, with
RLS on and a members' policy, and our migrations applied on top (unless `migrate=False`). Requests run the way PostgREST
runs them: one transaction per request on a connection that logged in as `authenticator`, `SET LOCAL ROLE` to the
role the API key stands for (Supabase's service-role key -> `service_role`, which has BYPASSRLS; the anon key ->
`anon`, which RLS hides every row from), and the request's SQL built from the URL. So the constraints, types,
privileges and row-level security that answer are PostgreSQL's own.

Spoken: GET (select with aliases, eq/neq/gt/gte/lt/lte/like/ilike/is/in filters, order, limit/offset,
`Prefer: count=exact` -> `Content-Range: a-b/total` and 206 / 416 PGRST103 as PostgREST does) capped at `max_rows`
like `db-max-rows`; PATCH (json_populate_record, `Prefer: return=representation`, `[]` when no row matched; an
update without a filter is refused as pg_safeupdate does on Supabase); POST insert/upsert (`on_conflict`,
`Prefer: resolution=...`); POST /rpc/<function> by argument names. Errors are PostgREST's JSON (`code`, `message`,
`details`, `hint`) with its HTTP status mapping; unknown columns in a body are PGRST204, unknown tables PGRST205,
unknown functions PGRST202, a bad query string PGRST100. Not spoken (so stricter than the service): embedding,
`or=`/`not.` filters, DELETE, PUT, HEAD, the Range header. Faults: a fixed error status, a hang, and stop.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlparse

import psycopg
from psycopg import sql

from tests.doubles.pg_cluster import TEMPLATE, Cluster
from tests.servers import QuietHandler, running

SERVICE_KEY = "test-service-role-key"
ANON_KEY = "test-anon-key"
ROLES = {SERVICE_KEY: "service_role", ANON_KEY: "anon"}
MIGRATIONS = sorted((Path(__file__).parents[2] / "migrations" / "supabase").glob("*.sql"))
RESERVED = {"select", "order", "limit", "offset", "on_conflict", "columns"}
OPERATORS = {"eq": "=", "neq": "<>", "gt": ">", "gte": ">=", "lt": "<", "lte": "<=", "like": "LIKE", "ilike": "ILIKE"}
IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass
class Faults:
    status: int | None = None
    hang_s: float = 0.0
    requests: int = 0
    calls: list[tuple[str, str]] = field(default_factory=list)  # (method, path) of every request


class PostgrestError(Exception):
    def __init__(self, status: int, code: str, message: str, details: str | None = None, hint: str | None = None):
        super().__init__(message)
        self.status, self.body = status, {"code": code, "message": message, "details": details, "hint": hint}


def http_status(sqlstate: str, role: str) -> int:
    """PostgREST's mapping of a PostgreSQL error code to an HTTP status (docs: references/errors)."""
    exact = {"23503": 409, "23505": 409, "25006": 405, "53400": 500, "P0001": 400, "42883": 404, "42P01": 404}
    if sqlstate in exact:
        return exact[sqlstate]
    if sqlstate == "42501":
        return 401 if role == "anon" else 403
    if sqlstate.startswith("PT") and sqlstate[2:].isdigit():
        return int(sqlstate[2:])
    prefixes = {"08": 503, "09": 500, "0L": 403, "0P": 403, "25": 500, "28": 403, "2D": 500, "38": 500, "39": 500}
    prefixes |= {"3B": 500, "40": 500, "53": 503, "54": 500, "55": 500, "57": 500, "58": 500, "F0": 500, "HV": 500}
    prefixes |= {"P0": 500, "XX": 500}
    return prefixes.get(sqlstate[:2], 400)


def _ident(name: str) -> sql.Identifier:
    if not IDENT.match(name):
        raise PostgrestError(400, "PGRST100", f'"failed to parse" ({name})', f"unexpected {name!r}")
    return sql.Identifier(name)


def _select_list(select: str | None) -> sql.Composable:
    if not select or select == "*":
        return sql.SQL("*")
    items = []
    for item in select.split(","):
        alias, _, column = item.strip().rpartition(":")
        items.append(sql.SQL("{} AS {}").format(_ident(column), _ident(alias or column)))
    return sql.SQL(", ").join(items)


def _filters(params: list[tuple[str, str]], qualifier: str) -> list[sql.Composable]:
    clauses: list[sql.Composable] = []
    for column, value in params:
        if column in RESERVED:
            continue
        _ident(column)
        col = sql.Identifier(qualifier, column)
        op, dot, operand = value.partition(".")
        if not dot:
            raise PostgrestError(400, "PGRST100", f'"failed to parse filter ({value})" (line 1, column 1)')
        if op in OPERATORS:
            clauses.append(sql.SQL("{} {} {}").format(col, sql.SQL(OPERATORS[op]), sql.Literal(operand)))
        elif op == "is" and operand in {"null", "true", "false"}:
            clauses.append(sql.SQL("{} IS {}").format(col, sql.SQL(operand.upper())))
        elif op == "in" and operand.startswith("(") and operand.endswith(")"):
            items = [i.strip().strip('"') for i in operand[1:-1].split(",") if i.strip()]
            clauses.append(sql.SQL("{} = ANY({})").format(col, sql.Literal(items)) if items else sql.SQL("false"))
        else:
            raise PostgrestError(400, "PGRST100", f'"failed to parse filter ({value})" (line 1, column 1)')
    return clauses


def _where(clauses: list[sql.Composable]) -> sql.Composable:
    return sql.SQL(" WHERE ") + sql.SQL(" AND ").join(clauses) if clauses else sql.SQL("")


def _order(order: str | None) -> sql.Composable:
    if not order:
        return sql.SQL("")
    terms = []
    for term in order.split(","):
        column, *mods = term.strip().split(".")
        words = {"asc": "ASC", "desc": "DESC", "nullsfirst": "NULLS FIRST", "nullslast": "NULLS LAST"}
        if any(m not in words for m in mods):
            raise PostgrestError(400, "PGRST100", f'"failed to parse order ({order})" (line 1, column 1)')
        terms.append(sql.SQL(" ").join([_ident(column), *(sql.SQL(words[m]) for m in mods)]))
    return sql.SQL(" ORDER BY ") + sql.SQL(", ").join(terms)


def _int(params: dict[str, str], name: str) -> int | None:
    if name not in params:
        return None
    if not params[name].isdigit():
        raise PostgrestError(400, "PGRST100", f'"failed to parse {name} ({params[name]})" (line 1, column 1)')
    return int(params[name])


def _prefer(header: str | None) -> dict[str, str]:
    out = {}
    for part in (header or "").split(","):
        key, _, value = part.strip().partition("=")
        if key:
            out[key] = value
    return out


class PostgrestDouble:
    """One database behind one HTTP server. `sql()` runs as the database owner (the frontend's side)."""

    def __init__(self, pg: Cluster, dbname: str, faults: Faults, max_rows: int) -> None:
        self.pg, self.dbname, self.faults, self.max_rows = pg, dbname, faults, max_rows
        self.url = ""
        self._idle: list[psycopg.Connection] = []
        self._all: list[psycopg.Connection] = []
        self._lock = threading.Lock()

    def sql(self, query: str, params: Any = None) -> list[tuple[Any, ...]]:
        with self.pg.connect(self.dbname) as conn:
            cur = conn.execute(query, params)
            return cur.fetchall() if cur.description else []

    def migrate(self) -> None:
        """Apply migrations/supabase/*.sql in order, as the Supabase SQL editor would (as postgres)."""
        with self.pg.connect(self.dbname) as conn:
            _apply_migrations(conn)

    def seed_org(self, org_slug: str, name: str | None = None) -> None:
        """The frontend's onboarding: its own row for the org (ours are only the status columns)."""
        self.sql(
            "insert into public.organizations (id, org_slug, org_name) values (gen_random_uuid(), %s, %s)",
            (org_slug, name or org_slug),
        )

    def seed_orgs(self, org_slugs: list[str]) -> None:
        """Many frontend rows at once (name = slug)."""
        self.sql(
            "insert into public.organizations (id, org_slug, org_name) "
            "select gen_random_uuid(), s, s from unnest(%s::text[]) s",
            (org_slugs,),
        )

    @contextmanager
    def _connection(self) -> Iterator[psycopg.Connection]:
        with self._lock:
            conn = self._idle.pop() if self._idle else None
        if conn is None:
            conn = psycopg.connect(self.pg.conninfo(self.dbname, "authenticator"))
            with self._lock:
                self._all.append(conn)
        try:
            yield conn
        finally:
            with self._lock:
                self._idle.append(conn)

    def close(self) -> None:
        for conn in self._all:
            conn.close()

    def execute(self, role: str, statement: sql.Composable) -> Any:
        """One request = one transaction under the request's role; returns the single JSON value selected."""
        with self._connection() as conn:
            try:
                with conn.transaction():
                    conn.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(role)))
                    claims = json.dumps({"role": role})
                    conn.execute("select set_config('request.jwt.claims', %s, true)", (claims,))
                    row = conn.execute(statement).fetchone()
                    return row[0] if row else None
            except psycopg.Error as exc:
                diag = exc.diag
                code = diag.sqlstate or "XX000"
                raise PostgrestError(
                    http_status(code, role),
                    code,
                    diag.message_primary or str(exc),
                    diag.message_detail,
                    diag.message_hint,
                ) from None

    def catalog(self, query: str, params: Any) -> list[tuple[Any, ...]]:
        """What PostgREST's schema cache knows: pg_catalog, read by the authenticator itself."""
        with self._connection() as conn, conn.transaction():
            return conn.execute(query, params).fetchall()

    def columns(self, table: str) -> set[str]:
        rows = self.catalog(
            "select attname from pg_attribute where attrelid = to_regclass(format('public.%%I', %s::text)) "
            "and attnum > 0 and not attisdropped",
            (table,),
        )
        if not rows:
            raise PostgrestError(
                404,
                "PGRST205",
                f"Could not find the table 'public.{table}' in the schema cache",
                None,
                "Perhaps you meant the table 'public.organizations'",
            )
        return {r[0] for r in rows}

    def check_body_columns(self, table: str, keys: set[str]) -> None:
        unknown = sorted(keys - self.columns(table))
        if unknown:
            raise PostgrestError(
                400, "PGRST204", f"Could not find the '{unknown[0]}' column of '{table}' in the schema cache"
            )


def _apply_migrations(conn: psycopg.Connection) -> None:
    for path in MIGRATIONS:
        conn.execute(path.read_text())


def _handler(double: PostgrestDouble) -> type[QuietHandler]:
    faults = double.faults

    class Handler(QuietHandler):
        def _reply(self, status: int, body: object | None, headers: dict[str, str] | None = None) -> None:
            data = b"" if body is None else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json; charset=utf-8")
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _body(self) -> Any:
            raw = self.rfile.read(int(self.headers.get("content-length") or 0))
            try:
                return json.loads(raw)
            except ValueError:
                raise PostgrestError(400, "PGRST102", "Empty or invalid json") from None

        def _serve(self, method: str) -> None:
            with double._lock:
                faults.requests += 1
                faults.calls.append((method, urlparse(self.path).path))
            if faults.hang_s:
                time.sleep(faults.hang_s)
            role = ROLES.get(self.headers.get("apikey") or "")
            if role is None:  # Supabase's gateway refuses the request before PostgREST sees it
                self._reply(401, {"message": "Invalid API key", "hint": "Double check your Supabase API key."})
                return
            if faults.status:
                self._reply(
                    faults.status, {"code": "XX000", "message": "internal error", "details": None, "hint": None}
                )
                return
            url = urlparse(self.path)
            path = unquote(url.path)
            params = parse_qsl(url.query, keep_blank_values=True)
            try:
                if not path.startswith("/rest/v1/"):
                    raise PostgrestError(404, "PGRST125", f"Invalid path specified in request URL: {path}")
                target = path.removeprefix("/rest/v1/")
                if target.startswith("rpc/"):
                    if method != "POST":
                        raise PostgrestError(405, "PGRST101", "Only GET and POST are allowed here (double: POST)")
                    status, body, headers = self._rpc(role, target.removeprefix("rpc/"))
                else:
                    _ident(target)
                    double.columns(target)
                    status, body, headers = getattr(self, f"_{method.lower()}")(role, target, params)
            except PostgrestError as exc:
                self._reply(exc.status, exc.body)
                return
            self._reply(status, body, headers)

        def do_GET(self) -> None:  # noqa: N802
            self._serve("GET")

        def do_PATCH(self) -> None:  # noqa: N802
            self._serve("PATCH")

        def do_POST(self) -> None:  # noqa: N802
            self._serve("POST")

        def do_DELETE(self) -> None:  # noqa: N802
            self._reply(405, {"code": "PGRST117", "message": "Unsupported HTTP method: DELETE (double)"})

        def _get(self, role: str, table: str, params: list[tuple[str, str]]) -> tuple[int, Any, dict[str, str]]:
            named = dict(params)
            base = sql.SQL("SELECT {} FROM public.{} AS t{}").format(
                _select_list(named.get("select")), sql.Identifier(table), _where(_filters(params, "t"))
            )
            offset = _int(named, "offset") or 0
            limit = min(_int(named, "limit") or double.max_rows, double.max_rows)
            page = base + _order(named.get("order")) + sql.SQL(" LIMIT {} OFFSET {}").format(limit, offset)
            rows = double.execute(role, sql.SQL("SELECT coalesce(json_agg(p), '[]') FROM ({}) p").format(page))
            total = None
            if _prefer(self.headers.get("prefer")).get("count") in {"exact", "planned", "estimated"}:
                total = double.execute(role, sql.SQL("SELECT count(*) FROM ({}) c").format(base))
            return _range_status(offset, len(rows), total), rows, _range_header(offset, rows, total)

        def _patch(self, role: str, table: str, params: list[tuple[str, str]]) -> tuple[int, Any, dict[str, str]]:
            values = self._body()
            if not isinstance(values, dict):
                raise PostgrestError(400, "PGRST102", "Empty or invalid json")
            double.check_body_columns(table, set(values))
            filters = _filters(params, "t")
            if not filters:  # Supabase runs pg_safeupdate for API requests
                raise PostgrestError(400, "21000", "UPDATE requires a WHERE clause")
            sets = sql.SQL(", ").join(sql.SQL("{0} = r.{0}").format(sql.Identifier(k)) for k in values)
            update = sql.SQL(
                "UPDATE public.{table} AS t SET {sets} FROM json_populate_record(null::public.{table}, {body}) AS r"
                "{where} RETURNING t.*"
            ).format(
                table=sql.Identifier(table), sets=sets, body=sql.Literal(json.dumps(values)), where=_where(filters)
            )
            rows = self._returning(role, update, dict(params).get("select"))
            return self._mutation_reply(200, rows)

        def _post(self, role: str, table: str, params: list[tuple[str, str]]) -> tuple[int, Any, dict[str, str]]:
            body = self._body()
            rows_in = body if isinstance(body, list) else [body]
            if not rows_in or not all(isinstance(r, dict) for r in rows_in):
                raise PostgrestError(400, "PGRST102", "Empty or invalid json")
            columns = list(rows_in[0])
            double.check_body_columns(table, set(columns))
            cols = sql.SQL(", ").join(map(sql.Identifier, columns))
            conflict = sql.SQL("")
            resolution = _prefer(self.headers.get("prefer")).get("resolution")
            if resolution:
                target = sql.SQL(", ").join(_ident(c) for c in dict(params).get("on_conflict", "id").split(","))
                action = (
                    sql.SQL("DO NOTHING")
                    if resolution == "ignore-duplicates"
                    else sql.SQL("DO UPDATE SET ")
                    + sql.SQL(", ").join(sql.SQL("{0} = excluded.{0}").format(sql.Identifier(c)) for c in columns)
                )
                conflict = sql.SQL(" ON CONFLICT ({}) {}").format(target, action)
            insert = sql.SQL(
                "INSERT INTO public.{table} AS t ({cols}) SELECT {cols} FROM json_populate_recordset("
                "null::public.{table}, {body}){conflict} RETURNING t.*"
            ).format(table=sql.Identifier(table), cols=cols, body=sql.Literal(json.dumps(rows_in)), conflict=conflict)
            rows = self._returning(role, insert, dict(params).get("select"))
            return self._mutation_reply(201, rows)

        def _returning(self, role: str, statement: sql.Composable, select: str | None) -> list[dict[str, Any]]:
            wrapped = sql.SQL("WITH m AS ({}) SELECT coalesce(json_agg(x), '[]') FROM (SELECT {} FROM m) x").format(
                statement, _select_list(select)
            )
            return list(double.execute(role, wrapped))

        def _mutation_reply(self, status: int, rows: list[dict[str, Any]]) -> tuple[int, Any, dict[str, str]]:
            headers = {"content-range": f"0-{len(rows) - 1}/*" if rows else "*/*"}
            if _prefer(self.headers.get("prefer")).get("return") == "representation":
                return status, rows, headers
            return (204 if status == 200 else status), None, headers

        def _rpc(self, role: str, name: str) -> tuple[int, Any, dict[str, str]]:
            args = self._body()
            if not isinstance(args, dict):
                raise PostgrestError(400, "PGRST102", "Empty or invalid json")
            found = double.catalog(
                "select p.proargnames, array(select format_type(t, null) from unnest(p.proargtypes) t) "
                "from pg_proc p join pg_namespace n on n.oid = p.pronamespace where n.nspname = 'public' "
                "and p.proname = %s",
                (name,),
            )
            match = next((f for f in found if set(f[0] or []) == set(args)), None)
            if match is None:
                raise PostgrestError(
                    404,
                    "PGRST202",
                    f"Could not find the function public.{name}({', '.join(sorted(args))}) in the schema cache",
                    None,
                    "Perhaps the migration that creates it was not applied, or reload the schema cache.",
                )
            types = dict(zip(match[0], match[1], strict=True))
            call = sql.SQL(", ").join(
                sql.SQL("{} := {}::{}").format(
                    _ident(k),
                    sql.Literal(json.dumps(v) if types[k] in {"json", "jsonb"} else str(v)),
                    sql.SQL(types[k]),
                )
                for k, v in args.items()
            )
            result = double.execute(role, sql.SQL("SELECT to_json(public.{}({}))").format(_ident(name), call))
            return 200, result, {}

    return Handler


def _range_status(offset: int, returned: int, total: int | None) -> int:
    if total is not None and offset > total:
        raise PostgrestError(
            416,
            "PGRST103",
            "Requested range not satisfiable",
            f"An offset of {offset} was requested, but there are only {total} rows.",
        )
    if total is not None and returned < total:
        return 206
    return 200


def _range_header(offset: int, rows: list[Any], total: int | None) -> dict[str, str]:
    span = f"{offset}-{offset + len(rows) - 1}" if rows else "*"
    return {"content-range": f"{span}/{'*' if total is None else total}"}


@contextmanager
def postgrest(
    pg: Cluster, faults: Faults | None = None, *, migrate: bool = True, max_rows: int = 1000
) -> Iterator[PostgrestDouble]:
    """A fresh database with the frontend's schema (and our migrations), served over HTTP on 127.0.0.1."""
    template = pg.template("migrated_template", _apply_migrations) if migrate else TEMPLATE
    with pg.database(template) as dbname:
        double = PostgrestDouble(pg, dbname, faults or Faults(), max_rows)
        try:
            with running(_handler(double)) as url:
                double.url = url
                yield double
        finally:
            double.close()
