"""Issue 15, Medium 5: the status cache must not contradict the store after racing writers or a kill -9."""

from __future__ import annotations

import random
import subprocess
import sys
import textwrap
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from integrations import IntegrationError, IntegrationService, Provider, connect
from integrations.api import create_app
from integrations.providers.base import ParsedCredential
from integrations.settings import Settings

from tests.keys import OPENAI_OK, openai_key
from tests.security.attacks import replayed
from tests.security.conftest import record

ORG = "acmecorp"


def settings(data_dir: Path) -> Settings:
    return Settings(_env_file=None, data_dir=data_dir, attempts_per_minute=0)


def drift(svc: IntegrationService) -> int:
    found = int(svc.overview()["drift"].sum())
    record("drift after the race scenarios", found)
    return found


def hold_checks(svc: IntegrationService) -> tuple[threading.Event, threading.Event]:
    """OpenAI checks wait, once started, until released: a validation in flight."""
    validator, started, release = svc.validators[Provider.OPENAI], threading.Event(), threading.Event()
    check = validator.check

    def held(credential: ParsedCredential, metadata: dict[str, Any] | None = None) -> Any:
        started.set()
        assert release.wait(60)
        return check(credential, metadata)

    validator.check = held  # type: ignore[method-assign]
    return started, release


def test_a_validation_in_flight_during_a_delete_leaves_no_drift(tmp_path: Path) -> None:
    svc = connect(settings(tmp_path))
    svc.register_org(ORG)
    svc.setup(ORG, "openai", OPENAI_OK)
    started, release = hold_checks(svc)
    replayed()
    with ThreadPoolExecutor(1) as pool:
        validating = pool.submit(svc.validate, ORG, "openai")
        assert started.wait(30)
        svc.delete(ORG, "openai")
        release.set()
        with pytest.raises(IntegrationError) as err:  # the check passed; its result must not resurrect the row
            validating.result()
        assert err.value.code == "CHECK_SUPERSEDED"
    assert svc.get_one(ORG, "openai").status.value == "NOT_CONFIGURED"
    assert drift(svc) == 0


def test_a_bulk_run_racing_a_rotation_leaves_no_drift(tmp_path: Path) -> None:
    svc = connect(settings(tmp_path))
    svc.register_org(ORG)
    svc.setup(ORG, "openai", openai_key("revoked"), skip_validation=True)
    started, release = hold_checks(svc)
    replayed()
    with ThreadPoolExecutor(1) as pool:
        run = pool.submit(svc.revalidate_many)
        assert started.wait(30)
        threading.Thread(target=lambda: (time.sleep(0.2), release.set())).start()
        svc.setup(ORG, "openai", openai_key(), skip_validation=True)  # a new key while the old one is checked
        assert run.result().outcomes == {"INVALID": 1}
    assert svc.get_one(ORG, "openai").status.value == "PENDING"  # the new key, not the old key's verdict
    assert drift(svc) == 0


def test_concurrent_setups_and_deletes_leave_no_drift(tmp_path: Path) -> None:
    svc = connect(settings(tmp_path))
    svc.register_org(ORG)
    rng = random.Random(15)
    cache_write = svc.cache.set_many

    def jittery(*args: Any, **kwargs: Any) -> Any:  # widen the window between the store write and the sync
        time.sleep(rng.random() / 100)
        return cache_write(*args, **kwargs)

    svc.cache.set_many = jittery  # type: ignore[method-assign]
    replayed()

    def one(i: int) -> None:
        if i % 4 == 3:
            try:
                svc.delete(ORG, "openai")
            except Exception:  # noqa: BLE001 - NOT_CONFIGURED when another thread deleted first
                return
        else:
            svc.setup(ORG, "openai", openai_key(), skip_validation=i % 2 == 0)

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(one, range(60)))
    assert drift(svc) == 0


def test_a_kill_between_store_and_cache_is_repaired_when_the_api_starts(tmp_path: Path) -> None:
    svc = connect(settings(tmp_path))
    api_key = svc.register_org(ORG)
    script = textwrap.dedent(f"""
        import os, signal
        from integrations import connect
        from integrations.settings import Settings
        svc = connect(Settings(_env_file=None, data_dir={str(tmp_path)!r}, attempts_per_minute=0))
        svc.cache.set_many = lambda *a, **k: os.kill(os.getpid(), signal.SIGKILL)
        svc.setup("{ORG}", "openai", {OPENAI_OK!r})
    """)
    replayed()
    assert subprocess.run([sys.executable, "-c", script], timeout=60, check=False).returncode == -9
    assert int(svc.overview()["drift"].sum()) == 1  # the kill left drift behind
    with TestClient(create_app(connect(settings(tmp_path)))) as client:  # start-up reconciles
        ready = client.get("/readyz").json()
        listed = client.get(f"/api/v1/integrations/{ORG}", headers={"X-API-Key": api_key}).json()
    assert ready["drift"] == 0 and listed["integrations"]["OPENAI"]["status"] == "VALID"
    assert drift(svc) == 0
