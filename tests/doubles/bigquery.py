"""A double of the BigQuery client surface the store uses, as strict as BigQuery where the store can trip.

- Every statement of every job is parsed and **analyzed by ZetaSQL** (GoogleSQL's reference analyzer; PyPI
  `zetasql`, a WASM build that runs offline) in BigQuery's external product mode, against a catalog built from
  the CREATE TABLE statements the store itself ran, with the job's typed query parameters (ARRAY<STRUCT> too):
  a reserved word used as an identifier, an unknown column or a type mismatch fails the job with BigQuery's 400
  `invalidQuery`. Every statement kind the store sends is analyzed (SELECT, INSERT ... VALUES / SELECT,
  UPDATE ... FROM UNNEST, CREATE TABLE ... PARTITION BY / CLUSTER BY, BEGIN / COMMIT TRANSACTION); none is only
  parsed. Analyses are cached by (catalog, text, parameter types): the store sends few distinct statements.
- Execution: sqlglot transpiles each statement (bigquery -> duckdb, `@p` -> `$p`) and DuckDB runs it, one
  connection per job; a script job returns its last statement's rows, as BigQuery does.
- Transactions: a transaction that mutates a table holds it until it ends; another transaction that mutates
  that table meanwhile is aborted with "Could not serialize access to table ... due to concurrent update" and
  rolled back; a DML statement outside a transaction waits for it (BigQuery queues those).
- Permissions: `granted` holds the IAM permissions of the caller (all by default; DATA_EDITOR_ON_DATASET is a
  caller with BigQuery Data Editor on the dataset and Job User on the project, who cannot create datasets).
  Denials are 403 `accessDenied` with Google's message naming the permission.
- Quotas: `quota_errors` makes the next job insertions fail with 403 `rateLimitExceeded` / `quotaExceeded` and
  Google's error JSON (built with google.api_core's own `from_http_response`).
- Time: `job_delay_s` makes each job run that long (in its own thread, as a job runs server-side), so
  `result(timeout=...)` times out and `cancel()` stops a job before its COMMIT (its writes never happen).
- Limits: a jobs.insert request over 10 MB (the query text and its parameters as the client's JSON) fails with
  BigQuery's 400 "Request payload size exceeds the limit: 10485760 bytes."; mutating DML statements outside a
  transaction queue per table (one runs, up to 20 wait; the 21st fails "Too many DML statements outstanding");
  a transaction that mutates a table another open transaction mutates is aborted ("Transaction is aborted due to
  concurrent update against table ..."); a job sent to another location than its dataset's fails "Not found:
  Dataset ... was not found in location X"; QUALIFY is a reserved keyword, as in BigQuery.
- FARM_FINGERPRINT runs as BigQuery's (integrations.fingerprint, registered in DuckDB).
- `path` keeps the tables in a DuckDB file (a large seeded fleet read by another process); `memory_limit` bounds
  DuckDB's buffers.
- `jobs` counts query jobs inserted (dry runs excluded); `statements` lists their texts; `table_gets` counts tables.get.
- tables.get reports `lastModifiedTime` (milliseconds, as BigQuery: moved by the commit of a statement that changed
  rows, by CREATE and ALTER; never by a failed or rolled-back job, nor by a DML statement that changed no row, which
  BigQuery is not documented to count) and `numRows` (committed rows).
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import Any

import duckdb
import requests
import sqlglot
import wasmtime
from google.api_core import exceptions as gexc
from google.cloud import bigquery
from integrations.fingerprint import farm_fingerprint

PROJECT = "test-project"
MAX_REQUEST_BYTES = 10_485_760  # BigQuery's maximum request size, query parameters included
MAX_QUEUED_DML = 20  # mutating DML statements pending per table
logging.getLogger("sqlglot").setLevel(logging.ERROR)  # PARTITION/CLUSTER have no DuckDB form

DATASET_PERMISSIONS = {
    "bigquery.datasets.get",
    "bigquery.tables.get",
    "bigquery.tables.create",
    "bigquery.tables.update",
}
DATA_PERMISSIONS = {"bigquery.tables.getData", "bigquery.tables.updateData"}
JOB_USER = {"bigquery.jobs.create"}
DATA_EDITOR_ON_DATASET = DATASET_PERMISSIONS | DATA_PERMISSIONS | JOB_USER
ALL_PERMISSIONS = DATA_EDITOR_ON_DATASET | {"bigquery.datasets.create"}
QUOTA_MESSAGES = {
    "rateLimitExceeded": "Exceeded rate limits: too many api requests per user per method for this user_method. "
    "For more information, see https://cloud.google.com/bigquery/docs/troubleshoot-quotas",
    "quotaExceeded": "Quota exceeded: Your project exceeded quota for concurrent queries. For more information, "
    "see https://cloud.google.com/bigquery/docs/troubleshoot-quotas",
}
_MUTATING = re.compile(r"^\s*(UPDATE|DELETE|MERGE)\s+`([^`]+)`", re.IGNORECASE)
_INSERT = re.compile(r"^\s*INSERT\s+INTO\s+`([^`]+)`", re.IGNORECASE)
_CREATE = re.compile(r"^\s*CREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?`([^`]+)`", re.IGNORECASE)
_ALTER = re.compile(
    r"^\s*ALTER\s+TABLE\s+`([^`]+)`\s+(ADD|DROP)\s+COLUMN\s+(?:IF\s+(?:NOT\s+)?EXISTS\s+)?(\w+)(?:\s+(\w+))?",
    re.IGNORECASE,
)


def google_error(status: int, reason: str, message: str, domain: str = "global") -> gexc.GoogleAPICallError:
    """The exception google-cloud-bigquery raises for Google's error JSON with this status and reason."""
    response = requests.Response()
    response.status_code = status
    response.request = requests.Request("POST", f"https://bigquery.googleapis.com/bigquery/v2/projects/{PROJECT}/jobs")
    body = {
        "error": {
            "code": status,
            "message": message,
            "errors": [{"message": message, "domain": domain, "reason": reason}],
            "status": {400: "INVALID_ARGUMENT", 403: "PERMISSION_DENIED", 404: "NOT_FOUND"}.get(status, "UNKNOWN"),
        }
    }
    response._content = json.dumps(body).encode()
    return gexc.from_http_response(response)


