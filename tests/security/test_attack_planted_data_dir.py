"""Issue 28, N14: a `.data` planted in the working directory by another user is never used as the store and the
keyring (as root, the operator's keys would otherwise end up under the attacker's keyring)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from integrations import IntegrationError, connect, doctor
from integrations.settings import Settings

from tests.keys import openai_key
from tests.security.attacks import replayed
from tests.security.conftest import record

ORG = "acmecorp"
ATTACKER = 65534  # nobody

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="making a file another user owns needs root")


def chown_tree(path: Path, uid: int) -> None:
    os.chown(path, uid, uid)
    for child in path.rglob("*"):
        os.chown(child, uid, uid)


def digest(path: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(path.iterdir()) if p.is_file()}


@pytest.fixture
def planted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An attacker's `.data` (their own keyring and store, mode 0700) in the directory the operator works in."""
    data = tmp_path / ".data"
    connect(Settings(_env_file=None, data_dir=data)).register_org(ORG)
    chown_tree(data, ATTACKER)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("INTEGRATIONS_DATA_DIR", raising=False)
    return data


def test_a_data_dir_planted_by_another_user_is_refused(planted: Path) -> None:
    before = digest(planted)
    assert Settings(_env_file=None).data_dir.resolve() == planted.resolve()  # the default picks it up
    replayed()
    with pytest.raises(IntegrationError) as err:
        connect(Settings(_env_file=None)).setup(ORG, "openai", openai_key())
    assert err.value.code == "DATA_DIR_NOT_OWNED" and str(ATTACKER) in err.value.message
    assert "INTEGRATIONS_DATA_DIR" in err.value.hint
    assert digest(planted) == before  # nothing read into, nothing written
    failing = [c for c in doctor.run(Settings(_env_file=None)).checks if not c.ok]
    assert failing and all("DATA_DIR_NOT_OWNED" in c.detail for c in failing)
    record("planted data dirs used", 0)


@pytest.mark.parametrize("name", ["local.keyring", "warehouse.sqlite", "status.sqlite"])
def test_a_file_of_another_user_in_the_data_dir_is_refused(tmp_path: Path, name: str) -> None:
    settings = Settings(_env_file=None, data_dir=tmp_path / "data")
    connect(settings).register_org(ORG)
    os.chown(tmp_path / "data" / name, ATTACKER, ATTACKER)
    replayed()
    with pytest.raises(IntegrationError) as err:
        connect(settings, require_cache=True)
    assert err.value.code == "DATA_DIR_NOT_OWNED"
    assert not doctor.run(settings).ok


def test_a_group_writable_data_dir_is_refused(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, data_dir=tmp_path / "data")
    connect(settings)
    (tmp_path / "data").chmod(0o770)
    replayed()
    with pytest.raises(IntegrationError) as err:
        connect(settings)
    assert err.value.code == "CONFIGURATION_ERROR" and "chmod 700" in err.value.message
