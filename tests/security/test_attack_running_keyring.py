"""Issue 28, N3 and N15: a long-running process (the API server, the console) follows key rotations made by
another process and never encrypts under a retired version; doctor and /readyz see what the service refuses."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from integrations import IntegrationError, Provider, connect, doctor
from integrations.api import create_app
from integrations.crypto.gcp_kms import PRIMARY_TTL_S
from integrations.crypto.local import LocalKeyring
from integrations.settings import Settings

from tests.doubles.kms import KEY, MAC_KEY_VERSION, kms_server
from tests.fakes import swap
from tests.keys import openai_key
from tests.security.attacks import replayed
from tests.security.conftest import record

ORG = "acmecorp"
ANTHROPIC_KEY = "sk-ant-api03-" + "k" * 40


def settings(data_dir: Path) -> Settings:
    return Settings(_env_file=None, data_dir=data_dir, attempts_per_minute=0)


def rotate_rewrap_retire(data_dir: Path) -> None:
    """The README's key rotation procedure, run as the CLI runs it: in a service of its own."""
    cli = connect(settings(data_dir))
    assert cli.rotate_key() == "local/v2"
    assert cli.rewrap().failed == {}
    cli.retire_key("local/v1")


def all_decryptable(data_dir: Path) -> dict[str, str]:
    """credential_id -> key_ref of every active credential, each decrypted by a process started afresh."""
    fresh = connect(settings(data_dir))
    rows = fresh.store.list_credentials()
    for row in rows:
        fresh.deps.vault.verify(row)  # raises DECRYPTION_FAILED for a ciphertext nothing can decrypt
    return {r.credential_id: r.key_ref or "" for r in rows}


def test_a_running_service_encrypts_under_the_new_version_after_rotate_rewrap_retire(tmp_path: Path) -> None:
    api = connect(settings(tmp_path))  # the long-lived service an API server or the console holds
    api.register_org(ORG)
    assert api.setup(ORG, "openai", openai_key()).success
    replayed()
    rotate_rewrap_retire(tmp_path)
    assert api.setup(ORG, "anthropic", ANTHROPIC_KEY).success  # written after the retirement, by the old process
    assert api.store.get_active(ORG, Provider.ANTHROPIC).key_ref == "local/v2"
    assert api.validate(ORG, "openai").success  # rewrapped under v2 by the other process: still readable here
    assert api.current_key_ref() == "local/v2"
    refs = all_decryptable(tmp_path)
    record("credentials written under a retired key version", sum(r == "local/v1" for r in refs.values()))
    assert set(refs.values()) == {"local/v2"} and len(refs) == 2


def test_a_process_whose_keyring_is_out_of_date_refuses_to_encrypt(tmp_path: Path) -> None:
    api = connect(settings(tmp_path))
    api.register_org(ORG)
    api.setup(ORG, "openai", openai_key())
    stale = tmp_path.parent / f"{tmp_path.name}-stale"
    stale.mkdir(mode=0o700)
    shutil.copy2(tmp_path / "local.keyring", stale / "local.keyring")
    swap(api, cipher=LocalKeyring(stale / "local.keyring", create=False))  # a copy from before the rotation
    replayed()
    rotate_rewrap_retire(tmp_path)
    with pytest.raises(IntegrationError) as err:
        api.setup(ORG, "anthropic", ANTHROPIC_KEY)
    assert err.value.code == "KEY_VERSION_RETIRED" and "local/v1" in err.value.message
    assert "INTEGRATIONS_DATA_DIR" in err.value.hint
    assert api.store.get_active(ORG, Provider.ANTHROPIC) is None  # nothing stored under the retired version
    assert set(all_decryptable(tmp_path).values()) == {"local/v2"}


def test_a_keyring_only_rotated_elsewhere_is_refused_before_encrypting(tmp_path: Path) -> None:
    """Rotated but not retired: the store records v2, the stale keyring lacks it (KEYRING_MISMATCH, not v1)."""
    api = connect(settings(tmp_path))
    api.register_org(ORG)
    stale = tmp_path.parent / f"{tmp_path.name}-stale"
    stale.mkdir(mode=0o700)
    shutil.copy2(tmp_path / "local.keyring", stale / "local.keyring")
    swap(api, cipher=LocalKeyring(stale / "local.keyring", create=False))
    connect(settings(tmp_path)).rotate_key()
    replayed()
    with pytest.raises(IntegrationError) as err:
        api.setup(ORG, "openai", openai_key())
    assert err.value.code == "KEYRING_MISMATCH" and "local/v2" in err.value.message
    assert api.store.list_credentials() == []


