"""Cloud KMS adapter under faults, through the real client and a local gRPC double."""

from __future__ import annotations

import time

import pytest
from integrations.crypto.base import aad_for
from integrations.crypto.gcp_kms import KmsCipher, crc
from integrations.errors import IntegrationError

from tests.doubles.kms import KEY, MAC_KEY_VERSION, kms_server

AAD = aad_for("acmecorp", "OPENAI", "cred_1")


@pytest.fixture
def kms():
    with kms_server() as (address, state):
        yield KmsCipher.connect(KEY, MAC_KEY_VERSION, timeout=2, endpoint=address), state


def test_one_corrupted_response_is_retried(kms) -> None:
    cipher, state = kms
    state.corrupt_responses = 1
    sealed = cipher.encrypt(b"secret", AAD)
    state.corrupt_responses = 1
    assert cipher.decrypt(sealed.ciphertext, AAD) == b"secret"


def test_persistent_corruption_fails(kms) -> None:
    cipher, state = kms
    state.corrupt_responses = 100
    with pytest.raises(IntegrationError) as err:
        cipher.encrypt(b"secret", AAD)
    assert err.value.code == "ENCRYPTION_FAILED" and "CRC32C" in err.value.message


def test_permission_denied_is_not_retryable(kms) -> None:
    cipher, state = kms
    state.deny = True
    with pytest.raises(IntegrationError) as err:
        cipher.encrypt(b"secret", AAD)
    assert (
        err.value.code == "ENCRYPTION_FAILED" and not err.value.retryable and "EncrypterDecrypter" in err.value.message
    )
    assert state.calls == 1


def test_server_down_fails_fast_and_retryable() -> None:
    with kms_server() as (address, _):
        pass  # the server is gone
    cipher = KmsCipher.connect(KEY, MAC_KEY_VERSION, timeout=1.5, endpoint=address)
    started = time.monotonic()
    with pytest.raises(IntegrationError) as err:
        cipher.encrypt(b"secret", AAD)
    assert err.value.code == "ENCRYPTION_FAILED" and err.value.retryable
    assert time.monotonic() - started < 5


def test_plaintext_limit_checked_before_the_call(kms) -> None:
    cipher, state = kms
    with pytest.raises(IntegrationError) as err:
        cipher.encrypt(b"x" * (64 * 1024 + 1), AAD)
    assert err.value.code == "ENCRYPTION_FAILED" and state.calls == 0


def test_key_versions_and_primary(kms) -> None:
    cipher, state = kms
    old = cipher.encrypt(b"secret", AAD)
    new_ref = state.rotate()
    cipher._primary = None  # the primary is cached for a minute
    assert cipher.current_key_ref() == new_ref
    new = cipher.encrypt(b"secret", AAD)
    assert new.key_ref == new_ref != old.key_ref
    assert cipher.decrypt(old.ciphertext, AAD) == cipher.decrypt(new.ciphertext, AAD) == b"secret"


def test_rewrap_needs_only_the_documented_roles(kms) -> None:
    """roles/cloudkms.cryptoKeyEncrypterDecrypter has no cloudkms.cryptoKeys.get: the primary version is read
    from the Encrypt response's name."""
    cipher, state = kms
    state.deny = {"GetCryptoKey"}
    old = cipher.encrypt(b"secret", AAD)
    assert cipher.current_key_ref() == old.key_ref
    new_ref = state.rotate()
    cipher._primary = None  # as if the minute had passed
    assert cipher.current_key_ref() == new_ref
    assert cipher.decrypt(old.ciphertext, AAD) == b"secret"


@pytest.mark.parametrize("version_state", ["DISABLED", "DESTROYED"])
def test_a_disabled_or_destroyed_key_version_is_definitive(kms, version_state: str) -> None:
    cipher, state = kms
    sealed = cipher.encrypt(b"secret", AAD)
    state.states[1] = version_state
    for call in (lambda: cipher.decrypt(sealed.ciphertext, AAD), lambda: cipher.encrypt(b"secret", AAD)):
        calls = state.calls
        with pytest.raises(IntegrationError) as err:
            call()
        assert err.value.code == "KMS_KEY_VERSION_UNAVAILABLE" and not err.value.retryable
        assert version_state in err.value.message and state.calls == calls + 1  # not retried
        assert "enable" in err.value.entry.fixes[0]


def test_the_double_verifies_every_checksum_as_the_service_does(kms) -> None:
    from google.api_core import exceptions as gexc

    cipher, _ = kms
    client = cipher.client
    good = {"name": KEY, "plaintext": b"secret", "additional_authenticated_data": AAD}
    for field, data in (("plaintext", b"secret"), ("additional_authenticated_data", AAD)):
        request = good | {f"{field}_crc32c": crc(data) ^ 1}
        with pytest.raises(gexc.InvalidArgument) as err:
            client.encrypt(request=request, timeout=2)
        assert f"{field}_crc32c" in err.value.message
    sealed = cipher.encrypt(b"secret", AAD)
    request = {"name": KEY, "ciphertext": sealed.ciphertext, "additional_authenticated_data": AAD}
    with pytest.raises(gexc.InvalidArgument):
        client.decrypt(request=request | {"additional_authenticated_data_crc32c": crc(AAD) ^ 1}, timeout=2)


def test_a_denied_method_names_its_role(kms) -> None:
    cipher, state = kms
    state.deny = {"MacSign"}
    cipher.encrypt(b"secret", AAD)  # allowed
    with pytest.raises(IntegrationError) as err:
        cipher.fingerprint(b"secret")
    assert "roles/cloudkms.signerVerifier" in err.value.message and not err.value.retryable
