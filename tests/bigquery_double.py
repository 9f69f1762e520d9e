"""A double of the small BigQuery client surface the store uses: its BigQuery SQL, with the real
ScalarQueryParameter objects, is transpiled by sqlglot (bigquery -> duckdb) and run on DuckDB."""

from __future__ import annotations

import contextlib
import logging
import re
import threading
from typing import Any

import duckdb
import sqlglot

PROJECT = "test-project"
logging.getLogger("sqlglot").setLevel(logging.ERROR)  # PARTITION/CLUSTER have no DuckDB form


class Job:
    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self.rows = rows

    def result(self, timeout: float | None = None) -> list[dict[str, Any]]:
        return self.rows


class DuckBigQuery:
    """`query(sql, job_config)` and `create_dataset(dataset, exists_ok)`, nothing else."""

    def __init__(self) -> None:
        self.db = duckdb.connect()
        self.lock = threading.Lock()
        self.statements: list[str] = []
        self.faults: list[Exception] = []
        self.parameter_types: set[str] = set()
        self.jobs = 0  # query jobs started, for tests and make bench

    def create_dataset(self, dataset: Any, exists_ok: bool = False, timeout: float | None = None) -> Any:
        with self.lock:
            catalogs = {r[0] for r in self.db.execute("SELECT database_name FROM duckdb_databases()").fetchall()}
            if dataset.project not in catalogs:
                self.db.execute(f"ATTACH ':memory:' AS \"{dataset.project}\"")
            self.db.execute(f'CREATE SCHEMA IF NOT EXISTS "{dataset.project}"."{dataset.dataset_id}"')
        return dataset

    def query(self, sql: str, job_config: Any = None, timeout: float | None = None) -> Job:
        self.jobs += 1
        if self.faults:
            raise self.faults.pop(0)
        params = {}
        for p in getattr(job_config, "query_parameters", None) or []:
            params[p.name] = p.value
            self.parameter_types.add(p.type_)
        self.statements.append(sql)
        rows: list[dict[str, Any]] = []
        with self.lock:
            try:
                for expression in sqlglot.parse(sql, read="bigquery"):
                    statement = expression.sql(dialect="duckdb")
                    names = dict.fromkeys(re.findall(r"\$(\w+)", statement))
                    cursor = self.db.execute(statement, {n: params[n] for n in names} if names else None)
                    if cursor.description:
                        columns = [c[0] for c in cursor.description]
                        rows = [dict(zip(columns, r, strict=True)) for r in cursor.fetchall()]
            except Exception:
                with contextlib.suppress(duckdb.Error):  # no transaction open
                    self.db.execute("ROLLBACK")
                raise
        return Job(rows)