def denied(permission: str, resource: str) -> gexc.GoogleAPICallError:
    return google_error(
        403, "accessDenied", f"Access Denied: {resource}: User does not have {permission} permission in {resource}."
    )


# --- ZetaSQL -----------------------------------------------------------------------------------------------------


class _CachedConfig(wasmtime.Config):
    """zetasql compiles its 28 MB WASM module on start (a minute or more); wasmtime's own on-disk cache makes
    that once per machine instead of once per test run."""

    def __init__(self) -> None:
        super().__init__()
        self.cache = True


def _zetasql() -> Any:
    import zetasql.core.wasm_client as wasm_client

    wasm_client.Config = _CachedConfig  # type: ignore[misc]
    import zetasql.api as api
    import zetasql.types as types

    return api, types


class Analyzer:
    """ZetaSQL in BigQuery's (external) product mode; one per process, analyses cached."""

    _instance: Analyzer | None = None
    _lock = threading.RLock()

    def __init__(self) -> None:
        self.api, self.types = _zetasql()
        language = self.types.LanguageOptions.maximum_features()
        language.product_mode = self.types.ProductMode.PRODUCT_EXTERNAL
        language.reserved_keywords = ["QUALIFY"]  # reserved in BigQuery (ZetaSQL leaves it reservable)
        self.language = language
        self.builtins = self.types.ZetaSQLBuiltinFunctionOptions(language_options=language)
        self.cache: dict[tuple[Any, ...], str | None] = {}
        self.kinds = {
            "STRING": "TYPE_STRING",
            "INT64": "TYPE_INT64",
            "BOOL": "TYPE_BOOL",
            "BYTES": "TYPE_BYTES",
            "TIMESTAMP": "TYPE_TIMESTAMP",
            "FLOAT64": "TYPE_DOUBLE",
            "JSON": "TYPE_JSON",
            "DATE": "TYPE_DATE",
        }

    @classmethod
    def get(cls) -> Analyzer:
        with cls._lock:
            if cls._instance is None:
                cls._instance = Analyzer()
            return cls._instance

    def type_of(self, spec: Any) -> Any:
        factory = self.api.TypeFactory
        if isinstance(spec, tuple) and spec[0] == "ARRAY":
            return factory.create_array_type(self.type_of(spec[1]))
        if isinstance(spec, tuple) and spec[0] == "STRUCT":
            return factory.create_struct_type([(name, self.type_of(t)) for name, t in spec[1]])
        return factory.create_simple_type(getattr(self.types.TypeKind, self.kinds[spec]))

    def columns(self, ddl: str) -> list[tuple[str, str]]:
        """The (name, BigQuery type) columns a CREATE TABLE statement defines, as ZetaSQL resolves them."""
        options = self.types.AnalyzerOptions(language_options=self.language)
        catalog = self.api.CatalogBuilder("bigquery").with_builtin_functions(self.builtins).build()
        with self._lock:
            stmt = self.api.Analyzer(options, catalog).analyze_statement(ddl)
        names = {v: k for k, v in self.kinds.items()}
        return [(c.name, names[self.types.TypeKind(c.type.type_kind).name]) for c in stmt.column_definition_list]

    def check(self, tables: dict[str, list[tuple[str, str]]], script: str, params: dict[str, Any]) -> list[str]:
        """Analyze every statement of `script`; return their texts, or raise BadRequest as BigQuery would."""
        key = (tuple(sorted((t, tuple(c)) for t, c in tables.items())), script, tuple(sorted(params.items())))
        with self._lock:  # one WASM instance: one call at a time
            if key not in self.cache:
                self.cache[key] = self._analyze(tables, script, params)
            error = self.cache[key]
        if error is not None:
            raise google_error(400, "invalidQuery", error)
        return split_statements(script)

    def _analyze(self, tables: dict[str, list[tuple[str, str]]], script: str, params: dict[str, Any]) -> str | None:
        builder = self.api.CatalogBuilder("bigquery").with_builtin_functions(self.builtins)
        for name, columns in tables.items():
            table = self.api.TableBuilder(name)
            for column, kind in columns:
                table.add_column(column, self.type_of(kind))
            builder.add_table(table.build())
        options = self.types.AnalyzerOptions(
            language_options=self.language,
            system_variables=[  # what a script may read: @@row_count, the rows the previous DML statement changed
                self.types.AnalyzerOptions.SystemVariable(name_path=["row_count"], type=self.type_of("INT64"))
            ],
            query_parameters=[
                self.types.AnalyzerOptions.QueryParameter(name=n, type=self.type_of(t)) for n, t in params.items()
            ],
        )
        analyzer = self.api.Analyzer(options, builder.build())
        for statement in split_statements(script):
            try:
                analyzer.analyze_statement(statement)
            except Exception as exc:  # zetasql's ServerError: "[INVALID_ARGUMENT] Syntax error: ..."
                return re.sub(r"^\[\w+\]\s*", "", str(exc))
        return None


