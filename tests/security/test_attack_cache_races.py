"""Issue 28, N5: the status cache never takes a check's status over a newer state (a delete or a rotation that
synced meanwhile), and drift that /readyz sees is repaired within a bounded time."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from integrations import IntegrationService, Provider, Status, connect
from integrations.api import create_app
from integrations.settings import Settings
from integrations.taskspec import TaskSpec
from integrations.usecases import health

from tests.keys import openai_key
from tests.security.conftest import record

ORGS = ["acme-1", "acme-2", "acme-3"]


def _service(tmp_path: Path) -> IntegrationService:
    svc = connect(Settings(_env_file=None, data_dir=tmp_path / "data", attempts_per_minute=0))
    for org in ORGS:
        svc.register_org(org)
        svc.setup(org, "openai", openai_key(), skip_validation=True)  # PENDING: the run makes them VALID
    return svc


def delete_before_the_runs_cache_write(svc: IntegrationService) -> list[str]:
    """Every integration is deleted (store and cache) just before finalize's status-cache write lands, as a
    delete in another process would be: the run's write must not bring them back."""
    cache, deleted = svc.cache, []
    originals = {name: getattr(cache, name) for name in ("set_many", "set_checked") if hasattr(cache, name)}

    def racing(name: str) -> Any:
        def write(updates: list[Any]) -> None:
            if not deleted and len(updates) == len(ORGS):  # the run's batch
                for org in ORGS:
                    deleted.append(org)
                    svc.delete(org, "openai")
            originals[name](updates)

        return write

    for name in originals:
        setattr(cache, name, racing(name))
    return deleted


def test_integrations_deleted_during_a_finalize_do_not_stay_valid_in_the_cache(tmp_path: Path) -> None:
    svc = _service(tmp_path)
    svc.revalidate_task(TaskSpec(run_id="night-5", index=0, count=1))
    deleted = delete_before_the_runs_cache_write(svc)
    svc.finalize_run("night-5")
    assert deleted == ORGS
    cached = {org: svc.cache.get_org(org).status_of(Provider.OPENAI).status for org in ORGS}
    stale = sum(s != Status.NOT_CONFIGURED for s in cached.values())
    record("N5 deleted integrations left VALID in the cache by a finalize", stale)
    assert stale == 0, cached
    assert int(svc.overview()["drift"].sum()) == 0


def test_a_checks_cache_write_never_lands_on_a_rotated_credential(tmp_path: Path) -> None:
    svc = _service(tmp_path)
    old = svc.store.get_active(ORGS[0], Provider.OPENAI)
    svc.setup(ORGS[0], "openai", openai_key(), skip_validation=True)  # rotated: the cache shows the new key
    svc.cache.set_checked([(ORGS[0], Provider.OPENAI, Status.INVALID, old.created_at)])  # the old key's late check
    row = svc.cache.get_org(ORGS[0]).status_of(Provider.OPENAI)
    assert (
        row.status == Status.PENDING and row.configured_at == svc.store.get_active(ORGS[0], Provider.OPENAI).created_at
    )


def test_drift_seen_by_readyz_is_repaired_within_a_bounded_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(health, "DRIFT_GRACE_S", 0.0, raising=False)  # the bound's grace, shortened for the test
    svc = _service(tmp_path)
    svc.simulate_drift(ORGS[1], Provider.OPENAI, Status.VALID)  # a sync that raced, as another process leaves it
    assert int(svc.overview()["drift"].sum()) == 1
    answer = TestClient(create_app(svc)).get("/readyz").json()
    left = int(svc.overview()["drift"].sum())
    record("N5 drift left after a /readyz probe past the grace", left)
    assert left == 0 and answer["drift"] == 0 and answer["drift_repaired"] == 1
    assert svc.cache.get_org(ORGS[1]).status_of(Provider.OPENAI).status == Status.PENDING
    assert [e.actor for e in svc.store.events() if e.action.value == "RECONCILE"] == ["readyz"]
