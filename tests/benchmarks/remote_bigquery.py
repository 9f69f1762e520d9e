"""The BigQuery double in a process of its own, for measuring a task's memory alone.

On Google Cloud a task's process holds the store and the BigQuery client; BigQuery's engine (and, here, the double's
DuckDB tables and its ZetaSQL analyzer, ~175 MiB of WASM) lives elsewhere. `serve()` runs the double in a
child process behind a `multiprocessing` manager; `RemoteBigQuery` is the client-side surface BigQueryStore uses
(`query` -> a job with `result`/`done`/`cancel`, `get_dataset`, `create_dataset`, `get_table`), paging a query's
rows across the process boundary a page at a time, as the real client pages through a job's results. This module
imports neither DuckDB nor the analyzer: the process that uses it stays the size of a real task."""

from __future__ import annotations

import itertools
import threading
import uuid
from collections.abc import Iterator
from multiprocessing.managers import BaseManager
from typing import Any

from google.api_core import exceptions as gexc

PAGE = 1000


class DoubleServer:
    """Server side: owns the double and its jobs; every answer is plain data (errors as (status, reason, message))."""

    def __init__(self, path: str, memory_limit: str | None) -> None:
        from tests.doubles.bigquery import DuckBigQuery

        self.double = DuckBigQuery(path=path, memory_limit=memory_limit)
        self.jobs: dict[str, Any] = {}
        self.rows: dict[str, Iterator[dict[str, Any]]] = {}
        self.lock = threading.Lock()

    @staticmethod
    def _failure(exc: Exception) -> tuple[int, str, str]:
        if isinstance(exc, gexc.GoogleAPICallError):
            reason = exc.errors[0].get("reason", "") if exc.errors else ""
            return int(exc.code or 500), reason, exc.message
        return 500, "backendError", f"{type(exc).__name__}: {exc}"

    def call(self, name: str, *args: Any) -> tuple[str, Any]:
        try:
            return "ok", getattr(self.double, name)(*args)
        except Exception as exc:
            return "error", self._failure(exc)

    def query(self, sql: str, job_config: Any, location: str | None) -> tuple[str, Any]:
        try:
            job = self.double.query(sql, job_config=job_config, location=location)
        except Exception as exc:
            return "error", self._failure(exc)
        job_id = uuid.uuid4().hex
        with self.lock:
            self.jobs[job_id] = job
        return "ok", job_id

    def wait(self, job_id: str, timeout: float | None) -> tuple[str, Any]:
        job = self.jobs[job_id]
        try:
            self.rows[job_id] = iter(job.result(timeout=timeout))
        except TimeoutError:
            return "timeout", None
        except Exception as exc:
            self.jobs.pop(job_id, None)
            return "error", self._failure(exc)
        return "ok", None

    def page(self, job_id: str, size: int) -> list[dict[str, Any]]:
        rows = list(itertools.islice(self.rows[job_id], size))
        if len(rows) < size:
            self.rows.pop(job_id, None)
            self.jobs.pop(job_id, None)
        return rows

    def state(self, job_id: str) -> tuple[bool, str, Any]:
        job = self.jobs.get(job_id)
        return (True, "DONE", None) if job is None else (job.done(), job.state, job.error_result)

    def cancel(self, job_id: str) -> bool:
        job = self.jobs.get(job_id)
        return bool(job and job.cancel())

    def counts(self) -> dict[str, int]:
        return {"jobs": self.double.jobs}


class _Manager(BaseManager):
    pass


_Manager.register("DoubleServer", DoubleServer)


def _raise(failure: tuple[int, str, str]) -> None:
    status, reason, message = failure
    raise gexc.from_http_status(status, message, errors=[{"reason": reason, "message": message}])


class RemoteJob:
    def __init__(self, server: Any, job_id: str) -> None:
        self.server, self.job_id = server, job_id

    @property
    def state(self) -> str:
        return self.server.state(self.job_id)[1]

    @property
    def error_result(self) -> Any:
        return self.server.state(self.job_id)[2]

    def done(self, *args: Any, **kwargs: Any) -> bool:
        return bool(self.server.state(self.job_id)[0])

    def reload(self, *args: Any, **kwargs: Any) -> None:
        return None

    def cancel(self, *args: Any, **kwargs: Any) -> bool:
        return bool(self.server.cancel(self.job_id))

    def result(self, timeout: float | None = None, page_size: int | None = None, **kwargs: Any) -> Iterator[Any]:
        outcome, failure = self.server.wait(self.job_id, timeout)
        if outcome == "timeout":
            raise TimeoutError(f"Job {self.job_id} did not finish within {timeout} s")
        if outcome == "error":
            _raise(failure)
        return self._pages(page_size or PAGE)

    def _pages(self, size: int) -> Iterator[dict[str, Any]]:
        while True:
            rows = self.server.page(self.job_id, size)
            yield from rows
            if len(rows) < size:
                return


class RemoteBigQuery:
    """The client surface BigQueryStore uses, forwarded to the double's process."""

    def __init__(self, server: Any, project: str) -> None:
        self.server, self.project = server, project

    def _call(self, name: str, *args: Any) -> Any:
        outcome, value = self.server.call(name, *args)
        if outcome == "error":
            _raise(value)
        return value

    def query(self, sql: str, job_config: Any = None, location: str | None = None, **kwargs: Any) -> RemoteJob:
        outcome, value = self.server.query(sql, job_config, location)  # retry objects stay on this side
        if outcome == "error":
            _raise(value)
        return RemoteJob(self.server, value)

    def get_dataset(self, ref: Any, *args: Any, **kwargs: Any) -> Any:
        return self._call("get_dataset", ref)

    def create_dataset(self, dataset: Any, exists_ok: bool = False, *args: Any, **kwargs: Any) -> Any:
        return self._call("create_dataset", dataset, exists_ok)

    def get_table(self, ref: Any, *args: Any, **kwargs: Any) -> Any:
        return self._call("get_table", ref)

    @property
    def jobs(self) -> int:
        return int(self.server.counts()["jobs"])


def serve(path: str, memory_limit: str | None, project: str) -> tuple[BaseManager, RemoteBigQuery]:
    """Start the double's process (`project` is the double's PROJECT); the manager's shutdown() stops it."""
    manager = _Manager()
    manager.start()
    server = manager.DoubleServer(path, memory_limit)  # type: ignore[attr-defined]
    return manager, RemoteBigQuery(server, project)
