"""Issue 15, Medium 4 and 6: erased ciphertexts must be unrecoverable from the data dir, and a lost keyring must
never be silently replaced."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from integrations import IntegrationError, Provider, Status, connect
from integrations.api import create_app
from integrations.settings import Settings

from tests.fakes import swap
from tests.keys import openai_key
from tests.security.attacks import replayed
from tests.security.conftest import record

ORG = "acmecorp"


def settings(data_dir: Path) -> Settings:
    return Settings(_env_file=None, data_dir=data_dir, attempts_per_minute=0)


def recoverable(data_dir: Path, ciphertexts: list[bytes]) -> int:
    """How many of `ciphertexts` can still be found in any file of the data dir (database, WAL, journal)."""
    blobs = b"".join(p.read_bytes() for p in data_dir.iterdir() if p.is_file())
    return sum(1 for c in ciphertexts if c[-24:] in blobs)  # the tag and the end of the body


def test_rotated_and_deleted_ciphertexts_are_gone_from_the_data_dir(tmp_path: Path) -> None:
    svc = connect(settings(tmp_path))
    svc.register_org(ORG)
    erased: list[bytes] = []
    replayed()
    for _ in range(6):  # five rotations, then a delete
        svc.setup(ORG, "openai", openai_key())
        erased.append(svc.store.get_active(ORG, Provider.OPENAI).encrypted_credential)
    live = svc.setup(ORG, "anthropic", "sk-ant-api03-" + "k" * 40)
    svc.delete(ORG, "openai")
    assert recoverable(tmp_path, [svc.store.get_active(ORG, Provider.ANTHROPIC).encrypted_credential]) == 1
    found = recoverable(tmp_path, erased)
    record("erased ciphertexts recoverable", found)
    assert found == 0 and live.success


def test_rotate_rewrap_retire_removes_the_old_key_for_good(tmp_path: Path) -> None:
    svc = connect(settings(tmp_path))
    svc.register_org(ORG)
    svc.setup(ORG, "openai", openai_key())
    old = svc.store.get_active(ORG, Provider.OPENAI)
    replayed()
    new_ref = svc.rotate_key()
    with pytest.raises(IntegrationError) as err:  # a row still uses local/v1
        svc.retire_key("local/v1")
    assert err.value.code == "KEY_VERSION_IN_USE" and "rewrap" in err.value.message
    with pytest.raises(IntegrationError, match="KEY_VERSION_IN_USE"):
        svc.retire_key(new_ref)  # the current version
    assert svc.rewrap().rewrapped == 1
    svc.retire_key("local/v1")
    assert "local/v1" not in svc.cipher.key_versions()
    assert "local/v1" not in (tmp_path / "local.keyring").read_text()
    with pytest.raises(IntegrationError, match="DECRYPTION_FAILED"):  # a copy of the old ciphertext is now useless
        svc.cipher.decrypt(old.encrypted_credential, f"{ORG}|OPENAI|{old.credential_id}".encode())
    reopened = connect(settings(tmp_path))  # the retired version is not expected any more
    assert reopened.validate(ORG, "openai").success
    assert [v["key_ref"] for v in reopened.key_versions() if v["retired_at"]] == ["local/v1"]


def test_a_lost_keyring_is_refused_not_replaced(tmp_path: Path) -> None:
    svc = connect(settings(tmp_path))
    svc.register_org(ORG)
    svc.setup(ORG, "openai", openai_key())
    keyring = tmp_path / "local.keyring"
    backup = tmp_path.parent / "keyring.backup"
    shutil.copy(keyring, backup)
    keyring.unlink()
    replayed()
    with pytest.raises(IntegrationError) as err:
        connect(settings(tmp_path))
    assert err.value.code == "KEYRING_MISSING" and "restore" in err.value.hint.lower()
    assert not keyring.exists()
    shutil.copy(backup, keyring)
    keyring.chmod(0o600)
    assert connect(settings(tmp_path)).validate(ORG, "openai").success


def test_a_replaced_keyring_is_refused_at_start_up_and_in_readyz(tmp_path: Path) -> None:
    svc = connect(settings(tmp_path))
    svc.register_org(ORG)
    svc.setup(ORG, "openai", openai_key())
    other = tmp_path.parent / "other"
    connect(settings(other))  # a fresh data dir gets its own keyring, also named local/v1
    replayed()
    shutil.copy(other / "local.keyring", tmp_path / "local.keyring")
    with pytest.raises(IntegrationError) as err:
        connect(settings(tmp_path))
    assert err.value.code == "KEYRING_MISMATCH" and "local/v1" in err.value.message
    swap(svc, cipher=connect(settings(other)).cipher)  # a running server handed the other keyring
    r = TestClient(create_app(svc)).get("/readyz")  # 503 with the catalog code: what a readiness probe expects
    assert r.status_code == 503 and r.json()["error"]["code"] == "KEYRING_MISMATCH"


def test_a_decryption_failure_in_a_bulk_run_is_an_alarm_not_a_tenant_status(tmp_path: Path) -> None:
    svc = connect(settings(tmp_path))
    for org in (ORG, "globex"):
        svc.register_org(org)
        svc.setup(org, "openai", openai_key())
    swap(svc, cipher=connect(settings(tmp_path.parent / "elsewhere")).cipher)  # the wrong keyring, already loaded
    replayed()
    report = svc.revalidate_many()
    assert len(report.alarms) == 2 and report.changed == 0
    for org in (ORG, "globex"):
        assert svc.get_one(org, "openai").status == Status.VALID and svc.get_one(org, "openai").error is None
        assert svc.cache.get_org(org).status_of(Provider.OPENAI).status == Status.VALID
    assert {e.error_code for e in svc.store.events() if e.action.value == "VALIDATE"} == {"DECRYPTION_FAILED"}


def test_an_erase_pinned_by_a_concurrent_reader_is_reported_and_finished_later(tmp_path: Path) -> None:
    """Issue 28, N8: a backup, a notebook or an `sqlite3` shell holding a read transaction pins the WAL: the erase
    says so (ERASE_INCOMPLETE), does not stall for the 30 s busy timeout, and is finished at the next write."""
    svc = connect(settings(tmp_path))
    svc.register_org(ORG)
    svc.setup(ORG, "openai", openai_key())
    first = svc.store.get_active(ORG, Provider.OPENAI).encrypted_credential
    reader = sqlite3.connect(tmp_path / "warehouse.sqlite", isolation_level=None)
    reader.execute("BEGIN")
    assert reader.execute("SELECT count(*) FROM org_integrations").fetchone()[0] == 1  # its snapshot holds `first`
    replayed()
    rotated = svc.setup(ORG, "openai", openai_key())
    second = svc.store.get_active(ORG, Provider.OPENAI).encrypted_credential
    deleted = svc.delete(ORG, "openai")
    pending = [w for w in rotated.warnings + deleted.warnings if w.startswith("ERASE_INCOMPLETE")]
    assert len(pending) == 2 and all("close that connection" in w for w in pending)
    assert recoverable(tmp_path, [first, second]) >= 1  # what the reader pins is still in a file, and said so
    reader.execute("COMMIT")
    reader.close()
    svc.setup(ORG, "anthropic", "sk-ant-api03-" + "k" * 40)  # the next write finishes the erase
    found = recoverable(tmp_path, [first, second])
    record("erased ciphertexts recoverable after a concurrent reader", found)
    assert found == 0 and (tmp_path / "warehouse.sqlite-wal").stat().st_size == 0
    assert svc.delete(ORG, "anthropic").warnings == []  # nothing pins it now: no warning


def test_an_erase_left_pending_by_an_ended_process_is_finished_by_the_next_one(tmp_path: Path) -> None:
    cli = connect(settings(tmp_path))
    cli.register_org(ORG)
    cli.setup(ORG, "openai", openai_key())
    erased = cli.store.get_active(ORG, Provider.OPENAI).encrypted_credential
    reader = sqlite3.connect(tmp_path / "warehouse.sqlite", isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM org_integrations").fetchone()
    replayed()
    assert any(w.startswith("ERASE_INCOMPLETE") for w in cli.delete(ORG, "openai").warnings)
    reader.execute("COMMIT")
    connect(settings(tmp_path))  # the next process to open the store
    assert recoverable(tmp_path, [erased]) == 0
