"""CipherContract: every Cipher adapter and fake behaves alike, key_versions (the port's optional method) and
rotation (where a cipher rotates its own keys) included."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from integrations.crypto.base import Cipher, aad_for
from integrations.crypto.gcp_kms import KmsCipher
from integrations.crypto.local import LocalKeyring
from integrations.errors import IntegrationError

from tests.doubles.kms import KEY, MAC_KEY_VERSION, kms_server
from tests.fakes import InMemoryCipher

SECRET = b"sk-proj-CANARYcipherContract0123456789"
AAD = aad_for("acmecorp", "OPENAI", "cred_1")


class CipherContract:
    def make(self, tmp_path: Path, request: pytest.FixtureRequest) -> Cipher:
        raise NotImplementedError

    @pytest.fixture
    def cipher(self, tmp_path: Path, request: pytest.FixtureRequest) -> Cipher:
        return self.make(tmp_path, request)

    def test_round_trip_names_the_key(self, cipher: Cipher) -> None:
        sealed = cipher.encrypt(SECRET, AAD)
        assert SECRET not in sealed.ciphertext and sealed.key_ref == cipher.current_key_ref()
        assert cipher.decrypt(sealed.ciphertext, AAD) == SECRET

    def test_each_encryption_differs(self, cipher: Cipher) -> None:
        assert cipher.encrypt(SECRET, AAD).ciphertext != cipher.encrypt(SECRET, AAD).ciphertext

    @pytest.mark.parametrize(
        "aad",
        [
            aad_for("globex", "OPENAI", "cred_1"),
            aad_for("acmecorp", "GCP", "cred_1"),
            aad_for("acmecorp", "OPENAI", "cred_2"),
        ],
    )
    def test_ciphertext_bound_to_its_row(self, cipher: Cipher, aad: bytes) -> None:
        sealed = cipher.encrypt(SECRET, AAD)
        with pytest.raises(IntegrationError) as err:
            cipher.decrypt(sealed.ciphertext, aad)
        assert err.value.code == "DECRYPTION_FAILED"

    def test_tampered_or_garbage_fails_cleanly(self, cipher: Cipher) -> None:
        sealed = bytearray(cipher.encrypt(SECRET, AAD).ciphertext)
        sealed[-1] ^= 1
        for bad in (bytes(sealed), b"", b"garbage"):
            with pytest.raises(IntegrationError) as err:
                cipher.decrypt(bad, AAD)
            assert err.value.code == "DECRYPTION_FAILED"

    def test_fingerprint_is_keyed_and_stable(self, cipher: Cipher) -> None:
        fp = cipher.fingerprint(SECRET)
        assert fp == cipher.fingerprint(SECRET) and fp != cipher.fingerprint(SECRET + b"x")
        assert len(fp) == 64 and SECRET.decode() not in fp

    def test_key_versions_name_the_current_key_or_are_kept_by_the_service(self, cipher: Cipher) -> None:
        versions = cipher.key_versions()
        if versions:  # a cipher holding its keys: every version with a check value, the current one among them
            assert cipher.current_key_ref() in versions
            assert all(re.fullmatch(r"[0-9a-f]{16}", check) for check in versions.values())
        assert cipher.key_versions() == versions


class RotationContract:
    """Ciphers that rotate their own keys (the local keyring and its fake; Cloud KMS rotates in Google Cloud)."""

    def test_a_rotation_keeps_what_the_old_version_sealed_readable(self, cipher: Cipher) -> None:
        before, old = cipher.key_versions(), cipher.encrypt(SECRET, AAD)
        new_ref = cipher.rotate()  # type: ignore[attr-defined]
        assert new_ref == cipher.current_key_ref() != old.key_ref
        assert cipher.encrypt(SECRET, AAD).key_ref == new_ref and cipher.decrypt(old.ciphertext, AAD) == SECRET
        after = cipher.key_versions()
        assert set(after) == set(before) | {new_ref} and all(after[r] == c for r, c in before.items())
        assert after[new_ref] not in before.values()


class TestLocalKeyring(CipherContract, RotationContract):
    def make(self, tmp_path: Path, request: pytest.FixtureRequest) -> Cipher:
        return LocalKeyring(tmp_path / "local.keyring")


class TestInMemoryCipher(CipherContract, RotationContract):
    def make(self, tmp_path: Path, request: pytest.FixtureRequest) -> Cipher:
        return InMemoryCipher()


class TestKmsCipher(CipherContract):
    """The real KeyManagementServiceClient over gRPC to a local KMS double."""

    def make(self, tmp_path: Path, request: pytest.FixtureRequest) -> Cipher:
        server = kms_server()
        address, _ = server.__enter__()
        request.addfinalizer(lambda: server.__exit__(None, None, None))
        return KmsCipher.connect(KEY, MAC_KEY_VERSION, timeout=2, endpoint=address)
