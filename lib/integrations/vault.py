"""The vault: the one module that turns a plaintext credential into ciphertext and back.

A plaintext exists only inside these functions (and inside a provider's check, which receives it parsed): it
is sealed under the row's associated data, opened into a `ParsedCredential`, re-sealed by a rewrap, or opened
and dropped by a verify. The associated data is built here and nowhere else."""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

from pydantic import SecretStr

from .crypto.base import Cipher, aad_for
from .domain import CREDENTIAL_TOO_LARGE, MAX_CREDENTIAL_BYTES, Provider, StoredCredential
from .errors import Code, IntegrationError
from .providers.base import ParsedCredential, Validator


class Sealing(NamedTuple):
    """What the store keeps of a credential: the ciphertext, the key version it is under, a keyed fingerprint."""

    ciphertext: bytes
    key_ref: str
    fingerprint: str


def _aad(record: StoredCredential) -> bytes:
    return aad_for(record.org_slug, record.provider.value, record.credential_id)


def admit(credential: object) -> SecretStr:
    """The credential as SecretStr, refused when empty, not text, over 16 KiB, or not encodable text."""
    if isinstance(credential, SecretStr):
        credential = credential.get_secret_value()
    if not isinstance(credential, str):
        raise IntegrationError(Code.MALFORMED_CREDENTIAL, "The credential must be text.")
    if not credential.strip():
        raise IntegrationError(Code.MALFORMED_CREDENTIAL, "The credential is empty.")
    if len(credential.encode("utf-8", "surrogatepass")) > MAX_CREDENTIAL_BYTES:
        raise IntegrationError(Code.MALFORMED_CREDENTIAL, CREDENTIAL_TOO_LARGE)
    if "\x00" in credential:
        raise IntegrationError(Code.MALFORMED_CREDENTIAL, "The credential contains a NUL byte.")
    try:
        credential.encode("utf-8")
    except UnicodeEncodeError:
        raise IntegrationError(
            Code.MALFORMED_CREDENTIAL, "The credential is not valid Unicode text (a lone surrogate)."
        ) from None
    return SecretStr(credential)


class Vault:
    """Seal, open, rewrap and verify credentials with a cipher; parse opened ones with their provider's validator."""

    def __init__(self, cipher: Cipher, validators: Mapping[Provider, Validator]) -> None:
        self.cipher, self.validators = cipher, validators

    def seal(self, org_slug: str, provider: Provider, credential_id: str, parsed: ParsedCredential) -> Sealing:
        """Encrypt a parsed credential for its row; ENCRYPTION_FAILED when the cipher cannot."""
        plaintext = parsed.secret.get_secret_value().encode()
        sealed = self.cipher.encrypt(plaintext, aad_for(org_slug, provider.value, credential_id))
        return Sealing(sealed.ciphertext, sealed.key_ref, self.cipher.fingerprint(plaintext))

    def open(self, record: StoredCredential) -> ParsedCredential:
        """Decrypt a stored credential under its row's associated data and parse it; DECRYPTION_FAILED otherwise."""
        plaintext = self._plaintext(record)
        return self.validators[record.provider].parse(SecretStr(plaintext.decode()), stored=True)

    def verify(self, record: StoredCredential) -> None:
        """Raise DECRYPTION_FAILED unless the row's ciphertext decrypts; the plaintext is dropped at once."""
        self._plaintext(record)

    def rewrap(self, record: StoredCredential) -> tuple[bytes, str]:
        """The row's ciphertext re-encrypted under the current key version: (ciphertext, key_ref)."""
        sealed = self.cipher.encrypt(self._plaintext(record), _aad(record))
        return sealed.ciphertext, sealed.key_ref

    def current_key_ref(self) -> str:
        return self.cipher.current_key_ref()

    def _plaintext(self, record: StoredCredential) -> bytes:
        if record.encrypted_credential is None:
            raise IntegrationError(Code.DECRYPTION_FAILED, "No ciphertext is stored for this credential.")
        return self.cipher.decrypt(record.encrypted_credential, _aad(record))


def probe_decrypt(cipher: Cipher) -> IntegrationError | None:
    """Decrypt a ciphertext no key version can open (no Encrypt needed): the error the cipher gives, which says
    whether Decrypt is denied or allowed (refused as invalid); None if it decrypted (it should never)."""
    try:
        cipher.decrypt(b"\x00" * 48, b"integrations|doctor-probe")
    except IntegrationError as exc:
        return exc
    return None


def probe(cipher: Cipher) -> tuple[str, bool]:
    """Encrypt and decrypt a fixed probe (no credential): the key version used and whether the round trip held."""
    aad = b"integrations|doctor-probe"
    sealed = cipher.encrypt(b"doctor", aad)
    return sealed.key_ref, cipher.decrypt(sealed.ciphertext, aad) == b"doctor"
