"""Work that outlives the request that started it: a small registry of background threads.

The console starts a check or a bulk re-validation here so that it finishes, and is recorded, even when the
operator leaves the page; any page reads its state, progress and result later by id. Jobs of an exclusive kind
(bulk runs) run one at a time. A job keeps only its outcome: the work (and any secret it closes over) is
dropped when it ends."""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .domain import utcnow
from .errors import Code, IntegrationError

log = logging.getLogger("integrations")
RUNNING, DONE, FAILED = "running", "done", "failed"


@dataclass(eq=False)
class Job:
    """One piece of background work: its state, progress, steps and outcome."""

    id: str
    kind: str
    label: str
    owner: str = ""
    state: str = RUNNING
    done: int = 0
    total: int = 0
    steps: list[str] = field(default_factory=list)
    result: Any = None
    error: IntegrationError | None = None
    started_at: datetime = field(default_factory=utcnow)
    finished_at: datetime | None = None
    meta: dict[str, Any] = field(default_factory=dict)  # what a page needs to find the job's work (e.g. its run id)

    @property
    def running(self) -> bool:
        return self.state == RUNNING

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 0.0

    def progress(self, done: int, total: int) -> None:
        """A progress callback for the library's long operations."""
        self.done, self.total = done, total

    def step(self, name: str) -> None:
        """A step callback (e.g. setup's `on_step`)."""
        self.steps.append(name)


class JobRunner:
    """Starts jobs on daemon threads and keeps the last `keep` of them."""

    def __init__(self, keep: int = 200) -> None:
        self.keep = keep
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()

    def start(
        self,
        kind: str,
        label: str,
        work: Callable[[Job], Any],
        *,
        owner: str = "",
        exclusive: bool = False,
        meta: dict[str, Any] | None = None,
    ) -> Job:
        """Run `work(job)` on a thread; JOB_ALREADY_RUNNING if `exclusive` and a job of this kind runs."""
        with self._lock:
            if exclusive and (busy := self._running(kind)) is not None:
                raise IntegrationError(
                    Code.JOB_ALREADY_RUNNING, f"{busy.label} is running ({busy.done}/{busy.total}); one runs at a time."
                )
            job = Job(id=f"job_{secrets.token_hex(8)}", kind=kind, label=label, owner=owner, meta=dict(meta or {}))
            self._jobs[job.id] = job
            for old in list(self._jobs.values())[: max(0, len(self._jobs) - self.keep)]:
                if not old.running:
                    del self._jobs[old.id]
        threading.Thread(target=self._run, args=(job, work), name=job.id, daemon=True).start()
        return job

    def _run(self, job: Job, work: Callable[[Job], Any]) -> None:
        result, error = None, None
        try:
            result = work(job)
        except IntegrationError as exc:
            error = exc
        except Exception as exc:  # a job must always end in a state a page can show
            log.error("job %s (%s) failed: %s", job.id, job.kind, type(exc).__name__)
            error = IntegrationError(Code.JOB_FAILED, f"{job.label} failed: {type(exc).__name__}.")
        del work
        job.result, job.error, job.finished_at = result, error, utcnow()
        job.state = DONE if error is None else FAILED  # last: a reader that sees the state sees the outcome

    def get(self, job_id: str | None) -> Job | None:
        return self._jobs.get(job_id or "")

    def running(self, kind: str) -> Job | None:
        """The running job of this kind, if any."""
        with self._lock:
            return self._running(kind)

    def latest(self, kind: str) -> Job | None:
        """The most recently started job of this kind."""
        with self._lock:
            jobs = [j for j in self._jobs.values() if j.kind == kind]
        return jobs[-1] if jobs else None

    def _running(self, kind: str) -> Job | None:
        return next((j for j in self._jobs.values() if j.kind == kind and j.running), None)
