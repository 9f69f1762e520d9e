"""Issue 28, N4 and N12: a check's result is applied only to the credential as the check read it.

N4: a task run's staged result, finalized after a newer single check, must not set the credential back (store,
cache, last_validated_at) nor post the stale flip; the same for a bulk run's batch writes. N12: a check in flight
while its credential is deleted or rotated is neither applied nor alerted, and is answered as superseded.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from integrations import IntegrationError, IntegrationService, Provider, Status, connect
from integrations.bootstrap import build_validators
from integrations.domain import Action, CheckResult
from integrations.providers.base import ParsedCredential
from integrations.settings import Settings
from integrations.store.bigquery import BigQueryStore
from integrations.taskspec import TaskSpec
from integrations.usecases import alerting
from integrations.verdict import failed

from tests.doubles.bigquery import PROJECT, DuckBigQuery
from tests.fakes import InMemoryCipher, InMemoryStatusCache
from tests.keys import OPENAI_OK, openai_key
from tests.security.conftest import record
from tests.servers import Reply, Seen, serve

ORG = "acmecorp"
REJECTED = failed("INVALID_CREDENTIAL", "The provider rejected the key (revoked since).", retryable=False)


def _local(tmp_path: Path, webhook: str | None = None) -> IntegrationService:
    settings = Settings(
        _env_file=None,
        data_dir=tmp_path / "data",
        attempts_per_minute=0,
        alert_webhook_url=f"{webhook}/hooks/SECRET" if webhook else None,
        allow_http_endpoints=True,
    )
    svc = connect(settings)
    svc.register_org(ORG)
    return svc


def _bigquery() -> IntegrationService:
    store = BigQueryStore(DuckBigQuery(), PROJECT)
    store.init()
    svc = IntegrationService(
        store,
        InMemoryCipher(),
        InMemoryStatusCache(),
        build_validators(Settings(_env_file=None)),
        attempts_per_minute=0,
    )
    svc.register_org(ORG)
    return svc


def reject_from_now(svc: IntegrationService) -> None:
    """The provider rejects the key from now on (it was revoked at the provider)."""
    svc.validators[Provider.OPENAI].check = lambda *_: REJECTED  # type: ignore[method-assign]


@contextmanager
def first_check_held(svc: IntegrationService) -> Iterator[tuple[threading.Event, threading.Event]]:
    """The first OpenAI check passes but waits until released (a check in flight); later checks are rejected."""
    validator, started, release = svc.validators[Provider.OPENAI], threading.Event(), threading.Event()
    check, calls = validator.check, []

    def held(credential: ParsedCredential, metadata: dict[str, Any] | None = None) -> CheckResult:
        calls.append(1)
        if len(calls) > 1:
            return REJECTED
        started.set()
        assert release.wait(60)
        return check(credential, metadata)

    validator.check = held  # type: ignore[method-assign]
    try:
        yield started, release
    finally:
        release.set()


def posted(seen: list[Seen]) -> list[dict[str, Any]]:
    alerting.settle(30)  # single re-validations deliver off the request path
    return [json.loads(s.body) for s in seen]


@pytest.mark.parametrize("backend", ["sqlite", "bigquery"])
def test_finalize_does_not_set_back_a_key_a_newer_single_check_found_invalid(tmp_path: Path, backend: str) -> None:
    with serve(lambda _: Reply(200, "ok")) as (url, seen):
        svc = _local(tmp_path, url) if backend == "sqlite" else _bigquery()
        svc.setup(ORG, "openai", OPENAI_OK, skip_validation=True)  # PENDING
        svc.revalidate_task(TaskSpec(run_id="night-1", index=0, count=1), actor="nightly")  # staged: -> VALID
        reject_from_now(svc)
        assert svc.validate(ORG, "openai").validation_status == Status.INVALID  # the newer check
        newer = svc.get_one(ORG, "openai")
        before_finalize = len(posted(seen))

        run = svc.finalize_run("night-1", actor="nightly")

        now = svc.get_one(ORG, "openai")
        stale = now.status != Status.INVALID or now.last_validated_at != newer.last_validated_at
        record("N4 stale staged results applied over a newer check", int(stale))
        assert now.status == Status.INVALID and now.last_validated_at == newer.last_validated_at
        assert svc.cache.get_org(ORG).status_of(Provider.OPENAI).status == Status.INVALID  # the cache too
        assert run.applied == 0 and run.changes == [] and run.superseded == [now.credential_id]
        assert run.alert is None and len(posted(seen)) == before_finalize, "no alert for a result not applied"
        [event] = [e for e in svc.store.events() if e.run_id == "night-1"]
        assert event.status_after == event.status_before == Status.PENDING, "the run's history shows no stale flip"
        assert (event.message or "").startswith("Superseded")


def test_a_bulk_runs_batch_write_does_not_overwrite_a_newer_check(tmp_path: Path) -> None:
    svc = _local(tmp_path)
    svc.setup(ORG, "openai", openai_key(), skip_validation=True)  # PENDING
    with first_check_held(svc) as (started, release), ThreadPoolExecutor(1) as pool:
        run = pool.submit(svc.revalidate_many, actor="bulk")
        assert started.wait(30)
        assert svc.validate(ORG, "openai").validation_status == Status.INVALID  # while the bulk check is in flight
        release.set()
        report = run.result()
    record("N4 stale bulk results applied over a newer check", int(svc.get_one(ORG, "openai").status != Status.INVALID))
    assert svc.get_one(ORG, "openai").status == Status.INVALID
    assert report.changed == 0 and report.superseded == [svc.get_one(ORG, "openai").credential_id]


@pytest.mark.parametrize("change", ["delete", "rotate"])
def test_a_check_in_flight_during_a_delete_or_rotation_is_answered_superseded_and_not_alerted(
    tmp_path: Path, change: str
) -> None:
    with serve(lambda _: Reply(200, "ok")) as (url, seen):
        svc = _local(tmp_path, url)
        svc.setup(ORG, "openai", openai_key(), skip_validation=True)  # PENDING: a VALID answer would be a flip
        old = svc.get_one(ORG, "openai").credential_id
        with first_check_held(svc) as (started, release), ThreadPoolExecutor(1) as pool:
            validating = pool.submit(svc.validate, ORG, "openai")
            assert started.wait(30)
            if change == "delete":
                svc.delete(ORG, "openai")
            else:
                svc.setup(ORG, "openai", openai_key(), skip_validation=True)
            release.set()
            with pytest.raises(IntegrationError) as err:
                validating.result()
        assert err.value.code == "CHECK_SUPERSEDED" and err.value.http_status == 409
        alerted = [f for body in posted(seen) for f in body["flips"] if f["credential_id"] == old]
        record("N12 alerts for a superseded check", len(alerted))
        assert alerted == []
        mine = [e for e in svc.store.events() if e.credential_id == old and e.action == Action.VALIDATE]
        assert [(e.status_before, e.status_after) for e in mine] == [(Status.PENDING, Status.PENDING)]
        assert svc.run_changes().empty, "no flip of a credential that no longer exists"
