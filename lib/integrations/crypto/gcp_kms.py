"""Cloud KMS cipher: encrypt/decrypt with AAD and CRC32C integrity checks both ways; MAC for fingerprints.

Follows Google's integrity guidance: send CRC32C of what we send, check the `verified_*` flags and the CRC32C of
what comes back; a mismatch is retried a few times, then reported. Every call is bounded.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import google_crc32c
from google.api_core import exceptions as gexc
from google.api_core import retry as gretry
from tenacity import RetryError, Retrying, retry_if_exception_type, stop_after_attempt, wait_fixed

from ..errors import Code, IntegrationError
from .base import Cipher, Sealed

MAX_PLAINTEXT = 64 * 1024
INTEGRITY_ATTEMPTS = 3
PRIMARY_TTL_S = 60.0
ROLES = {"mac_sign": "roles/cloudkms.signerVerifier"}  # encrypt and decrypt: roles/cloudkms.cryptoKeyEncrypterDecrypter
PROBE_AAD = b"integrations|primary-version-probe"


def crc(data: bytes) -> int:
    return google_crc32c.value(data)


class _Corrupted(Exception):
    """A CRC32C mismatch in transit: worth retrying."""


class KmsCipher(Cipher):
    name = "cloud-kms"

    def __init__(self, key_name: str, mac_key_version: str, client: Any, timeout: float = 10.0) -> None:
        self.key_name, self.mac_key_version, self.client, self.timeout = key_name, mac_key_version, client, timeout
        self._retry = gretry.Retry(
            initial=0.1, maximum=1.0, multiplier=2.0, timeout=timeout, predicate=gretry.if_transient_error
        )
        self._primary: tuple[float, str] | None = None
        self._lock = threading.Lock()

    @classmethod
    def connect(
        cls, key_name: str, mac_key_version: str, timeout: float = 10.0, endpoint: str | None = None
    ) -> KmsCipher:
        """A client for Cloud KMS (or, with `endpoint`, an insecure channel to a local double)."""
        from google.cloud import kms_v1

        if endpoint:
            import grpc
            from google.cloud.kms_v1.services.key_management_service.transports import (
                KeyManagementServiceGrpcTransport,
            )

            transport = KeyManagementServiceGrpcTransport(channel=grpc.insecure_channel(endpoint))
            return cls(key_name, mac_key_version, kms_v1.KeyManagementServiceClient(transport=transport), timeout)
        return cls(key_name, mac_key_version, kms_v1.KeyManagementServiceClient(), timeout)

    def _call(self, method: str, request: dict[str, Any], code: Code) -> Any:
        try:
            return getattr(self.client, method)(request=request, retry=self._retry, timeout=self.timeout)
        except gexc.PermissionDenied:
            role = ROLES.get(method, "roles/cloudkms.cryptoKeyEncrypterDecrypter")
            raise IntegrationError(
                code,
                f"Cloud KMS denied {method} on {request['name']}; grant the service account {role} on that key.",
                retryable=False,
            ) from None
        except gexc.FailedPrecondition as exc:  # the key version is DISABLED or DESTROYED: an operator must act
            raise IntegrationError(
                Code.KMS_KEY_VERSION_UNAVAILABLE, f"Cloud KMS refused {method}: {exc.message[:200]}", retryable=False
            ) from None
        except gexc.NotFound:
            raise IntegrationError(
                code, f"Cloud KMS key not found for {method}; check INTEGRATIONS_KMS_KEY.", retryable=False
            ) from None
        except gexc.InvalidArgument as exc:
            raise IntegrationError(code, f"Cloud KMS refused {method}: {exc.message[:200]}", retryable=False) from None
        except (gexc.GoogleAPICallError, gexc.RetryError) as exc:
            raise IntegrationError(
                code, f"Cloud KMS unavailable for {method} ({type(exc).__name__}).", retryable=True
            ) from None

    def _with_integrity(self, code: Code, attempt: Any) -> Any:
        """Repeat a call whose response failed its CRC32C check (corrupted in transit), a few times."""
        try:
            for step in Retrying(
                retry=retry_if_exception_type(_Corrupted),
                stop=stop_after_attempt(INTEGRITY_ATTEMPTS),
                wait=wait_fixed(0.05),
            ):
                with step:
                    return attempt()
        except RetryError:
            pass
        raise IntegrationError(
            code, "Cloud KMS responses failed their CRC32C check repeatedly (corrupted in transit).", retryable=True
        )

    def encrypt(self, plaintext: bytes, aad: bytes) -> Sealed:
        if len(plaintext) > MAX_PLAINTEXT:
            raise IntegrationError(Code.ENCRYPTION_FAILED, "Cloud KMS encrypts at most 64 KiB.", retryable=False)

        def attempt() -> Sealed:
            response = self._call(
                "encrypt",
                {
                    "name": self.key_name,
                    "plaintext": plaintext,
                    "plaintext_crc32c": crc(plaintext),
                    "additional_authenticated_data": aad,
                    "additional_authenticated_data_crc32c": crc(aad),
                },
                Code.ENCRYPTION_FAILED,
            )
            if not (
                response.verified_plaintext_crc32c
                and response.verified_additional_authenticated_data_crc32c
                and crc(response.ciphertext) == response.ciphertext_crc32c
            ):
                raise _Corrupted
            with self._lock:  # the response names the primary version it used
                self._primary = (time.monotonic(), response.name)
            return Sealed(bytes(response.ciphertext), response.name)

        return self._with_integrity(Code.ENCRYPTION_FAILED, attempt)

    def decrypt(self, ciphertext: bytes, aad: bytes) -> bytes:
        def attempt() -> bytes:
            response = self._call(
                "decrypt",
                {
                    "name": self.key_name,
                    "ciphertext": ciphertext,
                    "ciphertext_crc32c": crc(ciphertext),
                    "additional_authenticated_data": aad,
                    "additional_authenticated_data_crc32c": crc(aad),
                },
                Code.DECRYPTION_FAILED,
            )
            if crc(response.plaintext) != response.plaintext_crc32c:
                raise _Corrupted
            return bytes(response.plaintext)

        if not ciphertext:
            raise IntegrationError(Code.DECRYPTION_FAILED, "The stored ciphertext is empty.")
        return self._with_integrity(Code.DECRYPTION_FAILED, attempt)

    def current_key_ref(self) -> str:
        """The key's primary version, as named by the last Encrypt response (at most a minute old). Learning it
        from Encrypt, not GetCryptoKey, needs no permission beyond roles/cloudkms.cryptoKeyEncrypterDecrypter."""
        with self._lock:
            known = self._primary
        if known is None or time.monotonic() - known[0] > PRIMARY_TTL_S:
            return self.encrypt(b"probe", PROBE_AAD).key_ref
        return known[1]

    def refresh(self) -> None:
        """The next current_key_ref() asks Cloud KMS again (a rewrap right after a rotation in Google Cloud)."""
        with self._lock:
            self._primary = None

    def fingerprint(self, plaintext: bytes) -> str:
        def attempt() -> str:
            response = self._call(
                "mac_sign",
                {"name": self.mac_key_version, "data": plaintext, "data_crc32c": crc(plaintext)},
                Code.ENCRYPTION_FAILED,
            )
            if not response.verified_data_crc32c or crc(response.mac) != response.mac_crc32c:
                raise _Corrupted
            return bytes(response.mac).hex()

        return self._with_integrity(Code.ENCRYPTION_FAILED, attempt)