def _failing(report: doctor.DoctorReport) -> dict[str, doctor.Check]:
    return {f"{c.area}: {c.name}": c for c in report.checks if not c.ok}


def test_doctor_refuses_the_keyring_the_service_refuses(tmp_path: Path) -> None:
    svc = connect(settings(tmp_path))
    svc.register_org(ORG)
    svc.setup(ORG, "openai", openai_key())
    assert doctor.run(settings(tmp_path)).ok
    other = tmp_path.parent / "other"
    connect(settings(other))  # another data dir, another keyring: also local/v1
    replayed()
    shutil.copy2(other / "local.keyring", tmp_path / "local.keyring")
    with pytest.raises(IntegrationError, match="KEYRING_MISMATCH"):
        connect(settings(tmp_path))
    report = doctor.run(settings(tmp_path))
    failing = _failing(report)
    assert not report.ok and any("KEYRING_MISMATCH" in c.detail and c.fix for c in failing.values())
    assert [v.key_ref for v in svc.store.key_versions().values()] == ["local/v1"]  # doctor recorded nothing


@pytest.mark.parametrize("name", ["warehouse.sqlite", "status.sqlite", "local.keyring", "."])
def test_doctor_refuses_a_file_the_service_refuses(tmp_path: Path, name: str) -> None:
    connect(settings(tmp_path)).register_org(ORG)
    target = tmp_path / name
    target.chmod(0o755 if target.is_dir() else 0o644)
    replayed()
    with pytest.raises(IntegrationError):  # what the service refuses (the status cache: when it is required)
        connect(settings(tmp_path), require_cache=True)
    report = doctor.run(settings(tmp_path))
    failing = _failing(report)
    assert not report.ok and any("chmod" in c.detail for c in failing.values())
    record("doctor: exposed local files reported", 1)


def test_readyz_notices_a_deleted_or_replaced_keyring_at_once(tmp_path: Path) -> None:
    svc = connect(settings(tmp_path))
    svc.register_org(ORG)
    svc.setup(ORG, "openai", openai_key())
    client = TestClient(create_app(svc))
    assert client.get("/readyz").status_code == 200
    assert client.get("/readyz").json()["checked_s_ago"] >= 0  # the answer is reused (30 s)...
    keyring = tmp_path / "local.keyring"
    backup = tmp_path.parent / "keyring.backup"
    shutil.copy2(keyring, backup)
    replayed()
    keyring.unlink()
    r = client.get("/readyz")  # ...but not for a keyring that is gone
    assert r.status_code == 503 and r.json()["error"]["code"] == "KEYRING_MISSING"
    other = tmp_path.parent / "other"
    connect(settings(other))
    shutil.copy2(other / "local.keyring", keyring)
    r = client.get("/readyz")
    assert r.status_code == 503 and r.json()["error"]["code"] == "KEYRING_MISMATCH"
    shutil.copy2(backup, keyring)
    assert client.get("/readyz").status_code == 200
    assert svc.validate(ORG, "openai").success


def test_on_cloud_kms_a_running_service_rewraps_right_after_a_rotation(tmp_path: Path) -> None:
    """Cloud KMS encrypts under the key's primary version itself; the process only caches the primary's name, for
    at most PRIMARY_TTL_S (60 s). A rewrap in that minute (the console's long-lived process) asks afresh: it moves
    every credential to the new primary instead of finding them all 'already current'."""
    with kms_server() as (address, kms):
        svc = connect(
            Settings(
                _env_file=None,
                data_dir=tmp_path,
                attempts_per_minute=0,
                cipher="kms",
                kms_key=KEY,
                kms_mac_key_version=MAC_KEY_VERSION,
                kms_endpoint=address,
            )
        )
        svc.register_org(ORG)
        svc.setup(ORG, "openai", openai_key())
        assert PRIMARY_TTL_S <= 60 and svc.current_key_ref().endswith("/1")  # cached now
        replayed()
        new_ref = kms.rotate()  # in Google Cloud
        report = svc.rewrap()
        assert report.current_key_ref == new_ref and report.rewrapped == 1
        assert svc.store.get_active(ORG, Provider.OPENAI).key_ref == new_ref
        assert svc.setup(ORG, "anthropic", ANTHROPIC_KEY).success
        assert svc.store.get_active(ORG, Provider.ANTHROPIC).key_ref == new_ref  # Encrypt used the new primary
