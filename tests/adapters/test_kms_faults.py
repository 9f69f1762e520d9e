"""Cloud KMS adapter under faults, through the real client and a local gRPC double."""

from __future__ import annotations

import time

import pytest
from integrations.crypto.base import aad_for
from integrations.crypto.gcp_kms import KmsCipher
from integrations.errors import IntegrationError

from tests.kms_double import KEY, MAC_KEY_VERSION, kms_server

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
