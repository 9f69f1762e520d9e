"""Bulk re-validation shared by several processes: same results as one process, every credential checked once,
the run's limits divided between the shards, and a 429 pausing the provider in every shard."""

from __future__ import annotations

import multiprocessing
import threading
import time

import pytest
from integrations import IntegrationError, IntegrationService
from integrations.gates import ProviderGate
from integrations.shards import SHARD_MIN, shard_count, share

from tests.conftest import fake_service
from tests.keys import anthropic_key, openai_key, service_account_json


def populate(svc: IntegrationService, orgs: int) -> None:
    for i in range(orgs):
        slug = f"org-{i:03d}"
        svc.register_org(slug)
        svc.setup(slug, "openai", openai_key("revoked" if i % 5 == 0 else ""), skip_validation=True)
        svc.setup(slug, "anthropic", anthropic_key(), skip_validation=True)
    svc.setup(
        "org-000", "gcp", service_account_json("sa@proj-1.iam.gserviceaccount.com", "proj-1"), skip_validation=True
    )


def test_two_processes_check_every_credential_once_and_record_it(local_svc: IntegrationService) -> None:
    populate(local_svc, 20)
    ticks: list[tuple[int, int]] = []
    report = local_svc.revalidate_many(concurrency=4, workers=2, progress=lambda d, t: ticks.append((d, t)))
    assert report.workers == 2 and report.total == 41
    assert report.outcomes == {"VALID": 37, "INVALID": 4} and report.errors == {"INVALID_CREDENTIAL": 4}
    assert len(report.changed) == 41, "every credential left its unchecked status"
    validations = local_svc.events().query("action == 'VALIDATE'")
    assert len(validations) == 41 and validations.credential_id.is_unique
    frame = local_svc.overview()
    assert not frame.drift.any(), "each shard wrote the store and the status cache"
    assert ticks[-1] == (41, 41)


def test_a_threaded_caller_gets_processes_from_a_forkserver(local_svc: IntegrationService) -> None:
    """The console and the API server are multi-threaded: forking them is unsafe, so a forkserver is used."""
    populate(local_svc, 3)
    keep_alive = threading.Event()
    other = threading.Thread(target=keep_alive.wait)
    other.start()
    try:
        report = local_svc.revalidate_many(concurrency=2, workers=2)
    finally:
        keep_alive.set()
        other.join()
    assert report.workers == 2 and report.total == 7 and sum(report.outcomes.values()) == 7


def test_how_many_processes() -> None:
    svc = fake_service()
    assert shard_count(None, 50_000, 16, svc.settings) == 1, "a service built by hand cannot be rebuilt elsewhere"
    from integrations.settings import Settings

    settings = Settings(_env_file=None)
    assert shard_count(None, SHARD_MIN - 1, 16, settings) == 1
    assert shard_count(None, SHARD_MIN, 16, settings) == (multiprocessing.cpu_count() or 1)
    assert shard_count(8, 10_000, 3, settings) == 3, "never more processes than checks in flight per provider"
    assert shard_count(2, 1, 16, settings) == 1
    assert shard_count(None, 10, 16, Settings(_env_file=None, bulk_workers=3)) == 3
    assert [share(10, 3, i) for i in range(3)] == [4, 3, 3] and [share(2, 2, i) for i in range(2)] == [1, 1]


def test_a_429_in_one_shard_pauses_the_provider_in_the_others() -> None:
    """Gates of different shards share one back-off clock (a multiprocessing RawValue)."""
    clock = multiprocessing.get_context("fork").RawValue("d", 0.0)
    here, there = ProviderGate(pause=clock), ProviderGate(pause=clock)
    free = ProviderGate()
    here.back_off(0.2)
    started = time.monotonic()
    free.wait_turn()
    assert time.monotonic() - started < 0.05, "another provider's gate is not paused"
    there.wait_turn()
    assert time.monotonic() - started >= 0.2 and there.waited_s >= 0.15


def test_a_shard_that_dies_is_a_catalog_error_and_leaves_whole_records(
    local_svc: IntegrationService, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    import integrations.shards as shards

    populate(local_svc, 4)
    monkeypatch.setattr(shards.threading, "active_count", lambda: 1)  # the fork path: children inherit this patch
    monkeypatch.setattr(IntegrationService, "revalidate_records", lambda *a, **k: os._exit(9))  # dies in the shard
    with pytest.raises(IntegrationError) as err:
        local_svc.revalidate_many(concurrency=2, workers=2)
    assert err.value.code == "WORKER_FAILED" and err.value.retryable
    monkeypatch.undo()
    assert local_svc.revalidate_many(concurrency=2, workers=1).total == 9, "nothing half-written blocks a re-run"