def split_statements(script: str) -> list[str]:
    """The statements of a script (our SQL has no semicolon inside literals or comments)."""
    return [s.strip() for s in script.split(";") if s.strip()]


# --- parameters --------------------------------------------------------------------------------------------------


def _spec(param: Any) -> Any:
    if isinstance(param, bigquery.ArrayQueryParameter):
        if isinstance(param.array_type, bigquery.StructQueryParameterType):  # declared: an empty array has a type
            return ("ARRAY", ("STRUCT", tuple((t.name, t.to_api_repr()["type"]) for t in param.array_type.fields)))
        if param.array_type == "STRUCT":
            if not param.values:  # the client sends no field types: BigQuery cannot type the array
                raise google_error(
                    400, "invalidQuery", f"Query parameter '{param.name}' has an array of STRUCT without field types."
                )
            first = param.values[0]
            return ("ARRAY", ("STRUCT", tuple((n, first.struct_types[n]) for n in first.struct_values)))
        return ("ARRAY", param.array_type)
    return param.type_


def _flat(spec: Any) -> list[str]:
    """Every type name in a parameter's type: ARRAY, STRUCT and their fields' types."""
    if isinstance(spec, tuple) and spec[0] == "ARRAY":
        return ["ARRAY", *_flat(spec[1])]
    if isinstance(spec, tuple):
        return ["STRUCT", *(t for _, field_type in spec[1] for t in _flat(field_type))]
    return [spec]


def _value(param: Any) -> Any:
    if isinstance(param, bigquery.ArrayQueryParameter):
        return [dict(v.struct_values) if isinstance(v, bigquery.StructQueryParameter) else v for v in param.values]
    return param.value


