"""Background jobs: they outlive their caller, report progress and outcome, and bulk runs go one at a time."""

from __future__ import annotations

import threading
import time

import pytest
from integrations import IntegrationError, IntegrationService
from integrations.jobs import Job, JobRunner

from tests.conftest import ORG
from tests.keys import CANARY, openai_key


def finish(job: Job, timeout: float = 30) -> Job:
    deadline = time.monotonic() + timeout
    while job.running and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not job.running, "the job did not end"
    return job


def test_a_setup_job_records_its_steps_and_result(svc: IntegrationService) -> None:
    runner = JobRunner()
    job = runner.start("setup", "Setting up", lambda j: svc.setup(ORG, "openai", CANARY, on_step=j.step))
    finish(job)
    assert job.state == "done" and job.error is None and job.finished_at is not None
    assert job.steps == ["format", "validate", "encrypt", "store", "sync"]
    assert job.result.credential_id == svc.get_one(ORG, "openai").credential_id
    assert CANARY not in repr(job) and CANARY not in repr(vars(job))  # the work (and its secret) is gone


def test_a_catalog_error_is_the_jobs_error(svc: IntegrationService) -> None:
    job = finish(JobRunner().start("setup", "Setting up", lambda j: svc.setup(ORG, "openai", openai_key("revoked"))))
    assert job.state == "failed" and job.error is not None and job.error.code == "INVALID_CREDENTIAL"


def test_an_unexpected_exception_becomes_job_failed() -> None:
    def boom(job: Job) -> None:
        raise ZeroDivisionError("secret detail")

    job = finish(JobRunner().start("x", "Exploding", boom))
    assert job.error is not None and job.error.code == "JOB_FAILED" and "secret detail" not in job.error.message


def test_bulk_progress_and_one_exclusive_run_at_a_time(svc: IntegrationService) -> None:
    for i in range(3):
        svc.register_org(f"org-{i}")
        svc.setup(f"org-{i}", "openai", openai_key(), skip_validation=True)
    runner, gate = JobRunner(), threading.Event()

    def bulk(job: Job) -> object:
        gate.wait(30)  # holds the run open while the test tries to start another
        return svc.revalidate_many(progress=job.progress)

    first = runner.start("bulk", "Re-validating", bulk, exclusive=True)
    with pytest.raises(IntegrationError) as err:
        runner.start("bulk", "Again", bulk, exclusive=True)
    assert err.value.code == "JOB_ALREADY_RUNNING" and err.value.retryable
    assert runner.running("bulk") is first and runner.latest("bulk") is first
    runner.start("setup", "Other kinds still run", lambda j: None)
    gate.set()
    finish(first)
    assert (first.done, first.total, first.fraction) == (3, 3, 1.0) and first.result.checked == 3
    assert runner.running("bulk") is None
    second = finish(runner.start("bulk", "Again", bulk, exclusive=True))
    assert second.state == "done" and runner.get(second.id) is second


def test_old_finished_jobs_are_forgotten() -> None:
    runner = JobRunner(keep=3)
    jobs = [finish(runner.start("x", str(i), lambda j, i=i: i)) for i in range(6)]
    assert runner.get(jobs[0].id) is None and runner.get(jobs[-1].id) is jobs[-1]
