"""A process killed between the store write and the status sync; 50 concurrent setups of one integration;
the store or cache unreachable."""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from integrations import IntegrationError, Provider, Status, connect
from integrations.domain import Action
from integrations.settings import Settings
from integrations.status_cache.supabase import SupabaseStatusCache
from pydantic import SecretStr

from tests.fakes import swap
from tests.keys import OPENAI_OK, openai_key
from tests.security.conftest import record
from tests.servers import refused_url

ORG = "acmecorp"


def settings(data_dir: Path) -> Settings:
    return Settings(_env_file=None, data_dir=data_dir, attempts_per_minute=0)


def test_sigkill_between_store_write_and_sync_is_healed_by_reconcile(tmp_path: Path) -> None:
    svc = connect(settings(tmp_path))
    svc.register_org(ORG)
    script = textwrap.dedent(f"""
        import os, signal
        from integrations import connect
        from integrations.settings import Settings
        svc = connect(Settings(_env_file=None, data_dir={str(tmp_path)!r}, attempts_per_minute=0))
        def die(*args, **kwargs):
            os.kill(os.getpid(), signal.SIGKILL)   # the store write has committed; the sync never happens
        svc.cache.set_many = die
        svc.setup("{ORG}", "openai", {OPENAI_OK!r})
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=60, check=False)
    assert done.returncode == -9
    record("processes killed mid-operation")
    assert svc.get_one(ORG, "openai").status == Status.VALID  # the record is whole
    assert svc.cache.get_org(ORG).status_of(Provider.OPENAI).status == Status.NOT_CONFIGURED  # the cache lags
    report = svc.reconcile()
    assert [(d.provider, d.recorded_status) for d in report.drifts] == [(Provider.OPENAI, Status.VALID)]
    assert not svc.overview()["drift"].any()


def _setup_once(data_dir: str) -> str:
    svc = connect(settings(Path(data_dir)))
    try:
        return svc.setup(ORG, "openai", openai_key()).credential_id or ""
    except IntegrationError as exc:
        return f"error:{exc.code}"


def _check_one_active(data_dir: Path, results: list[str]) -> None:
    svc = connect(settings(data_dir))
    rows = svc.store.list_credentials(ORG, active_only=False)
    active = [r for r in rows if r.is_active]
    succeeded = [r for r in results if not r.startswith("error:")]
    failures = [r for r in results if r.startswith("error:")]
    assert len(active) == 1 and active[0].credential_id in succeeded
    assert all(r.encrypted_credential is None for r in rows if not r.is_active)
    assert {r.credential_id for r in rows} == set(succeeded), "a failed call left a row behind"
    assert all(f in ("error:STORAGE_FAILED",) for f in failures), failures
    setups = [e for e in svc.store.events(ORG) if e.action.value == "SETUP" and e.outcome.value == "SUCCESS"]
    assert len(setups) == len(succeeded)
    assert svc.cache.get_org(ORG).status_of(Provider.OPENAI).status == Status.VALID
    record("concurrent setups", len(results))
    record("concurrent setups that failed cleanly", len(failures))
    record("active rows after concurrent setups (expect 1 per run)", len(active))


def test_fifty_threads_set_up_one_integration(tmp_path: Path) -> None:
    connect(settings(tmp_path)).register_org(ORG)
    with ThreadPoolExecutor(max_workers=50) as pool:
        results = list(pool.map(_setup_once, [str(tmp_path)] * 50))
    _check_one_active(tmp_path, results)


def test_fifty_setups_from_separate_processes(tmp_path: Path) -> None:
    connect(settings(tmp_path)).register_org(ORG)
    with multiprocessing.get_context("spawn").Pool(8) as pool:
        results = pool.map(_setup_once, [str(tmp_path)] * 50)
    _check_one_active(tmp_path, results)


def test_locked_store_is_a_clear_error_with_no_partial_row(tmp_path: Path) -> None:
    import sqlite3

    svc = connect(settings(tmp_path))
    svc.register_org(ORG)
    svc.store._local.conn = None
    locker = sqlite3.connect(tmp_path / "warehouse.sqlite", timeout=0)
    locker.execute("BEGIN EXCLUSIVE")
    try:
        svc.store._conn().execute("PRAGMA busy_timeout = 200")  # do not wait the default 30 s in a test
        with pytest.raises(IntegrationError) as err:
            svc.setup(ORG, "openai", OPENAI_OK, skip_validation=True)
        assert err.value.code == "STORAGE_FAILED" and err.value.retryable and "locked" in err.value.message
    finally:
        locker.rollback()
        locker.close()
    assert svc.store.list_credentials(ORG, active_only=False) == []
    assert svc.cache.get_org(ORG).status_of(Provider.OPENAI).status == Status.NOT_CONFIGURED
    record("unreachable-backend scenarios")


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores file permissions")
def test_unwritable_store_is_a_clear_error(tmp_path: Path) -> None:  # pragma: no cover - CI runs as root
    svc = connect(settings(tmp_path))
    svc.register_org(ORG)
    (tmp_path / "warehouse.sqlite").chmod(0o400)
    with pytest.raises(IntegrationError) as err:
        svc.setup(ORG, "openai", OPENAI_OK, skip_validation=True)
    assert err.value.code == "STORAGE_FAILED"


def test_store_path_unusable_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "warehouse.sqlite").mkdir()  # a directory where the database should be
    with pytest.raises(IntegrationError) as err:
        connect(settings(tmp_path))
    assert err.value.code == "STORAGE_FAILED" and "warehouse.sqlite" in err.value.message
    record("unreachable-backend scenarios")


def test_cache_server_down_keeps_the_record_and_warns(tmp_path: Path) -> None:
    svc = connect(settings(tmp_path))
    svc.register_org(ORG)
    swap(svc, cache=SupabaseStatusCache(refused_url(), SecretStr("k"), timeout=1))
    result = svc.setup(ORG, "openai", OPENAI_OK)  # the org is known from the store; the cache only lags
    assert result.success and result.warnings[0].startswith("STATUS_SYNC_FAILED")
    assert [r.validation_status for r in svc.store.list_credentials(ORG)] == [Status.VALID]
    assert svc.get_all(ORG).warnings[0].startswith("STATUS_CACHE_READ_FAILED")
    assert [e.action for e in svc.store.events(ORG)][:2] == [Action.SYNC, Action.SETUP], "the failed sync is an event"
    record("unreachable-backend scenarios")