def _duck_type(spec: Any) -> str:
    simple = {
        "STRING": "VARCHAR",
        "INT64": "BIGINT",
        "BOOL": "BOOLEAN",
        "BYTES": "BLOB",
        "TIMESTAMP": "TIMESTAMPTZ",
        "FLOAT64": "DOUBLE",
        "JSON": "JSON",
        "DATE": "DATE",
    }
    if isinstance(spec, tuple) and spec[0] == "ARRAY":
        return _duck_type(spec[1]) + "[]"
    if isinstance(spec, tuple) and spec[0] == "STRUCT":
        return "STRUCT(" + ", ".join(f'"{n}" {_duck_type(t)}' for n, t in spec[1]) + ")"
    return simple[spec]


# --- jobs --------------------------------------------------------------------------------------------------------


class Job:
    """A query job: runs on its own thread, like a job on BigQuery's side."""

    def __init__(self, client: DuckBigQuery, statements: list[str], params: dict[str, Any], specs: dict[str, Any]):
        self.client, self.statements, self.params, self.specs = client, statements, params, specs
        self.job_id = f"job_{uuid.uuid4().hex[:12]}"
        self.state = "RUNNING"
        self.error_result: dict[str, str] | None = None
        self._rows: list[dict[str, Any]] = []
        self._error: Exception | None = None
        self._cancelled = threading.Event()
        self._done = threading.Event()
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        try:
            if self.client.job_delay_s and self._cancelled.wait(self.client.job_delay_s):
                raise google_error(400, "stopped", "Job execution was cancelled: User requested cancellation")
            self._rows = self.client._execute(self)
        except gexc.GoogleAPICallError as exc:
            self._error = exc
            self.error_result = {"reason": exc.errors[0]["reason"] if exc.errors else "", "message": exc.message}
        except Exception as exc:  # a DuckDB failure: a bug in our SQL that ZetaSQL let through
            self._error = google_error(400, "invalidQuery", f"{type(exc).__name__}: {exc}")
            self.error_result = {"reason": "invalidQuery", "message": str(exc)}
        finally:
            self.state = "DONE"
            self._done.set()

    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    def done(self, retry: Any = None, timeout: float | None = None, reload: bool = True) -> bool:
        return self._done.is_set()

    def reload(self, *args: Any, **kwargs: Any) -> None:
        return None

    def cancel(self, *args: Any, **kwargs: Any) -> bool:
        self._cancelled.set()
        return True

    def result(self, timeout: float | None = None, **kwargs: Any) -> list[dict[str, Any]]:
        if not self._done.wait(timeout):
            raise FutureTimeout(f"Job {self.job_id} did not finish within {timeout} s")
        if self._error is not None:
            raise self._error
        return self._rows


@dataclass
class _Locks:
    """Tables held by open mutating transactions: table -> job id; DML statements queued per table."""

    held: dict[str, str] = field(default_factory=dict)
    queued: dict[str, int] = field(default_factory=dict)
    changed: threading.Condition = field(default_factory=threading.Condition)


