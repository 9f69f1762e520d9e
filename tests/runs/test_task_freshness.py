"""Issue 26 in task runs: a nightly run (tasks stage, finalize applies) updates data_status, data_through,
last_success_at and expiry like a single validate does, on SQLite and on BigQuery (its GoogleSQL-analysing
double); a run that reads nothing keeps what is stored; the 7-day EXPIRY event is written once over two nightly
runs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from integrations import IntegrationService, Provider, Status
from integrations.bootstrap import build_validators
from integrations.domain import Action, DataStatus
from integrations.settings import Settings
from integrations.store.base import IntegrationStore
from integrations.store.bigquery import BigQueryStore
from integrations.store.sqlite import SqliteStore
from integrations.taskspec import TaskSpec

from tests.doubles.bigquery import PROJECT, DuckBigQuery
from tests.fakes import InMemoryCipher, InMemoryStatusCache
from tests.keys import admin_key


def _store(kind: str, tmp_path: Path) -> IntegrationStore:
    return SqliteStore(tmp_path / "store.db") if kind == "sqlite" else BigQueryStore(DuckBigQuery(), PROJECT)


def _svc(store: IntegrationStore) -> IntegrationService:
    store.init()
    conf = Settings(_env_file=None)
    return IntegrationService(
        store, InMemoryCipher(), InMemoryStatusCache(), build_validators(conf), attempts_per_minute=0, settings=conf
    )


def _night(svc: IntegrationService, run_id: str) -> None:
    for i in (0, 1):
        svc.revalidate_task(TaskSpec(run_id=run_id, index=i, count=2), actor="nightly")
    svc.finalize_run(run_id, actor="nightly")


@pytest.mark.parametrize("kind", ["sqlite", "bigquery"])
def test_a_nightly_run_records_freshness_and_expiry_like_a_validate(kind: str, tmp_path: Path) -> None:
    svc = _svc(_store(kind, tmp_path))
    svc.register_org("acme")
    svc.register_org("globex")
    svc.register_org("initech")
    # stored unchecked: no data status, no expiry until the nightly run reads them
    svc.setup("acme", "anthropic", admin_key("anthropic", "age30h"), skip_validation=True)
    svc.setup("globex", "openai", admin_key("openai", "age3h-exp6d"), skip_validation=True)
    svc.setup_keyless("initech", "initech-nodata.billing.gcp_billing_export_v1_01A2B3_C4D5E6_F7A8B9")
    assert svc.get_one("acme", "anthropic").data_status is None
    started = datetime.now(UTC)

    _night(svc, "night-1")
    stale = svc.get_one("acme", "anthropic")
    assert (stale.status, stale.data_status, stale.expiry) == (Status.VALID, DataStatus.STALE, "unknown")
    assert stale.data_through is not None and stale.last_success_at is not None and stale.last_success_at >= started
    fresh = svc.get_one("globex", "openai")
    assert (fresh.status, fresh.data_status) == (Status.VALID, DataStatus.FRESH)
    assert fresh.expires_at is not None
    assert timedelta(days=5) < fresh.expires_at - started < timedelta(days=6, minutes=5)
    assert fresh.expiry == f"expires {fresh.expires_at:%Y-%m-%d}" and fresh.last_used_at is not None
    pending = svc.get_one("initech", "gcp")
    assert (pending.status, pending.data_status, pending.data_through) == (
        Status.VALID,
        DataStatus.PENDING_FIRST_DATA,
        None,
    )
    assert pending.expiry == "never expires"

    _night(svc, "night-2")
    marks = [e for e in svc.store.events("globex") if e.action == Action.EXPIRY]
    assert len(marks) == 1 and "(7-day mark)" in marks[0].message and marks[0].error_code == "KEY_EXPIRING"
    assert svc.get_one("acme", "anthropic").last_success_at > stale.last_success_at  # each night reads again


@pytest.mark.parametrize("kind", ["sqlite", "bigquery"])
def test_a_run_that_reads_nothing_keeps_the_stored_freshness_and_expiry(kind: str, tmp_path: Path) -> None:
    svc = _svc(_store(kind, tmp_path))
    svc.register_org("acme")
    svc.setup("acme", "openai", admin_key("openai", "age3h-exp6d"))
    before = svc.get_one("acme", "openai")
    assert before.data_status == DataStatus.FRESH and before.expires_at is not None
    validator = svc.deps.validators[Provider.OPENAI]
    from integrations.verdict import failed

    limited = failed("RATE_LIMITED", "OpenAI is rate-limiting this key (429).", retryable=True)
    original = validator.check
    validator.check = lambda *a, **k: limited  # type: ignore[method-assign]
    try:
        _night(svc, "night-429")
    finally:
        validator.check = original  # type: ignore[method-assign]
    after = svc.get_one("acme", "openai")
    assert (after.status, after.data_status, after.data_through, after.last_success_at) == (
        Status.VALID,
        DataStatus.FRESH,
        before.data_through,
        before.last_success_at,
    )
    kept = (before.expiry, before.expires_at, before.last_used_at)
    assert (after.expiry, after.expires_at, after.last_used_at) == kept
