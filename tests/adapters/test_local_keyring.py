"""The local keyring file: 0600, refused when exposed, versioned, safe to create from two processes."""

from __future__ import annotations

import multiprocessing
import stat
from pathlib import Path

import pytest
from integrations.crypto.base import aad_for
from integrations.crypto.local import LocalKeyring
from integrations.errors import IntegrationError

AAD = aad_for("acmecorp", "OPENAI", "cred_1")


def test_created_owner_only(tmp_path: Path) -> None:
    LocalKeyring(tmp_path / "k" / "local.keyring")
    assert stat.S_IMODE((tmp_path / "k" / "local.keyring").stat().st_mode) == 0o600


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o666])
def test_exposed_keyring_is_refused(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "local.keyring"
    LocalKeyring(path)
    path.chmod(mode)
    with pytest.raises(IntegrationError) as err:
        LocalKeyring(path)
    assert err.value.code == "ENCRYPTION_FAILED" and "chmod 600" in err.value.message


def test_rotation_keeps_old_versions_readable(tmp_path: Path) -> None:
    ring = LocalKeyring(tmp_path / "local.keyring")
    old = ring.encrypt(b"secret", AAD)
    assert ring.rotate() == "local/v2"
    reopened = LocalKeyring(tmp_path / "local.keyring")
    assert reopened.current_key_ref() == "local/v2" and reopened.decrypt(old.ciphertext, AAD) == b"secret"
    assert reopened.encrypt(b"secret", AAD).key_ref == "local/v2"


def test_missing_version_is_decryption_failed(tmp_path: Path) -> None:
    sealed = LocalKeyring(tmp_path / "a.keyring").encrypt(b"secret", AAD)
    with pytest.raises(IntegrationError) as err:
        LocalKeyring(tmp_path / "b.keyring").decrypt(sealed.ciphertext, AAD)
    assert err.value.code == "DECRYPTION_FAILED"


def test_corrupt_keyring_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "local.keyring"
    path.write_text("{not json")
    path.chmod(0o600)
    with pytest.raises(IntegrationError) as err:
        LocalKeyring(path)
    assert err.value.code == "ENCRYPTION_FAILED" and "cannot be read" in err.value.message


def _open_and_encrypt(path: str) -> bytes:
    return LocalKeyring(Path(path)).encrypt(b"secret", AAD).ciphertext


def test_concurrent_first_use_makes_one_keyring(tmp_path: Path) -> None:
    path = tmp_path / "local.keyring"
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        sealed = pool.map(_open_and_encrypt, [str(path)] * 8)
    ring = LocalKeyring(path)
    assert all(ring.decrypt(c, AAD) == b"secret" for c in sealed)


def _rotate(path: str) -> str:
    return LocalKeyring(Path(path)).rotate()


def test_concurrent_rotations_from_two_processes_keep_every_version(tmp_path: Path) -> None:
    path = tmp_path / "local.keyring"
    sealed = LocalKeyring(path).encrypt(b"secret", AAD)
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        refs = pool.map(_rotate, [str(path)] * 4)
    ring = LocalKeyring(path)
    assert sorted(refs) == [f"local/v{n}" for n in range(2, 6)] and ring.current_key_ref() == "local/v5"
    assert ring.decrypt(sealed.ciphertext, AAD) == b"secret"


def test_a_loaded_keyring_follows_its_file(tmp_path: Path) -> None:
    """Issue 28, N3: another process's rotation and retirement are seen by a keyring loaded before them."""
    path = tmp_path / "local.keyring"
    running = LocalKeyring(path)
    old = running.encrypt(b"secret", AAD)
    other = LocalKeyring(path)
    other.rotate()
    new = other.encrypt(b"secret", AAD)
    assert running.current_key_ref() == "local/v2" and running.decrypt(new.ciphertext, AAD) == b"secret"
    other.retire("local/v1")
    assert running.encrypt(b"secret", AAD).key_ref == "local/v2" and "local/v1" not in running.key_versions()
    with pytest.raises(IntegrationError, match="DECRYPTION_FAILED"):
        running.decrypt(old.ciphertext, AAD)
    path.unlink()
    with pytest.raises(IntegrationError) as err:
        running.encrypt(b"secret", AAD)
    assert err.value.code == "KEYRING_MISSING"