class DuckBigQuery:
    """`query`, `get_dataset`, `create_dataset`, `get_table`: the surface BigQueryStore uses."""

    def __init__(
        self,
        granted: Iterable[str] = ALL_PERMISSIONS,
        project: str = PROJECT,
        path: str | None = None,
        memory_limit: str | None = None,
    ) -> None:
        self.project = project
        self.path = path
        self.db = duckdb.connect(config={"memory_limit": memory_limit} if memory_limit else {})
        self.db.create_function("FARM_FINGERPRINT", farm_fingerprint, ["VARCHAR"], "BIGINT", side_effects=False)
        self.lock = threading.Lock()
        self.statements: list[str] = []
        self.faults: list[Exception] = []
        self.quota_errors: list[str] = []
        self.parameter_types: set[str] = set()
        self.granted = set(granted)
        self.jobs = 0
        self.dry_runs = 0
        self.job_delay_s = 0.0
        self.locations: list[str | None] = []
        self.datasets: dict[str, str] = {}  # dataset id -> location
        self.tables: dict[str, list[tuple[str, str]]] = {}  # full name -> [(column, type)]
        self.modified: dict[str, int] = {}  # full name -> lastModifiedTime (ms since the epoch, as tables.get says)
        self.table_gets = 0
        self._locks = _Locks()
        self._analyzer = Analyzer.get()

    # --- datasets and tables ---
    def _require(self, permission: str, resource: str) -> None:
        if permission not in self.granted:
            raise denied(permission, resource)

    def get_dataset(self, dataset_ref: Any, *args: Any, **kwargs: Any) -> bigquery.Dataset:
        ref = _dataset_id(dataset_ref)
        self._require("bigquery.datasets.get", f"Dataset {ref}")
        if ref not in self.datasets:
            raise google_error(404, "notFound", f"Not found: Dataset {ref.replace('.', ':', 1)}")
        dataset = bigquery.Dataset(ref)
        dataset.location = self.datasets[ref]
        return dataset

    def create_dataset(self, dataset: Any, exists_ok: bool = False, *args: Any, **kwargs: Any) -> Any:
        ref = _dataset_id(dataset)
        self._require("bigquery.datasets.create", f"Project {ref.split('.')[0]}")
        if ref in self.datasets:
            if not exists_ok:
                raise google_error(409, "duplicate", f"Already Exists: Dataset {ref.replace('.', ':', 1)}")
            return dataset
        self.add_dataset(ref, getattr(dataset, "location", None) or "US")
        return dataset

    def add_dataset(self, ref: str, location: str = "US") -> None:
        """A dataset made by someone else (an administrator): no permission of the caller is needed."""
        project, dataset_id = ref.split(".")
        with self.lock:
            catalogs = {r[0] for r in self.db.execute("SELECT database_name FROM duckdb_databases()").fetchall()}
            if project not in catalogs:
                self.db.execute(f"ATTACH '{self.path or ':memory:'}' AS \"{project}\"")
            self.db.execute(f'CREATE SCHEMA IF NOT EXISTS "{project}"."{dataset_id}"')
            self.datasets[ref] = location

    def get_table(self, table_ref: Any, *args: Any, **kwargs: Any) -> bigquery.Table:
        ref = (
            table_ref
            if isinstance(table_ref, str)
            else f"{table_ref.project}.{table_ref.dataset_id}.{table_ref.table_id}"
        )
        self._require("bigquery.tables.get", f"Table {ref}")
        if ref.rsplit(".", 1)[0] not in self.datasets or ref not in self.tables:
            raise google_error(404, "notFound", f"Not found: Table {ref.replace('.', ':', 1)}")
        self.table_gets += 1
        table = bigquery.Table(ref, schema=[bigquery.SchemaField(n, t) for n, t in self.tables[ref]])
        project, dataset, name = ref.split(".")
        cursor = self.db.cursor()
        try:  # committed rows only, as BigQuery's numRows (no streaming buffer here: the store never streams)
            [(rows,)] = cursor.execute(f'SELECT COUNT(*) FROM "{project}"."{dataset}"."{name}"').fetchall()
        finally:
            cursor.close()
        table._properties["lastModifiedTime"] = str(self.modified[ref])
        table._properties["numRows"] = str(rows)
        return table

    # --- query jobs ---
    def query(self, sql: str, job_config: Any = None, location: str | None = None, **kwargs: Any) -> Job:
        """jobs.insert: quota and permission errors come back here; SQL errors when the job is waited for."""
        self._require("bigquery.jobs.create", f"Project {self.project}")
        if self.quota_errors:
            reason = self.quota_errors.pop(0)
            raise google_error(403, reason, QUOTA_MESSAGES[reason], "usageLimits" if "rate" in reason else "global")
        if self.faults:
            raise self.faults.pop(0)
        if _request_bytes(sql, job_config) > MAX_REQUEST_BYTES:
            raise google_error(400, "badRequest", f"Request payload size exceeds the limit: {MAX_REQUEST_BYTES} bytes.")
        params = {p.name: p for p in getattr(job_config, "query_parameters", None) or []}
        specs = {name: _spec(p) for name, p in params.items()}
        for spec in specs.values():
            self.parameter_types |= set(_flat(spec))
        if getattr(job_config, "dry_run", False):  # validated and authorized at insertion, never run
            self.dry_runs += 1
            for statement in self._analyzer.check(self.tables, sql, specs):
                if (needed := self._permission_for(statement)) is not None:
                    self._require(needed[0], f"Table {needed[1]}")
            return _DoneJob()
        self.jobs += 1
        self.locations.append(location)
        self.statements.append(sql)
        if (missing := self._elsewhere(sql, location)) is not None:
            return _DoneJob(missing)
        try:
            statements = self._analyzer.check(self.tables, sql, specs)
        except gexc.GoogleAPICallError as exc:
            return _DoneJob(exc)
        return Job(self, statements, {n: _value(p) for n, p in params.items()}, specs)

    def _elsewhere(self, sql: str, location: str | None) -> Exception | None:
        """A job run in another location than a dataset it reads: BigQuery does not find the dataset there."""
        if location is None:  # BigQuery runs the job where its datasets are
            return None
        for name in dict.fromkeys(re.findall(r"`([^`.]+\.[^`.]+)\.[^`]+`", sql)):
            where = self.datasets.get(name)
            if where is not None and where.upper() != location.upper():
                return google_error(
                    404,
                    "notFound",
                    f"Not found: Dataset {name.replace('.', ':', 1)} was not found in location {location}",
                )
        return None

    def _permission_for(self, statement: str) -> tuple[str, str] | None:
        if (m := _CREATE.match(statement)) is not None:
            return "bigquery.tables.create", m.group(1)
        if (m := _ALTER.match(statement)) is not None:
            return "bigquery.tables.update", m.group(1)
        if (m := _MUTATING.match(statement) or _INSERT.match(statement)) is not None:
            return "bigquery.tables.updateData", m.group(m.lastindex or 1)
        for name in re.findall(r"`([^`]+)`", statement):
            return "bigquery.tables.getData", name
        return None

    def _execute(self, job: Job) -> Any:
        conn = self.db.cursor()
        held: list[str] = []
        changed: set[str] = set()  # tables this job's uncommitted statements changed: dropped if it fails
        in_transaction, rows, row_count = False, [], None
        if len(job.statements) == 1 and job.statements[0].upper().startswith("SELECT"):
            return self._select(conn, job)  # a query's rows stay on the server's side until paged through
        try:
            for statement in job.statements:
                if job.cancelled():
                    raise google_error(400, "stopped", "Job execution was cancelled: User requested cancellation")
                needed = self._permission_for(statement)
                if needed:
                    self._require(needed[0], f"Table {needed[1]}")
                upper = statement.upper()
                if upper.startswith("BEGIN"):
                    in_transaction = True
                elif upper.startswith("COMMIT"):
                    in_transaction = False
                if (m := _MUTATING.match(statement)) is not None:
                    self._hold(job, m.group(2), in_transaction, held)
                count = "NULL" if row_count is None else str(row_count)
                rows = self._run_statement(conn, statement.replace("@@row_count", count), job)
                dml = _MUTATING.match(statement) or _INSERT.match(statement)
                row_count = rows[0]["Count"] if dml and rows and "Count" in rows[0] else None
                if dml and row_count:  # only a statement that changed rows moves lastModifiedTime (at its commit)
                    changed.add(dml.group(dml.lastindex or 1))
                if upper.startswith("COMMIT") or not in_transaction:
                    self._release(held)
                    self._modified(changed)
            return rows
        except Exception:
            with contextlib.suppress(duckdb.Error):
                conn.execute("ROLLBACK")
            raise
        finally:
            self._release(held)
            conn.close()

    def _hold(self, job: Job, table: str, in_transaction: bool, held: list[str]) -> None:
        locks = self._locks
        with locks.changed:
            if locks.held.get(table, job.job_id) != job.job_id and in_transaction:  # the later transaction aborts
                raise google_error(
                    400,
                    "invalidQuery",
                    f"Transaction is aborted due to concurrent update against table {table.replace('.', ':', 1)}.",
                )
            if locks.held.get(table, job.job_id) != job.job_id:  # a DML statement outside a transaction queues
                if locks.queued.get(table, 0) >= MAX_QUEUED_DML:
                    raise google_error(
                        400,
                        "resourcesExceeded",
                        "Resources exceeded during query execution: Too many DML statements outstanding against "
                        f"table {table.replace('.', ':', 1)}, limit is {MAX_QUEUED_DML}.",
                    )
                locks.queued[table] = locks.queued.get(table, 0) + 1
                try:
                    while locks.held.get(table, job.job_id) != job.job_id:
                        locks.changed.wait(1.0)
                finally:
                    locks.queued[table] -= 1
            locks.held[table] = job.job_id
            held.append(table)

    def _modified(self, tables: set[str]) -> None:
        """A commit's tables get its time as lastModifiedTime: BigQuery's resolution is the millisecond, so two
        commits in the same millisecond leave the same time (no reader may count on it moving then)."""
        now = int(time.time() * 1000)
        with self.lock:
            for table in tables:
                self.modified[table] = max(self.modified.get(table, 0), now)
        tables.clear()

    def _release(self, held: list[str]) -> None:
        with self._locks.changed:
            for table in held:
                self._locks.held.pop(table, None)
            held.clear()
            self._locks.changed.notify_all()

    def _run_statement(self, conn: Any, statement: str, job: Job) -> list[dict[str, Any]]:
        if (m := _CREATE.match(statement)) is not None:
            with self.lock:
                self.tables.setdefault(m.group(1), self._analyzer.columns(statement))
                self.modified.setdefault(m.group(1), int(time.time() * 1000))
        if (m := _ALTER.match(statement)) is not None:  # keep the schema tables.get reports in step
            table, verb, column, kind = m.groups()
            with self.lock:
                self.modified[table] = max(self.modified.get(table, 0), int(time.time() * 1000))
                kept = [c for c in self.tables[table] if c[0] != column]
                self.tables[table] = kept + ([(column, kind.upper())] if verb.upper() == "ADD" else [])
        cursor = self._cursor(conn, statement, job)
        if not cursor.description:
            return []
        columns = [c[0] for c in cursor.description]
        return [dict(zip(columns, r, strict=True)) for r in cursor.fetchall()]

    @staticmethod
    def _cursor(conn: Any, statement: str, job: Job) -> Any:
        """The statement in DuckDB's dialect, run with the job's parameters."""
        [expression] = sqlglot.parse(statement, read="bigquery")
        text = expression.sql(dialect="duckdb")
        names = list(dict.fromkeys(re.findall(r"\$(\w+)", text)))
        for name in names:
            if isinstance(job.specs[name], tuple):  # a struct array: give DuckDB its declared type
                text = re.sub(rf"\${name}\b", f"CAST(${name} AS {_duck_type(job.specs[name])})", text)
        return conn.execute(text, {n: job.params[n] for n in names} if names else None)

    def _select(self, conn: Any, job: Job) -> Iterator[dict[str, Any]]:
        """A one-SELECT job: run now, its rows fetched a page at a time as the client iterates (BigQuery keeps a
        query's results on its side; the client pages through them)."""
        try:
            needed = self._permission_for(job.statements[0])
            if needed:
                self._require(needed[0], f"Table {needed[1]}")
            cursor = self._cursor(conn, job.statements[0], job)
        except Exception:
            conn.close()
            raise
        return self._pages(conn, cursor)

    @staticmethod
    def _pages(conn: Any, cursor: Any) -> Iterator[dict[str, Any]]:
        try:
            if not cursor.description:
                return
            columns = [c[0] for c in cursor.description]
            while page := cursor.fetchmany(1000):
                yield from (dict(zip(columns, r, strict=True)) for r in page)
        finally:
            conn.close()

    # --- test helpers ---
    def wait_idle(self, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while self._locks.held and time.monotonic() < deadline:
            time.sleep(0.01)


class _DoneJob:
    """A job that finished at once: a dry run, or a query ZetaSQL refused."""

    job_id = "job_done"
    state = "DONE"

    def __init__(self, error: Exception | None = None) -> None:
        self._error = error
        self.error_result = {"reason": "invalidQuery", "message": str(error)} if error else None

    def result(self, timeout: float | None = None, **kwargs: Any) -> list[dict[str, Any]]:
        if self._error is not None:
            raise self._error
        return []

    def done(self, *args: Any, **kwargs: Any) -> bool:
        return True

    def cancel(self, *args: Any, **kwargs: Any) -> bool:
        return False

    def reload(self, *args: Any, **kwargs: Any) -> None:
        return None


def _request_bytes(sql: str, job_config: Any) -> int:
    """A jobs.insert request's size as the client sends it: the query and its parameters, as JSON."""
    config = job_config.to_api_repr() if job_config is not None else {}
    config.setdefault("query", {})["query"] = sql
    return len(json.dumps({"configuration": config}).encode("utf-8"))


def _dataset_id(dataset: Any) -> str:
    if isinstance(dataset, str):
        return dataset
    return f"{dataset.project}.{dataset.dataset_id}"
