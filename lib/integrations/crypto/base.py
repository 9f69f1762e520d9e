"""The Cipher port: seal a credential under a versioned key, bound to its row by AAD."""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from typing import NamedTuple


class Sealed(NamedTuple):
    ciphertext: bytes
    key_ref: str


def aad_for(org_slug: str, provider: str, credential_id: str) -> bytes:
    """Associated data binding a ciphertext to its row: `org_slug|provider|credential_id`."""
    return f"{org_slug}|{provider}|{credential_id}".encode()


def key_check(key: bytes) -> str:
    """A key check value: tells two keys apart (a replaced keyring reuses version names), reveals nothing."""
    return hashlib.sha256(b"integrations key check\x00" + key).hexdigest()[:16]


class Cipher(ABC):
    """Encrypts and decrypts; raises IntegrationError ENCRYPTION_FAILED / DECRYPTION_FAILED."""

    name: str = "cipher"

    @abstractmethod
    def encrypt(self, plaintext: bytes, aad: bytes) -> Sealed: ...

    @abstractmethod
    def decrypt(self, ciphertext: bytes, aad: bytes) -> bytes: ...

    @abstractmethod
    def current_key_ref(self) -> str:
        """The key version new encryptions use; rewrap moves others to it."""

    @abstractmethod
    def fingerprint(self, plaintext: bytes) -> str:
        """A keyed HMAC-SHA256 of the credential: equal for equal keys, reveals nothing."""

    def key_versions(self) -> dict[str, str]:
        """key_ref -> key check value of every version this cipher holds, for the store's record of them. A
        cipher whose versions live in a managed service (Cloud KMS) returns {}: the service keeps them."""
        return {}

    def source_state(self) -> object:
        """A cheap token that changes when the keys' source changes (the local keyring file's identity); raises
        KEYRING_MISSING when that source is gone. None for a cipher whose keys live in a managed service."""
        return None

    def refresh(self) -> None:
        """Forget any cached view of the current key version (rewrap asks the key service afresh). The local
        keyring caches nothing: it looks at its file on every use."""
        return None
